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

use symphony_conductor::{CacheHandle, RunOptions, StartError, StepHistory};
use symphony_store::{Resumable, Store};

use crate::error::HostError;
use crate::wire::RunStarted;
use crate::Host;

/// How a resumed run is played: as it was first asked to (its inputs, seed, `maxParallel`,
/// fresh steps: a fresh run stays fresh), with its finished steps given. One rule for the app's
/// `continueRun` and `symphony resume`.
pub fn resumed_options(
    run_id: &str,
    resumable: Resumable,
    workspace: Option<PathBuf>,
    store: &Store,
    history: BTreeMap<String, StepHistory>,
) -> RunOptions {
    let options = &resumable.options;
    RunOptions {
        run_id: run_id.to_owned(),
        inputs: resumable.inputs,
        workspace,
        max_parallel: options["maxParallel"]
            .as_u64()
            .and_then(|n| u32::try_from(n).ok()),
        seed: options["seed"].as_u64().unwrap_or_default(),
        given: resumable.finished,
        // The finished steps were played (or warned about) in this same run.
        given_made_from: BTreeMap::new(),
        cache: Some(CacheHandle(Arc::new(store.clone()))),
        fresh: options["fresh"].as_bool().unwrap_or(false),
        fresh_steps: options["freshSteps"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|s| s.as_str().map(str::to_owned))
            .collect(),
        history,
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
        self.check_trusted(&melody)?;
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
        let (resumable, recorder) = store.resume(run_id).await?;
        let history = self.step_history(&melody.melody.id).await?;
        let prepared = self.inner.conductor.prepare_checked(melody);
        let options = resumed_options(run_id, resumable, workspace, &store, history);
        let run = match self
            .inner
            .conductor
            .start_prepared(&prepared, options)
            .await
        {
            Ok(run) => run,
            Err(e) => {
                // The store reopened the run: close this session again, as interrupted.
                let _ = recorder.finish().await;
                return Err(match e {
                    StartError::Invalid(problems) => HostError::invalid(problems),
                    other => HostError::Start(other.to_string()),
                });
            }
        };
        let (events, control, finished) = run.into_parts();
        self.inner
            .runs
            .lock()
            .expect("the runs lock is never poisoned: nothing panics under it")
            .insert(run_id.to_owned(), control.clone());
        tokio::spawn(self.clone().follow(
            run_id.to_owned(),
            events,
            control,
            finished,
            recorder,
            shift_ms,
        ));
        Ok(RunStarted {
            run_id: run_id.to_owned(),
        })
    }
}
