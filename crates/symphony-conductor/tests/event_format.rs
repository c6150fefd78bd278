//! The events' JSON is a file format (see `symphony_conductor::EVENT_FORMAT`): one sample of
//! every event kind, serialized as a stored or served `EventRecord`, must match the golden file
//! of the current version line by line. A renamed field fails here instead of silently changing
//! how old runs read. Bless an intended change with `SYMPHONY_BLESS=1` (and raise
//! `EVENT_FORMAT` when it renames or removes a field or changes a meaning).

#![allow(clippy::unwrap_used)] // Tests unwrap: a panic is the failure report.

use std::path::PathBuf;
use std::sync::Arc;

use serde_json::{json, Map, Value};
use symphony_conductor::{
    BottleneckKind, Decision, EventRecord, LoopExit, OutputOrigin, Outputs, ReviewFormat, RunEvent,
    RunStatus, Totals, Usage, EVENT_FORMAT,
};

/// The kind's name, by a match with no wildcard: a new event kind does not compile until it is
/// given a sample below.
fn kind(e: &RunEvent) -> &'static str {
    match e {
        RunEvent::RunStarted { .. } => "runStarted",
        RunEvent::RunPaused => "runPaused",
        RunEvent::RunResumed => "runResumed",
        RunEvent::RunFinished { .. } => "runFinished",
        RunEvent::StepQueued { .. } => "stepQueued",
        RunEvent::StepStarted { .. } => "stepStarted",
        RunEvent::StepProgress { .. } => "stepProgress",
        RunEvent::StepItemFinished { .. } => "stepItemFinished",
        RunEvent::StepRound { .. } => "stepRound",
        RunEvent::StepOutput { .. } => "stepOutput",
        RunEvent::StepRetrying { .. } => "stepRetrying",
        RunEvent::StepFellBack { .. } => "stepFellBack",
        RunEvent::StepSkipped { .. } => "stepSkipped",
        RunEvent::StepFailed { .. } => "stepFailed",
        RunEvent::StepCancelled { .. } => "stepCancelled",
        RunEvent::StepSucceeded { .. } => "stepSucceeded",
        RunEvent::StepPrompt { .. } => "stepPrompt",
        RunEvent::FileWritten { .. } => "fileWritten",
        RunEvent::DataSent { .. } => "dataSent",
        RunEvent::StepExchange { .. } => "stepExchange",
        RunEvent::StepLog { .. } => "stepLog",
        RunEvent::Bottleneck { .. } => "bottleneck",
        RunEvent::GateWaiting { .. } => "gateWaiting",
        RunEvent::GateAnswered { .. } => "gateAnswered",
    }
}

