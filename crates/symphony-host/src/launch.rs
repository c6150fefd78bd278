//! The one way a run starts and is recorded, whichever host starts it: the app's `startRun`,
//! `forkRun` and `continueRun` (the desktop app and `symphony serve`), and `symphony run`,
//! `symphony runs fork` and `symphony resume`.
//!
//! A host does what is its own: it reads the melody (step types are upgraded as it loads),
//! checks it, decides its trust (the app refuses an untrusted melody, the CLI asks on a
//! terminal or takes `--trust`) and picks the workspace (the app: `<project>/runs/<id>`,
//! checked by `Host::project_workspace`; the CLI: `--workspace` or `runs/<id>`, checked by
//! `default_workspace`). It hands the [`Launcher`] the compiled melody and its trust decision
//! ([`Trusted`]); the launcher gives the run its pinned outputs and its steps' past durations,
//! records it, starts it, and returns a [`Playing`] run whose events the host reads, each
//! recorded as it is read. After the run the host applies the store's retention
//! ([`apply_retention`]).
//!
//! # Record first, then start
//!
//! A new run is recorded in the store ([`Store::begin`]) before the conductor starts it; a
//! resumed run claims its next session ([`Store::resume`]) before it starts. The other order
//! (start, then record; the app's until this module) lets steps play before the store knows the
//! run: a crash, or a store that refuses the record, in between loses work that finished (the
//! outputs a model was paid for, files a step wrote) and leaves a run that was cancelled after
//! it had begun. Recorded first, a run is never playing without a record: if the process dies
//! at any point after, the history shows the run as interrupted and resuming it keeps every
//! step that finished. Its events cannot be lost either: the recorder exists before the first
//! event is emitted, and the conductor's stream keeps every event until it is read.
//!
//! What a run that cannot start leaves: everything that can be checked (validation, trust,
//! inputs, the workspace's place) is checked before the record is made, so only preparing the
//! workspace folder can still fail after it; then the record is removed
//! ([`Store::forget_unstarted`]: one session, no event), so a run that never started leaves no
//! half-begun record. A resume that cannot start closes its new session with no event: the run
//! stays interrupted, as it was.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::sync::Arc;

use serde_json::{Map, Value};
use symphony_conductor::{
    resolve_inputs, CacheHandle, Conductor, EventRecord, EventStream, GateAnswer, Outputs,
    Prepared, RunControl, RunEvent, RunOptions, RunReport, StartError,
};
use symphony_melody::{Melody, Problems};
use symphony_store::{Recorder, Store, StoreError};
use tokio::sync::watch;
use tokio::task::{JoinError, JoinHandle};

use crate::estimates::step_history;
use crate::recorded::RecordedOptions;
use crate::trust::{assess, Assessment};

/// Starts and records runs of one conductor into one store. A pair of references: its
/// methods take it by value, so a launch is a future that borrows only the two.
#[derive(Clone, Copy)]
pub struct Launcher<'a> {
    conductor: &'a Conductor,
    store: &'a Store,
}

/// The trust a host decided for a melody before launching it: the melody needs none, a person
/// trusted it before, or trusts it now. The launcher plays a melody only with the decision made
/// for exactly it (the same trust fingerprint), so a melody changed after the check does not
/// play on it.
#[derive(Debug, Clone)]
pub struct Trusted {
    fingerprint: Option<String>,
}

impl Trusted {
    /// The decision that the melody `assessment` describes may play. Made by a host's trust
    /// gate (`Host::check_trusted`, the CLI's `trust::gate`) once it has found so.
    pub fn granted(assessment: &Assessment) -> Trusted {
        Trusted {
            fingerprint: assessment.fingerprint.clone(),
        }
    }
}

/// A new run to start.
pub struct Start {
    /// Its id ([`crate::runs::new_run_id`]).
    pub run_id: String,
    /// Run input values as given; declared defaults fill the rest.
    pub inputs: Map<String, Value>,
    /// Its workspace folder, already checked by the host.
    pub workspace: PathBuf,
    /// The outputs given instead of playing steps.
    pub given: Given,
    /// Seed, `maxParallel`, fresh steps, which host, the melody's file. `given` is filled in
    /// by the launcher.
    pub options: RecordedOptions,
    /// The run it is forked from, and the step the fork reruns from.
    pub parent: Option<(String, String)>,
}

