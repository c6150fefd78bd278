//! Text helpers of the import: template holes escaped and `{goal}` placeholders filled, ids
//! and names made from task and file names, and the lists and suggestions in problems.

use std::collections::BTreeMap;

use super::MAX_ID_LEN;
use crate::model::RunInput;
use crate::problem::did_you_mean;

/// Names for a message, the first dozen at most.
pub(super) fn listing<'a>(names: impl IntoIterator<Item = &'a str>) -> String {
    const SHOWN: usize = 12;
    let mut names = names.into_iter();
    let mut out: Vec<&str> = names.by_ref().take(SHOWN).collect();
    if names.next().is_some() {
        out.push("...");
    }
    out.join(", ")
}

/// `; did you mean `x`?` when one of `choices` is close to `word`, otherwise `; ` and the advice.
pub(super) fn hint_or(word: &str, choices: &[&str], advice: impl FnOnce() -> String) -> String {
    let hint = did_you_mean(word, choices.iter().copied());
    if hint.is_empty() {
        format!("; {}", advice())
    } else {
        hint
    }
}

/// Breaks every `{{` in literal text by putting a space between the braces, so the text cannot
/// open a template hole (`{{{` becomes `{ { {`).
pub(super) fn escape_holes(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut after_open = false;
    for c in text.chars() {
        if c == '{' && after_open {
            out.push(' ');
        }
        out.push(c);
        after_open = c == '{';
    }
    out
}

/// Turns Python-style `{name}` placeholders into template holes `{{name}}` when `name` is a
/// declared run input; other braces stay as they are. Expects text already passed through
/// [`escape_holes`], so no `{{` is left that a new hole could run into.
pub(super) fn fill_placeholders(text: &str, inputs: &BTreeMap<String, RunInput>) -> String {
    let mut out = String::with_capacity(text.len() + 8);
    let mut rest = text;
    while let Some(open) = rest.find('{') {
        out.push_str(&rest[..open]);
        let after = &rest[open + 1..];
        match after.find('}') {
            Some(close) if inputs.contains_key(&after[..close]) => {
                out.push_str("{{");
                out.push_str(&after[..close]);
                out.push_str("}}");
                rest = &after[close + 1..];
            }
            _ => {
                out.push('{');
                rest = after;
            }
        }
    }
    out.push_str(rest);
    out
}

/// A step or melody id from a name: lowercase ASCII letters, digits, `_` and `-`; every other
/// character becomes `-`, runs of `-` collapse and none lead or trail. `fallback` when nothing
/// is left.
pub(super) fn slug(name: &str, fallback: &str) -> String {
    let mut out = String::with_capacity(name.len());
    for c in name.chars() {
        let c = c.to_ascii_lowercase();
        if c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' {
            out.push(c);
        } else if !out.ends_with('-') {
            out.push('-');
        }
    }
    let mut out = out.trim_matches('-').to_owned();
    if out.len() > MAX_ID_LEN {
        out.truncate(MAX_ID_LEN);
        out = out.trim_end_matches('-').to_owned();
    }
    if out.is_empty() {
        fallback.to_owned()
    } else {
        out
    }
}

/// A melody name from the file name when the orchestra has none: `orchestras/sdlc_orchestra.yaml`
/// gives `sdlc`.
pub(super) fn name_from_source(source: &str) -> String {
    let file = source.rsplit(['/', '\\']).next().unwrap_or(source);
    let stem = file
        .strip_suffix(".yaml")
        .or_else(|| file.strip_suffix(".yml"))
        .unwrap_or(file);
    let stem = stem
        .strip_suffix("_orchestra")
        .or_else(|| stem.strip_suffix("-orchestra"))
        .unwrap_or(stem)
        .trim();
    if stem.is_empty() {
        "SuperOptiX orchestra".to_owned()
    } else {
        stem.to_owned()
    }
}
