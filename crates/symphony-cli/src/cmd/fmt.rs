//! `symphony fmt FILE...`: rewrites melody files into their canonical bytes.
//!
//! Canonical bytes ([`symphony_melody::to_bytes`]) are what the app writes: sorted keys, two
//! spaces, defaults left out, a final newline. Formatting only parses the file (it does not
//! validate it against this build's step types), and an older format version comes out
//! upgraded, as do steps made for older versions of their types; the file then records the
//! version of every step type it uses (`stepTypes`, see `symphony_melody::versions`). Files
//! are replaced atomically (an exclusive temporary file renamed over them), keeping their
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
    let source = path.display().to_string();
    let mut melody = symphony_melody::load(&bytes, &source).map_err(Failure::problems)?;
    let registry = crate::registry::registry();
    symphony_melody::versions::upgrade(&mut melody, &registry)
        .map_err(|p| Failure::problems(symphony_melody::Problems::new(p).in_file(&source)))?;
    symphony_melody::versions::pin(&mut melody, &registry);
    let canonical = symphony_melody::to_bytes(&melody);
    if canonical == bytes {
        return Ok(false);
    }
    if !check {
        replace(path, &canonical).map_err(|e| Failure::write(path, &e))?;
    }
    Ok(true)
}

/// Replaces `path` with `bytes` atomically (a crash never leaves half a file, and no link is
/// followed), then gives it back the permissions it had.
fn replace(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let permissions = std::fs::metadata(path)?.permissions();
    symphony_conductor::atomic::write_atomic(
        path,
        bytes,
        symphony_conductor::atomic::Access::Shared,
    )?;
    std::fs::set_permissions(path, permissions)
}
