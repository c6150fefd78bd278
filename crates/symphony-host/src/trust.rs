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
use crate::wire::{PermissionFact, Permissions, Trusted};
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

/// Where the trust of a user whose run store is `store_path` is kept: beside a store file, or
/// in their data folder when the store is a Postgres database shared with others. One rule for
/// the app, `symphony serve` and the CLI, so trust given in one is seen by the others.
pub fn trust_file_for(store_path: &std::path::Path) -> PathBuf {
    if symphony_store::Store::is_postgres_location(store_path) {
        return symphony_store::Store::data_dir().join("trust.json");
    }
    store_path
        .parent()
        .map_or_else(|| PathBuf::from("trust.json"), |d| d.join("trust.json"))
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

    /// The file it is kept in.
    pub fn path(&self) -> &std::path::Path {
        &self.path
    }

    /// Whether this fingerprint is trusted.
    pub fn contains(&self, fingerprint: &str) -> Result<bool, HostError> {
        let _guard = self
            .lock
            .lock()
            .expect("the trust lock is never poisoned: nothing panics under it");
        Ok(self.read()?.trusted.contains_key(fingerprint))
    }

    /// Records a fingerprint as trusted for `melody_id` (its facts' steps, for a person reading
    /// the file). Only a host that asked a person calls this.
    pub fn add(
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

/// One thing a melody would do that a person must agree to before it runs: the concrete facts
/// the permissions view lists.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum Fact {
    /// A step runs a program on this machine.
    Command {
        /// The step.
        step: String,
        /// What runs, as the config says it (a preset and program, or a command line).
        line: String,
    },
    /// A step sends one of the user's credentials somewhere other than its provider's own API.
    Credential {
        /// The step.
        step: String,
        /// The credential's name.
        credential: String,
        /// Where it goes (a URL, possibly made of `{{references}}`).
        to: String,
    },
    /// A step sends data to an address the melody chose (an HTTP request, or a model server
    /// that is neither a provider's own API nor on this machine).
    Endpoint {
        /// The step.
        step: String,
        /// The address (a URL, possibly made of `{{references}}`).
        url: String,
    },
    /// `settings.network` lets HTTP steps reach private addresses or listed hosts.
    Network {
        /// Whether every private range is allowed.
        allow_private: bool,
        /// The hosts and ranges listed.
        allow_hosts: Vec<String>,
    },
}

impl Fact {
    /// The step it is about, if one.
    pub fn step(&self) -> Option<&str> {
        match self {
            Fact::Command { step, .. }
            | Fact::Credential { step, .. }
            | Fact::Endpoint { step, .. } => Some(step),
            Fact::Network { .. } => None,
        }
    }

    /// `command`, `credential`, `endpoint` or `network`.
    pub fn kind(&self) -> &'static str {
        match self {
            Fact::Command { .. } => "command",
            Fact::Credential { .. } => "credential",
            Fact::Endpoint { .. } => "endpoint",
            Fact::Network { .. } => "network",
        }
    }
}

impl std::fmt::Display for Fact {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Fact::Command { step, line } => write!(f, "{step} runs `{line}` on this machine"),
            Fact::Credential {
                step,
                credential,
                to,
            } => {
                write!(f, "{step} sends your credential `{credential}` to {to}")
            }
            Fact::Endpoint { step, url } => write!(f, "{step} sends data to {url}"),
            Fact::Network {
                allow_private,
                allow_hosts,
            } => {
                let mut reach = Vec::new();
                if *allow_private {
                    reach.push("every private and loopback address on your networks".to_owned());
                }
                if !allow_hosts.is_empty() {
                    reach.push(allow_hosts.join(", "));
                }
                write!(f, "its HTTP steps may reach {}", reach.join(" and "))
            }
        }
    }
}

/// What a melody would do that needs a person's trust, and the fingerprint of every field that
/// decides it (`None` when there is nothing to trust).
pub struct Assessment {
    /// The facts, in step order.
    pub facts: Vec<Fact>,
    /// SHA-256 of the fields that decide the facts; changing any asks again.
    pub fingerprint: Option<String>,
}

/// The host of an `http(s)://` URL (userinfo and port left out), lower case; `None` if the
/// text is not such a URL (a template, say).
fn host_of(url: &str) -> Option<String> {
    let rest = url
        .strip_prefix("https://")
        .or_else(|| url.strip_prefix("http://"))?;
    let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
    let host_port = authority.rsplit('@').next().unwrap_or_default();
    let host = if let Some(v6) = host_port.strip_prefix('[') {
        v6.split(']').next().unwrap_or_default()
    } else {
        host_port.split(':').next().unwrap_or_default()
    };
    (!host.is_empty()).then(|| host.to_ascii_lowercase())
}

