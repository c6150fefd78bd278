//! Reading an orchestra's run-wide settings (`execution`: strategy, parallelism, timeouts)
//! and retries (a strategy's name or map, a task's `retry_count`) into melody settings and
//! policies.

use serde_json::{json, Map, Value};

use super::read::{join, number, whole_number, Doc, Importer};
use super::text::hint_or;
use super::{DEFAULT_RETRIES, RETRY_NAMES, STRATEGIES};
use crate::catalog::describe;
use crate::model::{Retry, Settings};

/// Run-wide settings read from `execution`, and the retry every step starts from.
#[derive(Default)]
pub(super) struct Execution {
    pub(super) settings: Settings,
    pub(super) retry: Option<Retry>,
}

impl Importer {
    pub(super) fn execution(&mut self, doc: &Doc) -> Execution {
        let mut out = Execution::default();
        let Some((path, value)) = doc.orchestra_section("execution") else {
            // SuperOptiX runs an orchestra without an `execution` block sequentially.
            out.settings.max_parallel = Some(1);
            return out;
        };
        let Some(exec) = self.object(Some(value), &path) else {
            return out;
        };

        let max_parallel = exec.get("max_parallel_tasks").and_then(|v| {
            let p = join(&path, "max_parallel_tasks");
            match whole_number(v) {
                Some(n) if n >= 1 && n <= i64::from(u32::MAX) => {
                    Some(u32::try_from(n).expect("checked to fit"))
                }
                Some(_) => {
                    self.problem(p, "must be at least 1");
                    None
                }
                None => {
                    self.problem(
                        p,
                        format!("expected a whole number of tasks, found {}", describe(v)),
                    );
                    None
                }
            }
        });
        let strategy = self.text(Some(exec), "strategy", &path);
        out.settings.max_parallel = match strategy.as_deref().map(str::to_ascii_lowercase) {
            // SuperOptiX's default strategy is sequential; a count alone still says what is meant.
            None => max_parallel.or(Some(1)),
            Some(s) if s == "sequential" => Some(1),
            Some(s) if STRATEGIES.contains(&s.as_str()) => max_parallel,
            Some(s) => {
                let advice = || format!("use one of {}", STRATEGIES.join(", "));
                let hint = hint_or(&s, STRATEGIES, advice);
                self.problem(
                    join(&path, "strategy"),
                    format!("unknown execution strategy {s:?}{hint}"),
                );
                None
            }
        };

        if let Some(v) = exec.get("task_timeout_seconds") {
            out.settings.default_timeout_ms =
                self.seconds_ms(v, &join(&path, "task_timeout_seconds"));
        }
        if let Some(v) = exec.get("retry_strategy") {
            out.retry = self.retry(v, &join(&path, "retry_strategy"));
        }
        out
    }

    /// A timeout in seconds (whole or fractional), as milliseconds.
    pub(super) fn seconds_ms(&mut self, value: &Value, path: &str) -> Option<u64> {
        match number(value).and_then(seconds_to_ms) {
            Some(ms) if ms >= 1 => Some(ms),
            _ => {
                self.problem(
                    path,
                    format!(
                        "expected a positive number of seconds, found {}",
                        describe(value)
                    ),
                );
                None
            }
        }
    }

    /// A wait in seconds or milliseconds (`unit_ms`), zero allowed.
    pub(super) fn wait_ms(&mut self, value: &Value, path: &str, unit_ms: bool) -> Option<u64> {
        let ms = number(value).and_then(|n| {
            if unit_ms {
                (0.0..1e15).contains(&n).then(|| n.round() as u64)
            } else {
                seconds_to_ms(n)
            }
        });
        if ms.is_none() {
            let unit = if unit_ms { "milliseconds" } else { "seconds" };
            self.problem(
                path,
                format!(
                    "expected a number of {unit} (0 or more), found {}",
                    describe(value)
                ),
            );
        }
        ms
    }

    /// Reads `retry_strategy`. `Some` with `max == 0` means "explicitly no retries".
    pub(super) fn retry(&mut self, value: &Value, path: &str) -> Option<Retry> {
        match value {
            Value::Null => None,
            Value::Bool(false) => Some(retry_with(0, 2.0)),
            Value::Bool(true) => Some(retry_with(DEFAULT_RETRIES, 2.0)),
            Value::Number(_) => self.count(value, path).map(|n| retry_with(n, 2.0)),
            Value::String(name) => self.retry_name(name, path).map(|factor| match factor {
                Some(f) => retry_with(DEFAULT_RETRIES, f),
                None => retry_with(0, 2.0),
            }),
            Value::Object(map) => self.retry_map(map, path),
            Value::Array(_) => {
                self.problem(
                    path,
                    format!(
                        "expected a strategy name (such as exponential_backoff) or a mapping \
                         with max_retries and backoff fields, found {}",
                        describe(value)
                    ),
                );
                None
            }
        }
    }

