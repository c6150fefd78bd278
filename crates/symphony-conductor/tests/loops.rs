//! The loop cue (`cue.loop`, call and response): rounds that see the previous round, and each
//! way a loop stops (approved, stalled by patience, stalled by repetition, exhausted), the
//! round kept (last or best), a failing round, retries inside a round, cancelling, and the
//! validation of a loop's config. Played on the paused clock with the offline instrument's
//! scripted answers.

#![allow(clippy::unwrap_used)] // Tests unwrap: a panic is the failure report.

use std::time::Duration;

use serde_json::{json, Value};
use symphony_conductor::testing::{edge, melody, outcome, play, play_steered, step};
use symphony_conductor::{
    Conductor, EventRecord, LoopExit, Registry, RunEvent, RunOptions, RunReport, RunStatus,
    StepOutcome,
};

fn conductor() -> Conductor {
    Conductor::new(Registry::standard())
}

/// A loop `review` whose body is the offline instrument answering `answer` (JSON), with the
/// loop's own config `extra` merged in.
fn review_loop(answer: &str, extra: Value) -> Value {
    let mut config = json!({
        "body": {
            "type": "instrument.offline",
            "config": {"prompt": "Revise the draft (round {{loop.round}}).", "shape": "json", "answer": answer}
        }
    });
    for (k, v) in extra.as_object().unwrap() {
        config[k] = v.clone();
    }
    step("review", "cue.loop", config)
}

async fn play_one(loop_step: Value) -> (RunReport, Vec<EventRecord>) {
    play(
        &conductor(),
        melody(json!({"steps": [loop_step]})),
        RunOptions::default(),
    )
    .await
}

/// Every round event of the run: (round, score, exit).
fn rounds(events: &[EventRecord]) -> Vec<(u32, Option<f64>, Option<LoopExit>)> {
    events
        .iter()
        .filter_map(|e| match &e.event {
            RunEvent::StepRound {
                round, score, exit, ..
            } => Some((*round, *score, *exit)),
            _ => None,
        })
        .collect()
}

fn note_of_last_round(events: &[EventRecord]) -> String {
    events
        .iter()
        .rev()
        .find_map(|e| match &e.event {
            RunEvent::StepRound { note, .. } => note.clone(),
            _ => None,
        })
        .unwrap()
}

#[tokio::test(start_paused = true)]
async fn a_loop_stops_approved_when_until_holds_and_each_round_sees_the_last() {
    // Round n scores 0.n and quotes the previous round's draft.
    let answer = r#"{"draft": "draft {{loop.round}} after [{{loop.previous.output.draft}}]", "score": 0.{{loop.round}}}"#;
    let (report, events) = play_one(review_loop(
        answer,
        json!({"until": {"op": "gt", "ref": "round.output.score", "value": 0.25}, "maxRounds": 10, "score": "round.output.score"}),
    ))
    .await;
    assert_eq!(report.status, RunStatus::Succeeded, "{:?}", report.steps);
    assert_eq!(
        rounds(&events),
        vec![
            (1, Some(0.1), None),
            (2, Some(0.2), None),
            (3, Some(0.3), Some(LoopExit::Approved))
        ]
    );
    let out = &report.result["review"];
    assert_eq!(out["exit"], json!("approved"));
    assert_eq!(out["round"], json!(3));
    assert_eq!(
        out["output"]["draft"],
        json!("draft 3 after [draft 2 after [draft 1 after []]]")
    );
    assert_eq!(out["approved"], out["output"]);
    assert!(out.get("stalled").is_none() && out.get("exhausted").is_none());
    assert_eq!(out["rounds"].as_array().unwrap().len(), 3);
    // A round is a unit of the loop: queued with its `loop` scope, item = round - 1.
    let queued: Vec<Value> = events
        .iter()
        .filter_map(|e| match &e.event {
            RunEvent::StepQueued {
                item: Some(_),
                inputs,
                ..
            } => Some(inputs["loop"]["round"].clone()),
            _ => None,
        })
        .collect();
    assert_eq!(queued, vec![json!(1), json!(2), json!(3)]);
    // Three rounds of the offline instrument: three attempts, usage summed.
    let s = &report.steps[0];
    assert_eq!(s.attempts, 3);
    assert!(s.usage.as_ref().unwrap().output_tokens > 0);
}

#[tokio::test(start_paused = true)]
async fn a_loop_that_never_satisfies_until_is_exhausted_after_max_rounds() {
    let (report, events) = play_one(review_loop(
        r#"{"draft": "v{{loop.round}}", "approved": false}"#,
        json!({"until": {"op": "eq", "ref": "round.output.approved", "value": true}, "maxRounds": 4}),
    ))
    .await;
    assert_eq!(report.status, RunStatus::Succeeded);
    assert_eq!(rounds(&events).len(), 4);
    let out = &report.result["review"];
    assert_eq!(out["exit"], json!("exhausted"));
    assert_eq!(out["exhausted"], json!({"draft": "v4", "approved": false}));
    assert!(note_of_last_round(&events).contains("maxRounds (4)"));
}

