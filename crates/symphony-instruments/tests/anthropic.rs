//! `instrument.chat` with `provider: anthropic` against a loopback server speaking the
//! Messages API: named SSE events, usage from message_start and message_delta, the forced
//! answer tool for schemas, refusals, mid-stream errors, and the API's headers.

#![allow(clippy::unwrap_used)] // Tests unwrap: a panic is the failure report.

mod common;

use common::*;
use serde_json::{json, Value};
use symphony_conductor::{RunEvent, StepOutcome};
use symphony_instruments::ProviderLimits;

fn cfg(server: &Server, extra: Value) -> Value {
    let mut c = json!({
        "provider": "anthropic",
        "baseUrl": server.url(""),
        "model": "claude-sonnet-4-5",
        "credential": "anthropic",
        "system": "Be brief.",
        "prompt": "Tell me about {{topic}}",
    });
    c.as_object_mut()
        .unwrap()
        .extend(extra.as_object().unwrap().clone());
    c
}

fn standard() -> symphony_conductor::Conductor {
    conductor(ProviderLimits::default(), quick())
}

#[tokio::test]
async fn a_streamed_message_gives_text_progress_usage_and_cost() {
    let server = Server::always(
        Reply::stream(anthropic_stream(
            &["Rivers ", "carve ", "valleys."],
            "end_turn",
            1_000_000,
            100_000,
        ))
        .paced(30),
    )
    .await;
    let (report, events) = play_one(
        &standard(),
        cfg(&server, json!({"temperature": 0.5, "stop": ["###"]})),
        json!({}),
    )
    .await;
    assert_eq!(
        outcome(&report, "ask"),
        StepOutcome::Succeeded,
        "{events:#?}"
    );
    let out = outputs(&events, "ask");
    assert_eq!(out["output"], "Rivers carve valleys.");
    assert_eq!(out["finishReason"], "end_turn");
    let streamed = progress(&events);
    assert!(streamed.len() >= 2, "{streamed:?}");
    assert_eq!(
        streamed.iter().map(|p| p.0.as_str()).collect::<String>(),
        "Rivers carve valleys."
    );
    let usage = report.steps[0].usage.clone().unwrap();
    assert_eq!(
        (usage.input_tokens, usage.output_tokens, usage.estimated),
        (1_000_000, 100_000, false)
    );
    // claude-sonnet-4-5: $3 in, $15 out per million.
    assert!((usage.cost_usd.unwrap() - 4.5).abs() < 1e-9, "{usage:?}");

    let req = &server.requests()[0];
    assert_eq!(req.path, "/v1/messages");
    assert_eq!(req.headers["x-api-key"], KEY);
    assert_eq!(req.headers["anthropic-version"], "2023-06-01");
    assert!(!req.headers.contains_key("authorization"));
    assert_eq!(req.body["system"], "Be brief.");
    assert_eq!(
        req.body["messages"],
        json!([{"role": "user", "content": "Tell me about rivers"}])
    );
    assert_eq!(req.body["max_tokens"], 4096);
    assert_eq!(req.body["stream"], true);
    assert_eq!(req.body["stop_sequences"], json!(["###"]));
}

#[tokio::test]
async fn a_whole_message_is_read_with_its_usage() {
    let body = json!({"id": "msg_1", "type": "message", "role": "assistant", "model": "claude-3-5-haiku-20241022",
        "content": [{"type": "text", "text": "Short."}], "stop_reason": "end_turn",
        "usage": {"input_tokens": 10, "cache_read_input_tokens": 5, "output_tokens": 2}});
    let server = Server::always(Reply::json(200, body)).await;
    let (report, events) = play_one(
        &standard(),
        cfg(
            &server,
            json!({"stream": false, "model": "claude-3-5-haiku-20241022", "maxTokens": 64}),
        ),
        json!({}),
    )
    .await;
    assert_eq!(outputs(&events, "ask")["output"], "Short.");
    let usage = report.steps[0].usage.clone().unwrap();
    assert_eq!(
        (usage.input_tokens, usage.output_tokens, usage.estimated),
        (15, 2, false)
    );
    assert!(usage.cost_usd.unwrap() > 0.0);
    assert_eq!(server.requests()[0].body["max_tokens"], 64);
    assert!(server.requests()[0].body.get("stream").is_none());
}

