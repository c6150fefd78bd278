//! The melody's data model, exactly as it is written in a `*.melody.json` file.
//!
//! Every map is a `BTreeMap` (and `serde_json::Map` is sorted too), every optional field is left
//! out when it holds its default, and struct fields serialize in declaration order: together these
//! make serialization deterministic, so saving an unchanged melody changes no byte.
//!
//! What runs lives in `steps`, `edges`, `inputs` and `settings`; where boxes sit on the canvas
//! lives in `layout` alone, so moving a box never changes what runs.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::{Map, Value};

use crate::catalog::{Capability, PortType};
use crate::condition::Condition;

/// The format version this build writes. Files with an older version are migrated on load.
pub const FORMAT_VERSION: u32 = 1;

/// A whole melody file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Melody {
    /// The file format version (see [`FORMAT_VERSION`]).
    pub format_version: u32,
    /// Who made the melody and what it is for.
    pub melody: Metadata,
    /// The values a run is started with, such as `goal`.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub inputs: BTreeMap<String, RunInput>,
    /// How the conductor should play the melody as a whole.
    #[serde(default, skip_serializing_if = "Settings::is_default")]
    pub settings: Settings,
    /// The version of each step type the melody was made for; a type left out is at version 1
    /// (see [`crate::versions`]).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub step_types: BTreeMap<String, u32>,
    /// The steps, in the order the author wrote them.
    pub steps: Vec<Step>,
    /// Data-carrying edges from an output port to an input port.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub edges: Vec<Edge>,
    /// Canvas placement. Never read by the conductor.
    #[serde(default, skip_serializing_if = "Layout::is_empty")]
    pub layout: Layout,
}

impl Melody {
    /// The step with this id, if any.
    pub fn step(&self, id: &str) -> Option<&Step> {
        self.steps.iter().find(|s| s.id == id)
    }
}

/// Descriptive metadata of a melody.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Metadata {
    /// A stable identifier, e.g. `idea-to-code`.
    pub id: String,
    /// A human name.
    pub name: String,
    /// What the melody does.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub description: String,
    /// The melody's own version, chosen by its author (e.g. `1.2.0`).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub version: String,
    /// Who wrote it.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub author: String,
    /// Free tags for search.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<String>,
}

/// The type of a run input.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "camelCase")]
pub enum ValueType {
    /// A string.
    String,
    /// A number.
    Number,
    /// `true` or `false`.
    Boolean,
    /// A JSON list.
    List,
    /// Any JSON value.
    Json,
}

impl ValueType {
    /// The type as a person reads it: "a string", "a number".
    pub fn describe(self) -> &'static str {
        match self {
            ValueType::String => "a string",
            ValueType::Number => "a number",
            ValueType::Boolean => "true or false",
            ValueType::List => "a list",
            ValueType::Json => "any JSON value",
        }
    }

    /// Whether `value` has this type.
    pub fn accepts(self, value: &Value) -> bool {
        match self {
            ValueType::String => value.is_string(),
            ValueType::Number => value.is_number(),
            ValueType::Boolean => value.is_boolean(),
            ValueType::List => value.is_array(),
            ValueType::Json => true,
        }
    }

    /// Parses a value given on a command line (`--input n=3`) into this type.
    pub fn parse_cli(self, raw: &str) -> Result<Value, String> {
        match self {
            ValueType::String => Ok(Value::String(raw.to_owned())),
            ValueType::Number => raw
                .parse::<f64>()
                .ok()
                .and_then(serde_json::Number::from_f64)
                .map(|n| {
                    raw.parse::<i64>()
                        .map(Value::from)
                        .unwrap_or(Value::Number(n))
                })
                .ok_or_else(|| format!("expected a number, found `{raw}`")),
            ValueType::Boolean => match raw {
                "true" => Ok(Value::Bool(true)),
                "false" => Ok(Value::Bool(false)),
                _ => Err(format!("expected true or false, found `{raw}`")),
            },
            ValueType::List | ValueType::Json => {
                let v: Value = serde_json::from_str(raw)
                    .map_err(|e| format!("expected JSON, found `{raw}` ({e})"))?;
                if self == ValueType::List && !v.is_array() {
                    return Err(format!("expected a JSON list, found `{raw}`"));
                }
                Ok(v)
            }
        }
    }
}

/// A declared run input.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RunInput {
    /// The value's type.
    #[serde(rename = "type")]
    pub ty: ValueType,
    /// What the input means, shown in the run form.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub description: String,
    /// The value used when the run does not give one. An input without a default is required.
    #[serde(
        default,
        deserialize_with = "present",
        skip_serializing_if = "Option::is_none"
    )]
    pub default: Option<Value>,
}

