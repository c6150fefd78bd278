//! Where `symphony credential set` keeps values: the OS keychain when one answers, else a file
//! only the user can read. [`open`] picks one and says which, so a host can warn when it is the
//! plain file.
//!
//! A [`Store`] sets, removes and lists credentials by name; listing gives names, never values.
//! Every store is also a [`Credentials`] source (through [`StoreCredentials`]), so a
//! [`Chain`](crate::Chain) can read the environment first and the store next.

use std::fmt;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use crate::file::FileStore;
use crate::keychain::{Keychain, KeychainStore, OsKeychain};
use crate::{CredentialError, Credentials, Secret};

/// The environment variable that picks the store: `auto` (default), `keychain` or `file`.
pub const STORE_VARIABLE: &str = "SYMPHONY_CREDENTIAL_STORE";

/// How long [`open`] waits for a keychain service to answer before using the file.
pub const PROBE_TIMEOUT: Duration = Duration::from_secs(3);

/// Which kind of store holds the credentials.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// The OS keychain (encrypted at rest, unlocked with the user's session).
    Keychain,
    /// A JSON file readable only by the user (mode 0600): plain text on disk.
    File,
}

impl fmt::Display for Backend {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Backend::Keychain => "keychain",
            Backend::File => "file",
        })
    }
}

/// Why a store could not do what was asked. Never carries a credential's value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StoreError {
    /// The name cannot be a credential name.
    #[error("`{name}` is not a credential name: {why}")]
    BadName {
        /// The name given.
        name: String,
        /// What is wrong with it.
        why: String,
    },
    /// The keychain refused or failed.
    #[error("credential `{name}` in {keychain}: {message}")]
    Keychain {
        /// The credential's name.
        name: String,
        /// Which keychain.
        keychain: String,
        /// What went wrong.
        message: String,
    },
    /// The credentials file could not be read or written.
    #[error("credentials file `{}`: {message}", path.display())]
    File {
        /// The file.
        path: PathBuf,
        /// What went wrong and what to do.
        message: String,
    },
    /// The credentials file may be read by other users; it is not read until that is fixed.
    #[error(
        "credentials file `{}` can be read or changed by other users (mode {mode:04o}); Symphony reads it only when it is private to you: run `chmod 600 '{}'`, and replace the credentials in it if someone else may have read them",
        path.display(), path.display()
    )]
    Permissions {
        /// The file.
        path: PathBuf,
        /// Its permission bits.
        mode: u32,
    },
    /// No keychain answered, and the keychain was asked for.
    #[error("{keychain} is not available: {message}")]
    NoKeychain {
        /// Which keychain.
        keychain: String,
        /// Why, and what to do.
        message: String,
    },
    /// `$SYMPHONY_CREDENTIAL_STORE` holds something other than `auto`, `keychain` or `file`.
    #[error("$SYMPHONY_CREDENTIAL_STORE is `{0}`; set it to `auto`, `keychain` or `file`")]
    BadPreference(String),
    /// No home or config folder is known, so there is nowhere to keep the file.
    #[error("no folder for the credentials file: set $XDG_CONFIG_HOME or $HOME")]
    NoConfigDir,
}

/// Checks that `name` can name a credential: 1 to 64 characters, letters, digits, `_`, `-`
/// and `.`, starting with a letter or digit.
pub fn check_name(name: &str) -> Result<(), StoreError> {
    let bad = |why: &str| {
        Err(StoreError::BadName {
            name: name.to_owned(),
            why: why.to_owned(),
        })
    };
    if name.is_empty() || name.len() > 64 {
        return bad("use 1 to 64 characters");
    }
    if !name.starts_with(|c: char| c.is_ascii_alphanumeric()) {
        return bad("start with a letter or a digit");
    }
    if !name
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'))
    {
        return bad("use only letters, digits, `_`, `-` and `.`");
    }
    Ok(())
}

/// A place credentials are kept.
pub trait Store: Send + Sync {
    /// Which kind of store this is.
    fn backend(&self) -> Backend;
    /// Where the credentials are, for messages ("the Secret Service keyring", a file path).
    fn describe(&self) -> String;
    /// The value of a credential, or `None` if the store has none by that name.
    fn get(&self, name: &str) -> Result<Option<Secret>, StoreError>;
    /// Keeps a value under `name`, replacing any previous one.
    fn set(&self, name: &str, value: &Secret) -> Result<(), StoreError>;
    /// Removes a credential; `false` if there was none by that name.
    fn remove(&self, name: &str) -> Result<bool, StoreError>;
    /// The names of the credentials kept, sorted. Never their values.
    fn list(&self) -> Result<Vec<String>, StoreError>;
}

/// A [`Store`] read as a [`Credentials`] source.
#[derive(Clone)]
pub struct StoreCredentials(pub Arc<dyn Store>);

impl Credentials for StoreCredentials {
    fn get(&self, name: &str) -> Result<Secret, CredentialError> {
        match self.0.get(name) {
            Ok(Some(secret)) => Ok(secret),
            Ok(None) => Err(CredentialError::Missing {
                name: name.to_owned(),
                looked: vec![format!(
                    "{} (`symphony credential set {name}`)",
                    self.0.describe()
                )],
            }),
            Err(e) => Err(CredentialError::Source {
                name: name.to_owned(),
                message: e.to_string(),
            }),
        }
    }
}

