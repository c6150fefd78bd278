//! The HTTP every wire format shares: bounded waits on the network (connect, first byte, idle
//! between chunks), recording what a call sent and received, turning HTTP statuses and error
//! bodies into [`StepError`]s a person can act on, and `Retry-After`.
//!
//! **Every await on the network is bounded**: [`post`] by the first-byte timeout (which
//! includes connecting), [`next_chunk`] by the idle timeout. Nothing here holds a connection
//! beyond its future: when the conductor drops a step's future (timeout, cancel), the
//! response is dropped with it and reqwest closes the connection, which tells the server to
//! stop generating.

use std::sync::Mutex;
use std::time::{Duration, SystemTime};

use reqwest::header::{HeaderMap, CONTENT_TYPE, RETRY_AFTER};
use reqwest::{Response, StatusCode};
use serde_json::Value;
use symphony_conductor::{ErrorKind, StepError};
use symphony_credentials::Secret;
use tokio::time::Instant;

use crate::Timeouts;

/// The longest `Retry-After` honoured: a provider asking for more (a daily quota) would hold
/// a run for hours; after this wait the retry fails again and says so.
const MAX_RETRY_AFTER: Duration = Duration::from_secs(600);

/// The most of an error body read (and the most of it shown).
const MAX_ERROR_BODY: usize = 64 * 1024;

/// The most of a whole (non-streamed) answer read: far above any model's answer, low enough
/// that a runaway server cannot exhaust memory.
const MAX_BODY: usize = 32 * 1024 * 1024;

/// What one call sent and received, for the step's `StepExchange` event and log line.
#[derive(Debug, Default)]
pub(crate) struct Recorded {
    /// Where the request went (no query string, no user name); empty when none was sent.
    pub url: String,
    /// The request body as sent.
    pub request: Value,
    /// The response's status, once its head arrived.
    pub status: Option<u16>,
    /// The response body as received, at most [`symphony_conductor::EXCHANGE_CAP`] bytes.
    pub response: Vec<u8>,
    /// True when more of the body arrived than was kept.
    pub truncated: bool,
    /// When the request was sent.
    pub sent: Option<Instant>,
    /// From sending to the first byte of the body (or of the head, for an empty body).
    pub first_byte: Option<Duration>,
}

/// Records what a call sends and receives; the providers fill it through the [`Endpoint`].
/// A `std` mutex: held for a copy, never across an `.await`.
#[derive(Debug, Default)]
pub(crate) struct Recorder(Mutex<Recorded>);

impl Recorder {
    fn with(&self, f: impl FnOnce(&mut Recorded)) {
        f(&mut self
            .0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner));
    }

    /// A request is about to be sent: what was recorded before is dropped.
    pub(crate) fn request(&self, url: &str, body: Value) {
        let url = match reqwest::Url::parse(url) {
            Ok(mut u) => {
                u.set_query(None);
                u.set_fragment(None);
                let _ = u.set_username("");
                let _ = u.set_password(None);
                u.to_string()
            }
            Err(_) => url.to_owned(),
        };
        self.with(|r| {
            *r = Recorded {
                url,
                request: body,
                sent: Some(Instant::now()),
                ..Recorded::default()
            }
        });
    }

    fn status(&self, status: u16) {
        self.with(|r| r.status = Some(status));
    }

    fn body(&self, chunk: &[u8]) {
        self.with(|r| {
            if r.first_byte.is_none() {
                r.first_byte = r.sent.map(|t| t.elapsed());
            }
            let room = symphony_conductor::EXCHANGE_CAP.saturating_sub(r.response.len());
            if chunk.len() > room {
                r.truncated = true;
            }
            r.response
                .extend_from_slice(&chunk[..chunk.len().min(room)]);
        });
    }

    /// What was recorded; the recorder is empty after.
    pub(crate) fn take(&self) -> Recorded {
        let mut out = Recorded::default();
        self.with(|r| std::mem::swap(r, &mut out));
        if out.first_byte.is_none() && out.status.is_some() {
            // A response with no body: its head was the first byte.
            out.first_byte = out.sent.map(|t| t.elapsed());
        }
        out
    }
}

