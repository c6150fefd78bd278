//! Import of SuperOptiX orchestra YAML (`*_orchestra.yaml`) into an equivalent melody.
//!
//! This module owns the translation from SuperOptiX's multi-agent "orchestra" files to the melody
//! model, and nothing else: it reads bytes, never files, and it does not validate the result
//! against a catalog (the step type `instrument.offline` lives in the conductor). What it does
//! guarantee is that the melody it returns loads ([`crate::load_value`]) and is deterministic: the
//! same YAML always gives the same melody, and so the same bytes through [`crate::to_bytes`].
//!
//! # The mapping
//!
//! | SuperOptiX                                   | Melody                                              |
//! |----------------------------------------------|-----------------------------------------------------|
//! | `metadata` (or `orchestra`) name, id, ...    | `melody` metadata, tagged `superoptix`              |
//! | `{goal}` in any task description             | run input `goal` (string)                           |
//! | each task                                    | one `instrument.offline` step, model `superoptix:<agent>` |
//! | `context: [d]` of task `t`                   | text input port `d` on `t`, edge `d.output → t.d`, and a `## From <d>` section in the prompt |
//! | `dependencies: [{task_name: d, dependency_type: requires_completion}]` | the same port and edge, without the prompt section |
//! | task `timeout_seconds`                       | `policy.timeoutMs`                                  |
//! | `execution.task_timeout_seconds`             | `settings.defaultTimeoutMs`                         |
//! | task `priority` (`critical`/`high`/`medium`/`low`/number) | `policy.priority` (20/10/5/1/number)   |
//! | `execution.retry_strategy`, task `retry_count` | `policy.retry` on every step                      |
//! | `execution.strategy`, `max_parallel_tasks`   | `settings.maxParallel`                              |
//!
//! Steps are laid out in columns by dependency depth so the canvas opens on something readable.
//!
//! # Tolerance
//!
//! Real orchestra files vary: the generator writes both `metadata` and `orchestra` blocks, hand-made
//! files put `execution` or `workspace` at the top level, priorities are words or numbers, retry
//! strategies are names (`exponential_backoff`) or maps (`max_retries`, `backoff_seconds`, ...).
//! All of these are accepted. Fields with no melody equivalent (`workspace`, `enable_metrics`,
//! `enable_trace`, `orchestration_type`, `required_tier`, mixed-strategy `task_groups`, ...) are
//! ignored. What makes no sense (no tasks, a task without a name, a context entry naming no task, a
//! word that is not a priority) is reported, every problem at once, each with its field path
//! (`tasks[2].context[0]`).
//!
//! # Templates
//!
//! A melody prompt is a template whose holes are written `{{reference}}`. SuperOptiX descriptions
//! use Python's single-brace `{goal}`; those naming a declared run input become `{{goal}}`, every
//! other single-brace text is left as it is (single braces are plain text in a template). A
//! literal `{{` in a description would open a hole, so before anything else every `{{` is escaped
//! by putting a space between the braces (`{ {`).

mod build;
mod execution;
mod read;
#[cfg(test)]
mod tests;
mod text;

use serde_json::Value;

use crate::catalog::describe;
use crate::load::MAX_BYTES;
use crate::model::Melody;
use crate::problem::{Problem, Problems};
use read::{Doc, Importer};

/// The step type every task becomes: an instrument whose model is the SuperOptiX agent.
pub const STEP_TYPE: &str = "instrument.offline";

/// Prefix of the `model` config of every imported step; the agent's name follows.
pub const MODEL_PREFIX: &str = "superoptix:";

/// The run input declared when a task description mentions `{goal}`.
pub const GOAL_INPUT: &str = "goal";

/// The tag every imported melody carries.
pub const TAG: &str = "superoptix";

/// How many times a failed attempt is retried when a retry strategy is named without a count
/// (`retry_strategy: exponential_backoff`, as `super orchestra create` writes it).
pub const DEFAULT_RETRIES: u32 = 3;

