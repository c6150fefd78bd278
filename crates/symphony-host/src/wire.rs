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

/// A wire format `instrument.chat` speaks, as the instruments' format table declares it.
#[derive(Debug, Clone, PartialEq, Serialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct WireFormatInfo {
    /// Its name: what a step's `provider` and `testProvider`'s `api` say (`openai`).
    pub name: String,
    /// Who answers, as messages name it ("the OpenAI-compatible server", "Anthropic").
    pub label: String,
    /// How the `provider` config field describes this choice.
    pub about: String,
    /// The base URL a step that names none uses (no trailing slash).
    pub default_base_url: String,
    /// The credential a step uses at the default base URL.
    pub credential: String,
    /// The highest temperature its API accepts.
    pub max_temperature: f64,
}

/// `testProvider`'s arguments: a model server to ask for its models. Its `Debug` hides the key.
#[derive(Clone, PartialEq, Deserialize, TS)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct TestProviderArgs {
    /// The wire format: `openai` (OpenAI-compatible) or `anthropic`.
    pub api: String,
    /// The server's base URL, e.g. `https://api.openai.com/v1` or `http://localhost:11434/v1`.
    pub base_url: String,
    /// The key the person typed; none for a local server. A stored key is never used here.
    #[ts(optional)]
    pub key: Option<String>,
}

impl std::fmt::Debug for TestProviderArgs {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TestProviderArgs")
            .field("api", &self.api)
            .field("base_url", &self.base_url)
            .field("key", &self.key.as_ref().map(|_| "[hidden]"))
            .finish()
    }
}

/// `testProvider`'s answer.
#[derive(Debug, Clone, PartialEq, Serialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct ProviderTest {
    /// Whether the server answered with a list of models.
    pub ok: bool,
    /// The models it lists, sorted.
    pub models: Vec<String>,
    /// One sentence for a person: how many models, or what went wrong.
    pub message: String,
}

/// `setCredential`'s arguments: a key to keep under a name steps use. Its `Debug` hides the
/// value, so a logged request never holds it.
#[derive(Clone, PartialEq, Deserialize, TS)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SetCredentialArgs {
    /// The credential's name, e.g. `openai`.
    pub name: String,
    /// Its value. Never echoed, logged or stored anywhere but the credential store.
    pub value: String,
}

impl std::fmt::Debug for SetCredentialArgs {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SetCredentialArgs")
            .field("name", &self.name)
            .field("value", &"[hidden]")
            .finish()
    }
}

/// Where `setCredential` kept a key.
#[derive(Debug, Clone, PartialEq, Serialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct CredentialSaved {
    /// The credential's name.
    pub name: String,
    /// The store, for a person ("the Secret Service keyring", a file path).
    pub place: String,
    /// True in the OS keychain; false in the user's private file (plain text on disk).
    pub encrypted: bool,
    /// What the user should know about the store, if anything.
    pub warning: Option<String>,
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
    /// The wire formats `instrument.chat` speaks, the default first (what a step's `provider`
    /// can name): the app's "Set up a provider" and model picker read them, so a new format
    /// needs no UI code.
    pub formats: Vec<WireFormatInfo>,
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
    /// What it would do that a person must trust first, each a sentence: programs it runs,
    /// credentials it sends away from their provider, addresses it sends data to, and any
    /// widening of `settings.network`.
    pub facts: Vec<PermissionFact>,
    /// Whether it needs trust at all (it has facts).
    pub needs_trust: bool,
    /// Whether it may run: it needs no trust, or a person trusts it as it is now.
    pub trusted: bool,
}

/// One thing a melody would do that needs a person's trust.
#[derive(Debug, Clone, PartialEq, Serialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct PermissionFact {
    /// `command`, `credential`, `endpoint` or `network`.
    pub kind: String,
    /// The step it is about (none for `network`).
    pub step: Option<String>,
    /// The fact, for a person: "fetch sends your credential `openai` to https://example.com/v1".
    pub text: String,
}

/// `trustMelody`'s answer.
#[derive(Debug, Clone, PartialEq, Serialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct Trusted {
    /// Whether the person trusted it (false when they said no in the dialog).
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

/// The arguments of a command that takes none (`projectInfo`, `listMelodies`, `stepTypes`,
/// `storeInfo`): `{}`, or nothing at all. Fields it does not know are ignored.
#[derive(Debug, Clone, PartialEq, Deserialize, TS)]
pub struct NoArgs {}

/// `openMelody`'s arguments (and `committedMelody`'s).
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

/// `pickMelodySaveLocation`'s arguments (desktop only).
#[derive(Debug, Clone, PartialEq, Deserialize, TS)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PickSaveLocationArgs {
    /// The file name the dialog suggests.
    pub suggested_name: String,
}

