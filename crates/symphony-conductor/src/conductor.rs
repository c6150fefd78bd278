//! The scheduler: plays a compiled melody.
//!
//! One task owns all run state (no locks on the hot path). It starts each step as soon as its
//! inputs are in, highest priority first, while slots are free (`maxParallel`, and the
//! per-instrument limits of `settings.concurrency`). Each attempt runs in a task of its own
//! ([`crate::attempt`]), which applies the timeout, retries and fallbacks and reports back.
//! Outputs flow along edges by port; a step whose input did not arrive (its upstream was
//! skipped, failed optionally, or a router chose another branch) is skipped in turn, unless the
//! port declares a default. A failed required step fails the run, but independent branches
//! still finish so their work is kept.
//!
//! **Architecture Invariant:** the scheduler never awaits a listener. Events go into an
//! unbounded channel; state changes are never dropped; only progress is coalesced.

use std::cmp::Ordering;
use std::collections::{BTreeMap, BTreeSet, BinaryHeap, HashMap, HashSet};
use std::future::Future;
use std::path::PathBuf;
use std::pin::Pin;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use serde::Serialize;
use serde_json::{json, Map, Value};
use symphony_melody::{Melody, Problem, Problems, StepKind};
use tokio::sync::mpsc;
use tokio::task::JoinSet;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use tracing::instrument;

use crate::attempt::{perform, record_outputs, Job, Reuse, UnitDone};
use crate::cache::{cache_key, each_template_read, template_reads, CacheHandle};
use crate::event::{
    channel, json_size, BottleneckKind, EventSink, EventStream, OutputOrigin, RunEvent, RunStatus,
    StepOutcome, Totals,
};
use crate::registry::Registry;
use crate::score::{collects, compile, CompiledStep, Score, Shared, Variant};
use crate::step::{ErrorKind, Outputs, Played, StepError, StepOutput, Usage};
use crate::workspace::Workspace;

/// A step waiting at least this long for a slot raises a bottleneck warning.
const SLOT_WAIT_WARNING: Duration = Duration::from_secs(1);

/// How often the running steps are looked at for warnings (slower than estimate or history,
/// on the critical path). Only while some unit runs in a task of its own.
const WATCH_EVERY: Duration = Duration::from_millis(500);

/// A critical-path warning needs the step to have run this long: a step that ends sooner is
/// over before anyone could act on a warning, and quick runs would warn on every play.
const CRITICAL_MIN_RUN: Duration = Duration::from_secs(2);

/// ... and to have run at least this share (in percent) of the run so far: the step by itself
/// accounts for a real part of the wall time. A chain of similar steps then warns about its
/// first few steps, not about every one, and a short step late in a long run stays quiet.
const CRITICAL_MIN_SHARE_PERCENT: u128 = 25;

/// A history warning needs this many past plays: with fewer, p50 and p95 say little.
const HISTORY_MIN_RUNS: u32 = 3;

/// A step is far slower than its history once it has run longer than
/// max(p95 × [`HISTORY_P95_FACTOR`], p50 × [`HISTORY_P50_FACTOR`], [`HISTORY_FLOOR`]): well past
/// the tail of its own past runs (p95 alone is noisy with few runs, hence the p50 bound), and
/// never for sub-second steps, whose spread is mostly noise.
const HISTORY_P95_FACTOR: f64 = 1.5;
/// See [`HISTORY_P95_FACTOR`].
const HISTORY_P50_FACTOR: u64 = 3;
/// See [`HISTORY_P95_FACTOR`].
const HISTORY_FLOOR: Duration = Duration::from_secs(1);

/// An instrument whose templates read more than this (as JSON text) raises a context-bloat
/// warning: 64 KiB is about 16k tokens, past the whole window of smaller models, and a prompt
/// that size is usually a whole document passed on where one field or a summary would do
/// (cost and latency grow with every token).
const CONTEXT_BLOAT_BYTES: u64 = 64 * 1024;

/// How many units may finish on their first poll, inside the scheduler, before it yields to
/// the runtime and reads its commands (a long chain of quick operators must not hold it).
const INLINE_BUDGET: u32 = 128;

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

