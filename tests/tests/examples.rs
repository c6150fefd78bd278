//! Every melody shipped in `melodies/` and `templates/` loads, validates, is stored in canonical
//! bytes, and plays offline to success with its workspace filled.
//!
//! Run with `SYMPHONY_BLESS=1` to rewrite the files in canonical form after editing them by hand.

#![allow(clippy::unwrap_used)] // Tests unwrap: a panic is the failure report.

use serde_json::{json, Map, Value};
use symphony_conductor::{
    Conductor, Decision, GateAnswer, Registry, RunEvent, RunOptions, RunStatus, StepOutcome,
};
use symphony_tests::{melody_files, repo_root};

fn all_files() -> Vec<std::path::PathBuf> {
    let root = repo_root();
    let mut files = melody_files(&root.join("melodies"));
    files.extend(melody_files(&root.join("templates")));
    files
}

#[test]
fn there_are_at_least_three_examples_and_a_template() {
    let root = repo_root();
    assert!(melody_files(&root.join("melodies")).len() >= 3);
    assert!(!melody_files(&root.join("templates")).is_empty());
}

#[test]
fn every_file_validates_and_is_stored_canonically() {
    let registry = Registry::standard();
    for path in all_files() {
        let bytes = std::fs::read(&path).unwrap();
        let name = path.display().to_string();
        let melody = symphony_melody::load_and_validate(&bytes, &name, &registry)
            .unwrap_or_else(|p| panic!("{p}"));
        let canonical = symphony_melody::to_bytes(&melody);
        if std::env::var_os("SYMPHONY_BLESS").is_some() {
            std::fs::write(&path, &canonical).unwrap();
            continue;
        }
        assert!(
            canonical == bytes,
            "{name} is not in canonical form; run `symphony fmt {name}` (or SYMPHONY_BLESS=1 cargo test)"
        );
        // Loading and saving again changes no byte.
        let again = symphony_melody::load(&canonical, &name).unwrap();
        assert_eq!(symphony_melody::to_bytes(&again), canonical);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_file_plays_offline_and_fills_its_workspace() {
    let conductor = Conductor::new(Registry::standard());
    for path in all_files() {
        let bytes = std::fs::read(&path).unwrap();
        let name = path.display().to_string();
        let melody = symphony_melody::load(&bytes, &name).unwrap();
        let mut inputs = Map::new();
        for (key, input) in &melody.inputs {
            if input.default.is_none() {
                inputs.insert(key.clone(), json!("a small test goal"));
            }
        }
        let dir = tempfile::tempdir().unwrap();
        let ws = dir.path().join("run");
        let run = conductor
            .start(
                melody.clone(),
                RunOptions {
                    run_id: "example".into(),
                    inputs,
                    workspace: Some(ws.clone()),
                    ..RunOptions::default()
                },
            )
            .await
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        // A gate (`cue.gate`) waits for a person: the test approves it, as one would.
        let (mut events, control, finished) = run.into_parts();
        while let Some(record) = events.recv().await {
            if let RunEvent::GateWaiting { step, .. } = &record.event {
                control.answer(
                    step,
                    GateAnswer {
                        decision: Decision::Approve,
                        reason: None,
                        value: None,
                        by: "cli".into(),
                    },
                );
            }
        }
        let report = finished.await.unwrap();
        assert_eq!(
            report.status,
            RunStatus::Succeeded,
            "{name}: {:#?}",
            report.steps
        );
        assert!(!report.result.is_empty(), "{name}: no result");
        for step in &report.steps {
            if step.outcome == StepOutcome::Succeeded {
                assert!(
                    ws.join("steps")
                        .join(&step.id)
                        .join("output.json")
                        .is_file(),
                    "{name}: no output recorded for {}",
                    step.id
                );
            }
        }
        let result: Value =
            serde_json::from_slice(&std::fs::read(ws.join("result.json")).unwrap()).unwrap();
        assert_eq!(result["status"], json!("succeeded"), "{name}");
        assert!(ws.join("run.json").is_file() && ws.join("melody.json").is_file());
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_idea_to_code_example_writes_a_spec_an_architecture_and_code_files() {
    let path = repo_root().join("melodies/idea-to-code.melody.json");
    let melody = symphony_melody::load(&std::fs::read(&path).unwrap(), "idea-to-code").unwrap();
    let dir = tempfile::tempdir().unwrap();
    let run = Conductor::new(Registry::standard())
        .start(
            melody,
            RunOptions {
                workspace: Some(dir.path().to_path_buf()),
                ..RunOptions::default()
            },
        )
        .await
        .unwrap();
    let report = run.finished().await;
    assert_eq!(report.status, RunStatus::Succeeded);
    let files = dir.path().join("files");
    for f in [
        "SPEC.md",
        "ARCHITECTURE.md",
        "src/feature-0.md",
        "src/feature-3.md",
    ] {
        let text = std::fs::read_to_string(files.join(f)).unwrap_or_else(|e| panic!("{f}: {e}"));
        assert!(
            text.contains("offline"),
            "{f} should say it is offline output: {text}"
        );
    }
    assert!(!files.join("src/feature-4.md").exists());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_triage_router_takes_one_branch_and_rehearses_retry_and_fallback() {
    let path = repo_root().join("melodies/triage-router.melody.json");
    let melody = symphony_melody::load(&std::fs::read(&path).unwrap(), "triage").unwrap();
    let dir = tempfile::tempdir().unwrap();
    let options = RunOptions {
        workspace: Some(dir.path().to_path_buf()),
        ..RunOptions::default()
    };
    let report = Conductor::new(Registry::standard())
        .start(melody, options)
        .await
        .unwrap()
        .finished()
        .await;
    let outcome = |id: &str| report.steps.iter().find(|s| s.id == id).unwrap().clone();
    assert_eq!(report.status, RunStatus::Succeeded, "{:#?}", report.steps);
    assert_eq!(outcome("fix").outcome, StepOutcome::Succeeded);
    assert_eq!(
        outcome("fix").attempts,
        3,
        "two failed attempts, then the fallback"
    );
    assert_eq!(
        outcome("intake").attempts,
        2,
        "one failed attempt, then a retry"
    );
    assert_eq!(outcome("plan_feature").outcome, StepOutcome::Skipped);
    assert_eq!(outcome("answer").outcome, StepOutcome::Skipped);
    assert_eq!(outcome("polish").outcome, StepOutcome::Succeeded);
}
