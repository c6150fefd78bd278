//! What a step type accepts: its ports, config fields and capabilities.
//!
//! The conductor owns step implementations and describes each with a [`TypeSpec`]; the validator,
//! the planner and (later) the editor's forms read only these descriptions through [`Catalog`].

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::model::{Step, StepKind};
use crate::problem::Problem;

/// What a step may touch. A step must declare every capability its type needs, so a reader of
/// the file sees what the melody will be allowed to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "camelCase")]
pub enum Capability {
    /// Makes network requests.
    Network,
    /// Writes files inside the run workspace.
    Files,
    /// Runs commands on the machine.
    Command,
    /// Uses a named credential.
    Secrets,
}

impl Capability {
    /// The name used in files and messages.
    pub fn as_str(self) -> &'static str {
        match self {
            Capability::Network => "network",
            Capability::Files => "files",
            Capability::Command => "command",
            Capability::Secrets => "secrets",
        }
    }
}

/// The type of data a port carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "camelCase")]
pub enum PortType {
    /// Text.
    Text,
    /// A number.
    Number,
    /// A boolean.
    Boolean,
    /// Any JSON value.
    Json,
    /// A JSON list. A list input fed by several edges (of any type) receives their values as one
    /// list, in edge order; fed by one edge, it takes that edge's list as is.
    List,
    /// A path to a file in the run workspace.
    File,
    /// Anything.
    Any,
}

impl PortType {
    /// Whether data of type `from` may flow into a port of type `self`.
    pub fn accepts(self, from: PortType) -> bool {
        use PortType::*;
        match (self, from) {
            (Any, _) | (_, Any) => true,
            // A list port collects values of any type when several edges feed it; the validator
            // checks that a single edge brings a list.
            (List, _) => true,
            (a, b) if a == b => true,
            // Text ports render scalars; JSON ports take any JSON value.
            (Text, Number | Boolean | File) => true,
            (Json, Text | Number | Boolean | List) => true,
            _ => false,
        }
    }

    /// Whether a runtime `value` fits this port.
    pub fn admits(self, value: &Value) -> bool {
        match self {
            PortType::Text | PortType::File => value.is_string(),
            PortType::Number => value.is_number(),
            PortType::Boolean => value.is_boolean(),
            PortType::List => value.is_array(),
            PortType::Json | PortType::Any => true,
        }
    }

    /// The name used in files and messages.
    pub fn as_str(self) -> &'static str {
        match self {
            PortType::Text => "text",
            PortType::Number => "number",
            PortType::Boolean => "boolean",
            PortType::Json => "json",
            PortType::List => "list",
            PortType::File => "file",
            PortType::Any => "any",
        }
    }
}

/// A port of a step type.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "camelCase")]
pub struct PortSpec {
    /// The port name.
    pub name: String,
    /// What it carries.
    pub ty: PortType,
    /// An input that must be fed by an edge or have a default.
    pub required: bool,
    /// What the port is for.
    pub description: String,
}

impl PortSpec {
    /// A port that must be connected.
    pub fn required(name: &str, ty: PortType, description: &str) -> Self {
        PortSpec {
            name: name.into(),
            ty,
            required: true,
            description: description.into(),
        }
    }

    /// A port that may be left unconnected.
    pub fn optional(name: &str, ty: PortType, description: &str) -> Self {
        PortSpec {
            required: false,
            ..PortSpec::required(name, ty, description)
        }
    }
}

/// The type of a config field.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "camelCase", tag = "kind")]
pub enum FieldType {
    /// Plain text.
    String,
    /// Text with `{{references}}`, checked against what the step can see.
    Template,
    /// A whole number.
    Integer,
    /// Any number.
    Number,
    /// `true` or `false`.
    Boolean,
    /// One of a fixed set of strings.
    Choice {
        /// The allowed values.
        options: Vec<String>,
    },
    /// A list.
    List,
    /// An object.
    Object,
    /// A condition (see [`crate::Condition`]).
    Condition,
    /// A router's routes: a list of `{"when": condition, "port": output port}`.
    Routes,
    /// A step played inside this one (a map's body): `{"type", "config", "policy"}`. Its
    /// templates may also use the names in `scope` (e.g. `item`, `index`).
    Step {
        /// Extra names the inner step's templates can use.
        scope: Vec<String>,
    },
    /// Any JSON value.
    Any,
}