/// Commands a host sends to a running run.
#[derive(Debug)]
enum Control {
    Cancel,
    CancelStep(String),
    Pause,
    Resume,
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

fn run_record(
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

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Waiting,
    Ready,
    Running,
    Done(StepOutcome),
}

/// A step, or one item of a map, ready to start.
struct ReadyUnit {
    priority: i32,
    step: usize,
    item: Option<u32>,
    inputs: Arc<Map<String, Value>>,
    queued_at: Instant,
}

impl ReadyUnit {
    fn key(
        &self,
    ) -> (
        i32,
        std::cmp::Reverse<usize>,
        std::cmp::Reverse<Option<u32>>,
    ) {
        (
            self.priority,
            std::cmp::Reverse(self.step),
            std::cmp::Reverse(self.item),
        )
    }
}

impl PartialEq for ReadyUnit {
    fn eq(&self, other: &Self) -> bool {
        self.key() == other.key()
    }
}
impl Eq for ReadyUnit {}
impl PartialOrd for ReadyUnit {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for ReadyUnit {
    fn cmp(&self, other: &Self) -> Ordering {
        self.key().cmp(&other.key())
    }
}

/// A map whose items are being played.
struct MapRun {
    results: Vec<Option<Value>>,
    done: u32,
    /// Items started and not yet finished.
    running: u32,
    /// The first item failure; items still queued are then dropped.
    error: Option<StepError>,
    usage: Option<Usage>,
}

struct StepBook {
    state: State,
    deps_left: u32,
    /// Values per input port, per incoming edge.
    slots: Vec<Vec<Option<Value>>>,
    first_start: Option<Instant>,
    attempts: u32,
    note: Option<String>,
    usage: Option<Usage>,
    elapsed_ms: u64,
    token: Option<CancellationToken>,
    origin: OutputOrigin,
    cache_key: Option<Arc<str>>,
}

struct Scheduler {
    score: Arc<Score>,
    shared: Arc<Shared>,
    events: EventSink,
    workspace: Option<Arc<Workspace>>,
    options: RunOptions,
    start: Instant,
    max_parallel: usize,
    books: Vec<StepBook>,
    ready: BinaryHeap<ReadyUnit>,
    /// Ready units waiting for their instrument's concurrency limit, by key.
    parked: HashMap<String, Vec<ReadyUnit>>,
    in_use: HashMap<String, u32>,
    /// Units holding a slot.
    busy: usize,
    tasks: JoinSet<UnitDone>,
    maps: HashMap<usize, MapRun>,
    run_token: CancellationToken,
    paused: bool,
    cancelled: bool,
    warned: HashSet<(usize, BottleneckKind)>,
    /// Limiters already warned about (`None` is maxParallel).
    slot_warned: HashSet<Option<String>>,
    done_steps: usize,
    /// What the periodic check needs, made on its first tick.
    watch: Option<Watch>,
}

/// Per-run figures of the periodic check, made on its first tick (a run of quick steps never
/// has one).
struct Watch {
    /// Each step's expected duration in milliseconds: `policy.estimateMs`, else the p50 of its
    /// history, else what its type expects.
    estimate_ms: Vec<u64>,
    /// Each step's history, when it has enough runs to judge by.
    history: Vec<Option<StepHistory>>,
    /// Scratch: the longest chain of unfinished work starting at each step, in milliseconds.
    tail_ms: Vec<u64>,
    /// Scratch: steps seen while counting what waits on a step.
    seen: Vec<bool>,
    /// Whether any two steps can play at once. In a melody that is one chain, every step is on
    /// the critical path by definition, so saying so of one of them tells nothing.
    parallel: bool,
}

impl Watch {
    fn new(score: &Score, history: &BTreeMap<String, StepHistory>) -> Self {
        let history: Vec<Option<StepHistory>> = if history.is_empty() {
            vec![None; score.steps.len()]
        } else {
            score
                .steps
                .iter()
                .map(|s| history.get(&*s.id).copied().filter(|h| h.runs > 0))
                .collect()
        };
        let estimate_ms = score
            .steps
            .iter()
            .zip(&history)
            .map(|(s, h)| {
                s.estimate_ms
                    .or(h.map(|h| h.p50_ms))
                    .unwrap_or(s.type_estimate_ms)
            })
            .collect();
        // Depth of each step along the longest chain of edges to it; two steps at one depth
        // can play at once.
        let mut depth = vec![0usize; score.steps.len()];
        for &s in &score.topo {
            for e in &score.steps[s].out_edges {
                depth[e.to] = depth[e.to].max(depth[s] + 1);
            }
        }
        let mut width = vec![0u32; score.steps.len()];
        let parallel = depth.iter().any(|&d| {
            width[d] += 1;
            width[d] > 1
        });
        Watch {
            estimate_ms,
            parallel,
            history: history
                .into_iter()
                .map(|h| h.filter(|h| h.runs >= HISTORY_MIN_RUNS))
                .collect(),
            tail_ms: vec![0; score.steps.len()],
            seen: vec![false; score.steps.len()],
        }
    }
}

impl Scheduler {
    fn new(
        score: Arc<Score>,
        shared: Arc<Shared>,
        events: EventSink,
        workspace: Option<Arc<Workspace>>,
        options: RunOptions,
        start: Instant,
    ) -> Self {
        let books = score
            .steps
            .iter()
            .map(|s| StepBook {
                state: State::Waiting,
                deps_left: s.in_edges,
                slots: s.fan_in.iter().map(|&n| vec![None; n]).collect(),
                first_start: None,
                attempts: 0,
                note: None,
                usage: None,
                elapsed_ms: 0,
                token: None,
                origin: OutputOrigin::Played,
                cache_key: None,
            })
            .collect();
        let max_parallel = options
            .max_parallel
            .map_or(score.max_parallel, |n| n.max(1) as usize);
        Scheduler {
            score,
            shared,
            events,
            workspace,
            max_parallel,
            options,
            start,
            books,
            ready: BinaryHeap::new(),
            parked: HashMap::new(),
            in_use: HashMap::new(),
            busy: 0,
            tasks: JoinSet::new(),
            maps: HashMap::new(),
            run_token: CancellationToken::new(),
            paused: false,
            cancelled: false,
            warned: HashSet::new(),
            slot_warned: HashSet::new(),
            done_steps: 0,
            watch: None,
        }
    }