/// Which outputs a new run is given instead of playing steps.
pub enum Given {
    /// The melody's pinned outputs, except on these steps (taken again, `--again`).
    Pins {
        /// Steps played although pinned.
        except: BTreeSet<String>,
    },
    /// Exactly these (a fork's plan, which already took the pins into account).
    Exactly(BTreeMap<String, Outputs>),
}

/// An interrupted run to play on.
pub struct Resume {
    /// The run.
    pub run_id: String,
    /// Its workspace as recorded, checked by the host before the run is claimed.
    pub workspace: Option<PathBuf>,
}

/// Why a run did not start.
#[derive(Debug, thiserror::Error)]
pub enum LaunchError {
    /// The melody is not the one whose trust the host decided.
    #[error("the melody `{melody}` is not the one whose trust was checked; check it again before playing it")]
    Untrusted {
        /// The melody's id.
        melody: String,
    },
    /// The run inputs do not fit the melody.
    #[error("{0}")]
    Invalid(Problems),
    /// The run store could not record or reopen the run, or read its pins.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The workspace folder could not be prepared.
    #[error("cannot prepare the run workspace `{}`: {source}", path.display())]
    Workspace {
        /// The folder.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
}

impl From<StartError> for LaunchError {
    fn from(e: StartError) -> Self {
        match e {
            StartError::Invalid(problems) => LaunchError::Invalid(problems),
            StartError::Workspace { path, source } => LaunchError::Workspace { path, source },
        }
    }
}

impl<'a> Launcher<'a> {
    /// A launcher of `conductor`'s runs into `store`.
    pub fn new(conductor: &'a Conductor, store: &'a Store) -> Launcher<'a> {
        Launcher { conductor, store }
    }

    /// Starts a new run of `prepared`: its pins (or the given outputs), their provenance, its
    /// steps' past durations; recorded first, then started (see the module's doc).
    pub async fn start(
        self,
        prepared: Prepared,
        trusted: Trusted,
        run: Start,
    ) -> Result<Playing, LaunchError> {
        self.check(&prepared, &trusted)?;
        let melody = prepared.melody();
        let melody_id = melody.melody.id.clone();
        let inputs = resolve_inputs(melody, &run.inputs).map_err(LaunchError::Invalid)?;
        let given = match run.given {
            Given::Pins { except } => {
                let mut pinned = self.store.pinned_outputs(&melody_id).await?;
                pinned.retain(|step, _| in_melody(melody, step) && !except.contains(step));
                pinned
            }
            Given::Exactly(given) => given,
        };
        // A pinned output made from other inputs than the step gets now is warned about.
        let mut given_made_from = self.store.pins_made_from(&melody_id).await?;
        given_made_from.retain(|step, _| given.contains_key(step));
        let history = step_history(self.store, &melody_id).await;
        let recorded = RecordedOptions {
            given: given.keys().cloned().collect(),
            ..run.options
        };
        let recorder = self
            .store
            .begin(symphony_store::NewRun {
                id: &run.run_id,
                melody_bytes: &symphony_melody::to_bytes(melody),
                melody_id: &melody_id,
                melody_name: &melody.melody.name,
                inputs: &inputs,
                options: recorded.to_value(),
                workspace: Some(&run.workspace),
                parent: run.parent.as_ref().map(|(r, s)| (r.as_str(), s.as_str())),
            })
            .await?;
        let options = RunOptions {
            run_id: run.run_id,
            inputs,
            workspace: Some(run.workspace),
            max_parallel: recorded.max_parallel,
            seed: recorded.seed,
            given,
            given_made_from,
            cache: Some(CacheHandle(Arc::new(self.store.clone()))),
            fresh: recorded.fresh,
            fresh_steps: recorded.fresh_steps,
            history,
            rounds: BTreeMap::new(),
            gates: BTreeMap::new(),
        };
        self.play(prepared, options, recorder, 1).await
    }

