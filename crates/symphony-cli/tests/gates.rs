//! Approval gates (`cue.gate`) through the real binary: a run waits at a gate until a person
//! answers with `symphony runs approve` or `reject` from another process; the wait survives the
//! process being killed (the answer given meanwhile is taken on `symphony resume`, a rejected
//! gate asks again on the next resume, and a timeout counts the time the run was stopped).

#![allow(clippy::unwrap_used)] // Tests unwrap: a panic is the failure report.

use std::io::{BufRead, BufReader, Lines};
use std::path::Path;
use std::process::{Child, ChildStdout, Stdio};

use serde_json::{json, Value};

mod common;
use common::{finish, listed, of_type, result, symphony};

/// A plan, a gate over it, and a step that uses what the gate lets through.
fn write_melody(d: &Path, gate: Value) {
    let mut config = json!({"title": "Go on with {{input.summary}}?"});
    config
        .as_object_mut()
        .unwrap()
        .extend(gate.as_object().unwrap().clone());
    let melody = json!({
        "formatVersion": 1,
        "melody": {"id": "gated", "name": "Gated"},
        "steps": [
            {"id": "plan", "kind": "instrument", "type": "instrument.offline", "config": {
                "prompt": "plan", "shape": "json", "latencyMs": 50,
                "answer": "{\"summary\": \"the plan\", \"days\": 3}"}},
            {"id": "check", "kind": "cue", "type": "cue.gate",
             "inputs": {"input": {"type": "any"}}, "config": config},
            {"id": "use", "kind": "operator", "type": "operator.template",
             "inputs": {"plan": {"type": "any"}},
             "config": {"template": "{{plan.summary}} in {{plan.days}} days"}}
        ],
        "edges": [
            {"from": "plan.output", "to": "check.input"},
            {"from": "check.output", "to": "use.plan"}
        ]
    });
    std::fs::write(d.join("gated.melody.json"), melody.to_string()).unwrap();
}

/// Starts `args` with its JSON events on a pipe.
fn spawn(d: &Path, args: &[&str]) -> (Child, Lines<BufReader<ChildStdout>>) {
    let mut child = symphony(d)
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let lines = BufReader::new(child.stdout.take().unwrap()).lines();
    (child, lines)
}

/// Reads events until one of type `ty`; returns the run id seen on the way (if any) and it.
fn until(lines: &mut Lines<BufReader<ChildStdout>>, ty: &str) -> (Option<String>, Value) {
    let mut run_id = None;
    loop {
        let line = lines
            .next()
            .unwrap_or_else(|| panic!("the run ended before {ty}"))
            .unwrap();
        let Ok(e) = serde_json::from_str::<Value>(&line) else {
            continue;
        };
        if e["type"] == json!("runStarted") {
            run_id = e["runId"].as_str().map(str::to_owned);
        }
        if e["type"] == json!(ty) {
            return (run_id, e);
        }
    }
}

/// The rest of a run's output, as JSON values, once it ends; and its exit code.
fn rest(mut child: Child, lines: Lines<BufReader<ChildStdout>>) -> (i32, Vec<Value>) {
    let events = lines
        .map_while(Result::ok)
        .filter_map(|l| serde_json::from_str(&l).ok())
        .collect();
    (child.wait().unwrap().code().unwrap_or(-1), events)
}

