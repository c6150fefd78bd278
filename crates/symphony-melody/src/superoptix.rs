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

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

use serde_json::{json, Map, Value};

use crate::catalog::{describe, PortType};
use crate::load::MAX_BYTES;
use crate::model::{
    Edge, Layout, Melody, Metadata, Policy, PortDecl, PortRef, Position, Retry, RunInput, Settings,
    Step, StepKind, ValueType, FORMAT_VERSION,
};
use crate::problem::{did_you_mean, Problem, Problems};

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

/// The sections of an orchestra file, wherever in the file they were written.
struct Doc<'a> {
    root: &'a Map<String, Value>,
    metadata: Option<&'a Map<String, Value>>,
    orchestra: Option<&'a Map<String, Value>>,
}

impl<'a> Doc<'a> {
    fn new(root: &'a Map<String, Value>, im: &mut Importer) -> Self {
        Doc {
            root,
            metadata: im.object(root.get("metadata"), "metadata"),
            orchestra: im.object(root.get("orchestra"), "orchestra"),
        }
    }

    /// An orchestra-level section: under `orchestra:` as the generator writes it, or at the top.
    fn orchestra_section(&self, key: &str) -> Option<(String, &'a Value)> {
        if let Some(v) = self.orchestra.and_then(|o| o.get(key)) {
            return Some((format!("orchestra.{key}"), v));
        }
        self.root.get(key).map(|v| (key.to_owned(), v))
    }

    /// A top-level section (`agents`, `tasks`), also accepted under `orchestra:`.
    fn top_section(&self, key: &str) -> Option<(String, &'a Value)> {
        if let Some(v) = self.root.get(key) {
            return Some((key.to_owned(), v));
        }
        self.orchestra
            .and_then(|o| o.get(key))
            .map(|v| (format!("orchestra.{key}"), v))
    }
}

/// Run-wide settings read from `execution`, and the retry every step starts from.
#[derive(Default)]
struct Execution {
    settings: Settings,
    retry: Option<Retry>,
}

/// A dependency of one task on another, by name.
struct Dependency {
    name: String,
    path: String,
    /// `context` and `requires_output`: the output is read in the prompt. Otherwise the task only
    /// waits for the other to finish.
    reads_output: bool,
}

/// One task as read from the file; fields with problems are `None`.
struct Task {
    index: usize,
    path: String,
    name: Option<String>,
    agent: Option<String>,
    description: Option<String>,
    expected_output: Option<String>,
    dependencies: Vec<Dependency>,
    priority: Option<i32>,
    timeout_ms: Option<u64>,
    retry_count: Option<u32>,
}

#[derive(Default)]
struct Importer {
    problems: Vec<Problem>,
}

impl Importer {
    fn problem(&mut self, path: impl Into<String>, message: impl Into<String>) {
        self.problems.push(Problem::at(path, message));
    }

