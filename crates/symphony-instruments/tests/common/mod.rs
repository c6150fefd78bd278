//! The providers' wire formats for the loopback server every crate's tests share
//! (`symphony_testkit::http`, re-exported here), and a harness that plays melodies of
//! `instrument.chat` steps through the real conductor.

#![allow(dead_code)] // Each test file uses a different part of this module.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use serde_json::{json, Value};
use symphony_conductor::testing;
use symphony_conductor::{Conductor, EventRecord, Registry, RunEvent, RunOptions, RunReport};
use symphony_credentials::{CredentialError, Credentials, Secret};
use symphony_instruments::{InstrumentsConfig, ProviderLimits, Timeouts};
// Re-exported for the test files (`use common::*`); each uses some of them.
#[allow(unused_imports)]
pub use {
    symphony_conductor::testing::outcome,
    symphony_testkit::http::{named, nothing_listens, sse, End, Recorded, Reply, Server},
};

// ---- wire formats ------------------------------------------------------------------------

/// An OpenAI-compatible stream: one chunk per piece, a finish chunk, optionally a usage chunk
/// (`choices: []`, as OpenAI sends with `include_usage`), then `[DONE]`.
pub fn openai_stream(pieces: &[&str], finish: &str, usage: Option<(u64, u64)>) -> Vec<String> {
    let mut out = vec![sse(
        &json!({"id": "c1", "object": "chat.completion.chunk", "choices": [{"index": 0, "delta": {"role": "assistant", "content": ""}, "finish_reason": null}]}),
    )];
    for p in pieces {
        out.push(sse(&json!({"id": "c1", "object": "chat.completion.chunk", "choices": [{"index": 0, "delta": {"content": p}, "finish_reason": null}]})));
    }
    out.push(sse(&json!({"id": "c1", "object": "chat.completion.chunk", "choices": [{"index": 0, "delta": {}, "finish_reason": finish}]})));
    if let Some((i, o)) = usage {
        out.push(sse(&json!({"id": "c1", "object": "chat.completion.chunk", "choices": [], "usage": {"prompt_tokens": i, "completion_tokens": o, "total_tokens": i + o}})));
    }
    out.push("data: [DONE]\n\n".into());
    out
}

/// A whole OpenAI-compatible completion.
pub fn openai_whole(text: &str, finish: &str, usage: Option<(u64, u64)>) -> Value {
    let mut v = json!({
        "id": "c1", "object": "chat.completion", "model": "m",
        "choices": [{"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": finish}],
    });
    if let Some((i, o)) = usage {
        v["usage"] = json!({"prompt_tokens": i, "completion_tokens": o, "total_tokens": i + o});
    }
    v
}

