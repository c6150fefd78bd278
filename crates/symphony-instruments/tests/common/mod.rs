//! A scriptable HTTP/1.1 server on 127.0.0.1 that speaks the providers' wire formats, and a
//! harness that plays melodies of `instrument.chat` steps through the real conductor.
//!
//! The server writes raw HTTP on a plain `TcpListener`, so a test controls every byte and
//! every pause: answers whole or streamed (chunked), stalls, cuts, hangs. It records each
//! request and counts requests in flight (from the request read to the answer's last byte),
//! and connections the client closed before the answer was finished.

#![allow(dead_code)] // Each test file uses a different part of this module.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::{json, Value};
use symphony_conductor::testing;
#[allow(unused_imports)] // Re-exported for the test files that read outcomes; not all do.
pub use symphony_conductor::testing::outcome;
use symphony_conductor::{Conductor, EventRecord, Registry, RunEvent, RunOptions, RunReport};
use symphony_credentials::{CredentialError, Credentials, Secret};
use symphony_instruments::{InstrumentsConfig, ProviderLimits, Timeouts};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// A request as the server read it.
#[derive(Debug, Clone)]
pub struct Recorded {
    pub method: String,
    pub path: String,
    pub headers: HashMap<String, String>,
    pub body: Value,
    /// When the request was read.
    pub at: std::time::Instant,
}

/// How the server answers one request.
#[derive(Debug, Clone)]
pub enum Reply {
    /// A whole answer with a Content-Length.
    Whole {
        status: u16,
        headers: Vec<(String, String)>,
        body: String,
    },
    /// A 200 `text/event-stream`, chunked: each chunk then a pause; then how it ends.
    Stream {
        chunks: Vec<String>,
        pause_ms: u64,
        end: End,
    },
    /// Reads the request and never answers (waits until the client goes away).
    Hang,
    /// Reads the request and closes the connection without a byte: what a client sees when
    /// it reuses a keep-alive connection the server was closing.
    Drop,
    /// Waits, then answers.
    After(u64, Box<Reply>),
}

/// How a stream ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum End {
    /// Properly (the terminating chunk).
    Finish,
    /// The connection is closed mid-body.
    Cut,
    /// Nothing more is sent, and the connection stays open.
    Stall,
}

impl Reply {
    pub fn json(status: u16, body: Value) -> Reply {
        Reply::Whole {
            status,
            headers: vec![("Content-Type".into(), "application/json".into())],
            body: body.to_string(),
        }
    }

    pub fn with_header(self, name: &str, value: &str) -> Reply {
        match self {
            Reply::Whole {
                status,
                mut headers,
                body,
            } => {
                headers.push((name.into(), value.into()));
                Reply::Whole {
                    status,
                    headers,
                    body,
                }
            }
            other => other,
        }
    }

    pub fn text(status: u16, content_type: &str, body: &str) -> Reply {
        Reply::Whole {
            status,
            headers: vec![("Content-Type".into(), content_type.into())],
            body: body.into(),
        }
    }

    pub fn stream(chunks: Vec<String>) -> Reply {
        Reply::Stream {
            chunks,
            pause_ms: 0,
            end: End::Finish,
        }
    }
}

type Script = dyn Fn(usize, &Recorded) -> Reply + Send + Sync;

#[derive(Default)]
struct Counters {
    in_flight: AtomicU32,
    max_in_flight: AtomicU32,
    closed_by_client: AtomicU32,
}

/// A running loopback server.
pub struct Server {
    pub addr: SocketAddr,
    requests: Arc<Mutex<Vec<Recorded>>>,
    counters: Arc<Counters>,
}

impl Server {
    /// Starts a server that answers request number `n` (from 0) with `script(n, &request)`.
    pub async fn start(
        script: impl Fn(usize, &Recorded) -> Reply + Send + Sync + 'static,
    ) -> Server {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let requests = Arc::new(Mutex::new(Vec::new()));
        let counters = Arc::new(Counters::default());
        let script: Arc<Script> = Arc::new(script);
        let (reqs, ctrs) = (requests.clone(), counters.clone());
        tokio::spawn(async move {
            loop {
                let Ok((socket, _)) = listener.accept().await else {
                    return;
                };
                let (reqs, ctrs, script) = (reqs.clone(), ctrs.clone(), script.clone());
                tokio::spawn(async move {
                    let _ = serve(socket, reqs, ctrs, script).await;
                });
            }
        });
        Server {
            addr,
            requests,
            counters,
        }
    }

    /// Answers every request the same way.
    pub async fn always(reply: Reply) -> Server {
        Server::start(move |_, _| reply.clone()).await
    }

    /// Answers the requests in order; the last reply repeats.
    pub async fn sequence(replies: Vec<Reply>) -> Server {
        Server::start(move |n, _| replies[n.min(replies.len() - 1)].clone()).await
    }