    /// The mapping at `path`, reporting anything else that is there.
    fn object<'a>(
        &mut self,
        value: Option<&'a Value>,
        path: &str,
    ) -> Option<&'a Map<String, Value>> {
        match value {
            None | Some(Value::Null) => None,
            Some(Value::Object(map)) => Some(map),
            Some(other) => {
                self.problem(
                    path,
                    format!("expected a mapping of fields, found {}", describe(other)),
                );
                None
            }
        }
    }

    /// A text field: strings, and numbers or booleans written without quotes. Empty means absent.
    fn text(&mut self, map: Option<&Map<String, Value>>, key: &str, path: &str) -> Option<String> {
        let value = map?.get(key)?;
        match scalar_text(value) {
            Some(t) if t.is_empty() => None,
            Some(t) => Some(t),
            None if value.is_null() => None,
            None => {
                self.problem(
                    join(path, key),
                    format!("expected text, found {}", describe(value)),
                );
                None
            }
        }
    }

    /// A text field every task must have; `why` tells the user what it is for.
    fn required_text(
        &mut self,
        map: &Map<String, Value>,
        key: &str,
        path: &str,
        why: &str,
    ) -> Option<String> {
        let value = map.get(key).filter(|v| !v.is_null());
        match value.map(scalar_text) {
            Some(Some(t)) if !t.is_empty() => Some(t),
            Some(None) => {
                let found = describe(value.expect("matched as present"));
                self.problem(
                    join(path, key),
                    format!("expected text, found {found}; {why}"),
                );
                None
            }
            Some(Some(_)) => {
                self.problem(join(path, key), format!("is empty; {why}"));
                None
            }
            None => {
                self.problem(join(path, key), format!("missing; {why}"));
                None
            }
        }
    }

    fn metadata(&mut self, doc: &Doc, source: &str) -> Metadata {
        let (meta, orch, root) = (doc.metadata, doc.orchestra, Some(doc.root));
        let pick = |im: &mut Importer, key: &str| {
            im.text(meta, key, "metadata")
                .or_else(|| im.text(orch, key, "orchestra"))
                .or_else(|| im.text(root, key, ""))
        };
        let id = pick(self, "id");
        let name = pick(self, "name")
            .or_else(|| id.clone())
            .unwrap_or_else(|| name_from_source(source));
        let description = pick(self, "description").unwrap_or_default();
        let version = pick(self, "version").unwrap_or_default();
        let author = self.text(meta, "author", "metadata").unwrap_or_default();

        let mut tags = vec![TAG.to_owned()];
        match meta.and_then(|m| m.get("tags")) {
            None | Some(Value::Null) => {}
            Some(Value::Array(items)) => tags.extend(items.iter().filter_map(scalar_text)),
            Some(Value::String(s)) => tags.extend(s.split(',').map(|t| t.trim().to_owned())),
            Some(other) => self.problem(
                "metadata.tags",
                format!("expected a list of tags, found {}", describe(other)),
            ),
        }
        let mut seen = HashSet::new();
        tags.retain(|t| !t.is_empty() && seen.insert(t.clone()));

        Metadata {
            id: slug(id.as_deref().unwrap_or(&name), "orchestra"),
            name,
            description,
            version,
            author,
            tags,
        }
    }

    /// The declared agent names, when the file declares any.
    fn agents(&mut self, doc: &Doc) -> Option<Vec<String>> {
        let (path, value) = doc.top_section("agents")?;
        let Value::Array(items) = value else {
            if !value.is_null() {
                self.problem(
                    path,
                    format!("expected a list of agent names, found {}", describe(value)),
                );
            }
            return None;
        };
        let mut names = Vec::new();
        for (i, item) in items.iter().enumerate() {
            let name = match item {
                Value::Object(map) => ["name", "id", "agent"]
                    .iter()
                    .find_map(|k| map.get(*k).and_then(scalar_text)),
                other => scalar_text(other),
            };
            match name {
                Some(n) if !n.is_empty() => names.push(n),
                _ => self.problem(
                    format!("{path}[{i}]"),
                    format!("expected an agent name, found {}", describe(item)),
                ),
            }
        }
        (!names.is_empty()).then_some(names)
    }

    fn execution(&mut self, doc: &Doc) -> Execution {
        let mut out = Execution::default();
        let Some((path, value)) = doc.orchestra_section("execution") else {
            // SuperOptiX runs an orchestra without an `execution` block sequentially.
            out.settings.max_parallel = Some(1);
            return out;
        };
        let Some(exec) = self.object(Some(value), &path) else {
            return out;
        };

        let max_parallel = exec.get("max_parallel_tasks").and_then(|v| {
            let p = join(&path, "max_parallel_tasks");
            match whole_number(v) {
                Some(n) if n >= 1 && n <= i64::from(u32::MAX) => {
                    Some(u32::try_from(n).expect("checked to fit"))
                }
                Some(_) => {
                    self.problem(p, "must be at least 1");
                    None
                }
                None => {
                    self.problem(
                        p,
                        format!("expected a whole number of tasks, found {}", describe(v)),
                    );
                    None
                }
            }
        });
        let strategy = self.text(Some(exec), "strategy", &path);
        out.settings.max_parallel = match strategy.as_deref().map(str::to_ascii_lowercase) {
            // SuperOptiX's default strategy is sequential; a count alone still says what is meant.
            None => max_parallel.or(Some(1)),
            Some(s) if s == "sequential" => Some(1),
            Some(s) if STRATEGIES.contains(&s.as_str()) => max_parallel,
            Some(s) => {
                let advice = || format!("use one of {}", STRATEGIES.join(", "));
                let hint = hint_or(&s, STRATEGIES, advice);
                self.problem(
                    join(&path, "strategy"),
                    format!("unknown execution strategy {s:?}{hint}"),
                );
                None
            }
        };

        if let Some(v) = exec.get("task_timeout_seconds") {
            out.settings.default_timeout_ms =
                self.seconds_ms(v, &join(&path, "task_timeout_seconds"));
        }
        if let Some(v) = exec.get("retry_strategy") {
            out.retry = self.retry(v, &join(&path, "retry_strategy"));
        }
        out
    }

    /// A timeout in seconds (whole or fractional), as milliseconds.
    fn seconds_ms(&mut self, value: &Value, path: &str) -> Option<u64> {
        match number(value).and_then(seconds_to_ms) {
            Some(ms) if ms >= 1 => Some(ms),
            _ => {
                self.problem(
                    path,
                    format!(
                        "expected a positive number of seconds, found {}",
                        describe(value)
                    ),
                );
                None
            }
        }
    }

    /// A wait in seconds or milliseconds (`unit_ms`), zero allowed.
    fn wait_ms(&mut self, value: &Value, path: &str, unit_ms: bool) -> Option<u64> {
        let ms = number(value).and_then(|n| {
            if unit_ms {
                (0.0..1e15).contains(&n).then(|| n.round() as u64)
            } else {
                seconds_to_ms(n)
            }
        });
        if ms.is_none() {
            let unit = if unit_ms { "milliseconds" } else { "seconds" };
            self.problem(
                path,
                format!(
                    "expected a number of {unit} (0 or more), found {}",
                    describe(value)
                ),
            );
        }
        ms
    }

    /// Reads `retry_strategy`. `Some` with `max == 0` means "explicitly no retries".
    fn retry(&mut self, value: &Value, path: &str) -> Option<Retry> {
        match value {
            Value::Null => None,
            Value::Bool(false) => Some(retry_with(0, 2.0)),
            Value::Bool(true) => Some(retry_with(DEFAULT_RETRIES, 2.0)),
            Value::Number(_) => self.count(value, path).map(|n| retry_with(n, 2.0)),
            Value::String(name) => self.retry_name(name, path).map(|factor| match factor {
                Some(f) => retry_with(DEFAULT_RETRIES, f),
                None => retry_with(0, 2.0),
            }),
            Value::Object(map) => self.retry_map(map, path),
            Value::Array(_) => {
                self.problem(
                    path,
                    format!(
                        "expected a strategy name (such as exponential_backoff) or a mapping \
                         with max_retries and backoff fields, found {}",
                        describe(value)
                    ),
                );
                None
            }
        }
    }

    /// A named retry strategy: `Some(Some(factor))`, `Some(None)` for no retries, `None` when
    /// the name is unknown (reported).
    fn retry_name(&mut self, name: &str, path: &str) -> Option<Option<f64>> {
        let key = name.trim().to_ascii_lowercase().replace(['-', ' '], "_");
        match RETRY_NAMES.iter().find(|(n, _)| *n == key) {
            Some((_, factor)) => Some(*factor),
            None => {
                let names: Vec<&str> = RETRY_NAMES.iter().map(|(n, _)| *n).collect();
                self.problem(
                    path,
                    format!(
                        "unknown retry strategy {name:?}{}",
                        hint_or(&key, &names, || format!("use one of {}", names.join(", ")))
                    ),
                );
                None
            }
        }
    }

    fn retry_map(&mut self, map: &Map<String, Value>, path: &str) -> Option<Retry> {
        let before = self.problems.len();
        let field = |keys: &[&'static str]| keys.iter().find_map(|k| map.get(*k).map(|v| (*k, v)));

        let mut factor_default = 2.0;
        if let Some((k, v)) = field(&["strategy", "type", "kind", "name"]) {
            match v.as_str() {
                Some(name) => match self.retry_name(name, &join(path, k)) {
                    Some(Some(f)) => factor_default = f,
                    Some(None) => return Some(retry_with(0, 2.0)),
                    None => {}
                },
                None => self.problem(
                    join(path, k),
                    format!("expected a strategy name, found {}", describe(v)),
                ),
            }
        }

        let max = if let Some((k, v)) = field(&["max_retries", "retries", "retry_count"]) {
            self.count(v, &join(path, k))
        } else if let Some((k, v)) = field(&["max_attempts", "attempts"]) {
            // Attempts count the first try too.
            self.count(v, &join(path, k)).map(|n| n.saturating_sub(1))
        } else {
            Some(DEFAULT_RETRIES)
        };

        let mut retry = retry_with(max.unwrap_or(0), factor_default);
        if let Some((k, v)) = field(&["backoff_ms", "delay_ms", "initial_delay_ms"]) {
            retry.backoff_ms = self.wait_ms(v, &join(path, k), true).unwrap_or(0);
        } else if let Some((k, v)) = field(&[
            "backoff_seconds",
            "initial_backoff_seconds",
            "initial_delay_seconds",
            "delay_seconds",
            "initial_delay",
            "delay",
            "backoff",
        ]) {
            retry.backoff_ms = self.wait_ms(v, &join(path, k), false).unwrap_or(0);
        }
        if let Some((k, v)) = field(&["max_backoff_ms", "max_delay_ms"]) {
            retry.max_backoff_ms = self.wait_ms(v, &join(path, k), true).unwrap_or(0);
        } else if let Some((k, v)) = field(&[
            "max_backoff_seconds",
            "max_delay_seconds",
            "max_backoff",
            "max_delay",
        ]) {
            retry.max_backoff_ms = self.wait_ms(v, &join(path, k), false).unwrap_or(0);
        }
        if let Some((k, v)) = field(&[
            "backoff_factor",
            "backoff_multiplier",
            "multiplier",
            "factor",
            "exponential_base",
        ]) {
            match number(v) {
                Some(f) if f.is_finite() && f >= 1.0 => retry.factor = f,
                _ => self.problem(
                    join(path, k),
                    format!(
                        "expected a growth factor of at least 1 (1 keeps the wait fixed), found {}",
                        describe(v)
                    ),
                ),
            }
        }
        if let Some(v) = map.get("jitter") {
            match v.as_bool() {
                Some(b) => retry.jitter = b,
                None => self.problem(
                    join(path, "jitter"),
                    format!("expected true or false, found {}", describe(v)),
                ),
            }
        }
        (self.problems.len() == before).then_some(retry)
    }

    /// A count of retries: a whole number, 0 or more.
    fn count(&mut self, value: &Value, path: &str) -> Option<u32> {
        match whole_number(value).and_then(|n| u32::try_from(n).ok()) {
            Some(n) => Some(n),
            None => {
                self.problem(
                    path,
                    format!(
                        "expected a whole number, 0 or more, found {}",
                        describe(value)
                    ),
                );
                None
            }
        }
    }

    fn tasks(&mut self, doc: &Doc) -> Vec<Task> {
        let Some((path, value)) = doc.top_section("tasks") else {
            self.problem(
                "tasks",
                "missing; an orchestra lists its work under `tasks`, each with a name, an agent \
                 and a description",
            );
            return Vec::new();
        };
        let Value::Array(items) = value else {
            self.problem(
                path,
                format!(
                    "expected a list of tasks (each `- name: ...`), found {}",
                    describe(value)
                ),
            );
            return Vec::new();
        };
        if items.is_empty() {
            self.problem(
                path.as_str(),
                "the list is empty; add at least one task to import",
            );
        }
        items
            .iter()
            .enumerate()
            .filter_map(|(i, item)| self.task(item, i, &format!("{path}[{i}]")))
            .collect()
    }

    fn task(&mut self, item: &Value, index: usize, path: &str) -> Option<Task> {
        let Value::Object(map) = item else {
            self.problem(
                path,
                format!(
                    "expected a task (a mapping with name, agent and description), found {}",
                    describe(item)
                ),
            );
            return None;
        };
        let name = self.required_text(
            map,
            "name",
            path,
            "every task needs a name (other tasks refer to it in `context`)",
        );
        let agent = self.required_text(
            map,
            "agent",
            path,
            "name the agent that plays this task (one listed under `agents`)",
        );
        let description = self.required_text(
            map,
            "description",
            path,
            "the description is what the agent is asked to do (it may mention {goal})",
        );
        let expected_output = self.text(Some(map), "expected_output", path);

        let mut dependencies = Vec::new();
        if let Some(v) = map.get("context") {
            self.context(v, &join(path, "context"), &mut dependencies);
        }
        if let Some(v) = map.get("dependencies") {
            self.dependencies(v, &join(path, "dependencies"), &mut dependencies);
        }

        let priority = map
            .get("priority")
            .filter(|v| !v.is_null())
            .and_then(|v| self.priority(v, &join(path, "priority")));
        let timeout_ms = map
            .get("timeout_seconds")
            .filter(|v| !v.is_null())
            .and_then(|v| self.seconds_ms(v, &join(path, "timeout_seconds")));
        let retry_count = ["retry_count", "max_retries", "retries"]
            .iter()
            .find_map(|k| map.get(*k).filter(|v| !v.is_null()).map(|v| (*k, v)))
            .and_then(|(k, v)| self.count(v, &join(path, k)));

        Some(Task {
            index,
            path: path.to_owned(),
            name,
            agent,
            description,
            expected_output,
            dependencies,
            priority,
            timeout_ms,
            retry_count,
        })
    }

    /// `context`: names of tasks whose output this task reads. A single name is accepted too.
    fn context(&mut self, value: &Value, path: &str, out: &mut Vec<Dependency>) {
        let items: Vec<(String, &Value)> = match value {
            Value::Null => return,
            Value::Array(items) => items
                .iter()
                .enumerate()
                .map(|(i, v)| (format!("{path}[{i}]"), v))
                .collect(),
            single => vec![(path.to_owned(), single)],
        };
        for (p, v) in items {
            let name = match v {
                Value::Object(map) => ["task_name", "task", "name"]
                    .iter()
                    .find_map(|k| map.get(*k).and_then(scalar_text)),
                other => scalar_text(other),
            };
            match name {
                Some(name) if !name.is_empty() => out.push(Dependency {
                    name,
                    path: p,
                    reads_output: true,
                }),
                _ => self.problem(
                    p,
                    format!("expected the name of another task, found {}", describe(v)),
                ),
            }
        }
    }

    /// `dependencies`: SuperOptiX's longer form, `{task_name, dependency_type}` or a bare name.
    fn dependencies(&mut self, value: &Value, path: &str, out: &mut Vec<Dependency>) {
        let Value::Array(items) = value else {
            if !value.is_null() {
                self.problem(
                    path,
                    format!(
                        "expected a list of dependencies (task names, or mappings with \
                         task_name and dependency_type), found {}",
                        describe(value)
                    ),
                );
            }
            return;
        };
        for (i, item) in items.iter().enumerate() {
            let p = format!("{path}[{i}]");
            let (name, reads_output) = match item {
                Value::Object(map) => {
                    let name = ["task_name", "task", "name"]
                        .iter()
                        .find_map(|k| map.get(*k).and_then(scalar_text));
                    let kind = map
                        .get("dependency_type")
                        .or_else(|| map.get("type"))
                        .and_then(Value::as_str)
                        .map(str::to_ascii_lowercase);
                    let reads = match kind.as_deref() {
                        None | Some("requires_output") => true,
                        Some("requires_completion") => false,
                        Some(other) => {
                            let advice = || format!("use {}", DEPENDENCY_TYPES.join(" or "));
                            let hint = hint_or(other, DEPENDENCY_TYPES, advice);
                            self.problem(
                                join(&p, "dependency_type"),
                                format!("dependency type {other:?} has no melody equivalent{hint}"),
                            );
                            true
                        }
                    };
                    (name, reads)
                }
                other => (scalar_text(other), true),
            };
            match name {
                Some(name) if !name.is_empty() => out.push(Dependency {
                    name,
                    path: p,
                    reads_output,
                }),
                _ => self.problem(
                    p,
                    format!(
                        "expected the name of another task, found {}",
                        describe(item)
                    ),
                ),
            }
        }
    }

    fn priority(&mut self, value: &Value, path: &str) -> Option<i32> {
        let word = value.as_str().map(|s| s.trim().to_ascii_lowercase());
        if let Some(w) = &word {
            if let Some((_, p)) = PRIORITIES.iter().find(|(name, _)| name == w) {
                return Some(*p);
            }
        }
        if let Some(n) = whole_number(value).and_then(|n| i32::try_from(n).ok()) {
            return Some(n);
        }
        let words: Vec<&str> = PRIORITIES.iter().map(|(w, _)| *w).collect();
        let advice = || {
            format!(
                "use {} or a whole number (higher runs first)",
                words.join(", ")
            )
        };
        let hint = match &word {
            Some(w) => hint_or(w, &words, advice),
            None => format!("; {}", advice()),
        };
        self.problem(
            path,
            format!("expected a priority, found {}{hint}", describe(value)),
        );
        None
    }

    /// Turns the tasks into steps, edges and layout. Returns `None` when something is wrong
    /// (already reported).
    fn build(
        &mut self,
        metadata: Metadata,
        agents: Option<&[String]>,
        execution: Execution,
        tasks: &[Task],
    ) -> Option<Melody> {
        let links = self.resolve(agents, tasks);
        if !self.problems.is_empty() {
            return None;
        }
        let mut inputs = BTreeMap::new();
        if tasks
            .iter()
            .filter_map(|t| t.description.as_deref())
            .any(|d| d.contains("{goal}"))
        {
            inputs.insert(
                GOAL_INPUT.to_owned(),
                RunInput {
                    ty: ValueType::String,
                    description: "The orchestra's goal".to_owned(),
                    default: None,
                },
            );
        }
        let plan = Plan {
            tasks,
            ids: step_ids(tasks, &inputs),
            links,
            default_priority: if tasks.iter().any(|t| t.priority.is_some()) {
                MEDIUM
            } else {
                0
            },
            retry: execution.retry,
        };
        let mut edges = Vec::new();
        let steps = (0..tasks.len())
            .map(|t| plan.step(t, &inputs, &mut edges))
            .collect();
        Some(Melody {
            format_version: FORMAT_VERSION,
            melody: metadata,
            layout: plan.layout(),
            inputs,
            settings: execution.settings,
            step_types: Default::default(),
            steps,
            edges,
        })
    }

    /// Checks what tasks refer to (unique names, declared agents, existing dependencies) and
    /// resolves each task's dependencies to task positions.
    fn resolve(&mut self, agents: Option<&[String]>, tasks: &[Task]) -> Vec<Vec<Link>> {
        // Task names must be unique: `context` refers to tasks by name.
        let mut by_name: HashMap<&str, usize> = HashMap::new();
        for (t, task) in tasks.iter().enumerate() {
            let Some(name) = task.name.as_deref() else {
                continue;
            };
            if let Some(&first) = by_name.get(name) {
                self.problem(
                    join(&task.path, "name"),
                    format!(
                        "{name:?} is already the name of tasks[{}]; task names must be unique \
                         because `context` refers to tasks by name",
                        tasks[first].index
                    ),
                );
            } else {
                by_name.insert(name, t);
            }
        }

        if let Some(agents) = agents {
            for task in tasks {
                let Some(agent) = task.agent.as_deref() else {
                    continue;
                };
                if !agents.iter().any(|a| a == agent) {
                    let hint = hint_or(
                        agent,
                        &agents.iter().map(String::as_str).collect::<Vec<_>>(),
                        || {
                            format!(
                                "add it there or correct the name (agents: {})",
                                listing(agents.iter().map(String::as_str))
                            )
                        },
                    );
                    self.problem(
                        join(&task.path, "agent"),
                        format!("agent {agent:?} is not listed under `agents`{hint}"),
                    );
                }
            }
        }

        // Names in file order, each once, so suggestions are deterministic.
        let mut seen = HashSet::new();
        let names: Vec<&str> = tasks
            .iter()
            .filter_map(|t| t.name.as_deref())
            .filter(|n| seen.insert(*n))
            .collect();
        let mut links = Vec::with_capacity(tasks.len());
        for task in tasks {
            // A task named twice keeps its first place; reading the output wins over waiting.
            let mut resolved: Vec<Link> = Vec::new();
            for dep in &task.dependencies {
                let Some(&d) = by_name.get(dep.name.as_str()) else {
                    let hint = hint_or(&dep.name, &names, || {
                        format!(
                            "name one of this orchestra's tasks ({})",
                            listing(names.iter().copied())
                        )
                    });
                    self.problem(
                        dep.path.clone(),
                        format!("no task named {:?}{hint}", dep.name),
                    );
                    continue;
                };
                match resolved.iter_mut().find(|l| l.task == d) {
                    Some(link) => link.reads_output |= dep.reads_output,
                    None => resolved.push(Link {
                        task: d,
                        reads_output: dep.reads_output,
                    }),
                }
            }
            links.push(resolved);
        }
        links
    }
}

