//! The Anthropic Messages API, natively: `POST {baseUrl}/v1/messages` with `x-api-key` and
//! `anthropic-version: 2023-06-01`.
//!
//! Streams are named server-sent events: `message_start` (carries the input token count),
//! `content_block_start` / `content_block_delta` / `content_block_stop` per text or tool-use
//! block, `message_delta` (the stop reason and the output token count), `message_stop` (the
//! end), `ping` (keep-alive), and `error` (e.g. `overloaded_error` mid-stream). A stream that
//! ends without `message_stop` was cut.
//!
//! Structured output: the Messages API has no response-format field, so a schema is passed as
//! a tool the model is forced to call (`tool_choice: {type: "tool", name: "answer"}`); its
//! input is the answer. The caller validates it either way.

use std::collections::BTreeMap;

use reqwest::header::{HeaderMap, HeaderName, HeaderValue};
use serde_json::{json, Map, Value};
use symphony_conductor::{BoxFuture, ErrorKind, StepError};

use super::http::{
    arguments, content_type, json_message, malformed, next_chunk, not_json, post, read_body,
    Endpoint,
};
use super::{Answer, Call, ChatRequest, Format, WireFormat};
use crate::discovery::Endpoints;
use crate::sse::SseParser;

/// The format, as the rest of Symphony sees it.
pub(crate) static FORMAT: Format = Format {
    name: "anthropic",
    label: "Anthropic",
    about: "\"anthropic\"",
    default_base_url: "https://api.anthropic.com",
    credential: "anthropic",
    // The API refuses a temperature above 1.
    max_temperature: 1.0,
    wire: &Anthropic,
};

/// Anthropic's Messages API.
struct Anthropic;

impl WireFormat for Anthropic {
    /// A forced tool needs an object schema and no other tools to choose from.
    fn native_schema(&self, schema: &Value, has_tools: bool) -> bool {
        !has_tools && schema.get("type") == Some(&json!("object"))
    }

    fn discovery_base_url<'e>(&self, endpoints: &'e Endpoints) -> &'e str {
        &endpoints.anthropic
    }

    fn models_request(
        &self,
        client: &reqwest::Client,
        base_url: &str,
        key: Option<&str>,
    ) -> reqwest::RequestBuilder {
        client
            .get(messages_url(base_url).replace("/messages", "/models"))
            .header("x-api-key", key.unwrap_or_default())
            .header("anthropic-version", VERSION)
    }

    fn chat<'f>(
        &'f self,
        call: &'f Call<'f>,
        on_text: &'f mut (dyn FnMut(&str) + Send),
    ) -> BoxFuture<'f, Result<Answer, StepError>> {
        Box::pin(chat(&call.ep, call.req, on_text))
    }
}

/// The API version this code speaks.
const VERSION: &str = "2023-06-01";

/// The name of the forced tool that carries a structured answer.
const ANSWER_TOOL: &str = "answer";

/// `max_tokens` is required by the API; this is used when the step sets none.
const DEFAULT_MAX_TOKENS: u64 = 4096;

/// The messages URL for a base URL (with or without its `/v1`).
fn messages_url(base_url: &str) -> String {
    if base_url.ends_with("/v1") {
        format!("{base_url}/messages")
    } else {
        format!("{base_url}/v1/messages")
    }
}

