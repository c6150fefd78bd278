//! A loop's rounds (`cue.loop`): the loop's play reads its plan, then each round is queued as
//! a unit of its own (item `round - 1`, sharing the run's slots and the loop's cancellation
//! token, with the body's timeouts, retries and fallbacks), one at a time. After each round the
//! plan decides: approved (`until` held), stalled (no better score for `patience` rounds, or
//! the round's outputs repeat an earlier round's), exhausted (`maxRounds`), or another round.

use std::collections::HashMap;
use std::sync::Arc;

use serde_json::{json, Map, Value};
use sha2::{Digest as _, Sha256};
use tokio::time::Instant;

use super::{ReadyUnit, Scheduler};
use crate::conductor::lookup;
use crate::event::{LoopExit, RunEvent};
use crate::step::{ErrorKind, Outputs, Played, RunView, StepError, Usage};
use crate::steps::loop_cue::Rounds;

/// A loop whose rounds are being played.
pub(super) struct LoopRun {
    plan: Rounds,
    /// The loop's own inputs, which every round sees too.
    inputs: Map<String, Value>,
    /// The round being played, from 1.
    round: u32,
    /// Each finished round's `output`.
    outputs: Vec<Value>,
    /// The last round's outputs by port (`loop.previous`).
    previous: Option<Arc<Outputs>>,
    /// The best score so far, and its round.
    best: Option<(f64, u32)>,
    /// Rounds since the score last improved.
    since_best: u32,
    /// The content hash of each round's outputs, with its round.
    seen: HashMap<[u8; 32], u32>,
    usage: Option<Usage>,
}

impl Scheduler {
    pub(super) fn start_loop(&mut self, s: usize, plan: Rounds) {
        let inputs = self.gather_inputs(s).unwrap_or_default();
        let mut run = LoopRun {
            plan,
            inputs,
            round: 1,
            outputs: Vec::new(),
            previous: None,
            best: None,
            since_best: 0,
            seen: HashMap::new(),
            usage: None,
        };
        // A resumed run's rounds played before: taken as they were, then the next one plays.
        let given = self
            .options
            .rounds
            .get(&*self.score.steps[s].id)
            .cloned()
            .unwrap_or_default();
        for outputs in given {
            let verdict = run.absorb(Arc::new(outputs), self.shared.as_ref());
            if let Some(exit) = verdict.exit {
                return self.end_loop(s, run, exit);
            }
        }
        self.loops.insert(s, run);
        self.queue_round(s);
    }

    fn queue_round(&mut self, s: usize) {
        let run = &self.loops[&s];
        let mut inputs = run.inputs.clone();
        inputs.insert("loop".into(), loop_scope(run));
        let item = run.round - 1;
        let inputs = Arc::new(inputs);
        self.events.send(RunEvent::StepQueued {
            step: self.score.steps[s].id.clone(),
            item: Some(item),
            inputs: inputs.clone(),
        });
        self.ready.push(ReadyUnit {
            priority: self.score.steps[s].priority,
            step: s,
            item: Some(item),
            inputs,
            queued_at: Instant::now(),
        });
    }

    pub(super) fn on_round_done(&mut self, s: usize, result: Result<Played, StepError>) {
        let id = self.score.steps[s].id.clone();
        let Some(run) = self.loops.get_mut(&s) else {
            return;
        };
        let round = run.round;
        let out = match result {
            Ok(Played::Done(out)) => out,
            Ok(Played::FanOut(_) | Played::Loop(_) | Played::Ask(_)) => {
                self.loops.remove(&s);
                return self.fail(
                    s,
                    StepError::fatal(
                        ErrorKind::Config,
                        format!("round {round}: a loop's body cannot be a cue"),
                    ),
                );
            }
            Err(e) => {
                self.loops.remove(&s);
                let message = if e.kind == ErrorKind::Cancelled {
                    e.message.clone()
                } else {
                    format!("round {round} failed: {}", e.message)
                };
                return self.fail(s, StepError { message, ..e });
            }
        };
        if let Some(u) = &out.usage {
            run.usage.get_or_insert_with(Usage::default).add(u);
        }
        let outputs = Arc::new(out.outputs);
        let verdict = run.absorb(outputs.clone(), self.shared.as_ref());
        self.events.send(RunEvent::StepRound {
            step: id,
            round,
            outputs,
            score: verdict.score,
            exit: verdict.exit,
            note: verdict.note,
        });
        match verdict.exit {
            None => self.queue_round(s),
            Some(exit) => {
                let run = self.loops.remove(&s).expect("looked up above");
                self.end_loop(s, run, exit);
            }
        }
    }