/// `importSuperoptix`'s arguments.
#[derive(Debug, Clone, PartialEq, Deserialize, TS)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ImportSuperoptixArgs {
    /// The orchestra YAML.
    pub yaml: String,
}

/// `importMelody`'s arguments.
#[derive(Debug, Clone, PartialEq, Deserialize, TS)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ImportMelodyArgs {
    /// The melody file's text.
    pub text: String,
}

/// `compareMelodies`' arguments: the other version and the open one.
#[derive(Debug, Clone, PartialEq, Deserialize, TS)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CompareMelodiesArgs {
    /// The version compared with (the committed one, another file): "before".
    #[ts(as = "Melody")]
    pub base: Value,
    /// The open melody: "after".
    #[ts(as = "Melody")]
    pub melody: Value,
}

/// One field that differs between two versions; a side without it is absent.
#[derive(Debug, Clone, PartialEq, Serialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct FieldChange {
    /// The field's dotted path (`config.prompt` in a step, `settings.maxParallel`).
    pub path: String,
    /// Its value in the other version.
    #[ts(optional, as = "Option<Value>")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub before: Option<Value>,
    /// Its value in the open melody.
    #[ts(optional, as = "Option<Value>")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub after: Option<Value>,
}

/// One step that differs.
#[derive(Debug, Clone, PartialEq, Serialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct StepCompared {
    /// Its id (in the open melody, for a rename).
    pub id: String,
    /// `added` (only in the open melody), `removed` (only in the other), `changed` or `renamed`.
    pub change: String,
    /// For a rename: its id in the other version.
    pub renamed_from: Option<String>,
    /// Its step type.
    #[serde(rename = "type")]
    pub type_name: String,
    /// For a changed step: each differing field.
    pub fields: Vec<FieldChange>,
    /// For an added or removed step: the whole step.
    #[ts(as = "Option<symphony_melody::Step>")]
    pub step: Option<Value>,
}

/// `compareMelodies`' answer: what the open melody changes from the other version.
#[derive(Debug, Clone, PartialEq, Serialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct MelodyComparison {
    /// Nothing differs, layout included.
    pub same: bool,
    /// Only the layout differs (nothing that runs).
    pub layout_only: bool,
    /// Fields of `melody`, `inputs` and `settings`.
    pub melody: Vec<FieldChange>,
    /// Steps added, removed, changed or renamed.
    pub steps: Vec<StepCompared>,
    /// Edges only in the open melody ("a.output → b.input").
    pub edges_added: Vec<String>,
    /// Edges only in the other version.
    pub edges_removed: Vec<String>,
    /// Steps moved on the canvas.
    pub moved: Vec<String>,
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

/// The arguments of `pauseRun`, `resumeRun`, `stopRun` and `continueRun`.
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

/// `file-changed`: an open melody changed on disk, or was deleted.
#[derive(Debug, Clone, PartialEq, Serialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct FileChangedPayload {
    /// Relative to the project root, as `openMelody` returned it.
    pub path: String,
    /// SHA-256 of the new bytes, hex; empty when the file was deleted.
    pub hash: String,
    /// True when the file is gone (deleted, or moved away), not changed.
    pub deleted: bool,
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

// ---------------------------------------------------------------------------------------------
// The Harmony Board: run history, one run's record, forks, pins, comparisons.

/// `listRuns`' arguments.
#[derive(Debug, Clone, PartialEq, Deserialize, TS)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ListRunsArgs {
    /// Only the runs of this melody (its id); all runs when absent.
    #[serde(default)]
    #[ts(optional)]
    pub melody_id: Option<String>,
    /// At most this many, newest first (default 100).
    #[serde(default)]
    #[ts(optional)]
    pub limit: Option<u32>,
}