/// Where and how to call.
pub(crate) struct Endpoint<'a> {
    pub client: &'a reqwest::Client,
    /// The base URL, without a trailing slash.
    pub base_url: &'a str,
    pub secret: Option<&'a Secret>,
    /// The credential's name, for hints ("check credential `openai`").
    pub credential: Option<&'a str>,
    pub timeouts: Timeouts,
    /// Who answers, for messages ("the OpenAI-compatible server", "Anthropic").
    pub label: &'a str,
    /// Where the call's request and response are recorded.
    pub record: &'a Recorder,
    /// The run's limits: an answer and a stream line may not pass theirs.
    pub limits: symphony_melody::limits::Limits,
    /// The step, for the message when a limit is hit.
    pub step: &'a str,
}

impl Endpoint<'_> {
    pub(crate) fn credential_hint(&self) -> String {
        match self.credential {
            Some(name) => format!(
                "check credential `{name}` (set {})",
                symphony_credentials::EnvCredentials::variables(name)
                    .iter()
                    .map(|v| format!("${v}"))
                    .collect::<Vec<_>>()
                    .join(" or ")
            ),
            None => {
                "this step sends no credential; set config.credential to the name of one".into()
            }
        }
    }
}

/// Sends a POST and waits for the response headers, within the first-byte timeout. A
/// non-success status becomes an error.
///
/// A request whose connection closes before any answer is sent once more, at once, within
/// the same timeout: that is how a pooled keep-alive connection the server was closing as it
/// was reused fails (servers close idle connections after a few seconds: Node's and uvicorn's,
/// vLLM's server, after 5), and the next connection is fresh. A second close is an error, which
/// the step's retry policy may retry.
pub(crate) async fn post(
    ep: &Endpoint<'_>,
    url: &str,
    headers: HeaderMap,
    body: Vec<u8>,
) -> Result<Response, StepError> {
    let deadline = tokio::time::Instant::now() + ep.timeouts.first_byte;
    let mut resent = false;
    let resp = loop {
        let send = ep
            .client
            .post(url)
            .headers(headers.clone())
            .header(CONTENT_TYPE, "application/json")
            .body(body.clone())
            .send();
        match tokio::time::timeout_at(deadline, send).await {
            Err(_) => {
                return Err(StepError::retryable(
                    ErrorKind::Timeout,
                    format!(
                        "{} at {url} sent no answer within {} ms (firstByteTimeoutMs); it may be overloaded or still loading the model; raise firstByteTimeoutMs if it is just slow",
                        ep.label,
                        ep.timeouts.first_byte.as_millis()
                    ),
                ))
            }
            Ok(Err(e)) if !resent && closed_before_answer(&e) => {
                tracing::debug!(url, "the connection closed before an answer; sending again: {e}");
                resent = true;
            }
            Ok(Err(e)) => return Err(transport_error(ep, url, &e)),
            Ok(Ok(resp)) => break resp,
        }
    };
    ep.record.status(resp.status().as_u16());
    if resp.status().is_success() {
        return Ok(resp);
    }
    let status = resp.status();
    let headers = resp.headers().clone();
    let body = read_limited(resp, ep, url, MAX_ERROR_BODY)
        .await
        .unwrap_or_default();
    Err(status_error(ep, url, status, &headers, &body))
}

/// A stream line (or event) passed `settings.limits.sseLineBytes`.
pub(crate) fn line_too_long(ep: &Endpoint<'_>, url: &str, t: crate::sse::TooLong) -> StepError {
    StepError::fatal(
        ErrorKind::Refused,
        format!(
            "{} at {url} sent a stream line that does not end: {}",
            ep.label,
            symphony_melody::limits::SSE_LINE_BYTES.exceeded(ep.step, t.max)
        ),
    )
}

