//! The run store against a real SQLite file and a real Postgres server, one suite for both:
//! recording a run, reading it back, reusing outputs through the cache, resuming, exporting,
//! comparing and pruning; and what each backend says when it cannot be opened.

#![allow(clippy::unwrap_used)] // Tests unwrap: a panic is the failure report.

use serde_json::{json, Value};
use symphony_conductor::testing;
use symphony_conductor::{CacheHandle, Conductor, Registry, RunOptions, RunReport, RunStatus};
use symphony_store::{NewRun, Store};

mod common;
use common::{Backend, TestStore};

on_both_backends!(
    a_recorded_run_reads_back_step_by_step,
    the_store_is_the_cache_of_a_rerun,
    resume_hands_back_what_finished_and_continues_the_log,
    prune_keeps_the_newest_runs_and_frees_their_outputs,
    pins_and_retention_are_kept_per_store,
    the_board_reads_names_counts_logs_and_durations,
    a_quiet_run_keeps_beating_so_it_is_not_taken_for_interrupted,
    a_player_whose_run_was_resumed_elsewhere_is_told_so_and_stops,
    only_a_run_that_never_started_is_forgotten,
    a_gates_answer_is_kept_and_the_first_one_wins,
);

/// The melody every test here plays: two offline instruments and a template, in a chain.
fn melody() -> symphony_melody::Melody {
    testing::melody(json!({
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

async fn a_recorded_run_reads_back_step_by_step(backend: Backend) {
    let Some(at) = TestStore::new(backend) else {
        return;
    };
    let store = at.open().await;
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

async fn the_store_is_the_cache_of_a_rerun(backend: Backend) {
    let Some(at) = TestStore::new(backend) else {
        return;
    };
    let store = at.open().await;
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

async fn resume_hands_back_what_finished_and_continues_the_log(backend: Backend) {
    let Some(at) = TestStore::new(backend) else {
        return;
    };
    let store = at.open().await;
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
    let store = at.open().await;
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
    // On the board's log, the second session follows the first: time only grows.
    let log = store.event_log("crashed", None).await.unwrap();
    assert_eq!(log.events.len(), events.len());
    let at: Vec<i64> = log
        .events
        .iter()
        .map(|e| e["atMs"].as_i64().unwrap())
        .collect();
    assert!(at.windows(2).all(|w| w[0] <= w[1]), "{at:?}");
    let first_end = events
        .iter()
        .filter(|e| e.session == 1)
        .map(|e| e.at_ms)
        .max()
        .unwrap();
    let resumed = events.iter().position(|e| e.session == 2).unwrap();
    assert_eq!(at[resumed], first_end + events[resumed].at_ms);
    // Its elapsed time is the two sessions' (the conductor's report is the last session's).
    assert_eq!(
        run.totals["elapsedMs"].as_i64(),
        Some(first_end + report.totals.elapsed_ms as i64),
        "{}",
        run.totals
    );
    // A succeeded run is not resumed.
    assert!(store.resume("crashed").await.is_err());
}

async fn prune_keeps_the_newest_runs_and_frees_their_outputs(backend: Backend) {
    let Some(at) = TestStore::new(backend) else {
        return;
    };
    let store = at.open().await;
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
async fn sqlite_a_file_that_is_not_a_store_gets_a_clear_error() {
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

async fn pins_and_retention_are_kept_per_store(backend: Backend) {
    let Some(at) = TestStore::new(backend) else {
        return;
    };
    let store = at.open().await;
    play(&store, "r1", RunOptions::default()).await;
    let pin = store.pin_from_run("r1", "plan").await.unwrap();
    let plan_hash = store.run("r1").await.unwrap().steps[0].output_hash.clone();
    assert_eq!(Some(pin.output_hash.clone()), plan_hash);
    // Pinning again replaces the pin; storing the same output twice keeps one.
    let edited = symphony_conductor::Outputs(
        json!({"output": "an edited plan"})
            .as_object()
            .unwrap()
            .clone(),
    );
    let hash = store.put_outputs(&edited).await.unwrap();
    assert_eq!(store.put_outputs(&edited).await.unwrap(), hash);
    store.pin("store-test", "plan", &hash, None).await.unwrap();
    let pins = store.pins("store-test").await.unwrap();
    assert_eq!(pins.len(), 1);
    assert_eq!(pins[0].output_hash, hash);
    assert_eq!(
        store.pinned_outputs("store-test").await.unwrap()["plan"],
        edited
    );
    assert!(matches!(
        store.pin_from_run("r1", "nope").await,
        Err(symphony_store::StoreError::NoOutput { .. })
    ));
    assert!(store.unpin("store-test", "plan").await.unwrap());
    assert!(!store.unpin("store-test", "plan").await.unwrap());

    assert_eq!(
        store.keep_runs().await.unwrap(),
        symphony_store::DEFAULT_KEEP_RUNS
    );
    store.set_keep_runs(5).await.unwrap();
    store.set_keep_runs(3).await.unwrap();
    assert_eq!(store.keep_runs().await.unwrap(), 3);

    // A fork starts from what the run kept; the melody comes back byte for byte.
    let source = store.source("r1").await.unwrap();
    assert_eq!(source.finished.len(), 3);
    assert_eq!(source.melody_id, "store-test");
    assert_eq!(
        store.melody_of("r1").await.unwrap(),
        symphony_melody::to_bytes(&melody())
    );
    store.checkpoint().await.unwrap();
    assert!(store.size_bytes().await > 0);
    assert_eq!(store.is_postgres(), backend == Backend::Postgres);
}

#[tokio::test]
async fn postgres_a_server_that_is_not_running_gets_a_clear_error_without_the_password() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let url = format!("postgres://me:s3cret@127.0.0.1:{port}/runs");
    let message = match Store::open(std::path::Path::new(&url)).await {
        Err(e) => e.to_string(),
        Ok(_) => panic!("opened a store on a port nothing listens on"),
    };
    assert!(
        message.contains("is the Postgres server running")
            && message.contains(&format!("postgres://me:***@127.0.0.1:{port}/runs")),
        "{message}"
    );
    assert!(!message.contains("s3cret"), "{message}");
    // Nothing was created on disk for a URL.
    assert!(!std::path::Path::new("postgres:").exists());
}

#[tokio::test]
async fn postgres_a_database_that_is_missing_or_not_a_store_gets_a_clear_error() {
    let Some(server) = symphony_store::testing::PgServer::start() else {
        return;
    };
    let message = match Store::open(std::path::Path::new(&server.url("nope"))).await {
        Err(e) => e.to_string(),
        Ok(_) => panic!("opened a database that does not exist"),
    };
    assert!(
        message.contains("does not exist") && message.contains("createdb"),
        "{message}"
    );

    // A database another program uses, with a `runs` table of its own.
    let url = server.database("other");
    let out = server
        .psql("other")
        .args(["-c", "CREATE TABLE runs (x INTEGER)"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    let message = match Store::open(std::path::Path::new(&url)).await {
        Err(e) => e.to_string(),
        Ok(_) => panic!("opened another program's database as a store"),
    };
    assert!(
        message.contains("already exists") && message.contains("a database of its own"),
        "{message}"
    );
}

#[tokio::test]
async fn postgres_stores_opened_at_once_on_a_new_database_all_open() {
    let Some(server) = symphony_store::testing::PgServer::start() else {
        return;
    };
    let url = server.database("fresh");
    // Each store has its own pool, as separate processes would: the migrator's advisory lock
    // makes them take turns.
    let opens: Vec<_> = (0..4)
        .map(|_| {
            let url = url.clone();
            tokio::spawn(async move { Store::open(std::path::Path::new(&url)).await })
        })
        .collect();
    for open in opens {
        open.await.unwrap().unwrap();
    }
}

async fn the_board_reads_names_counts_logs_and_durations(backend: Backend) {
    let Some(at) = TestStore::new(backend) else {
        return;
    };
    let store = at.open().await;
    let cached = || RunOptions {
        cache: Some(CacheHandle(std::sync::Arc::new(store.clone()))),
        ..RunOptions::default()
    };
    let report = play(&store, "r1", cached()).await;
    play(&store, "r2", cached()).await;

    // The history: newest first, the melody's name as run, counts from the steps.
    let listed = store.listings(None, 10).await.unwrap();
    let ids: Vec<&str> = listed.iter().map(|r| r.summary.id.as_str()).collect();
    assert_eq!(ids, ["r2", "r1"]);
    assert_eq!(listed[0].melody_name, "Store test");
    assert_eq!(listed[0].steps, 3);
    assert_eq!(listed[0].reused, 2, "plan and review came from the cache");
    assert_eq!(listed[1].reused, 0);
    assert_eq!(listed[0].failed, 0);
    assert_eq!(listed[0].totals["succeeded"], json!(3));
    assert_eq!(
        listed[0].inputs,
        json!({"goal": "ship it"}),
        "the history says what each run was asked (defaults filled in)"
    );
    assert_eq!(
        store.listing("r1").await.unwrap().inputs,
        json!({"goal": "ship it"})
    );
    assert!(
        listed[1].priced > 0,
        "the offline instruments cost a known $0"
    );
    assert_eq!(listed[1].unpriced, 0);

    // A step whose model has no price: with none priced, the run's cost is unknown.
    {
        use symphony_conductor::{EventRecord, OutputOrigin, RunEvent, Usage};
        let m = melody();
        let inputs = symphony_conductor::resolve_inputs(&m, &Default::default()).unwrap();
        let recorder = store
            .begin(NewRun {
                id: "unpriced",
                melody_bytes: &symphony_melody::to_bytes(&m),
                melody_id: "unpriced-test",
                melody_name: &m.melody.name,
                inputs: &inputs,
                options: json!({}),
                workspace: None,
                parent: None,
            })
            .await
            .unwrap();
        let usage = Usage {
            input_tokens: 10,
            output_tokens: 5,
            estimated: false,
            cost_usd: None,
        };
        recorder.record(&EventRecord {
            at_ms: 1,
            event: RunEvent::StepSucceeded {
                step: "plan".into(),
                elapsed_ms: 1,
                attempts: 1,
                usage: Some(usage),
                origin: OutputOrigin::Played,
                cache_key: None,
            },
        });
        recorder.finish().await.unwrap();
        let l = store.listing("unpriced").await.unwrap();
        assert_eq!((l.priced, l.unpriced), (0, 1));
    }
    assert_eq!(
        store.listings(Some("store-test"), 1).await.unwrap().len(),
        1
    );
    assert!(store.listings(Some("other"), 10).await.unwrap().is_empty());
    assert_eq!(
        store.listing("r1").await.unwrap().summary.status,
        "succeeded"
    );
    assert!(matches!(
        store.listing("nope").await,
        Err(symphony_store::StoreError::UnknownRun(_))
    ));

    // The log: values in place of their hashes, and only newer events after a sequence number.
    let log = store.event_log("r1", None).await.unwrap();
    assert_eq!(log.events[0]["type"], "runStarted");
    assert_eq!(log.events.last().unwrap()["type"], "runFinished");
    assert_eq!(log.last_seq, log.events.len() as i64 - 1);
    let output = log
        .events
        .iter()
        .find(|e| e["type"] == "stepOutput" && e["step"] == "shout")
        .unwrap();
    assert_eq!(output["outputs"], json!(report.result["shout"]));
    let queued = log
        .events
        .iter()
        .find(|e| e["type"] == "stepQueued" && e["step"] == "review")
        .unwrap();
    assert!(queued["inputs"]["plan"].is_string(), "{queued}");
    let newer = store.event_log("r1", Some(log.last_seq - 2)).await.unwrap();
    assert_eq!(newer.events.len(), 2);
    assert_eq!(newer.events[1], *log.events.last().unwrap());
    assert_eq!(newer.last_seq, log.last_seq);
    let none = store.event_log("r1", Some(log.last_seq)).await.unwrap();
    assert!(none.events.is_empty());
    assert_eq!(none.last_seq, log.last_seq);
    assert!(store.event_log("nope", None).await.is_err());

    // Durations of plays only (r2's plan and review were cached), newest first.
    let durations = store.step_durations("store-test", 20).await.unwrap();
    assert_eq!(durations["plan"].len(), 1);
    assert_eq!(durations["shout"].len(), 2);
    let r2_shout = store.run("r2").await.unwrap().steps[2].elapsed_ms as u64;
    assert_eq!(durations["shout"][0], r2_shout);
    assert_eq!(
        store.step_durations("store-test", 1).await.unwrap()["shout"].len(),
        1
    );
    assert!(store.step_durations("other", 20).await.unwrap().is_empty());
}

/// Starts recording run `id` of [`melody`], with no inputs, and records nothing yet.
async fn begin(store: &Store, id: &str) -> symphony_store::Recorder {
    let m = melody();
    let bytes = symphony_melody::to_bytes(&m);
    store
        .begin(NewRun {
            id,
            melody_bytes: &bytes,
            melody_id: &m.melody.id,
            melody_name: &m.melody.name,
            inputs: &serde_json::Map::new(),
            options: json!({}),
            workspace: None,
            parent: None,
        })
        .await
        .unwrap()
}

async fn a_quiet_run_keeps_beating_so_it_is_not_taken_for_interrupted(backend: Backend) {
    let Some(at) = TestStore::new(backend) else {
        return;
    };
    let store = at.open().await;
    let recorder = begin(&store, "quiet").await;
    let started = store.run("quiet").await.unwrap();
    let player = started.player.clone().unwrap();
    assert!(
        player.ends_with(&format!(":{}", std::process::id())),
        "{player}"
    );
    let first = started.heard_at.unwrap();
    // No event for longer than a beat (a long model call, an agent thinking): the recorder
    // says on its own that the run's player is still there.
    tokio::time::sleep(std::time::Duration::from_millis(5600)).await;
    let later = store.run("quiet").await.unwrap().heard_at.unwrap();
    assert!(later >= first + 5000, "heard at {first}, then {later}");
    // This process plays it: it is not "elsewhere" to itself.
    assert_eq!(store.listing("quiet").await.unwrap().played_elsewhere, None);
    recorder.finish().await.unwrap();
}

async fn a_player_whose_run_was_resumed_elsewhere_is_told_so_and_stops(backend: Backend) {
    let Some(at) = TestStore::new(backend) else {
        return;
    };
    let store = at.open().await;
    let first = begin(&store, "asleep").await;
    let started = |at_ms| symphony_conductor::EventRecord {
        at_ms,
        event: symphony_conductor::RunEvent::StepCancelled {
            step: "plan".into(),
        },
    };
    first.record(&started(1));
    // Written (the recorder writes on a task of its own).
    for _ in 0..200 {
        if !store.events("asleep").await.unwrap().is_empty() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    // The first player goes quiet (a laptop asleep); another takes the run over and writes.
    let mut failure = first.failure();
    let (resumed, second) = store.resume("asleep").await.unwrap();
    assert_eq!(resumed.session, 2);
    second.record(&started(2));
    second.finish().await.unwrap();
    // The first wakes up and writes on: refused, and told why.
    first.record(&started(3));
    let e = first.finish().await.unwrap_err().to_string();
    assert!(
        e.contains("run `asleep` was resumed by process")
            && e.contains("on this machine while this process was not heard from"),
        "{e}"
    );
    failure.changed().await.unwrap();
    assert!(failure
        .borrow()
        .as_deref()
        .is_some_and(|f| f.contains("was resumed by")));
    // The run's log is the first player's events before, then the second's.
    let events = store.events("asleep").await.unwrap();
    assert_eq!(
        events
            .iter()
            .map(|e| (e.seq, e.session))
            .collect::<Vec<_>>(),
        vec![(0, 1), (1, 2)]
    );
}

async fn only_a_run_that_never_started_is_forgotten(backend: Backend) {
    let Some(at) = TestStore::new(backend) else {
        return;
    };
    let store = at.open().await;
    // Begun, and its start failed: no event, one session. Removed.
    begin(&store, "never").await.finish().await.unwrap();
    assert!(store.forget_unstarted("never").await.unwrap());
    assert!(matches!(
        store.run("never").await,
        Err(symphony_store::StoreError::UnknownRun(_))
    ));
    assert!(
        !store.forget_unstarted("never").await.unwrap(),
        "already gone"
    );
    // A run with an event is kept, whatever happened next.
    let begun = begin(&store, "begun").await;
    begun.record(&symphony_conductor::EventRecord {
        at_ms: 0,
        event: symphony_conductor::RunEvent::StepCancelled {
            step: "plan".into(),
        },
    });
    begun.finish().await.unwrap();
    assert!(!store.forget_unstarted("begun").await.unwrap());
    assert!(store.run("begun").await.is_ok());
    // So is a resumed run whose new session did not start: it stays interrupted.
    begin(&store, "resumed").await.finish().await.unwrap();
    let (_, second) = store.resume("resumed").await.unwrap();
    second.finish().await.unwrap();
    assert!(!store.forget_unstarted("resumed").await.unwrap());
    assert_eq!(
        store.run("resumed").await.unwrap().summary.status,
        "running"
    );
}

/// Waits until the recorder's task has written at least `n` events of run `id`.
async fn written(store: &Store, id: &str, n: usize) {
    for _ in 0..200 {
        if store.events(id).await.unwrap().len() >= n {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    panic!("{n} events of {id} were not written");
}

async fn a_gates_answer_is_kept_and_the_first_one_wins(backend: Backend) {
    use symphony_conductor::{Decision, EventRecord, GateAnswer, ReviewFormat, RunEvent};
    let Some(at) = TestStore::new(backend) else {
        return;
    };
    let store = at.open().await;
    let recorder = begin(&store, "gated").await;
    let asked = |step: &str| EventRecord {
        at_ms: 5,
        event: RunEvent::GateWaiting {
            step: step.into(),
            title: format!("Go on after {step}?"),
            review: "the plan".into(),
            format: ReviewFormat::Markdown,
            value: json!("the plan"),
            timeout_ms: Some(60_000),
            waited_ms: 0,
            on_timeout: Decision::Reject,
        },
    };
    recorder.record(&asked("review"));
    recorder.record(&asked("shout"));
    written(&store, "gated", 2).await;
    let gates = store.gates("gated").await.unwrap();
    assert_eq!(
        gates
            .iter()
            .map(|g| (g.step.as_str(), g.title.as_str(), g.timeout_ms))
            .collect::<Vec<_>>(),
        vec![
            ("review", "Go on after review?", Some(60_000)),
            ("shout", "Go on after shout?", Some(60_000))
        ]
    );
    assert_eq!(
        store.listing("gated").await.unwrap().waiting,
        vec!["review", "shout"]
    );

    // A person answers from another process: kept, not yet taken by the run.
    let approve = GateAnswer {
        decision: Decision::Approve,
        reason: Some("fine".into()),
        value: Some(json!({"edited": true})),
        by: "cli".into(),
    };
    store
        .answer_gate("gated", "review", &approve)
        .await
        .unwrap();
    let pending = store.pending_answers("gated").await.unwrap();
    assert_eq!(pending.get("review"), Some(&approve));
    assert_eq!(store.listing("gated").await.unwrap().waiting, vec!["shout"]);
    // The first answer wins; a step that is no waiting gate is refused, naming the ones that wait.
    let reject = GateAnswer {
        decision: Decision::Reject,
        reason: Some("no".into()),
        value: None,
        by: "app".into(),
    };
    let e = store
        .answer_gate("gated", "review", &reject)
        .await
        .unwrap_err()
        .to_string();
    assert!(e.contains("it was approved already, by cli (fine)"), "{e}");
    let e = store
        .answer_gate("gated", "plan", &reject)
        .await
        .unwrap_err()
        .to_string();
    assert!(e.contains("the run waits at `shout`"), "{e}");
    let e = store
        .answer_gate("nope", "plan", &reject)
        .await
        .unwrap_err()
        .to_string();
    assert!(e.contains("no run `nope`"), "{e}");

    // The run takes the answer (its gateAnswered event): no longer pending.
    recorder.record(&EventRecord {
        at_ms: 9,
        event: RunEvent::GateAnswered {
            step: "review".into(),
            decision: Decision::Approve,
            reason: Some("fine".into()),
            value: Some(json!({"edited": true})),
            by: "cli".into(),
        },
    });
    written(&store, "gated", 3).await;
    assert!(store.pending_answers("gated").await.unwrap().is_empty());
    let review = store.gates("gated").await.unwrap().remove(0);
    assert!(review.applied && review.answered_at.is_some());
    assert_eq!(review.answer.unwrap().by, "cli");

    // Stopped and resumed: the gate that still waits hands over how long it waited, and one
    // whose answer was taken but whose step did not finish asks again (its row is forgotten).
    recorder.finish().await.unwrap();
    let (resumed, second) = store.resume("gated").await.unwrap();
    assert_eq!(resumed.gates.keys().collect::<Vec<_>>(), vec!["shout"]);
    assert_eq!(resumed.gates["shout"].answer, None);
    assert!(store
        .gates("gated")
        .await
        .unwrap()
        .iter()
        .all(|g| g.step != "review"));
    second.finish().await.unwrap();
}
