//! The OS keychain as a credential store: macOS Keychain, Windows Credential Manager, or the
//! freedesktop Secret Service on Linux (GNOME Keyring, KWallet), through the `keyring` crate.
//!
//! The keychain itself is behind the small [`Keychain`] trait, so tests run [`KeychainStore`]
//! against a [`MemoryKeychain`] and never touch the user's real keychain. [`OsKeychain`] is the
//! real one.
//!
//! Keychains cannot list their entries portably, so the store keeps the names it holds in one
//! more entry (`:index`, a JSON list of names; never values). A credential name cannot start
//! with `:`, so the index never collides with a credential.
//!
//! On Linux the Secret Service is reached over D-Bus with `zbus` (pure Rust, no system
//! library), driven by its own small executor rather than tokio, so a lookup never panics
//! inside a tokio runtime. It still blocks its thread (a locked keyring may wait for the user
//! to unlock it): async callers go through `spawn_blocking`.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Mutex;

use crate::store::{check_name, Backend, Store, StoreError};
use crate::Secret;

/// The keychain service every Symphony credential is filed under.
pub const SERVICE: &str = "symphony";

/// The entry that lists the names the store holds.
const INDEX: &str = ":index";

/// A keychain: text values filed by `(service, account)`. Implementations must be safe to call
/// from any thread; they may block.
pub trait Keychain: Send + Sync {
    /// The value filed under `account`, or `None` if there is none.
    fn get(&self, account: &str) -> Result<Option<String>, String>;
    /// Files `value` under `account`, replacing any previous value.
    fn set(&self, account: &str, value: &str) -> Result<(), String>;
    /// Removes the value under `account`; `false` if there was none.
    fn delete(&self, account: &str) -> Result<bool, String>;
    /// What this keychain is, for messages ("the Secret Service").
    fn describe(&self) -> String;
}

/// The machine's keychain, through the `keyring` crate, under the service [`SERVICE`].
#[derive(Debug, Clone, Default)]
pub struct OsKeychain;

#[cfg(any(target_os = "linux", target_os = "macos", windows))]
impl Keychain for OsKeychain {
    fn get(&self, account: &str) -> Result<Option<String>, String> {
        let entry = keyring::Entry::new(SERVICE, account).map_err(|e| e.to_string())?;
        match entry.get_password() {
            Ok(v) => Ok(Some(v)),
            Err(keyring::Error::NoEntry) => Ok(None),
            Err(e) => Err(e.to_string()),
        }
    }

    fn set(&self, account: &str, value: &str) -> Result<(), String> {
        keyring::Entry::new(SERVICE, account)
            .and_then(|e| e.set_password(value))
            .map_err(|e| e.to_string())
    }

    fn delete(&self, account: &str) -> Result<bool, String> {
        let entry = keyring::Entry::new(SERVICE, account).map_err(|e| e.to_string())?;
        match entry.delete_credential() {
            Ok(()) => Ok(true),
            Err(keyring::Error::NoEntry) => Ok(false),
            Err(e) => Err(e.to_string()),
        }
    }

    fn describe(&self) -> String {
        if cfg!(target_os = "macos") {
            "the macOS Keychain".into()
        } else if cfg!(windows) {
            "the Windows Credential Manager".into()
        } else {
            "the Secret Service keyring".into()
        }
    }
}

#[cfg(not(any(target_os = "linux", target_os = "macos", windows)))]
impl Keychain for OsKeychain {
    fn get(&self, _account: &str) -> Result<Option<String>, String> {
        Err("this platform has no supported keychain".into())
    }
    fn set(&self, _account: &str, _value: &str) -> Result<(), String> {
        Err("this platform has no supported keychain".into())
    }
    fn delete(&self, _account: &str) -> Result<bool, String> {
        Err("this platform has no supported keychain".into())
    }
    fn describe(&self) -> String {
        "no keychain".into()
    }
}

/// A keychain in memory: for tests, and for hosts that hold credentials only for a session.
#[derive(Debug, Default)]
pub struct MemoryKeychain {
    // A std mutex: every call is short and never awaits.
    entries: Mutex<BTreeMap<String, String>>,
}