    async fn run(mut self, mut control: mpsc::UnboundedReceiver<Control>) -> RunReport {
        self.events.send(RunEvent::RunStarted {
            run_id: self.options.run_id.clone(),
            melody_id: self.shared.melody.melody.id.clone(),
            steps: self.score.steps.len() as u32,
            max_parallel: self.max_parallel as u32,
            offline: self.score.offline,
        });
        let roots: Vec<usize> = (0..self.score.steps.len())
            .filter(|&i| self.score.steps[i].in_edges == 0)
            .collect();
        for i in roots {
            self.resolve(i);
        }
        let mut tick = tokio::time::interval_at(Instant::now() + WATCH_EVERY, WATCH_EVERY);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut control_open = true;
        loop {
            if self.dispatch() {
                // Many units finished inline: let others run, then take what came in.
                self.events.flush();
                tokio::task::yield_now().await;
                while let Some(done) = self.tasks.try_join_next() {
                    self.on_joined(done);
                }
                while control_open {
                    match control.try_recv() {
                        Ok(cmd) => self.on_control(cmd),
                        Err(mpsc::error::TryRecvError::Empty) => break,
                        Err(mpsc::error::TryRecvError::Disconnected) => control_open = false,
                    }
                }
                continue;
            }
            if self.tasks.is_empty() {
                let idle = self.ready.is_empty() && self.parked.values().all(Vec::is_empty);
                // Paused with work left, the run waits for a command; in every other case an
                // empty task set means nothing more can happen.
                if idle || self.cancelled || !self.paused || !control_open {
                    break;
                }
            }
            // Everything said so far reaches the listener before the scheduler waits.
            self.events.flush();
            tokio::select! {
                Some(done) = self.tasks.join_next(), if !self.tasks.is_empty() => {
                    self.on_joined(done);
                    // Take every other unit that has finished too, before starting new ones.
                    while let Some(done) = self.tasks.try_join_next() {
                        self.on_joined(done);
                    }
                }
                cmd = control.recv(), if control_open => match cmd {
                    Some(cmd) => self.on_control(cmd),
                    None => control_open = false,
                },
                _ = tick.tick(), if !self.tasks.is_empty() => self.check_running(),
            }
        }
        self.finish().await
    }

    fn on_joined(&mut self, joined: Result<UnitDone, tokio::task::JoinError>) {
        match joined {
            Ok(done) => self.on_done(done),
            Err(e) => tracing::error!("a step task panicked: {e}"),
        }
    }

    /// Starts ready units while slots are free. Returns true when it stopped because
    /// [`INLINE_BUDGET`] units finished inline and there may be more to start.
    fn dispatch(&mut self) -> bool {
        if self.paused || self.cancelled {
            return false;
        }
        let mut inline = 0;
        while let Some(top) = self.ready.peek() {
            if inline >= INLINE_BUDGET {
                return true;
            }
            let step = &self.score.steps[top.step];
            let needs_slot = step.takes_slot() || top.item.is_some();
            if needs_slot && self.busy >= self.max_parallel {
                return false;
            }
            let unit = self.ready.pop().expect("peeked just above");
            if !self.still_wanted(&unit) {
                continue;
            }
            let key = if unit.item.is_some() {
                None
            } else {
                self.score.steps[unit.step].concurrency_key.clone()
            };
            if let Some(key) = &key {
                if let Some(&limit) = self.score.limits.get(key) {
                    let used = self.in_use.entry(key.clone()).or_default();
                    if *used >= limit {
                        self.parked.entry(key.clone()).or_default().push(unit);
                        continue;
                    }
                    *used += 1;
                }
            }
            if needs_slot {
                self.busy += 1;
            }
            if self.launch(unit, needs_slot, key) {
                inline += 1;
            }
        }
        false
    }

    fn still_wanted(&self, unit: &ReadyUnit) -> bool {
        match unit.item {
            None => self.books[unit.step].state == State::Ready,
            Some(_) => self.maps.get(&unit.step).is_some_and(|m| m.error.is_none()),
        }
    }