/// Plays one chat call.
async fn chat(
    ep: &Endpoint<'_>,
    req: &ChatRequest,
    on_text: &mut (dyn FnMut(&str) + Send),
) -> Result<Answer, StepError> {
    let url = messages_url(ep.base_url);
    let mut headers = HeaderMap::new();
    headers.insert(
        HeaderName::from_static("anthropic-version"),
        HeaderValue::from_static(VERSION),
    );
    if let Some(secret) = ep.secret {
        let mut v = HeaderValue::from_str(secret.expose()).map_err(|_| {
            StepError::fatal(
                ErrorKind::Config,
                format!(
                    "credential `{}` holds characters that cannot go in an HTTP header (a newline?)",
                    ep.credential.unwrap_or("?")
                ),
            )
        })?;
        v.set_sensitive(true);
        headers.insert(HeaderName::from_static("x-api-key"), v);
    }
    let body = request_body(req);
    let bytes = serde_json::to_vec(&body).expect("a JSON value always serializes");
    ep.record.request(&url, body);
    let mut resp = post(ep, &url, headers, bytes).await?;
    let ct = content_type(resp.headers());
    if !req.stream || !ct.contains("event-stream") {
        let bytes = read_body(resp, ep, &url).await?;
        let v: Value = serde_json::from_slice(&bytes)
            .map_err(|e| not_json(ep.label, &url, &ct, &bytes, &e))?;
        if v.get("type").and_then(Value::as_str) == Some("error") {
            return Err(error_event(ep, &url, &v));
        }
        let answer = message(&v, on_text);
        return finish(ep, answer);
    }

    let mut parser = SseParser::with_limit(ep.limits.sse_line_bytes);
    let mut state = StreamState::default();
    let mut received = 0;
    'read: loop {
        let chunk = next_chunk(&mut resp, ep, &url, received).await?;
        let events = match &chunk {
            Some(bytes) => {
                received += bytes.len();
                parser.push_limited(bytes)
            }
            None => parser.finish(),
        }
        .map_err(|t| super::http::line_too_long(ep, &url, t))?;
        for event in events {
            let v: Value = serde_json::from_str(&event.data)
                .map_err(|e| malformed(ep.label, &url, "a stream event", &event.data, &e))?;
            let kind = event
                .event
                .as_deref()
                .or_else(|| v.get("type").and_then(Value::as_str))
                .unwrap_or("")
                .to_owned();
            if kind == "error" {
                return Err(error_event(ep, &url, &v));
            }
            if state.apply(&kind, &v, on_text) {
                break 'read;
            }
        }
        if chunk.is_none() {
            break;
        }
    }
    if !state.stopped {
        return Err(StepError::retryable(
            ErrorKind::Instrument,
            format!(
                "the stream from {} at {url} ended before message_stop (after {} characters); the partial answer was dropped",
                ep.label,
                state.answer.text.chars().count()
            ),
        ));
    }
    let answer = state.into_answer();
    finish(ep, answer)
}

/// The request body.
fn request_body(req: &ChatRequest) -> Value {
    let mut body = Map::new();
    body.insert("model".into(), json!(req.model));
    body.insert(
        "max_tokens".into(),
        json!(req.max_tokens.unwrap_or(DEFAULT_MAX_TOKENS)),
    );
    body.insert(
        "messages".into(),
        json!([{"role": "user", "content": req.prompt}]),
    );
    if let Some(system) = req.system.as_deref().filter(|s| !s.is_empty()) {
        body.insert("system".into(), json!(system));
    }
    if let Some(t) = req.temperature {
        body.insert("temperature".into(), json!(t));
    }
    if !req.stop.is_empty() {
        body.insert("stop_sequences".into(), json!(req.stop));
    }
    if req.stream {
        body.insert("stream".into(), json!(true));
    }
    let mut tools = req.tools.clone().unwrap_or_default();
    if let Some(schema) = &req.schema {
        tools.push(json!({
            "name": ANSWER_TOOL,
            "description": "Give the answer as JSON that matches the input schema.",
            "input_schema": schema,
        }));
        body.insert(
            "tool_choice".into(),
            json!({"type": "tool", "name": ANSWER_TOOL}),
        );
    }
    if !tools.is_empty() {
        body.insert("tools".into(), Value::Array(tools));
    }
    Value::Object(body)
}

