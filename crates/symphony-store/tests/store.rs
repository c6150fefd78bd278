//! The run store against a real SQLite file: recording a run, reading it back, reusing
//! outputs through the cache, resuming, exporting, comparing and pruning.

#![allow(clippy::unwrap_used)] // Tests unwrap: a panic is the failure report.

use serde_json::{json, Value};
use symphony_conductor::{CacheHandle, Conductor, Registry, RunOptions, RunReport, RunStatus};
use symphony_store::{NewRun, Store};

fn melody() -> symphony_melody::Melody {
    symphony_melody::load_value(json!({
        "formatVersion": 1,
        "melody": {"id": "store-test", "name": "Store test"},
        "inputs": {"goal": {"type": "string", "default": "ship it"}},
        "steps": [
            {"id": "plan", "kind": "instrument", "type": "instrument.offline",
             "config": {"prompt": "Plan {{goal}}", "system": "Be brief"}},
            {"id": "review", "kind": "instrument", "type": "instrument.offline",
             "inputs": {"plan": {"type": "text"}},
             "config": {"prompt": "Review {{plan}}"}},
            {"id": "shout", "kind": "operator", "type": "operator.template",
             "inputs": {"text": {"type": "text"}},
             "config": {"template": "{{text}}!"}}
        ],
        "edges": [
            {"from": "plan.output", "to": "review.plan"},
            {"from": "review.output", "to": "shout.text"}
        ]
    }))
    .unwrap()
}

/// Plays the melody, recording every event, and returns the report.
async fn play(store: &Store, id: &str, mut options: RunOptions) -> RunReport {
    let conductor = Conductor::new(Registry::standard());
    let m = melody();
    let bytes = symphony_melody::to_bytes(&m);
    let inputs = symphony_conductor::resolve_inputs(&m, &options.inputs).unwrap();
    let recorder = store
        .begin(NewRun {
            id,
            melody_bytes: &bytes,
            melody_id: &m.melody.id,
            melody_name: &m.melody.name,
            inputs: &inputs,
            options: json!({"seed": 7}),
            workspace: None,
            parent: None,
        })
        .await
        .unwrap();
    options.run_id = id.to_owned();
    let run = conductor.start(m, options).await.unwrap();
    let (mut events, _control, finished) = run.into_parts();
    while let Some(e) = events.recv().await {
        recorder.record(&e);
    }
    let report = finished.await.unwrap();
    recorder.finish().await.unwrap();
    report
}

#[tokio::test]
async fn a_recorded_run_reads_back_step_by_step() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&dir.path().join("runs.db")).await.unwrap();
    let report = play(&store, "r1", RunOptions::default()).await;
    assert_eq!(report.status, RunStatus::Succeeded);

    let list = store.list(10).await.unwrap();
    assert_eq!(list.len(), 1);
    assert_eq!(list[0].status, "succeeded");
    let run = store.run("r1").await.unwrap();
    let steps: Vec<(&str, &str)> = run
        .steps
        .iter()
        .map(|s| (s.step.as_str(), s.outcome.as_str()))
        .collect();
    assert_eq!(
        steps,
        [
            ("plan", "succeeded"),
            ("review", "succeeded"),
            ("shout", "succeeded")
        ]
    );
    assert_eq!(run.totals["succeeded"], json!(3));
    let shout = store
        .output(run.steps[2].output_hash.as_deref().unwrap())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(shout, json!(report.result["shout"]));

    let events = store.events("r1").await.unwrap();
    assert_eq!(events.first().unwrap().kind, "runStarted");
    assert_eq!(events.last().unwrap().kind, "runFinished");
    assert!(events.windows(2).all(|w| w[0].seq + 1 == w[1].seq));

    // The export stands alone: outputs put back in place, prompts kept with their attempts.
    let trace = store.export("r1").await.unwrap();
    assert_eq!(trace["melody"]["melody"]["id"], json!("store-test"));
    assert_eq!(
        trace["steps"][0]["attempts"][0]["prompt"],
        json!("Plan ship it")
    );
    assert_eq!(
        trace["steps"][0]["attempts"][0]["system"],
        json!("Be brief")
    );
    let output_event = trace["events"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["type"] == json!("stepOutput") && e["step"] == json!("shout"))
        .unwrap();
    assert_eq!(output_event["outputs"], json!(report.result["shout"]));

    assert!(matches!(
        store.run("nope").await,
        Err(symphony_store::StoreError::UnknownRun(_))
    ));
}

#[tokio::test]
async fn the_store_is_the_cache_of_a_rerun() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&dir.path().join("runs.db")).await.unwrap();
    let cached = || RunOptions {
        cache: Some(CacheHandle(std::sync::Arc::new(store.clone()))),
        ..RunOptions::default()
    };
    let first = play(&store, "r1", cached()).await;
    let second = play(&store, "r2", cached()).await;
    assert_eq!(second.result, first.result);
    let origins: Vec<_> = store
        .run("r2")
        .await
        .unwrap()
        .steps
        .into_iter()
        .map(|s| s.origin.unwrap())
        .collect();
    assert_eq!(origins, ["cached", "cached", "played"]);
    let diff = store.diff("r1", "r2").await.unwrap();
    assert!(diff
        .iter()
        .all(|d| d.same_output && d.outcome.0 == d.outcome.1));
    assert_eq!(diff[0].same_key, Some(true));

    // A different goal changes what `plan` is asked: it is played again, and so is `review`.
    let mut options = cached();
    options.inputs = json!({"goal": "ship it twice"})
        .as_object()
        .unwrap()
        .clone();
    play(&store, "r3", options).await;
    let diff = store.diff("r1", "r3").await.unwrap();
    assert_eq!(diff[0].same_key, Some(false));
    assert!(!diff[0].same_output);
}

