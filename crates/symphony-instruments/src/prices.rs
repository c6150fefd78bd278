//! What model calls cost: USD per million input and output tokens, per model.
//!
//! A built-in table covers the common hosted models (prices as published by the providers
//! when this table was written; they change, so the user's file wins). The user's file is
//! JSON, `{"model": {"input": 2.5, "output": 10.0}}`, read from `$SYMPHONY_PRICES` if set,
//! else `prices.json` beside the credentials file (`$XDG_CONFIG_HOME/symphony/`, else
//! `~/.config/symphony/`; see `symphony_credentials::default_config_dir`).
//! Local models are not in the built-in table: give them `{"input": 0, "output": 0}` in the
//! file to see a cost of zero rather than "unknown".
//!
//! A model matches an entry by its exact name, then by the name after the last `/`
//! (OpenRouter's `openai/gpt-4o`), then as a dated snapshot of an entry (`gpt-4o-2024-08-06`,
//! `claude-sonnet-4-20250514`, `claude-3-5-haiku-latest`). A model that matches nothing has
//! no price, and its cost is `None`, never a guess.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

/// USD per million tokens.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Price {
    /// Per million input (prompt) tokens.
    pub input: f64,
    /// Per million output (completion) tokens.
    pub output: f64,
}

/// Prices by model name.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct PriceTable {
    models: BTreeMap<String, Price>,
}

/// A price file that cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum PriceError {
    /// The file exists but cannot be read.
    #[error("cannot read the price file `{path}`: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The file is not a price table.
    #[error("the price file `{path}` is not a price table ({message}); expected {{\"model-name\": {{\"input\": USD per million, \"output\": USD per million}}}}")]
    Parse {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
}

/// The built-in table: (model, input, output) in USD per million tokens.
const BUILTIN: &[(&str, f64, f64)] = &[
    ("gpt-5", 1.25, 10.0),
    ("gpt-5-mini", 0.25, 2.0),
    ("gpt-5-nano", 0.05, 0.40),
    ("gpt-4.1", 2.0, 8.0),
    ("gpt-4.1-mini", 0.40, 1.60),
    ("gpt-4.1-nano", 0.10, 0.40),
    ("gpt-4o", 2.50, 10.0),
    ("gpt-4o-mini", 0.15, 0.60),
    ("gpt-4-turbo", 10.0, 30.0),
    ("gpt-3.5-turbo", 0.50, 1.50),
    ("o1", 15.0, 60.0),
    ("o1-mini", 1.10, 4.40),
    ("o3", 2.0, 8.0),
    ("o3-mini", 1.10, 4.40),
    ("o4-mini", 1.10, 4.40),
    ("claude-opus-4-5", 5.0, 25.0),
    ("claude-opus-4-1", 15.0, 75.0),
    ("claude-opus-4", 15.0, 75.0),
    ("claude-sonnet-4-5", 3.0, 15.0),
    ("claude-sonnet-4", 3.0, 15.0),
    ("claude-3-7-sonnet", 3.0, 15.0),
    ("claude-3-5-sonnet", 3.0, 15.0),
    ("claude-haiku-4-5", 1.0, 5.0),
    ("claude-3-5-haiku", 0.80, 4.0),
    ("claude-3-haiku", 0.25, 1.25),
    ("claude-3-opus", 15.0, 75.0),
];

impl PriceTable {
    /// The built-in table.
    pub fn builtin() -> Self {
        PriceTable {
            models: BUILTIN
                .iter()
                .map(|&(m, input, output)| (m.to_owned(), Price { input, output }))
                .collect(),
        }
    }

    /// An empty table (every cost unknown).
    pub fn empty() -> Self {
        PriceTable::default()
    }

    /// A table from price-file JSON.
    pub fn from_json(text: &str, path: &Path) -> Result<Self, PriceError> {
        let models: BTreeMap<String, Price> =
            serde_json::from_str(text).map_err(|e| PriceError::Parse {
                path: path.to_owned(),
                message: e.to_string(),
            })?;
        if let Some((m, _)) = models.iter().find(|(_, p)| {
            !(p.input >= 0.0 && p.output >= 0.0 && p.input.is_finite() && p.output.is_finite())
        }) {
            return Err(PriceError::Parse {
                path: path.to_owned(),
                message: format!("`{m}` has a negative or non-finite price"),
            });
        }
        Ok(PriceTable { models })
    }