/// The next chunk of a body, within the idle timeout. `Ok(None)` at the end.
pub(crate) async fn next_chunk(
    resp: &mut Response,
    ep: &Endpoint<'_>,
    url: &str,
    received: usize,
) -> Result<Option<Vec<u8>>, StepError> {
    match tokio::time::timeout(ep.timeouts.idle, resp.chunk()).await {
        Err(_) => Err(StepError::retryable(
            ErrorKind::Timeout,
            format!(
                "{} at {url} stopped sending for {} ms (idleTimeoutMs) after {received} bytes of the answer; the partial answer was dropped",
                ep.label,
                ep.timeouts.idle.as_millis()
            ),
        )),
        Ok(Err(e)) => Err(StepError::retryable(
            ErrorKind::Instrument,
            format!(
                "the connection to {} at {url} broke after {received} bytes of the answer ({}); the partial answer was dropped",
                ep.label,
                chain(&e)
            ),
        )),
        Ok(Ok(chunk)) => {
            if let Some(bytes) = &chunk {
                // An endless answer stops at `settings.limits.answerBytes`.
                let max = ep.limits.answer_bytes;
                if (received + bytes.len()) as u64 > max {
                    return Err(StepError::fatal(
                        ErrorKind::Refused,
                        format!(
                            "{} at {url} sent more: {}",
                            ep.label,
                            symphony_melody::limits::ANSWER_BYTES.exceeded(ep.step, max)
                        ),
                    ));
                }
                ep.record.body(bytes);
            }
            Ok(chunk.map(|b| b.to_vec()))
        }
    }
}

/// A whole body, chunk by chunk within the idle timeout, up to `max` bytes.
pub(crate) async fn read_body(
    resp: Response,
    ep: &Endpoint<'_>,
    url: &str,
) -> Result<Vec<u8>, StepError> {
    let mut resp = resp;
    let mut body = Vec::new();
    while let Some(chunk) = next_chunk(&mut resp, ep, url, body.len()).await? {
        body.extend_from_slice(&chunk);
        if body.len() > MAX_BODY {
            return Err(StepError::fatal(
                ErrorKind::Instrument,
                format!(
                    "{} at {url} sent more than {MAX_BODY} bytes; stopped reading",
                    ep.label
                ),
            ));
        }
    }
    Ok(body)
}

async fn read_limited(
    mut resp: Response,
    ep: &Endpoint<'_>,
    url: &str,
    max: usize,
) -> Result<Vec<u8>, StepError> {
    let mut body = Vec::new();
    while let Some(chunk) = next_chunk(&mut resp, ep, url, body.len()).await? {
        body.extend_from_slice(&chunk);
        if body.len() >= max {
            body.truncate(max);
            break;
        }
    }
    Ok(body)
}

/// The content type of a response, lower-cased, or "".
pub(crate) fn content_type(headers: &HeaderMap) -> String {
    headers
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_ascii_lowercase()
}

/// Whether a request failed because its connection closed (or was reset) before any answer:
/// not a refused or timed-out connection, and not an answer cut short.
fn closed_before_answer(e: &reqwest::Error) -> bool {
    if e.is_connect() || e.is_timeout() || e.is_body() || e.is_decode() {
        return false;
    }
    let detail = chain(e).to_ascii_lowercase();
    detail.contains("connection closed before message completed")
        || detail.contains("connection reset")
}

/// An error of the transport (before any status), for a person.
fn transport_error(ep: &Endpoint<'_>, url: &str, e: &reqwest::Error) -> StepError {
    let detail = chain(e);
    let lower = detail.to_ascii_lowercase();
    if e.is_connect() {
        if e.is_timeout() || lower.contains("timed out") {
            return StepError::retryable(
                ErrorKind::Timeout,
                format!(
                    "could not connect to {} at {url} within {} ms (connectTimeoutMs); is the server running and reachable?",
                    ep.label,
                    ep.timeouts.connect.as_millis()
                ),
            );
        }
        if lower.contains("refused") {
            return StepError::retryable(
                ErrorKind::Instrument,
                format!(
                    "cannot connect to {} at {url}: connection refused; is the server running? (check config.baseUrl)",
                    ep.label
                ),
            );
        }
        if lower.contains("dns") || lower.contains("resolve") || lower.contains("lookup") {
            return StepError::retryable(
                ErrorKind::Instrument,
                format!(
                    "cannot find the host of {url} ({detail}); check config.baseUrl and the network"
                ),
            );
        }
        if lower.contains("certificate") || lower.contains("tls") {
            return StepError::fatal(
                ErrorKind::Config,
                format!("the TLS handshake with {url} failed ({detail}); check config.baseUrl (http or https?)"),
            );
        }
        return StepError::retryable(
            ErrorKind::Instrument,
            format!("cannot connect to {} at {url}: {detail}", ep.label),
        );
    }
    StepError::retryable(
        ErrorKind::Instrument,
        format!("the request to {} at {url} failed: {detail}", ep.label),
    )
}

