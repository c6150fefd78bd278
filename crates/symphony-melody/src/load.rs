//! Bytes to [`Melody`], reporting every shape problem at once.
//!
//! serde stops at the first error, which makes for a slow fix-one-rerun loop. So the loader reads
//! the JSON into a `Value`, upgrades it, then checks each section, each step and each field of a
//! step on its own, collecting every problem with its path (steps are named by id:
//! `steps.plan.config`). Only a document with no problems is turned into a [`Melody`].

use serde::de::DeserializeOwned;
use serde_json::{Map, Value};

use crate::migrate::{upgrade, MIGRATIONS};
use crate::model::{Melody, Policy, FORMAT_VERSION};
use crate::problem::{did_you_mean, Problem, Problems};

/// The largest file the loader accepts, so a hostile file cannot exhaust memory.
pub const MAX_BYTES: usize = 64 * 1024 * 1024;

type Check = fn(&Value, &str, &mut Vec<Problem>);

const TOP: &[(&str, bool, Check)] = &[
    ("formatVersion", true, |_, _, _| {}),
    ("melody", true, check_as::<crate::model::Metadata>),
    ("inputs", false, check_inputs),
    ("settings", false, check_as::<crate::model::Settings>),
    (
        "stepTypes",
        false,
        check_as::<std::collections::BTreeMap<String, u32>>,
    ),
    ("steps", true, |_, _, _| {}),
    ("edges", false, check_edges),
    ("layout", false, check_as::<crate::model::Layout>),
];

const STEP: &[(&str, bool, Check)] = &[
    ("id", true, check_as::<String>),
    ("kind", true, check_as::<crate::model::StepKind>),
    ("type", true, check_as::<String>),
    ("name", false, check_as::<String>),
    ("description", false, check_as::<String>),
    (
        "inputs",
        false,
        check_as::<std::collections::BTreeMap<String, crate::model::PortDecl>>,
    ),
    (
        "outputs",
        false,
        check_as::<std::collections::BTreeMap<String, crate::model::PortDecl>>,
    ),
    ("config", false, check_as::<Map<String, Value>>),
    ("policy", false, check_policy),
    (
        "capabilities",
        false,
        check_as::<std::collections::BTreeSet<crate::catalog::Capability>>,
    ),
];

const POLICY: &[(&str, bool, Check)] = &[
    ("timeoutMs", false, check_as::<u64>),
    ("retry", false, check_as::<crate::model::Retry>),
    ("fallbacks", false, check_as::<Vec<crate::model::Fallback>>),
    ("skipIf", false, check_as::<crate::condition::Condition>),
    ("optional", false, check_as::<bool>),
    ("priority", false, check_as::<i32>),
    ("estimateMs", false, check_as::<u64>),
];

/// Parses a melody file. `source` names it in problems.
pub fn load(bytes: &[u8], source: &str) -> Result<Melody, Problems> {
    if bytes.len() > MAX_BYTES {
        return Err(Problems::new(vec![Problem::at(
            "",
            format!(
                "the file is {} MiB; melodies are limited to {} MiB",
                bytes.len() / (1024 * 1024),
                MAX_BYTES / (1024 * 1024)
            ),
        )])
        .in_file(source));
    }
    let value: Value = serde_json::from_slice(bytes).map_err(|e| {
        let what = match e.classify() {
            serde_json::error::Category::Eof => "the file ends too early (truncated JSON?)",
            _ => "invalid JSON",
        };
        Problems::new(vec![Problem::at(
            "",
            format!("{what} at line {} column {}: {e}", e.line(), e.column()),
        )])
        .in_file(source)
    })?;
    load_value(value).map_err(|p| p.in_file(source))
}