#[tokio::test]
async fn a_schema_is_answered_through_the_forced_tool() {
    let schema = json!({"type": "object", "required": ["title"], "properties": {"title": {"type": "string"}}});
    let chunks = vec![
        named(
            "message_start",
            &json!({"type": "message_start", "message": {"usage": {"input_tokens": 30, "output_tokens": 1}}}),
        ),
        named(
            "content_block_start",
            &json!({"type": "content_block_start", "index": 0, "content_block": {"type": "tool_use", "id": "toolu_1", "name": "answer", "input": {}}}),
        ),
        named(
            "content_block_delta",
            &json!({"type": "content_block_delta", "index": 0, "delta": {"type": "input_json_delta", "partial_json": "{\"title\": "}}),
        ),
        named(
            "content_block_delta",
            &json!({"type": "content_block_delta", "index": 0, "delta": {"type": "input_json_delta", "partial_json": "\"Rivers\"}"}}),
        ),
        named(
            "content_block_stop",
            &json!({"type": "content_block_stop", "index": 0}),
        ),
        named(
            "message_delta",
            &json!({"type": "message_delta", "delta": {"stop_reason": "tool_use"}, "usage": {"output_tokens": 12}}),
        ),
        named("message_stop", &json!({"type": "message_stop"})),
    ];
    let server = Server::always(Reply::stream(chunks)).await;
    let (report, events) = play_one(
        &standard(),
        cfg(&server, json!({"schema": schema})),
        json!({}),
    )
    .await;
    assert_eq!(
        outcome(&report, "ask"),
        StepOutcome::Succeeded,
        "{events:#?}"
    );
    let out = outputs(&events, "ask");
    assert_eq!(out["output"], json!({"title": "Rivers"}));
    assert!(
        out.get("toolCalls").is_none(),
        "the answer tool is not a tool call"
    );
    assert_eq!(
        progress(&events)
            .iter()
            .map(|p| p.0.as_str())
            .collect::<String>(),
        "{\"title\": \"Rivers\"}"
    );
    let body = &server.requests()[0].body;
    assert_eq!(
        body["tool_choice"],
        json!({"type": "tool", "name": "answer"})
    );
    assert_eq!(body["tools"][0]["input_schema"], schema);
    assert_eq!(report.steps[0].usage.clone().unwrap().output_tokens, 12);
}

#[tokio::test]
async fn a_forced_tool_answer_that_breaks_the_schema_is_retried() {
    let schema = json!({"type": "object", "required": ["title"], "properties": {"title": {"type": "string"}}});
    let reply = |input: Value| {
        Reply::json(
            200,
            json!({"type": "message", "content": [{"type": "tool_use", "id": "t", "name": "answer", "input": input}], "stop_reason": "tool_use", "usage": {"input_tokens": 3, "output_tokens": 3}}),
        )
    };
    let server = Server::sequence(vec![
        reply(json!({"heading": "x"})),
        reply(json!({"title": "ok"})),
    ])
    .await;
    let (report, events) = play_one(
        &standard(),
        cfg(&server, json!({"schema": schema, "stream": false})),
        one_retry(),
    )
    .await;
    assert_eq!(outcome(&report, "ask"), StepOutcome::Succeeded);
    assert!(
        retried(&events)[0]
            .0
            .contains("does not match config.schema: at /: \"title\" is a required property"),
        "{:?}",
        retried(&events)
    );
}

#[tokio::test]
async fn tool_use_blocks_come_out_as_tool_calls() {
    let tools = json!([{"name": "search", "description": "web search", "input_schema": {"type": "object", "properties": {"q": {"type": "string"}}}}]);
    let body = json!({"type": "message", "content": [
        {"type": "text", "text": "Let me look."},
        {"type": "tool_use", "id": "toolu_9", "name": "search", "input": {"q": "rivers"}}
    ], "stop_reason": "tool_use", "usage": {"input_tokens": 3, "output_tokens": 3}});
    let server = Server::always(Reply::json(200, body)).await;
    let (_, events) = play_one(
        &standard(),
        cfg(&server, json!({"tools": tools, "stream": false})),
        json!({}),
    )
    .await;
    let out = outputs(&events, "ask");
    assert_eq!(out["output"], "Let me look.");
    assert_eq!(
        out["toolCalls"],
        json!([{"id": "toolu_9", "name": "search", "arguments": {"q": "rivers"}}])
    );
    assert_eq!(server.requests()[0].body["tools"], tools);
}

