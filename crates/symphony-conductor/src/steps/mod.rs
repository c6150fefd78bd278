//! The built-in step types, one file each. Each file holds the type's spec (ports, config,
//! capabilities) and how it plays; `registry.rs` lists them.

pub mod delay;
pub mod file_write;
pub mod gate;
pub mod json_extract;
pub mod loop_cue;
pub mod map;
pub mod merge;
pub mod offline;
pub mod pass;
pub mod router;
pub mod template;

use symphony_melody::{StepKind, TypeSpec};

/// A spec with no ports, config or capabilities yet; each type fills in its own.
pub(crate) fn spec(name: &str, kind: StepKind, title: &str, summary: &str) -> TypeSpec {
    TypeSpec::new(name, kind, title, summary)
}
