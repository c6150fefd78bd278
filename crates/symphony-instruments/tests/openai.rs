//! `instrument.chat` against a loopback OpenAI-compatible server, through the conductor: the
//! normal paths (streamed and whole, usage and cost, schemas, tools) and one test per way a
//! call can fail.

#![allow(clippy::unwrap_used)] // Tests unwrap: a panic is the failure report.

mod common;

use std::time::Duration;

use common::*;
use serde_json::{json, Value};
use symphony_conductor::{RunEvent, StepOutcome};
use symphony_instruments::ProviderLimits;

fn cfg(server: &Server, extra: Value) -> Value {
    let mut c = json!({
        "baseUrl": server.url("/v1"),
        "model": "gpt-4o-mini",
        "credential": "openai",
        "system": "You are terse.",
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
async fn a_streamed_answer_arrives_as_progress_with_usage_and_cost() {
    let server = Server::always(
        Reply::stream(openai_stream(
            &["Rivers ", "flow ", "downhill."],
            "stop",
            Some((1_000_000, 500_000)),
        ))
        .paced(30),
    )
    .await;
    let c = standard();
    let (report, events) = play_one(
        &c,
        cfg(
            &server,
            json!({"temperature": 0.2, "maxTokens": 50, "stop": ["END"]}),
        ),
        json!({}),
    )
    .await;
    assert_eq!(
        outcome(&report, "ask"),
        StepOutcome::Succeeded,
        "{events:#?}"
    );
    let out = outputs(&events, "ask");
    assert_eq!(out["output"], "Rivers flow downhill.");
    assert_eq!(out["finishReason"], "stop");
    assert!(out.get("toolCalls").is_none());
    let streamed = progress(&events);
    assert!(streamed.len() >= 2, "streamed in pieces: {streamed:?}");
    assert_eq!(
        streamed.iter().map(|p| p.0.as_str()).collect::<String>(),
        "Rivers flow downhill."
    );
    let usage = report.steps[0].usage.clone().unwrap();
    assert_eq!(
        (usage.input_tokens, usage.output_tokens, usage.estimated),
        (1_000_000, 500_000, false)
    );
    // gpt-4o-mini: $0.15 in, $0.60 out per million.
    assert!((usage.cost_usd.unwrap() - 0.45).abs() < 1e-9, "{usage:?}");
    assert!((report.totals.cost_usd - 0.45).abs() < 1e-9);

    let req = &server.requests()[0];
    assert_eq!(
        (req.method.as_str(), req.path.as_str()),
        ("POST", "/v1/chat/completions")
    );
    assert_eq!(req.headers["authorization"], format!("Bearer {KEY}"));
    assert_eq!(req.body["model"], "gpt-4o-mini");
    assert_eq!(req.body["stream"], true);
    assert_eq!(req.body["stream_options"], json!({"include_usage": true}));
    assert_eq!(
        req.body["messages"],
        json!([
            {"role": "system", "content": "You are terse."},
            {"role": "user", "content": "Tell me about rivers"},
        ])
    );
    assert_eq!(
        (
            req.body["temperature"].clone(),
            req.body["max_tokens"].clone(),
            req.body["stop"].clone()
        ),
        (json!(0.2), json!(50), json!(["END"]))
    );
    // The prompt is reported for debugging, without the key.
    assert!(events.iter().any(|e| matches!(&e.event, RunEvent::StepPrompt { prompt, .. } if prompt == "Tell me about rivers")));
}

#[tokio::test]
async fn a_whole_answer_without_usage_is_estimated() {
    let server = Server::always(Reply::json(200, openai_whole("Twelve chars", "stop", None))).await;
    let c = standard();
    let (report, events) = play_one(&c, cfg(&server, json!({"stream": false})), json!({})).await;
    assert_eq!(
        outcome(&report, "ask"),
        StepOutcome::Succeeded,
        "{events:#?}"
    );
    assert_eq!(outputs(&events, "ask")["output"], "Twelve chars");
    let usage = report.steps[0].usage.clone().unwrap();
    assert!(usage.estimated);
    assert_eq!(usage.output_tokens, 3); // 12 characters, about 4 a token
                                        // "You are terse." (14) and "Tell me about rivers" (20): 4 + 5 tokens.
    assert_eq!(usage.input_tokens, 9);
    assert!(report.totals.tokens_estimated);
    assert_eq!(server.requests()[0].body["stream"], false);
    assert!(server.requests()[0].body.get("stream_options").is_none());
}

#[tokio::test]
async fn a_stream_without_usage_is_estimated_and_an_unknown_model_has_no_cost() {
    let server = Server::always(Reply::stream(openai_stream(
        &["abcd", "efgh"],
        "stop",
        None,
    )))
    .await;
    let c = standard();
    let (report, _) = play_one(&c, cfg(&server, json!({"model": "llama3.2:3b"})), json!({})).await;
    let usage = report.steps[0].usage.clone().unwrap();
    assert_eq!(
        (usage.output_tokens, usage.estimated, usage.cost_usd),
        (2, true, None)
    );
}

#[tokio::test]
async fn a_server_that_rejects_stream_options_is_asked_again_without() {
    let server = Server::start(|_, req| {
        if req.body.get("stream_options").is_some() {
            Reply::json(400, json!({"error": {"message": "Unrecognized request argument supplied: stream_options", "type": "invalid_request_error"}}))
        } else {
            Reply::stream(openai_stream(&["ok"], "stop", None))
        }
    })
    .await;
    let c = standard();
    let (report, events) = play_one(&c, cfg(&server, json!({})), json!({})).await;
    assert_eq!(
        outcome(&report, "ask"),
        StepOutcome::Succeeded,
        "{events:#?}"
    );
    // Remembered: the next run sends it no more.
    let (report, _) = play_one(&c, cfg(&server, json!({})), json!({})).await;
    assert_eq!(outcome(&report, "ask"), StepOutcome::Succeeded);
    let sent: Vec<bool> = server
        .requests()
        .iter()
        .map(|r| r.body.get("stream_options").is_some())
        .collect();
    assert_eq!(sent, [true, false, false]);
}

#[tokio::test]
async fn rate_limited_with_retry_after_is_retried_after_the_wait() {
    let server = Server::sequence(vec![
        Reply::json(
            429,
            json!({"error": {"message": "Rate limit reached for gpt-4o-mini", "type": "requests"}}),
        )
        .with_header("Retry-After", "1"),
        Reply::stream(openai_stream(&["done"], "stop", Some((5, 1)))),
    ])
    .await;
    let c = standard();
    let (report, events) = play_one(&c, cfg(&server, json!({})), one_retry()).await;
    assert_eq!(
        outcome(&report, "ask"),
        StepOutcome::Succeeded,
        "{events:#?}"
    );
    let r = retried(&events);
    assert_eq!(r.len(), 1);
    assert!(
        r[0].0.contains("rate limiting") && r[0].0.contains("Rate limit reached for gpt-4o-mini"),
        "{}",
        r[0].0
    );
    assert!(r[0].0.contains("asks to wait 1000 ms"), "{}", r[0].0);
    assert!(
        r[0].1 >= 1000,
        "the retry waits at least the Retry-After: {r:?}"
    );
    let starts: Vec<u64> = events
        .iter()
        .filter_map(|e| match &e.event {
            RunEvent::StepStarted { .. } => Some(e.at_ms),
            _ => None,
        })
        .collect();
    assert!(starts[1] - starts[0] >= 1000, "{starts:?}");
}

#[tokio::test]
async fn retry_after_as_an_http_date_is_honoured() {
    let date = httpdate::fmt_http_date(std::time::SystemTime::now() + Duration::from_secs(2));
    let server = Server::sequence(vec![
        Reply::json(429, json!({"error": "slow down"})).with_header("Retry-After", &date),
        Reply::stream(openai_stream(&["done"], "stop", None)),
    ])
    .await;
    let (report, events) = play_one(&standard(), cfg(&server, json!({})), one_retry()).await;
    assert_eq!(outcome(&report, "ask"), StepOutcome::Succeeded);
    let r = retried(&events);
    // An HTTP date has whole seconds: between 1 and 2 s from now.
    assert!(r[0].1 >= 900 && r[0].1 <= 2000, "{r:?}");
    assert!(r[0].0.contains("slow down"), "{r:?}");
}

#[tokio::test]
async fn a_server_error_is_retried() {
    let server = Server::sequence(vec![
        Reply::text(
            502,
            "text/html",
            "<html><head><title>502 Bad Gateway</title></head><body>nginx</body></html>",
        ),
        Reply::stream(openai_stream(&["fine"], "stop", None)),
    ])
    .await;
    let (report, events) = play_one(&standard(), cfg(&server, json!({})), one_retry()).await;
    assert_eq!(outcome(&report, "ask"), StepOutcome::Succeeded);
    let r = retried(&events);
    assert!(
        r[0].0.contains("failed on its side (502") && r[0].0.contains("502 Bad Gateway"),
        "{r:?}"
    );
}

#[tokio::test]
async fn a_wrong_key_is_fatal_names_the_credential_and_never_shows_the_key() {
    // Some servers echo the key they were sent.
    let server = Server::always(Reply::json(401, json!({"error": {"message": format!("Incorrect API key provided: {KEY}. You can find your API key at https://platform.openai.com/account/api-keys."), "type": "invalid_request_error", "code": "invalid_api_key"}}))).await;
    let (report, events) = play_one(&standard(), cfg(&server, json!({})), one_retry()).await;
    assert_eq!(outcome(&report, "ask"), StepOutcome::Failed);
    assert!(retried(&events).is_empty(), "a wrong key is not retried");
    let e = failure(&events);
    assert!(
        e.contains("refused the credential (401")
            && e.contains("check credential `openai`")
            && e.contains("$OPENAI_API_KEY"),
        "{e}"
    );
    assert!(e.contains("Incorrect API key provided: ***"), "{e}");
    // The raw error body is kept with the attempt, scrubbed like the rest.
    let exchange = events
        .iter()
        .find_map(|e| match &e.event {
            RunEvent::StepExchange {
                status, response, ..
            } => Some((*status, response.clone())),
            _ => None,
        })
        .expect("the call is recorded");
    assert_eq!(exchange.0, Some(401));
    assert!(
        exchange.1.contains("Incorrect API key provided: ***."),
        "{}",
        exchange.1
    );
    assert!(!all_json(&report, &events).contains(KEY));
}

#[tokio::test]
async fn a_bad_request_is_fatal_with_the_providers_words() {
    let server = Server::always(Reply::json(400, json!({"error": {"message": "This model's maximum context length is 128000 tokens.", "type": "invalid_request_error", "code": "context_length_exceeded"}}))).await;
    let (report, events) = play_one(&standard(), cfg(&server, json!({})), one_retry()).await;
    assert_eq!(outcome(&report, "ask"), StepOutcome::Failed);
    assert!(retried(&events).is_empty());
    let e = failure(&events);
    assert!(
        e.contains(
            "rejected the request (400: This model's maximum context length is 128000 tokens.)"
        ),
        "{e}"
    );
}

#[tokio::test]
async fn a_missing_model_on_a_local_server_says_what_to_check() {
    let server = Server::always(Reply::json(
        404,
        json!({"error": "model \"llama9\" not found, try pulling it first"}),
    ))
    .await;
    let (_, events) = play_one(
        &standard(),
        cfg(&server, json!({"model": "llama9"})),
        json!({}),
    )
    .await;
    let e = failure(&events);
    assert!(
        e.contains("404 not found: model \"llama9\" not found, try pulling it first")
            && e.contains("check config.baseUrl and config.model"),
        "{e}"
    );
}

#[tokio::test]
async fn a_refused_connection_says_the_url_and_asks_if_the_server_runs() {
    // A port that was just free: nothing listens there.
    let addr = nothing_listens();
    let config = json!({"baseUrl": format!("http://{addr}/v1"), "model": "m", "prompt": "hi"});
    let (report, events) = play_one(&standard(), config, one_retry()).await;
    assert_eq!(outcome(&report, "ask"), StepOutcome::Failed);
    let r = retried(&events);
    assert_eq!(r.len(), 1, "refused is retryable");
    assert!(
        r[0].0
            .contains(&format!("http://{addr}/v1/chat/completions"))
            && r[0]
                .0
                .contains("connection refused; is the server running?"),
        "{r:?}"
    );
}

#[tokio::test]
async fn no_first_byte_in_time_is_a_retryable_timeout() {
    let server = Server::sequence(vec![
        Reply::Hang,
        Reply::stream(openai_stream(&["late but fine"], "stop", None)),
    ])
    .await;
    let (report, events) = play_one(
        &standard(),
        cfg(&server, json!({"firstByteTimeoutMs": 150})),
        one_retry(),
    )
    .await;
    assert_eq!(
        outcome(&report, "ask"),
        StepOutcome::Succeeded,
        "{events:#?}"
    );
    let r = retried(&events);
    assert!(
        r[0].0
            .contains("sent no answer within 150 ms (firstByteTimeoutMs)"),
        "{r:?}"
    );
}

#[tokio::test]
async fn a_stream_that_stalls_is_a_retryable_timeout() {
    let mut chunks = openai_stream(&["Half ", "an "], "stop", None);
    chunks.truncate(3);
    let server = Server::sequence(vec![
        Reply::stream(chunks).ending(End::Stall),
        Reply::stream(openai_stream(&["whole answer"], "stop", None)),
    ])
    .await;
    let (report, events) = play_one(
        &standard(),
        cfg(&server, json!({"idleTimeoutMs": 150})),
        one_retry(),
    )
    .await;
    assert_eq!(
        outcome(&report, "ask"),
        StepOutcome::Succeeded,
        "{events:#?}"
    );
    assert_eq!(outputs(&events, "ask")["output"], "whole answer");
    let r = retried(&events);
    assert!(
        r[0].0
            .contains("stopped sending for 150 ms (idleTimeoutMs)")
            && r[0].0.contains("partial answer was dropped"),
        "{r:?}"
    );
    // The stalled connection was closed by the client, not left open.
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(server.closed_by_client(), 1);
}

#[tokio::test]
async fn a_stream_cut_mid_answer_is_retryable() {
    let mut chunks = openai_stream(&["Half ", "an "], "stop", None);
    chunks.truncate(3);
    let server = Server::always(Reply::stream(chunks).ending(End::Cut)).await;
    let (report, events) = play_one(&standard(), cfg(&server, json!({})), one_retry()).await;
    assert_eq!(outcome(&report, "ask"), StepOutcome::Failed);
    let r = retried(&events);
    assert_eq!(r.len(), 1);
    assert!(
        r[0].0.contains("broke after") || r[0].0.contains("ended before the answer was complete"),
        "{r:?}"
    );
    assert!(failure(&events).contains("partial answer was dropped"));
}

#[tokio::test]
async fn a_stream_closed_cleanly_without_an_end_is_cut_too() {
    let mut chunks = openai_stream(&["Half ", "an "], "stop", None);
    chunks.truncate(3);
    let server = Server::always(Reply::stream(chunks)).await;
    let (_, events) = play_one(&standard(), cfg(&server, json!({})), json!({})).await;
    assert!(failure(&events).contains(
        "ended before the answer was complete (after 8 characters, no finish_reason and no [DONE])"
    ));
}

#[tokio::test]
async fn malformed_json_is_retryable_and_quoted() {
    let server = Server::sequence(vec![
        Reply::stream(vec![
            sse(&json!({"choices": [{"index": 0, "delta": {"content": "a"}}]})),
            "data: {\"choices\": [{\"delta\": {\"con\n\n".into(),
        ]),
        Reply::text(200, "application/json", "{\"choices\": [ oops"),
        Reply::stream(openai_stream(&["ok"], "stop", None)),
    ])
    .await;
    let (report, events) = play_one(
        &standard(),
        cfg(&server, json!({})),
        json!({"retry": {"max": 2, "backoffMs": 10, "jitter": false}}),
    )
    .await;
    assert_eq!(
        outcome(&report, "ask"),
        StepOutcome::Succeeded,
        "{events:#?}"
    );
    let r = retried(&events);
    assert!(
        r[0].0
            .contains("sent a stream chunk that is not valid JSON")
            && r[0].0.contains("{\"choices\": [{\"delta\": {\"con"),
        "{r:?}"
    );
    assert!(
        r[1].0.contains("sent an answer that is not valid JSON"),
        "{r:?}"
    );
}

#[tokio::test]
async fn an_html_page_instead_of_json_is_a_config_error() {
    let server = Server::always(Reply::text(
        200,
        "text/html",
        "<!doctype html><html><head><title>Open WebUI</title></head></html>",
    ))
    .await;
    let (_, events) = play_one(
        &standard(),
        cfg(&server, json!({"stream": false})),
        one_retry(),
    )
    .await;
    assert!(retried(&events).is_empty());
    let e = failure(&events);
    assert!(
        e.contains("answered with an HTML page titled \"Open WebUI\"")
            && e.contains("usually ends in /v1"),
        "{e}"
    );
}

#[tokio::test]
async fn a_content_filter_stop_is_fatal() {
    let server = Server::always(Reply::stream(openai_stream(&["I"], "content_filter", None))).await;
    let (report, events) = play_one(&standard(), cfg(&server, json!({})), one_retry()).await;
    assert_eq!(outcome(&report, "ask"), StepOutcome::Failed);
    assert!(retried(&events).is_empty());
    assert!(failure(&events)
        .contains("content filter stopped the answer (finish_reason content_filter)"));
}

#[tokio::test]
async fn a_model_refusal_is_fatal_and_quoted() {
    let body = json!({"choices": [{"index": 0, "message": {"role": "assistant", "content": null, "refusal": "I can't help with that."}, "finish_reason": "stop"}]});
    let server = Server::always(Reply::json(200, body)).await;
    let (_, events) = play_one(
        &standard(),
        cfg(&server, json!({"stream": false})),
        one_retry(),
    )
    .await;
    assert!(retried(&events).is_empty());
    assert!(failure(&events).contains("refused to answer: \"I can't help with that.\""));
}

fn person_schema() -> Value {
    json!({"type": "object", "required": ["name", "age"], "properties": {"name": {"type": "string"}, "age": {"type": "integer", "minimum": 0}}})
}

#[tokio::test]
async fn a_schema_answer_is_parsed_and_passed_natively() {
    let server = Server::always(Reply::stream(openai_stream(
        &["{\"name\": \"Ada\",", " \"age\": 36}"],
        "stop",
        Some((10, 8)),
    )))
    .await;
    let (report, events) = play_one(
        &standard(),
        cfg(&server, json!({"schema": person_schema()})),
        json!({}),
    )
    .await;
    assert_eq!(
        outcome(&report, "ask"),
        StepOutcome::Succeeded,
        "{events:#?}"
    );
    assert_eq!(
        outputs(&events, "ask")["output"],
        json!({"name": "Ada", "age": 36})
    );
    let rf = &server.requests()[0].body["response_format"];
    assert_eq!(rf["type"], "json_schema");
    assert_eq!(rf["json_schema"]["schema"], person_schema());
}

#[tokio::test]
async fn a_schema_invalid_answer_is_retryable_with_the_validation_error() {
    let server = Server::sequence(vec![
        Reply::stream(openai_stream(
            &["{\"name\": \"Ada\", \"age\": -3}"],
            "stop",
            None,
        )),
        Reply::stream(openai_stream(&["not json at all"], "length", None)),
        Reply::stream(openai_stream(
            &["```json\n{\"name\": \"Ada\", \"age\": 36}\n```"],
            "stop",
            None,
        )),
    ])
    .await;
    let (report, events) = play_one(
        &standard(),
        cfg(
            &server,
            json!({"schema": person_schema(), "schemaMode": "instruct", "maxTokens": 20}),
        ),
        json!({"retry": {"max": 2, "backoffMs": 10, "jitter": false}}),
    )
    .await;
    assert_eq!(
        outcome(&report, "ask"),
        StepOutcome::Succeeded,
        "{events:#?}"
    );
    let r = retried(&events);
    assert!(
        r[0].0
            .contains("does not match config.schema: at /age: -3 is less than the minimum of 0"),
        "{r:?}"
    );
    assert!(
        r[1].0.contains("the answer is not JSON")
            && r[1]
                .0
                .contains("cut at the token limit of 20; raise maxTokens"),
        "{r:?}"
    );
    assert_eq!(
        outputs(&events, "ask")["output"],
        json!({"name": "Ada", "age": 36})
    );
    // Instruct mode: no response_format, the schema is in the system prompt.
    let body = &server.requests()[0].body;
    assert!(body.get("response_format").is_none());
    assert!(body["messages"][0]["content"]
        .as_str()
        .unwrap()
        .contains("\"minimum\":0"));
}

#[tokio::test]
async fn tool_calls_come_out_as_data() {
    let tools = json!([{"type": "function", "function": {"name": "get_weather", "parameters": {"type": "object", "properties": {"city": {"type": "string"}}}}}]);
    let chunks = vec![
        sse(
            &json!({"choices": [{"index": 0, "delta": {"role": "assistant", "tool_calls": [{"index": 0, "id": "call_1", "type": "function", "function": {"name": "get_weather", "arguments": ""}}]}}]}),
        ),
        sse(
            &json!({"choices": [{"index": 0, "delta": {"tool_calls": [{"index": 0, "function": {"arguments": "{\"city\":"}}]}}]}),
        ),
        sse(
            &json!({"choices": [{"index": 0, "delta": {"tool_calls": [{"index": 0, "function": {"arguments": " \"Oslo\"}"}}]}}]}),
        ),
        sse(&json!({"choices": [{"index": 0, "delta": {}, "finish_reason": "tool_calls"}]})),
        "data: [DONE]\n\n".into(),
    ];
    let server = Server::always(Reply::stream(chunks)).await;
    let (report, events) = play_one(
        &standard(),
        cfg(&server, json!({"tools": tools})),
        json!({}),
    )
    .await;
    assert_eq!(
        outcome(&report, "ask"),
        StepOutcome::Succeeded,
        "{events:#?}"
    );
    let out = outputs(&events, "ask");
    assert_eq!(
        out["toolCalls"],
        json!([{"id": "call_1", "name": "get_weather", "arguments": {"city": "Oslo"}}])
    );
    assert_eq!(out["finishReason"], "tool_calls");
    assert_eq!(out["output"], "");
    assert_eq!(server.requests()[0].body["tools"], tools);
}

#[tokio::test]
async fn a_missing_credential_says_where_to_set_it() {
    let server = Server::always(Reply::stream(openai_stream(&["x"], "stop", None))).await;
    let (_, events) = play_one(
        &standard(),
        cfg(&server, json!({"credential": "nobody"})),
        json!({}),
    )
    .await;
    assert!(failure(&events).contains("no credential `nobody`"));
    assert!(
        server.requests().is_empty(),
        "nothing is sent without the credential"
    );
}

#[tokio::test]
async fn a_step_timeout_drops_the_connection() {
    let server = Server::always(Reply::Hang).await;
    let (report, _) = play_one(
        &standard(),
        cfg(&server, json!({})),
        json!({"timeoutMs": 200}),
    )
    .await;
    assert_eq!(outcome(&report, "ask"), StepOutcome::Failed);
    // The conductor dropped the attempt's future; the server sees the client go.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    while server.closed_by_client() == 0 && tokio::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(server.closed_by_client(), 1);
}

#[test]
fn validation_reports_config_problems_and_missing_capabilities() {
    let c = standard();
    let m = chat_melody(
        json!([{"id": "ask", "kind": "instrument", "type": "instrument.chat",
                "config": {"model": "m", "prompt": "hi", "baseUrl": "ftp://x", "temperature": 9}}]),
        json!({}),
    );
    let problems = symphony_melody::validate(&m, c.registry());
    let text: Vec<String> = problems.iter().map(|p| p.to_string()).collect();
    let all = text.join("\n");
    assert!(
        all.contains("config.baseUrl") && all.contains("config.temperature"),
        "{all}"
    );
    assert!(
        all.contains("`instrument.chat` needs the `network` capability"),
        "{all}"
    );
    assert!(all.contains("needs the `secrets` capability"), "{all}");
}

#[tokio::test]
async fn a_connection_closed_before_any_answer_is_sent_once_more_without_a_retry_policy() {
    // What a stale keep-alive connection looks like: the request goes out, the connection
    // closes with no byte back. The step has no retry policy; the instrument sends once more
    // on a fresh connection.
    let server = Server::sequence(vec![
        Reply::Drop,
        Reply::stream(openai_stream(&["fresh"], "stop", None)),
    ])
    .await;
    let (report, events) = play_one(&standard(), cfg(&server, json!({})), json!({})).await;
    assert_eq!(
        outcome(&report, "ask"),
        StepOutcome::Succeeded,
        "{events:#?}"
    );
    assert_eq!(outputs(&events, "ask")["output"], "fresh");
    assert_eq!(server.requests().len(), 2);
    assert_eq!(report.steps[0].attempts, 1, "one attempt, sent twice");

    // Closed twice: an error the retry policy acts on, not an endless loop.
    let server = Server::always(Reply::Drop).await;
    let (report, events) = play_one(&standard(), cfg(&server, json!({})), json!({})).await;
    assert_eq!(outcome(&report, "ask"), StepOutcome::Failed);
    assert_eq!(server.requests().len(), 2);
    let failed = events
        .iter()
        .find_map(|e| match &e.event {
            RunEvent::StepFailed { error, .. } => Some(error.clone()),
            _ => None,
        })
        .unwrap();
    assert!(
        failed.contains("connection closed before message completed"),
        "{failed}"
    );
}

#[tokio::test]
async fn an_answer_past_its_limit_stops_the_step_naming_the_limit_and_the_setting() {
    // 200 events of 100 bytes: past an answerBytes of 4 KiB long before the end.
    let pieces: Vec<String> = (0..200).map(|i| format!("{:0>100}", i)).collect();
    let refs: Vec<&str> = pieces.iter().map(String::as_str).collect();
    let server = Server::always(Reply::stream(openai_stream(&refs, "stop", None))).await;
    let m = chat_melody(
        json!([chat_step("ask", cfg(&server, json!({})), json!({}))]),
        json!({"limits": {"answerBytes": 4096}}),
    );
    let (report, events) = play(&standard(), m).await;
    assert_eq!(outcome(&report, "ask"), StepOutcome::Failed);
    let why = failure(&events);
    assert!(
        why.contains("step `ask`: a model's answer is over the limit of 4096 bytes (settings.limits.answerBytes"),
        "{why}"
    );
}

#[tokio::test]
async fn a_stream_line_that_never_ends_stops_the_step() {
    // One `data:` line of 200 KiB without a newline, against a line limit of 64 KiB.
    let endless = format!("data: {{\"x\": \"{}", "a".repeat(200 * 1024));
    let server = Server::always(Reply::stream(vec![endless])).await;
    let m = chat_melody(
        json!([chat_step("ask", cfg(&server, json!({})), json!({}))]),
        json!({"limits": {"sseLineBytes": 65536}}),
    );
    let (report, events) = play(&standard(), m).await;
    assert_eq!(outcome(&report, "ask"), StepOutcome::Failed);
    let why = failure(&events);
    assert!(
        why.contains("a stream line that does not end")
            && why.contains("settings.limits.sseLineBytes"),
        "{why}"
    );
}
