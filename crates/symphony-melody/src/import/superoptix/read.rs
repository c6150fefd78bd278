//! Reading the YAML shapes of an orchestra file: its sections wherever they were written,
//! metadata, agents and tasks (names, agents, descriptions, dependencies, priorities), each
//! problem reported with its field path. Run-wide settings and retries are in `execution.rs`.

use std::collections::HashSet;

use serde_json::{Map, Value};

use super::text::{hint_or, name_from_source, slug};
use super::{DEPENDENCY_TYPES, PRIORITIES, TAG};
use crate::catalog::describe;
use crate::model::Metadata;
use crate::problem::Problem;

/// The sections of an orchestra file, wherever in the file they were written.
pub(super) struct Doc<'a> {
    root: &'a Map<String, Value>,
    metadata: Option<&'a Map<String, Value>>,
    orchestra: Option<&'a Map<String, Value>>,
}

impl<'a> Doc<'a> {
    pub(super) fn new(root: &'a Map<String, Value>, im: &mut Importer) -> Self {
        Doc {
            root,
            metadata: im.object(root.get("metadata"), "metadata"),
            orchestra: im.object(root.get("orchestra"), "orchestra"),
        }
    }

    /// An orchestra-level section: under `orchestra:` as the generator writes it, or at the top.
    pub(super) fn orchestra_section(&self, key: &str) -> Option<(String, &'a Value)> {
        if let Some(v) = self.orchestra.and_then(|o| o.get(key)) {
            return Some((format!("orchestra.{key}"), v));
        }
        self.root.get(key).map(|v| (key.to_owned(), v))
    }

    /// A top-level section (`agents`, `tasks`), also accepted under `orchestra:`.
    pub(super) fn top_section(&self, key: &str) -> Option<(String, &'a Value)> {
        if let Some(v) = self.root.get(key) {
            return Some((key.to_owned(), v));
        }
        self.orchestra
            .and_then(|o| o.get(key))
            .map(|v| (format!("orchestra.{key}"), v))
    }
}

/// A dependency of one task on another, by name.
pub(super) struct Dependency {
    pub(super) name: String,
    pub(super) path: String,
    /// `context` and `requires_output`: the output is read in the prompt. Otherwise the task only
    /// waits for the other to finish.
    pub(super) reads_output: bool,
}

/// One task as read from the file; fields with problems are `None`.
pub(super) struct Task {
    pub(super) index: usize,
    pub(super) path: String,
    pub(super) name: Option<String>,
    pub(super) agent: Option<String>,
    pub(super) description: Option<String>,
    pub(super) expected_output: Option<String>,
    pub(super) dependencies: Vec<Dependency>,
    pub(super) priority: Option<i32>,
    pub(super) timeout_ms: Option<u64>,
    pub(super) retry_count: Option<u32>,
}

#[derive(Default)]
pub(super) struct Importer {
    pub(super) problems: Vec<Problem>,
}

impl Importer {
    pub(super) fn problem(&mut self, path: impl Into<String>, message: impl Into<String>) {
        self.problems.push(Problem::at(path, message));
    }

    /// The mapping at `path`, reporting anything else that is there.
    pub(super) fn object<'a>(
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
    pub(super) fn text(
        &mut self,
        map: Option<&Map<String, Value>>,
        key: &str,
        path: &str,
    ) -> Option<String> {
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
    pub(super) fn required_text(
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

    pub(super) fn metadata(&mut self, doc: &Doc, source: &str) -> Metadata {
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
    pub(super) fn agents(&mut self, doc: &Doc) -> Option<Vec<String>> {
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
}

impl Importer {
    pub(super) fn tasks(&mut self, doc: &Doc) -> Vec<Task> {
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
}

/// Text of a scalar: strings as they are (trimmed), numbers and booleans as written.
pub(super) fn scalar_text(value: &Value) -> Option<String> {
    match value {
        Value::String(s) => Some(s.trim().to_owned()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

/// A number, also when written as a quoted string (`"600"`).
pub(super) fn number(value: &Value) -> Option<f64> {
    match value {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => s.trim().parse::<f64>().ok(),
        _ => None,
    }
}

/// A whole number, also `3.0` or `"3"`.
pub(super) fn whole_number(value: &Value) -> Option<i64> {
    if let Some(n) = value.as_i64() {
        return Some(n);
    }
    let f = number(value)?;
    (f.is_finite() && f.fract() == 0.0 && f.abs() < 9.0e15).then_some(f as i64)
}

pub(super) fn join(path: &str, key: &str) -> String {
    if path.is_empty() {
        key.to_owned()
    } else {
        format!("{path}.{key}")
    }
}
