//! `symphony fmt FILE...`: rewrites melody files into their canonical bytes.
//!
//! Canonical bytes ([`symphony_melody::to_bytes`]) are what the app writes: sorted keys, two
//! spaces, defaults left out, a final newline. Formatting only parses the file (it does not
//! validate it against this build's step types), and an older format version comes out
//! upgraded. Files are replaced atomically (written beside, then renamed), keeping their
//! permissions. `--check` changes nothing and exits 1 if any file would change.

use std::path::{Path, PathBuf};

use crate::exit::{Exit, Failure, Outcome};

/// Arguments of `symphony fmt`.
#[derive(clap::Args)]
pub struct Args {
    /// The melody files to format.
    #[arg(required = true, value_name = "FILE")]
    pub files: Vec<PathBuf>,
    /// Change nothing; list the files that are not canonical and exit 1 if there are any.
    #[arg(long)]
    pub check: bool,
}

/// Runs `symphony fmt`.
///
/// Every file is tried; the exit code is the worst outcome: 4 (unreadable or unwritable),
/// 3 (does not parse), 1 (`--check` found a file to reformat), 0.
pub fn run(args: Args) -> Outcome {
    let mut worst = Exit::Success;
    for path in &args.files {
        match format_one(path, args.check) {
            Ok(false) => {}
            Ok(true) if args.check => {
                outln!("would reformat {}", path.display());
                worst = worst.max(Exit::Failed);
            }
            Ok(true) => outln!("formatted {}", path.display()),
            Err(failure) => {
                for line in failure.message.lines() {
                    errln!("error: {line}");
                }
                worst = worst.max(failure.exit);
            }
        }
    }
    Ok(worst)
}

/// Formats one file; `Ok(true)` when its bytes are (or, with `check`, would be) changed.
fn format_one(path: &Path, check: bool) -> Result<bool, Failure> {
    let bytes = super::read(path)?;
    let melody =
        symphony_melody::load(&bytes, &path.display().to_string()).map_err(Failure::problems)?;
    let canonical = symphony_melody::to_bytes(&melody);
    if canonical == bytes {
        return Ok(false);
    }
    if !check {
        replace(path, &canonical).map_err(|e| Failure::write(path, &e))?;
    }
    Ok(true)
}

/// Writes `bytes` beside `path` and renames them over it, so a crash never leaves half a file.
fn replace(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "melody".into());
    let tmp = path.with_file_name(format!(".{name}.{}.fmt.tmp", std::process::id()));
    let permissions = std::fs::metadata(path)?.permissions();
    std::fs::write(&tmp, bytes)?;
    let done =
        std::fs::set_permissions(&tmp, permissions).and_then(|()| std::fs::rename(&tmp, path));
    if done.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    done
}