    /// This table with `other`'s entries added, replacing any of the same model.
    pub fn merged(mut self, other: PriceTable) -> Self {
        self.models.extend(other.models);
        self
    }

    /// Adds or replaces one model's price.
    pub fn set(&mut self, model: &str, price: Price) {
        self.models.insert(model.to_owned(), price);
    }

    /// Where the user's price file is looked for, if a home or config folder is known.
    pub fn user_file() -> Option<PathBuf> {
        symphony_credentials::user_config_file("SYMPHONY_PRICES", "prices.json")
    }

    /// The built-in table with the user's file (if there is one) over it.
    pub fn load() -> Result<Self, PriceError> {
        let table = PriceTable::builtin();
        let Some(path) = PriceTable::user_file() else {
            return Ok(table);
        };
        match std::fs::read_to_string(&path) {
            Ok(text) => Ok(table.merged(PriceTable::from_json(&text, &path)?)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(table),
            Err(source) => Err(PriceError::Read { path, source }),
        }
    }

    /// The price of a model, if known.
    pub fn price(&self, model: &str) -> Option<Price> {
        let exact = |m: &str| self.models.get(m).copied();
        let snapshot = |m: &str| {
            // The longest entry the model is a dated or `-latest` snapshot of.
            self.models
                .iter()
                .filter(|(name, _)| {
                    m.strip_prefix(name.as_str())
                        .and_then(|rest| rest.strip_prefix('-'))
                        .is_some_and(|rest| {
                            rest == "latest" || rest.starts_with(|c: char| c.is_ascii_digit())
                        })
                })
                .max_by_key(|(name, _)| name.len())
                .map(|(_, p)| *p)
        };
        let short = model.rsplit('/').next().unwrap_or(model);
        exact(model)
            .or_else(|| exact(short))
            .or_else(|| snapshot(model))
            .or_else(|| snapshot(short))
    }

    /// The cost in USD of a call, if the model's price is known.
    pub fn cost(&self, model: &str, input_tokens: u64, output_tokens: u64) -> Option<f64> {
        self.price(model).map(|p| {
            (input_tokens as f64 * p.input + output_tokens as f64 * p.output) / 1_000_000.0
        })
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn models_match_exactly_then_by_short_name_then_as_snapshots() {
        let t = PriceTable::builtin();
        assert_eq!(t.price("gpt-4o-mini").unwrap().input, 0.15);
        assert_eq!(t.price("gpt-4o-mini-2024-07-18").unwrap().input, 0.15);
        assert_eq!(t.price("gpt-4o-2024-08-06").unwrap().input, 2.5);
        assert_eq!(t.price("openai/gpt-4o").unwrap().output, 10.0);
        assert_eq!(t.price("claude-sonnet-4-20250514").unwrap().input, 3.0);
        assert_eq!(t.price("claude-3-5-haiku-latest").unwrap().input, 0.8);
        // Not a snapshot of o3: a different model with a different price.
        assert_eq!(t.price("o3-pro"), None);
        assert_eq!(t.price("llama3.2:3b"), None);
    }

    #[test]
    fn cost_is_per_million_tokens() {
        let t = PriceTable::builtin();
        let c = t.cost("gpt-4o-mini", 1_000_000, 500_000).unwrap();
        assert!((c - 0.45).abs() < 1e-12, "{c}");
        assert_eq!(t.cost("my-local-model", 10, 10), None);
    }

    #[test]
    fn the_user_file_adds_and_replaces_prices() {
        let path = Path::new("prices.json");
        let user = PriceTable::from_json(
            r#"{"llama3.2": {"input": 0, "output": 0}, "gpt-4o": {"input": 1, "output": 2}}"#,
            path,
        )
        .unwrap();
        let t = PriceTable::builtin().merged(user);
        assert_eq!(t.cost("llama3.2", 100, 100), Some(0.0));
        assert_eq!(t.price("gpt-4o").unwrap().output, 2.0);
        let e = PriceTable::from_json(r#"{"x": {"input": -1, "output": 0}}"#, path).unwrap_err();
        assert!(e.to_string().contains("`x` has a negative"), "{e}");
        let e = PriceTable::from_json(r#"{"x": 3}"#, path).unwrap_err();
        assert!(e.to_string().contains("prices.json"), "{e}");
    }
}
