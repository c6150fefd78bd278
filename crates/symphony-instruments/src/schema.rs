//! Structured answers: checking a model's answer against the step's JSON Schema.
//!
//! The schema is passed to the provider where it can take one, but no provider's promise is
//! trusted: the answer is always validated here. A schema that cannot compile is a config
//! problem reported at validation; an answer that does not match is a retryable failure whose
//! message carries the validator's words, so the retry (or the person reading) knows why.
//! Remote `$ref`s are not fetched (the validator is built without network access).

use serde_json::Value;

/// How many validation errors a message lists.
const MAX_LISTED: usize = 5;

/// Compiles a schema, or says why it is not one.
pub(crate) fn compile(schema: &Value) -> Result<jsonschema::Validator, String> {
    jsonschema::validator_for(schema).map_err(|e| format!("not a valid JSON Schema: {e}"))
}

/// Checks a value; the error lists what does not match, with JSON pointers.
pub(crate) fn check(validator: &jsonschema::Validator, value: &Value) -> Result<(), String> {
    let errors: Vec<String> = validator
        .iter_errors(value)
        .map(|e| {
            let path = e.instance_path().to_string();
            let at = if path.is_empty() {
                "/".to_owned()
            } else {
                path
            };
            format!("at {at}: {e}")
        })
        .collect();
    if errors.is_empty() {
        return Ok(());
    }
    let more = errors.len().saturating_sub(MAX_LISTED);
    let mut text = errors
        .into_iter()
        .take(MAX_LISTED)
        .collect::<Vec<_>>()
        .join("; ");
    if more > 0 {
        text.push_str(&format!("; and {more} more"));
    }
    Err(text)
}

/// Reads an answer's text as JSON, tolerating a Markdown code fence around it (models add one
/// even when told not to).
pub(crate) fn parse_answer(text: &str) -> Result<Value, serde_json::Error> {
    let t = text.trim();
    let unfenced = t
        .strip_prefix("```json")
        .or_else(|| t.strip_prefix("```"))
        .and_then(|rest| rest.trim_end().strip_suffix("```"))
        .map(str::trim);
    serde_json::from_str(unfenced.unwrap_or(t))
}

/// The instruction added to the system prompt when the schema is not passed natively.
pub(crate) fn instruction(schema: &Value) -> String {
    format!(
        "Answer with only a JSON value that matches this JSON Schema, with no other text and no code fence:\n{schema}"
    )
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use serde_json::json;

    #[test]
    fn mismatches_are_listed_with_their_paths() {
        let v = compile(&json!({
            "type": "object",
            "required": ["title", "tags"],
            "properties": {"title": {"type": "string"}, "tags": {"type": "array", "items": {"type": "string"}}}
        }))
        .unwrap();
        assert_eq!(check(&v, &json!({"title": "x", "tags": ["a"]})), Ok(()));
        let e = check(&v, &json!({"title": 3, "tags": ["a", 1]})).unwrap_err();
        assert!(e.contains("at /title: 3 is not of type \"string\""), "{e}");
        assert!(e.contains("at /tags/1"), "{e}");
        let e = check(&v, &json!({})).unwrap_err();
        assert!(e.contains("\"title\" is a required property"), "{e}");
        assert!(compile(&json!({"type": "nope"})).is_err());
    }

    #[test]
    fn fenced_answers_parse() {
        assert_eq!(
            parse_answer("```json\n{\"a\": 1}\n```").unwrap(),
            json!({"a": 1})
        );
        assert_eq!(parse_answer(" [1] ").unwrap(), json!([1]));
        assert!(parse_answer("Sure! {\"a\": 1}").is_err());
    }
}