/// Reads a whole (non-streamed) message.
fn message(v: &Value, on_text: &mut (dyn FnMut(&str) + Send)) -> Answer {
    let mut answer = Answer {
        finish_reason: v
            .get("stop_reason")
            .and_then(Value::as_str)
            .map(str::to_owned),
        ..Answer::default()
    };
    for block in v
        .get("content")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        match block.get("type").and_then(Value::as_str) {
            Some("text") => {
                if let Some(t) = block.get("text").and_then(Value::as_str) {
                    answer.text.push_str(t);
                }
            }
            Some("tool_use") => {
                let input = block.get("input").cloned().unwrap_or(json!({}));
                push_tool(&mut answer, block.get("id"), block.get("name"), input);
            }
            _ => {}
        }
    }
    if let Some(u) = v.get("usage") {
        answer.input_tokens = input_tokens(u);
        answer.output_tokens = u.get("output_tokens").and_then(Value::as_u64);
    }
    if !answer.text.is_empty() {
        on_text(&answer.text);
    }
    answer
}

fn push_tool(answer: &mut Answer, id: Option<&Value>, name: Option<&Value>, input: Value) {
    if name.and_then(Value::as_str) == Some(ANSWER_TOOL) && answer.structured.is_none() {
        answer.structured = Some(input);
    } else {
        answer.tool_calls.push(json!({
            "id": id.cloned().unwrap_or(Value::Null),
            "name": name.cloned().unwrap_or(Value::Null),
            "arguments": input,
        }));
    }
}

/// Input tokens, cached ones included (they are input the model read).
fn input_tokens(usage: &Value) -> Option<u64> {
    let get = |k: &str| usage.get(k).and_then(Value::as_u64);
    get("input_tokens").map(|n| {
        n + get("cache_creation_input_tokens").unwrap_or(0)
            + get("cache_read_input_tokens").unwrap_or(0)
    })
}

/// Checks how the answer ended.
fn finish(ep: &Endpoint<'_>, answer: Answer) -> Result<Answer, StepError> {
    if answer.finish_reason.as_deref() == Some("refusal") {
        return Err(StepError::fatal(
            ErrorKind::Refused,
            format!(
                "the model at {} refused to answer (stop_reason refusal){}; trying the same prompt again will not help",
                ep.label,
                if answer.text.is_empty() {
                    String::new()
                } else {
                    format!(": \"{}\"", super::http::shorten(&answer.text, 300))
                }
            ),
        ));
    }
    Ok(answer)
}

/// An `error` event or body: overloaded and API errors are worth retrying, rate limits too;
/// the rest (invalid request, authentication) are not.
fn error_event(ep: &Endpoint<'_>, url: &str, v: &Value) -> StepError {
    let said = json_message(v);
    let text = format!(
        "{} at {url} reported {}: {}",
        ep.label,
        said.code.as_deref().unwrap_or("an error"),
        said.text
    );
    match said.code.as_deref() {
        Some("rate_limit_error") => StepError::retryable(ErrorKind::RateLimited, text),
        Some("overloaded_error" | "api_error" | "timeout_error") | None => StepError::retryable(
            ErrorKind::Instrument,
            format!("{text}; trying again may help"),
        ),
        Some("authentication_error" | "permission_error") => StepError::fatal(
            ErrorKind::Config,
            format!("{text}; {}", ep.credential_hint()),
        ),
        Some(_) => StepError::fatal(ErrorKind::Instrument, text),
    }
}

/// A content block being streamed.
#[derive(Debug)]
enum Block {
    Text,
    Tool {
        id: Value,
        name: Value,
        json: String,
    },
    Other,
}

#[derive(Debug, Default)]
struct StreamState {
    answer: Answer,
    blocks: BTreeMap<u64, Block>,
    stopped: bool,
}

