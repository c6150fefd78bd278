//! OpenAI-compatible chat completions: `POST {baseUrl}/chat/completions`.
//!
//! One format, many servers: OpenAI itself, OpenRouter, vLLM, LM Studio, llama.cpp's server
//! and Ollama's `/v1`. The differences that matter, and how they are handled:
//!
//! - **Usage.** Missing entirely on some local servers, and in streams unless asked for with
//!   `stream_options: {include_usage: true}`, which a few strict servers reject. It is sent
//!   by default; a 400 that names `stream_options` makes the caller retry without it and
//!   remember that for the base URL. Missing counts are estimated by the caller.
//! - **Token limit.** `max_completion_tokens` on api.openai.com (its newer models refuse
//!   `max_tokens`), `max_tokens` everywhere else (what local servers understand).
//! - **End of stream.** `data: [DONE]`, or a chunk with a `finish_reason` before the server
//!   closes; a stream that ends with neither was cut.
//! - **Errors in a stream** (`data: {"error": ...}`, OpenRouter, vLLM) end the call with the
//!   server's message, as a retryable error.
//! - **A server that ignores `stream: true`** and answers with one JSON body is read as such.

use reqwest::header::{HeaderMap, HeaderValue, AUTHORIZATION};
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
    name: "openai",
    label: "the OpenAI-compatible server",
    about: "\"openai\" (OpenAI-compatible: OpenAI, Ollama, llama.cpp, vLLM, LM Studio, OpenRouter; the default)",
    default_base_url: "https://api.openai.com/v1",
    credential: "openai",
    max_temperature: 2.0,
    wire: &OpenAi,
};

/// The quirk of a server that refuses `stream_options` (a 400 naming it).
const NO_STREAM_OPTIONS: &str = "no stream_options";

/// OpenAI-compatible chat completions.
struct OpenAi;

impl WireFormat for OpenAi {
    fn native_schema(&self, _schema: &Value, _has_tools: bool) -> bool {
        true
    }

    fn discovery_base_url<'e>(&self, endpoints: &'e Endpoints) -> &'e str {
        &endpoints.openai
    }

    fn models_request(
        &self,
        client: &reqwest::Client,
        base_url: &str,
        key: Option<&str>,
    ) -> reqwest::RequestBuilder {
        let req = client.get(format!("{base_url}/models"));
        match key {
            Some(k) => req.bearer_auth(k),
            None => req,
        }
    }

    fn chat<'f>(
        &'f self,
        call: &'f Call<'f>,
        on_text: &'f mut (dyn FnMut(&str) + Send),
    ) -> BoxFuture<'f, Result<Answer, StepError>> {
        Box::pin(async move {
            let (ep, req) = (&call.ep, call.req);
            let include_usage =
                req.stream_usage && !call.quirks.has(ep.base_url, NO_STREAM_OPTIONS);
            match chat(ep, req, include_usage, &mut *on_text).await {
                // A strict server that does not know stream_options: once more without, and
                // never again for this base URL.
                Err(e)
                    if include_usage
                        && req.stream
                        && e.kind == ErrorKind::Config
                        && e.message.contains("stream_options") =>
                {
                    (call.failed)(&e);
                    call.quirks.note(ep.base_url, NO_STREAM_OPTIONS);
                    chat(ep, req, false, on_text).await
                }
                other => other,
            }
        })
    }
}

/// Plays one chat call. `include_usage` asks for usage at the end of a stream.
async fn chat(
    ep: &Endpoint<'_>,
    req: &ChatRequest,
    include_usage: bool,
    on_text: &mut (dyn FnMut(&str) + Send),
) -> Result<Answer, StepError> {
    let url = format!("{}/chat/completions", ep.base_url);
    let body = request_body(req, ep.base_url, include_usage);
    let mut headers = HeaderMap::new();
    if let Some(secret) = ep.secret {
        let mut v = HeaderValue::from_str(&format!("Bearer {}", secret.expose())).map_err(|_| {
            StepError::fatal(
                ErrorKind::Config,
                format!(
                    "credential `{}` holds characters that cannot go in an HTTP header (a newline?)",
                    ep.credential.unwrap_or("?")
                ),
            )
        })?;
        v.set_sensitive(true);
        headers.insert(AUTHORIZATION, v);
    }
    let bytes = serde_json::to_vec(&body).expect("a JSON value always serializes");
    ep.record.request(&url, body);
    let mut resp = post(ep, &url, headers, bytes).await?;
    let ct = content_type(resp.headers());
    if !req.stream || !ct.contains("event-stream") {
        let bytes = read_body(resp, ep, &url).await?;
        let v: Value = serde_json::from_slice(&bytes)
            .map_err(|e| not_json(ep.label, &url, &ct, &bytes, &e))?;
        let answer = completion(ep, &url, &v)?;
        if !answer.text.is_empty() {
            on_text(&answer.text);
        }
        return finish(ep, answer, "");
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
            let data = event.data.trim();
            if data == "[DONE]" {
                state.done = true;
                break 'read;
            }
            if data.is_empty() {
                continue;
            }
            let v: Value = serde_json::from_str(data)
                .map_err(|e| malformed(ep.label, &url, "a stream chunk", data, &e))?;
            state.apply(ep, &url, &v, on_text)?;
        }
        if chunk.is_none() {
            break;
        }
    }
    if !state.done && state.answer.finish_reason.is_none() {
        return Err(StepError::retryable(
            ErrorKind::Instrument,
            format!(
                "the stream from {} at {url} ended before the answer was complete (after {} characters, no finish_reason and no [DONE]); the partial answer was dropped",
                ep.label,
                state.answer.text.chars().count()
            ),
        ));
    }
    let mut answer = state.answer;
    answer.tool_calls = state
        .tools
        .into_iter()
        .map(|t| json!({"id": t.id, "name": t.name, "arguments": arguments(&Value::String(t.arguments))}))
        .collect();
    finish(ep, answer, &state.refusal)
}

