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
    /// make a huge string this way: a value's text is measured as it is written, and no more
    /// than `max` bytes of it are ever made.
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
                        push_value_limited(&mut out, v, max)?;
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

/// Appends a value as [`push_value`] does, unless that would pass `max` bytes: then `Err` with
/// the length reached. A list or an object is pretty-printed, which indents every line by its
/// depth: a 16 MiB answer nested a hundred levels deep prints to gigabytes, so its text is
/// written through a buffer that refuses to grow past the limit.
fn push_value_limited(out: &mut String, value: &Value, max: usize) -> Result<(), u64> {
    let room = max.saturating_sub(out.len());
    let over = |len: usize| (out.len() + len) as u64;
    match value {
        Value::String(s) if s.len() > room => Err(over(s.len())),
        Value::Array(_) | Value::Object(_) => {
            let mut text = Bounded {
                bytes: Vec::new(),
                room,
            };
            if serde_json::to_writer_pretty(&mut text, value).is_err() {
                return Err(over(room + 1));
            }
            out.push_str(
                std::str::from_utf8(&text.bytes).expect("serde_json writes UTF-8 (a whole value)"),
            );
            Ok(())
        }
        _ => {
            push_value(out, value);
            Ok(())
        }
    }
}

/// A byte buffer that fails a write that would take it past `room` bytes.
struct Bounded {
    bytes: Vec<u8>,
    room: usize,
}

impl std::io::Write for Bounded {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        if self.bytes.len() + buf.len() > self.room {
            return Err(std::io::Error::other("over the template limit"));
        }
        self.bytes.extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
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
    fn a_deeply_nested_value_is_cut_at_the_limit_not_printed_whole() {
        // Pretty-printing indents each line by its depth: this 2.2 KB value prints to 220 KB,
        // all of which was made before it was measured.
        let text = format!(
            "{}{}{}",
            "[".repeat(100),
            vec!["0"; 1000].join(","),
            "]".repeat(100)
        );
        let deep: Value = serde_json::from_str(&text).unwrap();
        let t = Template::parse("{{a}}").unwrap();
        let full = t.render(|_| Some(&deep));
        assert!(full.len() > 200_000, "{}", full.len());
        let reached = t.render_limited(|_| Some(&deep), 64).unwrap_err();
        assert!(
            (65..=64 + 256).contains(&reached),
            "stopped at {reached} bytes"
        );
        assert_eq!(
            t.render_limited(|_| Some(&deep), full.len() as u64),
            Ok(full)
        );
    }

    #[test]
    fn render_limited_stops_at_the_limit() {
        let values = serde_json::json!({"s": "abcdef", "n": 12, "list": [1, 2]});
        let look = |r: &Reference| crate::reference::walk(&values, &r.segments);
        let t = Template::parse("<{{s}}|{{n}}|{{list}}>").unwrap();
        let full = t.render(look);
        assert_eq!(full, "<abcdef|12|[\n  1,\n  2\n]>");
        assert_eq!(t.render_limited(look, full.len() as u64), Ok(full.clone()));
        for max in 0..full.len() as u64 {
            let reached = t.render_limited(look, max).unwrap_err();
            assert!(reached > max, "limit {max}: reached {reached}");
        }
    }

    #[test]
    fn expressions_are_refused() {
        assert!(Template::parse("{{ goal + 1 }}").is_err());
        assert!(Template::parse("{{}}").is_err());
    }
}
