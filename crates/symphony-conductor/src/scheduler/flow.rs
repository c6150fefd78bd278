//! How outputs flow: a finished step's outputs sent along its edges, a step whose inputs are
//! all in queued (or skipped, with the reason), and the ends of a step (succeeded, failed,
//! cancelled, skipped) recorded in its book and said as events.

use std::sync::Arc;

use serde_json::{Map, Value};
use tokio::time::Instant;

use super::{ReadyUnit, Scheduler, State};
use crate::conductor::lookup;
use crate::event::{json_size, RunEvent, StepOutcome};
use crate::score::collects;
use crate::step::{ErrorKind, Outputs, StepError, StepOutput, Usage};

impl Scheduler {
    fn elapsed_ms(&self, s: usize) -> u64 {
        self.books[s]
            .first_start
            .map_or(0, |t| t.elapsed().as_millis() as u64)
    }

    pub(super) fn succeed(&mut self, s: usize, out: StepOutput) {
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

    pub(super) fn fail(&mut self, s: usize, e: StepError) {
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
    pub(super) fn resolve(&mut self, s: usize) {
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
    pub(super) fn gather_inputs(&mut self, s: usize) -> Result<Map<String, Value>, String> {
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
                            "`{}` sent nothing on `{src_port}` (a router or loop chose another branch)",
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
}