    /// Plays on the interrupted run `run.run_id` of `prepared` (its melody as it was run), as
    /// it was first asked to (`resume::resumed_options`): its next session is claimed
    /// first, then the run starts with its finished steps given.
    pub async fn resume(
        self,
        prepared: Prepared,
        trusted: Trusted,
        run: Resume,
    ) -> Result<Playing, LaunchError> {
        self.check(&prepared, &trusted)?;
        let history = step_history(self.store, &prepared.melody().melody.id).await;
        let (resumable, recorder) = self.store.resume(&run.run_id).await?;
        let session = resumable.session;
        let options = crate::resume::resumed_options(
            &run.run_id,
            resumable,
            run.workspace,
            self.store,
            history,
        );
        self.play(prepared, options, recorder, session).await
    }

    /// Refuses a melody other than the one whose trust was decided.
    fn check(&self, prepared: &Prepared, trusted: &Trusted) -> Result<(), LaunchError> {
        let melody = prepared.melody();
        if assess(melody, self.conductor.registry()).fingerprint != trusted.fingerprint {
            return Err(LaunchError::Untrusted {
                melody: melody.melody.id.clone(),
            });
        }
        Ok(())
    }

    /// Starts a recorded run; a run that cannot start leaves no half-begun record.
    async fn play(
        &self,
        prepared: Prepared,
        options: RunOptions,
        recorder: Recorder,
        session: u32,
    ) -> Result<Playing, LaunchError> {
        let run_id = options.run_id.clone();
        let seed = options.seed;
        let workspace = options.workspace.clone();
        let given = options.given.keys().cloned().collect();
        let run = match self.conductor.start_prepared(&prepared, options).await {
            Ok(run) => run,
            Err(e) => {
                self.abandon(recorder, session).await;
                return Err(e.into());
            }
        };
        let (events, control, finished) = run.into_parts();
        Ok(Playing {
            run_id,
            prepared,
            seed,
            workspace,
            given,
            session,
            control,
            store_failure: recorder.failure(),
            events,
            finished,
            recorder,
            store: self.store.clone(),
            asking: BTreeSet::new(),
            poll: answer_poll(),
            store_ok: true,
            open: true,
            joined: None,
        })
    }

    /// Closes the record of a run that did not start: a new run's is removed, a resumed
    /// run's new session is closed with no event (it stays interrupted, as it was).
    async fn abandon(&self, recorder: Recorder, session: u32) {
        let run_id = recorder.run_id().to_owned();
        if let Err(e) = recorder.finish().await {
            tracing::warn!("run {run_id} did not start, and its record could not be closed: {e}");
            return;
        }
        if session == 1 {
            if let Err(e) = self.store.forget_unstarted(&run_id).await {
                tracing::warn!("run {run_id} did not start, and its record stays: {e}");
            }
        }
    }
}

/// How often a run with a waiting gate reads the store for its answers: a person answering
/// from another process waits at most this long.
const ANSWER_POLL: std::time::Duration = std::time::Duration::from_millis(500);

fn answer_poll() -> tokio::time::Interval {
    let mut poll = tokio::time::interval(ANSWER_POLL);
    poll.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    poll
}

/// Whether `step` is a step of the melody.
fn in_melody(melody: &Melody, step: &str) -> bool {
    melody.steps.iter().any(|s| s.id == step)
}

/// A started, recorded run: its events are read with [`Playing::next`] (each is recorded as it
/// is read), and [`Playing::keep`] waits until the store holds them all.
pub struct Playing {
    /// The run's id.
    pub run_id: String,
    /// The melody it plays.
    pub prepared: Prepared,
    /// Seed of its retry jitter.
    pub seed: u64,
    /// Its workspace folder.
    pub workspace: Option<PathBuf>,
    /// The steps given an output instead of playing (pins, a fork's kept outputs, a resumed
    /// run's finished steps).
    pub given: BTreeSet<String>,
    /// Its session: 1 for a new run, one more for each resume.
    pub session: u32,
    /// Its steering handle.
    pub control: RunControl,
    events: EventStream,
    finished: JoinHandle<RunReport>,
    recorder: Recorder,
    store_failure: watch::Receiver<Option<String>>,
    /// The store, read for answers to the gates that wait.
    store: Store,
    /// The gates (`cue.gate`) waiting for a person, by step id.
    asking: BTreeSet<String>,
    /// When the store is next read for their answers.
    poll: tokio::time::Interval,
    /// Whether the store still writes (once it stops, the run is stopped, and said once).
    store_ok: bool,
    /// Whether the event stream may still deliver.
    open: bool,
    /// How the scheduler ended, once it has; queued events are read before it is returned.
    joined: Option<Result<RunReport, JoinError>>,
}