#[tokio::test(start_paused = true)]
async fn a_loop_whose_score_stops_improving_stalls_after_patience_rounds() {
    let (report, events) = play_one(review_loop(
        r#"{"draft": "v{{loop.round}}", "score": 0.5}"#,
        json!({"maxRounds": 10, "score": "round.output.score", "patience": 2}),
    ))
    .await;
    let out = &report.result["review"];
    assert_eq!(out["exit"], json!("stalled"));
    assert_eq!(
        rounds(&events).last().unwrap(),
        &(3, Some(0.5), Some(LoopExit::Stalled))
    );
    assert!(
        note_of_last_round(&events)
            .contains("not improved for 2 rounds; the best, 0.5, was round 1"),
        "{}",
        note_of_last_round(&events)
    );
    assert_eq!(out["stalled"], json!({"draft": "v3", "score": 0.5}));
}

#[tokio::test(start_paused = true)]
async fn a_loop_that_repeats_an_earlier_round_stalls_at_once() {
    // The answer does not change: the second round is the first one again.
    let (report, events) = play_one(review_loop(
        r#"{"draft": "the same draft"}"#,
        json!({"maxRounds": 10}),
    ))
    .await;
    assert_eq!(report.result["review"]["exit"], json!("stalled"));
    assert_eq!(rounds(&events).len(), 2);
    assert!(note_of_last_round(&events).contains("round 2 repeats round 1's output"));
}

#[tokio::test(start_paused = true)]
async fn keep_best_keeps_the_highest_scoring_round_not_the_last() {
    // Round 1 scores 0.9, later rounds 0.09 (the previous round's `tail` lands before the 9).
    let answer =
        r#"{"draft": "v{{loop.round}}", "score": 0.{{loop.previous.output.tail}}9, "tail": "0"}"#;
    let (report, events) = play_one(review_loop(
        answer,
        json!({"maxRounds": 3, "score": "round.output.score", "keep": "best"}),
    ))
    .await;
    let scores: Vec<Option<f64>> = rounds(&events).iter().map(|r| r.1).collect();
    assert_eq!(scores, vec![Some(0.9), Some(0.09), Some(0.09)]);
    let out = &report.result["review"];
    assert_eq!(out["exit"], json!("exhausted"));
    assert_eq!(out["round"], json!(1));
    assert_eq!(out["output"]["draft"], json!("v1"));
    assert_eq!(out["rounds"].as_array().unwrap().len(), 3);
}

