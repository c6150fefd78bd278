//! Forks, pins and retention through the real binary: a fork reruns from a step with edited
//! inputs, melody or output and keeps the parent's other outputs; a pinned step gives every
//! later run its chosen output until unpinned; the store keeps only the newest runs.

#![allow(clippy::unwrap_used)] // Tests unwrap: a panic is the failure report.

use std::path::Path;

use serde_json::{json, Value};

mod common;
use common::{chain, finish, of_type, result, symphony};

/// Plays the chain melody once and returns its run id.
fn first_run(d: &Path, goal: &str, workspace: &str) -> String {
    let (code, events, out) = finish(symphony(d).args([
        "run",
        "chain.melody.json",
        "--json",
        "--workspace",
        workspace,
        "-i",
        &format!("goal={goal}"),
    ]));
    assert_eq!(code, 0, "{out}");
    of_type(&events, "runStarted")[0]["runId"]
        .as_str()
        .unwrap()
        .to_owned()
}

/// How each step of a run ended: step → origin (played, cached, given).
fn origins(events: &[Value]) -> Vec<(String, String)> {
    let mut o: Vec<(String, String)> = of_type(events, "stepSucceeded")
        .iter()
        .map(|e| {
            (
                e["step"].as_str().unwrap().to_owned(),
                e["origin"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    o.sort();
    o
}

fn prompt_of(events: &[Value], step: &str) -> String {
    of_type(events, "stepPrompt")
        .iter()
        .find(|e| e["step"] == step)
        .unwrap()["prompt"]
        .as_str()
        .unwrap()
        .to_owned()
}

#[test]
fn a_fork_reruns_from_a_step_and_keeps_the_parents_other_outputs() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::write(d.join("chain.melody.json"), chain(0)).unwrap();
    let parent = first_run(d, "ship it", "ws-parent");

    // From s3: s1 and s2 are the parent's, s3 is played again, the rest follow it.
    let (code, events, out) = finish(symphony(d).args([
        "runs",
        "fork",
        &parent,
        "--from",
        "s3",
        "--json",
        "--workspace",
        "ws-fork",
    ]));
    assert_eq!(code, 0, "{out}");
    let o = origins(&events);
    assert_eq!(o[0], ("s1".into(), "given".into()), "{o:?}");
    assert_eq!(o[1], ("s2".into(), "given".into()), "{o:?}");
    assert!(o.contains(&("s3".into(), "played".into())), "{o:?}");
    // The offline instrument answers the same prompt the same way: what follows s3 is
    // unchanged, so it comes from the store instead of being played.
    assert!(o.contains(&("s4".into(), "cached".into())), "{o:?}");
    assert_eq!(result(d, "ws-fork"), result(d, "ws-parent"));
    let fork = of_type(&events, "runStarted")[0]["runId"]
        .as_str()
        .unwrap()
        .to_owned();
    let (_, shown, out) = finish(symphony(d).args(["runs", "show", &fork, "--json"]));
    assert_eq!(shown[0]["parentId"], json!(parent), "{out}");
    assert_eq!(shown[0]["forkStep"], "s3", "{out}");
    // The files a run produced are kept with it: which step wrote what, its size and hash.
    let written = std::fs::read(d.join("ws-fork/files/out.md")).unwrap();
    assert_eq!(shown[0]["files"][0]["path"], "out.md", "{out}");
    assert_eq!(shown[0]["files"][0]["step"], "save", "{out}");
    assert_eq!(shown[0]["files"][0]["bytes"], written.len(), "{out}");
    assert_eq!(shown[0]["files"][0]["sha256"].as_str().unwrap().len(), 64);
    let (_, _, listed) = finish(symphony(d).args(["runs", "list"]));
    assert!(listed.contains(&format!("(fork of {parent})")), "{listed}");

    // With an edited output of s3: s3 is not played, s4 reads the edit.
    let (code, events, out) = finish(symphony(d).args([
        "runs",
        "fork",
        &parent,
        "--from",
        "s3",
        "--output",
        "Edited: dig a canal.",
        "--json",
        "--workspace",
        "ws-edited-output",
    ]));
    assert_eq!(code, 0, "{out}");
    let o = origins(&events);
    assert!(o.contains(&("s3".into(), "given".into())), "{o:?}");
    assert!(o.contains(&("s4".into(), "played".into())), "{o:?}");
    assert_eq!(
        prompt_of(&events, "s4"),
        "Step 4 after: Edited: dig a canal."
    );

    // With an edited run input, from s1: every step is played with it.
    let (code, events, out) = finish(symphony(d).args([
        "runs",
        "fork",
        &parent,
        "--from",
        "s1",
        "-i",
        "goal=fly",
        "--json",
        "--workspace",
        "ws-input",
    ]));
    assert_eq!(code, 0, "{out}");
    assert_eq!(prompt_of(&events, "s1"), "Start on fly");
    assert!(origins(&events)
        .iter()
        .all(|(step, origin)| origin == "played" || step == "save"));

    // With an edited melody (a new prompt for s2): s1 is the parent's, s2 says the new thing.
    let edited = chain(0).replace("Step 2 after", "Second, after");
    std::fs::write(d.join("edited.melody.json"), edited).unwrap();
    let (code, events, out) = finish(symphony(d).args([
        "runs",
        "fork",
        &parent,
        "--from",
        "s2",
        "--melody",
        "edited.melody.json",
        "--json",
        "--workspace",
        "ws-melody",
    ]));
    assert_eq!(code, 0, "{out}");
    assert!(origins(&events).contains(&("s1".into(), "given".into())));
    assert!(prompt_of(&events, "s2").starts_with("Second, after: "));

    // A step that does not exist is named, with a suggestion.
    let (code, _, out) = finish(symphony(d).args(["runs", "fork", &parent, "--from", "s33"]));
    assert_eq!(code, 2, "{out}");
    assert!(out.contains("no step `s33`"), "{out}");
    let (code, _, out) = finish(symphony(d).args(["runs", "fork", "no-such-run", "--from", "s1"]));
    assert_eq!(code, 2, "{out}");
    assert!(out.contains("no run `no-such-run`"), "{out}");
}

#[test]
fn a_pinned_step_gives_its_chosen_output_until_unpinned() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::write(d.join("chain.melody.json"), chain(0)).unwrap();
    let first = first_run(d, "ship it", "ws1");
    let s2_first = result_of_step(d, "ws1", "s2");

    let (code, _, out) = finish(symphony(d).args(["runs", "pin", &first, "s2"]));
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("pinned `s2` of melody chain"), "{out}");
    let (_, _, out) = finish(symphony(d).args(["runs", "pins", "chain"]));
    assert!(out.contains("s2") && out.contains(&first), "{out}");

    // A new goal changes s1, but s2 keeps its pinned output, so s3 on are unchanged.
    let (code, events, out) = finish(symphony(d).args([
        "run",
        "chain.melody.json",
        "--json",
        "--workspace",
        "ws2",
        "-i",
        "goal=fly",
    ]));
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("pinned: s2"), "{out}");
    let o = origins(&events);
    assert!(o.contains(&("s1".into(), "played".into())), "{o:?}");
    assert!(o.contains(&("s2".into(), "given".into())), "{o:?}");
    assert!(o.contains(&("s3".into(), "cached".into())), "{o:?}");
    assert_eq!(result_of_step(d, "ws2", "s2"), s2_first);
    // s2 now gets another s1 than its pinned output was made from: the run says so.
    let stale: Vec<&Value> = events
        .iter()
        .filter(|e| e["type"] == "bottleneck" && e["kind"] == "pinnedStale")
        .collect();
    assert_eq!(stale.len(), 1, "one stale-pin warning: {stale:?}");
    assert_eq!(stale[0]["step"], "s2");
    assert!(
        stale[0]["message"]
            .as_str()
            .unwrap()
            .contains("made from other inputs"),
        "{stale:?}"
    );
    // The same goal as when it was pinned: the pin is not stale, and nothing is said.
    let (code, events, out) = finish(symphony(d).args([
        "run",
        "chain.melody.json",
        "--json",
        "--workspace",
        "ws2b",
        "-i",
        "goal=ship it",
    ]));
    assert_eq!(code, 0, "{out}");
    assert!(
        !events.iter().any(|e| e["kind"] == "pinnedStale"),
        "an up-to-date pin raises no warning: {out}"
    );

    // Unpinned, s2 is played again with the new goal.
    let (code, _, out) = finish(symphony(d).args(["runs", "unpin", "chain", "s2"]));
    assert_eq!(code, 0, "{out}");
    let (code, events, out) = finish(symphony(d).args([
        "run",
        "chain.melody.json",
        "--json",
        "--workspace",
        "ws3",
        "-i",
        "goal=fly",
    ]));
    assert_eq!(code, 0, "{out}");
    assert!(origins(&events).contains(&("s2".into(), "played".into())));
    assert_ne!(result_of_step(d, "ws3", "s2"), s2_first);
    let (code, _, out) = finish(symphony(d).args(["runs", "unpin", "chain", "s2"]));
    assert_eq!(code, 2, "unpinning twice is a usage error: {out}");

    // A step that did not succeed in the run cannot be pinned from it.
    let (code, _, out) = finish(symphony(d).args(["runs", "pin", &first, "nope"]));
    assert_eq!(code, 2, "{out}");
    assert!(out.contains("has no output in run"), "{out}");
}

