//! [`Chain`]: several credential sources asked in order, the first that has the name wins.
//!
//! The usual chain is the environment first, then the store (keychain or file), so a CI job or
//! a one-off shell can override a stored credential without changing it.

use std::sync::Arc;

use crate::store::{Opened, StoreCredentials};
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
