//! `symphony import superoptix FILE -o OUT`: turns another tool's workflow into a melody.
//!
//! The translation itself lives in `symphony-melody` (`superoptix::import`); this command reads
//! the file, checks the result against this build's step types (an import that does not
//! validate is reported, never written), writes its canonical bytes and sums it up. An existing
//! OUT is kept unless `--force` is given.

use std::io::Write as _;
use std::path::{Path, PathBuf};

use clap::Subcommand;
use symphony_conductor::Registry;
use symphony_melody::Melody;

use super::plural;
use crate::exit::{Exit, Failure, Outcome};

/// Arguments of `symphony import`.
#[derive(clap::Args)]
pub struct Args {
    #[command(subcommand)]
    source: Source,
}

/// The formats `symphony import` reads.
#[derive(Subcommand)]
enum Source {
    /// A SuperOptiX orchestra file (`*_orchestra.yaml`). Every task becomes an offline
    /// instrument step standing in for its agent, so the melody runs as a rehearsal at once.
    Superoptix(FileArgs),
}

/// Where to read from and write to.
#[derive(clap::Args)]
struct FileArgs {
    /// The file to import.
    #[arg(value_name = "FILE")]
    file: PathBuf,
    /// The melody file to write (conventionally `*.melody.json`).
    #[arg(short = 'o', long = "output", value_name = "OUT")]
    out: PathBuf,
    /// Overwrite OUT if it exists.
    #[arg(long)]
    force: bool,
}

/// Runs `symphony import`.
pub fn run(args: Args) -> Outcome {
    match args.source {
        Source::Superoptix(a) => {
            let bytes = super::read(&a.file)?;
            let source = a.file.display().to_string();
            let mut melody =
                symphony_melody::superoptix::import(&bytes, &source).map_err(Failure::problems)?;
            let registry = crate::registry::registry();
            // Written for this build's step types, and saying so.
            symphony_melody::versions::pin(&mut melody, &registry);
            check(&melody, &registry, &source)?;
            write(&a.out, &symphony_melody::to_bytes(&melody), a.force)?;
            summarize(&melody, &registry, &a.file, &a.out);
            Ok(Exit::Success)
        }
    }
}

/// Validates an imported melody; problems here mean the importer made something this build
/// cannot play, which is reported against the source file.
fn check(melody: &Melody, registry: &Registry, source: &str) -> Result<(), Failure> {
    let problems = symphony_melody::validate(melody, registry);
    if problems.is_empty() {
        return Ok(());
    }
    let mut failure = Failure::problems(symphony_melody::Problems::new(problems).in_file(source));
    failure.message.push_str(
        "\nthe imported melody does not validate, so nothing was written; this is likely a gap in the importer, please report it with the file",
    );
    Err(failure)
}

/// Writes the melody, refusing to replace an existing file unless `force`.
fn write(out: &Path, bytes: &[u8], force: bool) -> Result<(), Failure> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true);
    if force {
        options.create(true).truncate(true);
    } else {
        options.create_new(true);
    }
    let mut file = options.open(out).map_err(|e| {
        if e.kind() == std::io::ErrorKind::AlreadyExists {
            Failure::new(
                Exit::Io,
                format!(
                    "`{}` already exists; pass --force to overwrite it, or choose another -o",
                    out.display()
                ),
            )
        } else {
            Failure::write(out, &e)
        }
    })?;
    file.write_all(bytes)
        .and_then(|()| file.sync_all())
        .map_err(|e| Failure::write(out, &e))
}

fn summarize(melody: &Melody, registry: &Registry, from: &Path, out: &Path) {
    let n = melody.steps.len();
    let e = melody.edges.len();
    let inputs: Vec<&str> = melody.inputs.keys().map(String::as_str).collect();
    outln!(
        "imported {} → {}: `{}` ({})",
        from.display(),
        out.display(),
        melody.melody.id,
        melody.melody.name
    );
    outln!(
        "  {n} step{}, {e} edge{}, inputs: {}",
        plural(n),
        plural(e),
        if inputs.is_empty() {
            "none".to_owned()
        } else {
            inputs.join(", ")
        }
    );
    let offline = melody
        .steps
        .iter()
        .filter(|s| super::is_offline(registry, &s.type_name))
        .count();
    let try_it = format!(
        "symphony run {}{}",
        out.display(),
        inputs
            .iter()
            .map(|i| format!(" --input {i}=…"))
            .collect::<String>()
    );
    if offline == n {
        outln!("  every step is an offline instrument (no model is called); rehearse it with `{try_it}`");
    } else {
        outln!("  {offline} of {n} steps are offline instruments; run it with `{try_it}`");
    }
}
