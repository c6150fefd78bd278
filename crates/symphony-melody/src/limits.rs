//! Caps on what a melody can make the host allocate: a small file must not exhaust memory with
//! a template that renders gigabytes, a map over millions of items, an endless streamed answer
//! or a server-sent-events line that never ends. Each has a default a melody may change in
//! `settings.limits`, up to a hard ceiling no file can pass. Hitting one fails the step with a
//! message naming the step, the limit and the setting; it never panics.

use serde::{Deserialize, Serialize};

/// One limit: its setting, default and ceiling.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limit {
    /// The key under `settings.limits`.
    pub key: &'static str,
    /// What it caps, for messages.
    pub what: &'static str,
    /// Its unit, for messages (`bytes`, `items`).
    pub unit: &'static str,
    /// The value when the melody sets none.
    pub default: u64,
    /// The most a melody may set.
    pub ceiling: u64,
}

const MIB: u64 = 1024 * 1024;

/// A rendered template (a prompt, a path, a body).
pub const TEMPLATE_BYTES: Limit = Limit {
    key: "templateBytes",
    what: "a rendered template",
    unit: "bytes",
    default: 8 * MIB,
    ceiling: 64 * MIB,
};
/// The items a map fans out over.
pub const MAP_ITEMS: Limit = Limit {
    key: "mapItems",
    what: "a map's items",
    unit: "items",
    default: 10_000,
    ceiling: 1_000_000,
};
/// A model's answer, streamed or not.
pub const ANSWER_BYTES: Limit = Limit {
    key: "answerBytes",
    what: "a model's answer",
    unit: "bytes",
    default: 16 * MIB,
    ceiling: 256 * MIB,
};
/// One line (and one event) of a server-sent-events stream.
pub const SSE_LINE_BYTES: Limit = Limit {
    key: "sseLineBytes",
    what: "one line of a streamed answer",
    unit: "bytes",
    default: MIB,
    ceiling: 16 * MIB,
};

/// Every limit, in the order `settings.limits` documents them.
pub const ALL: [Limit; 4] = [TEMPLATE_BYTES, MAP_ITEMS, ANSWER_BYTES, SSE_LINE_BYTES];

impl Limit {
    /// Why a step failed on this limit: the step, the limit and the setting to change.
    pub fn exceeded(&self, step: &str, value: u64) -> String {
        format!(
            "step `{step}`: {} is over the limit of {} {} (settings.limits.{}, default {}, at most {}); the step was stopped before it used more",
            self.what,
            value,
            self.unit,
            self.key,
            self.default,
            self.ceiling
        )
    }
}

/// `settings.limits` as written: each value replaces its default, up to its ceiling.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct LimitSettings {
    /// The most bytes a rendered template may have.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub template_bytes: Option<u64>,
    /// The most items a map may fan out over.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub map_items: Option<u64>,
    /// The most bytes a model's answer may have.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub answer_bytes: Option<u64>,
    /// The most bytes one line (and one event) of a streamed answer may have.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sse_line_bytes: Option<u64>,
}

/// The limits in force for a run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// See [`TEMPLATE_BYTES`].
    pub template_bytes: u64,
    /// See [`MAP_ITEMS`].
    pub map_items: u64,
    /// See [`ANSWER_BYTES`].
    pub answer_bytes: u64,
    /// See [`SSE_LINE_BYTES`].
    pub sse_line_bytes: u64,
}

impl Default for Limits {
    fn default() -> Self {
        LimitSettings::default().effective()
    }
}

impl LimitSettings {
    /// Whether nothing is set (so the file leaves `limits` out).
    pub fn is_default(&self) -> bool {
        *self == LimitSettings::default()
    }

    fn value(&self, limit: &Limit) -> Option<u64> {
        match limit.key {
            "templateBytes" => self.template_bytes,
            "mapItems" => self.map_items,
            "answerBytes" => self.answer_bytes,
            _ => self.sse_line_bytes,
        }
    }

    /// The limits in force: each set value, or its default, never above its ceiling.
    pub fn effective(&self) -> Limits {
        let pick = |l: &Limit| self.value(l).unwrap_or(l.default).clamp(1, l.ceiling);
        Limits {
            template_bytes: pick(&TEMPLATE_BYTES),
            map_items: pick(&MAP_ITEMS),
            answer_bytes: pick(&ANSWER_BYTES),
            sse_line_bytes: pick(&SSE_LINE_BYTES),
        }
    }

    /// What is wrong with the values set, as `(field path, message)`: zero, or over a ceiling.
    pub fn problems(&self) -> Vec<(String, String)> {
        ALL.iter()
            .filter_map(|l| {
                let v = self.value(l)?;
                let path = format!("settings.limits.{}", l.key);
                if v == 0 {
                    Some((path, format!("{} must be at least 1", l.key)))
                } else if v > l.ceiling {
                    Some((
                        path,
                        format!(
                            "{v} is over the ceiling of {} {} for {}; no melody may set more",
                            l.ceiling, l.unit, l.what
                        ),
                    ))
                } else {
                    None
                }
            })
            .collect()
    }
}