fn samples() -> Vec<RunEvent> {
    let step: Arc<str> = Arc::from("plan");
    let mut inputs = Map::new();
    inputs.insert("goal".into(), json!("ship it"));
    vec![
        RunEvent::RunStarted {
            run_id: "idea-20261204-120000-ab12".into(),
            melody_id: "idea".into(),
            steps: 3,
            max_parallel: 8,
            offline: true,
        },
        RunEvent::RunPaused,
        RunEvent::RunResumed,
        RunEvent::StepQueued {
            step: step.clone(),
            item: Some(2),
            inputs: Arc::new(inputs),
        },
        RunEvent::StepStarted {
            step: step.clone(),
            item: None,
            attempt: 1,
            type_name: Arc::from("instrument.chat"),
            offline: false,
        },
        RunEvent::StepPrompt {
            step: step.clone(),
            item: None,
            attempt: 1,
            system: Some("Be brief.".into()),
            prompt: "Plan ship it".into(),
        },
        RunEvent::StepProgress {
            step: step.clone(),
            text: "1. ".into(),
            tokens: 2,
            bytes: 3,
        },
        RunEvent::StepExchange {
            step: step.clone(),
            item: None,
            attempt: 1,
            url: "http://127.0.0.1:8080/v1/chat/completions".into(),
            status: Some(200),
            request: json!({"model": "m", "stream": true}),
            response: "data: [DONE]".into(),
            truncated: false,
        },
        RunEvent::StepLog {
            step: step.clone(),
            item: None,
            stream: Arc::from("info"),
            line: "POST … → 200 in 1.2 s".into(),
        },
        RunEvent::StepRetrying {
            step: step.clone(),
            item: None,
            next_attempt: 2,
            delay_ms: 500,
            error: "HTTP 503".into(),
        },
        RunEvent::StepFellBack {
            step: step.clone(),
            item: None,
            fallback: 0,
            type_name: Arc::from("instrument.offline"),
            error: "HTTP 503".into(),
        },
        RunEvent::Bottleneck {
            step: step.clone(),
            kind: BottleneckKind::SlowerThanHistory,
            message: "3.0 s, 3× its usual 1.0 s".into(),
            advice: "Check the provider.".into(),
        },
        RunEvent::StepItemFinished {
            step: Arc::from("each"),
            item: 1,
            ok: false,
            error: Some("timed out".into()),
            done: 2,
            total: 3,
        },
        RunEvent::StepOutput {
            step: step.clone(),
            outputs: Arc::new(Outputs::single(json!("1. build\n2. ship"))),
        },
        RunEvent::StepSucceeded {
            step: step.clone(),
            elapsed_ms: 1200,
            attempts: 2,
            usage: Some(Usage {
                input_tokens: 10,
                output_tokens: 20,
                estimated: false,
                cost_usd: Some(0.0003),
            }),
            origin: OutputOrigin::Played,
            cache_key: Some(Arc::from("c0ffee")),
        },
        RunEvent::DataSent {
            from_step: step.clone(),
            from_port: Arc::from("output"),
            to_step: Arc::from("doc"),
            to_port: Arc::from("text"),
            bytes: 17,
        },
        RunEvent::FileWritten {
            step: Arc::from("save"),
            path: "plan.md".into(),
            bytes: 17,
            sha256: "ab".repeat(32),
        },
        RunEvent::StepSkipped {
            step: Arc::from("review"),
            reason: "its router chose another branch".into(),
        },
        RunEvent::StepFailed {
            step: Arc::from("lint"),
            error: "exit 1".into(),
            optional: true,
        },
        RunEvent::StepCancelled {
            step: Arc::from("slow"),
        },
        RunEvent::RunFinished {
            status: RunStatus::Succeeded,
            totals: Totals {
                steps: 3,
                succeeded: 2,
                failed: 1,
                attempts: 3,
                elapsed_ms: 1500,
                input_tokens: 10,
                output_tokens: 20,
                cost_usd: 0.0003,
                ..Totals::default()
            },
        },
        // Added in format 1 after the first golden file: appended, so earlier lines keep
        // their place.
        RunEvent::StepRound {
            step: Arc::from("review"),
            round: 3,
            outputs: Arc::new(Outputs::single(json!({"draft": "v3", "score": 0.9}))),
            score: Some(0.9),
            exit: Some(LoopExit::Approved),
            note: Some("`until` held after round 3".into()),
        },
        RunEvent::GateWaiting {
            step: Arc::from("approve"),
            title: "Go on with this plan?".into(),
            review: "## Plan\n- one\n- two".into(),
            format: ReviewFormat::Markdown,
            value: json!(["one", "two"]),
            timeout_ms: Some(3_600_000),
            waited_ms: 1_500,
            on_timeout: Decision::Reject,
        },
        RunEvent::GateAnswered {
            step: Arc::from("approve"),
            decision: Decision::Approve,
            reason: Some("looks right".into()),
            value: Some(json!(["one", "two", "three"])),
            by: "app".into(),
        },
    ]
}

fn golden(version: u32) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/golden")
        .join(format!("events-v{version}.jsonl"))
}

fn lines() -> Vec<String> {
    samples()
        .into_iter()
        .enumerate()
        .map(|(i, event)| {
            serde_json::to_string(&EventRecord {
                at_ms: i as u64 * 10,
                event,
            })
            .unwrap()
        })
        .collect()
}

#[test]
fn every_event_kind_has_a_sample() {
    let mut kinds: Vec<&str> = samples().iter().map(kind).collect();
    kinds.sort_unstable();
    let before = kinds.len();
    kinds.dedup();
    assert_eq!(before, kinds.len(), "one sample per kind");
    assert_eq!(kinds.len(), 24, "a sample for every kind of `kind()`");
    // The JSON tag is the name `kind()` gives.
    for (line, event) in lines().iter().zip(samples()) {
        let v: Value = serde_json::from_str(line).unwrap();
        assert_eq!(v["type"], kind(&event), "{line}");
    }
}

#[test]
fn the_events_json_matches_the_golden_file_of_its_version() {
    let path = golden(EVENT_FORMAT);
    let now = lines().join("\n") + "\n";
    if std::env::var_os("SYMPHONY_BLESS").is_some() {
        std::fs::write(&path, &now).unwrap();
        return;
    }
    let then = std::fs::read_to_string(&path).unwrap_or_else(|e| {
        panic!(
            "{}: {e}. A new EVENT_FORMAT needs its golden file: run with SYMPHONY_BLESS=1, and keep the old ones",
            path.display()
        )
    });
    for (i, (a, b)) in then.lines().zip(now.lines()).enumerate() {
        assert_eq!(
            a,
            b,
            "line {} of {} changed: the events' JSON is a file format (see EVENT_FORMAT). \
             If this is meant, bless it (SYMPHONY_BLESS=1), and raise EVENT_FORMAT when a field \
             was renamed or removed or its meaning changed",
            i + 1,
            path.display()
        );
    }
    assert_eq!(
        then.lines().count(),
        now.lines().count(),
        "event kinds were added or removed: bless the golden file"
    );
}

#[test]
fn every_older_golden_file_is_kept() {
    for v in 1..=EVENT_FORMAT {
        assert!(
            golden(v).exists(),
            "{} is gone: old runs are in that format",
            golden(v).display()
        );
    }
}