/// Horizontal distance between dependency-depth columns on the canvas.
const COLUMN_WIDTH: f64 = 280.0;
/// Vertical distance between rows within a column.
const ROW_HEIGHT: f64 = 140.0;
/// Step ids are cut to this length, leaving room for a `-N` suffix within the 128 allowed.
const MAX_ID_LEN: usize = 100;

/// The SuperOptiX priority words and what they become (higher starts first among ready steps).
const PRIORITIES: &[(&str, i32)] = &[("critical", 20), ("high", 10), ("medium", 5), ("low", 1)];
/// The priority of a task that names none, when other tasks of the file do (SuperOptiX's default).
const MEDIUM: i32 = 5;

/// SuperOptiX execution strategies. Only `sequential` limits parallelism by itself.
const STRATEGIES: &[&str] = &["sequential", "parallel", "mixed", "hierarchical"];

/// Named retry strategies: (name, backoff factor), or `None` for no retries.
const RETRY_NAMES: &[(&str, Option<f64>)] = &[
    ("none", None),
    ("no_retry", None),
    ("disabled", None),
    ("simple", Some(1.0)),
    ("fixed", Some(1.0)),
    ("constant", Some(1.0)),
    // The melody model only knows exponential backoff; a linear one is approximated by a fixed wait.
    ("linear", Some(1.0)),
    ("exponential", Some(2.0)),
    ("exponential_backoff", Some(2.0)),
    ("backoff", Some(2.0)),
];

/// How a task depends on another.
const DEPENDENCY_TYPES: &[&str] = &["requires_output", "requires_completion"];

/// Converts a SuperOptiX orchestra file into a melody.
///
/// `source` names the file in every problem (`orchestras/sdlc_orchestra.yaml: tasks[1].agent:
/// missing ...`) and names the melody when the file itself has no name. Every problem found is
/// returned at once; nothing is returned half-imported.
pub fn import(yaml: &[u8], source: &str) -> Result<Melody, Problems> {
    import_document(yaml, source).map_err(|p| p.in_file(source))
}

fn import_document(yaml: &[u8], source: &str) -> Result<Melody, Problems> {
    let root = parse(yaml).map_err(|p| Problems::new(vec![p]))?;
    let Value::Object(root) = root else {
        let found = if root.is_null() {
            "an empty document".to_owned()
        } else {
            describe(&root)
        };
        return Err(Problems::new(vec![Problem::at(
            "",
            format!(
                "expected a SuperOptiX orchestra (a YAML mapping with `metadata`, `orchestra`, \
                 `agents` and `tasks`), found {found}"
            ),
        )]));
    };

    let mut im = Importer::default();
    let doc = Doc::new(&root, &mut im);
    let metadata = im.metadata(&doc, source);
    let agents = im.agents(&doc);
    let execution = im.execution(&doc);
    let tasks = im.tasks(&doc);
    let melody = im.build(metadata, agents.as_deref(), execution, &tasks);

    if !im.problems.is_empty() {
        return Err(Problems::new(im.problems));
    }
    let melody = melody.expect("a melody is built whenever no problem was found");
    // The contract: what we return is a document the loader accepts, exactly as it would read it.
    let value = serde_json::to_value(&melody).expect("a Melody always serializes to JSON");
    crate::load_value(value)
}

/// Parses the YAML into JSON values, reporting syntax errors with their line and column.
fn parse(yaml: &[u8]) -> Result<Value, Problem> {
    if yaml.len() > MAX_BYTES {
        return Err(Problem::at(
            "",
            format!(
                "the file is {} MiB; orchestras are limited to {} MiB",
                yaml.len() / (1024 * 1024),
                MAX_BYTES / (1024 * 1024)
            ),
        ));
    }
    serde_yaml_ng::from_slice::<Value>(yaml).map_err(|e| {
        let message = e.to_string();
        let text = match e.location() {
            Some(at) => {
                let suffix = format!(" at line {} column {}", at.line(), at.column());
                format!(
                    "invalid YAML at line {} column {}: {}",
                    at.line(),
                    at.column(),
                    message.replacen(&suffix, "", 1)
                )
            }
            None => format!("invalid YAML: {message}"),
        };
        Problem::at("", format!("{text}; fix the syntax there and import again"))
    })
}