    /// `http://127.0.0.1:PORT` + `path`.
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    pub fn requests(&self) -> Vec<Recorded> {
        self.requests.lock().unwrap().clone()
    }

    pub fn max_in_flight(&self) -> u32 {
        self.counters.max_in_flight.load(Ordering::SeqCst)
    }

    pub fn closed_by_client(&self) -> u32 {
        self.counters.closed_by_client.load(Ordering::SeqCst)
    }
}

async fn serve(
    mut socket: TcpStream,
    requests: Arc<Mutex<Vec<Recorded>>>,
    counters: Arc<Counters>,
    script: Arc<Script>,
) -> std::io::Result<()> {
    let Some(request) = read_request(&mut socket).await? else {
        return Ok(());
    };
    let n = {
        let mut r = requests.lock().unwrap();
        r.push(request.clone());
        r.len() - 1
    };
    let now = counters.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
    counters.max_in_flight.fetch_max(now, Ordering::SeqCst);
    let reply = script(n, &request);
    let result = answer(&mut socket, reply, &counters).await;
    counters.in_flight.fetch_sub(1, Ordering::SeqCst);
    result
}

async fn answer(socket: &mut TcpStream, reply: Reply, counters: &Counters) -> std::io::Result<()> {
    match reply {
        Reply::After(ms, inner) => {
            tokio::time::sleep(Duration::from_millis(ms)).await;
            Box::pin(answer(socket, *inner, counters)).await
        }
        Reply::Whole {
            status,
            headers,
            body,
        } => {
            let mut head = format!("HTTP/1.1 {status} {}\r\n", reason(status));
            for (k, v) in headers {
                head.push_str(&format!("{k}: {v}\r\n"));
            }
            head.push_str(&format!(
                "Content-Length: {}\r\nConnection: close\r\n\r\n",
                body.len()
            ));
            socket.write_all(head.as_bytes()).await?;
            socket.write_all(body.as_bytes()).await?;
            socket.shutdown().await
        }
        Reply::Stream {
            chunks,
            pause_ms,
            end,
        } => {
            socket
                .write_all(b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nCache-Control: no-cache\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n")
                .await?;
            for c in chunks {
                socket
                    .write_all(format!("{:x}\r\n{c}\r\n", c.len()).as_bytes())
                    .await?;
                socket.flush().await?;
                if pause_ms > 0 {
                    tokio::time::sleep(Duration::from_millis(pause_ms)).await;
                }
            }
            match end {
                End::Finish => {
                    socket.write_all(b"0\r\n\r\n").await?;
                    socket.shutdown().await
                }
                End::Cut => socket.shutdown().await,
                End::Stall => wait_for_close(socket, counters).await,
            }
        }
        Reply::Hang => wait_for_close(socket, counters).await,
        Reply::Drop => socket.shutdown().await,
    }
}

/// Reads until the client closes the connection (at most 30 s, so no test can hang here).
async fn wait_for_close(socket: &mut TcpStream, counters: &Counters) -> std::io::Result<()> {
    let mut buf = [0u8; 1024];
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        match tokio::time::timeout_at(deadline, socket.read(&mut buf)).await {
            Ok(Ok(0)) | Ok(Err(_)) => {
                counters.closed_by_client.fetch_add(1, Ordering::SeqCst);
                return Ok(());
            }
            Ok(Ok(_)) => {}
            Err(_) => return Ok(()),
        }
    }
}

async fn read_request(socket: &mut TcpStream) -> std::io::Result<Option<Recorded>> {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    let head_end = loop {
        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break i;
        }
        let n = socket.read(&mut chunk).await?;
        if n == 0 {
            return Ok(None);
        }
        buf.extend_from_slice(&chunk[..n]);
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).into_owned();
    let mut lines = head.split("\r\n");
    let first = lines.next().unwrap_or("");
    let mut parts = first.split(' ');
    let method = parts.next().unwrap_or("").to_owned();
    let path = parts.next().unwrap_or("").to_owned();
    let headers: HashMap<String, String> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_owned()))
        .collect();
    let len: usize = headers
        .get("content-length")
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    let mut body = buf[head_end + 4..].to_vec();
    while body.len() < len {
        let n = socket.read(&mut chunk).await?;
        if n == 0 {
            break;
        }
        body.extend_from_slice(&chunk[..n]);
    }
    Ok(Some(Recorded {
        method,
        path,
        headers,
        body: serde_json::from_slice(&body).unwrap_or(Value::Null),
        at: std::time::Instant::now(),
    }))
}

fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        400 => "Bad Request",
        401 => "Unauthorized",
        404 => "Not Found",
        429 => "Too Many Requests",
        500 => "Internal Server Error",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        529 => "Overloaded",
        _ => "Status",
    }
}

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

pub fn sse(v: &Value) -> String {
    format!("data: {v}\n\n")
}

pub fn named(event: &str, v: &Value) -> String {
    format!("event: {event}\ndata: {v}\n\n")
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