/// The request body.
fn request_body(req: &ChatRequest, base_url: &str, include_usage: bool) -> Value {
    let mut messages = Vec::new();
    if let Some(system) = req.system.as_deref().filter(|s| !s.is_empty()) {
        messages.push(json!({"role": "system", "content": system}));
    }
    messages.push(json!({"role": "user", "content": req.prompt}));
    let mut body = Map::new();
    body.insert("model".into(), json!(req.model));
    body.insert("messages".into(), Value::Array(messages));
    body.insert("stream".into(), json!(req.stream));
    if req.stream && include_usage {
        body.insert("stream_options".into(), json!({"include_usage": true}));
    }
    if let Some(t) = req.temperature {
        body.insert("temperature".into(), json!(t));
    }
    if let Some(n) = req.max_tokens {
        let field = if is_openai(base_url) {
            "max_completion_tokens"
        } else {
            "max_tokens"
        };
        body.insert(field.into(), json!(n));
    }
    if !req.stop.is_empty() {
        body.insert("stop".into(), json!(req.stop));
    }
    if let Some(schema) = &req.schema {
        body.insert(
            "response_format".into(),
            json!({"type": "json_schema", "json_schema": {"name": "answer", "schema": schema, "strict": false}}),
        );
    }
    if let Some(tools) = &req.tools {
        body.insert("tools".into(), Value::Array(tools.clone()));
    }
    Value::Object(body)
}

fn is_openai(base_url: &str) -> bool {
    reqwest::Url::parse(base_url)
        .ok()
        .and_then(|u| u.host_str().map(|h| h == "api.openai.com"))
        .unwrap_or(false)
}

/// Reads a whole (non-streamed) completion.
fn completion(ep: &Endpoint<'_>, url: &str, v: &Value) -> Result<Answer, StepError> {
    if v.get("error").is_some_and(|e| !e.is_null()) {
        return Err(stream_error(ep, url, v));
    }
    let choice = v.get("choices").and_then(|c| c.get(0)).ok_or_else(|| {
        StepError::retryable(
            ErrorKind::Instrument,
            format!(
                "{} at {url} answered without any choice: {}",
                ep.label,
                super::http::shorten(&v.to_string(), 200)
            ),
        )
    })?;
    let message = choice.get("message").cloned().unwrap_or(Value::Null);
    let mut answer = Answer {
        text: message
            .get("content")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_owned(),
        finish_reason: choice
            .get("finish_reason")
            .and_then(Value::as_str)
            .map(str::to_owned),
        ..Answer::default()
    };
    if let Some(calls) = message.get("tool_calls").and_then(Value::as_array) {
        answer.tool_calls = calls
            .iter()
            .map(|c| {
                let f = c.get("function").cloned().unwrap_or(Value::Null);
                json!({
                    "id": c.get("id").cloned().unwrap_or(Value::Null),
                    "name": f.get("name").cloned().unwrap_or(Value::Null),
                    "arguments": arguments(f.get("arguments").unwrap_or(&Value::Null)),
                })
            })
            .collect();
    }
    read_usage(v, &mut answer);
    let refusal = message
        .get("refusal")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_owned();
    if !refusal.is_empty() {
        return Err(refused(ep, &refusal));
    }
    Ok(answer)
}

fn read_usage(v: &Value, answer: &mut Answer) {
    if let Some(u) = v.get("usage").filter(|u| u.is_object()) {
        if let Some(n) = u.get("prompt_tokens").and_then(Value::as_u64) {
            answer.input_tokens = Some(n);
        }
        if let Some(n) = u.get("completion_tokens").and_then(Value::as_u64) {
            answer.output_tokens = Some(n);
        }
    }
}

