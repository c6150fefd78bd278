//! What an `instrument.chat` step records of each request, against the loopback servers: one
//! `stepExchange` per request (the body as sent, the raw response or stream text, capped) and
//! `info` log lines saying where it went, what came back and how long it took. Never a header,
//! never the key.

#![allow(clippy::unwrap_used)] // Tests unwrap: a panic is the failure report.

mod common;

use common::*;
use serde_json::{json, Value};
use symphony_conductor::{EventRecord, RunEvent, StepOutcome, EXCHANGE_CAP};
use symphony_instruments::ProviderLimits;

fn standard() -> symphony_conductor::Conductor {
    conductor(ProviderLimits::default(), quick())
}

fn openai_cfg(server: &Server) -> Value {
    json!({
        "baseUrl": server.url("/v1"),
        "model": "gpt-4o-mini",
        "credential": "openai",
        "system": "You are terse.",
        "prompt": "Tell me about {{topic}}",
    })
}

/// (attempt, url, status, request, response, truncated) of every exchange.
type Exchange = (u32, String, Option<u16>, Value, String, bool);

fn exchanges(events: &[EventRecord]) -> Vec<Exchange> {
    events
        .iter()
        .filter_map(|e| match &e.event {
            RunEvent::StepExchange {
                attempt,
                url,
                status,
                request,
                response,
                truncated,
                ..
            } => Some((
                *attempt,
                url.clone(),
                *status,
                request.clone(),
                response.clone(),
                *truncated,
            )),
            _ => None,
        })
        .collect()
}

/// (stream, line) of every log line.
fn logs(events: &[EventRecord]) -> Vec<(String, String)> {
    events
        .iter()
        .filter_map(|e| match &e.event {
            RunEvent::StepLog { stream, line, .. } => Some((stream.to_string(), line.clone())),
            _ => None,
        })
        .collect()
}