/// Whether a URL points at this machine (a local model server such as Ollama).
fn is_loopback(url: &str) -> bool {
    match host_of(url) {
        Some(host) => {
            host == "localhost"
                || host == "::1"
                || host
                    .parse::<std::net::Ipv4Addr>()
                    .is_ok_and(|ip| ip.is_loopback())
        }
        None => false,
    }
}

/// A step's variants as they would play: the step itself, each fallback (its config merged
/// over the step's), and a map's body.
fn variants(step: &Step) -> Vec<(String, serde_json::Map<String, Value>)> {
    let mut out = vec![(step.type_name.clone(), step.config.clone())];
    for f in &step.policy.fallbacks {
        let mut config = step.config.clone();
        config.extend(f.config.clone());
        out.push((
            f.type_name
                .clone()
                .unwrap_or_else(|| step.type_name.clone()),
            config,
        ));
    }
    if let Some(body) = step.config.get("body").and_then(Value::as_object) {
        if let Some(t) = body.get("type").and_then(Value::as_str) {
            let config = body
                .get("config")
                .and_then(Value::as_object)
                .cloned()
                .unwrap_or_default();
            out.push((t.to_owned(), config));
        }
    }
    out
}

/// The config fields that decide what a variant of a step type reaches or runs.
const DECIDING: &[(&str, &[&str])] = &[
    ("instrument.chat", &["provider", "baseUrl", "credential"]),
    (
        "operator.http.request",
        &[
            "url",
            "method",
            "credential",
            "scheme",
            "credentialHeader",
            "headers",
            "query",
        ],
    ),
];

/// What `melody` would do that a person must trust first: programs it runs, credentials it
/// sends away from their provider, addresses it sends data to, and any widening of
/// `settings.network`. MCP servers will join this list when they exist.
pub fn assess(melody: &Melody, registry: &Registry) -> Assessment {
    let mut facts = Vec::new();
    let mut hasher = Sha256::new();
    let str_of = |c: &serde_json::Map<String, Value>, k: &str| {
        c.get(k).and_then(Value::as_str).map(str::to_owned)
    };
    for step in &melody.steps {
        let caps = capabilities_of(step, registry);
        let mut deciding: Vec<Value> = Vec::new();
        if caps.contains(&Capability::Command) {
            // A program: everything about the step decides what it does (where the box is
            // drawn and what it is called do not).
            let mut whole = step.clone();
            whole.name.clear();
            whole.description.clear();
            deciding.push(serde_json::to_value(&whole).expect("a step always serializes"));
            let c = &step.config;
            let line = match c.get("command").and_then(Value::as_array) {
                Some(argv) => argv
                    .iter()
                    .map(|a| a.as_str().map_or_else(|| a.to_string(), str::to_owned))
                    .collect::<Vec<_>>()
                    .join(" "),
                None => format!(
                    "{}{}",
                    str_of(c, "program")
                        .or_else(|| str_of(c, "preset"))
                        .unwrap_or_else(|| step.type_name.clone()),
                    c.get("args")
                        .and_then(Value::as_array)
                        .map_or_else(String::new, |a| format!(
                            " {}",
                            a.iter()
                                .map(|v| v.as_str().map_or_else(|| v.to_string(), str::to_owned))
                                .collect::<Vec<_>>()
                                .join(" ")
                        ))
                ),
            };
            facts.push(Fact::Command {
                step: step.id.clone(),
                line,
            });
        }
        for (type_name, config) in variants(step) {
            match type_name.as_str() {
                "instrument.chat" => {
                    // A chat step may send its format's own credential to the format's own
                    // API without asking: the user's key going to its own provider is what
                    // they set it up for.
                    let format = symphony_instruments::providers::named_or_default(
                        str_of(&config, "provider").as_deref(),
                    );
                    let (home_name, home_url) = (format.credential, format.default_base_url);
                    let url = str_of(&config, "baseUrl").unwrap_or_else(|| home_url.to_owned());
                    let at_home = url.trim_end_matches('/') == home_url;
                    // With no credential named, a chat step uses its provider's key at the
                    // provider's own URL, and none elsewhere.
                    let credential = str_of(&config, "credential")
                        .or_else(|| at_home.then(|| home_name.to_owned()));
                    match credential {
                        Some(c) if !(at_home && c == home_name) => facts.push(Fact::Credential {
                            step: step.id.clone(),
                            credential: c,
                            to: url.clone(),
                        }),
                        Some(_) => {}
                        None if !at_home && !is_loopback(&url) => facts.push(Fact::Endpoint {
                            step: step.id.clone(),
                            url: url.clone(),
                        }),
                        None => {}
                    }
                }
                "operator.http.request" => {
                    let url = str_of(&config, "url").unwrap_or_default();
                    facts.push(Fact::Endpoint {
                        step: step.id.clone(),
                        url: url.clone(),
                    });
                    if let Some(c) = str_of(&config, "credential") {
                        facts.push(Fact::Credential {
                            step: step.id.clone(),
                            credential: c,
                            to: url,
                        });
                    }
                }
                _ => {}
            }
            if let Some((_, fields)) = DECIDING.iter().find(|(t, _)| *t == type_name) {
                let picked: serde_json::Map<String, Value> = fields
                    .iter()
                    .filter_map(|f| config.get(*f).map(|v| ((*f).to_owned(), v.clone())))
                    .collect();
                deciding.push(serde_json::json!({"type": type_name, "config": picked}));
            }
        }
        if facts.iter().any(|f| f.step() == Some(step.id.as_str())) {
            hasher.update(step.id.as_bytes());
            hasher.update(b"\0");
            hasher.update(serde_json::to_vec(&deciding).expect("JSON always serializes"));
            hasher.update(b"\n");
        }
    }
    let network = &melody.settings.network;
    if network.allow_private || !network.allow_hosts.is_empty() {
        facts.push(Fact::Network {
            allow_private: network.allow_private,
            allow_hosts: network.allow_hosts.clone(),
        });
        hasher.update(serde_json::to_vec(network).expect("network settings always serialize"));
    }
    facts.dedup();
    let fingerprint = (!facts.is_empty()).then(|| {
        hasher
            .finalize()
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect()
    });
    Assessment { facts, fingerprint }
}