/// A step's `output` port as its workspace recorded it.
fn result_of_step(d: &Path, workspace: &str, step: &str) -> Value {
    let text = std::fs::read_to_string(
        d.join(workspace)
            .join("steps")
            .join(step)
            .join("output.json"),
    )
    .unwrap();
    serde_json::from_str::<Value>(&text).unwrap()["output"].clone()
}

#[test]
fn the_store_keeps_the_newest_runs_it_is_told_to() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::write(d.join("chain.melody.json"), chain(0)).unwrap();
    let (_, _, out) = finish(symphony(d).args(["runs", "retention"]));
    assert!(out.contains("keeps the newest 1000 runs"), "{out}");
    let (code, _, out) = finish(symphony(d).args(["runs", "retention", "--keep", "2"]));
    assert_eq!(code, 0, "{out}");
    let mut ids = Vec::new();
    for i in 0..4 {
        ids.push(first_run(d, &format!("goal {i}"), &format!("ws{i}")));
    }
    let (_, listed, out) = finish(symphony(d).args(["runs", "list", "--json"]));
    let kept: Vec<&str> = listed[0]["runs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["id"].as_str().unwrap())
        .collect();
    assert_eq!(kept, [ids[3].as_str(), ids[2].as_str()], "{out}");
    assert!(listed[0]["bytes"].as_u64().unwrap() > 0);
    let (_, _, out) = finish(symphony(d).args(["runs", "retention"]));
    assert!(out.contains("keeps the newest 2 runs; it holds 2"), "{out}");
}
