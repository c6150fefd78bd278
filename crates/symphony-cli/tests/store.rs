//! The run store through the real binary: every run is kept; a run killed with SIGKILL is
//! resumed without playing its finished steps again and ends as an uninterrupted run does;
//! reruns reuse unchanged outputs; runs can be listed, shown, exported, compared and pruned.

#![allow(clippy::unwrap_used)] // Tests unwrap: a panic is the failure report.

use std::io::{BufRead, BufReader};
use std::process::Stdio;

use serde_json::{json, Value};

mod common;
use common::{chain, finish, listed, of_type, result, symphony};

#[cfg(unix)]
#[test]
fn a_killed_run_resumes_without_replaying_finished_steps_and_matches_an_uninterrupted_run() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::write(d.join("chain.melody.json"), chain(400)).unwrap();
    // The reference: the same melody, played through without interruption, nothing reused.
    let (code, _, out) = finish(symphony(d).args([
        "run",
        "chain.melody.json",
        "--workspace",
        "whole",
        "--json",
        "--fresh",
    ]));
    assert_eq!(code, 0, "{out}");
    let whole = result(d, "whole");

    // Kill after 1 and after 3 finished steps.
    for (n, killed_after) in [1usize, 3].into_iter().enumerate() {
        let ws = format!("killed{n}");
        let mut child = symphony(d)
            .args([
                "run",
                "chain.melody.json",
                "--workspace",
                &ws,
                "--json",
                "--fresh",
            ])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        let mut run_id = String::new();
        let mut succeeded = 0;
        while succeeded < killed_after {
            let line = lines
                .next()
                .expect("the run ended before the kill")
                .unwrap();
            let e: Value = serde_json::from_str(&line).unwrap();
            if e["type"] == json!("runStarted") {
                run_id = e["runId"].as_str().unwrap().to_owned();
            }
            if e["type"] == json!("stepSucceeded") {
                succeeded += 1;
            }
        }
        // Let the store write what was printed; the next step is mid-way through its 400 ms.
        std::thread::sleep(std::time::Duration::from_millis(150));
        // While the first process plays it, the run is listed as played by it, and another
        // process may not resume it (both would write its steps).
        let entry = listed(d, &run_id);
        let by = format!("process {} on this machine", child.id());
        assert!(
            entry["playedElsewhere"]
                .as_str()
                .is_some_and(|p| p.starts_with(&by)),
            "{entry}"
        );
        let (code, _, out) = finish(symphony(d).args(["resume", &run_id]));
        assert_ne!(code, 0, "{out}");
        assert!(
            out.contains(&format!(
                "cannot be resumed: it is still being played by {by}"
            )),
            "{out}"
        );
        child.kill().unwrap(); // SIGKILL: no cleanup of any kind
        child.wait().unwrap();

        let status = listed(d, &run_id);
        assert_eq!(
            status["status"],
            json!("running"),
            "a killed run is left as it was"
        );
        assert_eq!(
            status["playedElsewhere"],
            Value::Null,
            "its process is gone: it was interrupted"
        );
        let (code, _, out) = finish(symphony(d).args(["runs", "show", &run_id]));
        assert_eq!(code, 0, "{out}");
        assert!(
            out.lines()
                .next()
                .unwrap_or_default()
                .contains("interrupted (`symphony resume` plays the rest)"),
            "{out}"
        );

        let (code, events, out) = finish(symphony(d).args(["resume", &run_id, "--json"]));
        assert_eq!(code, 0, "{out}");
        let replayed: Vec<&str> = of_type(&events, "stepStarted")
            .iter()
            .map(|e| e["step"].as_str().unwrap())
            .collect();
        let kept: Vec<&str> = of_type(&events, "stepSucceeded")
            .iter()
            .filter(|e| e["origin"] == json!("given"))
            .map(|e| e["step"].as_str().unwrap())
            .collect();
        let finished_before: Vec<String> = (1..=killed_after).map(|i| format!("s{i}")).collect();
        assert_eq!(kept, finished_before, "{out}");
        for s in &finished_before {
            assert!(
                !replayed.contains(&s.as_str()),
                "{s} was played again: {out}"
            );
        }
        assert!(
            replayed.contains(&format!("s{}", killed_after + 1).as_str()),
            "the step in flight is played again"
        );
        assert_eq!(
            result(d, &ws)["outputs"],
            whole["outputs"],
            "same result as an uninterrupted run"
        );
        assert_eq!(
            std::fs::read_to_string(d.join(&ws).join("files/out.md")).unwrap(),
            std::fs::read_to_string(d.join("whole/files/out.md")).unwrap()
        );

        let (_, shown, _) = finish(symphony(d).args(["runs", "show", &run_id, "--json"]));
        assert_eq!(shown[0]["status"], json!("succeeded"));
        assert_eq!(shown[0]["sessions"], json!(2));
    }
}

