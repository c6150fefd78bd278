//! What tests of every crate share to build a melody and play it (feature `testing`, and this
//! crate's own tests): a melody from a JSON document with the file's boilerplate filled in,
//! step and edge values, and [`play`] (or [`collect`] for a run a test started itself), which plays a melody to its end and hands back the
//! report and every event.
//!
//! Tests state their melodies whole here (steps, edges, inputs, settings), so a reader sees
//! in one place what a test plays; only `formatVersion` and the `melody` id and name are
//! filled in. This module must never be used outside tests: it panics on every error, which
//! is how a test reports one.

#![allow(clippy::unwrap_used, clippy::expect_used)] // Test scaffolding: a panic is the report.

use serde_json::{json, Value};
use symphony_melody::Melody;

use crate::{Conductor, EventRecord, Run, RunControl, RunOptions, RunReport, StepOutcome};

/// A melody from a JSON document: `formatVersion` 1 and `melody: {"id": "test", "name":
/// "Test"}` are filled in where the document has none. Panics with every problem when the
/// document does not load.
pub fn melody(doc: Value) -> Melody {
    let Value::Object(mut doc) = doc else {
        panic!("a test melody is a JSON object, not {doc}");
    };
    doc.entry("formatVersion").or_insert(json!(1));
    doc.entry("melody")
        .or_insert(json!({"id": "test", "name": "Test"}));
    symphony_melody::load_value(Value::Object(doc)).unwrap_or_else(|p| panic!("{p}"))
}

/// A step of type `ty` (its kind is the type's first part: `operator.delay` is an operator).
pub fn step(id: &str, ty: &str, config: Value) -> Value {
    let kind = ty
        .split('.')
        .next()
        .expect("split yields at least one part");
    json!({"id": id, "kind": kind, "type": ty, "config": config})
}

/// An edge from an output port (`step.port`) to an input port.
pub fn edge(from: &str, to: &str) -> Value {
    json!({"from": from, "to": to})
}

/// Plays a melody to its end and returns its report and every event, in order. Panics when
/// the run does not start.
pub async fn play(
    conductor: &Conductor,
    melody: Melody,
    options: RunOptions,
) -> (RunReport, Vec<EventRecord>) {
    play_steered(conductor, melody, options, |_| {}).await
}

/// [`play`], handing the run's control to `steer` as soon as it started (to cancel, pause or
/// resume it; `steer` spawns a task when it must wait for something).
pub async fn play_steered(
    conductor: &Conductor,
    melody: Melody,
    options: RunOptions,
    steer: impl FnOnce(RunControl),
) -> (RunReport, Vec<EventRecord>) {
    let run = conductor
        .start(melody, options)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    steer(run.control.clone());
    collect(run).await
}

/// Waits for a started run to end and returns its report and every event, in order.
pub async fn collect(run: Run) -> (RunReport, Vec<EventRecord>) {
    let (mut events, _control, finished) = run.into_parts();
    // Events are read on their own task while the run plays, as a host reads them.
    let collector = tokio::spawn(async move {
        let mut all = Vec::new();
        while let Some(e) = events.recv().await {
            all.push(e);
        }
        all
    });
    let report = finished.await.expect("the scheduler task does not panic");
    let events = collector.await.expect("the collector does not panic");
    (report, events)
}

/// The outcome of step `id` in a report. Panics when the report has no such step.
pub fn outcome(report: &RunReport, id: &str) -> StepOutcome {
    report
        .steps
        .iter()
        .find(|s| s.id == id)
        .unwrap_or_else(|| panic!("no step `{id}` in the report: {report:?}"))
        .outcome
}
