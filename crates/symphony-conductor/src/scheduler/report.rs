//! The end of a run: each step's outcome, the run's totals and status, its result (the
//! outputs nothing else reads), written to the workspace's `result.json` and `run.json`, and
//! the `runFinished` event.

use serde_json::{json, Map, Value};

use super::{Scheduler, State};
use crate::conductor::{run_record, RunReport, StepReport};
use crate::event::{RunEvent, RunStatus, StepOutcome, Totals};

impl Scheduler {
    pub(super) async fn finish(mut self) -> RunReport {
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
