//! Helpers shared by the CLI's store tests: a chain melody, the binary with a store of the
//! test's own, and reading what it printed.

#![allow(dead_code)] // Each test file uses some of these.

use std::path::Path;
use std::process::{Command, Stdio};

use serde_json::{json, Value};

/// A chain of five offline instrument steps, each "thinking" `latency_ms`, and a file write.
pub fn chain(latency_ms: u64) -> String {
    let mut steps = vec![
        json!({"id": "s1", "kind": "instrument", "type": "instrument.offline",
        "config": {"prompt": "Start on {{goal}}", "latencyMs": latency_ms}}),
    ];
    let mut edges = Vec::new();
    for i in 2..=5 {
        steps.push(json!({"id": format!("s{i}"), "kind": "instrument", "type": "instrument.offline",
            "inputs": {"prev": {"type": "text"}},
            "config": {"prompt": format!("Step {i} after: {{{{prev}}}}"), "latencyMs": latency_ms}}));
        edges.push(json!({"from": format!("s{}.output", i - 1), "to": format!("s{i}.prev")}));
    }
    steps.push(
        json!({"id": "save", "kind": "operator", "type": "operator.file.write",
        "config": {"path": "out.md"}, "capabilities": ["files"]}),
    );
    edges.push(json!({"from": "s5.output", "to": "save.content"}));
    json!({"formatVersion": 1, "melody": {"id": "chain", "name": "Chain"},
        "inputs": {"goal": {"type": "string", "default": "ship it"}},
        "steps": steps, "edges": edges})
    .to_string()
}

pub fn symphony(dir: &Path) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_symphony"));
    c.current_dir(dir)
        .env_remove("RUST_LOG")
        .env("NO_COLOR", "1")
        .env("SYMPHONY_DB", dir.join("runs.db"))
        .stdin(Stdio::null());
    c
}

/// Runs to the end and returns (exit code, stdout lines parsed as JSON where they are).
pub fn finish(cmd: &mut Command) -> (i32, Vec<Value>, String) {
    let out = cmd.output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let json = stdout
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect();
    (
        out.status.code().unwrap_or(-1),
        json,
        format!(
            "{stdout}\n--- stderr ---\n{}",
            String::from_utf8_lossy(&out.stderr)
        ),
    )
}

pub fn of_type<'a>(events: &'a [Value], ty: &str) -> Vec<&'a Value> {
    events.iter().filter(|e| e["type"] == json!(ty)).collect()
}

/// The final outputs of a run, from its result.json.
pub fn result(dir: &Path, workspace: &str) -> Value {
    let text = std::fs::read_to_string(dir.join(workspace).join("result.json")).unwrap();
    serde_json::from_str(&text).unwrap()
}

/// A run's events as the store may keep them: the type and step of every event but progress, in
/// order, and each step's streamed text (the store merges a step's consecutive progress events,
/// as the conductor's invariants allow, so their number may differ; and it keeps large values
/// by reference, so the events' bodies differ from what was printed).
pub fn kept(
    events: &[Value],
) -> (
    Vec<(Value, Value)>,
    std::collections::BTreeMap<String, String>,
) {
    let mut streamed = std::collections::BTreeMap::<String, String>::new();
    let mut rest = Vec::new();
    for e in events {
        if e["type"] == json!("stepProgress") {
            streamed
                .entry(e["step"].as_str().unwrap_or_default().to_owned())
                .or_default()
                .push_str(e["text"].as_str().unwrap_or_default());
        } else {
            rest.push((e["type"].clone(), e["step"].clone()));
        }
    }
    (rest, streamed)
}

/// Run `id`'s line of `symphony runs list --json`.
pub fn listed(d: &Path, id: &str) -> Value {
    let (code, listed, out) = finish(symphony(d).args(["runs", "list", "--json"]));
    assert_eq!(code, 0, "{out}");
    listed[0]["runs"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["id"] == json!(id))
        .unwrap_or_else(|| panic!("{id} is not listed: {out}"))
        .clone()
}
