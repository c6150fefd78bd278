//! The gate cue (`cue.gate`): a person approves, rejects (failing the branch, or routed to
//! `rejected`) or edits the value before the branch goes on; a timeout takes the declared
//! decision; the wait holds no slot; a resumed run's gate takes the answer recorded while no
//! session played, or goes on waiting with the time it already waited counted; cancelling
//! ends the wait. Played on the paused clock; the "person" is a task answering through the
//! run's control.

#![allow(clippy::unwrap_used)] // Tests unwrap: a panic is the failure report.

use std::time::Duration;

use serde_json::{json, Value};
use symphony_conductor::testing::{edge, melody, outcome, play, play_steered, step};
use symphony_conductor::{
    Conductor, Decision, EventRecord, GateAnswer, GateResume, Registry, ReviewFormat, RunEvent,
    RunOptions, RunReport, RunStatus, StepOutcome,
};

fn conductor() -> Conductor {
    Conductor::new(Registry::standard())
}

fn answer(decision: Decision, reason: Option<&str>, value: Option<Value>) -> GateAnswer {
    GateAnswer {
        decision,
        reason: reason.map(str::to_owned),
        value,
        by: "app".into(),
    }
}

/// A template step with one declared input, `text`.
fn templated(id: &str, template: &str) -> Value {
    let mut s = step(id, "operator.template", json!({ "template": template }));
    s["inputs"] = json!({"text": {"type": "any"}});
    s
}

/// `plan` (a template) → `approve` (the gate, with `gate` config) → `build` (a template that
/// reads the gate's output, so it waits for it), plus `side`, an independent 500 ms step.
fn gated(gate: Value) -> Value {
    json!({
        "settings": {"maxParallel": 1},
        "steps": [
            step("plan", "operator.template", json!({"template": "1. tests\n2. code"})),
            step("approve", "cue.gate", gate),
            templated("build", "building: {{text}}"),
            step("side", "operator.delay", json!({"ms": 500})),
        ],
        "edges": [
            edge("plan.output", "approve.input"),
            edge("approve.output", "build.text"),
        ]
    })
}

/// Plays `doc`; a person answers the gate `approve` after `after` (none: nobody answers).
async fn play_answered(
    doc: Value,
    options: RunOptions,
    reply: Option<(Duration, GateAnswer)>,
) -> (RunReport, Vec<EventRecord>) {
    play_steered(&conductor(), melody(doc), options, move |control| {
        if let Some((after, reply)) = reply {
            tokio::spawn(async move {
                tokio::time::sleep(after).await;
                control.answer("approve", reply);
            });
        }
    })
    .await
}

fn waiting(events: &[EventRecord]) -> Vec<&RunEvent> {
    events
        .iter()
        .filter(|e| matches!(e.event, RunEvent::GateWaiting { .. }))
        .map(|e| &e.event)
        .collect()
}

/// Every answer: (when, decision, reason, edited, by).
fn answered(events: &[EventRecord]) -> Vec<(u64, Decision, Option<String>, bool, String)> {
    events
        .iter()
        .filter_map(|e| match &e.event {
            RunEvent::GateAnswered {
                decision,
                reason,
                value,
                by,
                ..
            } => Some((
                e.at_ms,
                *decision,
                reason.clone(),
                value.is_some(),
                by.clone(),
            )),
            _ => None,
        })
        .collect()
}

fn succeeded_at(events: &[EventRecord], id: &str) -> u64 {
    events
        .iter()
        .find_map(|e| match &e.event {
            RunEvent::StepSucceeded { step, .. } if &**step == id => Some(e.at_ms),
            _ => None,
        })
        .unwrap_or_else(|| panic!("{id} did not succeed"))
}