/// Run-wide settings.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Settings {
    /// How many steps may be working at once (default 8).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_parallel: Option<u32>,
    /// The timeout of a step attempt whose policy names none, in milliseconds (default 10 minutes).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default_timeout_ms: Option<u64>,
    /// Concurrency limits per instrument key (e.g. `{"offline": 2}`); see each step type's key.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub concurrency: BTreeMap<String, u32>,
    /// What network steps (`operator.http.request`) may reach besides public addresses.
    #[serde(default, skip_serializing_if = "NetworkSettings::is_default")]
    pub network: NetworkSettings,
    /// Caps on what the melody can make the host allocate (see [`crate::limits`]).
    #[serde(
        default,
        skip_serializing_if = "crate::limits::LimitSettings::is_default"
    )]
    pub limits: crate::limits::LimitSettings,
}

impl Settings {
    fn is_default(&self) -> bool {
        *self == Settings::default()
    }
}

/// Where network steps may connect. By default only public internet addresses: loopback,
/// private (RFC 1918, `fc00::/7`), link-local (cloud metadata at `169.254.169.254`), CGNAT and
/// similar addresses are refused, so a melody from someone else cannot reach the services
/// behind the user's firewall (server-side request forgery).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct NetworkSettings {
    /// Allow loopback, private, link-local and CGNAT addresses (e.g. a model server on
    /// `localhost`). Cloud metadata addresses stay refused unless listed in `allow_hosts`.
    #[serde(default, skip_serializing_if = "is_false")]
    pub allow_private: bool,
    /// Host names (`ollama.lan`, `localhost`, `*.lan` for every name under `lan`), addresses
    /// (`10.0.0.5`, `::1`) or ranges (`10.0.0.0/8`) that may be reached even though they are
    /// not public. A listed name allows every address it resolves to.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub allow_hosts: Vec<String>,
}

impl NetworkSettings {
    fn is_default(&self) -> bool {
        *self == NetworkSettings::default()
    }
}

/// What family a step belongs to. The type's name starts with it (`instrument.offline`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "camelCase")]
pub enum StepKind {
    /// Played by an AI model or agent.
    Instrument,
    /// A deterministic utility.
    Operator,
    /// Brings ready-made material (templates, scaffolds).
    Addon,
    /// Controls the flow of the score (router, map).
    Cue,
}

impl fmt::Display for StepKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            StepKind::Instrument => "instrument",
            StepKind::Operator => "operator",
            StepKind::Addon => "addon",
            StepKind::Cue => "cue",
        })
    }
}

/// One step of a melody.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Step {
    /// A stable id, unique in the melody: letters, digits, `_` and `-`.
    pub id: String,
    /// The step's family; must match its type.
    pub kind: StepKind,
    /// The step type, e.g. `operator.template`.
    #[serde(rename = "type")]
    pub type_name: String,
    /// A display name for the canvas.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub name: String,
    /// A note for readers.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub description: String,
    /// Input ports declared by this step, beyond (or refining) those of its type.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub inputs: BTreeMap<String, PortDecl>,
    /// Output ports declared by this step, for types whose outputs are chosen per step (router).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub outputs: BTreeMap<String, PortDecl>,
    /// Type-specific configuration, checked against the type's config fields.
    #[serde(default, skip_serializing_if = "Map::is_empty")]
    pub config: Map<String, Value>,
    /// Timeouts, retries, fallbacks, skipping, priority.
    #[serde(default, skip_serializing_if = "Policy::is_default")]
    pub policy: Policy,
    /// What the step may touch. Must include what its type needs.
    #[serde(default, skip_serializing_if = "BTreeSet::is_empty")]
    pub capabilities: BTreeSet<Capability>,
}

/// A port declared on a step.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PortDecl {
    /// The port's type.
    #[serde(rename = "type")]
    pub ty: PortType,
    /// For an input: the value used when its upstream step was skipped or failed optionally.
    /// Without one, the step is skipped too.
    #[serde(
        default,
        deserialize_with = "present",
        skip_serializing_if = "Option::is_none"
    )]
    pub default: Option<Value>,
    /// What the port carries.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub description: String,
}

/// How the conductor treats one step.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Policy {
    /// The timeout of each attempt, in milliseconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout_ms: Option<u64>,
    /// Retries of failed attempts.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retry: Option<Retry>,
    /// Tried in order once retries are exhausted.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub fallbacks: Vec<Fallback>,
    /// The step is skipped when this holds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "ts", ts(as = "Option<serde_json::Value>"))]
    pub skip_if: Option<Condition>,
    /// A failure of an optional step does not fail the run.
    #[serde(default, skip_serializing_if = "is_false")]
    pub optional: bool,
    /// Among ready steps, higher priority starts first.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub priority: i32,
    /// How long the step is expected to take, for the plan's critical path and slow-step warnings.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub estimate_ms: Option<u64>,
}

