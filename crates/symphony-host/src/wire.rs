//! The one wire schema between the app's UI and its backend: every command's arguments and
//! result, the error body and the events, as `docs/app-api.md` lists them.
//!
//! Each type derives serde (camelCase) and [`ts_rs::TS`]; `bindings` writes them to
//! `ui/src/backend/generated/`, and a test fails when the committed files are stale. The UI never
//! declares these shapes by hand. Melody documents travel as the melody file's own JSON (the
//! `Melody` model of `symphony-melody`); run events as the conductor's `EventRecord`.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use symphony_conductor::EventRecord;
use symphony_melody::{Capability, ConfigField, Melody, PortSpec, PortType, Problem, StepKind};
use ts_rs::TS;

/// A failed call: what went wrong, and for an invalid melody every problem.
#[derive(Debug, Clone, PartialEq, Serialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct ErrorBody {
    /// One sentence for a person: what happened, where, what to do.
    pub message: String,
    /// Every problem of an invalid melody or run inputs.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub problems: Option<Vec<Problem>>,
}

/// A source of real models found on this machine.
#[derive(Debug, Clone, PartialEq, Serialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct ProviderInfo {
    /// `openai`, `anthropic` or `ollama`.
    pub provider: String,
    /// The `baseUrl` a step uses for it.
    pub base_url: String,
    /// The credential a step names for it, if it needs one.
    pub credential: Option<String>,
    /// The models it offers, sorted.
    pub models: Vec<String>,
    /// What went wrong while listing them, if something did.
    pub note: Option<String>,
}

/// `projectInfo`: the project folder and which models this machine can play.
#[derive(Debug, Clone, PartialEq, Serialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct ProjectInfo {
    /// The project folder (absolute).
    pub root: String,
    /// The melodies folder, relative to the root (`melodies`).
    pub melodies_dir: String,
    /// True when no model is configured: only the offline instrument can play.
    pub offline: bool,
    /// The sources of real models.
    pub providers: Vec<ProviderInfo>,
    /// Shown as is when set: how to add a key or point at a local server.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub notice: Option<String>,
}

/// One melody file of the project (`listMelodies`).
#[derive(Debug, Clone, PartialEq, Serialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct MelodyEntry {
    /// Relative to the project root, with `/` (`melodies/idea-to-code.melody.json`).
    pub path: String,
    /// The melody's id (empty when the file cannot be read as a melody).
    pub id: String,
    /// Its name (the file name when it cannot be read).
    pub name: String,
    /// Its description, or why the file cannot be read.
    pub description: String,
}

/// A melody file as the editor holds it (`openMelody`, `saveMelody`, `importSuperoptix`).
#[derive(Debug, Clone, PartialEq, Serialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct MelodyDocument {
    /// Relative to the project root, with `/`; empty for a melody not saved yet.
    pub path: String,
    /// The file's bytes as text (the canonical form after a save).
    pub text: String,
    /// The melody, or null when the text cannot be read as one (then `problems` says why).
    pub melody: Option<Melody>,
    /// SHA-256 of `text`, hex; `file-changed` carries the new one.
    pub hash: String,
    /// Every validation problem (empty when the melody is valid).
    pub problems: Vec<Problem>,
}

/// A step type as the palette and the inspector show it (`stepTypes`).
#[derive(Debug, Clone, PartialEq, Serialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct StepTypeInfo {
    /// The full type name, e.g. `operator.template`.
    pub name: String,
    /// The family.
    pub kind: StepKind,
    /// The palette group (`Models`, `Agents`, `Text`, `Data`, `Files`, `Network`, `Flow`, …).
    pub group: String,
    /// A short title.
    pub title: String,
    /// One sentence on what it does.
    pub description: String,
    /// Fixed input ports.
    pub inputs: Vec<PortSpec>,
    /// Fixed output ports.
    pub outputs: Vec<PortSpec>,
    /// When set, a step may declare further input ports of types this accepts.
    pub extra_inputs: Option<PortType>,
    /// When set, a step may (and, without fixed outputs, must) declare its output ports.
    pub extra_outputs: Option<PortType>,
    /// Config fields, with their types and descriptions.
    pub config: Vec<ConfigField>,
    /// What a step of this type must declare it may touch.
    pub capabilities: Vec<Capability>,
    /// True for instruments that call no model (labelled "offline" everywhere).
    pub offline: bool,
    /// The implementation's version (pinned by `exportMelody`).
    pub version: u32,
}

/// `exportMelody`: the shareable text.
#[derive(Debug, Clone, PartialEq, Serialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct ExportedMelody {
    /// The melody file's text, canonical, with the step type versions pinned in
    /// `layout.exportedWith`.
    pub text: String,
}

