//! A scriptable HTTP/1.1 server on 127.0.0.1 (port 0), for tests that must speak real HTTP
//! and never the internet.
//!
//! It writes raw HTTP on a plain `TcpListener`, so a test controls every byte and every pause:
//! a whole answer with any status and headers, a chunked body (a server-sent event stream, or
//! anything else) written chunk by chunk with a pause after each, a body cut short or stalled,
//! a request never answered, a connection dropped. Each answer closes its connection.
//!
//! A test gives a script, `Fn(n, &Recorded) -> Reply`, that answers request number `n` (from
//! 0, in the order they were read). The server records every request (method, target, headers,
//! body), counts the requests in flight, and the connections the client closed while the
//! server still had something to say.

#![allow(clippy::unwrap_used, clippy::expect_used)] // Test scaffolding: a panic is the report.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// A request as the server read it.
#[derive(Debug, Clone)]
pub struct Recorded {
    /// `GET`, `POST`, …
    pub method: String,
    /// The request target as sent: the path and its query (`/echo?q=1`).
    pub path: String,
    /// Every header, its name lower-cased.
    pub headers: BTreeMap<String, String>,
    /// The body as text (invalid UTF-8 replaced).
    pub text: String,
    /// The body as JSON, `Null` when it is not JSON.
    pub body: Value,
    /// When the request was read.
    pub at: Instant,
    /// The server's own address, for answers that name it (a redirect back to itself).
    pub server: SocketAddr,
}

/// How the server answers one request.
#[derive(Debug, Clone)]
pub enum Reply {
    /// A whole answer with a `Content-Length`.
    Whole {
        /// The status code.
        status: u16,
        /// Headers besides `Content-Length` and `Connection`.
        headers: Vec<(String, String)>,
        /// The body.
        body: String,
    },
    /// A chunked answer: each chunk (which must not be empty: an empty chunk ends a chunked
    /// body), then a pause; then how it ends.
    Stream {
        /// The status code.
        status: u16,
        /// Headers besides `Transfer-Encoding` and `Connection`.
        headers: Vec<(String, String)>,
        /// The body's pieces, one HTTP chunk each.
        chunks: Vec<String>,
        /// The pause after each chunk.
        pause_ms: u64,
        /// How the body ends.
        end: End,
    },
    /// Reads the request and never answers (waits until the client goes away).
    Hang,
    /// Reads the request and closes the connection without a byte: what a client sees when
    /// it reuses a keep-alive connection the server was closing.
    Drop,
    /// Waits this many milliseconds, then answers.
    After(u64, Box<Reply>),
}

/// How a chunked body ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum End {
    /// Properly (the terminating chunk).
    Finish,
    /// The connection is closed mid-body.
    Cut,
    /// Nothing more is sent, and the connection stays open until the client closes it.
    Stall,
}

impl Reply {
    /// A whole JSON answer.
    pub fn json(status: u16, body: Value) -> Reply {
        Reply::text(status, "application/json", &body.to_string())
    }

    /// A whole answer of any content type.
    pub fn text(status: u16, content_type: &str, body: &str) -> Reply {
        Reply::Whole {
            status,
            headers: vec![("Content-Type".into(), content_type.into())],
            body: body.into(),
        }
    }

    /// A 200 `text/event-stream`, one chunk per piece (see [`sse`] and [`named`]), finished
    /// properly and without pauses ([`Reply::paced`] and [`Reply::ending`] change that).
    pub fn stream(chunks: Vec<String>) -> Reply {
        Reply::chunked(200, "text/event-stream", chunks).with_header("Cache-Control", "no-cache")
    }

    /// A chunked answer of any status and content type, finished properly.
    pub fn chunked(status: u16, content_type: &str, chunks: Vec<String>) -> Reply {
        Reply::Stream {
            status,
            headers: vec![("Content-Type".into(), content_type.into())],
            chunks,
            pause_ms: 0,
            end: End::Finish,
        }
    }

    /// The same answer with one more header.
    pub fn with_header(mut self, name: &str, value: &str) -> Reply {
        match &mut self {
            Reply::Whole { headers, .. } | Reply::Stream { headers, .. } => {
                headers.push((name.into(), value.into()));
            }
            Reply::After(_, inner) => **inner = inner.as_ref().clone().with_header(name, value),
            Reply::Hang | Reply::Drop => {}
        }
        self
    }