#[tokio::test]
async fn a_refusal_is_fatal() {
    let server = Server::always(Reply::stream(anthropic_stream(
        &["I can't"],
        "refusal",
        5,
        2,
    )))
    .await;
    let (report, events) = play_one(&standard(), cfg(&server, json!({})), one_retry()).await;
    assert_eq!(outcome(&report, "ask"), StepOutcome::Failed);
    assert!(retried(&events).is_empty());
    assert!(failure(&events).contains("refused to answer (stop_reason refusal): \"I can't\""));
}

#[tokio::test]
async fn an_overloaded_error_event_mid_stream_is_retried() {
    let mut first = anthropic_stream(&["Partial"], "end_turn", 5, 2);
    first.truncate(4);
    first.push(named(
        "error",
        &json!({"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}}),
    ));
    let server = Server::sequence(vec![
        Reply::stream(first),
        Reply::stream(anthropic_stream(&["Whole"], "end_turn", 5, 2)),
    ])
    .await;
    let (report, events) = play_one(&standard(), cfg(&server, json!({})), one_retry()).await;
    assert_eq!(outcome(&report, "ask"), StepOutcome::Succeeded);
    assert_eq!(outputs(&events, "ask")["output"], "Whole");
    assert!(
        retried(&events)[0]
            .0
            .contains("reported overloaded_error: Overloaded; trying again may help"),
        "{:?}",
        retried(&events)
    );
}

#[tokio::test]
async fn overloaded_529_is_retried_and_a_bad_key_is_not() {
    let server = Server::sequence(vec![
        Reply::json(529, json!({"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}})),
        Reply::json(401, json!({"type": "error", "error": {"type": "authentication_error", "message": format!("invalid x-api-key {KEY}")}})),
    ])
    .await;
    let (report, events) = play_one(
        &standard(),
        cfg(&server, json!({})),
        json!({"retry": {"max": 3, "backoffMs": 10, "jitter": false}}),
    )
    .await;
    assert_eq!(outcome(&report, "ask"), StepOutcome::Failed);
    let r = retried(&events);
    assert_eq!(r.len(), 1, "{r:?}");
    assert!(
        r[0].0
            .contains("Anthropic failed on its side (529: Overloaded)"),
        "{r:?}"
    );
    let e = failure(&events);
    assert!(
        e.contains("Anthropic refused the credential (401: invalid x-api-key ***)")
            && e.contains("check credential `anthropic`"),
        "{e}"
    );
    // Both attempts are recorded, the echoed key scrubbed from the raw body.
    let recorded: Vec<(Option<u16>, String)> = events
        .iter()
        .filter_map(|e| match &e.event {
            RunEvent::StepExchange {
                status, response, ..
            } => Some((*status, response.clone())),
            _ => None,
        })
        .collect();
    assert_eq!(recorded.len(), 2, "{recorded:?}");
    assert_eq!(recorded[1].0, Some(401));
    assert!(
        recorded[1].1.contains("invalid x-api-key ***"),
        "{recorded:?}"
    );
    assert!(!all_json(&report, &events).contains(KEY));
}

#[tokio::test]
async fn a_stream_without_message_stop_was_cut() {
    let mut chunks = anthropic_stream(&["Half"], "end_turn", 5, 2);
    chunks.truncate(4);
    let server = Server::always(Reply::stream(chunks)).await;
    let (_, events) = play_one(&standard(), cfg(&server, json!({})), json!({})).await;
    assert!(failure(&events).contains("ended before message_stop (after 4 characters)"));
}

#[tokio::test]
async fn a_base_url_with_v1_is_not_doubled() {
    let server = Server::always(Reply::stream(anthropic_stream(&["ok"], "end_turn", 1, 1))).await;
    let (report, _) = play_one(
        &standard(),
        cfg(&server, json!({"baseUrl": server.url("/v1")})),
        json!({}),
    )
    .await;
    assert_eq!(outcome(&report, "ask"), StepOutcome::Succeeded);
    assert_eq!(server.requests()[0].path, "/v1/messages");
}
