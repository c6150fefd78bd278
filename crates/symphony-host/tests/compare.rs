//! Comparing the open melody with its committed version (a real git repository) and with
//! another document, as the editor draws it on the canvas.

#![allow(clippy::unwrap_used)] // Tests unwrap: a panic is the failure report.

use serde_json::json;
use symphony_host::HostError;

mod common;
use common::fixture;

fn git(dir: &std::path::Path, args: &[&str]) {
    let out = std::process::Command::new("git")
        .args(args)
        .current_dir(dir)
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("HOME", dir)
        .env("GIT_AUTHOR_NAME", "t")
        .env("GIT_AUTHOR_EMAIL", "t@example.com")
        .env("GIT_COMMITTER_NAME", "t")
        .env("GIT_COMMITTER_EMAIL", "t@example.com")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "git {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[tokio::test]
async fn the_open_melody_is_compared_with_its_committed_version_step_by_step() {
    let f = fixture();
    let root = f.project.path();
    let path = "melodies/idea-to-code.melody.json";
    // Not a repository yet: said, with what to do.
    let e = f
        .host
        .call("committedMelody", json!({"path": path}))
        .await
        .unwrap_err();
    assert!(
        matches!(e, HostError::BadPath { .. }) && e.to_string().contains("no committed version"),
        "{e}"
    );

    git(root, &["init", "-q", "-b", "main"]);
    // A hook that would run on any git command that triggers it: it must never fire.
    std::fs::write(
        root.join(".git/hooks/post-checkout"),
        "#!/bin/sh\ntouch hooked\n",
    )
    .unwrap();
    git(root, &["add", "-A"]);
    git(root, &["commit", "-q", "-m", "start"]);
    let committed = f
        .host
        .call("committedMelody", json!({"path": path}))
        .await
        .unwrap();
    assert_eq!(committed["path"], format!("HEAD:{path}"));

    // The open melody: a prompt edited, a step removed (and its edges), a step added.
    let mut open = committed["melody"].clone();
    open["steps"][0]["config"]["prompt"] = json!("A shorter spec for {{goal}}");
    let steps = open["steps"].as_array_mut().unwrap();
    steps.retain(|s| s["id"] != "write_code");
    steps.push(json!({"id": "review", "kind": "operator", "type": "operator.pass"}));
    let edges = open["edges"].as_array_mut().unwrap();
    edges.retain(|e| !e["to"].as_str().unwrap().starts_with("write_code."));
    let c = f
        .host
        .call(
            "compareMelodies",
            json!({"base": committed["melody"], "melody": open}),
        )
        .await
        .unwrap();
    assert_eq!(c["same"], false);
    let of = |id: &str| {
        c["steps"]
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["id"] == id)
            .cloned()
            .unwrap()
    };
    assert_eq!(of("spec")["change"], "changed");
    assert_eq!(of("spec")["fields"][0]["path"], "config.prompt");
    assert_eq!(
        of("spec")["fields"][0]["after"],
        "A shorter spec for {{goal}}"
    );
    assert_eq!(of("write_code")["change"], "removed");
    assert_eq!(of("write_code")["step"]["type"], "cue.map");
    assert_eq!(of("review")["change"], "added");
    assert_eq!(
        c["edgesRemoved"],
        json!(["code.results → write_code.items"])
    );
    assert!(!root.join("hooked").exists(), "git ran no hook");

    // Not a melody file: refused.
    let e = f
        .host
        .call("committedMelody", json!({"path": ".git/config"}))
        .await
        .unwrap_err();
    assert!(e.to_string().contains("only a melody file"), "{e}");
}
