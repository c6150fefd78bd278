//! The conductor's API: a [`Conductor`] checks and compiles a melody ([`Prepared`]), starts
//! runs of it ([`Run`], steered through a [`RunControl`]) and sums each up in a [`RunReport`].
//! What happens in a run is the scheduler's (`scheduler.rs`); this file is what a host sees of
//! it, and the one reading of a reference in a run (`lookup`).

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::sync::{Arc, OnceLock};

use serde::Serialize;
use serde_json::{json, Map, Value};
use symphony_melody::{Melody, Problem, Problems};
use tokio::sync::mpsc;
use tokio::time::Instant;
use tracing::instrument;

use crate::cache::CacheHandle;
use crate::event::{channel, EventStream, OutputOrigin, RunStatus, StepOutcome, Totals};
use crate::registry::Registry;
use crate::scheduler::{Control, Scheduler};
use crate::score::{compile, Score, Shared};
use crate::step::{Outputs, Usage};
use crate::workspace::Workspace;

/// Plays melodies with a set of step types.
#[derive(Clone)]
pub struct Conductor {
    registry: Arc<Registry>,
}

/// How to play one run.
#[derive(Debug, Clone, Default)]
pub struct RunOptions {
    /// The run's id (used in events and `run.json`).
    pub run_id: String,
    /// Run input values; declared defaults fill the rest.
    pub inputs: Map<String, Value>,
    /// Where to write the run workspace; `None` keeps everything in memory.
    pub workspace: Option<PathBuf>,
    /// Overrides `settings.maxParallel`.
    pub max_parallel: Option<u32>,
    /// Seeds retry jitter, so a run can be replayed exactly.
    pub seed: u64,
    /// Outputs to use instead of playing these steps, by step id: a resumed run's finished
    /// steps, a pinned output, or an edited output a fork starts from. Such a step is not
    /// played; it succeeds with these outputs (origin `given`) once its inputs are in.
    pub given: BTreeMap<String, Outputs>,
    /// For given outputs that a play made (a pin), the cache key of that play, by step id.
    /// When the step's type, settings and inputs in this run give another key, the output is
    /// stale: it is still given (a pin is the user's choice), with a `pinnedStale` warning.
    /// Keys exist for cacheable steps (instruments) only.
    pub given_made_from: BTreeMap<String, String>,
    /// Where stored outputs of cacheable steps are looked up (origin `cached`).
    pub cache: Option<CacheHandle>,
    /// Play every step: look nothing up in the cache (keys are still computed and reported,
    /// so the new outputs can be stored).
    pub fresh: bool,
    /// Play these steps even if the cache holds their output ("take again").
    pub fresh_steps: BTreeSet<String>,
    /// How long each step took in past runs of this melody, by step id: the conductor warns
    /// when a step runs far longer than its own history, and uses it as the step's estimate
    /// for the critical path. Hosts fill it from their run store; empty is fine.
    pub history: BTreeMap<String, StepHistory>,
    /// Rounds a loop (`cue.loop`) already played in this run, by step id, in order: a resumed
    /// run's unfinished loops. The loop takes them as played (no events, no play) and goes on
    /// with the next round; should they already meet its exit, it ends there.
    pub rounds: BTreeMap<String, Vec<Outputs>>,
    /// Gates (`cue.gate`) that asked in an earlier session of this run, by step id: the answer
    /// recorded since, if any (the gate takes it at once), and how long it already waited (its
    /// timeout counts on from there).
    pub gates: BTreeMap<String, GateResume>,
}

/// A gate of a resumed run, as the store kept it.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct GateResume {
    /// The answer recorded while no session played, or that a session did not get to apply.
    pub answer: Option<crate::GateAnswer>,
    /// How long the gate has waited so far, in milliseconds.
    pub waited_ms: u64,
}

/// How long a step took when it was played in past runs (cached and given outputs excluded).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StepHistory {
    /// How many past plays these figures come from.
    pub runs: u32,
    /// The median duration, in milliseconds.
    pub p50_ms: u64,
    /// The 95th percentile duration, in milliseconds.
    pub p95_ms: u64,
}

/// Why a run could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// The melody or the run inputs have problems.
    #[error("{0}")]
    Invalid(Problems),
    /// The workspace folder could not be prepared.
    #[error("cannot prepare the run workspace `{path}`: {source}")]
    Workspace {
        /// The folder.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
}

/// A handle to steer a running run. Cheap to clone; commands to a finished run are ignored.
#[derive(Clone, Debug)]
pub struct RunControl {
    tx: mpsc::UnboundedSender<Control>,
}