/// Which store [`open`] should use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Preference {
    /// The keychain if one answers, else the file.
    #[default]
    Auto,
    /// Only the keychain; fail if none answers.
    Keychain,
    /// Only the file.
    File,
}

impl Preference {
    /// Reads `auto`, `keychain` or `file`.
    pub fn parse(text: &str) -> Option<Preference> {
        match text.trim().to_ascii_lowercase().as_str() {
            "" | "auto" => Some(Preference::Auto),
            "keychain" => Some(Preference::Keychain),
            "file" => Some(Preference::File),
            _ => None,
        }
    }
}

/// What [`open`] needs: the folder of the credentials file, the keychain to try, and which to
/// prefer. Tests build one with a temporary folder and a [`MemoryKeychain`](crate::MemoryKeychain)
/// (or none), so they never touch the user's keychain.
pub struct StoreOptions {
    /// The folder holding `credentials.json` (usually `$XDG_CONFIG_HOME/symphony`).
    pub config_dir: Option<PathBuf>,
    /// The keychain to try; `None` means there is none.
    pub keychain: Option<Box<dyn Keychain>>,
    /// Which store to use.
    pub preference: Preference,
}

impl StoreOptions {
    /// The user's settings: the config folder from `$XDG_CONFIG_HOME` (else `~/.config`), the
    /// OS keychain, and the preference from `$SYMPHONY_CREDENTIAL_STORE`.
    pub fn from_env() -> Result<StoreOptions, StoreError> {
        let preference = match std::env::var(STORE_VARIABLE) {
            Ok(v) => Preference::parse(&v).ok_or(StoreError::BadPreference(v))?,
            Err(_) => Preference::Auto,
        };
        Ok(StoreOptions {
            config_dir: default_config_dir(),
            keychain: Some(Box::new(OsKeychain)),
            preference,
        })
    }
}

/// `$XDG_CONFIG_HOME/symphony`, else `$HOME/.config/symphony` (on Windows `%APPDATA%\symphony`).
pub fn default_config_dir() -> Option<PathBuf> {
    let non_empty = |v: &str| {
        std::env::var_os(v)
            .filter(|s| !s.is_empty())
            .map(PathBuf::from)
    };
    non_empty("XDG_CONFIG_HOME")
        .filter(|p| p.is_absolute())
        .or_else(|| non_empty("HOME").map(|h| h.join(".config")))
        .or_else(|| non_empty("APPDATA"))
        .map(|base| base.join("symphony"))
}

/// A settings file of the user's: the path in `$variable` when set, else `name` in
/// [`default_config_dir`] (where the price and limits files live, beside the credentials).
pub fn user_config_file(variable: &str, name: &str) -> Option<PathBuf> {
    if let Some(p) = std::env::var_os(variable).filter(|p| !p.is_empty()) {
        return Some(PathBuf::from(p));
    }
    default_config_dir().map(|dir| dir.join(name))
}

/// The store [`open`] chose, and what a host should tell the user about it.
pub struct Opened {
    /// The store.
    pub store: Arc<dyn Store>,
    /// Which kind it is.
    pub backend: Backend,
    /// Set when the store is the plain file: say it, so the user knows the values are not
    /// encrypted at rest.
    pub warning: Option<String>,
}

/// Opens the keychain if one answers within [`PROBE_TIMEOUT`], else the credentials file.
pub fn open(options: StoreOptions) -> Result<Opened, StoreError> {
    let file = || {
        options
            .config_dir
            .clone()
            .map(FileStore::in_dir)
            .ok_or(StoreError::NoConfigDir)
    };
    let why_not_keychain = match (options.preference, options.keychain) {
        (Preference::File, _) => "the file store was asked for".to_owned(),
        (pref, Some(keychain)) => {
            let described = keychain.describe();
            let store = Arc::new(KeychainStore::new(keychain));
            match probe(store.clone()) {
                Ok(()) => {
                    return Ok(Opened {
                        store,
                        backend: Backend::Keychain,
                        warning: None,
                    })
                }
                Err(e) if pref == Preference::Keychain => {
                    let message = format!(
                        "it does not answer ({e}); unset ${STORE_VARIABLE} to use the file instead"
                    );
                    return Err(StoreError::NoKeychain {
                        keychain: described,
                        message,
                    });
                }
                Err(e) => format!("{described} does not answer: {e}"),
            }
        }
        (Preference::Keychain, None) => {
            return Err(StoreError::NoKeychain {
                keychain: "the keychain".into(),
                message: "this build has none".into(),
            })
        }
        (Preference::Auto, None) => "this build has no keychain".to_owned(),
    };
    let store = file()?;
    let warning = format!(
        "credentials are kept in the plain file `{}` (readable only by you, but not encrypted): {why_not_keychain}",
        store.path().display()
    );
    Ok(Opened {
        store: Arc::new(store),
        backend: Backend::File,
        warning: Some(warning),
    })
}

/// Asks the keychain once, on a thread of its own, and gives up after [`PROBE_TIMEOUT`]: a
/// session bus with no keyring daemon may leave the call waiting.
fn probe(store: Arc<KeychainStore>) -> Result<(), String> {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::Builder::new()
        .name("keychain-probe".into())
        .spawn(move || {
            let _ = tx.send(store.probe());
        })
        .map_err(|e| format!("cannot start the probe: {e}"))?;
    rx.recv_timeout(PROBE_TIMEOUT).unwrap_or_else(|_| {
        Err(format!(
            "no answer within {} seconds",
            PROBE_TIMEOUT.as_secs()
        ))
    })
}