#[tokio::test(start_paused = true)]
async fn an_approved_gate_sends_its_input_on_and_waits_without_holding_a_slot() {
    let gate = json!({"title": "Go on with {{plan.output}}?", "show": "## Plan\n{{plan.output}}"});
    let (report, events) = play_answered(
        gated(gate),
        RunOptions::default(),
        Some((
            Duration::from_secs(30),
            answer(Decision::Approve, None, None),
        )),
    )
    .await;
    assert_eq!(report.status, RunStatus::Succeeded, "{:?}", report.steps);
    let asked = waiting(&events);
    assert_eq!(asked.len(), 1);
    let RunEvent::GateWaiting {
        title,
        review,
        format,
        value,
        timeout_ms,
        ..
    } = asked[0]
    else {
        unreachable!()
    };
    assert_eq!(title, "Go on with 1. tests\n2. code?");
    assert_eq!(review, "## Plan\n1. tests\n2. code");
    assert_eq!(*format, ReviewFormat::Markdown);
    assert_eq!(value, &json!("1. tests\n2. code"));
    assert_eq!(*timeout_ms, None);
    let answers = answered(&events);
    assert_eq!(answers.len(), 1);
    assert_eq!(answers[0].0, 30_000);
    assert_eq!(answers[0].4, "app");
    assert_eq!(
        report.result["build"]["output"],
        json!("building: 1. tests\n2. code")
    );
    // With one slot, the independent 500 ms step played while the gate waited.
    assert_eq!(succeeded_at(&events, "side"), 500);
    assert_eq!(succeeded_at(&events, "build"), 30_000);
    let gate = report.steps.iter().find(|s| s.id == "approve").unwrap();
    assert_eq!(gate.outcome, StepOutcome::Succeeded);
    // A gate waiting for a person is not a bottleneck of the run.
    assert!(!events
        .iter()
        .any(|e| matches!(&e.event, RunEvent::Bottleneck { step, .. } if &**step == "approve")));
}

#[tokio::test(start_paused = true)]
async fn an_edited_answer_sends_the_edited_value_on() {
    let (report, events) = play_answered(
        gated(json!({})),
        RunOptions::default(),
        Some((
            Duration::from_secs(5),
            answer(
                Decision::Approve,
                Some("tests first"),
                Some(json!("1. tests only")),
            ),
        )),
    )
    .await;
    assert_eq!(report.status, RunStatus::Succeeded);
    // Without `show`, the review is the input as JSON.
    let RunEvent::GateWaiting { review, format, .. } = waiting(&events)[0] else {
        unreachable!()
    };
    assert_eq!(*format, ReviewFormat::Json);
    assert_eq!(review, "\"1. tests\\n2. code\"");
    assert!(answered(&events)[0].3, "the answer is marked edited");
    assert_eq!(
        report.result["build"]["output"],
        json!("building: 1. tests only")
    );
}

#[tokio::test(start_paused = true)]
async fn a_rejection_fails_the_branch_with_its_reason_and_keeps_the_rest() {
    let (report, _) = play_answered(
        gated(json!({})),
        RunOptions::default(),
        Some((
            Duration::from_secs(5),
            answer(Decision::Reject, Some("the plan skips the tests"), None),
        )),
    )
    .await;
    assert_eq!(report.status, RunStatus::Failed);
    let gate = report.steps.iter().find(|s| s.id == "approve").unwrap();
    assert_eq!(gate.outcome, StepOutcome::Failed);
    assert_eq!(
        gate.note.as_deref(),
        Some("rejected at the gate (app): the plan skips the tests")
    );
    assert_eq!(outcome(&report, "build"), StepOutcome::Skipped);
    assert_eq!(outcome(&report, "side"), StepOutcome::Succeeded);
}

#[tokio::test(start_paused = true)]
async fn a_routed_rejection_goes_out_on_rejected_and_the_approved_branch_is_skipped() {
    let mut doc = gated(json!({"onReject": "route"}));
    doc["steps"]
        .as_array_mut()
        .unwrap()
        .push(templated("rethink", "again, because {{text.reason}}"));
    doc["edges"]
        .as_array_mut()
        .unwrap()
        .push(edge("approve.rejected", "rethink.text"));
    let (report, _) = play_answered(
        doc,
        RunOptions::default(),
        Some((
            Duration::from_secs(5),
            answer(Decision::Reject, Some("too big"), None),
        )),
    )
    .await;
    assert_eq!(report.status, RunStatus::Succeeded, "{:?}", report.steps);
    assert_eq!(outcome(&report, "build"), StepOutcome::Skipped);
    assert_eq!(
        report.result["rethink"]["output"],
        json!("again, because too big")
    );
}

#[tokio::test(start_paused = true)]
async fn nobody_answering_in_time_takes_the_declared_decision() {
    // onTimeout: approve, after a minute.
    let (report, events) = play_answered(
        gated(json!({"timeoutMs": 60_000, "onTimeout": "approve"})),
        RunOptions::default(),
        None,
    )
    .await;
    assert_eq!(report.status, RunStatus::Succeeded, "{:?}", report.steps);
    let answers = answered(&events);
    assert_eq!(answers.len(), 1);
    let (at, decision, reason, edited, by) = &answers[0];
    assert_eq!(
        (*at, *decision, *edited),
        (60_000, Decision::Approve, false)
    );
    assert_eq!(by, "timeout");
    assert_eq!(reason.as_deref(), Some("nobody answered within 60.0s"));
    assert_eq!(
        report.result["build"]["output"],
        json!("building: 1. tests\n2. code")
    );

    // The default decision is reject.
    let (report, events) = play_answered(
        gated(json!({"timeoutMs": 1_000})),
        RunOptions::default(),
        None,
    )
    .await;
    assert_eq!(report.status, RunStatus::Failed);
    assert_eq!(answered(&events)[0].1, Decision::Reject);
    assert_eq!(outcome(&report, "build"), StepOutcome::Skipped);
}