impl RunControl {
    /// Cancels the run: running steps are stopped, nothing new starts.
    pub fn cancel(&self) {
        let _ = self.tx.send(Control::Cancel);
    }
    /// Cancels one step; steps that need its output are skipped.
    pub fn cancel_step(&self, step: &str) {
        let _ = self.tx.send(Control::CancelStep(step.to_owned()));
    }
    /// Running steps finish; nothing new starts until [`RunControl::resume`].
    pub fn pause(&self) {
        let _ = self.tx.send(Control::Pause);
    }
    /// Starts steps again after a pause.
    pub fn resume(&self) {
        let _ = self.tx.send(Control::Resume);
    }
    /// Answers the gate `step` (`cue.gate`), if it is waiting; an answer to a gate that is not
    /// waiting (answered already, timed out, not reached yet) is ignored. Hosts record the
    /// answer first (the store's `gates`), so it survives the process.
    pub fn answer(&self, step: &str, answer: crate::GateAnswer) {
        let _ = self.tx.send(Control::Answer(step.to_owned(), answer));
    }
}

/// A started run.
pub struct Run {
    /// Its live events.
    pub events: EventStream,
    /// Its steering handle.
    pub control: RunControl,
    finished: tokio::task::JoinHandle<RunReport>,
}

impl Run {
    /// Waits for the run to end.
    pub async fn finished(self) -> RunReport {
        self.finished
            .await
            .expect("the scheduler task does not panic")
    }

    /// Splits the run into its parts, for hosts that read events on another task.
    pub fn into_parts(self) -> (EventStream, RunControl, tokio::task::JoinHandle<RunReport>) {
        (self.events, self.control, self.finished)
    }
}

/// What happened to one step, at the end of a run.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct StepReport {
    /// The step.
    pub id: String,
    /// What became of it.
    pub outcome: StepOutcome,
    /// Attempts made.
    pub attempts: u32,
    /// From first start to end, in milliseconds.
    pub elapsed_ms: u64,
    /// The error or skip reason.
    pub note: Option<String>,
    /// Tokens and cost.
    pub usage: Option<Usage>,
    /// Whether its instrument calls no model.
    pub offline: bool,
    /// Played in this run, or its output reused (for a succeeded step).
    pub origin: OutputOrigin,
}

/// The end of a run.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RunReport {
    /// The run's id.
    pub run_id: String,
    /// How it ended.
    pub status: RunStatus,
    /// Counts and sums.
    pub totals: Totals,
    /// Every step, in melody order.
    pub steps: Vec<StepReport>,
    /// The outputs of the steps nothing else reads (the melody's result).
    pub result: Map<String, Value>,
}

impl Conductor {
    /// A conductor that plays the given step types.
    pub fn new(registry: Registry) -> Self {
        Conductor {
            registry: Arc::new(registry),
        }
    }

    /// The step types it plays.
    pub fn registry(&self) -> &Registry {
        &self.registry
    }

    /// Checks a melody against this conductor's step types and compiles it for playing. The
    /// result can be played any number of times with [`Conductor::start_prepared`].
    pub fn prepare(&self, melody: Melody) -> Result<Prepared, Problems> {
        let problems = symphony_melody::validate(&melody, self.registry.as_ref());
        if !problems.is_empty() {
            return Err(Problems::new(problems));
        }
        Ok(self.prepare_checked(melody))
    }

    /// Compiles a melody the caller has already validated against this conductor's registry
    /// (e.g. with `symphony_melody::load_and_validate`), without validating it again.
    ///
    /// Compiling relies on validation: a melody with problems may panic here. Use
    /// [`Conductor::prepare`] unless the problems were checked just before.
    pub fn prepare_checked(&self, melody: Melody) -> Prepared {
        let score = Arc::new(compile(&melody, &self.registry));
        Prepared {
            melody: Arc::new(melody),
            score,
        }
    }

    /// Checks the melody and inputs, prepares the workspace and starts the run.
    #[instrument(skip_all, fields(melody = %melody.melody.id, run = %options.run_id))]
    pub async fn start(&self, melody: Melody, options: RunOptions) -> Result<Run, StartError> {
        let prepared = self.prepare(melody).map_err(StartError::Invalid)?;
        self.start_prepared(&prepared, options).await
    }

