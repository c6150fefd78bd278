//! `symphony merge-driver BASE OURS THEIRS [PATH]`: git's merge driver for melody files.
//!
//! Git calls it as `symphony merge-driver %O %A %B %P` when both branches changed a
//! `*.melody.json` (see docs/diff-and-merge.md for the `.gitattributes` and `git config`
//! lines). The three versions are merged by step id and field ([`symphony_melody::merge`]) and
//! the result is written over OURS (`%A`) in canonical bytes, so a merge never reformats the
//! file.
//!
//! - Clean: exit 0, and git commits the result.
//! - Conflicts: OURS is still a valid melody that keeps our value for each conflicting field
//!   and lists the conflicts under `layout.mergeConflicts`; each is printed on stderr, and the
//!   exit code is 1, so git marks the file conflicted for a person to resolve.
//! - Layout conflicts (both sides moved a box) are resolved by keeping ours, with a note.
//! - A result that no longer validates (both sides valid, e.g. two new edges into one port) is
//!   written, its problems printed, and the exit code is 1 too.
//! - OURS or THEIRS not a valid melody: exit 3, and OURS is left as it was. An empty or broken
//!   BASE (no common ancestor) merges as if both sides added the file.

use std::path::{Path, PathBuf};

use serde_json::Value;
use symphony_melody::{Conflict, Melody};

use super::plural;
use crate::exit::{Exit, Failure, Outcome};

/// Arguments of `symphony merge-driver`.
#[derive(clap::Args)]
pub struct Args {
    /// The common ancestor's version (git's `%O`).
    #[arg(value_name = "BASE")]
    pub base: PathBuf,
    /// Our version (git's `%A`); the merge result is written here.
    #[arg(value_name = "OURS")]
    pub ours: PathBuf,
    /// Their version (git's `%B`).
    #[arg(value_name = "THEIRS")]
    pub theirs: PathBuf,
    /// The file's path in the repository (git's `%P`), to name it in messages.
    #[arg(value_name = "PATH")]
    pub path: Option<String>,
}

/// Runs the merge driver: exit 0 when the merge is clean, 1 when a person must resolve it.
pub fn run(args: Args) -> Outcome {
    let name = args
        .path
        .clone()
        .unwrap_or_else(|| args.ours.display().to_string());
    let base_bytes = super::read(&args.base)?;
    let ours = load(&args.ours, &format!("{name} (ours)"))?;
    let theirs = load(&args.theirs, &format!("{name} (theirs)"))?;
    let base = if base_bytes.iter().all(u8::is_ascii_whitespace) {
        None
    } else {
        match symphony_melody::load(&base_bytes, &format!("{name} (base)")) {
            Ok(base) => Some(base),
            Err(problems) => {
                errln!("warning: the common ancestor is not a valid melody; merging as if both sides added the file");
                for p in problems.iter() {
                    errln!("warning: {p}");
                }
                None
            }
        }
    };

    let merged = symphony_melody::merge(base.as_ref(), &ours, &theirs).map_err(|p| {
        Failure::new(
            Exit::Internal,
            format!("the merge of {name} did not make a valid melody (a bug in Symphony):\n{p}"),
        )
    })?;
    std::fs::write(&args.ours, symphony_melody::to_bytes(&merged.melody))
        .map_err(|e| Failure::write(&args.ours, &e))?;

    for r in &merged.resolved {
        errln!(
            "note: {name}: {}: changed on both sides (layout only); kept ours",
            r.path
        );
    }
    let mut exit = Exit::Success;
    if !merged.is_clean() {
        for c in &merged.conflicts {
            report(&name, c);
        }
        let n = merged.conflicts.len();
        errln!(
            "{name}: {n} conflict{}; kept ours for each and listed them under layout.mergeConflicts",
            plural(n)
        );
        exit = Exit::Failed;
    }
    let problems = check(&merged.melody, &ours, &name);
    if !problems.is_empty() {
        for p in &problems {
            errln!("error: {p}");
        }
        errln!("{name}: the merged melody does not validate; fix it before committing");
        exit = Exit::Failed;
    }
    Ok(exit)
}

/// Reads and loads one side (exit 4 if unreadable, 3 if not a melody).
fn load(path: &Path, name: &str) -> Result<Melody, Failure> {
    let bytes = super::read(path)?;
    symphony_melody::load(&bytes, name).map_err(Failure::problems)
}

/// The result's validation problems, when ours had none (a problem ours already had is not the
/// merge's doing).
fn check(merged: &Melody, ours: &Melody, name: &str) -> Vec<String> {
    let registry = crate::registry::registry();
    if !symphony_melody::validate(ours, &registry).is_empty() {
        return Vec::new();
    }
    let problems = symphony_melody::validate(merged, &registry);
    if problems.is_empty() {
        return Vec::new();
    }
    symphony_melody::Problems::new(problems)
        .in_file(name)
        .iter()
        .map(ToString::to_string)
        .collect()
}

/// Prints one conflict: its path, and ours and theirs on lines of their own.
fn report(name: &str, c: &Conflict) {
    let side = |v: &Option<Value>| match v {
        Some(v) => v.to_string(),
        None => "(absent)".to_owned(),
    };
    errln!("conflict: {name}: {}", c.path);
    errln!("  ours (kept): {}", side(&c.ours));
    errln!("  theirs:      {}", side(&c.theirs));
}