#[test]
fn a_gate_waits_until_a_person_answers_from_another_process() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    write_melody(d, json!({}));
    let (child, mut lines) = spawn(
        d,
        &["run", "gated.melody.json", "--workspace", "w", "--json"],
    );
    let (run_id, waiting) = until(&mut lines, "gateWaiting");
    let run_id = run_id.unwrap();
    assert_eq!(waiting["title"], json!("Go on with the plan?"));
    assert_eq!(waiting["value"], json!({"summary": "the plan", "days": 3}));

    // The history says the run waits, and at which gate (the store may take a beat to write
    // the gate's row: the writer batches).
    let mut line = listed(d, &run_id);
    for _ in 0..50 {
        if line["waiting"] == json!(["check"]) {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
        line = listed(d, &run_id);
    }
    assert_eq!(line["waiting"], json!(["check"]), "{line}");
    let (code, _, out) = finish(symphony(d).args(["runs", "list"]));
    assert_eq!(code, 0);
    assert!(
        out.contains("waiting") && out.contains("waits for a person at check"),
        "{out}"
    );

    // A step that is no gate, and a rejection without a reason, are refused.
    let (code, _, out) = finish(symphony(d).args(["runs", "approve", &run_id, "plan"]));
    assert_eq!(code, 2, "{out}");
    assert!(out.contains("the run waits at `check`"), "{out}");
    let (code, _, out) = finish(symphony(d).args(["runs", "reject", &run_id, "check"]));
    assert_eq!(code, 2, "a rejection needs a reason: {out}");

    // Approved with an edited value, from another process.
    std::fs::write(
        d.join("edited.json"),
        r#"{"summary": "a smaller plan", "days": 1}"#,
    )
    .unwrap();
    let (code, _, out) = finish(symphony(d).args([
        "runs",
        "approve",
        &run_id,
        "check",
        "--edit",
        "edited.json",
        "--reason",
        "cut it down",
    ]));
    assert_eq!(code, 0, "{out}");
    assert!(
        out.contains("Approved `check`") && out.contains("takes the answer within a second"),
        "{out}"
    );

    let (code, events) = rest(child, lines);
    assert_eq!(code, 0, "the run goes on and succeeds: {events:?}");
    let answered = of_type(&events, "gateAnswered");
    assert_eq!(answered.len(), 1);
    assert_eq!(answered[0]["decision"], json!("approve"));
    assert_eq!(answered[0]["by"], json!("cli"));
    assert_eq!(answered[0]["reason"], json!("cut it down"));
    let gate = of_type(&events, "stepOutput")
        .into_iter()
        .find(|e| e["step"] == json!("check"))
        .unwrap();
    assert_eq!(
        gate["outputs"]["output"],
        json!({"summary": "a smaller plan", "days": 1})
    );
    assert_eq!(gate["outputs"]["decision"], json!("approved"));
    assert_eq!(gate["outputs"]["answeredBy"], json!("cli"));
    let outputs = &result(d, "w")["outputs"];
    assert_eq!(outputs["use"]["output"], json!("a smaller plan in 1 days"));

    // The first answer won; a second is refused with who answered.
    let (code, _, out) =
        finish(symphony(d).args(["runs", "reject", &run_id, "check", "--reason", "late"]));
    assert_eq!(code, 2, "{out}");
    assert!(
        out.contains("it was approved already, by cli (cut it down)"),
        "{out}"
    );
    assert_eq!(listed(d, &run_id)["waiting"], json!([]));
    let (code, _, out) = finish(symphony(d).args(["runs", "show", &run_id]));
    assert_eq!(code, 0, "{out}");
    assert!(
        out.contains("gate check (Go on with the plan?): approved by cli at ")
            && out.contains(", with an edited value (cut it down)"),
        "{out}"
    );
}

#[cfg(unix)]
#[test]
fn a_gate_survives_a_kill_and_a_rejected_gate_asks_again_on_resume() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    write_melody(d, json!({}));
    let (mut child, mut lines) = spawn(
        d,
        &["run", "gated.melody.json", "--workspace", "w", "--json"],
    );
    let (run_id, _) = until(&mut lines, "gateWaiting");
    let run_id = run_id.unwrap();
    // Let the store write the gate's row, then kill the process: no cleanup of any kind.
    std::thread::sleep(std::time::Duration::from_millis(300));
    child.kill().unwrap();
    child.wait().unwrap();

    let line = listed(d, &run_id);
    assert_eq!(
        line["waiting"],
        json!(["check"]),
        "the wait is kept: {line}"
    );
    let (code, _, out) =
        finish(symphony(d).args(["runs", "reject", &run_id, "check", "--reason", "too costly"]));
    assert_eq!(code, 0, "a stopped run's gate can be answered: {out}");
    assert!(
        out.contains(&format!("`symphony resume {run_id}`")),
        "{out}"
    );

    // Resumed, the run takes the answer: the gate is rejected and the branch fails with why.
    let (code, events, out) = finish(symphony(d).args(["resume", &run_id, "--json"]));
    assert_ne!(code, 0, "{out}");
    assert!(
        of_type(&events, "gateWaiting").is_empty(),
        "it does not ask again: {out}"
    );
    let answered = of_type(&events, "gateAnswered");
    assert_eq!(answered[0]["decision"], json!("reject"), "{out}");
    assert_eq!(answered[0]["by"], json!("cli"));
    let failed = of_type(&events, "stepFailed");
    assert!(
        failed[0]["error"].as_str().unwrap().contains("too costly"),
        "{out}"
    );
    assert!(
        of_type(&events, "stepStarted")
            .iter()
            .all(|e| e["step"] != json!("plan")),
        "the plan is not played again: {out}"
    );

    // Resumed again, the rejected gate asks again, and an approval lets the run finish.
    let (child, mut lines) = spawn(d, &["resume", &run_id, "--json"]);
    until(&mut lines, "gateWaiting");
    let mut approved = false;
    for _ in 0..50 {
        let (code, _, _) = finish(symphony(d).args(["runs", "approve", &run_id, "check"]));
        if code == 0 {
            approved = true;
            break;
        }
        // The asked-again row is written by the resumed process's writer, a beat later.
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    assert!(approved);
    let (code, events) = rest(child, lines);
    assert_eq!(code, 0, "{events:?}");
    assert_eq!(
        result(d, "w")["outputs"]["use"]["output"],
        json!("the plan in 3 days")
    );
}