#[tokio::test(start_paused = true)]
async fn a_resumed_gate_takes_its_recorded_answer_or_waits_only_what_is_left() {
    // Answered while no session played: taken at once, not asked again.
    let mut options = RunOptions::default();
    options.gates.insert(
        "approve".into(),
        GateResume {
            answer: Some(GateAnswer {
                by: "cli".into(),
                ..answer(Decision::Approve, None, Some(json!("edited offline")))
            }),
            waited_ms: 90_000,
        },
    );
    let (report, events) = play_answered(gated(json!({})), options, None).await;
    assert_eq!(report.status, RunStatus::Succeeded);
    assert!(waiting(&events).is_empty());
    assert_eq!(answered(&events)[0].4, "cli");
    assert_eq!(
        report.result["build"]["output"],
        json!("building: edited offline")
    );

    // Not answered: it asks again, and its timeout counts the 50 s it already waited.
    let mut options = RunOptions::default();
    options.gates.insert(
        "approve".into(),
        GateResume {
            answer: None,
            waited_ms: 50_000,
        },
    );
    let (report, events) = play_answered(
        gated(json!({"timeoutMs": 60_000, "onTimeout": "approve"})),
        options,
        None,
    )
    .await;
    assert_eq!(report.status, RunStatus::Succeeded);
    let RunEvent::GateWaiting { waited_ms, .. } = waiting(&events)[0] else {
        unreachable!()
    };
    assert_eq!(*waited_ms, 50_000);
    assert_eq!(answered(&events)[0].0, 10_000);
}

#[tokio::test(start_paused = true)]
async fn cancelling_a_run_ends_its_waiting_gate() {
    let (report, _) = play_steered(
        &conductor(),
        melody(gated(json!({}))),
        RunOptions::default(),
        |control| {
            tokio::spawn(async move {
                tokio::time::sleep(Duration::from_secs(10)).await;
                // An answer to a step that does not wait is ignored.
                control.answer("plan", answer(Decision::Reject, None, None));
                control.cancel();
            });
        },
    )
    .await;
    assert_eq!(report.status, RunStatus::Cancelled);
    assert_eq!(outcome(&report, "approve"), StepOutcome::Cancelled);
    assert_eq!(outcome(&report, "plan"), StepOutcome::Succeeded);
}

#[tokio::test(start_paused = true)]
async fn a_gate_nobody_can_answer_ends_when_its_host_lets_go() {
    // The host drops the run's control: nobody can answer, and no timeout will.
    let run = conductor()
        .start(melody(gated(json!({}))), RunOptions::default())
        .await
        .unwrap();
    let (mut events, control, finished) = run.into_parts();
    drop(control);
    let report = finished.await.unwrap();
    while events.recv().await.is_some() {}
    assert_eq!(report.status, RunStatus::Cancelled);
    let gate = report.steps.iter().find(|s| s.id == "approve").unwrap();
    assert_eq!(gate.outcome, StepOutcome::Cancelled);
    assert!(gate.note.as_deref().unwrap().contains("nobody is left"));
}

#[tokio::test(start_paused = true)]
async fn a_gates_config_is_checked_with_field_paths() {
    let bad = |gate: Value| {
        let doc = melody(json!({"steps": [step("approve", "cue.gate", gate)]}));
        conductor()
            .prepare(doc)
            .err()
            .map(|p| p.to_string())
            .unwrap_or_default()
    };
    assert!(bad(json!({"timeoutMs": 0})).contains("steps.approve.config.timeoutMs"));
    assert!(bad(json!({"onTimeout": "approve"})).contains("set timeoutMs too"));
    assert!(bad(json!({"onReject": "ignore"})).contains("steps.approve.config.onReject"));
    assert!(bad(json!({"show": "{{nowhere.output}}"})).contains("nowhere"));
    assert_eq!(bad(json!({"timeoutMs": 5_000, "onTimeout": "approve"})), "");
    // And a melody whose gate never got its answer from anyone can be played without one.
    let (report, _) = play(
        &conductor(),
        melody(gated(json!({"timeoutMs": 10, "onTimeout": "approve"}))),
        RunOptions::default(),
    )
    .await;
    assert_eq!(report.status, RunStatus::Succeeded);
}