impl MemoryKeychain {
    fn entries(&self) -> std::sync::MutexGuard<'_, BTreeMap<String, String>> {
        // A poisoned map is still a consistent map: every write is a single insert or remove.
        self.entries.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The accounts filed, for tests that check what reached the keychain.
    pub fn accounts(&self) -> Vec<String> {
        self.entries().keys().cloned().collect()
    }
}

impl Keychain for MemoryKeychain {
    fn get(&self, account: &str) -> Result<Option<String>, String> {
        Ok(self.entries().get(account).cloned())
    }
    fn set(&self, account: &str, value: &str) -> Result<(), String> {
        self.entries().insert(account.into(), value.into());
        Ok(())
    }
    fn delete(&self, account: &str) -> Result<bool, String> {
        Ok(self.entries().remove(account).is_some())
    }
    fn describe(&self) -> String {
        "an in-memory keychain".into()
    }
}

/// Credentials kept in a [`Keychain`], one entry per name plus the index of names.
pub struct KeychainStore {
    keychain: Box<dyn Keychain>,
    // Serializes read-modify-write of the index within this process.
    index_lock: Mutex<()>,
}

impl KeychainStore {
    /// A store over this keychain.
    pub fn new(keychain: Box<dyn Keychain>) -> Self {
        KeychainStore {
            keychain,
            index_lock: Mutex::new(()),
        }
    }

    /// Asks the keychain for the index once, to learn whether a keychain service answers.
    pub fn probe(&self) -> Result<(), String> {
        self.keychain.get(INDEX).map(|_| ())
    }

    fn failed(&self, name: &str, what: &str, message: String) -> StoreError {
        StoreError::Keychain {
            name: name.to_owned(),
            keychain: self.keychain.describe(),
            message: format!("{what}: {message}"),
        }
    }

    fn index(&self) -> Result<BTreeSet<String>, StoreError> {
        let text = self
            .keychain
            .get(INDEX)
            .map_err(|e| self.failed(INDEX, "reading the list of names", e))?;
        match text {
            None => Ok(BTreeSet::new()),
            Some(t) => serde_json::from_str(&t).map_err(|e| {
                self.failed(
                    INDEX,
                    "reading the list of names",
                    format!("it is not a JSON list of names ({e}); remove the `{INDEX}` entry of service `{SERVICE}` to rebuild it"),
                )
            }),
        }
    }

    fn write_index(&self, names: &BTreeSet<String>) -> Result<(), StoreError> {
        let text = serde_json::to_string(names).expect("a set of strings always serializes");
        self.keychain
            .set(INDEX, &text)
            .map_err(|e| self.failed(INDEX, "writing the list of names", e))
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, ()> {
        self.index_lock.lock().unwrap_or_else(|p| p.into_inner())
    }
}

impl Store for KeychainStore {
    fn backend(&self) -> Backend {
        Backend::Keychain
    }

    fn describe(&self) -> String {
        format!("{} (service `{SERVICE}`)", self.keychain.describe())
    }

    fn get(&self, name: &str) -> Result<Option<Secret>, StoreError> {
        check_name(name)?;
        self.keychain
            .get(name)
            .map(|v| v.map(Secret::new))
            .map_err(|e| self.failed(name, "reading", e))
    }

    fn set(&self, name: &str, value: &Secret) -> Result<(), StoreError> {
        check_name(name)?;
        let _guard = self.lock();
        self.keychain
            .set(name, value.expose())
            .map_err(|e| self.failed(name, "writing", value.scrub(&e)))?;
        let mut names = self.index()?;
        if names.insert(name.to_owned()) {
            self.write_index(&names)?;
        }
        Ok(())
    }

    fn remove(&self, name: &str) -> Result<bool, StoreError> {
        check_name(name)?;
        let _guard = self.lock();
        let removed = self
            .keychain
            .delete(name)
            .map_err(|e| self.failed(name, "removing", e))?;
        let mut names = self.index()?;
        if names.remove(name) {
            self.write_index(&names)?;
        }
        Ok(removed)
    }

    fn list(&self) -> Result<Vec<String>, StoreError> {
        Ok(self.index()?.into_iter().collect())
    }
}
