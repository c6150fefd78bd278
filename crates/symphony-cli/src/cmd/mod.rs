//! The commands, one module each, and the few helpers they share: reading a melody file and
//! turning its problems into a [`Failure`] with the right exit code.
//!
//! Each command module holds its clap `Args` and a `run` function returning an
//! [`Outcome`](crate::exit::Outcome); none of them prints an error itself, so every error
//! reaches the user the same way (`error: …` on stderr, from `main`).

pub mod credential;
pub mod diff;
pub mod fmt;
pub mod fork;
pub mod import;
pub mod merge_driver;
pub mod plan;
mod prompt;
pub mod run;
pub mod runs;
pub mod serve;
pub mod trust;
pub mod types;
pub mod validate;

use std::path::Path;

use symphony_conductor::Registry;
use symphony_melody::Melody;

use crate::exit::Failure;

/// Reads a whole file, or says which file could not be read and why (exit 4).
pub fn read(path: &Path) -> Result<Vec<u8>, Failure> {
    std::fs::read(path).map_err(|e| Failure::read(path, &e))
}

/// Reads, parses and validates a melody file against the registry's step types.
///
/// A missing or unreadable file is an I/O failure (exit 4); parse or validation problems are
/// an invalid melody (exit 3), every problem on its own line with the file and field path.
pub fn load_melody(path: &Path, registry: &Registry) -> Result<Melody, Failure> {
    let bytes = read(path)?;
    symphony_melody::load_and_validate(&bytes, &path.display().to_string(), registry)
        .map_err(Failure::problems)
}

/// Each step's expected duration for the plan (see [`Registry::estimate_ms`]).
pub fn estimates(melody: &Melody, registry: &Registry) -> Vec<u64> {
    melody
        .steps
        .iter()
        .map(|s| registry.estimate_ms(s))
        .collect()
}

/// Whether a step is played by an instrument that calls no model.
pub fn is_offline(registry: &Registry, type_name: &str) -> bool {
    registry
        .get(type_name)
        .is_some_and(|e| e.spec.offline && e.spec.kind == symphony_melody::StepKind::Instrument)
}

/// Milliseconds for people: `250ms`, `1.50s`, `2m 05s`, `3h 20m`, `24h`.
pub fn duration(ms: u64) -> String {
    if ms < 1000 {
        format!("{ms}ms")
    } else if ms < 60_000 {
        format!("{:.2}s", ms as f64 / 1000.0)
    } else if ms < 3_600_000 {
        format!("{}m {:02}s", ms / 60_000, (ms % 60_000) / 1000)
    } else if ms % 3_600_000 < 60_000 {
        format!("{}h", ms / 3_600_000)
    } else {
        format!("{}h {:02}m", ms / 3_600_000, (ms % 3_600_000) / 60_000)
    }
}

/// `"s"` unless there is exactly one.
pub fn plural(n: usize) -> &'static str {
    if n == 1 {
        ""
    } else {
        "s"
    }
}
