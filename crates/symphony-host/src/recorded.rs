//! [`RecordedOptions`]: how a run was asked to play, as the run store keeps it (`runs.options`)
//! and as a resumed run reads it back.
//!
//! One shape for every host. Before it, the CLI recorded `{seed, maxParallel, fresh,
//! freshSteps, given}` and the app `{seed, host, path, freshSteps, given}`; records in both
//! shapes are in people's stores and still resume. The struct is tolerant rather than
//! versioned: every field has a default, unknown fields are ignored, and a field whose value
//! does not fit reads as its default (as the old reads by string key did), so a field is only
//! ever added, with a default that means what a record without it meant.

use std::collections::BTreeSet;

use serde::{Deserialize, Deserializer, Serialize};
use serde_json::Value;

/// How a run was asked to play: what a resumed run needs to play on as it was asked to, and
/// what the history may show of how it started.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct RecordedOptions {
    /// Seed of the retry jitter.
    #[serde(deserialize_with = "lenient")]
    pub seed: u64,
    /// How many steps may work at once, when the run overrode the melody's setting.
    #[serde(deserialize_with = "lenient", skip_serializing_if = "Option::is_none")]
    pub max_parallel: Option<u32>,
    /// Every step played; no stored output reused.
    #[serde(deserialize_with = "lenient")]
    pub fresh: bool,
    /// Steps played even if the cache holds their output ("take again").
    #[serde(deserialize_with = "lenient")]
    pub fresh_steps: BTreeSet<String>,
    /// Steps given an output instead of playing (pins, a fork's kept outputs), for the record;
    /// a resumed run is given what finished instead.
    #[serde(deserialize_with = "lenient")]
    pub given: BTreeSet<String>,
    /// Which host started it. Absent in the CLI's old records.
    #[serde(deserialize_with = "lenient", skip_serializing_if = "Option::is_none")]
    pub host: Option<LaunchedBy>,
    /// The project file the melody came from, when the app started it from one.
    #[serde(deserialize_with = "lenient", skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
}

/// Which host started a run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum LaunchedBy {
    /// The app's host: the desktop app or `symphony serve`.
    App,
    /// A `symphony` command (`run`, `runs fork`).
    Cli,
}

impl RecordedOptions {
    /// Reads options as the store keeps them; anything that is not an object (a damaged or
    /// empty record) reads as the defaults.
    pub fn read(stored: &Value) -> RecordedOptions {
        match stored {
            Value::Object(_) => RecordedOptions::deserialize(stored).unwrap_or_else(|e| {
                // Unreachable with `lenient` on every field; kept so a record never stops a resume.
                tracing::warn!("a run's recorded options could not be read ({e}); using defaults");
                RecordedOptions::default()
            }),
            _ => RecordedOptions::default(),
        }
    }

    /// The options as the store keeps them.
    pub fn to_value(&self) -> Value {
        serde_json::to_value(self).expect("plain fields always serialize")
    }
}

/// Reads a field's value if it fits its type, else its default: an old or hand-edited record
/// never stops a run from resuming.
fn lenient<'de, D, T>(deserializer: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: serde::de::DeserializeOwned + Default,
{
    let value = Value::deserialize(deserializer)?;
    Ok(serde_json::from_value(value).unwrap_or_default())
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn set(steps: &[&str]) -> BTreeSet<String> {
        steps.iter().map(|s| (*s).to_owned()).collect()
    }

    #[test]
    fn the_clis_old_records_read() {
        let old = json!({
            "seed": 42,
            "maxParallel": 3,
            "fresh": true,
            "freshSteps": ["draft"],
            "given": ["idea"],
        });
        assert_eq!(
            RecordedOptions::read(&old),
            RecordedOptions {
                seed: 42,
                max_parallel: Some(3),
                fresh: true,
                fresh_steps: set(&["draft"]),
                given: set(&["idea"]),
                host: None,
                path: None,
            }
        );
        // `maxParallel` was written as null when not given.
        let unset = RecordedOptions::read(&json!({"seed": 1, "maxParallel": null, "fresh": false}));
        assert_eq!(unset.max_parallel, None);
        assert_eq!(unset.seed, 1);
    }

    #[test]
    fn the_apps_old_records_read() {
        let old = json!({
            "seed": 7,
            "host": "app",
            "path": "melodies/board.melody.json",
            "freshSteps": [],
            "given": ["save"],
        });
        assert_eq!(
            RecordedOptions::read(&old),
            RecordedOptions {
                seed: 7,
                max_parallel: None,
                fresh: false,
                fresh_steps: BTreeSet::new(),
                given: set(&["save"]),
                host: Some(LaunchedBy::App),
                path: Some("melodies/board.melody.json".into()),
            }
        );
        assert_eq!(
            RecordedOptions::read(&json!({"seed": 7, "host": "app", "path": null})).path,
            None
        );
    }

    #[test]
    fn odd_values_read_as_defaults_and_unknown_fields_are_ignored() {
        let odd = json!({
            "seed": -1,
            "maxParallel": 10_000_000_000u64,
            "fresh": "yes",
            "freshSteps": "draft",
            "host": "a future host",
            "somethingNew": {"a": 1},
        });
        assert_eq!(RecordedOptions::read(&odd), RecordedOptions::default());
        assert_eq!(
            RecordedOptions::read(&Value::Null),
            RecordedOptions::default()
        );
        assert_eq!(
            RecordedOptions::read(&json!([1])),
            RecordedOptions::default()
        );
    }

    #[test]
    fn what_is_written_reads_back_the_same() {
        let options = RecordedOptions {
            seed: u64::MAX,
            max_parallel: Some(2),
            fresh: false,
            fresh_steps: set(&["b"]),
            given: set(&["a", "c"]),
            host: Some(LaunchedBy::Cli),
            path: None,
        };
        let value = options.to_value();
        assert_eq!(
            value,
            json!({
                "seed": u64::MAX,
                "maxParallel": 2,
                "fresh": false,
                "freshSteps": ["b"],
                "given": ["a", "c"],
                "host": "cli",
            })
        );
        assert_eq!(RecordedOptions::read(&value), options);
    }
}
