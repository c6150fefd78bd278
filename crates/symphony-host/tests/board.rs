//! The Harmony Board's commands end to end on a real project folder and run store, offline:
//! the history, one run's log (whole, and only what is newer), forks ("rerun from here",
//! "take again", "fork with edits"), pins, comparisons, the files a run wrote, and the steps'
//! past durations a new run is given.

#![allow(clippy::unwrap_used)] // Tests unwrap: a panic is the failure report.

use serde_json::{json, Value};
use symphony_host::{HostError, HostEvent};

mod common;
use common::{error_of, events_until, fixture, kind, Fixture};

/// idea (template) → draft (offline instrument, cacheable) → save (writes `out.md`).
fn melody() -> Value {
    json!({
        "formatVersion": 1,
        "melody": {"id": "board", "name": "Board test"},
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

/// Waits for the end of run `id` (its `runFinished` on `run-events`).
async fn ended(f: &mut Fixture, id: &str) {
    events_until(&mut f.events, |e| {
        matches!(e, HostEvent::RunEvents(p) if p.run_id == id && p.events.iter().any(|r| kind(r) == "runFinished"))
    })
    .await;
}

/// Calls a command that starts a run, and waits for its end; the run's id.
async fn play(f: &mut Fixture, command: &str, args: Value) -> String {
    let answer = f.host.call(command, args).await.unwrap();
    let id = answer["runId"].as_str().unwrap().to_owned();
    ended(f, &id).await;
    id
}

async fn open(f: &Fixture, id: &str) -> Value {
    f.host.call("openRun", json!({"runId": id})).await.unwrap()
}

/// Each step's `stepSucceeded` origin in a run's log.
fn origins(record: &Value) -> Vec<(String, String)> {
    record["events"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["type"] == "stepSucceeded")
        .map(|e| {
            (
                e["step"].as_str().unwrap().to_owned(),
                e["origin"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

fn origin(record: &Value, step: &str) -> String {
    origins(record)
        .into_iter()
        .find(|(s, _)| s == step)
        .unwrap_or_else(|| panic!("{step} did not succeed: {:?}", origins(record)))
        .1
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_finished_run_is_listed_and_opened_with_its_whole_log() {
    let mut f = fixture();
    let id = play(
        &mut f,
        "startRun",
        json!({"melody": melody(), "inputs": {"goal": "a todo app"}}),
    )
    .await;

    // The history: ended, not live, named, counted.
    let listed = f.host.call("listRuns", json!({})).await.unwrap();
    let entry = &listed[0];
    assert_eq!(entry["id"], id.as_str(), "{listed}");
    assert_eq!(entry["status"], "succeeded");
    assert_eq!(
        entry["live"], false,
        "the run ended before its end was sent"
    );
    assert_eq!(entry["melodyId"], "board");
    assert_eq!(entry["melodyName"], "Board test");
    assert_eq!(entry["steps"], 3);
    assert_eq!(entry["reused"], 0);
    assert_eq!(entry["failed"], 0);
    assert!(entry["durationMs"].is_u64(), "{entry}");
    assert!(entry["finishedAt"].as_i64().unwrap() >= entry["startedAt"].as_i64().unwrap());
    assert!(entry["parentId"].is_null());
    let only = f
        .host
        .call("listRuns", json!({"melodyId": "other", "limit": 5}))
        .await
        .unwrap();
    assert_eq!(only, json!([]));

    // The run: its melody, inputs, files and whole log, values in place.
    let record = open(&f, &id).await;
    assert_eq!(record["run"], *entry);
    assert_eq!(record["melody"]["melody"]["id"], "board");
    assert_eq!(record["inputs"]["goal"], "a todo app");
    assert_eq!(record["files"][0]["path"], "out.md");
    assert_eq!(record["files"][0]["step"], "save");
    assert_eq!(record["pinned"], json!([]));
    let events = record["events"].as_array().unwrap();
    assert_eq!(events.first().unwrap()["type"], "runStarted");
    assert_eq!(events.last().unwrap()["type"], "runFinished");
    assert_eq!(events.last().unwrap()["status"], "succeeded");
    let at: Vec<u64> = events.iter().map(|e| e["atMs"].as_u64().unwrap()).collect();
    assert!(at.windows(2).all(|w| w[0] <= w[1]), "{at:?}");
    assert_eq!(record["lastSeq"], events.len() as i64 - 1);
    let output = events
        .iter()
        .find(|e| e["type"] == "stepOutput" && e["step"] == "idea")
        .unwrap();
    assert_eq!(output["outputs"]["output"], "Build a todo app");

    // Following: only what came after a sequence number.
    let last = record["lastSeq"].as_i64().unwrap();
    let newer = f
        .host
        .call("openRun", json!({"runId": id, "afterSeq": last - 2}))
        .await
        .unwrap();
    assert_eq!(newer["events"].as_array().unwrap().len(), 2);
    assert_eq!(newer["events"][1], *events.last().unwrap());
    assert_eq!(newer["lastSeq"], last);
    let nothing = f
        .host
        .call("openRun", json!({"runId": id, "afterSeq": last}))
        .await
        .unwrap();
    assert_eq!(nothing["events"], json!([]));
    assert_eq!(nothing["lastSeq"], last);

    // A run the store does not hold.
    let e = error_of(&f.host, "openRun", json!({"runId": "nope"})).await;
    assert!(matches!(e, HostError::UnknownRun(_)), "{e}");
    assert!(e.to_string().contains("nope"), "{e}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_playing_run_is_live_until_it_ends() {
    let mut f = fixture();
    let slow = json!({
        "formatVersion": 1,
        "melody": {"id": "slow", "name": "Slow"},
        "steps": [{"id": "wait", "kind": "operator", "type": "operator.delay", "config": {"ms": 20000}}]
    });
    let id = f
        .host
        .call("startRun", json!({"melody": slow}))
        .await
        .unwrap()["runId"]
        .as_str()
        .unwrap()
        .to_owned();
    let listed = f
        .host
        .call("listRuns", json!({"melodyId": "slow"}))
        .await
        .unwrap();
    assert_eq!(listed[0]["live"], true, "{listed}");
    assert_eq!(listed[0]["status"], "running");
    assert!(listed[0]["durationMs"].is_null());
    assert!(listed[0]["tokens"].is_null());
    f.host.call("stopRun", json!({"runId": id})).await.unwrap();
    ended(&mut f, &id).await;
    let listed = f
        .host
        .call("listRuns", json!({"melodyId": "slow"}))
        .await
        .unwrap();
    assert_eq!(listed[0]["live"], false, "{listed}");
    assert_eq!(listed[0]["status"], "cancelled");
    assert_eq!(listed[0]["steps"], 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forks_keep_upstream_outputs_and_play_from_their_step() {
    let mut f = fixture();
    let parent = play(&mut f, "startRun", json!({"melody": melody()})).await;
    let first = open(&f, &parent).await;
    assert_eq!(origin(&first, "draft"), "played");

    // Rerun from here: upstream given, the step itself may come from the cache (unchanged).
    let rerun = play(
        &mut f,
        "forkRun",
        json!({"runId": parent, "fromStep": "draft"}),
    )
    .await;
    let record = open(&f, &rerun).await;
    assert_eq!(record["run"]["parentId"], parent.as_str());
    assert_eq!(record["run"]["forkStep"], "draft");
    assert_eq!(origin(&record, "idea"), "given");
    assert_eq!(origin(&record, "draft"), "cached");
    assert_eq!(origin(&record, "save"), "played");
    assert_eq!(record["run"]["reused"], 2);

    // Take again: the cacheable step is played anew.
    let again = play(
        &mut f,
        "forkRun",
        json!({"runId": parent, "fromStep": "draft", "fresh": true}),
    )
    .await;
    let record = open(&f, &again).await;
    assert_eq!(origin(&record, "idea"), "given");
    assert_eq!(origin(&record, "draft"), "played");

    // Fork with edits: an edited output of the step is given, what follows plays with it.
    let edited = play(
        &mut f,
        "forkRun",
        json!({"runId": parent, "fromStep": "draft", "output": {"output": "my own draft"}}),
    )
    .await;
    let record = open(&f, &edited).await;
    assert_eq!(origin(&record, "draft"), "given");
    assert_eq!(origin(&record, "save"), "played");
    let file = f
        .host
        .call("runFile", json!({"runId": edited, "path": "out.md"}))
        .await
        .unwrap();
    assert_eq!(file["text"], "my own draft");
    let parent_text = std::fs::read_to_string(
        f.project
            .path()
            .join("runs")
            .join(&parent)
            .join("files/out.md"),
    )
    .unwrap();
    assert_eq!(file["previous"], parent_text.as_str(), "{file}");

    // ... or with new inputs and an edited melody: the edited prompt plays from `draft`.
    let mut changed = melody();
    changed["steps"][1]["config"]["prompt"] = json!("Draft briefly {{idea}}");
    let rewritten = play(
        &mut f,
        "forkRun",
        json!({"runId": parent, "fromStep": "draft", "melody": changed, "inputs": {"goal": "ignored upstream"}}),
    )
    .await;
    let record = open(&f, &rewritten).await;
    assert_eq!(
        origin(&record, "idea"),
        "given",
        "upstream keeps the parent's output"
    );
    assert_eq!(
        origin(&record, "draft"),
        "played",
        "a new prompt is a new cache key"
    );
    assert_eq!(record["inputs"]["goal"], "ignored upstream");

    // Steps and runs that are not there.
    let e = error_of(
        &f.host,
        "forkRun",
        json!({"runId": parent, "fromStep": "draf"}),
    )
    .await;
    assert!(matches!(e, HostError::UnknownStep { .. }), "{e}");
    assert!(
        e.to_string().contains("`draf`") && e.to_string().contains("did you mean `draft`"),
        "{e}"
    );
    let e = error_of(
        &f.host,
        "forkRun",
        json!({"runId": "nope", "fromStep": "draft"}),
    )
    .await;
    assert!(matches!(e, HostError::UnknownRun(_)), "{e}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pinned_step_is_given_to_later_runs_until_unpinned() {
    let mut f = fixture();
    let first = play(&mut f, "startRun", json!({"melody": melody()})).await;
    let pin = f
        .host
        .call("pinStep", json!({"runId": first, "step": "draft"}))
        .await
        .unwrap();
    assert_eq!(pin["melodyId"], "board");
    assert_eq!(pin["step"], "draft");
    assert_eq!(pin["runId"], first.as_str());
    assert_eq!(pin["outputHash"].as_str().unwrap().len(), 64);

    // A new goal would change the draft; pinned, it is given as it was.
    let second = play(
        &mut f,
        "startRun",
        json!({"melody": melody(), "inputs": {"goal": "something else"}}),
    )
    .await;
    let record = open(&f, &second).await;
    assert_eq!(origin(&record, "draft"), "given");
    assert_eq!(origin(&record, "idea"), "played");
    assert_eq!(record["pinned"], json!(["draft"]));
    let compared = f
        .host
        .call("compareRuns", json!({"a": first, "b": second}))
        .await
        .unwrap();
    let draft = compared
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["step"] == "draft")
        .unwrap();
    assert_eq!(draft["sameOutput"], true, "{compared}");

    let e = error_of(
        &f.host,
        "pinStep",
        json!({"runId": first, "step": "drafts"}),
    )
    .await;
    assert!(
        e.to_string().contains("`drafts`") && e.to_string().contains("did you mean `draft`"),
        "{e}"
    );

    f.host
        .call("unpinStep", json!({"melodyId": "board", "step": "draft"}))
        .await
        .unwrap();
    let third = play(
        &mut f,
        "startRun",
        json!({"melody": melody(), "inputs": {"goal": "something else"}}),
    )
    .await;
    let record = open(&f, &third).await;
    assert_ne!(origin(&record, "draft"), "given");
    assert_eq!(record["pinned"], json!([]));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn compare_runs_lists_every_step() {
    let mut f = fixture();
    let a = play(&mut f, "startRun", json!({"melody": melody()})).await;
    let b = play(
        &mut f,
        "startRun",
        json!({"melody": melody(), "inputs": {"goal": "a chess engine"}}),
    )
    .await;
    let compared = f
        .host
        .call("compareRuns", json!({"a": a, "b": b}))
        .await
        .unwrap();
    let steps: Vec<&str> = compared
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["step"].as_str().unwrap())
        .collect();
    assert_eq!(steps.len(), 3, "{compared}");
    for step in ["idea", "draft", "save"] {
        assert!(steps.contains(&step), "{compared}");
    }
    let idea = &compared[steps.iter().position(|s| *s == "idea").unwrap()];
    assert_eq!(idea["outcomeA"], "succeeded");
    assert_eq!(idea["outcomeB"], "succeeded");
    assert_eq!(idea["sameOutput"], false, "another goal");
    assert!(idea["elapsedMsA"].is_u64());
    let draft = &compared[steps.iter().position(|s| *s == "draft").unwrap()];
    assert_eq!(draft["sameInputs"], false, "{draft}");
    let e = error_of(&f.host, "compareRuns", json!({"a": a, "b": "nope"})).await;
    assert!(matches!(e, HostError::UnknownRun(_)), "{e}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn run_files_are_read_inside_the_run_workspace_only() {
    let mut f = fixture();
    let id = play(&mut f, "startRun", json!({"melody": melody()})).await;
    let file = f
        .host
        .call("runFile", json!({"runId": id, "path": "out.md"}))
        .await
        .unwrap();
    let files = f.project.path().join("runs").join(&id).join("files");
    let on_disk = std::fs::read_to_string(files.join("out.md")).unwrap();
    assert_eq!(file["path"], "out.md");
    assert_eq!(file["text"], on_disk.as_str());
    assert_eq!(file["bytes"], on_disk.len());
    assert!(file["previous"].is_null(), "not a fork");
    assert!(file["note"].is_null());

    // Nothing outside `files/`: `..`, absolute paths, and links that lead out.
    let outside = tempfile::tempdir().unwrap();
    std::fs::write(outside.path().join("secret.txt"), "secret").unwrap();
    std::os::unix::fs::symlink(outside.path().join("secret.txt"), files.join("link.txt")).unwrap();
    std::fs::write(
        f.project
            .path()
            .join("runs")
            .join(&id)
            .join("run-secret.txt"),
        "x",
    )
    .unwrap();
    for path in [
        "../x",
        "../run-secret.txt",
        "a/../../run-secret.txt",
        "/etc/passwd",
        "link.txt",
        "",
    ] {
        let e = error_of(&f.host, "runFile", json!({"runId": id, "path": path})).await;
        assert!(e.is_client_error(), "{path}: {e}");
        assert!(!e.to_string().contains("secret\""), "{path}: {e}");
    }
    let e = error_of(
        &f.host,
        "runFile",
        json!({"runId": id, "path": "missing.md"}),
    )
    .await;
    assert!(
        matches!(&e, HostError::Read { source, .. } if source.kind() == std::io::ErrorKind::NotFound),
        "{e}"
    );

    // Large or binary files come with a note instead of their text.
    std::fs::write(files.join("big.txt"), vec![b'a'; (1 << 20) + 1]).unwrap();
    std::fs::write(files.join("blob.bin"), [0xff, 0xfe, 0x00]).unwrap();
    let big = f
        .host
        .call("runFile", json!({"runId": id, "path": "big.txt"}))
        .await
        .unwrap();
    assert!(big["text"].is_null());
    assert_eq!(big["bytes"], (1 << 20) + 1);
    assert!(big["note"].as_str().unwrap().contains("1 MiB"), "{big}");
    let blob = f
        .host
        .call("runFile", json!({"runId": id, "path": "blob.bin"}))
        .await
        .unwrap();
    assert!(blob["text"].is_null());
    assert!(blob["note"].as_str().unwrap().contains("UTF-8"), "{blob}");

    let e = error_of(
        &f.host,
        "runFile",
        json!({"runId": "nope", "path": "out.md"}),
    )
    .await;
    assert!(matches!(e, HostError::UnknownRun(_)), "{e}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_run_is_given_the_steps_past_durations() {
    let mut f = fixture();
    let history = f.host.step_history("board").await.unwrap();
    assert!(history.is_empty(), "{history:?}");
    let first = play(&mut f, "startRun", json!({"melody": melody()})).await;
    let history = f.host.step_history("board").await.unwrap();
    assert_eq!(
        history.keys().collect::<Vec<_>>(),
        ["draft", "idea", "save"]
    );
    let record = open(&f, &first).await;
    let elapsed = record["events"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["type"] == "stepSucceeded" && e["step"] == "draft")
        .unwrap()["elapsedMs"]
        .as_u64()
        .unwrap();
    assert_eq!(history["draft"].runs, 1);
    assert_eq!(history["draft"].p50_ms, elapsed);
    assert_eq!(history["draft"].p95_ms, elapsed);
    // A cached step is not a play: the second run adds a play of `save` only.
    play(&mut f, "startRun", json!({"melody": melody()})).await;
    let history = f.host.step_history("board").await.unwrap();
    assert_eq!(history["draft"].runs, 1);
    assert_eq!(history["save"].runs, 2);
}

/// A run another process plays into the same store (a headless `symphony run`, which records a
/// workspace relative to where it ran): the board lists it as not live, reads what has been
/// committed, then only what is newer, and its files from the project's `runs/`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_run_another_process_plays_is_followed_through_the_store() {
    let f = fixture();
    let m = symphony_melody::load_value(melody()).unwrap();
    let workspace = f.project.path().join("runs/headless");
    let run = symphony_conductor::Conductor::new(symphony_conductor::Registry::standard())
        .start(
            m.clone(),
            symphony_conductor::RunOptions {
                run_id: "headless".into(),
                workspace: Some(workspace),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    let (mut events, _control, finished) = run.into_parts();
    let mut all = Vec::new();
    while let Some(e) = events.recv().await {
        all.push(e);
    }
    finished.await.unwrap();

    // The other process: its own connection to the store file.
    let store = symphony_store::Store::open(&f.store_path).await.unwrap();
    let inputs = symphony_conductor::resolve_inputs(&m, &Default::default()).unwrap();
    let recorder = store
        .begin(symphony_store::NewRun {
            id: "headless",
            melody_bytes: &symphony_melody::to_bytes(&m),
            melody_id: &m.melody.id,
            melody_name: &m.melody.name,
            inputs: &inputs,
            options: json!({}),
            workspace: Some(std::path::Path::new("runs/headless")),
            parent: None,
        })
        .await
        .unwrap();
    let half = all.len() / 2;
    for e in &all[..half] {
        recorder.record(e);
    }
    let mut record = Value::Null;
    for _ in 0..100 {
        record = open(&f, "headless").await;
        if record["lastSeq"] == half as i64 - 1 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    assert_eq!(record["lastSeq"], half as i64 - 1, "{record}");
    assert_eq!(record["run"]["status"], "running");
    assert_eq!(record["run"]["live"], false, "not played by this app");
    let e = error_of(&f.host, "stopRun", json!({"runId": "headless"})).await;
    assert!(matches!(e, HostError::NotPlaying(_)), "{e}");

    for e in &all[half..] {
        recorder.record(e);
    }
    recorder.finish().await.unwrap();
    let newer = f
        .host
        .call(
            "openRun",
            json!({"runId": "headless", "afterSeq": record["lastSeq"]}),
        )
        .await
        .unwrap();
    let newer_events = newer["events"].as_array().unwrap();
    assert_eq!(newer_events.len(), all.len() - half);
    assert_eq!(newer_events.last().unwrap()["type"], "runFinished");
    assert_eq!(newer["run"]["status"], "succeeded");
    let file = f
        .host
        .call("runFile", json!({"runId": "headless", "path": "out.md"}))
        .await
        .unwrap();
    assert!(!file["text"].as_str().unwrap().is_empty(), "{file}");
}

/// A store shared with runs made elsewhere cannot make the app read outside the project: a
/// workspace recorded outside it (absolute, or relative with `..`) is refused.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn run_files_of_a_workspace_outside_the_project_are_refused() {
    let f = fixture();
    let elsewhere = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(elsewhere.path().join("files")).unwrap();
    std::fs::write(elsewhere.path().join("files/secret.md"), "secret").unwrap();
    let m = symphony_melody::load_value(melody()).unwrap();
    let store = symphony_store::Store::open(&f.store_path).await.unwrap();
    let relative = format!(
        "../{}",
        elsewhere.path().file_name().unwrap().to_str().unwrap()
    );
    for (id, workspace) in [
        ("abs", elsewhere.path().to_owned()),
        ("rel", std::path::PathBuf::from(&relative)),
    ] {
        store
            .begin(symphony_store::NewRun {
                id,
                melody_bytes: &symphony_melody::to_bytes(&m),
                melody_id: &m.melody.id,
                melody_name: &m.melody.name,
                inputs: &Default::default(),
                options: json!({}),
                workspace: Some(&workspace),
                parent: None,
            })
            .await
            .unwrap()
            .finish()
            .await
            .unwrap();
        let e = error_of(
            &f.host,
            "runFile",
            json!({"runId": id, "path": "secret.md"}),
        )
        .await;
        assert!(matches!(e, HostError::OutsideProject { .. }), "{id}: {e}");
        assert!(e.is_client_error());
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn runs_played_from_the_app_honour_the_stores_retention() {
    let mut f = fixture();
    let store = symphony_store::Store::open(&f.store_path).await.unwrap();
    store.set_keep_runs(2).await.unwrap();
    let mut ids = Vec::new();
    for _ in 0..3 {
        ids.push(play(&mut f, "startRun", json!({"melody": melody()})).await);
        // Start times are kept in milliseconds: keep the three apart, so "newest" is clear.
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    }
    // Retention runs just after the last batch is sent: wait for it to take effect.
    let mut listed = Vec::new();
    for _ in 0..100 {
        let runs = f.host.call("listRuns", json!({})).await.unwrap();
        listed = runs
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["id"].as_str().unwrap().to_owned())
            .collect();
        if listed.len() == 2 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert_eq!(
        listed,
        vec![ids[2].clone(), ids[1].clone()],
        "the newest two runs are kept"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_store_shows_its_size_and_its_retention_can_be_changed() {
    let mut f = fixture();
    let info = f.host.call("storeInfo", json!({})).await.unwrap();
    assert_eq!(info["runs"], 0);
    assert_eq!(info["keepRuns"], symphony_store::DEFAULT_KEEP_RUNS);
    assert_eq!(info["location"], f.store_path.display().to_string());
    let mut ids = Vec::new();
    for _ in 0..3 {
        ids.push(play(&mut f, "startRun", json!({"melody": melody()})).await);
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    }
    let info = f.host.call("storeInfo", json!({})).await.unwrap();
    assert_eq!(info["runs"], 3, "{info}");
    assert!(info["bytes"].as_u64().unwrap() > 0, "{info}");
    // Keep one: the two older runs go at once, and the setting stays for later runs.
    let after = f
        .host
        .call("setRetention", json!({"keepRuns": 1}))
        .await
        .unwrap();
    assert_eq!(
        (after["runs"].clone(), after["keepRuns"].clone()),
        (json!(1), json!(1))
    );
    let listed = f.host.call("listRuns", json!({})).await.unwrap();
    assert_eq!(listed[0]["id"], ids[2].as_str());
    let store = symphony_store::Store::open(&f.store_path).await.unwrap();
    assert_eq!(store.keep_runs().await.unwrap(), 1);
    let e = error_of(&f.host, "setRetention", json!({"keepRuns": 0})).await;
    assert!(e.to_string().contains("keepRuns must be at least 1"), "{e}");
}

/// Records run `id` of [`melody`] as the app would, with `idea` finished, and stops there, as
/// if the app had been killed: the store holds it as running, with no process playing it.
async fn interrupted(f: &Fixture, id: &str, workspace: &std::path::Path) {
    use std::sync::Arc;
    use symphony_conductor::{EventRecord, OutputOrigin, Outputs, RunEvent};
    let store = symphony_store::Store::open(&f.store_path).await.unwrap();
    let melody = symphony_melody::load(melody().to_string().as_bytes(), "test").unwrap();
    let recorder = store
        .begin(symphony_store::NewRun {
            id,
            melody_bytes: &symphony_melody::to_bytes(&melody),
            melody_id: "board",
            melody_name: "Board test",
            inputs: json!({"goal": "a notes app"}).as_object().unwrap(),
            options: json!({"seed": 7, "host": "app"}),
            workspace: Some(workspace),
            parent: None,
        })
        .await
        .unwrap();
    let at = |at_ms, event| EventRecord { at_ms, event };
    let outputs = Outputs(
        json!({"output": "Build a notes app"})
            .as_object()
            .unwrap()
            .clone(),
    );
    for record in [
        at(
            0,
            RunEvent::RunStarted {
                run_id: id.into(),
                melody_id: "board".into(),
                steps: 3,
                max_parallel: 4,
                offline: true,
            },
        ),
        at(
            1,
            RunEvent::StepOutput {
                step: "idea".into(),
                outputs: Arc::new(outputs),
            },
        ),
        at(
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
        recorder.record(&record);
    }
    recorder.finish().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_interrupted_run_is_continued_with_its_finished_steps_kept() {
    let mut f = fixture();
    let workspace = f.project.path().join("runs/board-interrupted");
    interrupted(&f, "board-interrupted", &workspace).await;
    let listed = f.host.call("listRuns", json!({})).await.unwrap();
    assert_eq!(listed[0]["status"], "running");
    assert_eq!(listed[0]["live"], false, "interrupted: no process plays it");

    let answer = f
        .host
        .call("continueRun", json!({"runId": "board-interrupted"}))
        .await
        .unwrap();
    assert_eq!(answer["runId"], "board-interrupted");
    let seen = events_until(&mut f.events, |e| {
        matches!(e, HostEvent::RunEvents(p) if p.run_id == "board-interrupted" && p.events.iter().any(|r| kind(r) == "runFinished"))
    })
    .await;
    let first_live = seen
        .iter()
        .filter_map(|e| match e {
            HostEvent::RunEvents(p) if p.run_id == "board-interrupted" => p.events.first(),
            _ => None,
        })
        .map(|r| r.at_ms)
        .next();
    assert!(
        first_live >= Some(1),
        "the new session's live events follow the first session's on the board's clock: {first_live:?}"
    );
    let record = open(&f, "board-interrupted").await;
    assert_eq!(record["run"]["status"], "succeeded");
    // The log goes on: the first session's `idea` (played), then this session's (given).
    let idea: Vec<String> = origins(&record)
        .into_iter()
        .filter(|(s, _)| s == "idea")
        .map(|(_, o)| o)
        .collect();
    assert_eq!(
        idea,
        ["played", "given"],
        "the finished step is kept, not played again"
    );
    assert_eq!(origin(&record, "draft"), "played");
    assert_eq!(origin(&record, "save"), "played");
    assert!(
        workspace.join("files/out.md").is_file(),
        "the rest played into its workspace"
    );
    let again = error_of(
        &f.host,
        "continueRun",
        json!({"runId": "board-interrupted"}),
    )
    .await;
    assert!(
        again.to_string().contains("succeeded"),
        "a finished run is not continued: {again}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_run_recorded_outside_the_project_is_not_continued_here() {
    let f = fixture();
    let elsewhere = tempfile::tempdir().unwrap();
    interrupted(&f, "board-elsewhere", elsewhere.path()).await;
    let message = error_of(&f.host, "continueRun", json!({"runId": "board-elsewhere"}))
        .await
        .to_string();
    assert!(
        message.contains("outside") || message.contains("project"),
        "{message}"
    );
    let listed = f.host.call("listRuns", json!({})).await.unwrap();
    assert_eq!(
        listed[0]["status"], "running",
        "a refused continue leaves the run as it was"
    );
}