impl FieldType {
    /// Checks a value, returning what was expected when it does not fit.
    pub fn check(&self, value: &Value) -> Result<(), String> {
        let ok = match self {
            FieldType::String | FieldType::Template => value.is_string(),
            FieldType::Integer => value.is_i64() || value.is_u64(),
            FieldType::Number => value.is_number(),
            FieldType::Boolean => value.is_boolean(),
            FieldType::Choice { options } => {
                return match value.as_str() {
                    Some(s) if options.iter().any(|o| o == s) => Ok(()),
                    _ => Err(format!(
                        "expected one of {}, found {}",
                        options
                            .iter()
                            .map(|o| format!("\"{o}\""))
                            .collect::<Vec<_>>()
                            .join(", "),
                        describe(value)
                    )),
                };
            }
            FieldType::List => value.is_array(),
            FieldType::Object | FieldType::Condition | FieldType::Step { .. } => value.is_object(),
            FieldType::Routes => value.is_array(),
            FieldType::Any => true,
        };
        if ok {
            Ok(())
        } else {
            let expected = match self {
                FieldType::String | FieldType::Template => "a string",
                FieldType::Integer => "a whole number",
                FieldType::Number => "a number",
                FieldType::Boolean => "true or false",
                FieldType::List => "a list",
                FieldType::Object => "an object",
                FieldType::Condition => "a condition object",
                FieldType::Routes => "a list of routes",
                FieldType::Step { .. } => "a step object with a type",
                FieldType::Choice { .. } | FieldType::Any => "a value",
            };
            Err(format!("expected {expected}, found {}", describe(value)))
        }
    }
}

/// Names a JSON value's shape for messages ("a number `3`").
pub fn describe(value: &Value) -> String {
    match value {
        Value::Null => "null".into(),
        Value::Bool(b) => format!("the boolean `{b}`"),
        Value::Number(n) => format!("the number `{n}`"),
        Value::String(s) if s.chars().count() > 40 => "a string".into(),
        Value::String(s) => format!("the string {s:?}"),
        Value::Array(_) => "a list".into(),
        Value::Object(_) => "an object".into(),
    }
}

/// A config field of a step type.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "camelCase")]
pub struct ConfigField {
    /// The key in `config`.
    pub name: String,
    /// What values it takes.
    pub ty: FieldType,
    /// Whether the step must set it.
    pub required: bool,
    /// What it does, shown in the inspector.
    pub description: String,
    /// A value that is one line (a path, a URL, a model, an id): the editor shows a one-line
    /// box where Enter commits, and the validator refuses line breaks and other control
    /// characters in it (a path saved as `"spec.md\n"` once wrote a file named so).
    pub single_line: bool,
    /// Names this field's templates and conditions may read besides what the step sees (a
    /// loop's `until` reads the round just played as `round`); empty for most fields.
    pub scope: Vec<String>,
}

impl ConfigField {
    /// A field the step must set.
    pub fn required(name: &str, ty: FieldType, description: &str) -> Self {
        ConfigField {
            name: name.into(),
            ty,
            required: true,
            description: description.into(),
            single_line: false,
            scope: Vec::new(),
        }
    }

    /// The same field, whose templates and conditions may also read `names`.
    pub fn with_scope(mut self, names: &[&str]) -> Self {
        self.scope = names.iter().map(|n| (*n).to_owned()).collect();
        self
    }

    /// The same field, holding one line (see [`ConfigField::single_line`]).
    pub fn single_line(mut self) -> Self {
        self.single_line = true;
        self
    }

    /// A field the step may set.
    pub fn optional(name: &str, ty: FieldType, description: &str) -> Self {
        ConfigField {
            required: false,
            ..ConfigField::required(name, ty, description)
        }
    }
}

