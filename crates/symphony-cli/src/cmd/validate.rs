//! `symphony validate FILE...`: checks melody files and reports every problem at once.
//!
//! Each file is loaded and validated on its own, so one broken file does not hide the problems
//! of the next. Problems go to stderr as `error: file: path: message`; files without problems
//! get `ok  FILE (N steps)` on stdout. With `--json` the whole report is one JSON list on stdout.
//!
//! The exit code is the worst found: 4 if a file could not be read, else 3 if any melody has
//! problems, else 0.

use std::path::PathBuf;

use serde::Serialize;
use symphony_melody::Problem;

use super::plural;
use crate::exit::{Exit, Outcome};

/// Arguments of `symphony validate`.
#[derive(clap::Args)]
pub struct Args {
    /// The melody files to check.
    #[arg(required = true, value_name = "FILE")]
    pub files: Vec<PathBuf>,
    /// Print the report as JSON: `[{"file", "ok", "problems": [...]}]`.
    #[arg(long)]
    pub json: bool,
}

/// One file's verdict, as `--json` prints it.
#[derive(Serialize)]
struct Verdict {
    file: String,
    ok: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    steps: Option<usize>,
    problems: Vec<Problem>,
}

/// Runs `symphony validate`.
pub fn run(args: Args) -> Outcome {
    let registry = crate::registry::registry();
    let mut worst = Exit::Success;
    let mut verdicts = Vec::with_capacity(args.files.len());
    for path in &args.files {
        let file = path.display().to_string();
        let verdict = match std::fs::read(path) {
            Err(e) => {
                worst = worst.max(Exit::Io);
                // The message names the file already; the verdict carries it for JSON.
                let failure = crate::exit::Failure::read(path, &e);
                let problem = Problem::at("", failure.message);
                Verdict {
                    file,
                    ok: false,
                    steps: None,
                    problems: vec![problem],
                }
            }
            Ok(bytes) => match symphony_melody::load_and_validate(&bytes, &file, &registry) {
                Ok(melody) => Verdict {
                    file,
                    ok: true,
                    steps: Some(melody.steps.len()),
                    problems: Vec::new(),
                },
                Err(problems) => {
                    worst = worst.max(Exit::Invalid);
                    Verdict {
                        file,
                        ok: false,
                        steps: None,
                        problems: problems.into_vec(),
                    }
                }
            },
        };
        if !args.json {
            match verdict.steps {
                Some(n) => outln!("ok  {} ({n} step{})", verdict.file, plural(n)),
                None => {
                    for p in &verdict.problems {
                        errln!("error: {p}");
                    }
                }
            }
        }
        verdicts.push(verdict);
    }
    if args.json {
        match serde_json::to_string_pretty(&verdicts) {
            Ok(text) => outln!("{text}"),
            Err(e) => {
                return Err(crate::exit::Failure::new(
                    Exit::Internal,
                    format!("cannot write the report as JSON: {e}"),
                ))
            }
        }
    } else {
        let bad: Vec<&Verdict> = verdicts.iter().filter(|v| !v.ok).collect();
        if !bad.is_empty() {
            let problems: usize = bad.iter().map(|v| v.problems.len()).sum();
            errln!(
                "{} of {} file{} failed: {problems} problem{}",
                bad.len(),
                verdicts.len(),
                plural(verdicts.len()),
                plural(problems)
            );
        }
    }
    Ok(worst)
}