impl Policy {
    fn is_default(&self) -> bool {
        *self == Policy::default()
    }
}

fn is_false(b: &bool) -> bool {
    !*b
}

fn is_zero(n: &i32) -> bool {
    *n == 0
}

/// Exponential backoff between attempts.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Retry {
    /// How many times a failed attempt is tried again.
    pub max: u32,
    /// The wait before the first retry, in milliseconds.
    #[serde(default = "Retry::default_backoff")]
    pub backoff_ms: u64,
    /// The factor by which the wait grows each retry.
    #[serde(default = "Retry::default_factor")]
    pub factor: f64,
    /// The longest wait, in milliseconds.
    #[serde(default = "Retry::default_max_backoff")]
    pub max_backoff_ms: u64,
    /// Randomise waits (to between half and all of the computed wait) so parallel steps spread out.
    #[serde(default = "Retry::default_jitter")]
    pub jitter: bool,
}

impl Retry {
    fn default_backoff() -> u64 {
        500
    }
    fn default_factor() -> f64 {
        2.0
    }
    fn default_max_backoff() -> u64 {
        30_000
    }
    fn default_jitter() -> bool {
        true
    }
}

/// Another way to play a step once its own attempts are exhausted.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Fallback {
    /// Another step type of the same kind (defaults to the step's own type).
    #[serde(rename = "type", default, skip_serializing_if = "Option::is_none")]
    pub type_name: Option<String>,
    /// Config keys that replace the step's own (e.g. another model).
    #[serde(default, skip_serializing_if = "Map::is_empty")]
    pub config: Map<String, Value>,
}

/// One end of an edge: a step's port. Written `"step.port"`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PortRef {
    /// The step id.
    pub step: String,
    /// The port name.
    pub port: String,
}

impl PortRef {
    /// Builds a reference to `step.port`.
    pub fn new(step: impl Into<String>, port: impl Into<String>) -> Self {
        PortRef {
            step: step.into(),
            port: port.into(),
        }
    }
}

impl fmt::Display for PortRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}", self.step, self.port)
    }
}

impl std::str::FromStr for PortRef {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.split_once('.') {
            Some((step, port)) if !step.is_empty() && !port.is_empty() && !port.contains('.') => {
                Ok(PortRef::new(step, port))
            }
            _ => Err(format!("expected \"step.port\", found {s:?}")),
        }
    }
}

impl Serialize for PortRef {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for PortRef {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

/// A data-carrying edge.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Edge {
    /// The output port data leaves from.
    #[cfg_attr(feature = "ts", ts(type = "string"))]
    pub from: PortRef,
    /// The input port data arrives at.
    #[cfg_attr(feature = "ts", ts(type = "string"))]
    pub to: PortRef,
}

/// Where a box sits on the canvas.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(deny_unknown_fields)]
pub struct Position {
    /// Horizontal position.
    pub x: f64,
    /// Vertical position.
    pub y: f64,
}

/// Canvas layout: positions by step id, and whatever else the editor keeps (comments, groups,
/// viewport) under its own keys. Nothing here affects a run.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "camelCase")]
pub struct Layout {
    /// Box positions by step id.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub steps: BTreeMap<String, Position>,
    /// Editor-owned data (comments, groups, viewport).
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl Layout {
    fn is_empty(&self) -> bool {
        self.steps.is_empty() && self.extra.is_empty()
    }
}

/// One route of a router cue: when `when` holds, the input goes out on `port`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Route {
    /// The condition that picks this route.
    #[cfg_attr(feature = "ts", ts(as = "serde_json::Value"))]
    pub when: Condition,
    /// The router's output port this route sends to.
    pub port: String,
}

/// A step played inside another one (the body of a map cue).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct InlineStep {
    /// The step type.
    #[serde(rename = "type")]
    pub type_name: String,
    /// Its config.
    #[serde(default, skip_serializing_if = "Map::is_empty")]
    pub config: Map<String, Value>,
    /// Timeouts and retries of each play.
    #[serde(default, skip_serializing_if = "Policy::is_default")]
    pub policy: Policy,
}

/// Reads a present field as `Some`, even when it holds `null` (a `null` default is meaningful:
/// "use null when upstream produced nothing"); an absent field stays `None` via `default`.
fn present<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Value>, D::Error> {
    Value::deserialize(d).map(Some)
}