/// One past or running run (`listRuns`, and the head of `openRun`).
#[derive(Debug, Clone, PartialEq, Serialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct RunEntry {
    /// The run's id.
    pub id: String,
    /// The melody's id.
    pub melody_id: String,
    /// The melody's name as it was run.
    pub melody_name: String,
    /// `running`, `succeeded`, `failed` or `cancelled` (`running` also for a run that was
    /// interrupted and not resumed yet).
    pub status: String,
    /// Start, in milliseconds since the Unix epoch.
    pub started_at: i64,
    /// End, once ended.
    pub finished_at: Option<i64>,
    /// Wall time, once ended (from its totals).
    pub duration_ms: Option<u64>,
    /// Cost in US dollars, once ended, where prices are known.
    pub cost_usd: Option<f64>,
    /// Input + output tokens, once ended.
    pub tokens: Option<u64>,
    /// Steps in the melody.
    pub steps: u32,
    /// Steps whose output was reused (cached or given), once ended.
    pub reused: u32,
    /// Steps that failed, once ended.
    pub failed: u32,
    /// The run it was forked from.
    pub parent_id: Option<String>,
    /// The step the fork reran from.
    pub fork_step: Option<String>,
    /// True while this process is playing it (its events arrive on `run-events`).
    pub live: bool,
    /// Who plays it while another process does (a `symphony run` in a terminal, another
    /// machine on a shared store): "process 4242 on this machine, heard from 2 s ago". Such a
    /// run can be watched but not resumed. `None` when ended, live here, or interrupted.
    pub played_elsewhere: Option<String>,
    /// The run's inputs (defaults filled in): what it was asked.
    #[ts(as = "std::collections::BTreeMap<String, Value>")]
    pub inputs: Value,
    /// The gates (`cue.gate`) of an unfinished run that wait for a person's answer, by step
    /// id (`answerGate` answers them, live or stopped).
    pub waiting: Vec<String>,
}

/// `answerGate`'s arguments: a person's answer to a gate (`cue.gate`) a run waits at.
#[derive(Debug, Clone, PartialEq, Deserialize, TS)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct AnswerGateArgs {
    /// The run.
    pub run_id: String,
    /// The gate step.
    pub step: String,
    /// Approve or reject.
    pub decision: symphony_conductor::Decision,
    /// Why, or a note with an approval.
    #[serde(default)]
    #[ts(optional)]
    pub reason: Option<String>,
    /// The value that goes on instead of the gate's input (an approval the person edited).
    #[serde(default)]
    #[ts(optional)]
    #[ts(type = "unknown")]
    pub value: Option<Value>,
}

/// What became of an answer to a gate (`answerGate`): it was recorded, and `next` says who
/// takes it: `here` (this process plays the run: the gate goes on now), `elsewhere` (another
/// process plays it and takes it within a second) or `stopped` (the run takes it when it is
/// continued: `continueRun`).
#[derive(Debug, Clone, PartialEq, Serialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct GateAnswerTaken {
    /// `here`, `elsewhere` or `stopped`.
    pub next: String,
    /// The same, said for a person.
    pub message: String,
}

/// `openRun`'s arguments.
#[derive(Debug, Clone, PartialEq, Deserialize, TS)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct OpenRunArgs {
    /// The run.
    pub run_id: String,
    /// Only the events after this one (`RunRecord.lastSeq` of an earlier answer): how a board
    /// follows a run another process is playing into the same store.
    #[serde(default)]
    #[ts(optional)]
    pub after_seq: Option<i64>,
}

/// A stored run, everything the board shows about it (`openRun`).
#[derive(Debug, Clone, PartialEq, Serialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct RunRecord {
    /// Its line in the history.
    pub run: RunEntry,
    /// The melody as it was run.
    #[ts(as = "Melody")]
    pub melody: Value,
    /// Its run inputs, defaults filled in.
    #[ts(as = "std::collections::BTreeMap<String, Value>")]
    pub inputs: Map<String, Value>,
    /// Its event log in order, with stored values put back in place. A resumed run's later
    /// sessions are shifted to follow the earlier ones, so `atMs` always grows.
    // Each is an `EventRecord`'s JSON as the store kept it (`EventRecord` is only ever written).
    #[ts(as = "Vec<EventRecord>")]
    pub events: Vec<Value>,
    /// The sequence number of the last event sent (pass as `afterSeq` to get only newer ones).
    pub last_seq: i64,
    /// The version of the events' JSON the run was recorded in
    /// (`symphony_conductor::EVENT_FORMAT` of the build that played it); the board says so when
    /// it is newer than the one it reads.
    pub event_format: u32,
    /// The files its steps wrote.
    pub files: Vec<RunFile>,
    /// The steps of this melody pinned to an output.
    pub pinned: Vec<String>,
}

/// A file a run's step wrote in the workspace's `files/` folder.
#[derive(Debug, Clone, PartialEq, Serialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct RunFile {
    /// Relative to `files/`.
    pub path: String,
    /// The step that wrote it.
    pub step: String,
    /// Its size.
    pub bytes: u64,
    /// SHA-256 of its content, hex.
    pub sha256: String,
}

/// `runFile`'s arguments.
#[derive(Debug, Clone, PartialEq, Deserialize, TS)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RunFileArgs {
    /// The run.
    pub run_id: String,
    /// The file, relative to the run workspace's `files/` folder.
    pub path: String,
}