    /// Starts a unit. Its first poll happens here, inside the scheduler: a unit that needs no
    /// waiting (most operators) finishes on the spot, with no task and no wake-up; the others
    /// go on in a task of their own. Returns true when the unit finished inline.
    fn launch(&mut self, unit: ReadyUnit, holds_slot: bool, key: Option<String>) -> bool {
        let now = Instant::now();
        let waited = now.saturating_duration_since(unit.queued_at);
        let step = &self.score.steps[unit.step];
        let book = &mut self.books[unit.step];
        if unit.item.is_none() {
            book.state = State::Running;
            book.first_start = Some(now);
            book.token = Some(self.run_token.child_token());
        }
        if unit.item.is_some() {
            if let Some(map) = self.maps.get_mut(&unit.step) {
                map.running += 1;
            }
        }
        let token = book
            .token
            .clone()
            .expect("a map's token is set when the map starts");
        // One warning per limiter (maxParallel, or an instrument key), on the first step that
        // waited long: forty steps queued behind one limit are one bottleneck, not forty.
        let limiter = key
            .as_ref()
            .filter(|k| self.score.limits.contains_key(*k))
            .cloned();
        if waited >= SLOT_WAIT_WARNING && self.slot_warned.insert(limiter) {
            let limit = key
                .as_ref()
                .and_then(|k| {
                    self.score
                        .limits
                        .get(k)
                        .map(|l| format!("the `{k}` limit of {l}"))
                })
                .unwrap_or_else(|| format!("maxParallel {}", self.max_parallel));
            self.events.send(RunEvent::Bottleneck {
                step: step.id.clone(),
                kind: BottleneckKind::WaitingForSlot,
                message: format!(
                    "waited {:.1}s for a free slot ({limit})",
                    waited.as_secs_f64()
                ),
                advice: "raise settings.maxParallel (or the instrument's concurrency limit), or give this step a higher priority".into(),
            });
        }
        let playbook = if unit.item.is_some() {
            step.body
                .as_ref()
                .expect("only maps have items, and maps have bodies")
        } else {
            &step.playbook
        };
        let mut reuse = Reuse::None;
        if unit.item.is_none() {
            let primary = &playbook.variants[0];
            if let Some(outputs) = self.options.given.get(&*step.id) {
                reuse = Reuse::Given(outputs.clone());
                if let Some(made_from) = self.options.given_made_from.get(&*step.id) {
                    let reads = template_reads(
                        &primary.entry.spec,
                        &primary.config,
                        &unit.inputs,
                        self.shared.as_ref(),
                    );
                    let now = cache_key(
                        &primary.entry.spec.name,
                        primary.entry.spec.version,
                        &primary.config,
                        &unit.inputs,
                        &reads,
                    );
                    if &now != made_from {
                        self.events.send(RunEvent::Bottleneck {
                            step: step.id.clone(),
                            kind: BottleneckKind::PinnedStale,
                            message: "its pinned output was made from other inputs or settings than it gets in this run, and was passed on unchanged".into(),
                            advice: "unpin it to play it with what it gets now, or pin a newer output".into(),
                        });
                    }
                }
            } else if primary.entry.spec.cacheable {
                let reads = template_reads(
                    &primary.entry.spec,
                    &primary.config,
                    &unit.inputs,
                    self.shared.as_ref(),
                );
                let key: Arc<str> = Arc::from(cache_key(
                    &primary.entry.spec.name,
                    primary.entry.spec.version,
                    &primary.config,
                    &unit.inputs,
                    &reads,
                ));
                book.cache_key = Some(key.clone());
                let look = !self.options.fresh && !self.options.fresh_steps.contains(&*step.id);
                reuse = match (&self.options.cache, look) {
                    (Some(cache), true) => Reuse::Lookup(cache.0.clone(), key),
                    _ => Reuse::None,
                };
            }
        }
        // Once per step: an instrument about to be asked with a very large input (sent by the
        // unit once it misses the cache, so a reused answer raises nothing).
        let mut before_play = None;
        if !matches!(reuse, Reuse::Given(_))
            && playbook.variants[0].entry.spec.kind == StepKind::Instrument
            && !self
                .warned
                .contains(&(unit.step, BottleneckKind::ContextBloat))
        {
            if let Some((total, from, size)) = input_bloat(
                &self.score,
                step,
                &playbook.variants[0],
                &unit.inputs,
                self.shared.as_ref(),
            ) {
                self.warned
                    .insert((unit.step, BottleneckKind::ContextBloat));
                before_play = Some(RunEvent::Bottleneck {
                    step: step.id.clone(),
                    kind: BottleneckKind::ContextBloat,
                    message: format!(
                        "its input is {} (~{}k tokens), {} {from} ({})",
                        size_text(total),
                        (total + 2000) / 4000,
                        if size * 2 > total { "mostly from" } else { "the largest part from" },
                        size_text(size)
                    ),
                    advice: "pass only what it needs (operator.json.extract a field), summarise upstream, or split the step".into(),
                });
            }
        }
        let job = Job {
            step: unit.step,
            id: step.id.clone(),
            item: unit.item,
            inputs: unit.inputs,
            playbook: playbook.clone(),
            view: self.shared.clone(),
            events: self.events.clone(),
            workspace: self.workspace.clone(),
            record: unit.item.is_none(),
            token,
            seed: self.options.seed,
            holds_slot,
            key,
            reuse,
            before_play,
        };
        let mut unit = Box::pin(perform(job));
        // A future may be polled with one waker and then with another: whatever it registers
        // with this one is registered again, with the task's waker, on its first poll there.
        let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
        match unit.as_mut().poll(&mut cx) {
            std::task::Poll::Ready(done) => {
                self.on_done(done);
                true
            }
            std::task::Poll::Pending => {
                self.spawn_unit(unit);
                false
            }
        }
    }

    /// Runs a unit in a task of its own, flushing the events it sends each time it waits.
    fn spawn_unit<F>(&mut self, unit: Pin<Box<F>>)
    where
        F: Future<Output = UnitDone> + Send + 'static,
    {
        self.tasks.spawn(Flushing {
            unit,
            events: self.events.clone(),
        });
    }

    fn on_done(&mut self, done: UnitDone) {
        if done.holds_slot {
            self.busy -= 1;
        }
        if let Some(key) = &done.key {
            if let Some(n) = self.in_use.get_mut(key) {
                *n -= 1;
            }
            if let Some(parked) = self.parked.get_mut(key) {
                self.ready.extend(parked.drain(..));
            }
        }
        let s = done.step;
        if done.item.is_none() && done.origin != OutputOrigin::Played {
            self.books[s].origin = done.origin;
        }
        // A map's own play only lists its items; its attempts are its items' attempts.
        if !matches!(done.result, Ok(Played::FanOut(_))) {
            self.books[s].attempts += done.attempts;
        }
        if let Some(u) = &done.usage {
            self.books[s]
                .usage
                .get_or_insert_with(Usage::default)
                .add(u);
        }
        match done.item {
            Some(item) => self.on_item_done(s, item, done.result),
            None => match done.result {
                Ok(Played::Done(out)) => self.succeed(s, out),
                Ok(Played::FanOut(items)) => self.fan_out(s, items),
                Err(e) => self.fail(s, e),
            },
        }
    }

    fn fan_out(&mut self, s: usize, items: Vec<Value>) {
        if items.is_empty() {
            self.finish_map_output(s, Vec::new());
            return;
        }
        let inputs = self.gather_inputs(s).unwrap_or_default();
        let now = Instant::now();
        let total = items.len();
        for (i, item) in items.into_iter().enumerate() {
            let mut unit_inputs = inputs.clone();
            unit_inputs.insert("item".into(), item);
            unit_inputs.insert("index".into(), Value::from(i));
            let unit_inputs = Arc::new(unit_inputs);
            self.events.send(RunEvent::StepQueued {
                step: self.score.steps[s].id.clone(),
                item: Some(i as u32),
                inputs: unit_inputs.clone(),
            });
            self.ready.push(ReadyUnit {
                priority: self.score.steps[s].priority,
                step: s,
                item: Some(i as u32),
                inputs: unit_inputs,
                queued_at: now,
            });
        }
        self.maps.insert(
            s,
            MapRun {
                results: vec![None; total],
                done: 0,
                running: 0,
                error: None,
                usage: None,
            },
        );
    }

