//! `continueRun`: plays on a run that was interrupted (the app or the machine stopped while it
//! played), as `symphony resume` does: its finished steps are kept, the steps that were in
//! flight, failed or never started are played, and its events continue the same log in a new
//! session. The app offers it for the runs the history shows as interrupted.
//!
//! Confined like `runFile` (`Host::project_workspace`): the run's workspace must be inside the project, so a store shared
//! with runs made elsewhere cannot make the app, or `symphony serve`, write outside it.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;

use symphony_conductor::{CacheHandle, RunOptions, StepHistory};
use symphony_store::{Resumable, Store};

use crate::error::HostError;
use crate::launch::{Launcher, Resume};
use crate::recorded::RecordedOptions;
use crate::wire::RunStarted;
use crate::Host;

/// How a resumed run is played: as it was first asked to (its inputs, seed, `maxParallel`,
/// fresh steps: a fresh run stays fresh; [`RecordedOptions`], in either of the shapes older
/// Symphonys recorded), with its finished steps given. The launcher's one rule for the app's
/// `continueRun` and `symphony resume`.
pub(crate) fn resumed_options(
    run_id: &str,
    resumable: Resumable,
    workspace: Option<PathBuf>,
    store: &Store,
    history: BTreeMap<String, StepHistory>,
) -> RunOptions {
    let recorded = RecordedOptions::read(&resumable.options);
    RunOptions {
        run_id: run_id.to_owned(),
        inputs: resumable.inputs,
        workspace,
        max_parallel: recorded.max_parallel,
        seed: recorded.seed,
        given: resumable.finished,
        // The finished steps were played (or warned about) in this same run.
        given_made_from: BTreeMap::new(),
        cache: Some(CacheHandle(Arc::new(store.clone()))),
        fresh: recorded.fresh,
        fresh_steps: recorded.fresh_steps,
        history,
        rounds: resumable.rounds,
        gates: resumable.gates,
    }
}

impl Host {
    /// `continueRun`: resumes the stored run `run_id` in this process.
    pub async fn continue_run(&self, run_id: &str) -> Result<RunStarted, HostError> {
        if self.is_live(run_id) {
            return Err(HostError::Start(format!(
                "run `{run_id}` is already playing in this app"
            )));
        }
        let store = self.store().await?;
        // Checked before the store hands the run over, so a refusal leaves it as it was.
        let source = store.source(run_id).await?;
        let label = format!("run {run_id} (its melody as it was run)");
        let melody =
            symphony_melody::load_and_validate(&source.melody_bytes, &label, self.registry())
                .map_err(HostError::invalid)?;
        let trusted = self.check_trusted(&melody)?;
        let workspace = source
            .workspace
            .as_deref()
            .map(|w| self.project_workspace(w))
            .transpose()?;
        // Where its log stops on the board's clock: the new session's events follow on from it.
        let shift_ms = self
            .open_run(run_id, None)
            .await?
            .events
            .last()
            .and_then(|e| e["atMs"].as_u64())
            .unwrap_or(0);
        let prepared = self.inner.conductor.prepare_checked(melody);
        let playing = Launcher::new(&self.inner.conductor, &store)
            .resume(
                prepared,
                trusted,
                Resume {
                    run_id: run_id.to_owned(),
                    workspace,
                },
            )
            .await?;
        Ok(self.follow_live(playing, shift_ms))
    }
}
