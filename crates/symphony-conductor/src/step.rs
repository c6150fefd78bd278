//! The contract between the conductor and a step type.
//!
//! A step type (one file under `steps/`) describes itself with a [`TypeSpec`] and plays a step
//! through [`StepType::play`]. It gets everything it may use through a [`StepContext`]: its
//! config, its inputs, templates rendered against what it can see, the run workspace, a progress
//! reporter and a cancellation token. It never sees the scheduler.
//!
//! The trait is shaped for real instruments too: `play` is async and cancellable (the future is
//! dropped on timeout or cancel, and the token lets a step stop child processes), progress
//! carries streamed text and token counts, [`Usage`] carries tokens and cost, and
//! [`StepError`] says whether a failure is worth retrying and after how long.

use std::future::Future;
use std::path::Path;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use serde::Serialize;
use serde_json::{Map, Value};
use symphony_melody::reference::Reference;
use symphony_melody::{Problem, Settings, Step, Template, TypeSpec};
use tokio_util::sync::CancellationToken;

use crate::event::{BottleneckKind, EventSink, RunEvent, StepId};
use crate::workspace::Workspace;

/// A boxed future, as `play` returns.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// A step type: its description and how to play it.
pub trait StepType: Send + Sync + 'static {
    /// What the type accepts. Called once, when the type is registered.
    fn spec(&self) -> TypeSpec;

    /// Checks beyond the declarative spec; paths are relative to the step (`config.routes`).
    fn check(&self, _step: &Step, _problems: &mut Vec<Problem>) {}

    /// Moves a step's config from config version `from` to `from + 1`, when the type's spec has
    /// a `config_version` above 1 (see `symphony_melody::versions`). A type whose config format
    /// changes raises its `config_version` and handles each older version here; an `Err` says
    /// why a config cannot be moved, and the melody is refused with that reason.
    fn migrate(&self, from: u32, _config: &mut Map<String, Value>) -> Result<(), String> {
        Err(format!("there is no migration from version {from}"))
    }

    /// The key of the concurrency limit this step counts against (`settings.concurrency`), for
    /// instruments that share a provider's capacity.
    fn concurrency_key(&self, _config: &Map<String, Value>) -> Option<String> {
        None
    }

    /// How long a step with this config is expected to take, when the type can tell better
    /// than its spec's fixed `estimate_ms` (e.g. an offline instrument's simulated latency).
    fn estimate_ms(&self, _config: &Map<String, Value>) -> Option<u64> {
        None
    }

    /// Plays the step once (one attempt).
    ///
    /// The future's first poll runs inside the scheduler's own task (a step that needs no
    /// waiting finishes there, with no task of its own); it is moved to a task of its own when
    /// it first returns `Pending`. So `play` must never block its thread: file and process work
    /// goes through `tokio::task::spawn_blocking` or tokio's async APIs.
    fn play<'a>(&'a self, cx: &'a StepContext) -> BoxFuture<'a, Result<Played, StepError>>;
}

/// What an attempt produced.
#[derive(Debug)]
pub enum Played {
    /// Outputs by port. A port left out produced nothing: its downstream steps are skipped (or
    /// take their declared default), which is how a router picks a branch.
    Done(StepOutput),
    /// Play the step's body once per item (the map cue); the conductor schedules the items
    /// like steps and gathers their outputs, in order, into the `results` port.
    FanOut(Vec<Value>),
    /// Play the step's body round after round (the loop cue), each round seeing the last,
    /// until the plan says to stop; the conductor schedules the rounds like steps.
    Loop(Box<crate::steps::loop_cue::Rounds>),
    /// Ask a person (the gate cue); the conductor waits for the answer without holding a slot
    /// or a task, and finishes the step with what the answer decides.
    Ask(Box<crate::steps::gate::Ask>),
}

/// Outputs of a step, by port.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
#[serde(transparent)]
pub struct Outputs(pub Map<String, Value>);

impl Outputs {
    /// One value on the `output` port: what most steps produce.
    pub fn single(value: Value) -> Self {
        let mut map = Map::new();
        map.insert("output".into(), value);
        Outputs(map)
    }

    /// The value on a port, if produced.
    pub fn get(&self, port: &str) -> Option<&Value> {
        self.0.get(port)
    }
}

/// The result of a successful attempt.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct StepOutput {
    /// Values by port.
    pub outputs: Outputs,
    /// Tokens and cost, for instruments.
    pub usage: Option<Usage>,
}

impl From<Outputs> for StepOutput {
    fn from(outputs: Outputs) -> Self {
        StepOutput {
            outputs,
            usage: None,
        }
    }
}