    /// A named retry strategy: `Some(Some(factor))`, `Some(None)` for no retries, `None` when
    /// the name is unknown (reported).
    fn retry_name(&mut self, name: &str, path: &str) -> Option<Option<f64>> {
        let key = name.trim().to_ascii_lowercase().replace(['-', ' '], "_");
        match RETRY_NAMES.iter().find(|(n, _)| *n == key) {
            Some((_, factor)) => Some(*factor),
            None => {
                let names: Vec<&str> = RETRY_NAMES.iter().map(|(n, _)| *n).collect();
                self.problem(
                    path,
                    format!(
                        "unknown retry strategy {name:?}{}",
                        hint_or(&key, &names, || format!("use one of {}", names.join(", ")))
                    ),
                );
                None
            }
        }
    }

    fn retry_map(&mut self, map: &Map<String, Value>, path: &str) -> Option<Retry> {
        let before = self.problems.len();
        let field = |keys: &[&'static str]| keys.iter().find_map(|k| map.get(*k).map(|v| (*k, v)));

        let mut factor_default = 2.0;
        if let Some((k, v)) = field(&["strategy", "type", "kind", "name"]) {
            match v.as_str() {
                Some(name) => match self.retry_name(name, &join(path, k)) {
                    Some(Some(f)) => factor_default = f,
                    Some(None) => return Some(retry_with(0, 2.0)),
                    None => {}
                },
                None => self.problem(
                    join(path, k),
                    format!("expected a strategy name, found {}", describe(v)),
                ),
            }
        }

        let max = if let Some((k, v)) = field(&["max_retries", "retries", "retry_count"]) {
            self.count(v, &join(path, k))
        } else if let Some((k, v)) = field(&["max_attempts", "attempts"]) {
            // Attempts count the first try too.
            self.count(v, &join(path, k)).map(|n| n.saturating_sub(1))
        } else {
            Some(DEFAULT_RETRIES)
        };

        let mut retry = retry_with(max.unwrap_or(0), factor_default);
        if let Some((k, v)) = field(&["backoff_ms", "delay_ms", "initial_delay_ms"]) {
            retry.backoff_ms = self.wait_ms(v, &join(path, k), true).unwrap_or(0);
        } else if let Some((k, v)) = field(&[
            "backoff_seconds",
            "initial_backoff_seconds",
            "initial_delay_seconds",
            "delay_seconds",
            "initial_delay",
            "delay",
            "backoff",
        ]) {
            retry.backoff_ms = self.wait_ms(v, &join(path, k), false).unwrap_or(0);
        }
        if let Some((k, v)) = field(&["max_backoff_ms", "max_delay_ms"]) {
            retry.max_backoff_ms = self.wait_ms(v, &join(path, k), true).unwrap_or(0);
        } else if let Some((k, v)) = field(&[
            "max_backoff_seconds",
            "max_delay_seconds",
            "max_backoff",
            "max_delay",
        ]) {
            retry.max_backoff_ms = self.wait_ms(v, &join(path, k), false).unwrap_or(0);
        }
        if let Some((k, v)) = field(&[
            "backoff_factor",
            "backoff_multiplier",
            "multiplier",
            "factor",
            "exponential_base",
        ]) {
            match number(v) {
                Some(f) if f.is_finite() && f >= 1.0 => retry.factor = f,
                _ => self.problem(
                    join(path, k),
                    format!(
                        "expected a growth factor of at least 1 (1 keeps the wait fixed), found {}",
                        describe(v)
                    ),
                ),
            }
        }
        if let Some(v) = map.get("jitter") {
            match v.as_bool() {
                Some(b) => retry.jitter = b,
                None => self.problem(
                    join(path, "jitter"),
                    format!("expected true or false, found {}", describe(v)),
                ),
            }
        }
        (self.problems.len() == before).then_some(retry)
    }

    /// A count of retries: a whole number, 0 or more.
    pub(super) fn count(&mut self, value: &Value, path: &str) -> Option<u32> {
        match whole_number(value).and_then(|n| u32::try_from(n).ok()) {
            Some(n) => Some(n),
            None => {
                self.problem(
                    path,
                    format!(
                        "expected a whole number, 0 or more, found {}",
                        describe(value)
                    ),
                );
                None
            }
        }
    }
}

/// A retry with the model's default waits, `max` retries and backoff `factor`.
pub(super) fn retry_with(max: u32, factor: f64) -> Retry {
    let mut retry: Retry = serde_json::from_value(json!({ "max": max }))
        .expect("a retry with only `max` takes the model's defaults for the rest");
    retry.factor = factor;
    retry
}

/// Seconds to milliseconds, refusing negative, infinite and absurdly large values.
pub(super) fn seconds_to_ms(seconds: f64) -> Option<u64> {
    (0.0..1e12)
        .contains(&seconds)
        .then(|| (seconds * 1000.0).round() as u64)
}