/// A resolved dependency: the position of the task depended on, and how.
struct Link {
    task: usize,
    reads_output: bool,
}

/// Checked tasks on their way to becoming steps.
struct Plan<'a> {
    tasks: &'a [Task],
    /// Step id of each task.
    ids: Vec<String>,
    /// Dependencies of each task.
    links: Vec<Vec<Link>>,
    /// The priority of a task that names none.
    default_priority: i32,
    /// The orchestra's retry, before a task's own `retry_count`.
    retry: Option<Retry>,
}

impl Plan<'_> {
    /// The step of task `t`; its incoming edges are appended to `edges`.
    fn step(&self, t: usize, inputs: &BTreeMap<String, RunInput>, edges: &mut Vec<Edge>) -> Step {
        let task = &self.tasks[t];
        let id = &self.ids[t];
        let agent = task.agent.as_deref().unwrap_or_default();

        let mut prompt = fill_placeholders(
            &escape_holes(task.description.as_deref().unwrap_or_default()),
            inputs,
        );
        let mut ports = BTreeMap::new();
        for link in &self.links[t] {
            let dep_id = &self.ids[link.task];
            let dep_name = self.tasks[link.task].name.as_deref().unwrap_or_default();
            let description = if link.reads_output {
                prompt.push_str(&format!(
                    "\n\n## From {}\n{{{{{dep_id}}}}}",
                    escape_holes(dep_name)
                ));
                format!("The output of task `{dep_name}`.")
            } else {
                format!(
                    "The output of task `{dep_name}`; not used in the prompt, it only makes \
                     this task wait for that one."
                )
            };
            ports.insert(
                dep_id.clone(),
                PortDecl {
                    ty: PortType::Text,
                    default: None,
                    description,
                },
            );
            edges.push(Edge {
                from: PortRef::new(dep_id.clone(), "output"),
                to: PortRef::new(id.clone(), dep_id.clone()),
            });
        }

        let mut description = format!("Played by agent `{agent}`.");
        if let Some(expected) = &task.expected_output {
            description.push_str(&format!("\n\nExpected output: {expected}"));
        }

        let mut config = Map::new();
        config.insert("prompt".to_owned(), Value::String(prompt));
        config.insert(
            "model".to_owned(),
            Value::String(format!("{MODEL_PREFIX}{agent}")),
        );

        let retry = match (&self.retry, task.retry_count) {
            (Some(r), Some(n)) => Some(Retry {
                max: n,
                ..r.clone()
            }),
            (Some(r), None) => Some(r.clone()),
            (None, Some(n)) => Some(retry_with(n, 2.0)),
            (None, None) => None,
        }
        .filter(|r| r.max > 0);

        Step {
            id: id.clone(),
            kind: StepKind::Instrument,
            type_name: STEP_TYPE.to_owned(),
            name: task.name.clone().unwrap_or_default(),
            description,
            inputs: ports,
            outputs: BTreeMap::new(),
            config,
            policy: Policy {
                timeout_ms: task.timeout_ms,
                retry,
                priority: task.priority.unwrap_or(self.default_priority),
                ..Policy::default()
            },
            capabilities: BTreeSet::new(),
        }
    }

    /// Columns by dependency depth, rows in file order within a column.
    fn layout(&self) -> Layout {
        let deps: Vec<Vec<usize>> = self
            .links
            .iter()
            .map(|l| l.iter().map(|link| link.task).collect())
            .collect();
        let mut rows: HashMap<usize, usize> = HashMap::new();
        let mut layout = Layout::default();
        for (t, depth) in depths(&deps).into_iter().enumerate() {
            let row = rows.entry(depth).or_insert(0);
            layout.steps.insert(
                self.ids[t].clone(),
                Position {
                    x: COLUMN_WIDTH * depth as f64,
                    y: ROW_HEIGHT * *row as f64,
                },
            );
            *row += 1;
        }
        layout
    }
}

