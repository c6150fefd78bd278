//! Runs: started from the editor, played by the conductor, recorded in the run store, and
//! streamed to the UI as `run-events` batches.
//!
//! The conductor's event stream never waits for a listener; a task per run reads it, hands each
//! event to the store's recorder, and sends what arrived to the adapters at most once per
//! [`BATCH_EVERY`] (the board never needs more than ~30 updates a second, however fast the
//! engine runs). Nothing is dropped: a batch holds every event since the previous one.

use std::collections::BTreeSet;
use std::time::Duration;

use serde_json::{Map, Value};
use symphony_conductor::{EventRecord, RunEvent};
use symphony_melody::Melody;
use symphony_store::Store;

use crate::error::HostError;
use crate::launch::{self, Given, LaunchError, Launcher, Next, Playing, Start};
use crate::recorded::{LaunchedBy, RecordedOptions};
use crate::wire::{Done, HostEvent, RunEventsPayload, RunStarted, StartRunArgs};
use crate::Host;

/// How often a run's events are sent to the UI, at most.
pub const BATCH_EVERY: Duration = Duration::from_millis(33);

/// The folder under the project root where runs write their workspaces.
pub const RUNS_DIR: &str = "runs";

/// A run about to start: everything [`Host::launch`] needs besides the melody's checks.
pub(crate) struct Launch {
    /// The melody to play (parsed; `launch` validates it).
    pub melody: Melody,
    /// Run input values; declared defaults fill the rest.
    pub inputs: Map<String, Value>,
    /// The file the melody came from, if any (recorded for the history).
    pub path: Option<String>,
    /// Outputs given instead of playing steps: the melody's pins for a new run, a fork's plan.
    pub given: Given,
    /// Steps played even if the cache holds their output.
    pub fresh_steps: BTreeSet<String>,
    /// The run it is forked from, and the step it reruns from.
    pub parent: Option<(String, String)>,
}

impl From<LaunchError> for HostError {
    fn from(e: LaunchError) -> Self {
        match e {
            LaunchError::Invalid(problems) => HostError::invalid(problems),
            LaunchError::Store(e) => HostError::from(e),
            other @ (LaunchError::Untrusted { .. } | LaunchError::Workspace { .. }) => {
                HostError::Start(other.to_string())
            }
        }
    }
}

impl Host {
    /// `startRun`: validates the melody and its inputs, refuses command steps the user has not
    /// trusted, and starts playing it. Steps pinned to an output get it (origin `given`). Its
    /// workspace is `runs/<run id>/` in the project; every event is recorded in the run store
    /// and sent on `run-events`.
    pub async fn start_run(&self, args: StartRunArgs) -> Result<RunStarted, HostError> {
        let melody = self.parse(args.melody)?;
        self.launch(Launch {
            melody,
            inputs: args.inputs,
            path: args.path,
            given: Given::Pins {
                except: BTreeSet::new(),
            },
            fresh_steps: BTreeSet::new(),
            parent: None,
        })
        .await
    }

    /// The app's side of `startRun` and `forkRun`: validates the melody, checks its trust and
    /// its inputs, names the run and its workspace (`runs/<id>` in the project, through no
    /// link that leads out), then hands it to the [`Launcher`] and follows its events.
    pub(crate) async fn launch(&self, launch: Launch) -> Result<RunStarted, HostError> {
        let prepared = self
            .inner
            .conductor
            .prepare(launch.melody)
            .map_err(HostError::invalid)?;
        let melody = prepared.melody();
        let trusted = self.check_trusted(melody)?;
        symphony_conductor::resolve_inputs(melody, &launch.inputs).map_err(HostError::invalid)?;
        let run_id = new_run_id(&melody.melody.id);
        // Inside the project, through no link that leads out (a shared project may ship `runs`
        // as a link to a folder of the person's, for step files to land in).
        let workspace = self.project_workspace(&std::path::Path::new(RUNS_DIR).join(&run_id))?;
        let store = self.store().await?;
        let playing = Launcher::new(&self.inner.conductor, &store)
            .start(
                prepared,
                trusted,
                Start {
                    run_id,
                    inputs: launch.inputs,
                    workspace,
                    given: launch.given,
                    options: RecordedOptions {
                        seed: rand::random(),
                        fresh_steps: launch.fresh_steps,
                        host: Some(LaunchedBy::App),
                        path: launch.path,
                        ..RecordedOptions::default()
                    },
                    parent: launch.parent,
                },
            )
            .await?;
        Ok(self.follow_live(playing, 0))
    }