/// A file a run wrote, with the same file of the run it was forked from, for a diff
/// (`runFile`).
#[derive(Debug, Clone, PartialEq, Serialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct RunFileContent {
    /// Relative to `files/`.
    pub path: String,
    /// Its text; `null` when it is not UTF-8 or larger than 1 MiB (see `note`).
    pub text: Option<String>,
    /// Its size.
    pub bytes: u64,
    /// The same path in the parent run, when the run is a fork and the parent has it.
    pub previous: Option<String>,
    /// Why the text is not shown, when it is not.
    pub note: Option<String>,
}

/// `forkRun`'s arguments: a new run, linked to its parent, that keeps the parent's outputs of
/// every step not downstream of `fromStep` and plays `fromStep` and what depends on it again.
#[derive(Debug, Clone, PartialEq, Deserialize, TS)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ForkRunArgs {
    /// The parent run.
    pub run_id: String,
    /// The step to rerun from.
    pub from_step: String,
    /// Call `fromStep` again even if its output is in the cache ("take again").
    #[serde(default)]
    #[ts(optional)]
    pub fresh: Option<bool>,
    /// Run inputs to change; the parent's values fill the rest.
    #[serde(default)]
    #[ts(as = "Option<std::collections::BTreeMap<String, Value>>", optional)]
    pub inputs: Option<Map<String, Value>>,
    /// Play this melody instead of the parent's (say, with an edited prompt for `fromStep`).
    #[serde(default)]
    #[ts(as = "Option<Melody>", optional)]
    pub melody: Option<Value>,
    /// Use this as `fromStep`'s outputs (by port) instead of playing it.
    #[serde(default)]
    #[ts(as = "Option<std::collections::BTreeMap<String, Value>>", optional)]
    pub output: Option<Map<String, Value>>,
}

/// `pinStep`'s arguments: pin a step of this run's melody to the output it had in this run.
#[derive(Debug, Clone, PartialEq, Deserialize, TS)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PinStepArgs {
    /// The run the output comes from.
    pub run_id: String,
    /// The step.
    pub step: String,
}

/// `unpinStep`'s arguments.
#[derive(Debug, Clone, PartialEq, Deserialize, TS)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct UnpinStepArgs {
    /// The melody's id.
    pub melody_id: String,
    /// The step.
    pub step: String,
}

/// `listPins`'s arguments.
#[derive(Debug, Clone, PartialEq, Deserialize, TS)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ListPinsArgs {
    /// The melody's id.
    pub melody_id: String,
}

/// A step pinned to an output (`pinStep`, `listPins`).
#[derive(Debug, Clone, PartialEq, Serialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct PinInfo {
    /// The melody's id.
    pub melody_id: String,
    /// The step.
    pub step: String,
    /// The output's content hash.
    pub output_hash: String,
    /// The run it was taken from.
    pub run_id: Option<String>,
}

/// Where runs are kept and how many (`storeInfo`, and `setRetention`'s answer).
#[derive(Debug, Clone, PartialEq, Serialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct StoreInfo {
    /// The SQLite file, or the Postgres URL without its password.
    pub location: String,
    /// Its size in bytes (for SQLite the file and its write-ahead log).
    pub bytes: u64,
    /// The runs it holds.
    pub runs: u64,
    /// Its retention: the newest runs it keeps; older ones are removed after each run.
    pub keep_runs: u32,
}

/// `setRetention`'s arguments.
#[derive(Debug, Clone, PartialEq, Deserialize, TS)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SetRetentionArgs {
    /// Keep the newest this many runs (at least 1); older ones are removed now.
    pub keep_runs: u32,
}

/// `compareRuns`' arguments.
#[derive(Debug, Clone, PartialEq, Deserialize, TS)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CompareRunsArgs {
    /// The first run (left).
    pub a: String,
    /// The second run (right).
    pub b: String,
}

/// One step of two runs side by side (`compareRuns` answers one per step of either melody).
#[derive(Debug, Clone, PartialEq, Serialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct StepComparison {
    /// The step.
    pub step: String,
    /// Its outcome in run a (`-` when it is not in that run).
    pub outcome_a: String,
    /// Its outcome in run b.
    pub outcome_b: String,
    /// Whether its outputs are identical.
    pub same_output: bool,
    /// Whether it had the same type, config and inputs (its cache key), when both have one.
    pub same_inputs: Option<bool>,
    /// Elapsed time in run a.
    pub elapsed_ms_a: u64,
    /// Elapsed time in run b.
    pub elapsed_ms_b: u64,
    /// Cost in run a, when known.
    pub cost_usd_a: Option<f64>,
    /// Cost in run b, when known.
    pub cost_usd_b: Option<f64>,
}
