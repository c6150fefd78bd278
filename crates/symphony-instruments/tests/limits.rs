//! Provider limits shared by every step of every run in the process, measured at the server:
//! however many steps are ready, no more calls are in flight than the limit allows.

#![allow(clippy::unwrap_used)] // Tests unwrap: a panic is the failure report.

mod common;

use std::collections::BTreeMap;

use common::*;
use serde_json::{json, Value};
use symphony_conductor::{BottleneckKind, RunEvent, RunStatus};
use symphony_instruments::{Limits, ProviderLimits};

fn limited(key: &str, max: u32) -> ProviderLimits {
    ProviderLimits {
        default: Limits::default(),
        by_key: BTreeMap::from([(
            key.to_owned(),
            Limits {
                max_concurrent: Some(max),
                ..Limits::default()
            },
        )]),
    }
}

fn slow_server_reply() -> Reply {
    Reply::After(
        15,
        Box::new(Reply::stream(openai_stream(&["ok"], "stop", Some((3, 1))))),
    )
}

fn steps(server: &Server, n: usize, extra: Value) -> Value {
    let mut config =
        json!({"baseUrl": server.url("/v1"), "model": "gpt-4o-mini", "prompt": "item {{topic}}"});
    config
        .as_object_mut()
        .unwrap()
        .extend(extra.as_object().unwrap().clone());
    Value::Array(
        (0..n)
            .map(|i| chat_step(&format!("s{i}"), config.clone(), json!({})))
            .collect(),
    )
}

#[tokio::test]
async fn fifty_parallel_steps_through_a_limit_of_four_never_exceed_four_calls() {
    let server = Server::always(slow_server_reply()).await;
    let key = format!("127.0.0.1:{}", server.addr.port());
    let c = conductor(limited(&key, 4), quick());
    let (report, events) = play(
        &c,
        chat_melody(steps(&server, 50, json!({})), json!({"maxParallel": 50})),
    )
    .await;
    assert_eq!(report.status, RunStatus::Succeeded);
    assert_eq!(server.requests().len(), 50);
    let max = server.max_in_flight();
    assert!(max <= 4, "{max} calls in flight at the server");
    assert!(max >= 2, "the calls did run in parallel ({max})");
    let waits: Vec<&str> = events
        .iter()
        .filter_map(|e| match &e.event {
            RunEvent::Bottleneck {
                kind: BottleneckKind::WaitingForBudget,
                message,
                ..
            } => Some(message.as_str()),
            _ => None,
        })
        .collect();
    assert!(!waits.is_empty() && waits.len() <= 46, "{}", waits.len());
    assert!(
        waits[0].contains(&format!(
            "waiting for `{key}`'s budget: 4 calls in flight, the limit is 4"
        )),
        "{}",
        waits[0]
    );
    assert_eq!(report.totals.input_tokens, 150);
}

#[tokio::test]
async fn the_limit_holds_across_runs_playing_at_once() {
    let server = Server::always(slow_server_reply()).await;
    let key = format!("127.0.0.1:{}", server.addr.port());
    let c = std::sync::Arc::new(conductor(limited(&key, 3), quick()));
    let mut runs = Vec::new();
    for _ in 0..5 {
        let (c, m) = (
            c.clone(),
            chat_melody(steps(&server, 6, json!({})), json!({"maxParallel": 6})),
        );
        runs.push(tokio::spawn(async move { play(&c, m).await.0.status }));
    }
    for r in runs {
        assert_eq!(r.await.unwrap(), RunStatus::Succeeded);
    }
    assert_eq!(server.requests().len(), 30);
    assert!(server.max_in_flight() <= 3, "{}", server.max_in_flight());
}

#[tokio::test]
async fn a_step_can_ask_for_a_lower_limit_in_its_config() {
    let server = Server::always(slow_server_reply()).await;
    let c = conductor(ProviderLimits::default(), quick());
    let (report, _) = play(
        &c,
        chat_melody(
            steps(&server, 12, json!({"limits": {"maxConcurrent": 2}})),
            json!({"maxParallel": 12}),
        ),
    )
    .await;
    assert_eq!(report.status, RunStatus::Succeeded);
    assert!(server.max_in_flight() <= 2, "{}", server.max_in_flight());
}

#[tokio::test]
async fn settings_concurrency_uses_the_provider_key() {
    let server = Server::always(slow_server_reply()).await;
    let key = format!("127.0.0.1:{}", server.addr.port());
    let c = conductor(ProviderLimits::default(), quick());
    let (report, _) = play(
        &c,
        chat_melody(
            steps(&server, 12, json!({})),
            json!({"maxParallel": 12, "concurrency": {key: 1}}),
        ),
    )
    .await;
    assert_eq!(report.status, RunStatus::Succeeded);
    assert_eq!(server.max_in_flight(), 1);
}

#[tokio::test]
async fn a_429_holds_the_other_steps_of_the_provider_too() {
    // The first call is told to wait 1 s; the others, started while it waits, must not call
    // before then either.
    let server = Server::start(|n, _| {
        if n == 0 {
            Reply::json(429, json!({"error": {"message": "slow down"}}))
                .with_header("Retry-After", "1")
        } else {
            Reply::stream(openai_stream(&["ok"], "stop", None))
        }
    })
    .await;
    let key = format!("127.0.0.1:{}", server.addr.port());
    let c = conductor(limited(&key, 1), quick());
    let config = json!({"baseUrl": server.url("/v1"), "model": "m", "prompt": "p"});
    let m = chat_melody(
        json!([
            chat_step("a", config.clone(), one_retry()),
            chat_step("b", config.clone(), json!({})),
            chat_step("c", config, json!({}))
        ]),
        json!({"maxParallel": 3}),
    );
    let (report, events) = play(&c, m).await;
    assert_eq!(report.status, RunStatus::Succeeded, "{events:#?}");
    let reqs = server.requests();
    assert_eq!(reqs.len(), 4);
    // Without the hold, `b` would call as soon as `a`'s 429 freed the only slot.
    for r in &reqs[1..] {
        let gap = r.at - reqs[0].at;
        assert!(
            gap >= std::time::Duration::from_millis(1000),
            "a call {gap:?} after the 429"
        );
    }
}