/// An error and its sources, joined, without repeats.
pub(crate) fn chain(e: &dyn std::error::Error) -> String {
    let mut parts: Vec<String> = vec![e.to_string()];
    let mut source = e.source();
    while let Some(s) = source {
        let text = s.to_string();
        if !parts.iter().any(|p| p.contains(&text)) {
            parts.push(text);
        }
        source = s.source();
    }
    parts.join(": ")
}

/// A non-success status, for a person: what happened, the provider's own words, what to do.
pub(crate) fn status_error(
    ep: &Endpoint<'_>,
    url: &str,
    status: StatusCode,
    headers: &HeaderMap,
    body: &[u8],
) -> StepError {
    let said = provider_message(body, &content_type(headers));
    let code = status.as_u16();
    let who = ep.label;
    let quote = if said.text.is_empty() {
        String::new()
    } else {
        format!(": {}", said.text)
    };
    match code {
        429 if said.code.as_deref() == Some("insufficient_quota") => StepError::fatal(
            ErrorKind::Instrument,
            format!("{who} refused the call: the account has no quota left (429{quote}); check the plan and billing of credential `{}`", ep.credential.unwrap_or("?")),
        ),
        429 => {
            let after = retry_after(headers);
            let wait = match after {
                Some(d) => format!("; it asks to wait {} ms", d.as_millis()),
                None => String::new(),
            };
            let e = StepError::retryable(
                ErrorKind::RateLimited,
                format!("{who} is rate limiting this key (429{quote}){wait}; lower the step's limits (requestsPerMinute, maxConcurrent) if this keeps happening"),
            );
            match after {
                Some(d) => e.with_retry_after(d),
                None => e,
            }
        }
        401 | 403 => StepError::fatal(
            ErrorKind::Config,
            format!("{who} refused the credential ({code}{quote}); {}", ep.credential_hint()),
        ),
        404 => StepError::fatal(
            ErrorKind::Config,
            format!("{who} at {url} answered 404 not found{quote}; check config.baseUrl and config.model (a local server may need the model pulled or loaded first)"),
        ),
        408 | 409 | 425 => StepError::retryable(
            ErrorKind::Instrument,
            format!("{who} answered {code}{quote}; trying again may help"),
        ),
        500..=599 => {
            let e = StepError::retryable(
                ErrorKind::Instrument,
                format!("{who} failed on its side ({code}{quote}); trying again may help"),
            );
            match retry_after(headers) {
                Some(d) => e.with_retry_after(d),
                None => e,
            }
        }
        400..=499 => StepError::fatal(
            ErrorKind::Config,
            format!("{who} rejected the request ({code}{quote}); check the step's config (model, maxTokens, schema, tools)"),
        ),
        _ => StepError::retryable(
            ErrorKind::Instrument,
            format!("{who} at {url} answered an unexpected status {code}{quote}"),
        ),
    }
}

/// The provider's own words about an error.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct ProviderMessage {
    /// Their message, shortened.
    pub text: String,
    /// Their error code or type, if they gave one.
    pub code: Option<String>,
}

