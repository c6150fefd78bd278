//! [`Chain`]: several credential sources asked in order, the first that has the name wins.
//!
//! The usual chain is the environment first, then the store (keychain or file), so a CI job or
//! a one-off shell can override a stored credential without changing it.

use std::sync::{Arc, OnceLock};

use crate::store::{open, Opened, Store, StoreCredentials, StoreOptions};
use crate::{CredentialError, Credentials, EnvCredentials, Secret};

/// Sources asked in order.
#[derive(Clone)]
pub struct Chain {
    sources: Vec<Arc<dyn Credentials>>,
}

impl Chain {
    /// A chain of these sources, asked in this order.
    pub fn new(sources: Vec<Arc<dyn Credentials>>) -> Self {
        Chain { sources }
    }

    /// The environment ([`EnvCredentials`]), then the opened store.
    pub fn standard(opened: &Opened) -> Self {
        Chain::new(vec![
            Arc::new(EnvCredentials),
            Arc::new(StoreCredentials(opened.store.clone())),
        ])
    }
}

impl Credentials for Chain {
    /// The first source holding the name answers. When none does, a source that failed
    /// (an unreadable file, a locked keychain) is reported before "missing", since fixing it
    /// is what the user needs to do; otherwise the error lists every place looked in.
    fn get(&self, name: &str) -> Result<Secret, CredentialError> {
        let mut looked = Vec::new();
        let mut failed = None;
        for source in &self.sources {
            match source.get(name) {
                Ok(secret) => return Ok(secret),
                Err(CredentialError::Missing { looked: l, .. }) => looked.extend(l),
                Err(e @ CredentialError::Source { .. }) => {
                    failed.get_or_insert(e);
                }
            }
        }
        Err(failed.unwrap_or(CredentialError::Missing {
            name: name.to_owned(),
            looked,
        }))
    }
}

/// The user's credentials as a host wants them: the environment, then the store of
/// [`StoreOptions::from_env`], opened on first use. A command that never reads a credential
/// (`validate`, `plan`) never probes the keychain; one that does pays the probe once.
#[derive(Default)]
pub struct UserCredentials {
    // Opened once; an error is kept too, so a missing keychain is not probed again per step.
    store: OnceLock<Result<Arc<dyn Store>, String>>,
}

impl UserCredentials {
    /// Credentials from the environment and the user's store.
    pub fn new() -> Self {
        UserCredentials::default()
    }
}

impl Credentials for UserCredentials {
    fn get(&self, name: &str) -> Result<Secret, CredentialError> {
        let env = match EnvCredentials.get(name) {
            Ok(secret) => return Ok(secret),
            Err(e) => e,
        };
        let store = self.store.get_or_init(|| {
            StoreOptions::from_env()
                .and_then(open)
                .map(|o| o.store)
                .map_err(|e| e.to_string())
        });
        match store {
            Ok(store) => Chain::new(vec![
                Arc::new(EnvCredentials),
                Arc::new(StoreCredentials(store.clone())),
            ])
            .get(name),
            Err(message) => Err(match env {
                CredentialError::Missing { looked, .. } => CredentialError::Source {
                    name: name.to_owned(),
                    message: format!(
                        "not in {}, and the credential store cannot be opened: {message}",
                        looked.join(", ")
                    ),
                },
                other => other,
            }),
        }
    }
}
