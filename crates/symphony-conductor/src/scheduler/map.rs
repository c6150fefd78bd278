//! The map fan-out: a map's play lists its items, each item is queued as a unit of its own
//! (sharing the map's slot rules and cancellation token), and the map succeeds with every
//! item's output in order once all are in, or fails with its first failed item.

use std::sync::Arc;

use serde_json::{Map, Value};
use tokio::time::Instant;

use super::{ReadyUnit, Scheduler};
use crate::attempt::{record_outputs, UnitDone};
use crate::event::{OutputOrigin, RunEvent};
use crate::step::{ErrorKind, Outputs, Played, StepError, StepOutput, Usage};

/// A map whose items are being played.
pub(super) struct MapRun {
    pub results: Vec<Option<Value>>,
    pub done: u32,
    /// Items started and not yet finished.
    pub running: u32,
    /// The first item failure; items still queued are then dropped.
    pub error: Option<StepError>,
    pub usage: Option<Usage>,
}

impl Scheduler {
    pub(super) fn fan_out(&mut self, s: usize, items: Vec<Value>) {
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

    pub(super) fn on_item_done(&mut self, s: usize, item: u32, result: Result<Played, StepError>) {
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
            Ok(Played::FanOut(_) | Played::Loop(_) | Played::Ask(_)) => {
                map.error.get_or_insert_with(|| {
                    StepError::fatal(
                        ErrorKind::Config,
                        format!("item {item}: a map's body cannot be a cue"),
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
        self.finish_cue_output(s, outputs);
    }

    /// A cue that played units of its own (a map, a loop) succeeds with these outputs, once
    /// they are recorded in the workspace.
    pub(super) fn finish_cue_output(&mut self, s: usize, outputs: Map<String, Value>) {
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
}
