//! Trust: a melody that runs commands on the machine plays only once the user has trusted it.
//!
//! What is trusted is a fingerprint of the melody's command-capable steps (their id, type,
//! config, ports and policy, canonical JSON, SHA-256), so moving boxes or editing a prompt
//! elsewhere keeps the trust, while changing what a command step does asks again. Trusted
//! fingerprints live in one JSON file in the user's data folder, never in the project (a
//! melody cannot bring its own trust). The file is private to the user (0600 on Unix, its
//! folder 0700 when Symphony creates it) and replaced atomically, never written through a link.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Mutex;

use serde::{Deserialize, Serialize};
use serde_json::Value;
use sha2::{Digest, Sha256};
use symphony_conductor::Registry;
use symphony_melody::{Capability, Melody, Step};

use crate::error::HostError;
use crate::wire::{Permissions, Trusted};
use crate::Host;

/// The trust file.
pub struct TrustStore {
    path: PathBuf,
    /// Serializes read-modify-write of the file within this process.
    lock: Mutex<()>,
}

#[derive(Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct TrustFile {
    version: u32,
    /// Fingerprint → the melody it was trusted for.
    trusted: BTreeMap<String, TrustedEntry>,
}

#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct TrustedEntry {
    melody_id: String,
    command_steps: Vec<String>,
    trusted_at_ms: u64,
}

impl TrustStore {
    /// The store kept in `path` (created on the first trust).
    pub fn new(path: PathBuf) -> TrustStore {
        TrustStore {
            path,
            lock: Mutex::new(()),
        }
    }

    fn read(&self) -> Result<TrustFile, HostError> {
        match std::fs::read(&self.path) {
            Ok(bytes) => serde_json::from_slice(&bytes).map_err(|e| HostError::Trust {
                path: self.path.clone(),
                why: format!("it is damaged ({e}); remove it and trust your melodies again"),
            }),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(TrustFile::default()),
            Err(e) => Err(HostError::Trust {
                path: self.path.clone(),
                why: e.to_string(),
            }),
        }
    }

    /// Whether this fingerprint is trusted.
    pub fn contains(&self, fingerprint: &str) -> Result<bool, HostError> {
        let _guard = self
            .lock
            .lock()
            .expect("the trust lock is never poisoned: nothing panics under it");
        Ok(self.read()?.trusted.contains_key(fingerprint))
    }

    fn add(
        &self,
        fingerprint: String,
        melody_id: &str,
        steps: Vec<String>,
    ) -> Result<(), HostError> {
        let _guard = self
            .lock
            .lock()
            .expect("the trust lock is never poisoned: nothing panics under it");
        let mut file = self.read()?;
        file.version = 1;
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_millis() as u64);
        file.trusted.insert(
            fingerprint,
            TrustedEntry {
                melody_id: melody_id.to_owned(),
                command_steps: steps,
                trusted_at_ms: now,
            },
        );
        let fail = |e: std::io::Error| HostError::Trust {
            path: self.path.clone(),
            why: e.to_string(),
        };
        if let Some(dir) = self.path.parent().filter(|d| !d.as_os_str().is_empty()) {
            create_private_dir(dir).map_err(fail)?;
        }
        let bytes = serde_json::to_vec_pretty(&file).expect("the trust file always serializes");
        // Private to the user (0600), through an exclusive, randomly named temporary file, so
        // a link planted beside the file is never written through.
        symphony_conductor::atomic::write_atomic(
            &self.path,
            &bytes,
            symphony_conductor::atomic::Access::Private,
        )
        .map_err(fail)
    }
}

/// Creates the trust file's folder, and any missing above it, private to the user (0700 on
/// Unix); a folder that exists is left as it is.
fn create_private_dir(dir: &std::path::Path) -> std::io::Result<()> {
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    builder.create(dir)
}

/// What each step may touch: its declared capabilities and those its type (and its
/// fallbacks' and map body's types) require.
fn capabilities_of(step: &Step, registry: &Registry) -> Vec<Capability> {
    let mut caps: Vec<Capability> = step.capabilities.iter().copied().collect();
    let mut types = vec![step.type_name.clone()];
    types.extend(
        step.policy
            .fallbacks
            .iter()
            .filter_map(|f| f.type_name.clone()),
    );
    if let Some(t) = step
        .config
        .get("body")
        .and_then(|b| b.get("type"))
        .and_then(Value::as_str)
    {
        types.push(t.to_owned());
    }
    for t in types {
        if let Some(entry) = registry.get(&t) {
            caps.extend(entry.spec.capabilities.iter().copied());
        }
    }
    caps.sort();
    caps.dedup();
    caps
}

/// The steps that run commands, and the fingerprint of what they do (`None` when there are
/// none: such a melody needs no trust).
pub fn command_fingerprint(melody: &Melody, registry: &Registry) -> Option<(String, Vec<String>)> {
    let steps: Vec<&Step> = melody
        .steps
        .iter()
        .filter(|s| capabilities_of(s, registry).contains(&Capability::Command))
        .collect();
    if steps.is_empty() {
        return None;
    }
    let mut hasher = Sha256::new();
    for step in &steps {
        let mut step = (*step).clone();
        // Where the box is drawn and what it is called do not change what it runs.
        step.name.clear();
        step.description.clear();
        hasher.update(serde_json::to_vec(&step).expect("a step always serializes"));
        hasher.update(b"\n");
    }
    let hash = hasher
        .finalize()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    Some((hash, steps.iter().map(|s| s.id.clone()).collect()))
}

impl Host {
    /// `permissions`: step ids per capability, and whether the melody may run.
    pub fn permissions(&self, melody: Value) -> Result<Permissions, HostError> {
        let melody = self.parse(melody)?;
        let mut p = Permissions {
            network: Vec::new(),
            files: Vec::new(),
            commands: Vec::new(),
            secrets: Vec::new(),
            trusted: self.is_trusted(&melody)?,
        };
        for step in &melody.steps {
            for cap in capabilities_of(step, self.registry()) {
                let list = match cap {
                    Capability::Network => &mut p.network,
                    Capability::Files => &mut p.files,
                    Capability::Command => &mut p.commands,
                    Capability::Secrets => &mut p.secrets,
                };
                list.push(step.id.clone());
            }
        }
        Ok(p)
    }

    /// `trustMelody`: remembers that the user trusts this melody's command steps as they are.
    pub fn trust_melody(&self, melody: Value) -> Result<Trusted, HostError> {
        let melody = self.parse(melody)?;
        if let Some((hash, steps)) = command_fingerprint(&melody, self.registry()) {
            self.inner.trust.add(hash, &melody.melody.id, steps)?;
        }
        Ok(Trusted { trusted: true })
    }

    /// Whether the melody may run: it runs no command, or its command steps are trusted.
    pub(crate) fn is_trusted(&self, melody: &Melody) -> Result<bool, HostError> {
        match command_fingerprint(melody, self.registry()) {
            None => Ok(true),
            Some((hash, _)) => self.inner.trust.contains(&hash),
        }
    }

    /// Refuses a melody whose command steps the user has not trusted.
    pub(crate) fn check_trusted(&self, melody: &Melody) -> Result<(), HostError> {
        match command_fingerprint(melody, self.registry()) {
            Some((hash, steps)) if !self.inner.trust.contains(&hash)? => {
                Err(HostError::Untrusted {
                    melody: melody.melody.id.clone(),
                    steps: steps.join(", "),
                })
            }
            _ => Ok(()),
        }
    }
}
