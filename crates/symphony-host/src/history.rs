//! The board's view of the run store: the history (`listRuns`), one run with its whole event
//! log (`openRun`, also how a board follows a run another process plays into the same store),
//! two runs side by side (`compareRuns`), and pins (`pinStep`, `unpinStep`).

use serde_json::Value;
use symphony_store::RunListing;

use crate::error::HostError;
use crate::wire::{Done, PinInfo, RunEntry, RunFile, RunRecord, StepComparison, StoreInfo};
use crate::Host;

/// How many runs `listRuns` answers when not told.
pub const DEFAULT_LIMIT: u32 = 100;

/// The most runs `listRuns` answers at once.
pub const MAX_LIMIT: u32 = 1000;

impl Host {
    /// `listRuns`: the newest runs first, of one melody or of all.
    pub async fn list_runs(
        &self,
        melody_id: Option<&str>,
        limit: Option<u32>,
    ) -> Result<Vec<RunEntry>, HostError> {
        let limit = limit.unwrap_or(DEFAULT_LIMIT).clamp(1, MAX_LIMIT);
        let store = self.store().await?;
        Ok(store
            .listings(melody_id, limit)
            .await?
            .into_iter()
            .map(|l| self.entry(l))
            .collect())
    }

    /// `openRun`: a stored run with its melody, inputs, files, the pins of its melody, and its
    /// event log (only the events after `after_seq` when given).
    pub async fn open_run(
        &self,
        run_id: &str,
        after_seq: Option<i64>,
    ) -> Result<RunRecord, HostError> {
        let store = self.store().await?;
        let listing = store.listing(run_id).await?;
        let detail = store.run(run_id).await?;
        let melody: Value =
            serde_json::from_slice(&store.melody_of(run_id).await?).unwrap_or(Value::Null);
        let log = store.event_log(run_id, after_seq).await?;
        let pinned = store
            .pins(&listing.summary.melody_id)
            .await?
            .into_iter()
            .map(|p| p.step)
            .collect();
        Ok(RunRecord {
            run: self.entry(listing),
            melody,
            inputs: match detail.inputs {
                Value::Object(m) => m,
                _ => Default::default(),
            },
            events: log.events,
            last_seq: log.last_seq,
            event_format: log.format,
            files: detail
                .files
                .into_iter()
                .map(|f| RunFile {
                    path: f.path,
                    step: f.step,
                    bytes: f.bytes.max(0) as u64,
                    sha256: f.sha256,
                })
                .collect(),
            pinned,
        })
    }

    /// `storeInfo`: where runs are kept, its size, how many it holds and its retention.
    pub async fn store_info(&self) -> Result<StoreInfo, HostError> {
        let store = self.store().await?;
        Ok(StoreInfo {
            location: store.path().display().to_string(),
            bytes: store.size_bytes().await,
            runs: store.count_runs().await?,
            keep_runs: store.keep_runs().await?,
        })
    }

    /// `setRetention`: keep the newest `keep_runs` runs (as `symphony runs retention --keep`);
    /// older ones are removed now, then after each run. Runs playing are never removed.
    pub async fn set_retention(&self, keep_runs: u32) -> Result<StoreInfo, HostError> {
        if keep_runs == 0 {
            return Err(HostError::BadArguments {
                command: "setRetention".into(),
                message: "keepRuns must be at least 1".into(),
            });
        }
        let store = self.store().await?;
        store.set_keep_runs(keep_runs).await?;
        store.apply_retention().await?;
        self.store_info().await
    }

    /// `compareRuns`: every step of either run, in the order of the first.
    pub async fn compare_runs(&self, a: &str, b: &str) -> Result<Vec<StepComparison>, HostError> {
        let store = self.store().await?;
        Ok(store
            .diff(a, b)
            .await?
            .into_iter()
            .map(|d| StepComparison {
                step: d.step,
                outcome_a: d.outcome.0,
                outcome_b: d.outcome.1,
                same_output: d.same_output,
                same_inputs: d.same_key,
                elapsed_ms_a: d.elapsed_ms.0.max(0) as u64,
                elapsed_ms_b: d.elapsed_ms.1.max(0) as u64,
                cost_usd_a: d.cost_usd.0,
                cost_usd_b: d.cost_usd.1,
            })
            .collect())
    }

    /// `pinStep`: every later run of the melody gets the output `step` had in this run (origin
    /// `given`) instead of playing it, until it is unpinned.
    pub async fn pin_step(&self, run_id: &str, step: &str) -> Result<PinInfo, HostError> {
        let store = self.store().await?;
        let bytes = store.melody_of(run_id).await?;
        let melody =
            symphony_melody::load(&bytes, &format!("run {run_id}")).map_err(HostError::invalid)?;
        if !melody.steps.iter().any(|s| s.id == step) {
            return Err(HostError::unknown_step(step, &melody));
        }
        let pin = store.pin_from_run(run_id, step).await?;
        Ok(PinInfo {
            melody_id: melody.melody.id,
            step: pin.step,
            output_hash: pin.output_hash,
            run_id: pin.run_id,
        })
    }

    /// `unpinStep`: the step is played again in later runs (nothing happens if it was not
    /// pinned).
    pub async fn unpin_step(&self, melody_id: &str, step: &str) -> Result<Done, HostError> {
        self.store().await?.unpin(melody_id, step).await?;
        Ok(Done {})
    }

    /// `listPins`: the steps of a melody pinned to an output, by step.
    pub async fn list_pins(&self, melody_id: &str) -> Result<Vec<PinInfo>, HostError> {
        Ok(self
            .store()
            .await?
            .pins(melody_id)
            .await?
            .into_iter()
            .map(|p| PinInfo {
                melody_id: melody_id.to_owned(),
                step: p.step,
                output_hash: p.output_hash,
                run_id: p.run_id,
            })
            .collect())
    }

    /// A history line, with whether this host plays the run now.
    fn entry(&self, l: RunListing) -> RunEntry {
        let totals = &l.totals;
        let ended = !totals.is_null();
        let number = |key: &str| totals.get(key).and_then(Value::as_u64);
        RunEntry {
            live: self.is_live(&l.summary.id),
            id: l.summary.id,
            melody_id: l.summary.melody_id,
            melody_name: l.melody_name,
            status: l.summary.status,
            started_at: l.summary.started_at,
            finished_at: l.summary.finished_at,
            duration_ms: number("elapsedMs"),
            // Unknown, not $0, when steps used a model with no price and none had one.
            cost_usd: if l.unpriced > 0 && l.priced == 0 {
                None
            } else {
                totals.get("costUsd").and_then(Value::as_f64)
            },
            tokens: ended.then(|| {
                number("inputTokens")
                    .unwrap_or(0)
                    .saturating_add(number("outputTokens").unwrap_or(0))
            }),
            steps: l.steps,
            reused: l.reused,
            failed: l.failed,
            parent_id: l.summary.parent_id,
            fork_step: l.fork_step,
            played_elsewhere: l.played_elsewhere,
            inputs: l.inputs,
            waiting: l.waiting,
        }
    }
}