/// Everything the validator and the editor know about a step type.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "camelCase")]
pub struct TypeSpec {
    /// The full type name, e.g. `operator.template`.
    pub name: String,
    /// The family; the name starts with it.
    pub kind: StepKind,
    /// The implementation's version; part of the cache key of its outputs.
    pub version: u32,
    /// The version of its config format. A melody records it (`stepTypes`); one made for an
    /// older version is moved to this one by [`Catalog::migrate_config`] when it is loaded.
    pub config_version: u32,
    /// A short title for the palette.
    pub title: String,
    /// One sentence on what it does.
    pub summary: String,
    /// Fixed input ports.
    pub inputs: Vec<PortSpec>,
    /// If set, a step may declare further input ports of types this accepts.
    pub extra_inputs: Option<PortType>,
    /// Fixed output ports.
    pub outputs: Vec<PortSpec>,
    /// If set, a step may (and must, when it has no fixed outputs) declare its output ports.
    pub extra_outputs: Option<PortType>,
    /// Config fields. A key not listed here is an error.
    pub config: Vec<ConfigField>,
    /// Capabilities a step of this type must declare.
    pub capabilities: Vec<Capability>,
    /// True for instruments that call no model (shown as "offline" everywhere).
    pub offline: bool,
    /// The expected duration when a step gives no estimate, in milliseconds.
    pub estimate_ms: u64,
    /// The outputs depend only on the type's version, the config and the inputs, and are worth
    /// keeping: a rerun may reuse a stored output instead of playing the step again. False for
    /// cheap operators (replaying them costs nothing) and for steps whose work is a side
    /// effect (files, commands).
    pub cacheable: bool,
}

/// A set of step types, as seen by the validator.
pub trait Catalog {
    /// The spec of a type, if it exists.
    fn spec(&self, type_name: &str) -> Option<&TypeSpec>;

    /// Every known type name, for "did you mean" hints.
    fn type_names(&self) -> Vec<&str>;

    /// Type-specific checks beyond the declarative spec (e.g. a router's routes must name its
    /// output ports). Problems' paths are relative to the step (`config.routes[0].port`).
    fn check_step(&self, _step: &Step, _problems: &mut Vec<Problem>) {}

    /// Moves a step's config of type `type_name` from config version `from` to `from + 1`, or
    /// says why it cannot (see [`crate::versions`]). By default no type has migrations.
    fn migrate_config(
        &self,
        _type_name: &str,
        from: u32,
        _config: &mut serde_json::Map<String, Value>,
    ) -> Result<(), String> {
        Err(format!("there is no migration from version {from}"))
    }
}

/// A port of one step, after merging its type's ports with the step's declarations.
#[derive(Debug, Clone, PartialEq)]
pub struct ResolvedPort {
    /// The port name.
    pub name: String,
    /// What it carries.
    pub ty: PortType,
    /// Whether an unfed input without default is an error.
    pub required: bool,
    /// The value used when the upstream step did not produce one.
    pub default: Option<Value>,
}

impl TypeSpec {
    /// A spec with a name, kind, title and summary; no ports, config or capabilities yet,
    /// version 1, online, expected to take 1 ms.
    pub fn new(name: &str, kind: StepKind, title: &str, summary: &str) -> TypeSpec {
        TypeSpec {
            name: name.into(),
            kind,
            version: 1,
            config_version: 1,
            title: title.into(),
            summary: summary.into(),
            inputs: Vec::new(),
            extra_inputs: None,
            outputs: Vec::new(),
            extra_outputs: None,
            config: Vec::new(),
            capabilities: Vec::new(),
            offline: false,
            estimate_ms: 1,
            cacheable: false,
        }
    }

    /// The step's input ports: the type's fixed ones (refined by the step's declarations), then
    /// the extra ones the step declares, in name order.
    pub fn inputs_of(&self, step: &Step) -> Vec<ResolvedPort> {
        resolve(&self.inputs, &step.inputs, true)
    }

    /// The step's output ports, merged the same way.
    pub fn outputs_of(&self, step: &Step) -> Vec<ResolvedPort> {
        resolve(&self.outputs, &step.outputs, false)
    }
}

fn resolve(
    fixed: &[PortSpec],
    declared: &std::collections::BTreeMap<String, crate::model::PortDecl>,
    inputs: bool,
) -> Vec<ResolvedPort> {
    let mut out: Vec<ResolvedPort> = fixed
        .iter()
        .map(|p| {
            let default = declared.get(&p.name).and_then(|d| d.default.clone());
            ResolvedPort {
                name: p.name.clone(),
                ty: declared.get(&p.name).map_or(p.ty, |d| d.ty),
                required: inputs && p.required && default.is_none(),
                default,
            }
        })
        .collect();
    for (name, decl) in declared {
        if !fixed.iter().any(|p| &p.name == name) {
            out.push(ResolvedPort {
                name: name.clone(),
                ty: decl.ty,
                required: inputs && decl.default.is_none(),
                default: decl.default.clone(),
            });
        }
    }
    out
}
