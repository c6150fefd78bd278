//! Credentials: a melody names one (`"credential": "openai"`), the machine supplies its value.
//!
//! A [`Secret`] never prints: its `Debug` and `Display` show `***`, so a secret that slips into
//! a log line or an error message by formatting is still hidden. Code that must send it (an
//! HTTP header) calls [`Secret::expose`]; code that passes on text it did not write (a
//! provider's error body, which may echo the key) runs it through [`Secret::scrub`] first.
//!
//! Where values come from is a [`Credentials`] source; [`EnvCredentials`] reads the
//! environment. A [`Store`] keeps values the user set with `symphony credential set`: the OS
//! keychain when one answers ([`KeychainStore`]), else a file only the user can read
//! ([`FileStore`]); [`open`] picks one and says which. A [`Chain`] asks the environment first,
//! then the store.
//!
//! **Architecture Invariant:** a value never leaves this crate except through
//! [`Secret::expose`]: errors, listings and `Debug` output carry names only.

mod chain;
mod file;
mod keychain;
mod store;

use std::fmt;
use std::sync::Arc;

pub use chain::{Chain, UserCredentials};
pub use file::{FileStore, FILE_NAME};
pub use keychain::{Keychain, KeychainStore, MemoryKeychain, OsKeychain, SERVICE};
pub use store::{
    check_name, default_config_dir, open, user_config_file, Backend, Opened, Preference, Store,
    StoreCredentials, StoreError, StoreOptions, PROBE_TIMEOUT, STORE_VARIABLE,
};

/// A credential's value. Never shown by `Debug` or `Display`.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(Arc<str>);

impl Secret {
    /// Wraps a value.
    pub fn new(value: impl Into<Arc<str>>) -> Self {
        Secret(value.into())
    }

    /// The value, for the one place that must send it (a header, a child's environment).
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// Replaces every occurrence of the value in `text` with `***`. Values shorter than four
    /// characters are not searched for (they would match ordinary text and hide nothing).
    pub fn scrub(&self, text: &str) -> String {
        if self.0.len() < 4 {
            return text.to_owned();
        }
        text.replace(&*self.0, "***")
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(***)")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

/// Why a credential could not be had.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CredentialError {
    /// No source holds it.
    #[error("no credential `{name}`: looked in {}; set one of them", looked.join(", "))]
    Missing {
        /// The credential's name.
        name: String,
        /// Where it was looked for, for the person who has to set it.
        looked: Vec<String>,
    },
    /// A source failed while reading it.
    #[error("credential `{name}`: {message}")]
    Source {
        /// The credential's name.
        name: String,
        /// What went wrong, without the value.
        message: String,
    },
}

/// Somewhere credentials come from.
pub trait Credentials: Send + Sync {
    /// The value of the named credential.
    fn get(&self, name: &str) -> Result<Secret, CredentialError>;
}

/// Credentials from environment variables: `SYMPHONY_CREDENTIAL_<NAME>` (the name upper-cased,
/// non-alphanumerics as `_`), then the provider's usual variable for well-known names
/// (`openai` → `OPENAI_API_KEY`, `anthropic` → `ANTHROPIC_API_KEY`, …).
#[derive(Debug, Clone, Default)]
pub struct EnvCredentials;

impl EnvCredentials {
    /// The variables read for a name, in order.
    pub fn variables(name: &str) -> Vec<String> {
        let upper: String = name
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() {
                    c.to_ascii_uppercase()
                } else {
                    '_'
                }
            })
            .collect();
        let mut vars = vec![format!("SYMPHONY_CREDENTIAL_{upper}")];
        vars.extend(Self::usual_variable(name).map(str::to_owned));
        vars
    }

    /// The variable a provider's own tools read its key from, for the well-known credential
    /// names: those of the model instruments' wire formats (each format names its credential)
    /// and of the coding agents' providers. One table for both, so a key set once serves
    /// every step that names it.
    pub fn usual_variable(name: &str) -> Option<&'static str> {
        match name {
            "openai" => Some("OPENAI_API_KEY"),
            "anthropic" => Some("ANTHROPIC_API_KEY"),
            "openrouter" => Some("OPENROUTER_API_KEY"),
            "gemini" | "google" => Some("GEMINI_API_KEY"),
            _ => None,
        }
    }
}

impl Credentials for EnvCredentials {
    fn get(&self, name: &str) -> Result<Secret, CredentialError> {
        let looked = Self::variables(name);
        for var in &looked {
            if let Ok(value) = std::env::var(var) {
                if !value.is_empty() {
                    return Ok(Secret::new(value));
                }
            }
        }
        Err(CredentialError::Missing {
            name: name.to_owned(),
            looked: looked.iter().map(|v| format!("${v}")).collect(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_secret_never_formats_its_value() {
        let s = Secret::new("sk-sentinel-1234");
        assert_eq!(format!("{s}"), "***");
        assert_eq!(format!("{s:?}"), "Secret(***)");
        assert_eq!(s.expose(), "sk-sentinel-1234");
    }

    #[test]
    fn scrub_hides_every_occurrence() {
        let s = Secret::new("sk-sentinel-1234");
        assert_eq!(
            s.scrub("bad key sk-sentinel-1234 (sk-sentinel-1234)"),
            "bad key *** (***)"
        );
        assert_eq!(Secret::new("ab").scrub("abc"), "abc");
    }

    #[test]
    fn env_variables_are_named_after_the_credential() {
        assert_eq!(
            EnvCredentials::variables("openai"),
            ["SYMPHONY_CREDENTIAL_OPENAI", "OPENAI_API_KEY"]
        );
        assert_eq!(
            EnvCredentials::variables("my-local.llm"),
            ["SYMPHONY_CREDENTIAL_MY_LOCAL_LLM"]
        );
    }

    #[test]
    fn a_missing_credential_says_where_it_was_looked_for() {
        let e = EnvCredentials
            .get("symphony-test-never-set")
            .expect_err("not set");
        assert_eq!(
            e.to_string(),
            "no credential `symphony-test-never-set`: looked in $SYMPHONY_CREDENTIAL_SYMPHONY_TEST_NEVER_SET; set one of them"
        );
    }
}