/// Reads the message out of the error bodies seen in the wild: `{"error":{"message"}}`
/// (OpenAI, vLLM, LM Studio, OpenRouter, Anthropic), `{"error":"..."}` (Ollama, llama.cpp
/// at times), `{"message"}`, `{"detail"}` (FastAPI servers), plain text and HTML pages.
pub(crate) fn provider_message(body: &[u8], content_type: &str) -> ProviderMessage {
    let text = String::from_utf8_lossy(body);
    let trimmed = text.trim();
    if trimmed.is_empty() {
        return ProviderMessage::default();
    }
    if let Ok(v) = serde_json::from_str::<Value>(trimmed) {
        return json_message(&v);
    }
    if content_type.contains("html") || trimmed.starts_with('<') {
        let title = html_title(trimmed);
        return ProviderMessage {
            text: match title {
                Some(t) => format!(
                    "an HTML page titled \"{}\" (is config.baseUrl the API's address?)",
                    shorten(&t, 120)
                ),
                None => "an HTML page (is config.baseUrl the API's address?)".into(),
            },
            code: None,
        };
    }
    ProviderMessage {
        text: shorten(&one_line(trimmed), 500),
        code: None,
    }
}

/// The message of a JSON error body.
pub(crate) fn json_message(v: &Value) -> ProviderMessage {
    let s = |v: Option<&Value>| v.and_then(Value::as_str).map(str::to_owned);
    let code_of = |e: &Value| {
        s(e.get("code"))
            .or_else(|| {
                e.get("code")
                    .filter(|c| c.is_number())
                    .map(Value::to_string)
            })
            .or_else(|| s(e.get("type")))
    };
    let (text, code) = match v.get("error") {
        Some(Value::Object(e)) => {
            let e = Value::Object(e.clone());
            (
                s(e.get("message")).unwrap_or_else(|| e.to_string()),
                code_of(&e),
            )
        }
        Some(Value::String(m)) => (m.clone(), None),
        _ => match (v.get("message"), v.get("detail")) {
            (Some(Value::String(m)), _) => (m.clone(), code_of(v)),
            (_, Some(Value::String(d))) => (d.clone(), None),
            (_, Some(Value::Array(items))) => (
                items
                    .iter()
                    .map(|i| s(i.get("msg")).unwrap_or_else(|| i.to_string()))
                    .collect::<Vec<_>>()
                    .join("; "),
                None,
            ),
            _ => (v.to_string(), None),
        },
    };
    ProviderMessage {
        text: shorten(&one_line(&text), 500),
        code,
    }
}

fn html_title(html: &str) -> Option<String> {
    let lower = html.to_ascii_lowercase();
    let start = lower.find("<title")?;
    let open_end = start + lower[start..].find('>')? + 1;
    let close = open_end + lower[open_end..].find("</title")?;
    let t = html.get(open_end..close)?.trim();
    (!t.is_empty()).then(|| one_line(t))
}

fn one_line(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// At most `max` characters, with an ellipsis when cut.
pub(crate) fn shorten(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        return text.to_owned();
    }
    let mut s: String = text.chars().take(max).collect();
    s.push('…');
    s
}

/// The wait a response asks for: `retry-after-ms` (OpenAI), else `Retry-After` in seconds or
/// as an HTTP date. At most [`MAX_RETRY_AFTER`].
pub(crate) fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    let get = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::trim)
    };
    let wait = if let Some(ms) = get("retry-after-ms").and_then(|v| v.parse::<f64>().ok()) {
        Duration::try_from_secs_f64(ms / 1000.0).ok()?
    } else {
        let v = get(RETRY_AFTER.as_str())?;
        match v.parse::<f64>() {
            Ok(secs) => Duration::try_from_secs_f64(secs).ok()?,
            Err(_) => {
                let at = httpdate::parse_http_date(v).ok()?;
                at.duration_since(SystemTime::now())
                    .unwrap_or(Duration::ZERO)
            }
        }
    };
    Some(wait.min(MAX_RETRY_AFTER))
}

/// A stream or body that is not the JSON it should be. Retryable: it is nearly always a
/// truncated or garbled transfer (a proxy, an overloaded gateway); a server that always
/// sends garbage fails every retry and the message says what it sent.
pub(crate) fn malformed(
    label: &str,
    url: &str,
    what: &str,
    raw: &str,
    e: &serde_json::Error,
) -> StepError {
    StepError::retryable(
        ErrorKind::Instrument,
        format!(
            "{label} at {url} sent {what} that is not valid JSON ({e}): {}",
            shorten(&one_line(raw), 200)
        ),
    )
}