    /// Makes a started run live (steerable) in this host and follows its events on a task of
    /// its own.
    pub(crate) fn follow_live(&self, playing: Playing, shift_ms: u64) -> RunStarted {
        let run_id = playing.run_id.clone();
        self.inner
            .runs
            .lock()
            .expect("the runs lock is never poisoned: nothing panics under it")
            .insert(run_id.clone(), playing.control.clone());
        tokio::spawn(self.clone().follow(playing, shift_ms));
        RunStarted { run_id }
    }

    /// `pauseRun`: running steps finish, nothing new starts.
    pub fn pause_run(&self, run_id: &str) -> Result<Done, HostError> {
        self.control(run_id)?.pause();
        Ok(Done {})
    }

    /// `resumeRun`: starts steps again after a pause.
    pub fn resume_run(&self, run_id: &str) -> Result<Done, HostError> {
        self.control(run_id)?.resume();
        Ok(Done {})
    }

    /// `stopRun`: cancels the run; finished outputs are kept.
    pub fn stop_run(&self, run_id: &str) -> Result<Done, HostError> {
        self.control(run_id)?.cancel();
        Ok(Done {})
    }

    pub(crate) fn control(
        &self,
        run_id: &str,
    ) -> Result<symphony_conductor::RunControl, HostError> {
        self.inner
            .runs
            .lock()
            .expect("the runs lock is never poisoned: nothing panics under it")
            .get(run_id)
            .cloned()
            .ok_or_else(|| HostError::NotPlaying(run_id.to_owned()))
    }

    /// Whether this host is playing the run now.
    pub(crate) fn is_live(&self, run_id: &str) -> bool {
        self.inner
            .runs
            .lock()
            .expect("the runs lock is never poisoned: nothing panics under it")
            .contains_key(run_id)
    }

    /// The run store, opened on first use.
    pub(crate) async fn store(&self) -> Result<Store, HostError> {
        let path = self.inner.store_path.clone();
        self.inner
            .store
            .get_or_try_init(|| async move { Store::open(&path).await })
            .await
            .cloned()
            .map_err(HostError::from)
    }

    /// Reads a run's events until it ends: each is recorded as it is read ([`Playing::next`]),
    /// and they are sent in batches. If the store stops writing (a full disk), the run is
    /// stopped: nothing more of it would be kept.
    ///
    /// The batch holding `runFinished` is sent only once the store holds the whole run and the
    /// run is no longer live, so a board that sees the end and reads the history finds it
    /// there, ended.
    ///
    /// `shift_ms` is added to the times the UI is sent (not to what the store records, which
    /// counts each session from its start): a continued run's events then follow its earlier
    /// sessions' on the board, as `openRun` shows them.
    async fn follow(self, mut playing: Playing, shift_ms: u64) {
        let run_id = playing.run_id.clone();
        // What the UI is sent: every event but an instrument's raw exchange, shifted. The
        // exchanges are most of a run's bytes (a request and its whole response, per call) and
        // only the step debugger shows them, which reads them from the store on demand; the
        // store keeps them all.
        let for_ui = |mut record: EventRecord| {
            if matches!(record.event, RunEvent::StepExchange { .. }) {
                return None;
            }
            record.at_ms += shift_ms;
            Some(record)
        };
        let mut batch: Vec<EventRecord> = Vec::new();
        let mut tick = tokio::time::interval(BATCH_EVERY);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let joined = loop {
            tokio::select! {
                next = playing.next() => match next {
                    Next::Event(record) => batch.extend(for_ui(record)),
                    Next::StoreStopped => tracing::warn!(
                        "run {run_id}: the run store stopped writing; stopping the run"
                    ),
                    Next::Ended(joined) => break joined,
                },
                _ = tick.tick() => if !ends(&batch) {
                    self.send(&run_id, &mut batch);
                },
            }
        };
        if let Err(e) = joined {
            tracing::error!("run {run_id}: the scheduler stopped unexpectedly: {e}");
        }
        if let Err(e) = playing.keep().await {
            tracing::warn!("run {run_id} finished but the run store could not keep all of it: {e}");
        }
        self.inner
            .runs
            .lock()
            .expect("the runs lock is never poisoned: nothing panics under it")
            .remove(&run_id);
        self.send(&run_id, &mut batch);
        // The store keeps the newest runs only (`symphony runs retention`), as after a CLI run:
        // it never grows without bound because runs were played from the app.
        if let Ok(store) = self.store().await {
            let pruned = launch::apply_retention(&store).await;
            if pruned > 0 {
                tracing::info!("the run store removed {pruned} older runs (retention)");
            }
        }
    }