impl Host {
    /// `permissions`: step ids per capability, the concrete facts a person must trust (which
    /// program runs, which credential goes where, which addresses and ranges may be reached),
    /// and whether the melody may run.
    pub fn permissions(&self, melody: Value) -> Result<Permissions, HostError> {
        let melody = self.parse(melody)?;
        let assessment = assess(&melody, self.registry());
        let mut p = Permissions {
            network: Vec::new(),
            files: Vec::new(),
            commands: Vec::new(),
            secrets: Vec::new(),
            needs_trust: assessment.fingerprint.is_some(),
            trusted: self.trusted(&assessment)?,
            facts: assessment
                .facts
                .iter()
                .map(|f| PermissionFact {
                    kind: f.kind().to_owned(),
                    step: f.step().map(str::to_owned),
                    text: f.to_string(),
                })
                .collect(),
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

    /// Records that a person trusts this melody as it is now. Not an app command: only a host
    /// that asked a person (the desktop app's native dialog, the CLI's prompt or `--trust`,
    /// `symphony trust`) calls it; a web page cannot grant trust on its own.
    pub fn trust_melody(&self, melody: Value) -> Result<Trusted, HostError> {
        let melody = self.parse(melody)?;
        let assessment = assess(&melody, self.registry());
        if let Some(hash) = assessment.fingerprint {
            let steps = assessment
                .facts
                .iter()
                .filter_map(Fact::step)
                .map(str::to_owned)
                .collect();
            self.inner.trust.add(hash, &melody.melody.id, steps)?;
        }
        Ok(Trusted { trusted: true })
    }

    /// The facts of a melody, each a sentence, for a host that asks a person (a dialog, a
    /// terminal prompt).
    pub fn trust_facts(&self, melody: &Melody) -> Vec<String> {
        assess(melody, self.registry())
            .facts
            .iter()
            .map(ToString::to_string)
            .collect()
    }

    /// Whether the melody may run: it needs no trust, or it is trusted as it is.
    pub fn is_trusted(&self, melody: &Melody) -> Result<bool, HostError> {
        self.trusted(&assess(melody, self.registry()))
    }

    fn trusted(&self, assessment: &Assessment) -> Result<bool, HostError> {
        match &assessment.fingerprint {
            None => Ok(true),
            Some(hash) => self.inner.trust.contains(hash),
        }
    }

    /// Refuses a melody that needs trust the user has not given, saying what it would do.
    /// The decision is what the [`crate::launch::Launcher`] takes to play it.
    pub(crate) fn check_trusted(
        &self,
        melody: &Melody,
    ) -> Result<crate::launch::Trusted, HostError> {
        let assessment = assess(melody, self.registry());
        if self.trusted(&assessment)? {
            return Ok(crate::launch::Trusted::granted(&assessment));
        }
        Err(HostError::Untrusted {
            melody: melody.melody.id.clone(),
            facts: assessment
                .facts
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join("; "),
        })
    }
}