/// A whole body that is not JSON: an HTML page means the wrong address (fatal, with a hint);
/// anything else is treated as [`malformed`].
pub(crate) fn not_json(
    label: &str,
    url: &str,
    content_type: &str,
    body: &[u8],
    e: &serde_json::Error,
) -> StepError {
    let text = String::from_utf8_lossy(body);
    if content_type.contains("html") || text.trim_start().starts_with('<') {
        let said = provider_message(body, content_type);
        return StepError::fatal(
            ErrorKind::Config,
            format!("{label} at {url} answered with {} instead of JSON; check config.baseUrl (an OpenAI-compatible base URL usually ends in /v1)", said.text),
        );
    }
    malformed(label, url, "an answer", &text, e)
}

/// Parses a tool call's arguments: JSON if they are, else the raw string.
pub(crate) fn arguments(raw: &Value) -> Value {
    match raw {
        Value::String(s) if s.trim().is_empty() => Value::Object(serde_json::Map::new()),
        Value::String(s) => serde_json::from_str(s).unwrap_or_else(|_| raw.clone()),
        other => other.clone(),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use reqwest::header::HeaderValue;

    fn msg(body: &str, ct: &str) -> ProviderMessage {
        provider_message(body.as_bytes(), ct)
    }

    #[test]
    fn error_bodies_of_every_shape_give_their_message() {
        let openai = msg(
            r#"{"error":{"message":"Incorrect API key","type":"invalid_request_error","code":"invalid_api_key"}}"#,
            "application/json",
        );
        assert_eq!(openai.text, "Incorrect API key");
        assert_eq!(openai.code.as_deref(), Some("invalid_api_key"));
        let anthropic = msg(
            r#"{"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}"#,
            "application/json",
        );
        assert_eq!(
            (anthropic.text.as_str(), anthropic.code.as_deref()),
            ("Overloaded", Some("overloaded_error"))
        );
        assert_eq!(
            msg(r#"{"error":"model \"x\" not found"}"#, "").text,
            "model \"x\" not found"
        );
        assert_eq!(
            msg(r#"{"detail":[{"msg":"field required"},{"msg":"bad"}]}"#, "").text,
            "field required; bad"
        );
        assert_eq!(
            msg("upstream   connect\nerror", "text/plain").text,
            "upstream connect error"
        );
        assert_eq!(
            msg(
                "<html><head><title>502 Bad Gateway</title></head></html>",
                "text/html"
            )
            .text,
            "an HTML page titled \"502 Bad Gateway\" (is config.baseUrl the API's address?)"
        );
        assert_eq!(msg("", "").text, "");
    }

    #[test]
    fn retry_after_reads_seconds_milliseconds_and_dates() {
        let mut h = HeaderMap::new();
        h.insert("retry-after", HeaderValue::from_static("2"));
        assert_eq!(retry_after(&h), Some(Duration::from_secs(2)));
        h.insert("retry-after-ms", HeaderValue::from_static("1500"));
        assert_eq!(retry_after(&h), Some(Duration::from_millis(1500)));
        let mut h = HeaderMap::new();
        let date = httpdate::fmt_http_date(SystemTime::now() + Duration::from_secs(30));
        h.insert("retry-after", HeaderValue::from_str(&date).unwrap());
        let d = retry_after(&h).unwrap();
        assert!(
            d > Duration::from_secs(25) && d <= Duration::from_secs(30),
            "{d:?}"
        );
        h.insert(
            "retry-after",
            HeaderValue::from_static("Wed, 21 Oct 2015 07:28:00 GMT"),
        );
        assert_eq!(retry_after(&h), Some(Duration::ZERO));
        h.insert("retry-after", HeaderValue::from_static("86400"));
        assert_eq!(retry_after(&h), Some(MAX_RETRY_AFTER));
        h.insert("retry-after", HeaderValue::from_static("soon"));
        assert_eq!(retry_after(&h), None);
    }
}