#[tokio::test(start_paused = true)]
async fn only_the_branch_of_the_exit_plays_downstream() {
    let mut ship = step(
        "ship",
        "operator.template",
        json!({"template": "ship {{work.draft}}"}),
    );
    ship["inputs"] = json!({"work": {"type": "any"}});
    let mut ask = step(
        "ask",
        "operator.template",
        json!({"template": "a person looks at {{work.draft}}"}),
    );
    ask["inputs"] = json!({"work": {"type": "any"}});
    let m = melody(json!({
        "steps": [review_loop(r#"{"draft": "same"}"#, json!({"maxRounds": 5})), ship, ask],
        "edges": [edge("review.approved", "ship.work"), edge("review.stalled", "ask.work")]
    }));
    let (report, _) = play(&conductor(), m, RunOptions::default()).await;
    assert_eq!(report.status, RunStatus::Succeeded, "{:?}", report.steps);
    assert_eq!(outcome(&report, "ship"), StepOutcome::Skipped);
    assert_eq!(outcome(&report, "ask"), StepOutcome::Succeeded);
    assert_eq!(
        report.result["ask"]["output"],
        json!("a person looks at same")
    );
}

#[tokio::test(start_paused = true)]
async fn a_round_is_retried_by_the_bodys_policy_and_a_round_that_fails_fails_the_loop() {
    let mut retried = review_loop(r#"{"draft": "v{{loop.round}}"}"#, json!({"maxRounds": 2}));
    retried["config"]["body"]["config"]["failAttempts"] = json!(1);
    retried["config"]["body"]["policy"] = json!({"retry": {"max": 2, "backoffMs": 10}});
    let (report, events) = play_one(retried).await;
    assert_eq!(report.status, RunStatus::Succeeded, "{:?}", report.steps);
    assert_eq!(report.steps[0].attempts, 4, "two rounds, each failing once");
    assert_eq!(rounds(&events).len(), 2);

    let mut failing = review_loop(r#"{"draft": "v"}"#, json!({"maxRounds": 3}));
    failing["config"]["body"]["config"]["failAttempts"] = json!(1);
    let (report, _) = play_one(failing).await;
    assert_eq!(report.status, RunStatus::Failed);
    let note = report.steps[0].note.clone().unwrap();
    assert!(
        note.starts_with("round 1 failed: offline rehearsal"),
        "{note}"
    );
}

#[tokio::test(start_paused = true)]
async fn cancelling_a_run_stops_its_loop_between_or_inside_rounds() {
    let mut slow = review_loop(r#"{"draft": "v{{loop.round}}"}"#, json!({"maxRounds": 100}));
    slow["config"]["body"]["config"]["latencyMs"] = json!(1000);
    let (report, events) = play_steered(
        &conductor(),
        melody(json!({"steps": [slow]})),
        RunOptions::default(),
        |control| {
            tokio::spawn(async move {
                tokio::time::sleep(Duration::from_millis(2500)).await;
                control.cancel();
            });
        },
    )
    .await;
    assert_eq!(report.status, RunStatus::Cancelled);
    assert_eq!(outcome(&report, "review"), StepOutcome::Cancelled);
    assert_eq!(
        rounds(&events).len(),
        2,
        "two rounds of a second each, then the cancel"
    );
}

#[test]
fn a_loops_config_is_checked_with_field_paths() {
    let problems = |config: Value| -> Vec<String> {
        let m = melody(json!({"steps": [step("review", "cue.loop", config)]}));
        match conductor().prepare(m) {
            Ok(_) => Vec::new(),
            Err(p) => p.iter().map(ToString::to_string).collect(),
        }
    };
    let body = json!({"type": "operator.template", "config": {"template": "round {{loop.round}}"}});
    assert_eq!(problems(json!({"body": body})), Vec::<String>::new());
    let found = problems(json!({"body": body, "keep": "best", "maxRounds": 0}));
    assert!(
        found.iter().any(|p| p.contains("review")
            && p.contains("config.keep")
            && p.contains("needs a `score`")),
        "{found:?}"
    );
    assert!(
        found.iter().any(|p| p.contains("config.maxRounds")),
        "{found:?}"
    );
    let found = problems(json!({"body": body, "score": "output.score"}));
    assert!(
        found
            .iter()
            .any(|p| p.contains("config.score") && p.contains("round.output.score")),
        "{found:?}"
    );
    // `until` reads the round just played; anything else it names must exist.
    let found =
        problems(json!({"body": body, "until": {"op": "eq", "ref": "verdict.ok", "value": true}}));
    assert!(
        found
            .iter()
            .any(|p| p.contains("config.until.ref") && p.contains("verdict")),
        "{found:?}"
    );
    let found = problems(json!({"body": {"type": "cue.loop", "config": {}}}));
    assert!(
        found
            .iter()
            .any(|p| p.contains("config.body.type") && p.contains("cue")),
        "{found:?}"
    );
}

#[tokio::test(start_paused = true)]
async fn a_resumed_loop_goes_on_after_the_rounds_it_already_played() {
    let answer = r#"{"draft": "draft {{loop.round}} after [{{loop.previous.output.draft}}]", "score": 0.{{loop.round}}}"#;
    let loop_step = review_loop(
        answer,
        json!({"until": {"op": "gt", "ref": "round.output.score", "value": 0.35}, "maxRounds": 10, "score": "round.output.score"}),
    );
    let (whole, _) = play_one(loop_step.clone()).await;
    // Rounds 1 and 2 were played before the run was interrupted.
    let mut given = Vec::new();
    for round in [1, 2] {
        let before = if round == 1 {
            String::new()
        } else {
            "draft 1 after []".into()
        };
        given.push(symphony_conductor::Outputs::single(
            json!({"draft": format!("draft {round} after [{before}]"), "score": f64::from(round) / 10.0}),
        ));
    }
    let mut options = RunOptions::default();
    options.rounds.insert("review".into(), given.clone());
    let (resumed, events) = play(
        &conductor(),
        melody(json!({"steps": [loop_step.clone()]})),
        options,
    )
    .await;
    assert_eq!(
        rounds(&events),
        vec![
            (3, Some(0.3), None),
            (4, Some(0.4), Some(LoopExit::Approved))
        ],
        "only the rounds not played yet are played"
    );
    assert_eq!(resumed.result["review"], whole.result["review"]);
    assert_eq!(resumed.steps[0].attempts, 2);

    // Given rounds that already meet the exit end the loop without playing any.
    let mut options = RunOptions::default();
    given.push(symphony_conductor::Outputs::single(
        json!({"draft": "x", "score": 0.9}),
    ));
    options.rounds.insert("review".into(), given);
    let (ended, events) = play(&conductor(), melody(json!({"steps": [loop_step]})), options).await;
    assert!(rounds(&events).is_empty());
    assert_eq!(ended.result["review"]["exit"], json!("approved"));
    assert_eq!(ended.result["review"]["round"], json!(3));
}