/// Parses a melody already read as JSON (the SuperOptiX importer and tests use this).
pub fn load_value(value: Value) -> Result<Melody, Problems> {
    let mut problems = Vec::new();
    let Value::Object(mut doc) = value else {
        return Err(Problems::new(vec![Problem::at(
            "",
            "a melody file must hold a JSON object",
        )]));
    };

    let version = match doc.get("formatVersion") {
        Some(v) => match v.as_u64() {
            Some(n) => n,
            None => {
                return Err(Problems::new(vec![Problem::at(
                    "formatVersion",
                    format!("expected a whole number, found {}", crate::catalog::describe(v)),
                )]))
            }
        },
        None => {
            return Err(Problems::new(vec![Problem::at(
                "formatVersion",
                format!("missing; melodies written by this Symphony start with \"formatVersion\": {FORMAT_VERSION}"),
            )]))
        }
    };
    if let Err(e) = upgrade(&mut doc, version, MIGRATIONS, FORMAT_VERSION) {
        return Err(Problems::new(vec![Problem::at(
            "formatVersion",
            e.to_string(),
        )]));
    }

    check_fields(&doc, "", TOP, &mut problems);

    match doc.get("steps") {
        Some(Value::Array(steps)) => {
            for (i, step) in steps.iter().enumerate() {
                check_step(step, i, &mut problems);
            }
        }
        Some(other) => problems.push(Problem::at(
            "steps",
            format!(
                "expected a list of steps, found {}",
                crate::catalog::describe(other)
            ),
        )),
        None => {}
    }

    if !problems.is_empty() {
        return Err(Problems::new(problems));
    }
    serde_json::from_value(Value::Object(doc)).map_err(|e| {
        // Every field was checked above, so this is a gap in those checks; still a clear error.
        Problems::new(vec![Problem::at("", humanize(&e.to_string()))])
    })
}

fn check_step(step: &Value, index: usize, problems: &mut Vec<Problem>) {
    let Value::Object(map) = step else {
        problems.push(Problem::at(
            format!("steps[{index}]"),
            format!(
                "expected a step object, found {}",
                crate::catalog::describe(step)
            ),
        ));
        return;
    };
    let (path, id) = match map.get("id").and_then(Value::as_str) {
        Some(id) if !id.is_empty() => (format!("steps.{id}"), Some(id.to_owned())),
        _ => (format!("steps[{index}]"), None),
    };
    let before = problems.len();
    check_fields(map, &path, STEP, problems);
    for p in &mut problems[before..] {
        p.step = id.clone();
    }
}

fn check_policy(value: &Value, path: &str, problems: &mut Vec<Problem>) {
    match value {
        Value::Object(map) => check_fields(map, path, POLICY, problems),
        other => problems.push(Problem::at(
            path,
            format!(
                "expected an object, found {}",
                crate::catalog::describe(other)
            ),
        )),
    }
    // Keep the struct and this table in step: a field added to Policy must be listed above.
    debug_assert!(serde_json::to_value(Policy::default()).is_ok());
}

fn check_inputs(value: &Value, path: &str, problems: &mut Vec<Problem>) {
    let Value::Object(map) = value else {
        problems.push(Problem::at(
            path,
            format!(
                "expected an object of inputs, found {}",
                crate::catalog::describe(value)
            ),
        ));
        return;
    };
    for (name, input) in map {
        check_as::<crate::model::RunInput>(input, &format!("{path}.{name}"), problems);
    }
}

fn check_edges(value: &Value, path: &str, problems: &mut Vec<Problem>) {
    let Value::Array(edges) = value else {
        problems.push(Problem::at(
            path,
            format!(
                "expected a list of edges, found {}",
                crate::catalog::describe(value)
            ),
        ));
        return;
    };
    for (i, edge) in edges.iter().enumerate() {
        check_as::<crate::model::Edge>(edge, &format!("{path}[{i}]"), problems);
    }
}

/// Checks each known field of `map` with its own checker, and refuses unknown fields.
fn check_fields(
    map: &Map<String, Value>,
    path: &str,
    fields: &[(&str, bool, Check)],
    problems: &mut Vec<Problem>,
) {
    let join = |key: &str| {
        if path.is_empty() {
            key.to_owned()
        } else {
            format!("{path}.{key}")
        }
    };
    for (key, value) in map {
        match fields.iter().find(|(name, _, _)| name == key) {
            Some((_, _, check)) => check(value, &join(key), problems),
            None => problems.push(Problem::at(
                join(key),
                format!(
                    "unknown field{}",
                    did_you_mean(key, fields.iter().map(|(n, _, _)| *n))
                ),
            )),
        }
    }
    for (name, required, _) in fields {
        if *required && !map.contains_key(*name) {
            problems.push(Problem::at(join(name), "missing required field"));
        }
    }
}

