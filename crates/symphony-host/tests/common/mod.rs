//! What the host's integration tests share: a project folder with the repository's example
//! melodies, a host over it (offline, its store and trust file in a folder of their own), and
//! helpers to wait for run events.

#![allow(dead_code)] // Each test file uses some of these.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use serde_json::Value;
use symphony_credentials::{CredentialError, Credentials, Secret};
use symphony_host::{Host, HostError, HostEvent, HostOptions};
use symphony_instruments::discovery::Endpoints;
use tokio::sync::mpsc;

/// No key anywhere: discovery finds nothing, and no test reads the user's credentials.
pub struct NoKeys;

impl Credentials for NoKeys {
    fn get(&self, name: &str) -> Result<Secret, CredentialError> {
        Err(CredentialError::Missing {
            name: name.to_owned(),
            looked: vec!["nowhere (test)".into()],
        })
    }
}

/// A project folder with the repository's example melodies, a host over it whose store and
/// trust file live in a second temporary folder, and the events it sends.
pub struct Fixture {
    pub project: tempfile::TempDir,
    pub data: tempfile::TempDir,
    pub store_path: PathBuf,
    pub host: Host,
    pub events: mpsc::UnboundedReceiver<HostEvent>,
}

pub fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

pub fn fixture() -> Fixture {
    let project = tempfile::tempdir().unwrap();
    let data = tempfile::tempdir().unwrap();
    std::fs::create_dir(project.path().join("melodies")).unwrap();
    for entry in std::fs::read_dir(repo().join("melodies")).unwrap() {
        let path = entry.unwrap().path();
        std::fs::copy(
            &path,
            project
                .path()
                .join("melodies")
                .join(path.file_name().unwrap()),
        )
        .unwrap();
    }
    let (tx, events) = mpsc::unbounded_channel();
    let credentials: Arc<dyn Credentials> = Arc::new(NoKeys);
    let store_path = data.path().join("runs.db");
    let options = HostOptions {
        registry: Some(symphony_host::registry::registry_with(credentials.clone())),
        credentials: Some(credentials),
        endpoints: Endpoints {
            openai: "http://127.0.0.1:9".into(),
            anthropic: "http://127.0.0.1:9".into(),
            ollama: "http://127.0.0.1:9".into(),
            timeout: Duration::from_millis(500),
        },
        store_path: Some(store_path.clone()),
        trust_file: Some(data.path().join("trust.json")),
        watch_debounce: Duration::from_millis(50),
        // Keys set by a test go to a file of the test's own, never the user's keychain.
        credential_store: Some(Arc::new(symphony_credentials::FileStore::in_dir(
            data.path().join("config"),
        ))),
    };
    let sink = move |e: HostEvent| {
        let _ = tx.send(e);
    };
    let host = Host::new(project.path(), options, Arc::new(sink)).unwrap();
    Fixture {
        project,
        data,
        store_path,
        host,
        events,
    }
}

/// The error message of a call that must fail.
pub async fn error_of(host: &Host, command: &str, args: Value) -> HostError {
    match host.call(command, args).await {
        Ok(v) => panic!("{command} should fail, answered {v}"),
        Err(e) => e,
    }
}

/// An event's `type`, as the UI sees it.
pub fn kind(r: &symphony_conductor::EventRecord) -> String {
    serde_json::to_value(r).unwrap()["type"]
        .as_str()
        .unwrap()
        .to_owned()
}

/// Receives events until `stop` says so, or fails after 30 s.
pub async fn events_until(
    rx: &mut mpsc::UnboundedReceiver<HostEvent>,
    mut stop: impl FnMut(&HostEvent) -> bool,
) -> Vec<HostEvent> {
    let mut seen = Vec::new();
    loop {
        let e = tokio::time::timeout(Duration::from_secs(30), rx.recv())
            .await
            .unwrap_or_else(|_| panic!("no event in 30 s; seen: {seen:#?}"))
            .expect("the host keeps its sink");
        let done = stop(&e);
        seen.push(e);
        if done {
            return seen;
        }
    }
}