#[cfg(unix)]
#[test]
fn a_gates_timeout_counts_the_time_the_run_was_stopped() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    write_melody(d, json!({"timeoutMs": 1500, "onTimeout": "approve"}));
    let (mut child, mut lines) = spawn(
        d,
        &["run", "gated.melody.json", "--workspace", "w", "--json"],
    );
    let (run_id, waiting) = until(&mut lines, "gateWaiting");
    assert_eq!(waiting["timeoutMs"], json!(1500));
    std::thread::sleep(std::time::Duration::from_millis(300));
    child.kill().unwrap();
    child.wait().unwrap();
    // Stopped for longer than the gate would wait in all: resumed, it times out at once.
    std::thread::sleep(std::time::Duration::from_millis(1500));
    let (code, events, out) = finish(symphony(d).args(["resume", &run_id.unwrap(), "--json"]));
    assert_eq!(code, 0, "{out}");
    let waiting = of_type(&events, "gateWaiting");
    assert!(waiting[0]["waitedMs"].as_u64().unwrap() >= 1500, "{out}");
    let answered = of_type(&events, "gateAnswered");
    assert_eq!(answered[0]["by"], json!("timeout"), "{out}");
    assert_eq!(answered[0]["decision"], json!("approve"));
    // On the run's own clock: the deadline had passed, so the gate did not wait its 1.5 s again.
    let waited = answered[0]["atMs"].as_u64().unwrap() - waiting[0]["atMs"].as_u64().unwrap();
    assert!(
        waited < 1000,
        "it did not wait the whole timeout again: {waited} ms"
    );
}

/// Whether a program is on the PATH.
fn on_path(program: &str) -> bool {
    std::process::Command::new("sh")
        .args(["-c", &format!("command -v {program}")])
        .stdout(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

#[cfg(target_os = "linux")]
#[test]
fn a_gate_is_answered_where_symphony_run_plays_on_a_terminal() {
    use std::io::{Read, Write};
    use std::sync::{Arc, Mutex};
    // `script` (util-linux, on every Debian) gives the run a terminal of its own.
    if !on_path("script") {
        eprintln!("skipped: no `script` to give the run a terminal");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    write_melody(d, json!({}));
    let command = format!(
        "{} run gated.melody.json --workspace w",
        env!("CARGO_BIN_EXE_symphony")
    );
    let mut child = std::process::Command::new("script")
        .args(["-qefc", &command, "/dev/null"])
        .current_dir(d)
        .env_remove("RUST_LOG")
        .env("NO_COLOR", "1")
        .env("SYMPHONY_DB", d.join("runs.db"))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let screen = Arc::new(Mutex::new(String::new()));
    let mut out = child.stdout.take().unwrap();
    let shown = screen.clone();
    let reader = std::thread::spawn(move || {
        let mut buf = [0u8; 4096];
        while let Ok(n) = out.read(&mut buf) {
            if n == 0 {
                break;
            }
            shown
                .lock()
                .unwrap()
                .push_str(&String::from_utf8_lossy(&buf[..n]));
        }
    });
    let wait_for = |text: &str| {
        for _ in 0..400 {
            if screen.lock().unwrap().contains(text) {
                return;
            }
            std::thread::sleep(std::time::Duration::from_millis(25));
        }
        panic!(
            "the terminal never showed {text:?}: {}",
            screen.lock().unwrap()
        );
    };
    wait_for("answer `check` here: y to approve it");
    let mut keys = child.stdin.take().unwrap();
    keys.write_all(b"maybe\n").unwrap();
    wait_for("not an answer: type y to approve");
    keys.write_all(b"n\n").unwrap();
    wait_for("say why after the n");
    keys.write_all(b"y fine by me\n").unwrap();
    let status = child.wait().unwrap();
    reader.join().unwrap();
    let screen = screen.lock().unwrap().clone();
    assert!(status.success(), "{screen}");
    assert!(
        screen.contains("check approved by terminal (fine by me)"),
        "{screen}"
    );
    let (_, runs, _) = finish(symphony(d).args(["runs", "list", "--json"]));
    let run_id = runs[0]["runs"][0]["id"].as_str().unwrap().to_owned();
    let (code, events, out) = finish(symphony(d).args(["runs", "events", &run_id]));
    assert_eq!(code, 0, "{out}");
    let answered = of_type(&events, "gateAnswered");
    assert_eq!(answered[0]["by"], json!("terminal"), "{out}");
    assert_eq!(
        result(d, "w")["outputs"]["use"]["output"],
        json!("the plan in 3 days")
    );
}
