//! The [`Host`]: one per project folder, shared by every command of one app window or server.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::Value;
use symphony_conductor::{Conductor, Registry, RunControl};
use symphony_credentials::{Credentials, UserCredentials};
use symphony_instruments::discovery::Endpoints;
use symphony_store::Store;

use crate::error::HostError;
use crate::project::{Project, MELODIES_DIR};
use crate::trust::TrustStore;
use crate::watch::Watch;
use crate::wire::{HostEvent, ProjectInfo, ProviderInfo};

/// Where the host sends events for the UI. The Tauri adapter emits each on its channel; the
/// HTTP adapter broadcasts it to every WebSocket. Called from the host's tasks and from the
/// file watcher's thread, so it must return quickly and never block.
pub trait EventSink: Send + Sync + 'static {
    /// Delivers one event.
    fn emit(&self, event: HostEvent);
}

impl<F: Fn(HostEvent) + Send + Sync + 'static> EventSink for F {
    fn emit(&self, event: HostEvent) {
        self(event)
    }
}

/// How a host is set up. [`HostOptions::default`] is what the app uses on this machine; tests
/// replace the parts that would touch the user's data or the network.
pub struct HostOptions {
    /// The step types (default: [`crate::registry()`], with the user's credentials).
    pub registry: Option<Registry>,
    /// Where provider discovery reads keys (default: the environment, then the user's store).
    pub credentials: Option<Arc<dyn Credentials>>,
    /// Where provider discovery looks for models.
    pub endpoints: Endpoints,
    /// The run store (default: [`Store::default_path`]).
    pub store_path: Option<PathBuf>,
    /// The file that keeps which melodies the user trusts (default: `trust.json` next to the
    /// run store, in the user's data folder).
    pub trust_file: Option<PathBuf>,
    /// How long the file watcher waits for writes to settle before reporting a change.
    pub watch_debounce: Duration,
    /// Where `setCredential` keeps keys (default: the store the user's environment picks, the
    /// OS keychain if it answers, else their private file).
    pub credential_store: Option<Arc<dyn symphony_credentials::Store>>,
}

impl Default for HostOptions {
    fn default() -> Self {
        HostOptions {
            registry: None,
            credentials: None,
            endpoints: Endpoints::default(),
            store_path: None,
            trust_file: None,
            watch_debounce: Duration::from_millis(200),
            credential_store: None,
        }
    }
}

/// The service behind the app's commands, for one project folder. Cheap to clone (shared
/// state behind an `Arc`); every clone is the same host.
#[derive(Clone)]
pub struct Host {
    pub(crate) inner: Arc<Inner>,
}

/// The host's shared state.
pub(crate) struct Inner {
    pub(crate) project: Project,
    /// Plays runs; its registry is also the catalogue the validator and `stepTypes` read.
    pub(crate) conductor: Conductor,
    pub(crate) credentials: Arc<dyn Credentials>,
    pub(crate) endpoints: Endpoints,
    pub(crate) store_path: PathBuf,
    /// Opened on the first run, so an app that only edits never creates a database.
    pub(crate) store: tokio::sync::OnceCell<Store>,
    pub(crate) trust: TrustStore,
    /// Runs still playing, to pause, resume or stop them. A `std` mutex: it is held only to
    /// insert, look up or remove, never across an `.await`.
    pub(crate) runs: Mutex<HashMap<String, RunControl>>,
    pub(crate) sink: Arc<dyn EventSink>,
    pub(crate) watch: Watch,
    /// Where `setCredential` keeps keys; `None` opens the user's own store when asked.
    pub(crate) credential_store: Option<Arc<dyn symphony_credentials::Store>>,
}

impl Host {
    /// A host for the project at `root`, sending events to `sink`.
    pub fn new(
        root: &Path,
        options: HostOptions,
        sink: Arc<dyn EventSink>,
    ) -> Result<Host, HostError> {
        let project = Project::open(root)?;
        let store_path = options.store_path.unwrap_or_else(Store::default_path);
        let trust_file = options
            .trust_file
            .unwrap_or_else(|| crate::trust::trust_file_for(&store_path));
        let credentials = options
            .credentials
            .unwrap_or_else(|| Arc::new(UserCredentials::new()));
        let registry = options.registry.unwrap_or_else(crate::registry);
        let watch = Watch::new(project.clone(), sink.clone(), options.watch_debounce);
        Ok(Host {
            inner: Arc::new(Inner {
                project,
                conductor: Conductor::new(registry),
                credentials,
                endpoints: options.endpoints,
                store_path,
                store: tokio::sync::OnceCell::new(),
                trust: TrustStore::new(trust_file),
                runs: Mutex::new(HashMap::new()),
                sink,
                watch,
                credential_store: options.credential_store,
            }),
        })
    }

    /// Admits a file outside the project that the user picked in a native file dialog shown
    /// by the host process (the desktop app's `pickMelodyToOpen` / `pickMelodySaveLocation`).
    /// Deliberately not a command: the webview cannot admit a path it names itself, and
    /// `symphony serve` has no dialog, so a browser stays inside the project.
    pub fn admit(&self, path: &Path) -> Result<String, HostError> {
        self.inner.project.admit(path)
    }

    /// The project folder.
    pub fn root(&self) -> &Path {
        self.inner.project.root()
    }

    /// The step types this host plays.
    pub fn registry(&self) -> &Registry {
        self.inner.conductor.registry()
    }

    /// Runs one command by its name (`crate::commands::COMMANDS`, the table of
    /// `docs/app-api.md`), with its arguments as JSON, and returns its result as JSON. Both
    /// adapters call this: `symphony serve` for `POST /api/<command>`, the desktop app for its
    /// generic `call` command.
    pub async fn call(&self, command: &str, args: Value) -> Result<Value, HostError> {
        crate::commands::dispatch(self, command, args).await
    }

    /// `projectInfo`: the folder, and which models this machine can play (a short probe of
    /// the configured providers and a local Ollama; never fails).
    pub async fn project_info(&self) -> ProjectInfo {
        let found = symphony_instruments::discovery::discover(
            self.inner.credentials.as_ref(),
            &self.inner.endpoints,
        )
        .await;
        let notice = found.offline_only.then(|| {
            format!(
                "Offline: no model is configured, so melodies play with the offline instrument, which answers without calling a model. Set {} (or `symphony credential set {}`), or start a local Ollama server; in the app, \"Set up a provider…\" does it for you.",
                symphony_instruments::discovery::key_variables().join(" or "),
                symphony_instruments::providers::FORMATS[0].credential
            )
        });
        ProjectInfo {
            root: self.root().display().to_string(),
            melodies_dir: MELODIES_DIR.to_owned(),
            offline: found.offline_only,
            providers: found
                .offers
                .into_iter()
                .map(|o| ProviderInfo {
                    provider: o.provider,
                    base_url: o.base_url,
                    credential: o.credential,
                    models: o.models,
                    note: o.note,
                })
                .collect(),
            formats: crate::providers::formats(),
            notice,
        }
    }

    /// Sends an event to the adapters.
    pub(crate) fn emit(&self, event: HostEvent) {
        self.inner.sink.emit(event);
    }
}