/// Tokens and cost of an instrument's work.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Usage {
    /// Tokens sent to the model.
    pub input_tokens: u64,
    /// Tokens the model produced.
    pub output_tokens: u64,
    /// True when the counts are estimated (the provider reported none, or no model was called).
    pub estimated: bool,
    /// Cost in US dollars, when the price is known.
    pub cost_usd: Option<f64>,
}

impl Usage {
    /// Adds another usage to this one.
    pub fn add(&mut self, other: &Usage) {
        self.input_tokens += other.input_tokens;
        self.output_tokens += other.output_tokens;
        self.estimated |= other.estimated;
        self.cost_usd = match (self.cost_usd, other.cost_usd) {
            (Some(a), Some(b)) => Some(a + b),
            (a, b) => a.or(b),
        };
    }
}

/// What kind of failure an attempt had.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum ErrorKind {
    /// The attempt ran out of time.
    Timeout,
    /// The run or the step was cancelled.
    Cancelled,
    /// The step's input was not what it needs (e.g. a map over something that is not a list).
    Input,
    /// The step's config cannot work at run time.
    Config,
    /// Reading or writing the workspace failed.
    Io,
    /// The step asked for something it is not allowed (e.g. a path outside the workspace).
    Refused,
    /// The instrument (model, agent) failed.
    Instrument,
    /// The instrument is rate limited.
    RateLimited,
    /// A person rejected it at a gate (`cue.gate`).
    Rejected,
}

/// Why an attempt failed, and whether trying again may help.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{message}")]
pub struct StepError {
    /// The kind of failure.
    pub kind: ErrorKind,
    /// What happened, for a person.
    pub message: String,
    /// Whether another attempt may succeed.
    pub retryable: bool,
    /// The instrument's hint of when to try again (e.g. HTTP `Retry-After`).
    pub retry_after: Option<Duration>,
}

impl StepError {
    /// A failure that another attempt will not fix.
    pub fn fatal(kind: ErrorKind, message: impl Into<String>) -> Self {
        StepError {
            kind,
            message: message.into(),
            retryable: false,
            retry_after: None,
        }
    }

    /// A failure another attempt may fix.
    pub fn retryable(kind: ErrorKind, message: impl Into<String>) -> Self {
        StepError {
            retryable: true,
            ..StepError::fatal(kind, message)
        }
    }

    /// Adds the instrument's hint of when to try again.
    pub fn with_retry_after(mut self, after: Duration) -> Self {
        self.retry_after = Some(after);
        self
    }
}

/// Read access to what a step can see besides its own inputs: run inputs and the outputs of the
/// steps upstream of it (all finished before it starts).
pub trait RunView: Send + Sync {
    /// A run input.
    fn run_input(&self, name: &str) -> Option<&Value>;
    /// The position of a step, by id.
    fn step_index(&self, id: &str) -> Option<usize>;
    /// The outputs of a finished step.
    fn outputs_of(&self, step: usize) -> Option<&Outputs>;
    /// The melody's run settings.
    fn settings(&self) -> &Settings;
}

/// Everything one attempt of a step may use.
pub struct StepContext {
    /// The step's id.
    pub step: StepId,
    /// The map item being played, for a map's body.
    pub item: Option<u32>,
    /// 1 for the first attempt.
    pub attempt: u32,
    /// The config in force (the step's own, or a fallback's merged over it).
    pub config: Arc<Map<String, Value>>,
    /// Input values by port (`item` and `index` too, for a map's body).
    pub inputs: Arc<Map<String, Value>>,
    pub(crate) view: Arc<dyn RunView>,
    pub(crate) events: EventSink,
    pub(crate) workspace: Option<Arc<Workspace>>,
    /// Cancelled when the run or this step is cancelled. The conductor also drops the `play`
    /// future then; the token is for cleanup that dropping cannot do (child processes).
    pub cancel: CancellationToken,
}

impl StepContext {
    /// A config string, if set.
    pub fn config_str(&self, key: &str) -> Option<&str> {
        self.config.get(key).and_then(Value::as_str)
    }

    /// A config whole number, if set.
    pub fn config_u64(&self, key: &str) -> Option<u64> {
        self.config.get(key).and_then(Value::as_u64)
    }

    /// An input value, if the port received one.
    pub fn input(&self, port: &str) -> Option<&Value> {
        self.inputs.get(port)
    }

    /// Reads a reference as the validator resolved it: own input, run input, upstream output.
    pub fn lookup(&self, r: &Reference) -> Option<&Value> {
        crate::conductor::lookup(&self.inputs, self.view.as_ref(), r)
    }

    /// The limits in force for this run (`settings.limits`, within their ceilings).
    pub fn limits(&self) -> symphony_melody::limits::Limits {
        self.view.settings().limits.effective()
    }

