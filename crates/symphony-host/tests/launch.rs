//! The one launcher, through the app's commands: runs recorded by older Symphonys (the CLI's
//! and the app's option shapes) continue as they were asked to play, a new run records the one
//! shape, and a run that cannot start leaves no record.

#![allow(clippy::unwrap_used)] // Tests unwrap: a panic is the failure report.

use std::sync::Arc;

use serde_json::{json, Value};
use symphony_conductor::{EventRecord, OutputOrigin, Outputs, RunEvent};
use symphony_host::HostEvent;
use symphony_store::{NewRun, Store};

mod common;
use common::{error_of, events_until, fixture, kind, Fixture};

/// idea (template) → draft (offline instrument, cacheable) → save (writes `out.md`).
fn melody() -> Value {
    json!({
        "formatVersion": 1,
        "melody": {"id": "launch", "name": "Launch test"},
        "inputs": {"goal": {"type": "string", "default": "a notes app"}},
        "steps": [
            {"id": "idea", "kind": "operator", "type": "operator.template",
             "config": {"template": "Build {{goal}}"}},
            {"id": "draft", "kind": "instrument", "type": "instrument.offline",
             "inputs": {"idea": {"type": "text"}},
             "config": {"prompt": "Draft {{idea}}"}},
            {"id": "save", "kind": "operator", "type": "operator.file.write",
             "config": {"path": "out.md"}, "capabilities": ["files"]}
        ],
        "edges": [
            {"from": "idea.output", "to": "draft.idea"},
            {"from": "draft.output", "to": "save.content"}
        ]
    })
}

/// Waits for the end of run `id`.
async fn ended(f: &mut Fixture, id: &str) {
    events_until(&mut f.events, |e| {
        matches!(e, HostEvent::RunEvents(p) if p.run_id == id && p.events.iter().any(|r| kind(r) == "runFinished"))
    })
    .await;
}

/// Records run `id` with `options` as an older Symphony did, `idea` finished, and stops there
/// as if the process had been killed: the store holds it as running, played by no process.
async fn interrupted(f: &Fixture, id: &str, options: Value) {
    let store = Store::open(&f.store_path).await.unwrap();
    let melody = symphony_melody::load(melody().to_string().as_bytes(), "test").unwrap();
    let recorder = store
        .begin(NewRun {
            id,
            melody_bytes: &symphony_melody::to_bytes(&melody),
            melody_id: "launch",
            melody_name: "Launch test",
            inputs: json!({"goal": "a notes app"}).as_object().unwrap(),
            options,
            workspace: Some(&f.project.path().join("runs").join(id)),
            parent: None,
        })
        .await
        .unwrap();
    let outputs = Outputs(
        json!({"output": "Build a notes app"})
            .as_object()
            .unwrap()
            .clone(),
    );
    for (at_ms, event) in [
        (
            0,
            RunEvent::RunStarted {
                run_id: id.into(),
                melody_id: "launch".into(),
                steps: 3,
                max_parallel: 4,
                offline: true,
            },
        ),
        (
            1,
            RunEvent::StepOutput {
                step: "idea".into(),
                outputs: Arc::new(outputs.clone()),
            },
        ),
        (
            1,
            RunEvent::StepSucceeded {
                step: "idea".into(),
                elapsed_ms: 1,
                attempts: 1,
                usage: None,
                origin: OutputOrigin::Played,
                cache_key: None,
            },
        ),
    ] {
        recorder.record(&EventRecord { at_ms, event });
    }
    recorder.finish().await.unwrap();
}

/// Continues run `id` and returns its log: the `maxParallel` its last session started with,
/// and the origin of `draft` in that session.
async fn continued(f: &mut Fixture, id: &str) -> (u64, String) {
    f.host
        .call("continueRun", json!({"runId": id}))
        .await
        .unwrap();
    ended(f, id).await;
    let record = f.host.call("openRun", json!({"runId": id})).await.unwrap();
    assert_eq!(record["run"]["status"], "succeeded", "{id}");
    let events = record["events"].as_array().unwrap();
    let started = events
        .iter()
        .rev()
        .find(|e| e["type"] == "runStarted")
        .unwrap();
    let draft = events
        .iter()
        .find(|e| e["type"] == "stepSucceeded" && e["step"] == "draft")
        .unwrap();
    (
        started["maxParallel"].as_u64().unwrap(),
        draft["origin"].as_str().unwrap().to_owned(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn runs_recorded_in_the_clis_and_the_apps_old_shapes_continue_as_they_were_asked_to() {
    let mut f = fixture();
    // A first run puts `draft`'s output in the cache.
    let first = f
        .host
        .call("startRun", json!({"melody": melody(), "inputs": {}}))
        .await
        .unwrap();
    ended(&mut f, first["runId"].as_str().unwrap()).await;

    // What `symphony run --max-parallel 1 --again draft` recorded.
    interrupted(
        &f,
        "launch-cli",
        json!({"seed": 42, "maxParallel": 1, "fresh": false, "freshSteps": ["draft"], "given": []}),
    )
    .await;
    let (max_parallel, draft) = continued(&mut f, "launch-cli").await;
    assert_eq!(max_parallel, 1, "its --max-parallel holds");
    assert_eq!(draft, "played", "a step taken again stays taken again");

    // What the app's startRun recorded.
    interrupted(
        &f,
        "launch-app",
        json!({"seed": 7, "host": "app", "path": "melodies/launch.melody.json", "freshSteps": [], "given": []}),
    )
    .await;
    let (max_parallel, draft) = continued(&mut f, "launch-app").await;
    assert_eq!(
        max_parallel,
        u64::from(symphony_conductor::DEFAULT_MAX_PARALLEL)
    );
    assert_eq!(draft, "cached", "an unchanged step comes from the cache");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_run_records_the_one_options_shape() {
    let mut f = fixture();
    let answer = f
        .host
        .call(
            "startRun",
            json!({"melody": melody(), "inputs": {}, "path": "melodies/launch.melody.json"}),
        )
        .await
        .unwrap();
    let id = answer["runId"].as_str().unwrap().to_owned();
    ended(&mut f, &id).await;
    let store = Store::open(&f.store_path).await.unwrap();
    let mut options = store.run(&id).await.unwrap().options;
    assert!(options["seed"].is_u64(), "{options}");
    options.as_object_mut().unwrap().remove("seed");
    assert_eq!(
        options,
        json!({"fresh": false, "freshSteps": [], "given": [], "host": "app", "path": "melodies/launch.melody.json"})
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_run_that_cannot_start_leaves_no_record() {
    let f = fixture();
    // `runs` is a file: the workspace folder cannot be made under it.
    std::fs::write(f.project.path().join("runs"), "not a folder").unwrap();
    let e = error_of(
        &f.host,
        "startRun",
        json!({"melody": melody(), "inputs": {}}),
    )
    .await;
    assert!(
        e.to_string().contains("cannot prepare the run workspace"),
        "{e}"
    );
    let listed = f.host.call("listRuns", json!({})).await.unwrap();
    assert_eq!(
        listed,
        json!([]),
        "no half-begun run is left in the history"
    );
}