/// Step ids: slugs of the task names, unique, and never a name a template would read as
/// something else (`input` is reserved; a step called like a run input would shadow it in the
/// prompts of the steps it feeds).
fn step_ids(tasks: &[Task], inputs: &BTreeMap<String, RunInput>) -> Vec<String> {
    let mut taken: HashSet<String> = inputs.keys().cloned().collect();
    taken.insert("input".to_owned());
    tasks
        .iter()
        .map(|t| {
            let base = slug(t.name.as_deref().unwrap_or_default(), "task");
            let mut id = base.clone();
            let mut n = 2;
            while taken.contains(&id) {
                id = format!("{base}-{n}");
                n += 1;
            }
            taken.insert(id.clone());
            id
        })
        .collect()
}

/// Names for a message, the first dozen at most.
fn listing<'a>(names: impl IntoIterator<Item = &'a str>) -> String {
    const SHOWN: usize = 12;
    let mut names = names.into_iter();
    let mut out: Vec<&str> = names.by_ref().take(SHOWN).collect();
    if names.next().is_some() {
        out.push("...");
    }
    out.join(", ")
}

/// `; did you mean `x`?` when one of `choices` is close to `word`, otherwise `; ` and the advice.
fn hint_or(word: &str, choices: &[&str], advice: impl FnOnce() -> String) -> String {
    let hint = did_you_mean(word, choices.iter().copied());
    if hint.is_empty() {
        format!("; {}", advice())
    } else {
        hint
    }
}

/// A retry with the model's default waits, `max` retries and backoff `factor`.
fn retry_with(max: u32, factor: f64) -> Retry {
    let mut retry: Retry = serde_json::from_value(json!({ "max": max }))
        .expect("a retry with only `max` takes the model's defaults for the rest");
    retry.factor = factor;
    retry
}

/// Longest dependency chain above each task (0 for tasks without dependencies). Edges that
/// close a cycle are ignored here; the validator reports cycles.
fn depths(deps: &[Vec<usize>]) -> Vec<usize> {
    let mut depth: Vec<Option<usize>> = vec![None; deps.len()];
    let mut on_stack = vec![false; deps.len()];
    for start in 0..deps.len() {
        if depth[start].is_some() {
            continue;
        }
        // Iterative depth-first search, so a chain of many thousand tasks cannot overflow.
        let mut stack: Vec<(usize, usize)> = vec![(start, 0)];
        on_stack[start] = true;
        while let Some((node, next)) = stack.last_mut() {
            let node = *node;
            if let Some(&d) = deps[node].get(*next) {
                *next += 1;
                if depth[d].is_none() && !on_stack[d] {
                    on_stack[d] = true;
                    stack.push((d, 0));
                }
            } else {
                let below = deps[node]
                    .iter()
                    .filter_map(|&d| depth[d])
                    .map(|x| x + 1)
                    .max()
                    .unwrap_or(0);
                depth[node] = Some(below);
                on_stack[node] = false;
                stack.pop();
            }
        }
    }
    depth.into_iter().map(Option::unwrap_or_default).collect()
}

/// Breaks every `{{` in literal text by putting a space between the braces, so the text cannot
/// open a template hole (`{{{` becomes `{ { {`).
fn escape_holes(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut after_open = false;
    for c in text.chars() {
        if c == '{' && after_open {
            out.push(' ');
        }
        out.push(c);
        after_open = c == '{';
    }
    out
}

/// Turns Python-style `{name}` placeholders into template holes `{{name}}` when `name` is a
/// declared run input; other braces stay as they are. Expects text already passed through
/// [`escape_holes`], so no `{{` is left that a new hole could run into.
fn fill_placeholders(text: &str, inputs: &BTreeMap<String, RunInput>) -> String {
    let mut out = String::with_capacity(text.len() + 8);
    let mut rest = text;
    while let Some(open) = rest.find('{') {
        out.push_str(&rest[..open]);
        let after = &rest[open + 1..];
        match after.find('}') {
            Some(close) if inputs.contains_key(&after[..close]) => {
                out.push_str("{{");
                out.push_str(&after[..close]);
                out.push_str("}}");
                rest = &after[close + 1..];
            }
            _ => {
                out.push('{');
                rest = after;
            }
        }
    }
    out.push_str(rest);
    out
}