/// What happened next in a [`Playing`] run.
#[derive(Debug)]
pub enum Next {
    /// An event, already handed to the recorder.
    Event(EventRecord),
    /// The store stopped writing (a full disk, a damaged file): nothing more of the run would
    /// be kept, so it has been cancelled; what finished is kept. Said once.
    StoreStopped,
    /// The run ended (every event has been read); its report, or how its scheduler failed.
    Ended(Result<RunReport, JoinError>),
}

impl Playing {
    /// The run's next event, or that the store stopped, or its end. Safe to use in
    /// `tokio::select!` (nothing is lost when another branch wins); not to be called after
    /// [`Next::Ended`].
    pub async fn next(&mut self) -> Next {
        loop {
            if let Some(joined) = self.joined.take() {
                // The scheduler sent its last event before returning; what is queued is read now.
                if let Some(record) = self.events.try_recv() {
                    self.joined = Some(joined);
                    self.recorder.record(&record);
                    return Next::Event(record);
                }
                return Next::Ended(joined);
            }
            tokio::select! {
                biased;
                record = self.events.recv(), if self.open => match record {
                    Some(record) => {
                        self.recorder.record(&record);
                        match &record.event {
                            RunEvent::GateWaiting { step, .. } => {
                                self.asking.insert(step.to_string());
                            }
                            RunEvent::GateAnswered { step, .. } => {
                                self.asking.remove(&**step);
                            }
                            _ => {}
                        }
                        return Next::Event(record);
                    }
                    None => self.open = false,
                },
                changed = self.store_failure.changed(), if self.store_ok => {
                    self.store_ok = false;
                    if changed.is_ok() {
                        self.control.cancel();
                        return Next::StoreStopped;
                    }
                }
                joined = &mut self.finished => self.joined = Some(joined),
                _ = self.poll.tick(), if !self.asking.is_empty() => self.deliver_answers().await,
            }
        }
    }

    /// The gates (`cue.gate`) waiting for a person now, by step id, in id order.
    pub fn asking(&self) -> &BTreeSet<String> {
        &self.asking
    }

    /// Answers gate `step`: recorded in the store first (the first answer wins: one given
    /// meanwhile from elsewhere is refused, saying by whom), then handed to the run.
    pub async fn answer_gate(&self, step: &str, answer: GateAnswer) -> Result<(), StoreError> {
        self.store.answer_gate(&self.run_id, step, &answer).await?;
        self.control.answer(step, answer);
        Ok(())
    }

    /// Hands the answers recorded for the waiting gates (by this process or any other: the
    /// app, `symphony serve`, `symphony runs approve`) to the conductor. A gate the conductor
    /// is no longer waiting at ignores one; the answer is marked taken when its
    /// `gateAnswered` event is recorded.
    async fn deliver_answers(&mut self) {
        match self.store.pending_answers(&self.run_id).await {
            Ok(answers) => {
                for (step, answer) in answers {
                    if self.asking.contains(&step) {
                        self.control.answer(&step, answer);
                    }
                }
            }
            Err(e) => {
                tracing::warn!(run = %self.run_id, "the gates' answers could not be read: {e}")
            }
        }
    }

    /// Waits until the store holds every event read; the error says what it could not keep.
    pub async fn keep(self) -> Result<(), StoreError> {
        self.recorder.finish().await
    }
}

/// The store's retention after a run ends: it keeps the newest runs only (`symphony runs
/// retention`), so it never grows without bound, whichever host plays. Returns how many runs
/// were removed; a failure is logged (the run itself is kept either way).
pub async fn apply_retention(store: &Store) -> u64 {
    match store.apply_retention().await {
        Ok(pruned) => pruned.runs,
        Err(e) => {
            tracing::warn!("the run store's retention could not be applied: {e}");
            0
        }
    }
}