    fn on_item_done(&mut self, s: usize, item: u32, result: Result<Played, StepError>) {
        let id = self.score.steps[s].id.clone();
        let Some(map) = self.maps.get_mut(&s) else {
            return;
        };
        map.running -= 1;
        map.done += 1;
        let total = map.results.len() as u32;
        let mut item_error = None;
        let ok = match result {
            Ok(Played::Done(out)) => {
                map.results[item as usize] = Some(
                    out.outputs
                        .get("output")
                        .cloned()
                        .unwrap_or_else(|| Value::Object(out.outputs.0.clone())),
                );
                if let Some(u) = out.usage {
                    map.usage.get_or_insert_with(Usage::default).add(&u);
                }
                true
            }
            Ok(Played::FanOut(_)) => {
                map.error.get_or_insert_with(|| {
                    StepError::fatal(
                        ErrorKind::Config,
                        format!("item {item}: a map's body cannot fan out"),
                    )
                });
                false
            }
            Err(e) => {
                item_error = Some(e.message.clone());
                if map.error.is_none() {
                    // Stop the items still running: the map has failed.
                    if e.kind != ErrorKind::Cancelled {
                        if let Some(t) = &self.books[s].token {
                            t.cancel();
                        }
                    }
                    map.error = Some(StepError {
                        message: format!("item {item} failed: {}", e.message),
                        ..e
                    });
                }
                false
            }
        };
        self.events.send(RunEvent::StepItemFinished {
            step: id,
            item,
            ok,
            error: item_error,
            done: map.done,
            total,
        });
        let finished = match map.error {
            None => map.done == total,
            Some(_) => map.running == 0,
        };
        if !finished {
            return;
        }
        let map = self.maps.remove(&s).expect("looked up above");
        match map.error {
            Some(e) => self.fail(s, e),
            None => {
                if let Some(u) = map.usage {
                    self.books[s].usage = Some(u);
                }
                let results = map
                    .results
                    .into_iter()
                    .map(Option::unwrap_or_default)
                    .collect();
                self.finish_map_output(s, results);
            }
        }
    }

    fn finish_map_output(&mut self, s: usize, results: Vec<Value>) {
        let mut outputs = Map::new();
        outputs.insert("results".into(), Value::Array(results));
        let out = StepOutput {
            outputs: Outputs(outputs),
            usage: self.books[s].usage.take(),
        };
        match &self.workspace {
            // Recording touches the disk: do it in a task and come back through `on_done`.
            Some(ws) => {
                let ws = ws.clone();
                let id = self.score.steps[s].id.clone();
                self.spawn_unit(Box::pin(async move {
                    let result = record_outputs(&ws, &id, &out.outputs)
                        .await
                        .map(|()| Played::Done(out));
                    UnitDone {
                        step: s,
                        item: None,
                        result,
                        attempts: 0,
                        usage: None,
                        holds_slot: false,
                        key: None,
                        origin: OutputOrigin::Played,
                    }
                }));
            }
            None => self.succeed(s, out),
        }
    }

    fn elapsed_ms(&self, s: usize) -> u64 {
        self.books[s]
            .first_start
            .map_or(0, |t| t.elapsed().as_millis() as u64)
    }

    fn succeed(&mut self, s: usize, out: StepOutput) {
        let step = &self.score.steps[s];
        let outputs = Arc::new(out.outputs);
        let elapsed_ms = self.elapsed_ms(s);
        let book = &mut self.books[s];
        if let Some(u) = out.usage {
            book.usage.get_or_insert_with(Usage::default).add(&u);
        }
        book.state = State::Done(StepOutcome::Succeeded);
        book.elapsed_ms = elapsed_ms;
        book.token = None;
        self.done_steps += 1;
        let _ = self.shared.outputs[s].set(outputs.clone());
        self.events.send(RunEvent::StepOutput {
            step: step.id.clone(),
            outputs: outputs.clone(),
        });
        self.events.send(RunEvent::StepSucceeded {
            step: step.id.clone(),
            elapsed_ms,
            attempts: book.attempts,
            usage: book.usage.clone(),
            origin: book.origin,
            cache_key: book.cache_key.clone(),
        });
        self.propagate(s, Some(&outputs));
    }

    fn fail(&mut self, s: usize, e: StepError) {
        let step = &self.score.steps[s];
        let book = &mut self.books[s];
        book.elapsed_ms = book
            .first_start
            .map_or(0, |t| t.elapsed().as_millis() as u64);
        book.token = None;
        self.done_steps += 1;
        if e.kind == ErrorKind::Cancelled {
            book.state = State::Done(StepOutcome::Cancelled);
            book.note = Some(e.message.clone());
            self.events.send(RunEvent::StepCancelled {
                step: step.id.clone(),
            });
        } else {
            book.state = State::Done(StepOutcome::Failed);
            book.note = Some(e.message.clone());
            self.events.send(RunEvent::StepFailed {
                step: step.id.clone(),
                error: e.message,
                optional: step.optional,
            });
        }
        self.propagate(s, None);
    }

    /// Sends a finished step's outputs along its edges and resolves steps whose inputs are all
    /// in. Iterative, so a 100,000-step chain of skips cannot overflow the stack.
    fn propagate(&mut self, from: usize, outputs: Option<&Arc<Outputs>>) {
        let mut finished = vec![(from, outputs.cloned())];
        while let Some((s, outputs)) = finished.pop() {
            let score = self.score.clone();
            let step = &score.steps[s];
            for edge in &step.out_edges {
                let value = outputs.as_ref().and_then(|o| o.get(&edge.from_port));
                if let Some(v) = value {
                    self.events.send(RunEvent::DataSent {
                        from_step: step.id.clone(),
                        from_port: edge.from_port.clone(),
                        to_step: score.steps[edge.to].id.clone(),
                        to_port: edge.to_port_name.clone(),
                        bytes: json_size(v),
                    });
                    self.books[edge.to].slots[edge.to_port][edge.slot] = Some(v.clone());
                }
                let book = &mut self.books[edge.to];
                book.deps_left -= 1;
                if book.deps_left == 0 {
                    if let Some(skipped) = self.resolve_inner(edge.to) {
                        finished.push((skipped, None));
                    }
                }
            }
        }
    }

