//! References to data a step can see: `goal`, `input.goal`, `plan.output`, `plan.output.items.0`.
//!
//! Templates and conditions use the same references. A reference's first segment is resolved in
//! this order: the step's own input port, then `input.<name>` or a run input, then a step id
//! followed by one of that step's output ports. Further segments walk into JSON.

use serde_json::Value;

/// A parsed reference such as `plan.output.title`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reference {
    /// The dotted segments, at least one.
    pub segments: Vec<String>,
}

/// What a reference points at, once the names it uses are known.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target<'a> {
    /// One of the step's own input ports.
    OwnInput {
        /// The port.
        port: &'a str,
        /// Segments to walk into the value.
        path: &'a [String],
    },
    /// A run input.
    RunInput {
        /// The input's name.
        name: &'a str,
        /// Segments to walk into the value.
        path: &'a [String],
    },
    /// An output port of another step.
    StepOutput {
        /// The step id.
        step: &'a str,
        /// The output port.
        port: &'a str,
        /// Segments to walk into the value.
        path: &'a [String],
    },
}

/// The names a reference may use, as seen from one step.
pub trait Scope {
    /// Whether the step has an input port with this name.
    fn has_own_input(&self, name: &str) -> bool;
    /// Whether the melody declares a run input with this name.
    fn has_run_input(&self, name: &str) -> bool;
    /// Whether a step with this id exists.
    fn has_step(&self, id: &str) -> bool;
}

impl Reference {
    /// Parses `a.b.c`. Segments hold letters, digits, `_` and `-`.
    pub fn parse(text: &str) -> Result<Reference, String> {
        let text = text.trim();
        if text.is_empty() {
            return Err("empty reference".into());
        }
        let segments: Vec<String> = text.split('.').map(str::to_owned).collect();
        for s in &segments {
            if s.is_empty()
                || !s
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
            {
                return Err(format!(
                    "`{text}` is not a reference (use names joined by dots, like `plan.output`)"
                ));
            }
        }
        Ok(Reference { segments })
    }

    /// Decides what the reference points at, or says why it points at nothing.
    pub fn target(&self, scope: &dyn Scope) -> Result<Target<'_>, String> {
        let head = self.segments[0].as_str();
        let rest = &self.segments[1..];
        if scope.has_own_input(head) {
            return Ok(Target::OwnInput {
                port: head,
                path: rest,
            });
        }
        if head == "input" && !rest.is_empty() {
            let name = rest[0].as_str();
            if scope.has_run_input(name) {
                return Ok(Target::RunInput {
                    name,
                    path: &rest[1..],
                });
            }
            return Err(format!("`{self}`: the melody has no run input `{name}`"));
        }
        if scope.has_run_input(head) {
            return Ok(Target::RunInput {
                name: head,
                path: rest,
            });
        }
        if scope.has_step(head) {
            return match rest.first() {
                Some(port) => Ok(Target::StepOutput {
                    step: head,
                    port,
                    path: &rest[1..],
                }),
                None => Err(format!(
                    "`{self}` names a step; name one of its ports, like `{head}.output`"
                )),
            };
        }
        Err(format!(
            "`{self}` refers to nothing: no input port, run input or step is called `{head}`"
        ))
    }
}

impl std::fmt::Display for Reference {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.segments.join("."))
    }
}

/// Walks `path` into `value`: object keys, and list indexes written as numbers.
pub fn walk<'v>(value: &'v Value, path: &[String]) -> Option<&'v Value> {
    let mut cur = value;
    for seg in path {
        cur = match cur {
            Value::Object(map) => map.get(seg)?,
            Value::Array(items) => items.get(seg.parse::<usize>().ok()?)?,
            _ => return None,
        };
    }
    Some(cur)
}