/// Checks how the answer ended.
fn finish(ep: &Endpoint<'_>, answer: Answer, refusal: &str) -> Result<Answer, StepError> {
    if !refusal.is_empty() {
        return Err(refused(ep, refusal));
    }
    if answer.finish_reason.as_deref() == Some("content_filter") {
        return Err(StepError::fatal(
            ErrorKind::Refused,
            format!(
                "{}'s content filter stopped the answer (finish_reason content_filter); trying the same prompt again will not help: rephrase it",
                ep.label
            ),
        ));
    }
    Ok(answer)
}

fn refused(ep: &Endpoint<'_>, refusal: &str) -> StepError {
    StepError::fatal(
        ErrorKind::Refused,
        format!(
            "the model at {} refused to answer: \"{}\"; trying the same prompt again will not help",
            ep.label,
            super::http::shorten(refusal, 300)
        ),
    )
}

/// An error object inside a 200 answer or a stream.
fn stream_error(ep: &Endpoint<'_>, url: &str, v: &Value) -> StepError {
    let said = json_message(v);
    StepError::retryable(
        ErrorKind::Instrument,
        format!(
            "{} at {url} reported an error mid-answer: {}",
            ep.label, said.text
        ),
    )
}

/// A tool call being streamed, by index.
#[derive(Debug, Default)]
struct ToolCall {
    id: Value,
    name: Value,
    arguments: String,
}

#[derive(Debug, Default)]
struct StreamState {
    answer: Answer,
    tools: Vec<ToolCall>,
    refusal: String,
    done: bool,
}

impl StreamState {
    fn apply(
        &mut self,
        ep: &Endpoint<'_>,
        url: &str,
        v: &Value,
        on_text: &mut (dyn FnMut(&str) + Send),
    ) -> Result<(), StepError> {
        if v.get("error").is_some_and(|e| !e.is_null()) {
            return Err(stream_error(ep, url, v));
        }
        read_usage(v, &mut self.answer);
        let Some(choice) = v.get("choices").and_then(|c| c.get(0)) else {
            return Ok(());
        };
        if let Some(reason) = choice.get("finish_reason").and_then(Value::as_str) {
            self.answer.finish_reason = Some(reason.to_owned());
        }
        let Some(delta) = choice.get("delta") else {
            return Ok(());
        };
        if let Some(text) = delta.get("content").and_then(Value::as_str) {
            if !text.is_empty() {
                self.answer.text.push_str(text);
                on_text(text);
            }
        }
        if let Some(text) = delta.get("refusal").and_then(Value::as_str) {
            self.refusal.push_str(text);
        }
        if let Some(calls) = delta.get("tool_calls").and_then(Value::as_array) {
            for (n, c) in calls.iter().enumerate() {
                let i = c
                    .get("index")
                    .and_then(Value::as_u64)
                    .map_or(n, |i| i as usize)
                    .min(1024);
                while self.tools.len() <= i {
                    self.tools.push(ToolCall::default());
                }
                let t = &mut self.tools[i];
                if let Some(id) = c.get("id").filter(|v| !v.is_null()) {
                    t.id = id.clone();
                }
                if let Some(f) = c.get("function") {
                    if let Some(name) = f.get("name").filter(|v| !v.is_null()) {
                        t.name = name.clone();
                    }
                    match f.get("arguments") {
                        Some(Value::String(s)) => t.arguments.push_str(s),
                        Some(Value::Object(o)) => {
                            t.arguments = Value::Object(o.clone()).to_string()
                        }
                        _ => {}
                    }
                }
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req(stream: bool) -> ChatRequest {
        ChatRequest {
            model: "m".into(),
            system: Some("be brief".into()),
            prompt: "hi".into(),
            temperature: Some(0.2),
            max_tokens: Some(100),
            stop: vec!["END".into()],
            stream,
            stream_usage: true,
            schema: Some(json!({"type": "object"})),
            tools: None,
        }
    }

    #[test]
    fn the_body_fits_the_server() {
        let b = request_body(&req(true), "https://api.openai.com/v1", true);
        assert_eq!(b["max_completion_tokens"], 100);
        assert_eq!(b["stream_options"]["include_usage"], true);
        assert_eq!(b["messages"][0]["role"], "system");
        assert_eq!(b["response_format"]["type"], "json_schema");
        assert_eq!(b["stop"], json!(["END"]));
        let local = request_body(&req(true), "http://localhost:11434/v1", false);
        assert_eq!(local["max_tokens"], 100);
        assert!(local.get("stream_options").is_none());
        let whole = request_body(&req(false), "http://localhost:8080/v1", true);
        assert!(whole.get("stream_options").is_none());
    }
}