    /// A step whose inputs are all in: queue it, or skip it. Roots come here at the start.
    fn resolve(&mut self, s: usize) {
        if self.resolve_inner(s).is_some() {
            self.propagate(s, None);
        }
    }

    /// Returns `Some(s)` when the step was skipped (and its dependents must hear of it).
    fn resolve_inner(&mut self, s: usize) -> Option<usize> {
        if self.cancelled {
            return None;
        }
        if self.books[s].state != State::Waiting {
            // Cancelled before its inputs arrived: pass that on.
            return matches!(self.books[s].state, State::Done(StepOutcome::Cancelled)).then_some(s);
        }
        let inputs = match self.gather_inputs(s) {
            Ok(inputs) => inputs,
            Err(reason) => {
                self.mark_skipped(s, reason);
                return Some(s);
            }
        };
        let step = &self.score.steps[s];
        if let Some(cond) = &step.skip_if {
            let shared: &dyn crate::step::RunView = self.shared.as_ref();
            let holds = cond.evaluate(&mut |r| lookup(&inputs, shared, r));
            if holds {
                self.mark_skipped(s, "its skip condition holds".into());
                return Some(s);
            }
        }
        self.books[s].state = State::Ready;
        let inputs = Arc::new(inputs);
        self.events.send(RunEvent::StepQueued {
            step: step.id.clone(),
            item: None,
            inputs: inputs.clone(),
        });
        self.ready.push(ReadyUnit {
            priority: step.priority,
            step: s,
            item: None,
            inputs,
            queued_at: Instant::now(),
        });
        None
    }

    /// Marks a step skipped without propagating (the caller does).
    fn mark_skipped(&mut self, s: usize, reason: String) {
        let book = &mut self.books[s];
        book.state = State::Done(StepOutcome::Skipped);
        book.note = Some(reason.clone());
        self.done_steps += 1;
        self.events.send(RunEvent::StepSkipped {
            step: self.score.steps[s].id.clone(),
            reason,
        });
    }

    /// The step's input values, or why one it needs is missing.
    fn gather_inputs(&mut self, s: usize) -> Result<Map<String, Value>, String> {
        let step = &self.score.steps[s];
        let mut inputs = Map::new();
        for (p, port) in step.inputs.iter().enumerate() {
            let slots = &mut self.books[s].slots[p];
            let value = if collects(port, step.fan_in[p]) {
                let present: Vec<Value> = slots.iter_mut().filter_map(Option::take).collect();
                (!present.is_empty()).then_some(Value::Array(present))
            } else {
                slots.first_mut().and_then(Option::take)
            };
            match value.or_else(|| port.default.clone()) {
                Some(v) => {
                    inputs.insert(port.name.clone(), v);
                }
                None if step.fan_in[p] > 0 || port.required => {
                    let (src, src_port) = &step.sources[p][0];
                    let why = match self.books[*src].state {
                        State::Done(StepOutcome::Succeeded) => format!(
                            "`{}` sent nothing on `{src_port}` (a router chose another branch)",
                            self.score.steps[*src].id
                        ),
                        State::Done(StepOutcome::Failed) => {
                            format!("`{}` failed", self.score.steps[*src].id)
                        }
                        State::Done(StepOutcome::Cancelled) => {
                            format!("`{}` was cancelled", self.score.steps[*src].id)
                        }
                        _ => format!("`{}` was skipped", self.score.steps[*src].id),
                    };
                    return Err(format!("input `{}` has no value: {why}", port.name));
                }
                None => {}
            }
        }
        Ok(inputs)
    }

    fn on_control(&mut self, cmd: Control) {
        match cmd {
            Control::Pause if !self.paused && !self.cancelled => {
                self.paused = true;
                self.events.send(RunEvent::RunPaused);
            }
            Control::Resume if self.paused => {
                self.paused = false;
                self.events.send(RunEvent::RunResumed);
            }
            Control::Cancel if !self.cancelled => {
                self.cancelled = true;
                self.run_token.cancel();
                self.ready.clear();
                self.parked.clear();
            }
            Control::CancelStep(id) => {
                let Some(&s) = self.score.index.get(id.as_str()) else {
                    return;
                };
                match self.books[s].state {
                    State::Running => {
                        if let Some(t) = &self.books[s].token {
                            t.cancel();
                        }
                    }
                    State::Ready => {
                        // Its queued unit is dropped when popped (`still_wanted`).
                        self.fail(
                            s,
                            StepError::fatal(ErrorKind::Cancelled, "cancelled before it started"),
                        );
                    }
                    State::Waiting => {
                        self.books[s].state = State::Done(StepOutcome::Cancelled);
                        self.books[s].note = Some("cancelled before it started".into());
                        self.done_steps += 1;
                        self.events.send(RunEvent::StepCancelled {
                            step: self.score.steps[s].id.clone(),
                        });
                    }
                    State::Done(_) => {}
                }
            }
            _ => {}
        }
    }