/// An Anthropic stream of text pieces.
pub fn anthropic_stream(pieces: &[&str], stop: &str, input: u64, output: u64) -> Vec<String> {
    let mut out = vec![
        named(
            "message_start",
            &json!({"type": "message_start", "message": {"id": "msg_1", "type": "message", "role": "assistant", "content": [], "model": "claude", "stop_reason": null, "usage": {"input_tokens": input, "output_tokens": 1}}}),
        ),
        named(
            "content_block_start",
            &json!({"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}}),
        ),
        named("ping", &json!({"type": "ping"})),
    ];
    for p in pieces {
        out.push(named("content_block_delta", &json!({"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": p}})));
    }
    out.push(named(
        "content_block_stop",
        &json!({"type": "content_block_stop", "index": 0}),
    ));
    out.push(named("message_delta", &json!({"type": "message_delta", "delta": {"stop_reason": stop, "stop_sequence": null}, "usage": {"output_tokens": output}})));
    out.push(named("message_stop", &json!({"type": "message_stop"})));
    out
}

// ---- the conductor side --------------------------------------------------------------------

/// Credentials from a fixed map.
pub struct Fixed(pub HashMap<String, String>);

impl Credentials for Fixed {
    fn get(&self, name: &str) -> Result<Secret, CredentialError> {
        self.0
            .get(name)
            .map(|v| Secret::new(v.as_str()))
            .ok_or_else(|| CredentialError::Missing {
                name: name.into(),
                looked: vec!["the test's map".into()],
            })
    }
}

pub const KEY: &str = "sk-test-sentinel-0123456789";

/// A conductor with `instrument.chat` (credentials `openai` and `anthropic` = [`KEY`]).
pub fn conductor(limits: ProviderLimits, timeouts: Timeouts) -> Conductor {
    let creds = Fixed(HashMap::from([
        ("openai".to_owned(), KEY.to_owned()),
        ("anthropic".to_owned(), KEY.to_owned()),
        ("local".to_owned(), KEY.to_owned()),
    ]));
    let mut config = InstrumentsConfig::new(Arc::new(creds));
    config.limits = limits;
    config.timeouts = timeouts;
    let mut registry = Registry::standard();
    symphony_instruments::register(&mut registry, config).unwrap();
    Conductor::new(registry)
}

/// Short timeouts, so failure tests finish fast.
pub fn quick() -> Timeouts {
    Timeouts {
        connect: Duration::from_millis(2000),
        first_byte: Duration::from_millis(3000),
        idle: Duration::from_millis(3000),
    }
}

/// A chat step.
pub fn chat_step(id: &str, config: Value, policy: Value) -> Value {
    json!({"id": id, "kind": "instrument", "type": "instrument.chat",
           "capabilities": ["network", "secrets"], "config": config, "policy": policy})
}

/// One retry, 10 ms later, no jitter.
pub fn one_retry() -> Value {
    json!({"retry": {"max": 1, "backoffMs": 10, "jitter": false}})
}

/// A melody of chat steps whose prompts may ask about `{{topic}}` (a run input, "rivers").
pub fn chat_melody(steps: Value, settings: Value) -> symphony_melody::Melody {
    testing::melody(json!({
        "inputs": {"topic": {"type": "string", "default": "rivers"}},
        "settings": settings,
        "steps": steps,
    }))
}

/// Plays a melody to its end, collecting every event; no run here may take a minute.
pub async fn play(c: &Conductor, m: symphony_melody::Melody) -> (RunReport, Vec<EventRecord>) {
    let run = testing::play(c, m, RunOptions::default());
    tokio::time::timeout(Duration::from_secs(60), run)
        .await
        .expect("no run takes a minute here")
}

/// Plays one chat step with `config` (and `policy`) and returns the report and events.
pub async fn play_one(
    c: &Conductor,
    config: Value,
    policy: Value,
) -> (RunReport, Vec<EventRecord>) {
    play(
        c,
        chat_melody(json!([chat_step("ask", config, policy)]), json!({})),
    )
    .await
}

/// The error a step failed with.
pub fn failure(events: &[EventRecord]) -> String {
    events
        .iter()
        .find_map(|e| match &e.event {
            RunEvent::StepFailed { error, .. } => Some(error.clone()),
            _ => None,
        })
        .unwrap_or_else(|| panic!("no step failed: {events:#?}"))
}

/// The errors of the attempts that were retried.
pub fn retried(events: &[EventRecord]) -> Vec<(String, u64)> {
    events
        .iter()
        .filter_map(|e| match &e.event {
            RunEvent::StepRetrying {
                error, delay_ms, ..
            } => Some((error.clone(), *delay_ms)),
            _ => None,
        })
        .collect()
}

/// Streamed progress text, in order.
pub fn progress(events: &[EventRecord]) -> Vec<(String, u64)> {
    events
        .iter()
        .filter_map(|e| match &e.event {
            RunEvent::StepProgress { text, tokens, .. } => Some((text.clone(), *tokens)),
            _ => None,
        })
        .collect()
}

/// The outputs of a succeeded step.
pub fn outputs(events: &[EventRecord], id: &str) -> serde_json::Map<String, Value> {
    events
        .iter()
        .find_map(|e| match &e.event {
            RunEvent::StepOutput { step, outputs } if &**step == id => Some(outputs.0.clone()),
            _ => None,
        })
        .unwrap_or_else(|| panic!("no output from {id}: {events:#?}"))
}

/// Every event, as the JSON a host would write, for leak checks.
pub fn all_json(report: &RunReport, events: &[EventRecord]) -> String {
    let mut s = serde_json::to_string(report).unwrap();
    for e in events {
        s.push_str(&serde_json::to_string(e).unwrap());
    }
    s
}