/// A step or melody id from a name: lowercase ASCII letters, digits, `_` and `-`; every other
/// character becomes `-`, runs of `-` collapse and none lead or trail. `fallback` when nothing
/// is left.
fn slug(name: &str, fallback: &str) -> String {
    let mut out = String::with_capacity(name.len());
    for c in name.chars() {
        let c = c.to_ascii_lowercase();
        if c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' {
            out.push(c);
        } else if !out.ends_with('-') {
            out.push('-');
        }
    }
    let mut out = out.trim_matches('-').to_owned();
    if out.len() > MAX_ID_LEN {
        out.truncate(MAX_ID_LEN);
        out = out.trim_end_matches('-').to_owned();
    }
    if out.is_empty() {
        fallback.to_owned()
    } else {
        out
    }
}

/// A melody name from the file name when the orchestra has none: `orchestras/sdlc_orchestra.yaml`
/// gives `sdlc`.
fn name_from_source(source: &str) -> String {
    let file = source.rsplit(['/', '\\']).next().unwrap_or(source);
    let stem = file
        .strip_suffix(".yaml")
        .or_else(|| file.strip_suffix(".yml"))
        .unwrap_or(file);
    let stem = stem
        .strip_suffix("_orchestra")
        .or_else(|| stem.strip_suffix("-orchestra"))
        .unwrap_or(stem)
        .trim();
    if stem.is_empty() {
        "SuperOptiX orchestra".to_owned()
    } else {
        stem.to_owned()
    }
}