    /// The periodic check of the running steps: warns about a step running far longer than
    /// its estimate or its own history, and about the running step on the critical path.
    /// O(steps) at most every [`WATCH_EVERY`]; the critical path is computed only when a
    /// running step is long enough to be worth a warning.
    fn check_running(&mut self) {
        let now = Instant::now();
        let run_elapsed = now.saturating_duration_since(self.start);
        let watch = self
            .watch
            .get_or_insert_with(|| Watch::new(&self.score, &self.options.history));
        let mut critical_candidates = Vec::new();
        for (s, step) in self.score.steps.iter().enumerate() {
            let book = &self.books[s];
            if book.state != State::Running {
                continue;
            }
            let Some(since) = book.first_start else {
                continue;
            };
            let ran = now.saturating_duration_since(since);
            if let Some(estimate) = step.estimate_ms {
                let limit =
                    Duration::from_millis(estimate.saturating_mul(2)).max(Duration::from_secs(1));
                if ran >= limit && self.warned.insert((s, BottleneckKind::SlowerThanEstimate)) {
                    self.events.send(RunEvent::Bottleneck {
                        step: step.id.clone(),
                        kind: BottleneckKind::SlowerThanEstimate,
                        message: format!(
                            "running {:.1}s against an estimate of {:.1}s",
                            ran.as_secs_f64(),
                            estimate as f64 / 1000.0
                        ),
                        advice: "check the instrument's health, give the step a timeout and a fallback, or split it into smaller steps".into(),
                    });
                }
            }
            if let Some(h) = watch.history[s] {
                let limit = Duration::from_millis(
                    ((h.p95_ms as f64 * HISTORY_P95_FACTOR) as u64)
                        .max(h.p50_ms.saturating_mul(HISTORY_P50_FACTOR)),
                )
                .max(HISTORY_FLOOR);
                if ran > limit && self.warned.insert((s, BottleneckKind::SlowerThanHistory)) {
                    self.events.send(RunEvent::Bottleneck {
                        step: step.id.clone(),
                        kind: BottleneckKind::SlowerThanHistory,
                        message: format!(
                            "running {:.1}s; its last {} runs took {:.1}s (p50), {:.1}s (p95)",
                            ran.as_secs_f64(),
                            h.runs,
                            h.p50_ms as f64 / 1000.0,
                            h.p95_ms as f64 / 1000.0
                        ),
                        advice: "check the instrument's health or the size of its input; give it a timeout and a fallback".into(),
                    });
                }
            }
            if ran >= CRITICAL_MIN_RUN
                && ran.as_millis() * 100 >= run_elapsed.as_millis() * CRITICAL_MIN_SHARE_PERCENT
                && !self.warned.contains(&(s, BottleneckKind::OnCriticalPath))
                && step
                    .out_edges
                    .iter()
                    .any(|e| self.books[e.to].state == State::Waiting)
            {
                critical_candidates.push((s, ran));
            }
        }
        if critical_candidates.is_empty() || !watch.parallel {
            return;
        }
        // The remaining critical path, backwards over the topological order: the longest chain
        // of unfinished work that starts at each step, by estimates. A step not started counts
        // its whole estimate; a running one what is left of it, but never less than half of
        // what it has run already (a step past its estimate is not about to end: the longer it
        // has overrun, the less its estimate says).
        let score = &self.score;
        let books = &self.books;
        let remaining = |s: usize| -> u64 {
            let estimate = watch.estimate_ms[s];
            match (books[s].state, books[s].first_start) {
                (State::Running, Some(since)) => {
                    let ran = now.saturating_duration_since(since).as_millis() as u64;
                    estimate.saturating_sub(ran).max(ran / 2)
                }
                _ => estimate,
            }
        };
        let mut longest = 0;
        for &s in score.topo.iter().rev() {
            if matches!(books[s].state, State::Done(_)) {
                watch.tail_ms[s] = 0;
                continue;
            }
            let after = score.steps[s]
                .out_edges
                .iter()
                .map(|e| watch.tail_ms[e.to])
                .max()
                .unwrap_or(0);
            let tail = remaining(s).saturating_add(after);
            watch.tail_ms[s] = tail;
            // Every chain of unfinished work starts at a step that runs or is ready to.
            if matches!(books[s].state, State::Running | State::Ready) {
                longest = longest.max(tail);
            }
        }
        for (s, ran) in critical_candidates {
            if watch.tail_ms[s] < longest {
                continue;
            }
            let waiting = waiting_on(score, books, &mut watch.seen, s);
            self.warned.insert((s, BottleneckKind::OnCriticalPath));
            // An offline stand-in takes the time its settings say: model advice does not fit it.
            let stand_in = score.steps[s]
                .playbook
                .variants
                .iter()
                .all(|v| v.entry.spec.offline);
            self.events.send(RunEvent::Bottleneck {
                step: score.steps[s].id.clone(),
                kind: BottleneckKind::OnCriticalPath,
                message: format!(
                    "on the critical path: {waiting} {} on it; running {:.1}s of the run's {:.1}s",
                    if waiting == 1 { "step waits" } else { "steps wait" },
                    ran.as_secs_f64(),
                    run_elapsed.as_secs_f64()
                ),
                advice: if stand_in {
                    "it decides when the run ends; it is an offline stand-in, so its time is its latencyMs setting: a real model's time will differ".into()
                } else {
                    "it decides when the run ends: use a faster model, split it, cache it, or start it earlier with a higher priority".into()
                },
            });
        }
    }