/// `permissions`: what a melody may touch, by step id, and whether the user trusts it.
#[derive(Debug, Clone, PartialEq, Serialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct Permissions {
    /// Steps that make network requests.
    pub network: Vec<String>,
    /// Steps that write files in the run workspace.
    pub files: Vec<String>,
    /// Steps that run commands on this machine.
    pub commands: Vec<String>,
    /// Steps that use a named credential.
    pub secrets: Vec<String>,
    /// Whether it may run: true when it runs no command or the user trusts its command steps.
    pub trusted: bool,
}

/// `trustMelody`'s answer.
#[derive(Debug, Clone, PartialEq, Serialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct Trusted {
    /// Always true.
    pub trusted: bool,
}

/// `startRun`'s answer.
#[derive(Debug, Clone, PartialEq, Serialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct RunStarted {
    /// The run's id, as in every `run-events` message.
    pub run_id: String,
}

/// The empty answer of `pauseRun`, `resumeRun` and `stopRun`.
#[derive(Debug, Clone, PartialEq, Serialize, TS)]
pub struct Done {}

/// `openMelody`'s arguments.
#[derive(Debug, Clone, PartialEq, Deserialize, TS)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct OpenMelodyArgs {
    /// Relative to the project root, or absolute inside it.
    pub path: String,
}

/// `saveMelody`'s arguments.
#[derive(Debug, Clone, PartialEq, Deserialize, TS)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SaveMelodyArgs {
    /// Where to write: a `*.melody.json` file inside the project.
    pub path: String,
    /// The melody, in the file format.
    #[ts(as = "Melody")]
    pub melody: Value,
}

/// The arguments of the commands that take just a melody (`validateMelody`, `exportMelody`,
/// `permissions`, `trustMelody`).
#[derive(Debug, Clone, PartialEq, Deserialize, TS)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct MelodyArgs {
    /// The melody, in the file format.
    #[ts(as = "Melody")]
    pub melody: Value,
}

/// `importSuperoptix`'s arguments.
#[derive(Debug, Clone, PartialEq, Deserialize, TS)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ImportSuperoptixArgs {
    /// The orchestra YAML.
    pub yaml: String,
}

/// `startRun`'s arguments.
#[derive(Debug, Clone, PartialEq, Deserialize, TS)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct StartRunArgs {
    /// The melody to play (the editor's current state; it need not be saved).
    #[ts(as = "Melody")]
    pub melody: Value,
    /// The file it came from, if any (recorded for the run history).
    #[serde(default)]
    #[ts(optional)]
    pub path: Option<String>,
    /// Run input values by name; declared defaults fill the rest.
    #[serde(default)]
    #[ts(as = "Option<std::collections::BTreeMap<String, Value>>", optional)]
    pub inputs: Map<String, Value>,
}

/// The arguments of `pauseRun`, `resumeRun` and `stopRun`.
#[derive(Debug, Clone, PartialEq, Deserialize, TS)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RunIdArgs {
    /// The run.
    pub run_id: String,
}

/// `run-events`: a run's events since the previous message (at most one message per ~33 ms
/// per run; state changes are never dropped).
#[derive(Debug, Clone, PartialEq, Serialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct RunEventsPayload {
    /// The run.
    pub run_id: String,
    /// The events, in order.
    pub events: Vec<EventRecord>,
}

/// `file-changed`: an open melody changed on disk.
#[derive(Debug, Clone, PartialEq, Serialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct FileChangedPayload {
    /// Relative to the project root, as `openMelody` returned it.
    pub path: String,
    /// SHA-256 of the new bytes, hex.
    pub hash: String,
}

/// An event for the UI. Serialized as the WebSocket message `{ channel, payload }`; the Tauri
/// adapter emits `payload` on `channel`.
#[derive(Debug, Clone, PartialEq, Serialize, TS)]
#[serde(tag = "channel", content = "payload", rename_all = "kebab-case")]
pub enum HostEvent {
    /// Events of a run.
    RunEvents(RunEventsPayload),
    /// An open melody changed on disk.
    FileChanged(FileChangedPayload),
}

impl HostEvent {
    /// The channel name (`run-events`, `file-changed`).
    pub fn channel(&self) -> &'static str {
        match self {
            HostEvent::RunEvents(_) => "run-events",
            HostEvent::FileChanged(_) => "file-changed",
        }
    }

    /// The payload as JSON.
    pub fn payload(&self) -> Value {
        let payload = match self {
            HostEvent::RunEvents(p) => serde_json::to_value(p),
            HostEvent::FileChanged(p) => serde_json::to_value(p),
        };
        payload.expect("event payloads have string keys and always serialize")
    }
}