/// Text of a scalar: strings as they are (trimmed), numbers and booleans as written.
fn scalar_text(value: &Value) -> Option<String> {
    match value {
        Value::String(s) => Some(s.trim().to_owned()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

/// A number, also when written as a quoted string (`"600"`).
fn number(value: &Value) -> Option<f64> {
    match value {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => s.trim().parse::<f64>().ok(),
        _ => None,
    }
}

/// A whole number, also `3.0` or `"3"`.
fn whole_number(value: &Value) -> Option<i64> {
    if let Some(n) = value.as_i64() {
        return Some(n);
    }
    let f = number(value)?;
    (f.is_finite() && f.fract() == 0.0 && f.abs() < 9.0e15).then_some(f as i64)
}

/// Seconds to milliseconds, refusing negative, infinite and absurdly large values.
fn seconds_to_ms(seconds: f64) -> Option<u64> {
    (0.0..1e12)
        .contains(&seconds)
        .then(|| (seconds * 1000.0).round() as u64)
}

fn join(path: &str, key: &str) -> String {
    if path.is_empty() {
        key.to_owned()
    } else {
        format!("{path}.{key}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fixture(name: &str) -> Vec<u8> {
        let path = format!(
            "{}/tests/fixtures/superoptix/{name}",
            env!("CARGO_MANIFEST_DIR")
        );
        std::fs::read(&path).unwrap_or_else(|e| panic!("cannot read fixture {path}: {e}"))
    }

    fn imported(name: &str) -> Melody {
        import(&fixture(name), name).unwrap_or_else(|p| panic!("{name} does not import:\n{p}"))
    }

    /// The problems of a document that must not import, as the user sees them.
    fn problems(yaml: &str) -> Vec<String> {
        match import(yaml.as_bytes(), "o.yaml") {
            Ok(m) => panic!("expected problems, imported {m:#?}"),
            Err(p) => p.iter().map(ToString::to_string).collect(),
        }
    }

    fn prompt(step: &Step) -> &str {
        step.config["prompt"].as_str().expect("the prompt is text")
    }

    fn edges(m: &Melody) -> Vec<String> {
        m.edges
            .iter()
            .map(|e| format!("{} -> {}", e.from, e.to))
            .collect()
    }

    fn position(m: &Melody, id: &str) -> (f64, f64) {
        let p = m.layout.steps[id];
        (p.x, p.y)
    }

    fn step<'m>(m: &'m Melody, id: &str) -> &'m Step {
        m.step(id)
            .unwrap_or_else(|| panic!("no step {id} in {:?}", ids(m)))
    }

    fn ids(m: &Melody) -> Vec<&str> {
        m.steps.iter().map(|s| s.id.as_str()).collect()
    }

    const MINIMAL: &str = "
tasks:
  - name: research
    agent: researcher
    description: Research {goal}.
";

    #[test]
    fn software_dev_orchestra_with_fan_in_imports() {
        let m = imported("software_dev_orchestra.yaml");

        assert_eq!(m.format_version, FORMAT_VERSION);
        assert_eq!(
            m.melody,
            Metadata {
                id: "software_dev".into(),
                name: "Software Dev Orchestra".into(),
                description: "Plan, build, test and review a feature.".into(),
                version: "1.0.0".into(),
                author: String::new(),
                tags: vec!["superoptix".into(), "sdlc".into(), "team".into()],
            }
        );
        assert_eq!(
            m.settings,
            Settings {
                max_parallel: Some(2),
                default_timeout_ms: Some(300_000),
                concurrency: BTreeMap::new(),
                ..Settings::default()
            }
        );
        assert_eq!(
            m.inputs.keys().collect::<Vec<_>>(),
            vec![GOAL_INPUT],
            "one run input"
        );

        assert_eq!(
            ids(&m),
            vec![
                "gather_requirements",
                "implement_feature",
                "write_tests",
                "review_release"
            ]
        );
        for s in &m.steps {
            assert_eq!(s.kind, StepKind::Instrument);
            assert_eq!(s.type_name, STEP_TYPE);
            assert_eq!(s.name, s.id, "task names are already valid ids");
            assert!(s.outputs.is_empty() && s.capabilities.is_empty());
        }

        let gather = step(&m, "gather_requirements");
        assert_eq!(
            prompt(gather),
            "Apply product manager expertise to '{{goal}}'. Write the user stories and \
             acceptance criteria."
        );
        assert_eq!(gather.config["model"], "superoptix:product_manager");
        assert_eq!(gather.description, "Played by agent `product_manager`.");
        assert!(gather.inputs.is_empty());
        let retry = Retry {
            max: 2,
            backoff_ms: 1500,
            factor: 3.0,
            max_backoff_ms: 20_000,
            jitter: true,
        };
        assert_eq!(
            gather.policy,
            Policy {
                timeout_ms: Some(120_000),
                retry: Some(retry.clone()),
                priority: 10,
                ..Policy::default()
            }
        );

        let implement = step(&m, "implement_feature");
        assert_eq!(
            prompt(implement),
            "Apply developer expertise to '{{goal}}'. Implement the feature from the \
             requirements.\n\n## From gather_requirements\n{{gather_requirements}}"
        );
        assert_eq!(implement.config["model"], "superoptix:developer");
        assert_eq!(
            implement.inputs["gather_requirements"],
            PortDecl {
                ty: PortType::Text,
                default: None,
                description: "The output of task `gather_requirements`.".into(),
            }
        );
        assert_eq!(implement.policy.timeout_ms, Some(600_000));
        assert_eq!(implement.policy.priority, 5);
        assert_eq!(implement.policy.retry, Some(retry.clone()));

        // `retry_count: 0` turns the orchestra's retries off for this task; a task without a
        // priority gets SuperOptiX's default, medium, because other tasks name theirs.
        let tests = step(&m, "write_tests");
        assert_eq!(
            tests.policy,
            Policy {
                priority: 5,
                ..Policy::default()
            }
        );

        // The fan-in: two ports, two sections, the expected output in the description, and
        // `{release_name}` (no such run input) left as plain text.
        let review = step(&m, "review_release");
        assert_eq!(
            prompt(review),
            "Review the implementation and the tests for '{{goal}}' and decide whether \
             {release_name} can ship.\n\n## From implement_feature\n{{implement_feature}}\
             \n\n## From write_tests\n{{write_tests}}"
        );
        assert_eq!(
            review.inputs.keys().collect::<Vec<_>>(),
            vec!["implement_feature", "write_tests"]
        );
        assert_eq!(
            review.description,
            "Played by agent `tech_lead`.\n\nExpected output: A go/no-go decision with a list \
             of blocking issues."
        );
        assert_eq!(review.policy.timeout_ms, Some(900_000));
        assert_eq!(review.policy.priority, 1);
        assert_eq!(review.policy.retry, Some(retry));

        assert_eq!(
            edges(&m),
            vec![
                "gather_requirements.output -> implement_feature.gather_requirements",
                "gather_requirements.output -> write_tests.gather_requirements",
                "implement_feature.output -> review_release.implement_feature",
                "write_tests.output -> review_release.write_tests",
            ]
        );
        assert_eq!(position(&m, "gather_requirements"), (0.0, 0.0));
        assert_eq!(position(&m, "implement_feature"), (280.0, 0.0));
        assert_eq!(position(&m, "write_tests"), (280.0, 140.0));
        assert_eq!(position(&m, "review_release"), (560.0, 0.0));
    }

    #[test]
    fn imports_round_trip_through_save_and_load_byte_for_byte() {
        for name in [
            "software_dev_orchestra.yaml",
            "sdlc_orchestra.yaml",
            "flat_orchestra.yaml",
        ] {
            let m = imported(name);
            let value = serde_json::to_value(&m).expect("a melody serializes");
            assert_eq!(
                crate::load_value(value).expect("the document loads"),
                m,
                "{name}"
            );

            let bytes = crate::to_bytes(&m);
            let loaded = crate::load(&bytes, "x.melody.json")
                .unwrap_or_else(|p| panic!("{name} saved does not load:\n{p}"));
            assert_eq!(loaded, m, "{name}");
            assert_eq!(crate::to_bytes(&loaded), bytes, "{name}");

            // Deterministic: importing again gives the same bytes.
            assert_eq!(crate::to_bytes(&imported(name)), bytes, "{name}");
        }
    }

    #[test]
    fn generated_sdlc_orchestra_is_a_sequential_chain_with_named_retries() {
        let m = imported("sdlc_orchestra.yaml");
        assert_eq!(m.melody.id, "sdlc");
        assert_eq!(m.melody.name, "Sdlc Orchestra");
        assert_eq!(m.melody.tags, vec!["superoptix"]);
        assert_eq!(m.settings.max_parallel, Some(1), "sequential");
        assert_eq!(m.settings.default_timeout_ms, Some(300_000));
        assert_eq!(
            edges(&m),
            vec![
                "implement_feature.output -> configure_ci_pipeline.implement_feature",
                "configure_ci_pipeline.output -> create_test_plan.configure_ci_pipeline",
            ]
        );
        for s in &m.steps {
            assert_eq!(s.policy.priority, 5, "medium");
            assert_eq!(s.policy.timeout_ms, Some(600_000));
            // `exponential_backoff` names no count: the default count, the model's waits.
            assert_eq!(
                s.policy.retry,
                Some(Retry {
                    max: DEFAULT_RETRIES,
                    backoff_ms: 500,
                    factor: 2.0,
                    max_backoff_ms: 30_000,
                    jitter: true,
                })
            );
        }
        assert_eq!(
            prompt(step(&m, "create_test_plan")),
            "Apply qa engineer expertise to '{{goal}}'. Create a high-level test plan including \
             test cases for the given feature\n\n## From configure_ci_pipeline\n\
             {{configure_ci_pipeline}}"
        );
        assert_eq!(position(&m, "create_test_plan"), (560.0, 0.0));
    }

    #[test]
    fn hand_written_variants_are_tolerated() {
        let m = imported("flat_orchestra.yaml");
        // No `metadata`: the name comes from `orchestra`, the id is its slug.
        assert_eq!(m.melody.name, "Research Brief");
        assert_eq!(m.melody.id, "research-brief");
        // Top-level `execution`; parallel without a count leaves the conductor's default.
        assert_eq!(m.settings.max_parallel, None);
        assert_eq!(m.settings.default_timeout_ms, Some(90_500));

        // Slugs collide (`Research Topic`, `research-topic`) or are reserved (`goal` would
        // shadow the run input in templates, `input` is reserved by the validator).
        assert_eq!(
            ids(&m),
            vec!["research-topic", "research-topic-2", "goal-2", "input-2"]
        );
        let priorities: Vec<i32> = m.steps.iter().map(|s| s.policy.priority).collect();
        assert_eq!(priorities, vec![3, 10, 5, 5]);

        // `simple` is a fixed wait; `retry_count` overrides the count only.
        let simple = |max| Retry {
            max,
            backoff_ms: 500,
            factor: 1.0,
            max_backoff_ms: 30_000,
            jitter: true,
        };
        assert_eq!(step(&m, "research-topic").policy.retry, Some(simple(3)));
        assert_eq!(step(&m, "input-2").policy.retry, Some(simple(1)));

        // Other placeholders stay; a literal `{{` is escaped so it cannot open a hole.
        assert_eq!(
            prompt(step(&m, "research-topic")),
            "Research {{goal}} thoroughly; cite sources as {source}."
        );
        assert_eq!(
            prompt(step(&m, "research-topic-2")),
            "Double-check the facts in { {braces}}.\n\n## From Research Topic\n{{research-topic}}"
        );

        // `requires_completion` orders without feeding the prompt; `requires_output` (the
        // default of a bare name) reads like `context`.
        let goal = step(&m, "goal-2");
        assert_eq!(
            goal.inputs.keys().collect::<Vec<_>>(),
            vec!["research-topic", "research-topic-2"]
        );
        assert_eq!(
            prompt(goal),
            "Write the brief.\n\n## From Research Topic\n{{research-topic}}"
        );
        assert_eq!(
            edges(&m),
            vec![
                "research-topic.output -> research-topic-2.research-topic",
                "research-topic-2.output -> goal-2.research-topic-2",
                "research-topic.output -> goal-2.research-topic",
                "goal-2.output -> input-2.goal-2",
            ]
        );
        assert_eq!(position(&m, "goal-2"), (560.0, 0.0));
        assert_eq!(position(&m, "input-2"), (840.0, 0.0));
    }

    #[test]
    fn goal_placeholder_becomes_the_run_input() {
        let m = import(MINIMAL.as_bytes(), "orchestras/research_orchestra.yaml")
            .expect("a minimal orchestra imports");
        assert_eq!(
            m.inputs[GOAL_INPUT],
            RunInput {
                ty: ValueType::String,
                description: "The orchestra's goal".into(),
                default: None,
            }
        );
        assert_eq!(prompt(&m.steps[0]), "Research {{goal}}.");
        // The template parses and its one hole names the run input.
        let t = crate::Template::parse(prompt(&m.steps[0])).expect("a valid template");
        let refs: Vec<String> = t.references().map(ToString::to_string).collect();
        assert_eq!(refs, vec!["goal"]);
        // Without any metadata the file name names the melody; without `execution`, SuperOptiX
        // runs sequentially.
        assert_eq!(m.melody.name, "research");
        assert_eq!(m.melody.id, "research");
        assert_eq!(m.settings.max_parallel, Some(1));
        assert_eq!(m.steps[0].policy, Policy::default());

        let no_goal = MINIMAL.replace("{goal}", "the topic");
        let m = import(no_goal.as_bytes(), "o.yaml").expect("imports");
        assert!(m.inputs.is_empty(), "no `{{goal}}`, no run input");
        assert_eq!(prompt(&m.steps[0]), "Research the topic.");
        // A step may now be called `goal`: nothing to shadow.
        let named_goal = no_goal.replace("name: research", "name: goal");
        let m = import(named_goal.as_bytes(), "o.yaml").expect("imports");
        assert_eq!(ids(&m), vec!["goal"]);
    }

    #[test]
    fn literal_double_braces_never_open_a_hole() {
        assert_eq!(escape_holes("a {{b}} {{{c"), "a { {b}} { { {c");
        let inputs: BTreeMap<String, RunInput> = [(
            GOAL_INPUT.to_owned(),
            RunInput {
                ty: ValueType::String,
                description: String::new(),
                default: None,
            },
        )]
        .into();
        for text in [
            "{{goal}}",
            "{{{goal}",
            "x{goal}}y",
            "{ {goal} }",
            "{goal",
            "}{goal}{",
        ] {
            let out = fill_placeholders(&escape_holes(text), &inputs);
            let t = crate::Template::parse(&out)
                .unwrap_or_else(|e| panic!("{text:?} gave {out:?}, not a template: {e}"));
            for r in t.references() {
                assert_eq!(r.to_string(), "goal", "{text:?} gave {out:?}");
            }
        }
        assert_eq!(
            fill_placeholders(&escape_holes("{{goal}}"), &inputs),
            "{ {{goal}}}"
        );
    }

    #[test]
    fn malformed_yaml_reports_line_and_column() {
        let p = match import(&fixture("malformed_orchestra.yaml"), "malformed.yaml") {
            Ok(m) => panic!("imported {m:?}"),
            Err(p) => p.to_string(),
        };
        assert!(
            p.starts_with("malformed.yaml: invalid YAML at line 9 column 9: did not find expected"),
            "{p}"
        );
        assert!(p.contains("flow sequence at line 8 column 14"), "{p}");

        let p = problems("tasks: [\"unclosed\n");
        assert!(p[0].starts_with("o.yaml: invalid YAML at line "), "{p:?}");
    }

    #[test]
    fn every_problem_is_reported_with_its_field_path() {
        let p = match import(&fixture("broken_orchestra.yaml"), "broken.yaml") {
            Ok(m) => panic!("imported {m:?}"),
            Err(p) => p.iter().map(ToString::to_string).collect::<Vec<_>>(),
        };
        assert_eq!(
            p,
            vec![
                "broken.yaml: tasks[0].priority: expected a priority, found the string \"urgent\"; \
                 use critical, high, medium, low or a whole number (higher runs first)",
                "broken.yaml: tasks[0].timeout_seconds: expected a positive number of seconds, \
                 found the number `-5`",
                "broken.yaml: tasks[1].name: missing; every task needs a name (other tasks refer \
                 to it in `context`)",
                "broken.yaml: tasks[2].description: missing; the description is what the agent is \
                 asked to do (it may mention {goal})",
                "broken.yaml: tasks[3]: expected a task (a mapping with name, agent and \
                 description), found the string \"just a string\"",
                "broken.yaml: tasks[2].agent: agent \"writr\" is not listed under `agents`; did \
                 you mean `writer`?",
                "broken.yaml: tasks[2].context[0]: no task named \"reserch\"; did you mean \
                 `research`?",
            ]
        );
    }

    #[test]
    fn unknown_context_task_is_named_with_a_suggestion_or_the_choices() {
        let yaml = "
tasks:
  - {name: research, agent: a, description: Research.}
  - {name: write, agent: a, description: Write., context: [research]}
  - {name: edit, agent: a, description: Edit., context: [write, reserch, zzz]}
";
        assert_eq!(
            problems(yaml),
            vec![
                "o.yaml: tasks[2].context[1]: no task named \"reserch\"; did you mean `research`?",
                "o.yaml: tasks[2].context[2]: no task named \"zzz\"; name one of this \
                 orchestra's tasks (research, write, edit)",
            ]
        );
    }

    #[test]
    fn missing_or_misshapen_sections_are_reported() {
        assert_eq!(
            problems("metadata: {name: x}\n"),
            vec![
                "o.yaml: tasks: missing; an orchestra lists its work under `tasks`, each with a \
                 name, an agent and a description"
            ]
        );
        assert_eq!(
            problems("tasks: {name: research}\n"),
            vec!["o.yaml: tasks: expected a list of tasks (each `- name: ...`), found an object"]
        );
        assert_eq!(
            problems("orchestra:\n  tasks: []\n"),
            vec!["o.yaml: orchestra.tasks: the list is empty; add at least one task to import"]
        );
        assert_eq!(
            problems(""),
            vec![
                "o.yaml: expected a SuperOptiX orchestra (a YAML mapping with `metadata`, \
                 `orchestra`, `agents` and `tasks`), found an empty document"
            ]
        );
        assert_eq!(
            problems("- a\n- b\n"),
            vec![
                "o.yaml: expected a SuperOptiX orchestra (a YAML mapping with `metadata`, \
                 `orchestra`, `agents` and `tasks`), found a list"
            ]
        );
        let p = problems(
            "metadata: [x]\nagents: developer\ntasks:\n  - {name: a, agent: [x], description: ''}\n",
        );
        assert_eq!(
            p,
            vec![
                "o.yaml: metadata: expected a mapping of fields, found a list",
                "o.yaml: agents: expected a list of agent names, found the string \"developer\"",
                "o.yaml: tasks[0].agent: expected text, found a list; name the agent that plays \
                 this task (one listed under `agents`)",
                "o.yaml: tasks[0].description: is empty; the description is what the agent is \
                 asked to do (it may mention {goal})",
            ]
        );
    }

    #[test]
    fn duplicate_task_names_are_refused() {
        let yaml = "
tasks:
  - {name: research, agent: a, description: One.}
  - {name: research, agent: a, description: Two.}
";
        assert_eq!(
            problems(yaml),
            vec![
                "o.yaml: tasks[1].name: \"research\" is already the name of tasks[0]; task names \
                 must be unique because `context` refers to tasks by name"
            ]
        );
    }

    #[test]
    fn undeclared_agents_are_reported() {
        let yaml = "
agents: [researcher, writer]
tasks:
  - {name: a, agent: researcher, description: A.}
  - {name: b, agent: editor, description: B.}
";
        assert_eq!(
            problems(yaml),
            vec![
                "o.yaml: tasks[1].agent: agent \"editor\" is not listed under `agents`; add it \
                 there or correct the name (agents: researcher, writer)"
            ]
        );
        // Without an `agents` list, any agent name is taken as it is.
        let m = import(
            yaml.replace("agents: [researcher, writer]", "").as_bytes(),
            "o.yaml",
        )
        .expect("imports");
        assert_eq!(m.steps[1].config["model"], "superoptix:editor");
        assert_eq!(listing((0..20).map(|_| "t")).matches('t').count(), 12);
        assert!(listing((0..20).map(|_| "t")).ends_with(", ..."));
    }

    #[test]
    fn execution_settings_and_their_problems() {
        let with = |execution: &str| {
            format!(
                "orchestra:\n  execution:\n{execution}\n{}",
                MINIMAL.trim_start()
            )
        };
        let settings = |execution: &str| {
            import(with(execution).as_bytes(), "o.yaml")
                .unwrap_or_else(|p| panic!("{execution}: {p}"))
                .settings
        };
        assert_eq!(
            settings("    strategy: Sequential\n    max_parallel_tasks: 4").max_parallel,
            Some(1)
        );
        assert_eq!(
            settings("    strategy: hierarchical\n    max_parallel_tasks: 4").max_parallel,
            Some(4)
        );
        assert_eq!(settings("    max_parallel_tasks: 3").max_parallel, Some(3));
        assert_eq!(settings("    enable_trace: true").max_parallel, Some(1));
        assert_eq!(
            settings("    task_timeout_seconds: \"45\"").default_timeout_ms,
            Some(45_000)
        );

        let p = problems(&with(
            "    strategy: paralel\n    max_parallel_tasks: 0\n    task_timeout_seconds: soon",
        ));
        assert_eq!(
            p,
            vec![
                "o.yaml: orchestra.execution.max_parallel_tasks: must be at least 1",
                "o.yaml: orchestra.execution.strategy: unknown execution strategy \"paralel\"; \
                 did you mean `parallel`?",
                "o.yaml: orchestra.execution.task_timeout_seconds: expected a positive number of \
                 seconds, found the string \"soon\"",
            ]
        );
    }

    #[test]
    fn retry_strategy_variants() {
        let retry = |strategy: &str| {
            let yaml = format!(
                "execution:\n  retry_strategy: {strategy}\n{}",
                MINIMAL.trim_start()
            );
            import(yaml.as_bytes(), "o.yaml")
                .unwrap_or_else(|p| panic!("{strategy}: {p}"))
                .steps[0]
                .policy
                .retry
                .clone()
        };
        let r = |max, backoff_ms, factor, max_backoff_ms, jitter| {
            Some(Retry {
                max,
                backoff_ms,
                factor,
                max_backoff_ms,
                jitter,
            })
        };
        assert_eq!(retry("exponential_backoff"), r(3, 500, 2.0, 30_000, true));
        assert_eq!(retry("Fixed"), r(3, 500, 1.0, 30_000, true));
        assert_eq!(retry("none"), None);
        assert_eq!(retry("false"), None);
        assert_eq!(retry("2"), r(2, 500, 2.0, 30_000, true));
        assert_eq!(
            retry("{max_attempts: 4, initial_delay: 2, multiplier: 1.5, max_delay: 10, jitter: false}"),
            r(3, 2000, 1.5, 10_000, false)
        );
        assert_eq!(
            retry("{type: fixed, retries: 1, backoff_ms: 250}"),
            r(1, 250, 1.0, 30_000, true)
        );
        assert_eq!(retry("{max_retries: 0}"), None);
        assert_eq!(retry("{type: none, max_retries: 5}"), None);

        let yaml = format!(
            "execution:\n  retry_strategy: {{strategy: exponental, max_retries: -1, backoff_factor: 0.5}}\n{}",
            MINIMAL.trim_start()
        );
        assert_eq!(
            problems(&yaml),
            vec![
                "o.yaml: execution.retry_strategy.strategy: unknown retry strategy \
                 \"exponental\"; did you mean `exponential`?",
                "o.yaml: execution.retry_strategy.max_retries: expected a whole number, 0 or \
                 more, found the number `-1`",
                "o.yaml: execution.retry_strategy.backoff_factor: expected a growth factor of at \
                 least 1 (1 keeps the wait fixed), found the number `0.5`",
            ]
        );
    }

    #[test]
    fn priorities_words_numbers_and_defaults() {
        let yaml = "
tasks:
  - {name: a, agent: x, description: A., priority: critical}
  - {name: b, agent: x, description: B., priority: High}
  - {name: c, agent: x, description: C., priority: 7}
  - {name: d, agent: x, description: D., priority: \"-2\"}
  - {name: e, agent: x, description: E.}
  - {name: f, agent: x, description: F., priority: low}
";
        let m = import(yaml.as_bytes(), "o.yaml").expect("imports");
        let priorities: Vec<i32> = m.steps.iter().map(|s| s.policy.priority).collect();
        assert_eq!(priorities, vec![20, 10, 7, -2, 5, 1]);

        // No task names a priority: all stay at 0 and none is written.
        let m = import(MINIMAL.as_bytes(), "o.yaml").expect("imports");
        assert_eq!(m.steps[0].policy.priority, 0);

        let p = problems(
            "tasks:\n  - {name: a, agent: x, description: A., priority: hihg}\n  - {name: b, \
             agent: x, description: B., priority: 1.5}\n",
        );
        assert_eq!(
            p,
            vec![
                "o.yaml: tasks[0].priority: expected a priority, found the string \"hihg\"; did \
                 you mean `high`?",
                "o.yaml: tasks[1].priority: expected a priority, found the number `1.5`; use \
                 critical, high, medium, low or a whole number (higher runs first)",
            ]
        );
    }

    #[test]
    fn cycles_import_and_are_left_to_the_validator() {
        let yaml = "
tasks:
  - {name: a, agent: x, description: A., context: [c]}
  - {name: b, agent: x, description: B., context: [a, a]}
  - {name: c, agent: x, description: C., context: [b]}
  - {name: d, agent: x, description: D., context: [d]}
";
        let m = import(yaml.as_bytes(), "o.yaml").expect("cycles are the validator's business");
        assert_eq!(
            edges(&m),
            vec![
                "c.output -> a.c",
                "a.output -> b.a",
                "b.output -> c.b",
                "d.output -> d.d",
            ]
        );
        assert_eq!(
            crate::graph::MelodyGraph::build(&m).cycles().len(),
            2,
            "the validator sees both cycles"
        );
        for id in ["a", "b", "c", "d"] {
            let (x, y) = position(&m, id);
            assert!(x.is_finite() && y.is_finite());
        }
    }

    #[test]
    fn long_chains_lay_out_without_recursion() {
        let mut yaml = String::from("tasks:\n");
        for i in 0..20_000 {
            yaml.push_str(&format!("  - {{name: t{i}, agent: x, description: Go."));
            if i > 0 {
                yaml.push_str(&format!(", context: [t{}]", i - 1));
            }
            yaml.push_str("}\n");
        }
        let m = import(yaml.as_bytes(), "o.yaml").expect("imports");
        assert_eq!(position(&m, "t19999"), (280.0 * 19_999.0, 0.0));
    }

    /// A stand-in for the conductor's `instrument.offline` (which this crate cannot depend on),
    /// with the parts of its spec the importer relies on, as in `symphony-conductor`'s
    /// `steps/offline.rs`: a required `prompt` template, an optional `model` string, extra
    /// inputs of any type and one `output` port.
    struct StandIn(crate::TypeSpec);

    impl crate::Catalog for StandIn {
        fn spec(&self, type_name: &str) -> Option<&crate::TypeSpec> {
            (type_name == self.0.name).then_some(&self.0)
        }
        fn type_names(&self) -> Vec<&str> {
            vec![self.0.name.as_str()]
        }
    }

    fn stand_in() -> StandIn {
        use crate::catalog::{ConfigField, FieldType, PortSpec};
        StandIn(crate::TypeSpec {
            name: STEP_TYPE.into(),
            kind: StepKind::Instrument,
            version: 1,
            config_version: 1,
            title: "Offline instrument".into(),
            summary: "Answers a prompt without calling a model.".into(),
            inputs: vec![],
            extra_inputs: Some(PortType::Any),
            outputs: vec![PortSpec::required("output", PortType::Any, "The answer.")],
            extra_outputs: None,
            config: vec![
                ConfigField::required("prompt", FieldType::Template, "What to ask."),
                ConfigField::optional("model", FieldType::String, "Who answers."),
            ],
            capabilities: vec![],
            offline: true,
            estimate_ms: 1,
            cacheable: true,
        })
    }

    #[test]
    fn imports_validate_against_a_stand_in_offline_instrument() {
        let catalog = stand_in();
        for name in [
            "software_dev_orchestra.yaml",
            "sdlc_orchestra.yaml",
            "flat_orchestra.yaml",
        ] {
            let problems = crate::validate(&imported(name), &catalog);
            assert!(problems.is_empty(), "{name}: {problems:#?}");
        }
        // A cycle in `context` imports, and the validator is the one to refuse it.
        let cyclic = "
tasks:
  - {name: a, agent: x, description: A., context: [b]}
  - {name: b, agent: x, description: B., context: [a]}
";
        let m = import(cyclic.as_bytes(), "o.yaml").expect("imports");
        let problems = crate::validate(&m, &catalog);
        assert!(
            problems.iter().any(|p| p.message.starts_with("cycle: ")),
            "{problems:#?}"
        );
    }

    #[test]
    fn dependencies_long_form_problems() {
        let yaml = "
tasks:
  - {name: a, agent: x, description: A.}
  - name: b
    agent: x
    description: B.
    dependencies:
      - {task_name: a, dependency_type: requires_complete}
      - {task_name: a, dependency_type: blocks}
      - {dependency_type: requires_output}
";
        assert_eq!(
            problems(yaml),
            vec![
                "o.yaml: tasks[1].dependencies[0].dependency_type: dependency type \
                 \"requires_complete\" has no melody equivalent; did you mean \
                 `requires_completion`?",
                "o.yaml: tasks[1].dependencies[1].dependency_type: dependency type \"blocks\" has \
                 no melody equivalent; use requires_output or requires_completion",
                "o.yaml: tasks[1].dependencies[2]: expected the name of another task, found an \
                 object",
            ]
        );
    }

    #[test]
    fn slugs_and_source_names() {
        assert_eq!(slug("Code Review", "task"), "code-review");
        assert_eq!(slug("  QA: Test Plan!! ", "task"), "qa-test-plan");
        assert_eq!(slug("implement_feature", "task"), "implement_feature");
        assert_eq!(slug("Résumé", "task"), "r-sum");
        assert_eq!(slug("???", "task"), "task");
        assert_eq!(slug(&"x".repeat(300), "task").len(), MAX_ID_LEN);
        assert_eq!(name_from_source("a/b/sdlc_orchestra.yaml"), "sdlc");
        assert_eq!(name_from_source("C:\\o\\team.yml"), "team");
        assert_eq!(name_from_source(""), "SuperOptiX orchestra");
    }
}