/// Deserializes `value` as `T` only to find problems, reporting the deepest path serde reached.
fn check_as<T: DeserializeOwned>(value: &Value, path: &str, problems: &mut Vec<Problem>) {
    if let Err(e) = serde_path_to_error::deserialize::<_, T>(value) {
        let inner = e.path().to_string();
        let full = match (path.is_empty(), inner.as_str()) {
            (_, ".") | (_, "") => path.to_owned(),
            (true, inner) => inner.to_owned(),
            (false, inner) if inner.starts_with('[') => format!("{path}{inner}"),
            (false, inner) => format!("{path}.{inner}"),
        };
        problems.push(Problem::at(full, humanize(&e.into_inner().to_string())));
    }
}

/// Translates serde's type words into the ones people use for JSON.
fn plain(serde_words: &str) -> String {
    let w = serde_words.trim();
    let fixed = match w {
        "a map" | "map" | "struct Metadata" | "struct Settings" => "an object",
        "a sequence" | "sequence" => "a list",
        "u64" | "u32" | "i32" | "i64" | "usize" => "a whole number",
        "f64" => "a number",
        "a boolean" => "true or false",
        "unit value" => "null",
        _ => "",
    };
    if !fixed.is_empty() {
        return fixed.to_owned();
    }
    for (serde, ours) in [
        ("integer ", "the number "),
        ("floating point ", "the number "),
        ("string ", "the string "),
        ("boolean ", "the boolean "),
    ] {
        if let Some(rest) = w.strip_prefix(serde) {
            return format!("{ours}{rest}");
        }
    }
    if w.starts_with("struct ") {
        return "an object".to_owned();
    }
    w.to_owned()
}

/// Rewrites serde's wording into ours: "expected a string, found the number `42`".
fn humanize(message: &str) -> String {
    if let Some(rest) = message
        .strip_prefix("invalid type: ")
        .or_else(|| message.strip_prefix("invalid value: "))
    {
        if let Some((found, expected)) = rest.split_once(", expected ") {
            return format!("expected {}, found {}", plain(expected), plain(found));
        }
    }
    if let Some(rest) = message.strip_prefix("unknown field `") {
        if let Some((field, expected)) = rest.split_once("`, expected ") {
            let options: Vec<&str> = expected
                .split(['`', ',', ' '])
                .filter(|s| !s.is_empty() && *s != "one" && *s != "of" && *s != "or")
                .collect();
            return format!("unknown field `{field}`{}", did_you_mean(field, options));
        }
    }
    if let Some(rest) = message.strip_prefix("unknown variant `") {
        if let Some((variant, expected)) = rest.split_once("`, expected ") {
            return format!("unknown value `{variant}`; expected {expected}");
        }
    }
    message.to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn problems(json: &str) -> Vec<String> {
        match load(json.as_bytes(), "m.melody.json") {
            Ok(_) => vec![],
            Err(p) => p.iter().map(ToString::to_string).collect(),
        }
    }

    #[test]
    fn reports_every_problem_with_file_step_and_path() {
        let p = problems(
            r#"{"formatVersion": 1, "melody": {"id": "m", "name": "M"},
                "steps": [
                  {"id": "plan", "kind": "instrument", "type": 3, "polciy": {}},
                  {"id": "code", "kind": "wizard", "type": "operator.template", "config": []}
                ]}"#,
        );
        assert_eq!(
            p,
            vec![
                "m.melody.json: steps.plan.polciy: unknown field; did you mean `policy`?",
                "m.melody.json: steps.plan.type: expected a string, found the number `3`",
                "m.melody.json: steps.code.config: expected an object, found a list",
                "m.melody.json: steps.code.kind: unknown value `wizard`; expected one of `instrument`, `operator`, `addon`, `cue`",
            ]
        );
    }

    #[test]
    fn truncated_and_versioned_files() {
        let p = problems(r#"{"formatVersion": 1, "steps": ["#);
        assert!(p[0].contains("ends too early"), "{p:?}");
        let p =
            problems(r#"{"formatVersion": 7, "melody": {"id": "m", "name": "M"}, "steps": []}"#);
        assert!(p[0].contains("unknown format version 7"), "{p:?}");
        let p = problems(r#"[1, 2]"#);
        assert!(p[0].contains("JSON object"), "{p:?}");
    }
}