    /// Renders a config template field; `None` if the field is not set. A rendering that
    /// passes `settings.limits.templateBytes` fails the step (it stops growing at the limit).
    pub fn render(&self, key: &str) -> Result<Option<String>, StepError> {
        let Some(text) = self.config_str(key) else {
            return Ok(None);
        };
        let template = Template::parse(text)
            .map_err(|e| StepError::fatal(ErrorKind::Config, format!("config.{key}: {e}")))?;
        let max = self.limits().template_bytes;
        template
            .render_limited(|r| self.lookup(r), max)
            .map(Some)
            .map_err(|_| {
                StepError::fatal(
                    ErrorKind::Refused,
                    format!(
                        "config.{key}: {}",
                        symphony_melody::limits::TEMPLATE_BYTES.exceeded(&self.step, max)
                    ),
                )
            })
    }

    /// Reports what an instrument is about to send its model (rendered, without credentials),
    /// once per attempt: it is kept with the run, for whoever debugs the step.
    pub fn report_prompt(&self, system: Option<&str>, prompt: &str) {
        self.events.send(RunEvent::StepPrompt {
            step: self.step.clone(),
            item: self.item,
            attempt: self.attempt,
            system: system.map(str::to_owned),
            prompt: prompt.to_owned(),
        });
    }

    /// Reports what an instrument sent and received in one request, as a
    /// [`RunEvent::StepExchange`]: the request body as sent (never headers, never a
    /// credential) and the raw response body or stream text. The response is cut at
    /// [`crate::EXCHANGE_CAP`] bytes (on a character boundary); `truncated` says the caller
    /// already dropped some of it. Credentials are the caller's to scrub.
    pub fn report_exchange(
        &self,
        url: &str,
        status: Option<u16>,
        request: Value,
        mut response: String,
        mut truncated: bool,
    ) {
        if response.len() > crate::EXCHANGE_CAP {
            let mut cut = crate::EXCHANGE_CAP;
            while !response.is_char_boundary(cut) {
                cut -= 1;
            }
            response.truncate(cut);
            truncated = true;
        }
        self.events.send(RunEvent::StepExchange {
            step: self.step.clone(),
            item: self.item,
            attempt: self.attempt,
            url: url.to_owned(),
            status,
            request,
            response,
            truncated,
        });
    }

    /// Reports one log line of the step, as a [`RunEvent::StepLog`]: `stream` is `stdout` or
    /// `stderr` (a child process's output) or `info` (what the step itself notes, e.g.
    /// "POST … → 200 in 1.2 s"). Credentials are the caller's to scrub.
    pub fn log(&self, stream: &str, line: impl Into<String>) {
        self.events.send(RunEvent::StepLog {
            step: self.step.clone(),
            item: self.item,
            stream: Arc::from(stream),
            line: line.into(),
        });
    }

    /// Reports a file the step wrote in the workspace's `files/` folder (`path` relative to
    /// it), so hosts can list and keep the files a run produced.
    pub fn report_file(&self, path: &str, content: &[u8]) {
        use sha2::Digest as _;
        let digest = sha2::Sha256::digest(content);
        self.events.send(RunEvent::FileWritten {
            step: self.step.clone(),
            path: path.to_owned(),
            bytes: content.len() as u64,
            sha256: digest.iter().map(|b| format!("{b:02x}")).collect(),
        });
    }

    /// Reports streamed work (coalesced for listeners).
    pub fn progress(&self, text: &str, tokens: u64) {
        self.events
            .progress(&self.step, text, tokens, text.len() as u64);
    }

    /// The melody's run settings (e.g. what the network operator may reach).
    pub fn settings(&self) -> &Settings {
        self.view.settings()
    }

    /// Says the step is held up by something outside it (e.g. waiting for its provider's
    /// rate-limit budget), as a bottleneck warning. Call it once per wait, when the wait
    /// starts; `message` says what is awaited with figures, `advice` what would help.
    pub fn waiting(
        &self,
        kind: BottleneckKind,
        message: impl Into<String>,
        advice: impl Into<String>,
    ) {
        self.events.send(RunEvent::Bottleneck {
            step: self.step.clone(),
            kind,
            message: message.into(),
            advice: advice.into(),
        });
    }

    /// The run workspace, or an error saying this step needs one.
    pub fn workspace(&self) -> Result<&Arc<Workspace>, StepError> {
        self.workspace.as_ref().ok_or_else(|| {
            StepError::fatal(
                ErrorKind::Config,
                "this step writes files and the run has no workspace; run it with a workspace folder",
            )
        })
    }

    /// The folder where steps put the files they produce, if the run has a workspace.
    pub fn files_dir(&self) -> Option<&Path> {
        self.workspace.as_deref().map(Workspace::files_dir)
    }
}
