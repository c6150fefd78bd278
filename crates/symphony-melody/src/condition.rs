//! Conditions for `policy.skipIf` and the router cue, written as JSON objects, never as code.
//!
//! `{"op": "eq", "ref": "mode", "value": "quick"}`,
//! `{"op": "all", "of": [{"op": "notEmpty", "ref": "plan.output"}, {"op": "gt", "ref": "n", "value": 3}]}`.
//! A reference to a value that is not there (a skipped upstream) reads as `null`.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::reference::Reference;

/// A condition on run inputs and upstream outputs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "camelCase", deny_unknown_fields)]
pub enum Condition {
    /// The value equals `value`.
    Eq {
        /// What to read.
        #[serde(rename = "ref")]
        reference: String,
        /// What to compare with.
        value: Value,
    },
    /// The value differs from `value`.
    Ne {
        /// What to read.
        #[serde(rename = "ref")]
        reference: String,
        /// What to compare with.
        value: Value,
    },
    /// Text contains `value` as a substring, or a list contains it as an item.
    Contains {
        /// What to read.
        #[serde(rename = "ref")]
        reference: String,
        /// What to look for.
        value: Value,
    },
    /// A number greater than `value`.
    Gt {
        /// What to read.
        #[serde(rename = "ref")]
        reference: String,
        /// The bound.
        value: f64,
    },
    /// A number less than `value`.
    Lt {
        /// What to read.
        #[serde(rename = "ref")]
        reference: String,
        /// The bound.
        value: f64,
    },
    /// `null`, missing, `""`, `[]` or `{}`.
    Empty {
        /// What to read.
        #[serde(rename = "ref")]
        reference: String,
    },
    /// Anything but empty.
    NotEmpty {
        /// What to read.
        #[serde(rename = "ref")]
        reference: String,
    },
    /// Every condition holds.
    All {
        /// The conditions.
        of: Vec<Condition>,
    },
    /// At least one condition holds.
    Any {
        /// The conditions.
        of: Vec<Condition>,
    },
    /// The condition does not hold.
    Not {
        /// The condition.
        of: Box<Condition>,
    },
}

impl Condition {
    /// Every reference text in the condition, with its field path relative to the condition.
    pub fn references(&self) -> Vec<(String, &str)> {
        let mut out = Vec::new();
        self.collect("", &mut out);
        out
    }

    fn collect<'a>(&'a self, at: &str, out: &mut Vec<(String, &'a str)>) {
        match self {
            Condition::Eq { reference, .. }
            | Condition::Ne { reference, .. }
            | Condition::Contains { reference, .. }
            | Condition::Gt { reference, .. }
            | Condition::Lt { reference, .. }
            | Condition::Empty { reference }
            | Condition::NotEmpty { reference } => out.push((format!("{at}ref"), reference)),
            Condition::All { of } | Condition::Any { of } => {
                for (i, c) in of.iter().enumerate() {
                    c.collect(&format!("{at}of[{i}]."), out);
                }
            }
            Condition::Not { of } => of.collect(&format!("{at}of."), out),
        }
    }

    /// Evaluates the condition; `lookup` reads a reference (`None` when the value is absent).
    /// References are parsed again here; the validator has already refused bad ones, and a bad
    /// one reads as absent.
    pub fn evaluate<'v>(&self, lookup: &mut dyn FnMut(&Reference) -> Option<&'v Value>) -> bool {
        let mut read = |r: &str| -> Value {
            Reference::parse(r)
                .ok()
                .and_then(|r| lookup(&r).cloned())
                .unwrap_or(Value::Null)
        };
        match self {
            Condition::Eq { reference, value } => loosely_equal(&read(reference), value),
            Condition::Ne { reference, value } => !loosely_equal(&read(reference), value),
            Condition::Contains { reference, value } => match (read(reference), value) {
                (Value::String(s), Value::String(needle)) => s.contains(needle.as_str()),
                (Value::Array(items), v) => items.iter().any(|i| loosely_equal(i, v)),
                _ => false,
            },
            Condition::Gt { reference, value } => {
                number(&read(reference)).is_some_and(|n| n > *value)
            }
            Condition::Lt { reference, value } => {
                number(&read(reference)).is_some_and(|n| n < *value)
            }
            Condition::Empty { reference } => is_empty(&read(reference)),
            Condition::NotEmpty { reference } => !is_empty(&read(reference)),
            Condition::All { of } => of.iter().all(|c| c.evaluate(lookup)),
            Condition::Any { of } => of.iter().any(|c| c.evaluate(lookup)),
            Condition::Not { of } => !of.evaluate(lookup),
        }
    }
}

/// Equality that treats `3` and `3.0` as equal and trims text, since model output often ends in
/// a newline.
fn loosely_equal(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => x.as_f64() == y.as_f64(),
        (Value::String(x), Value::String(y)) => x.trim() == y.trim(),
        _ => a == b,
    }
}

fn number(v: &Value) -> Option<f64> {
    match v {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

fn is_empty(v: &Value) -> bool {
    match v {
        Value::Null => true,
        Value::String(s) => s.trim().is_empty(),
        Value::Array(a) => a.is_empty(),
        Value::Object(o) => o.is_empty(),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn eval(c: Value, data: Value) -> bool {
        let c: Condition = serde_json::from_value(c).unwrap();
        c.evaluate(&mut |r: &Reference| crate::reference::walk(&data, &r.segments))
    }

    #[test]
    fn compares_and_combines() {
        let data = json!({"mode": "quick", "n": 4, "plan": {"output": "  "}});
        assert!(eval(
            json!({"op": "eq", "ref": "mode", "value": "quick"}),
            data.clone()
        ));
        assert!(eval(
            json!({"op": "gt", "ref": "n", "value": 3}),
            data.clone()
        ));
        assert!(eval(
            json!({"op": "empty", "ref": "plan.output"}),
            data.clone()
        ));
        assert!(eval(json!({"op": "empty", "ref": "missing"}), data.clone()));
        assert!(eval(
            json!({"op": "all", "of": [{"op": "lt", "ref": "n", "value": 5}, {"op": "not", "of": {"op": "eq", "ref": "mode", "value": "slow"}}]}),
            data
        ));
    }

    #[test]
    fn unknown_fields_are_refused() {
        let r: Result<Condition, _> =
            serde_json::from_value(json!({"op": "eq", "ref": "a", "value": 1, "extra": 2}));
        assert!(r.is_err());
    }
}