    /// Sends what the batch holds, if anything.
    fn send(&self, run_id: &str, batch: &mut Vec<EventRecord>) {
        if !batch.is_empty() {
            self.emit(HostEvent::RunEvents(RunEventsPayload {
                run_id: run_id.to_owned(),
                events: std::mem::take(batch),
            }));
        }
    }
}

/// Whether the batch holds the run's last event (`runFinished` is always the last).
fn ends(batch: &[EventRecord]) -> bool {
    batch
        .last()
        .is_some_and(|r| matches!(r.event, RunEvent::RunFinished { .. }))
}

/// A new run's id, `<melody-id>-<YYYYMMDD-HHMMSS UTC>-<4 hex>`: readable, sorted by time, and
/// safe as a folder name whatever the melody id. The CLI and the app both name runs this way.
pub fn new_run_id(melody_id: &str) -> String {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    format!(
        "{}-{}-{:04x}",
        folder_safe(melody_id),
        utc_stamp(secs),
        rand::random::<u16>()
    )
}

/// Keeps ASCII letters, digits, `-` and `_`, so a melody id (which the format does not restrict)
/// can never name a path outside `runs/`.
fn folder_safe(id: &str) -> String {
    let cleaned: String = id
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '-'
            }
        })
        .take(64)
        .collect();
    let cleaned = cleaned.trim_matches('-');
    if cleaned.is_empty() {
        "melody".to_owned()
    } else {
        cleaned.to_owned()
    }
}

/// `YYYYMMDD-HHMMSS` for seconds since the Unix epoch, in UTC.
fn utc_stamp(secs: u64) -> String {
    let (y, m, d) = civil_from_days((secs / 86_400) as i64);
    let rem = secs % 86_400;
    format!(
        "{y:04}{m:02}{d:02}-{:02}{:02}{:02}",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

/// The proleptic Gregorian date of a day count since 1970-01-01 (Howard Hinnant's algorithm).
pub fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

#[cfg(test)]
mod run_id_tests {
    use super::*;

    #[test]
    fn utc_stamps() {
        assert_eq!(utc_stamp(0), "19700101-000000");
        assert_eq!(utc_stamp(951_782_400 + 3_723), "20000229-010203");
        assert_eq!(utc_stamp(1_767_225_599), "20251231-235959");
    }

    #[test]
    fn run_ids_are_folder_safe() {
        assert_eq!(folder_safe("idea-to-code"), "idea-to-code");
        assert_eq!(folder_safe("../../etc/x"), "etc-x");
        assert_eq!(folder_safe("..."), "melody");
        assert_eq!(folder_safe(""), "melody");
        let id = new_run_id("a b");
        assert!(id.starts_with("a-b-"), "{id}");
        assert_eq!(id.len(), "a-b-".len() + 15 + 5, "{id}");
    }
}