#[tokio::test]
async fn resume_hands_back_what_finished_and_continues_the_log() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("runs.db");
    let store = Store::open(&path).await.unwrap();
    // Record only the first part of a run, as if the process had been killed after `plan`.
    let conductor = Conductor::new(Registry::standard());
    let m = melody();
    let bytes = symphony_melody::to_bytes(&m);
    let inputs = symphony_conductor::resolve_inputs(&m, &Default::default()).unwrap();
    let recorder = store
        .begin(NewRun {
            id: "crashed",
            melody_bytes: &bytes,
            melody_id: &m.melody.id,
            melody_name: &m.melody.name,
            inputs: &inputs,
            options: json!({}),
            workspace: None,
            parent: None,
        })
        .await
        .unwrap();
    let run = conductor
        .start(m.clone(), RunOptions::default())
        .await
        .unwrap();
    let (mut events, _control, finished) = run.into_parts();
    let mut plan_output = Value::Null;
    while let Some(e) = events.recv().await {
        let stop = matches!(&e.event, symphony_conductor::RunEvent::StepSucceeded { step, .. } if &**step == "plan");
        if let symphony_conductor::RunEvent::StepOutput { step, outputs } = &e.event {
            if &**step == "plan" {
                plan_output = outputs.get("output").cloned().unwrap();
            }
        }
        recorder.record(&e);
        if stop {
            break;
        }
    }
    drop(events);
    finished.await.unwrap();
    recorder.finish().await.unwrap();
    assert_eq!(
        store.run("crashed").await.unwrap().summary.status,
        "running"
    );

    // A new process opens the store and resumes.
    drop(store);
    let store = Store::open(&path).await.unwrap();
    let (resumable, recorder) = store.resume("crashed").await.unwrap();
    assert_eq!(resumable.session, 2);
    assert_eq!(resumable.finished.keys().collect::<Vec<_>>(), ["plan"]);
    assert_eq!(resumable.finished["plan"].get("output"), Some(&plan_output));
    let options = RunOptions {
        run_id: "crashed".into(),
        inputs: resumable.inputs.clone(),
        given: resumable.finished.clone(),
        ..RunOptions::default()
    };
    let run = conductor.start(m, options).await.unwrap();
    let (mut events, _control, finished) = run.into_parts();
    while let Some(e) = events.recv().await {
        recorder.record(&e);
    }
    let report = finished.await.unwrap();
    recorder.finish().await.unwrap();
    assert_eq!(report.status, RunStatus::Succeeded);
    let run = store.run("crashed").await.unwrap();
    assert_eq!(run.summary.status, "succeeded");
    assert_eq!(run.sessions, 2);
    let plan = run.steps.iter().find(|s| s.step == "plan").unwrap();
    assert_eq!(plan.origin.as_deref(), Some("given"));
    let events = store.events("crashed").await.unwrap();
    assert!(
        events.windows(2).all(|w| w[0].seq + 1 == w[1].seq),
        "one log across sessions"
    );
    assert_eq!(events.last().unwrap().session, 2);
    // A succeeded run is not resumed.
    assert!(store.resume("crashed").await.is_err());
}

#[tokio::test]
async fn prune_keeps_the_newest_runs_and_frees_their_outputs() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&dir.path().join("runs.db")).await.unwrap();
    for i in 0..4 {
        let options = RunOptions {
            inputs: json!({"goal": format!("goal {i}")})
                .as_object()
                .unwrap()
                .clone(),
            ..RunOptions::default()
        };
        play(&store, &format!("r{i}"), options).await;
    }
    let pruned = store.prune(1).await.unwrap();
    assert_eq!(pruned.runs, 3);
    assert!(pruned.outputs > 0);
    let left: Vec<String> = store
        .list(10)
        .await
        .unwrap()
        .into_iter()
        .map(|r| r.id)
        .collect();
    assert_eq!(left, ["r3"]);
    // What is left still reads back whole.
    let trace = store.export("r3").await.unwrap();
    assert!(trace["steps"]
        .as_array()
        .unwrap()
        .iter()
        .all(|s| !s["outputs"].is_null()));
}

#[tokio::test]
async fn a_file_that_is_not_a_store_gets_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("runs.db");
    std::fs::write(
        &path,
        b"this is not a database, just some text that is long enough to look like a header",
    )
    .unwrap();
    let message = match Store::open(&path).await {
        Err(e) => e.to_string(),
        Ok(_) => panic!("opened a text file as a store"),
    };
    assert!(message.contains("runs.db"), "{message}");
    assert!(message.contains("move it aside"), "{message}");
    // Nothing was overwritten.
    assert!(std::fs::read(&path)
        .unwrap()
        .starts_with(b"this is not a database"));
}