impl StreamState {
    /// Applies one event; true at `message_stop`.
    fn apply(&mut self, kind: &str, v: &Value, on_text: &mut (dyn FnMut(&str) + Send)) -> bool {
        let index = v.get("index").and_then(Value::as_u64).unwrap_or(0);
        match kind {
            "message_start" => {
                if let Some(u) = v.get("message").and_then(|m| m.get("usage")) {
                    self.answer.input_tokens = input_tokens(u);
                    self.answer.output_tokens = u.get("output_tokens").and_then(Value::as_u64);
                }
            }
            "content_block_start" => {
                let b = v.get("content_block").cloned().unwrap_or(Value::Null);
                let block = match b.get("type").and_then(Value::as_str) {
                    Some("text") => {
                        if let Some(t) = b
                            .get("text")
                            .and_then(Value::as_str)
                            .filter(|t| !t.is_empty())
                        {
                            self.answer.text.push_str(t);
                            on_text(t);
                        }
                        Block::Text
                    }
                    Some("tool_use") => Block::Tool {
                        id: b.get("id").cloned().unwrap_or(Value::Null),
                        name: b.get("name").cloned().unwrap_or(Value::Null),
                        json: String::new(),
                    },
                    _ => Block::Other,
                };
                self.blocks.insert(index, block);
            }
            "content_block_delta" => {
                let d = v.get("delta").cloned().unwrap_or(Value::Null);
                match (
                    d.get("type").and_then(Value::as_str),
                    self.blocks.get_mut(&index),
                ) {
                    (Some("text_delta"), _) => {
                        if let Some(t) = d.get("text").and_then(Value::as_str) {
                            self.answer.text.push_str(t);
                            on_text(t);
                        }
                    }
                    (Some("input_json_delta"), Some(Block::Tool { name, json, .. })) => {
                        if let Some(p) = d.get("partial_json").and_then(Value::as_str) {
                            json.push_str(p);
                            if name.as_str() == Some(ANSWER_TOOL) {
                                on_text(p);
                            }
                        }
                    }
                    _ => {}
                }
            }
            "content_block_stop" => {
                if let Some(Block::Tool { id, name, json }) = self.blocks.remove(&index) {
                    let input = arguments(&Value::String(json));
                    push_tool(&mut self.answer, Some(&id), Some(&name), input);
                }
            }
            "message_delta" => {
                if let Some(r) = v
                    .get("delta")
                    .and_then(|d| d.get("stop_reason"))
                    .and_then(Value::as_str)
                {
                    self.answer.finish_reason = Some(r.to_owned());
                }
                if let Some(u) = v.get("usage") {
                    if let Some(n) = u.get("output_tokens").and_then(Value::as_u64) {
                        self.answer.output_tokens = Some(n);
                    }
                    if let Some(n) = input_tokens(u) {
                        self.answer.input_tokens = Some(n);
                    }
                }
            }
            "message_stop" => {
                self.stopped = true;
                return true;
            }
            _ => {}
        }
        false
    }

    fn into_answer(mut self) -> Answer {
        // Tool blocks a server never closed still carry what they received.
        for (_, block) in std::mem::take(&mut self.blocks) {
            if let Block::Tool { id, name, json } = block {
                push_tool(
                    &mut self.answer,
                    Some(&id),
                    Some(&name),
                    arguments(&Value::String(json)),
                );
            }
        }
        self.answer
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_schema_becomes_a_forced_tool() {
        let req = ChatRequest {
            model: "claude".into(),
            system: Some("sys".into()),
            prompt: "hi".into(),
            temperature: None,
            max_tokens: None,
            stop: vec!["X".into()],
            stream: true,
            stream_usage: true,
            schema: Some(json!({"type": "object"})),
            tools: None,
        };
        let b = request_body(&req);
        assert_eq!(b["max_tokens"], DEFAULT_MAX_TOKENS);
        assert_eq!(b["system"], "sys");
        assert_eq!(b["stop_sequences"], json!(["X"]));
        assert_eq!(b["tools"][0]["name"], ANSWER_TOOL);
        assert_eq!(
            b["tool_choice"],
            json!({"type": "tool", "name": ANSWER_TOOL})
        );
        assert_eq!(
            messages_url("https://api.anthropic.com"),
            "https://api.anthropic.com/v1/messages"
        );
        assert_eq!(messages_url("http://x/v1"), "http://x/v1/messages");
    }
}
