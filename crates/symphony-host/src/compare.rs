//! Comparing the open melody with another version of it, for the editor to draw on the canvas:
//! its committed version in git (`committedMelody`), or any other document (`compareMelodies`,
//! field by field through `symphony_melody::diff`, the engine behind `symphony diff`).
//!
//! **Architecture Invariant:** git is read, never run with the repository's own programs: it is
//! started through `symphony_agents::capture::git_command` (hooks, fsmonitor, pager, external
//! diffs off), with `--no-textconv`, and only `git show HEAD:./<name>` of a melody file inside
//! the project is asked for.

use serde_json::Value;

use crate::wire::{FieldChange, MelodyComparison, MelodyDocument, StepCompared};
use crate::{Host, HostError};

fn changes(list: &[symphony_melody::diff::Change], prefix: &str) -> Vec<FieldChange> {
    list.iter()
        .map(|c| FieldChange {
            path: if prefix.is_empty() {
                c.path.clone()
            } else {
                format!("{prefix}.{}", c.path)
            },
            before: c.before.clone(),
            after: c.after.clone(),
        })
        .collect()
}

impl Host {
    /// `compareMelodies`: what differs from `base` (the other version) to `melody` (the open
    /// one), step by step and field by field; layout apart.
    pub fn compare_melodies(
        &self,
        base: Value,
        melody: Value,
    ) -> Result<MelodyComparison, HostError> {
        let a = self.parse(base)?;
        let b = self.parse(melody)?;
        let d = symphony_melody::diff::diff(&a, &b);
        let edge = |e: &symphony_melody::Edge| format!("{} → {}", e.from, e.to);
        let mut whole = changes(&d.melody, "melody");
        whole.extend(changes(&d.inputs, "inputs"));
        whole.extend(changes(&d.settings, "settings"));
        whole.extend(changes(&d.step_types, "stepTypes"));
        Ok(MelodyComparison {
            same: d.is_empty(),
            layout_only: !d.changes_what_runs() && !d.layout.is_empty(),
            melody: whole,
            steps: d
                .steps
                .iter()
                .map(|s| StepCompared {
                    id: s.id.clone(),
                    change: serde_json::to_value(s.change)
                        .ok()
                        .and_then(|v| v.as_str().map(str::to_owned))
                        .unwrap_or_default(),
                    renamed_from: s.renamed_from.clone(),
                    type_name: s.type_name.clone(),
                    fields: changes(&s.fields, ""),
                    step: s.step.clone(),
                })
                .collect(),
            edges_added: d.edges.added.iter().map(edge).collect(),
            edges_removed: d.edges.removed.iter().map(edge).collect(),
            moved: d.layout.moved.clone(),
        })
    }

    /// `committedMelody`: the melody file at `path` as its git repository's HEAD has it.
    pub async fn committed_melody(&self, path: &str) -> Result<MelodyDocument, HostError> {
        let file = self.inner.project.resolve(path)?;
        if !file.rel.ends_with(".melody.json") {
            return Err(HostError::BadPath {
                path: path.to_owned(),
                why: "only a melody file's committed version can be compared".into(),
            });
        }
        let dir = file
            .abs
            .parent()
            .map(std::path::Path::to_path_buf)
            .unwrap_or_default();
        let name = file
            .abs
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or_default()
            .to_owned();
        let rel = file.rel.clone();
        // The one hardened way Symphony starts git (hooks, fsmonitor, pager, external diffs
        // off; no `GIT_*` from the environment).
        let out = symphony_agents::capture::git_command(&dir)
            .await
            .args([
                "show",
                "--no-textconv",
                "--no-ext-diff",
                &format!("HEAD:./{name}"),
            ])
            .stdin(std::process::Stdio::null())
            .output()
            .await
            .map_err(|e| HostError::BadPath {
                path: rel.clone(),
                why: format!(
                    "git is needed to read its committed version, and it could not start: {e}"
                ),
            })?;
        if !out.status.success() {
            let said = String::from_utf8_lossy(&out.stderr);
            return Err(HostError::BadPath {
                path: rel,
                why: format!(
                    "it has no committed version to compare with ({}): commit it first, or compare with another file",
                    said.lines().next().unwrap_or("git said nothing").trim()
                ),
            });
        }
        if out.stdout.len() > symphony_melody::load::MAX_BYTES {
            return Err(HostError::BadPath {
                path: rel,
                why: "its committed version is larger than a melody may be".into(),
            });
        }
        let mut doc = self.import_melody(&String::from_utf8_lossy(&out.stdout))?;
        doc.path = format!("HEAD:{rel}");
        Ok(doc)
    }
}