#[cfg(unix)]
#[test]
fn a_loop_killed_mid_way_resumes_at_the_round_it_was_in() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let melody = json!({
        "formatVersion": 1,
        "melody": {"id": "loop", "name": "Loop"},
        "steps": [{"id": "review", "kind": "cue", "type": "cue.loop", "config": {
            "body": {"type": "instrument.offline", "config": {
                "prompt": "round {{loop.round}}", "shape": "json", "latencyMs": 400,
                "answer": "{\"draft\": \"v{{loop.round}} after {{loop.previous.output.draft}}\"}"
            }},
            "maxRounds": 4
        }}]
    });
    std::fs::write(d.join("loop.melody.json"), melody.to_string()).unwrap();
    let (code, _, out) =
        finish(symphony(d).args(["run", "loop.melody.json", "--workspace", "whole", "--json"]));
    assert_eq!(code, 0, "{out}");
    let whole = result(d, "whole");

    let mut child = symphony(d)
        .args(["run", "loop.melody.json", "--workspace", "killed", "--json"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let mut run_id = String::new();
    let mut rounds = 0;
    while rounds < 2 {
        let line = lines
            .next()
            .expect("the run ended before the kill")
            .unwrap();
        let e: Value = serde_json::from_str(&line).unwrap();
        if e["type"] == json!("runStarted") {
            run_id = e["runId"].as_str().unwrap().to_owned();
        }
        if e["type"] == json!("stepRound") {
            rounds += 1;
        }
    }
    // Let the store write what was printed; round 3 is mid-way through its 400 ms.
    std::thread::sleep(std::time::Duration::from_millis(150));
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();

    let (code, events, out) = finish(symphony(d).args(["resume", &run_id, "--json"]));
    assert_eq!(code, 0, "{out}");
    let played: Vec<u64> = of_type(&events, "stepRound")
        .iter()
        .map(|e| e["round"].as_u64().unwrap())
        .collect();
    assert_eq!(
        played,
        vec![3, 4],
        "rounds 1 and 2 are not played again: {out}"
    );
    assert_eq!(
        result(d, "killed")["outputs"],
        whole["outputs"],
        "the same rounds as an uninterrupted run"
    );
    assert_eq!(
        whole["outputs"]["review"]["output"],
        json!({"draft": "v4 after v3 after v2 after v1 after "})
    );
}

#[test]
fn reruns_reuse_unchanged_steps_and_runs_can_be_compared_exported_and_pruned() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::write(d.join("chain.melody.json"), chain(50)).unwrap();
    let run = |ws: &str, extra: &[&str]| {
        let mut args = vec!["run", "chain.melody.json", "--workspace", ws, "--json"];
        args.extend_from_slice(extra);
        let (code, events, out) = finish(symphony(d).args(&args));
        assert_eq!(code, 0, "{out}");
        events
    };
    let first = run("a", &[]);
    let second = run("b", &[]);
    let origins = |events: &[Value]| -> Vec<String> {
        of_type(events, "stepSucceeded")
            .iter()
            .map(|e| {
                format!(
                    "{}:{}",
                    e["step"].as_str().unwrap(),
                    e["origin"].as_str().unwrap()
                )
            })
            .collect()
    };
    assert!(origins(&first).iter().all(|o| o.ends_with(":played")));
    assert_eq!(
        origins(&second),
        [
            "s1:cached",
            "s2:cached",
            "s3:cached",
            "s4:cached",
            "s5:cached",
            "save:played"
        ]
    );
    assert!(of_type(&second, "stepStarted")
        .iter()
        .all(|e| e["step"] == json!("save")));
    // "Take again" one step: it and what depends on it are played; the rest is reused.
    let third = run("c", &["--again", "s4"]);
    assert_eq!(
        origins(&third),
        [
            "s1:cached",
            "s2:cached",
            "s3:cached",
            "s4:played",
            "s5:cached",
            "save:played"
        ],
        "the offline instrument answers the same, so s5's input is unchanged and it is reused"
    );
    // A new input: everything that reads it is played.
    let fourth = run("d", &["-i", "goal=another goal"]);
    assert!(origins(&fourth).iter().all(|o| o.ends_with(":played")));

    let id = |events: &[Value]| {
        of_type(events, "runStarted")[0]["runId"]
            .as_str()
            .unwrap()
            .to_owned()
    };
    let (a, b, d4) = (id(&first), id(&second), id(&fourth));
    let (code, diff, out) = finish(symphony(d).args(["runs", "diff", &a, &d4, "--json"]));
    assert_eq!(code, 0, "{out}");
    let s1 = diff[0]
        .as_array()
        .unwrap()
        .iter()
        .find(|x| x["step"] == json!("s1"))
        .unwrap()
        .clone();
    assert_eq!(s1["sameKey"], json!(false));
    assert_eq!(s1["sameOutput"], json!(false));
    let (_, diff, _) = finish(symphony(d).args(["runs", "diff", &a, &b, "--json"]));
    assert!(diff[0]
        .as_array()
        .unwrap()
        .iter()
        .all(|x| x["sameOutput"] == json!(true)));

    let (code, _, out) = finish(symphony(d).args(["runs", "export", &a, "-o", "trace.json"]));
    assert_eq!(code, 0, "{out}");
    let trace: Value =
        serde_json::from_str(&std::fs::read_to_string(d.join("trace.json")).unwrap()).unwrap();
    assert_eq!(trace["run"]["id"], json!(a));
    assert_eq!(
        trace["steps"][0]["attempts"][0]["prompt"],
        json!("Start on ship it")
    );
    assert!(!trace["steps"][0]["outputs"].is_null());

    let (code, _, out) = finish(symphony(d).args(["runs", "prune", "--keep", "2"]));
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("removed 2 runs"), "{out}");
    let (_, listed, _) = finish(symphony(d).args(["runs", "list", "--json"]));
    assert_eq!(listed[0]["runs"].as_array().unwrap().len(), 2);

    // Unknown runs are a usage error that says what to do.
    let (code, _, out) = finish(symphony(d).args(["runs", "show", "no-such-run"]));
    assert_eq!(code, 2, "{out}");
    assert!(out.contains("symphony runs list"), "{out}");
}

#[test]
fn a_damaged_store_is_reported_and_left_alone() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::write(
        d.join("runs.db"),
        "not a database at all, but long enough to have a header",
    )
    .unwrap();
    std::fs::write(d.join("chain.melody.json"), chain(1)).unwrap();
    let (code, _, out) = finish(symphony(d).args(["run", "chain.melody.json", "--workspace", "w"]));
    assert_eq!(code, 4, "{out}");
    assert!(
        out.contains("runs.db") && out.contains("move it aside"),
        "{out}"
    );
    assert!(std::fs::read_to_string(d.join("runs.db"))
        .unwrap()
        .starts_with("not a database"));
}