    async fn finish(mut self) -> RunReport {
        let mut totals = Totals {
            steps: self.score.steps.len() as u32,
            elapsed_ms: self.start.elapsed().as_millis() as u64,
            ..Totals::default()
        };
        let mut required_failed = false;
        let mut required_cancelled = self.cancelled;
        let mut steps = Vec::with_capacity(self.books.len());
        for (s, book) in self.books.iter_mut().enumerate() {
            let step = &self.score.steps[s];
            let outcome = match book.state {
                State::Done(o) => o,
                _ => StepOutcome::NotRun,
            };
            match outcome {
                StepOutcome::Succeeded => totals.succeeded += 1,
                StepOutcome::Skipped => totals.skipped += 1,
                StepOutcome::Failed => {
                    totals.failed += 1;
                    required_failed |= !step.optional;
                }
                StepOutcome::Cancelled | StepOutcome::NotRun => {
                    totals.cancelled += 1;
                    required_cancelled |= !step.optional;
                }
            }
            totals.attempts += book.attempts;
            if let Some(u) = &book.usage {
                totals.input_tokens += u.input_tokens;
                totals.output_tokens += u.output_tokens;
                totals.tokens_estimated |= u.estimated;
                totals.cost_usd += u.cost_usd.unwrap_or(0.0);
            }
            steps.push(StepReport {
                id: step.id.to_string(),
                outcome,
                attempts: book.attempts,
                elapsed_ms: book.elapsed_ms,
                note: book.note.take(),
                usage: book.usage.clone(),
                offline: step.body.as_ref().unwrap_or(&step.playbook).variants[0]
                    .entry
                    .spec
                    .offline,
                origin: book.origin,
            });
        }
        let status = if required_failed {
            RunStatus::Failed
        } else if required_cancelled {
            RunStatus::Cancelled
        } else {
            RunStatus::Succeeded
        };
        let mut result = Map::new();
        for (s, step) in self.score.steps.iter().enumerate() {
            if step.out_edges.is_empty() {
                if let Some(o) = self.shared.outputs[s].get() {
                    result.insert(step.id.to_string(), Value::Object(o.0.clone()));
                }
            }
        }
        if let Some(ws) = &self.workspace {
            let ws = ws.clone();
            let status_name = serde_json::to_value(status)
                .expect("a status serializes")
                .as_str()
                .unwrap_or_default()
                .to_owned();
            let record = run_record(
                &self.options.run_id,
                &self.shared.melody,
                &self.shared.run_inputs,
                &status_name,
                Some(&totals),
            );
            let result_doc = json!({"status": status_name, "outputs": result});
            let written = tokio::task::spawn_blocking(move || {
                ws.write_record("result.json", &result_doc)?;
                ws.write_record("run.json", &record)
            })
            .await;
            if let Ok(Err(e)) | Err(e) = written.map_err(std::io::Error::other) {
                tracing::error!("could not write the run's result to the workspace: {e}");
            }
        }
        self.events.send(RunEvent::RunFinished {
            status,
            totals: totals.clone(),
        });
        self.events.flush();
        RunReport {
            run_id: self.options.run_id.clone(),
            status,
            totals,
            steps,
            result,
        }
    }
}

/// How many steps not yet started depend on step `s`, directly or further down.
fn waiting_on(score: &Score, books: &[StepBook], seen: &mut [bool], s: usize) -> usize {
    seen.fill(false);
    let mut stack = vec![s];
    let mut count = 0;
    while let Some(at) = stack.pop() {
        for edge in &score.steps[at].out_edges {
            if seen[edge.to] || books[edge.to].state != State::Waiting {
                continue;
            }
            seen[edge.to] = true;
            count += 1;
            stack.push(edge.to);
        }
    }
    count
}

/// How large the values an instrument's templates read are, and where the largest comes
/// from, when their sum is over [`CONTEXT_BLOAT_BYTES`]: `(total, source, its size)`. An
/// instrument sends what its templates render (the prompt, the system prompt), so that is
/// what is measured; each reference counts once.
fn input_bloat(
    score: &Score,
    step: &CompiledStep,
    variant: &Variant,
    inputs: &Map<String, Value>,
    view: &dyn crate::step::RunView,
) -> Option<(u64, String, u64)> {
    let mut counted: Vec<String> = Vec::new();
    let mut total = 0u64;
    let mut biggest: Option<(u64, String)> = None;
    each_template_read(
        &variant.entry.spec,
        &variant.config,
        inputs,
        view,
        |r, value| {
            let text = r.to_string();
            if counted.contains(&text) {
                return;
            }
            let size = value.map_or(0, json_size);
            total += size;
            if biggest.as_ref().is_none_or(|(b, _)| size > *b) {
                biggest = Some((size, source_of(score, step, r)));
            }
            counted.push(text);
        },
    );
    let (size, from) = biggest?;
    (total > CONTEXT_BLOAT_BYTES).then_some((total, from, size))
}

/// Where a value a template reads comes from: the upstream output feeding the input port it
/// names (`research.output`), or the reference itself (`input.doc`, `plan.output`).
fn source_of(score: &Score, step: &CompiledStep, r: &symphony_melody::Reference) -> String {
    let head = r.segments[0].as_str();
    match step.inputs.iter().position(|p| p.name == head) {
        Some(p) => match step.sources[p].as_slice() {
            [(src, port)] => format!("{}.{port}", score.steps[*src].id),
            [] => format!("its `{head}` input"),
            many => format!("its `{head}` input (joined from {} steps)", many.len()),
        },
        None => r.to_string(),
    }
}

/// "210 KB", "1.3 MB".
fn size_text(bytes: u64) -> String {
    if bytes < 1_000_000 {
        format!("{} KB", (bytes + 500) / 1000)
    } else {
        format!("{:.1} MB", bytes as f64 / 1_000_000.0)
    }
}

/// A unit's future that flushes the run's events after every poll, so what a step reports
/// reaches the listener as soon as the step waits (or ends).
struct Flushing<F> {
    unit: Pin<Box<F>>,
    events: EventSink,
}

impl<F: Future> Future for Flushing<F> {
    type Output = F::Output;

    fn poll(
        mut self: Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<F::Output> {
        let polled = self.unit.as_mut().poll(cx);
        self.events.flush();
        polled
    }
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
