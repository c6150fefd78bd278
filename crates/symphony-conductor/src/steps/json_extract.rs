//! `operator.json.extract`: reads JSON out of a value (model output included: a fenced `json`
//! code block, or the first JSON object or list in the text) and picks a field by path.

use serde_json::Value;
use symphony_melody::catalog::describe;
use symphony_melody::reference::walk;
use symphony_melody::{ConfigField, FieldType, PortSpec, PortType, StepKind, TypeSpec};

use crate::step::{BoxFuture, ErrorKind, Outputs, Played, StepContext, StepError, StepType};

/// Parses JSON from `input` and picks `config.path`.
pub struct JsonExtract;

impl StepType for JsonExtract {
    fn spec(&self) -> TypeSpec {
        let mut s = super::spec(
            "operator.json.extract",
            StepKind::Operator,
            "JSON extract",
            "Parses JSON from text (fenced blocks included) and picks a field by path.",
        );
        s.inputs = vec![PortSpec::required(
            "input",
            PortType::Any,
            "JSON, or text that contains JSON.",
        )];
        s.outputs = vec![PortSpec::required(
            "output",
            PortType::Any,
            "The value found.",
        )];
        s.config = vec![ConfigField::optional(
            "path",
            FieldType::String,
            "Dotted path into the JSON, like `features` or `items.0.title`; empty for the whole value.",
        ).single_line()];
        s
    }

    fn play<'a>(&'a self, cx: &'a StepContext) -> BoxFuture<'a, Result<Played, StepError>> {
        Box::pin(async move {
            let input = cx.input("input").cloned().unwrap_or_default();
            let json = match input {
                Value::String(text) => parse_embedded(&text).ok_or_else(|| {
                    StepError::fatal(
                        ErrorKind::Input,
                        format!("the input holds no JSON (it starts: {:?})", preview(&text)),
                    )
                })?,
                other => other,
            };
            let path: Vec<String> = match cx.config_str("path") {
                Some(p) if !p.is_empty() => p.split('.').map(str::to_owned).collect(),
                _ => Vec::new(),
            };
            let found = walk(&json, &path).cloned().ok_or_else(|| {
                StepError::fatal(
                    ErrorKind::Input,
                    format!(
                        "no value at `{}` in the input ({})",
                        path.join("."),
                        describe(&json)
                    ),
                )
            })?;
            Ok(Played::Done(Outputs::single(found).into()))
        })
    }
}

/// Finds JSON in text: the whole text, a fenced block, or the first `{…}` / `[…]` span.
pub fn parse_embedded(text: &str) -> Option<Value> {
    let trimmed = text.trim();
    if let Ok(v) = serde_json::from_str(trimmed) {
        return Some(v);
    }
    if let Some(start) = trimmed.find("```") {
        let after = &trimmed[start + 3..];
        let body_start = after.find('\n').map_or(0, |i| i + 1);
        if let Some(end) = after[body_start..].find("```") {
            if let Ok(v) = serde_json::from_str(after[body_start..body_start + end].trim()) {
                return Some(v);
            }
        }
    }
    for (open, close) in [('{', '}'), ('[', ']')] {
        if let (Some(a), Some(b)) = (trimmed.find(open), trimmed.rfind(close)) {
            if a < b {
                if let Ok(v) = serde_json::from_str(&trimmed[a..=b]) {
                    return Some(v);
                }
            }
        }
    }
    None
}

fn preview(text: &str) -> String {
    text.chars().take(60).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn finds_json_in_model_output() {
        assert_eq!(parse_embedded("[1,2]"), Some(json!([1, 2])));
        assert_eq!(
            parse_embedded("Here you go:\n```json\n{\"a\": 1}\n```\nDone."),
            Some(json!({"a": 1}))
        );
        assert_eq!(
            parse_embedded("Sure! {\"b\": [true]} ok"),
            Some(json!({"b": [true]}))
        );
        assert_eq!(parse_embedded("no json here"), None);
    }
}
