//! Prompt and text templates: literal text with `{{reference}}` holes.
//!
//! Deliberately not a programming language: a hole holds one reference and nothing else, so a
//! melody from someone else cannot run code through a template (several workflow tools shipped
//! remote-code-execution holes through their expression nodes).

use serde_json::Value;

use crate::reference::Reference;

/// A parsed template.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Template {
    /// Literal text and holes, in order.
    pub parts: Vec<Part>,
}

/// A piece of a template.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Part {
    /// Text copied as is.
    Text(String),
    /// A hole filled with the referenced value.
    Hole(Reference),
}

impl Template {
    /// Parses `text`; `{{` must be closed by `}}` and hold one reference.
    pub fn parse(text: &str) -> Result<Template, String> {
        let mut parts = Vec::new();
        let mut rest = text;
        while let Some(open) = rest.find("{{") {
            if open > 0 {
                parts.push(Part::Text(rest[..open].to_owned()));
            }
            let after = &rest[open + 2..];
            let close = after.find("}}").ok_or_else(|| {
                format!(
                    "`{{{{` at character {} is never closed with `}}}}`",
                    text.len() - rest.len() + open
                )
            })?;
            parts.push(Part::Hole(Reference::parse(&after[..close])?));
            rest = &after[close + 2..];
        }
        if !rest.is_empty() {
            parts.push(Part::Text(rest.to_owned()));
        }
        Ok(Template { parts })
    }

    /// The references in the holes.
    pub fn references(&self) -> impl Iterator<Item = &Reference> {
        self.parts.iter().filter_map(|p| match p {
            Part::Hole(r) => Some(r),
            Part::Text(_) => None,
        })
    }

    /// Fills the holes. `lookup` returns `None` for a value that is not there (an upstream step
    /// that was skipped); such a hole renders as empty text.
    pub fn render<'v>(&self, mut lookup: impl FnMut(&Reference) -> Option<&'v Value>) -> String {
        let mut out = String::new();
        for part in &self.parts {
            match part {
                Part::Text(t) => out.push_str(t),
                Part::Hole(r) => {
                    if let Some(v) = lookup(r) {
                        push_value(&mut out, v);
                    }
                }
            }
        }
        out
    }
}

impl Template {
    /// Renders like [`Template::render`], but stops as soon as the text passes `max` bytes:
    /// `Err` with how many bytes it had reached. A small template over a large input cannot
    /// make a huge string this way.
    pub fn render_limited<'v>(
        &self,
        mut lookup: impl FnMut(&Reference) -> Option<&'v Value>,
        max: u64,
    ) -> Result<String, u64> {
        let max = usize::try_from(max).unwrap_or(usize::MAX);
        let mut out = String::new();
        for part in &self.parts {
            match part {
                Part::Text(t) => out.push_str(t),
                Part::Hole(r) => {
                    if let Some(v) = lookup(r) {
                        // A JSON value's text is made before it is measured; a string is
                        // measured first.
                        if let Value::String(s) = v {
                            if out.len() + s.len() > max {
                                return Err((out.len() + s.len()) as u64);
                            }
                        }
                        push_value(&mut out, v);
                    }
                }
            }
            if out.len() > max {
                return Err(out.len() as u64);
            }
        }
        Ok(out)
    }
}

/// Appends a value as text: strings as they are, `null` as nothing, anything else as JSON.
pub fn push_value(out: &mut String, value: &Value) {
    match value {
        Value::String(s) => out.push_str(s),
        Value::Null => {}
        Value::Array(_) | Value::Object(_) => out.push_str(
            &serde_json::to_string_pretty(value).expect("a serde_json::Value always serializes"),
        ),
        other => out.push_str(&other.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_holes_and_text() {
        let t = Template::parse("Goal: {{goal}}; plan: {{ plan.output }}!").unwrap();
        assert_eq!(t.references().count(), 2);
        let goal = Value::String("ship".into());
        let out = t.render(|r| (r.segments[0] == "goal").then_some(&goal));
        assert_eq!(out, "Goal: ship; plan: !");
    }

    #[test]
    fn unclosed_hole_is_an_error() {
        let e = Template::parse("x {{goal").unwrap_err();
        assert!(e.contains("never closed"), "{e}");
    }

    #[test]
    fn expressions_are_refused() {
        assert!(Template::parse("{{ goal + 1 }}").is_err());
        assert!(Template::parse("{{}}").is_err());
    }
}