    /// The loop stops: its kept round goes out on `output` and on the exit's port.
    fn end_loop(&mut self, s: usize, run: LoopRun, exit: LoopExit) {
        let last = run.outputs.len() as u32;
        let kept = match (run.plan.keep_best, run.best) {
            (true, Some((_, at))) => at,
            _ => last,
        };
        let value = run.outputs[kept as usize - 1].clone();
        let mut out = Map::new();
        out.insert("output".into(), value.clone());
        out.insert(exit.as_str().into(), value);
        out.insert("rounds".into(), Value::Array(run.outputs));
        out.insert("round".into(), Value::from(kept));
        out.insert("exit".into(), Value::from(exit.as_str()));
        if let Some(u) = run.usage {
            self.books[s].usage = Some(u);
        }
        self.finish_cue_output(s, out);
    }
}

/// What the plan makes of a round.
struct Verdict {
    score: Option<f64>,
    exit: Option<LoopExit>,
    note: Option<String>,
}

impl LoopRun {
    /// Takes round `self.round`'s outputs in: its score, whether it repeats an earlier round,
    /// and whether the loop stops after it. When it does not, `self.round` moves on.
    fn absorb(&mut self, outputs: Arc<Outputs>, view: &dyn RunView) -> Verdict {
        let round = self.round;
        self.outputs.push(
            outputs
                .get("output")
                .cloned()
                .unwrap_or_else(|| Value::Object(outputs.0.clone())),
        );
        // What `until` and `score` read: the round just played, and the loop's figures.
        let mut scope = Map::new();
        scope.insert("round".into(), Value::Object(outputs.0.clone()));
        scope.insert(
            "loop".into(),
            json!({"round": round, "maxRounds": self.plan.max_rounds}),
        );
        let score = self
            .plan
            .score
            .as_ref()
            .and_then(|r| lookup(&scope, view, r))
            .and_then(Value::as_f64);
        if let Some(score) = score {
            match self.best {
                Some((best, _)) if score <= best => self.since_best += 1,
                _ => {
                    self.best = Some((score, round));
                    self.since_best = 0;
                }
            }
        } else if self.plan.score.is_some() {
            // A round that gave no score did not improve on the best.
            self.since_best += 1;
        }
        let hash: [u8; 32] =
            Sha256::digest(serde_json::to_vec(&outputs.0).expect("JSON values serialize")).into();
        let repeats = self.seen.insert(hash, round);
        let approved = self
            .plan
            .until
            .as_ref()
            .is_some_and(|c| c.evaluate(&mut |r| lookup(&scope, view, r)));
        let (exit, note) = if approved {
            (
                Some(LoopExit::Approved),
                Some(format!("`until` held after round {round}")),
            )
        } else if let Some(earlier) = repeats {
            (
                Some(LoopExit::Stalled),
                Some(format!(
                    "round {round} repeats round {earlier}'s output exactly: another round would go in circles"
                )),
            )
        } else if self.plan.patience.is_some_and(|p| self.since_best >= p) {
            let (best, at) = self.best.unwrap_or((f64::NAN, 0));
            (
                Some(LoopExit::Stalled),
                Some(format!(
                    "the score has not improved for {} rounds; the best, {best}, was round {at}",
                    self.since_best
                )),
            )
        } else if round >= self.plan.max_rounds {
            (
                Some(LoopExit::Exhausted),
                Some(format!(
                    "played maxRounds ({round}) without `until` holding"
                )),
            )
        } else {
            (None, None)
        };
        if exit.is_none() {
            self.previous = Some(outputs);
            self.round += 1;
        }
        Verdict { score, exit, note }
    }
}

/// What a round's templates read as `loop`: its number, the most rounds, and the previous
/// round's outputs by port (`null` in the first round).
fn loop_scope(run: &LoopRun) -> Value {
    json!({
        "round": run.round,
        "maxRounds": run.plan.max_rounds,
        "previous": run.previous.as_ref().map_or(Value::Null, |o| Value::Object(o.0.clone())),
        "best": run.best.map(|(score, round)| json!({"score": score, "round": round})),
    })
}