    /// A chunked answer that pauses this long after each chunk.
    pub fn paced(mut self, ms: u64) -> Reply {
        if let Reply::Stream { pause_ms, .. } = &mut self {
            *pause_ms = ms;
        }
        self
    }

    /// A chunked answer that ends this way.
    pub fn ending(mut self, how: End) -> Reply {
        if let Reply::Stream { end, .. } = &mut self {
            *end = how;
        }
        self
    }
}

/// One server-sent event: `data: {v}` and a blank line.
pub fn sse(v: &Value) -> String {
    format!("data: {v}\n\n")
}

/// One named server-sent event: `event: {event}`, `data: {v}` and a blank line.
pub fn named(event: &str, v: &Value) -> String {
    format!("event: {event}\ndata: {v}\n\n")
}

/// An address of 127.0.0.1 where nothing listens (a port that was free a moment ago).
pub fn nothing_listens() -> SocketAddr {
    std::net::TcpListener::bind("127.0.0.1:0")
        .expect("127.0.0.1 has a free port")
        .local_addr()
        .expect("a bound socket has an address")
}

type Script = dyn Fn(usize, &Recorded) -> Reply + Send + Sync;

#[derive(Default)]
struct Counters {
    in_flight: AtomicU32,
    max_in_flight: AtomicU32,
    closed_by_client: AtomicU32,
}

/// A running loopback server. It serves until the test's process (or, for
/// [`Server::start`], its runtime) ends; a clone is another handle to the same server.
#[derive(Clone)]
pub struct Server {
    /// Where it listens.
    pub addr: SocketAddr,
    requests: Arc<Mutex<Vec<Recorded>>>,
    counters: Arc<Counters>,
}

impl Server {
    /// Starts a server on the current tokio runtime that answers request number `n` (from 0)
    /// with `script(n, &request)`.
    pub async fn start(
        script: impl Fn(usize, &Recorded) -> Reply + Send + Sync + 'static,
    ) -> Server {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("127.0.0.1 has a free port");
        let addr = listener
            .local_addr()
            .expect("a bound socket has an address");
        let server = Server {
            addr,
            requests: Arc::default(),
            counters: Arc::default(),
        };
        let script: Arc<Script> = Arc::new(script);
        let handle = server.clone();
        tokio::spawn(async move {
            while let Ok((socket, _)) = listener.accept().await {
                let (handle, script) = (handle.clone(), script.clone());
                tokio::spawn(async move {
                    let _ = handle.serve(socket, script.as_ref()).await;
                });
            }
        });
        server
    }

    /// [`Server::start`] on a thread and runtime of its own, for a test that is not async (one
    /// that runs a command and waits for it).
    pub fn start_in_thread(
        script: impl Fn(usize, &Recorded) -> Reply + Send + Sync + 'static,
    ) -> Server {
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("a test can build a tokio runtime");
            runtime.block_on(async move {
                tx.send(Server::start(script).await)
                    .expect("the test waits for its server");
                std::future::pending::<()>().await;
            });
        });
        rx.recv().expect("the server's thread starts it")
    }

    /// Answers every request the same way.
    pub async fn always(reply: Reply) -> Server {
        Server::start(move |_, _| reply.clone()).await
    }

    /// Answers the requests in order; the last reply repeats.
    pub async fn sequence(replies: Vec<Reply>) -> Server {
        assert!(!replies.is_empty(), "a sequence needs a reply");
        Server::start(move |n, _| replies[n.min(replies.len() - 1)].clone()).await
    }

    /// `http://127.0.0.1:PORT` + `path`.
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// Every request read so far, in order.
    pub fn requests(&self) -> Vec<Recorded> {
        self.requests.lock().unwrap().clone()
    }

    /// The most requests that were in flight at once: counted from the request read until
    /// just before the answer's last piece is written (once a client has that, it may send
    /// its next request at once, which must not count as overlapping).
    pub fn max_in_flight(&self) -> u32 {
        self.counters.max_in_flight.load(Ordering::SeqCst)
    }

    /// Sets [`Server::max_in_flight`] back to 0, to measure a second round.
    pub fn reset_max_in_flight(&self) {
        self.counters.max_in_flight.store(0, Ordering::SeqCst);
    }

    /// How many connections the client closed while the server was hanging, stalling or
    /// waiting for it.
    pub fn closed_by_client(&self) -> u32 {
        self.counters.closed_by_client.load(Ordering::SeqCst)
    }

    async fn serve(&self, mut socket: TcpStream, script: &Script) -> std::io::Result<()> {
        let Some(request) = read_request(&mut socket, self.addr).await? else {
            return Ok(());
        };
        let n = {
            let mut requests = self.requests.lock().unwrap();
            requests.push(request.clone());
            requests.len() - 1
        };
        let mut flight = InFlight::begin(&self.counters);
        let reply = script(n, &request);
        answer(&mut socket, reply, &mut flight).await
    }
}

