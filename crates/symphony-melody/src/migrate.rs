//! Upgrading older melody files, one version step at a time.
//!
//! A [`Migration`] turns a document of version `n` into version `n + 1`, working on the raw JSON
//! so it never depends on the current structs. [`upgrade`] chains them from a file's version to
//! the version this build reads. Version 1 is the first format, so [`MIGRATIONS`] is empty; the
//! tests show a v1 → v2 migration plugging in.

use serde_json::{Map, Value};

/// Upgrades a document from [`Migration::source_version`] to the next version.
pub trait Migration: Sync {
    /// The version this migration reads.
    fn source_version(&self) -> u32;
    /// Rewrites the document in place. `formatVersion` is bumped by [`upgrade`].
    fn migrate(&self, doc: &mut Map<String, Value>) -> Result<(), String>;
}

/// The migrations this build knows, oldest first.
pub const MIGRATIONS: &[&dyn Migration] = &[];

/// Why a document could not be upgraded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MigrateError {
    /// The document is newer than this build, or older than any migration.
    #[error("unknown format version {found}; this Symphony reads versions 1 to {target}{hint}")]
    UnknownVersion {
        /// The version in the file.
        found: u64,
        /// The version this build reads.
        target: u32,
        /// What to do about it.
        hint: &'static str,
    },
    /// A migration refused the document.
    #[error("upgrading from version {from} failed: {message}")]
    Failed {
        /// The version being upgraded.
        from: u32,
        /// Why.
        message: String,
    },
}

/// Upgrades `doc` (at `version`) to `target` with `migrations`.
pub fn upgrade(
    doc: &mut Map<String, Value>,
    version: u64,
    migrations: &[&dyn Migration],
    target: u32,
) -> Result<(), MigrateError> {
    let unknown = |hint| MigrateError::UnknownVersion {
        found: version,
        target,
        hint,
    };
    if version == 0 {
        return Err(unknown(""));
    }
    if version > u64::from(target) {
        return Err(unknown(
            " (the file was written by a newer Symphony; upgrade to open it)",
        ));
    }
    let mut current = version as u32;
    while current < target {
        let m = migrations
            .iter()
            .find(|m| m.source_version() == current)
            .ok_or_else(|| unknown(" (no migration from this version)"))?;
        m.migrate(doc).map_err(|message| MigrateError::Failed {
            from: current,
            message,
        })?;
        current += 1;
        doc.insert("formatVersion".into(), Value::from(current));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// A pretend v2 that renames `policy.estimateMs` to `policy.expectedMs`.
    struct RenameEstimate;
    impl Migration for RenameEstimate {
        fn source_version(&self) -> u32 {
            1
        }
        fn migrate(&self, doc: &mut Map<String, Value>) -> Result<(), String> {
            let steps = doc
                .get_mut("steps")
                .and_then(Value::as_array_mut)
                .ok_or("steps is not a list")?;
            for step in steps {
                if let Some(policy) = step.get_mut("policy").and_then(Value::as_object_mut) {
                    if let Some(v) = policy.remove("estimateMs") {
                        policy.insert("expectedMs".into(), v);
                    }
                }
            }
            Ok(())
        }
    }

    #[test]
    fn a_v2_migration_plugs_in() {
        let mut doc =
            json!({"formatVersion": 1, "steps": [{"id": "a", "policy": {"estimateMs": 5}}]})
                .as_object()
                .unwrap()
                .clone();
        upgrade(&mut doc, 1, &[&RenameEstimate], 2).unwrap();
        assert_eq!(
            Value::Object(doc),
            json!({"formatVersion": 2, "steps": [{"id": "a", "policy": {"expectedMs": 5}}]})
        );
    }

    #[test]
    fn newer_and_missing_versions_are_refused() {
        let mut doc = Map::new();
        let e = upgrade(&mut doc, 3, &[&RenameEstimate], 2).unwrap_err();
        assert!(e.to_string().contains("unknown format version 3"), "{e}");
        let e = upgrade(&mut doc, 1, &[], 2).unwrap_err();
        assert!(e.to_string().contains("no migration"), "{e}");
        let mut failing = json!({"formatVersion": 1}).as_object().unwrap().clone();
        let e = upgrade(&mut failing, 1, &[&RenameEstimate], 2).unwrap_err();
        assert!(e.to_string().contains("steps is not a list"), "{e}");
    }
}
