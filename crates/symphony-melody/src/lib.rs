//! The score: everything about a melody file that can be known without playing it.
//!
//! A melody is one `*.melody.json` file. This crate turns its bytes into a [`Melody`]
//! ([`load`]), checks it against a [`Catalog`] of step types ([`validate`]), builds its graph
//! and execution plan ([`graph`]), and writes it back byte-for-byte deterministically
//! ([`to_bytes`]). Older format versions are upgraded through [`migrate`]. Two versions of a
//! melody are compared field by field with [`diff`], and three are merged by step id with
//! [`merge`] (what the git merge driver does).
//!
//! **Architecture Invariant:** this crate does no IO beyond bytes in and bytes out, and has no
//! async runtime. It knows step types only through the [`Catalog`] trait, so the conductor can
//! own the step implementations while the editor, the CLI and the validator share one view of
//! what a step type accepts.

pub mod catalog;
pub mod condition;
pub mod diff;
pub mod graph;
pub mod import;
pub mod limits;
pub mod load;
pub mod merge;
pub mod migrate;
pub mod model;
pub mod problem;
pub mod reference;
pub mod save;
pub mod template;
pub mod validate;
pub mod versions;

pub use catalog::{
    Capability, Catalog, ConfigField, FieldType, PortSpec, PortType, ResolvedPort, TypeSpec,
};
pub use condition::Condition;
pub use diff::{diff, MelodyDiff};
pub use import::superoptix;
pub use load::{load, load_value};
pub use merge::{merge, Conflict, Merged};
pub use model::{
    Edge, Fallback, InlineStep, Layout, Melody, Metadata, Policy, PortDecl, PortRef, Position,
    Retry, Route, RunInput, Settings, Step, StepKind, ValueType, FORMAT_VERSION,
};
pub use problem::{Problem, Problems};
pub use reference::Reference;
pub use save::to_bytes;
pub use superoptix::import as import_superoptix;
pub use template::Template;
pub use validate::{control_name, validate};

/// Parses, upgrades (older step-type versions, see [`versions`]) and validates in one call:
/// what a host does when a user opens a file.
///
/// `source` names the file in every problem (`melodies/a.melody.json: steps.plan...`).
pub fn load_and_validate(
    bytes: &[u8],
    source: &str,
    catalog: &dyn Catalog,
) -> Result<Melody, Problems> {
    let mut melody = load(bytes, source)?;
    versions::upgrade(&mut melody, catalog).map_err(|p| Problems::new(p).in_file(source))?;
    let problems = validate(&melody, catalog);
    if problems.is_empty() {
        Ok(melody)
    } else {
        Err(Problems::new(problems).in_file(source))
    }
}