    /// Checks the run inputs, prepares the workspace and starts a run of a prepared melody.
    #[instrument(skip_all, fields(melody = %prepared.melody.melody.id, run = %options.run_id))]
    pub async fn start_prepared(
        &self,
        prepared: &Prepared,
        options: RunOptions,
    ) -> Result<Run, StartError> {
        let melody = &prepared.melody;
        let run_inputs = resolve_inputs(melody, &options.inputs).map_err(StartError::Invalid)?;
        let workspace = match &options.workspace {
            Some(path) => {
                let path = path.clone();
                let bytes = symphony_melody::to_bytes(melody);
                let record = run_record(&options.run_id, melody, &run_inputs, "running", None);
                let ws = tokio::task::spawn_blocking(move || {
                    let ws = Workspace::create(&path)?;
                    ws.write_record_bytes("melody.json", &bytes)?;
                    ws.write_record("run.json", &record)?;
                    Ok::<_, std::io::Error>(ws)
                })
                .await
                .expect("the workspace task does not panic")
                .map_err(|source| StartError::Workspace {
                    path: options.workspace.clone().unwrap_or_default(),
                    source,
                })?;
                Some(Arc::new(ws))
            }
            None => None,
        };

        let score = prepared.score.clone();
        let shared = Arc::new(Shared {
            outputs: (0..score.steps.len()).map(|_| OnceLock::new()).collect(),
            run_inputs,
            melody: prepared.melody.clone(),
            score: score.clone(),
        });
        let start = Instant::now();
        let (events, stream) = channel(start);
        let (tx, rx) = mpsc::unbounded_channel();
        let scheduler = Scheduler::new(score, shared, events, workspace, options, start);
        let finished = tokio::spawn(scheduler.run(rx));
        Ok(Run {
            events: stream,
            control: RunControl { tx },
            finished,
        })
    }
}

/// A melody checked against a conductor's step types and compiled for playing: steps by
/// position, resolved types, edges as indexes. Made once by [`Conductor::prepare`], played any
/// number of times; each run keeps its own state. Cheap to clone.
#[derive(Clone)]
pub struct Prepared {
    melody: Arc<Melody>,
    score: Arc<Score>,
}

impl Prepared {
    /// The melody.
    pub fn melody(&self) -> &Melody {
        &self.melody
    }
}

/// Checks run inputs against the melody's declarations and fills in defaults.
pub fn resolve_inputs(
    melody: &Melody,
    given: &Map<String, Value>,
) -> Result<Map<String, Value>, Problems> {
    let mut problems = Vec::new();
    let mut out = Map::new();
    for (name, value) in given {
        match melody.inputs.get(name) {
            None => problems.push(Problem::at(
                format!("inputs.{name}"),
                format!(
                    "the melody has no input `{name}`{}",
                    symphony_melody::problem::did_you_mean(
                        name,
                        melody.inputs.keys().map(String::as_str)
                    )
                ),
            )),
            Some(decl) if !decl.ty.accepts(value) => problems.push(Problem::at(
                format!("inputs.{name}"),
                format!(
                    "expected {}, found {}",
                    decl.ty.describe(),
                    symphony_melody::catalog::describe(value)
                ),
            )),
            Some(_) => {
                out.insert(name.clone(), value.clone());
            }
        }
    }
    for (name, decl) in &melody.inputs {
        if out.contains_key(name) || given.contains_key(name) {
            continue;
        }
        match &decl.default {
            Some(d) => {
                out.insert(name.clone(), d.clone());
            }
            None => problems.push(Problem::at(
                format!("inputs.{name}"),
                format!(
                    "missing required run input `{name}`{}; give it with --input {name}=…",
                    if decl.description.is_empty() {
                        String::new()
                    } else {
                        format!(" ({})", decl.description)
                    }
                ),
            )),
        }
    }
    if problems.is_empty() {
        Ok(out)
    } else {
        Err(Problems::new(problems))
    }
}

/// The run's `run.json`: which melody, with what inputs, how it stands and (at the end) its
/// totals.
pub(crate) fn run_record(
    run_id: &str,
    melody: &Melody,
    inputs: &Map<String, Value>,
    status: &str,
    totals: Option<&Totals>,
) -> Value {
    json!({
        "runId": run_id,
        "melody": {"id": melody.melody.id, "name": melody.melody.name, "version": melody.melody.version},
        "inputs": inputs,
        "status": status,
        "totals": totals,
    })
}

/// Reads a reference from a step's inputs, the run inputs and finished outputs.
pub(crate) fn lookup<'v>(
    inputs: &'v Map<String, Value>,
    shared: &'v dyn crate::step::RunView,
    r: &symphony_melody::Reference,
) -> Option<&'v Value> {
    use symphony_melody::reference::walk;
    let head = r.segments[0].as_str();
    let rest = &r.segments[1..];
    if let Some(v) = inputs.get(head) {
        return walk(v, rest);
    }
    if head == "input" && !rest.is_empty() {
        if let Some(v) = shared.run_input(&rest[0]) {
            return walk(v, &rest[1..]);
        }
    }
    if let Some(v) = shared.run_input(head) {
        return walk(v, rest);
    }
    let outputs = shared.outputs_of(shared.step_index(head)?)?;
    walk(outputs.get(rest.first()?)?, &rest[1..])
}