/// One request in flight; it ends at [`InFlight::end`] or when dropped, whichever is first.
struct InFlight<'a> {
    counters: &'a Counters,
    ended: bool,
}

impl<'a> InFlight<'a> {
    fn begin(counters: &'a Counters) -> InFlight<'a> {
        let now = counters.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
        counters.max_in_flight.fetch_max(now, Ordering::SeqCst);
        InFlight {
            counters,
            ended: false,
        }
    }

    fn end(&mut self) {
        if !std::mem::replace(&mut self.ended, true) {
            self.counters.in_flight.fetch_sub(1, Ordering::SeqCst);
        }
    }
}

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        self.end();
    }
}

async fn answer(
    socket: &mut TcpStream,
    reply: Reply,
    flight: &mut InFlight<'_>,
) -> std::io::Result<()> {
    match reply {
        Reply::After(ms, inner) => {
            tokio::time::sleep(Duration::from_millis(ms)).await;
            Box::pin(answer(socket, *inner, flight)).await
        }
        Reply::Whole {
            status,
            headers,
            body,
        } => {
            let length = ("Content-Length".to_owned(), body.len().to_string());
            let head = head(status, headers.into_iter().chain([length]));
            socket.write_all(head.as_bytes()).await?;
            flight.end();
            socket.write_all(body.as_bytes()).await?;
            socket.shutdown().await
        }
        Reply::Stream {
            status,
            headers,
            chunks,
            pause_ms,
            end,
        } => {
            let chunked = ("Transfer-Encoding".to_owned(), "chunked".to_owned());
            let head = head(status, headers.into_iter().chain([chunked]));
            socket.write_all(head.as_bytes()).await?;
            let last = chunks.len().saturating_sub(1);
            for (i, c) in chunks.into_iter().enumerate() {
                if i == last && end == End::Finish {
                    flight.end();
                }
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
                    flight.end();
                    socket.write_all(b"0\r\n\r\n").await?;
                    socket.shutdown().await
                }
                End::Cut => socket.shutdown().await,
                End::Stall => wait_for_close(socket, flight.counters).await,
            }
        }
        Reply::Hang => wait_for_close(socket, flight.counters).await,
        Reply::Drop => socket.shutdown().await,
    }
}

/// The status line and headers, with `Connection: close`, and the blank line.
fn head(status: u16, headers: impl Iterator<Item = (String, String)>) -> String {
    let mut head = format!("HTTP/1.1 {status} {}\r\n", reason(status));
    for (k, v) in headers {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    head.push_str("Connection: close\r\n\r\n");
    head
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

/// Reads one request: its head, and a body of its `Content-Length`. `None` when the client
/// closed the connection before a whole head arrived.
async fn read_request(
    socket: &mut TcpStream,
    server: SocketAddr,
) -> std::io::Result<Option<Recorded>> {
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
    let mut first = lines.next().unwrap_or("").split(' ');
    let method = first.next().unwrap_or("").to_owned();
    let path = first.next().unwrap_or("").to_owned();
    let headers: BTreeMap<String, String> = lines
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
        text: String::from_utf8_lossy(&body).into_owned(),
        body: serde_json::from_slice(&body).unwrap_or(Value::Null),
        at: Instant::now(),
        server,
    }))
}

fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        201 => "Created",
        301 => "Moved Permanently",
        302 => "Found",
        303 => "See Other",
        307 => "Temporary Redirect",
        308 => "Permanent Redirect",
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        429 => "Too Many Requests",
        500 => "Internal Server Error",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        529 => "Overloaded",
        _ => "Status",
    }
}
