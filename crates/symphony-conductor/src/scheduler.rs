//! The scheduler: plays a compiled melody.
//!
//! One task owns all run state (no locks on the hot path). It starts each step as soon as its
//! inputs are in, highest priority first, while slots are free (`maxParallel`, and the
//! per-instrument limits of `settings.concurrency`). Each attempt runs in a task of its own
//! ([`crate::attempt`]), which applies the timeout, retries and fallbacks and reports back.
//! Outputs flow along edges by port ([`flow`]); a step whose input did not arrive (its upstream
//! was skipped, failed optionally, or a router chose another branch) is skipped in turn, unless
//! the port declares a default. A map's items are units of their own ([`map`]). A failed
//! required step fails the run, but independent branches still finish so their work is kept;
//! [`report`] sums up the end. Bottleneck warnings are raised through [`crate::warnings`].
//!
//! **Architecture Invariant:** the scheduler never awaits a listener. Events go into an
//! unbounded channel; state changes are never dropped; only progress is coalesced.

mod flow;
mod gates;
mod map;
mod report;
mod rounds;

use std::cmp::Ordering;
use std::collections::{BinaryHeap, HashMap};
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use serde_json::{Map, Value};
use tokio::sync::mpsc;
use tokio::task::JoinSet;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use crate::attempt::{perform, Job, Reuse, UnitDone};
use crate::cache::{cache_key, template_reads};
use crate::conductor::{RunOptions, RunReport};
use crate::event::{EventSink, OutputOrigin, RunEvent, StepOutcome};
use crate::score::{Score, Shared};
use crate::step::{ErrorKind, Played, StepError, Usage};
use crate::warnings::{Launch, Warnings, WATCH_EVERY};
use crate::workspace::Workspace;
use map::MapRun;
use rounds::LoopRun;

/// How many units may finish on their first poll, inside the scheduler, before it yields to
/// the runtime and reads its commands (a long chain of quick operators must not hold it).
const INLINE_BUDGET: u32 = 128;

/// Commands a host sends to a running run.
#[derive(Debug)]
pub(crate) enum Control {
    Cancel,
    CancelStep(String),
    Pause,
    Resume,
    Answer(String, crate::steps::gate::GateAnswer),
}

/// Where a step stands in this run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum State {
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

/// What the scheduler keeps of one step while the run plays.
pub(crate) struct StepBook {
    pub(crate) state: State,
    deps_left: u32,
    /// Values per input port, per incoming edge.
    slots: Vec<Vec<Option<Value>>>,
    /// When its first unit started (the periodic warnings measure from here).
    pub(crate) first_start: Option<Instant>,
    /// A gate that asked a person: its time is theirs, not slow, not a bottleneck of the run's
    /// machinery.
    pub(crate) asking: bool,
    attempts: u32,
    note: Option<String>,
    usage: Option<Usage>,
    elapsed_ms: u64,
    token: Option<CancellationToken>,
    origin: OutputOrigin,
    cache_key: Option<Arc<str>>,
}

/// One run's state, owned by the scheduler's task.
pub(crate) struct Scheduler {
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
    loops: HashMap<usize, LoopRun>,
    /// Gates waiting for a person (`cue.gate`).
    gates: gates::Gates,
    run_token: CancellationToken,
    paused: bool,
    cancelled: bool,
    /// What this run has warned about, and the periodic check's figures.
    warnings: Warnings,
    done_steps: usize,
}

impl Scheduler {
    pub(crate) fn new(
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
                asking: false,
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
            loops: HashMap::new(),
            gates: HashMap::new(),
            run_token: CancellationToken::new(),
            paused: false,
            cancelled: false,
            warnings: Warnings::default(),
            done_steps: 0,
        }
    }

    pub(crate) async fn run(mut self, mut control: mpsc::UnboundedReceiver<Control>) -> RunReport {
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
                if !self.gates.is_empty() && !control_open && self.next_deadline().is_none() {
                    // Nobody is left to answer, and no timeout will: the gates end here.
                    self.drop_gates("nobody is left to answer the gate (its host closed)");
                    continue;
                }
                // A gate waiting for a person keeps the run; paused with work left, the run
                // waits for a command; in every other case an empty task set means nothing
                // more can happen.
                if self.gates.is_empty()
                    && (idle || self.cancelled || !self.paused || !control_open)
                {
                    break;
                }
            }
            // Everything said so far reaches the listener before the scheduler waits.
            self.events.flush();
            let deadline = self.next_deadline();
            tokio::select! {
                _ = tokio::time::sleep_until(deadline.unwrap_or_else(Instant::now)), if deadline.is_some() => {
                    self.on_deadlines();
                }
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
                _ = tick.tick(), if !self.tasks.is_empty() => self.warnings.on_tick(
                    &self.events,
                    &self.score,
                    &self.books,
                    self.start,
                    &self.options.history,
                ),
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
            Some(_) => {
                self.maps.get(&unit.step).is_some_and(|m| m.error.is_none())
                    || self.loops.contains_key(&unit.step)
            }
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
        let playbook = if unit.item.is_some() {
            step.body
                .as_ref()
                .expect("only maps have items, and maps have bodies")
        } else {
            &step.playbook
        };
        let mut reuse = Reuse::None;
        let mut stale_pin = false;
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
                    stale_pin = &now != made_from;
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
        let before_play = self.warnings.at_launch(
            &self.events,
            Launch {
                score: &self.score,
                s: unit.step,
                variant: &playbook.variants[0],
                inputs: &unit.inputs,
                view: self.shared.as_ref(),
                waited,
                key: key.as_deref(),
                max_parallel: self.max_parallel,
                given: matches!(reuse, Reuse::Given(_)),
                stale_pin,
            },
        );
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
        // A map's own play only lists its items (a loop's, its plan); its attempts are its
        // items' (rounds') attempts.
        if !matches!(done.result, Ok(Played::FanOut(_) | Played::Loop(_))) {
            self.books[s].attempts += done.attempts;
        }
        if let Some(u) = &done.usage {
            self.books[s]
                .usage
                .get_or_insert_with(Usage::default)
                .add(u);
        }
        match done.item {
            Some(_) if self.loops.contains_key(&s) => self.on_round_done(s, done.result),
            Some(item) => self.on_item_done(s, item, done.result),
            None => match done.result {
                Ok(Played::Done(out)) => self.succeed(s, out),
                Ok(Played::FanOut(items)) => self.fan_out(s, items),
                Ok(Played::Loop(plan)) => self.start_loop(s, *plan),
                Ok(Played::Ask(ask)) => self.start_gate(s, *ask),
                Err(e) => self.fail(s, e),
            },
        }
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
                self.drop_gates("cancelled while waiting for an answer");
            }
            Control::Answer(step, answer) if !self.cancelled => self.on_answer(&step, answer),
            Control::CancelStep(id) => {
                let Some(&s) = self.score.index.get(id.as_str()) else {
                    return;
                };
                if self.cancel_gate(s) {
                    return;
                }
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
