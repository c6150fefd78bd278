//! Problems found in a melody, each pointing at the file, the step and the field.
//!
//! Loading and validation never stop at the first problem: a person fixing a file wants the
//! whole list at once. A problem prints as `file: steps.plan.config.model: expected a string`.

use std::fmt;
use std::sync::Arc;

use serde::Serialize;

/// One thing wrong with a melody.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "camelCase")]
pub struct Problem {
    /// The file it was found in, when known.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "ts", ts(optional))]
    pub file: Option<Arc<str>>,
    /// The step it concerns, when it concerns one.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "ts", ts(optional))]
    pub step: Option<String>,
    /// The field path, e.g. `steps.plan.config.model` or `edges[2].to`.
    pub path: String,
    /// What is wrong, and where it helps, what to do.
    pub message: String,
}

impl Problem {
    /// A problem at a top-level path.
    pub fn at(path: impl Into<String>, message: impl Into<String>) -> Self {
        Problem {
            file: None,
            step: None,
            path: path.into(),
            message: message.into(),
        }
    }

    /// A problem in step `step`, at `field` relative to the step (`config.model`); an empty
    /// field points at the step itself.
    pub fn in_step(step: &str, field: &str, message: impl Into<String>) -> Self {
        let path = if field.is_empty() {
            format!("steps.{step}")
        } else {
            format!("steps.{step}.{field}")
        };
        Problem {
            file: None,
            step: Some(step.to_owned()),
            path,
            message: message.into(),
        }
    }
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(file) = &self.file {
            write!(f, "{file}: ")?;
        }
        if self.path.is_empty() {
            write!(f, "{}", self.message)
        } else {
            write!(f, "{}: {}", self.path, self.message)
        }
    }
}

/// Every problem found in one melody. Never empty.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct Problems(Vec<Problem>);

impl Problems {
    /// Wraps a non-empty list.
    pub fn new(problems: Vec<Problem>) -> Self {
        debug_assert!(!problems.is_empty(), "Problems is never empty");
        Problems(problems)
    }

    /// Marks every problem as found in `file`.
    pub fn in_file(mut self, file: &str) -> Self {
        let file: Arc<str> = Arc::from(file);
        for p in &mut self.0 {
            p.file = Some(file.clone());
        }
        self
    }

    /// The problems, in the order found.
    pub fn iter(&self) -> std::slice::Iter<'_, Problem> {
        self.0.iter()
    }

    /// How many there are.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Always false; present for clippy's `len_without_is_empty`.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The underlying list.
    pub fn into_vec(self) -> Vec<Problem> {
        self.0
    }
}

impl fmt::Display for Problems {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, p) in self.0.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            write!(f, "{p}")?;
        }
        Ok(())
    }
}

impl IntoIterator for Problems {
    type Item = Problem;
    type IntoIter = std::vec::IntoIter<Problem>;
    fn into_iter(self) -> Self::IntoIter {
        self.0.into_iter()
    }
}

/// The closest of `candidates` to `word`, if one is close enough to suggest.
pub fn did_you_mean<'a>(word: &str, candidates: impl IntoIterator<Item = &'a str>) -> String {
    let best = candidates
        .into_iter()
        .map(|c| (strsim::jaro_winkler(word, c), c))
        .filter(|(score, _)| *score > 0.8)
        .max_by(|a, b| a.0.total_cmp(&b.0));
    match best {
        Some((_, c)) => format!("; did you mean `{c}`?"),
        None => String::new(),
    }
}