#[tokio::test]
async fn a_streamed_call_records_the_request_sent_and_the_stream_received() {
    let server = Server::always(
        Reply::stream(openai_stream(&["Rivers ", "flow."], "stop", Some((12, 37)))).paced(20),
    )
    .await;
    let (report, events) = play_one(&standard(), openai_cfg(&server), json!({})).await;
    assert_eq!(
        outcome(&report, "ask"),
        StepOutcome::Succeeded,
        "{events:#?}"
    );
    let found = exchanges(&events);
    assert_eq!(found.len(), 1, "{found:#?}");
    let (attempt, url, status, request, response, truncated) = &found[0];
    assert_eq!(*attempt, 1);
    assert_eq!(url, &server.url("/v1/chat/completions"));
    assert_eq!(*status, Some(200));
    // The body exactly as the server received it.
    assert_eq!(request, &server.requests()[0].body);
    assert_eq!(
        request["messages"],
        json!([
            {"role": "system", "content": "You are terse."},
            {"role": "user", "content": "Tell me about rivers"},
        ])
    );
    // The stream as it came, events and all.
    let sent: String = openai_stream(&["Rivers ", "flow."], "stop", Some((12, 37))).concat();
    assert_eq!(response, &sent);
    assert!(response.contains(r#""content":"Rivers ""#) && response.ends_with("data: [DONE]\n\n"));
    assert!(!truncated);

    let lines = logs(&events);
    assert_eq!(lines.len(), 1, "{lines:?}");
    let (stream, line) = &lines[0];
    assert_eq!(stream, "info");
    let head = format!(
        "POST {} → 200, first byte after ",
        server.url("/v1/chat/completions")
    );
    assert!(
        line.starts_with(&head) && line.contains(" s, 37 tokens in ") && line.ends_with(" s"),
        "{line}"
    );
    // Headers, and with them the key, are not recorded.
    let all = all_json(&report, &events);
    assert!(!all.contains(KEY) && !all.to_lowercase().contains("bearer"));
}

#[tokio::test]
async fn each_attempt_has_its_exchange_and_a_failed_one_its_error_line() {
    let server = Server::sequence(vec![
        Reply::json(
            503,
            json!({"error": {"message": "The server is overloaded", "type": "server_error"}}),
        ),
        Reply::json(200, openai_whole("Fine.", "stop", Some((5, 2)))),
    ])
    .await;
    let (report, events) = play_one(&standard(), openai_cfg(&server), one_retry()).await;
    assert_eq!(outcome(&report, "ask"), StepOutcome::Succeeded);
    let found = exchanges(&events);
    assert_eq!(
        found.iter().map(|x| (x.0, x.2)).collect::<Vec<_>>(),
        vec![(1, Some(503)), (2, Some(200))]
    );
    assert_eq!(
        found[0].4,
        r#"{"error":{"message":"The server is overloaded","type":"server_error"}}"#
    );
    assert_eq!(
        serde_json::from_str::<Value>(&found[1].4).unwrap(),
        openai_whole("Fine.", "stop", Some((5, 2)))
    );
    let lines: Vec<String> = logs(&events).into_iter().map(|l| l.1).collect();
    assert_eq!(lines.len(), 3, "{lines:?}");
    let url = server.url("/v1/chat/completions");
    assert!(
        lines[0].starts_with(&format!("POST {url} → 503 after ")),
        "{lines:?}"
    );
    assert!(
        lines[1].starts_with("error: the OpenAI-compatible server failed on its side (503"),
        "{lines:?}"
    );
    assert!(
        lines[2].starts_with(&format!("POST {url} → 200, first byte after "))
            && lines[2].contains(", 2 tokens in "),
        "{lines:?}"
    );
}

#[tokio::test]
async fn an_anthropic_call_is_recorded_the_same_way() {
    let server = Server::always(Reply::stream(anthropic_stream(
        &["Looks ", "sound."],
        "end_turn",
        30,
        5,
    )))
    .await;
    let cfg = json!({
        "provider": "anthropic",
        "baseUrl": server.url(""),
        "model": "claude-sonnet-4-5",
        "credential": "anthropic",
        "prompt": "Review {{topic}}",
    });
    let (report, events) = play_one(&standard(), cfg, json!({})).await;
    assert_eq!(
        outcome(&report, "ask"),
        StepOutcome::Succeeded,
        "{events:#?}"
    );
    let found = exchanges(&events);
    assert_eq!(found.len(), 1);
    let (_, url, status, request, response, _) = &found[0];
    assert_eq!(url, &server.url("/v1/messages"));
    assert_eq!(*status, Some(200));
    assert_eq!(
        request["messages"],
        json!([{"role": "user", "content": "Review rivers"}])
    );
    assert_eq!(request, &server.requests()[0].body);
    assert!(
        response.contains("event: message_stop") && response.contains(r#""text":"sound.""#),
        "{response}"
    );
    assert!(!all_json(&report, &events).contains(KEY));
}

#[tokio::test]
async fn a_large_answer_is_cut_at_the_cap_and_marked() {
    let text = "river ".repeat(60_000);
    let server = Server::always(Reply::json(200, openai_whole(&text, "stop", None))).await;
    let mut cfg = openai_cfg(&server);
    cfg["stream"] = json!(false);
    let (report, events) = play_one(&standard(), cfg, json!({})).await;
    assert_eq!(outcome(&report, "ask"), StepOutcome::Succeeded);
    // The output is whole; only the record of the raw body is cut.
    assert_eq!(outputs(&events, "ask")["output"], json!(text));
    let found = exchanges(&events);
    let (_, _, _, request, response, truncated) = &found[0];
    assert_eq!(request["stream"], json!(false));
    assert!(*truncated);
    assert!(response.len() <= EXCHANGE_CAP && response.len() > EXCHANGE_CAP - 8);
    assert!(response.starts_with('{'));
}

#[tokio::test]
async fn a_call_cut_short_by_the_step_timeout_is_still_recorded() {
    let server = Server::always(Reply::Hang).await;
    let (report, events) =
        play_one(&standard(), openai_cfg(&server), json!({"timeoutMs": 200})).await;
    assert_eq!(outcome(&report, "ask"), StepOutcome::Failed);
    let found = exchanges(&events);
    assert_eq!(found.len(), 1, "{found:#?}");
    assert_eq!((found[0].2, found[0].4.as_str()), (None, ""));
    assert_eq!(found[0].3["model"], "gpt-4o-mini");
    let lines = logs(&events);
    assert!(
        lines[0].1.starts_with(&format!(
            "POST {} → no answer, stopped after 0.",
            server.url("/v1/chat/completions")
        )) && lines[0]
            .1
            .ends_with("(the attempt timed out or was cancelled)"),
        "{lines:?}"
    );
}
