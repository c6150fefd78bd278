//! `symphony serve`: the app's API over HTTP, so the same UI runs in a browser.
//!
//! A thin adapter over [`symphony_host::Host`], as `src-tauri` is: `POST /api/<command>` with
//! the arguments as a JSON body runs one host command ([`Host::call`], any name of
//! `symphony_host::commands::COMMANDS`, so a new command needs no route) and answers its JSON
//! result, or `{ message, problems? }` with a 4xx/5xx status; one WebSocket,
//! `GET /api/events?token=…`, carries every host event as `{ channel, payload }`. Everything
//! else is the UI shipped with Symphony ([`shipped_ui`]), served as static files with
//! `index.html` for unknown paths.
//! `/api` answers any origin (CORS), so the desktop app can connect to a conductor served here;
//! the token is what guards it.
//!
//! **Architecture Invariant:** no melody, run or file logic here: each route unpacks, calls the
//! host once, and maps the answer. The host confines every path to the project folder.
//!
//! **Architecture Invariant:** the project is untrusted input, so nothing in it is ever served
//! as the app: the UI is the one shipped with Symphony, or a folder the developer names
//! ([`Config::ui_dir`]) that is not inside the project (refused at start). A project's own
//! `ui/dist` would otherwise run its scripts on the API's origin, with the token in the URL.
//!
//! **Architecture Invariant:** every `/api` request carries the server's token, as a bearer
//! header; only the event socket's opening request (`GET /api/events`) may carry it as `?token=`
//! instead, since browsers cannot give a WebSocket headers. Anything else is refused with 401
//! before the host is reached. The server binds loopback unless told otherwise.
//!
//! **Architecture Invariant:** before anything else, every request's `Host` must name this
//! server, and every answer carries the security headers (a strict Content-Security-Policy,
//! `Referrer-Policy: no-referrer`, no framing, no caching of the page with the token): see
//! `guard.rs`.
//!
//! **Architecture Invariant:** a command's body is at most [`BODY_LIMIT`] bytes (413 with a
//! JSON message, the body unread past the limit) and a command answers within
//! [`COMMAND_TIMEOUT`] (503 with a JSON message; `startRun` returns once the run is started, so
//! only a stuck command meets it). The event socket has no timeout: it lives as long as the page.
//! Both are checked after the token, so a caller without it cannot make the server read a body.
//! Every request's head must arrive within [`HEADER_READ_TIMEOUT`] (against slowloris), which is
//! why the server runs its own connection loop rather than `axum::serve`.

mod guard;

use std::convert::Infallible;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
use axum::extract::{DefaultBodyLimit, Path, Query, Request, State};
use axum::http::{header, HeaderValue, Method, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{any, post};
use axum::{Json, Router};
use futures_util::{SinkExt, StreamExt};
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use serde_json::Value;
use symphony_host::{Host, HostError, HostEvent, HostOptions};
use tokio::sync::{broadcast, oneshot};
use tower_http::cors::CorsLayer;
use tower_http::limit::RequestBodyLimitLayer;
use tower_http::services::{ServeDir, ServeFile};
use tower_http::timeout::TimeoutLayer;

/// How many events wait for a slow WebSocket before it is closed as fallen behind (at ~30
/// batches a second per run, minutes of headroom).
const EVENT_BACKLOG: usize = 4096;

/// The largest body a command takes: a melody file may be 64 MiB (the loader's limit), and
/// `saveMelody`/`validateMelody` carry it as JSON with a little around it.
pub const BODY_LIMIT: usize = 72 * 1024 * 1024;

/// How long a command may take before it is stopped and answered 503. Commands are quick
/// (`startRun` returns once the run is started; the run goes on and reports on the socket);
/// the slowest, `testProvider`, is bounded by the model server's own timeout.
pub const COMMAND_TIMEOUT: Duration = Duration::from_secs(60);

/// How long a client may take to send a request's head (the request line and headers) once it
/// has started, or to start the next one on an open connection, before the connection is
/// closed.
pub const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(10);

/// How the server is set up.
pub struct Config {
    /// The project folder.
    pub project: PathBuf,
    /// Where to listen (`127.0.0.1:0` picks a free port on loopback).
    pub addr: SocketAddr,
    /// The token every API request must carry; a random one when `None`.
    pub token: Option<String>,
    /// A built UI to serve instead of the one shipped with Symphony (a developer's override);
    /// refused when it is inside the project. `None`: the shipped UI ([`shipped_ui`]), or a page
    /// saying how to build it when there is none.
    pub ui_dir: Option<PathBuf>,
    /// How the host is set up.
    pub host: HostOptions,
}

/// Why the server could not start.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    /// The host could not be set up for the project.
    #[error("{0}")]
    Host(#[from] HostError),
    /// The address cannot be listened on.
    #[error("cannot listen on {addr}: {source}; choose another with --addr")]
    Bind {
        /// The address.
        addr: SocketAddr,
        /// Why.
        source: std::io::Error,
    },
    /// The UI folder has no `index.html`.
    #[error("the UI folder `{0}` has no index.html; build the UI (cd ui && npm ci && npm run build) or pass --ui DIR")]
    NoUi(PathBuf),
    /// The UI folder is inside the project, whose files must not run as the app.
    #[error("the UI folder `{ui}` is inside the project `{project}`; a project may come from someone else, so its files are never served as the app (its scripts would run with the token). Leave out --ui to serve the UI shipped with Symphony, or name a folder outside the project")]
    UiInProject {
        /// The UI folder.
        ui: PathBuf,
        /// The project folder.
        project: PathBuf,
    },
}

/// The UI shipped with Symphony, if it is there: `<exe dir>/../share/symphony/ui` for an
/// installed build, else the `ui/dist` of the source tree this binary was built from (a
/// development build; found from the crate's compile-time path, never from the project).
pub fn shipped_ui() -> Option<PathBuf> {
    let installed = std::env::current_exe()
        .ok()
        .and_then(|exe| exe.parent().map(|dir| dir.join("../share/symphony/ui")));
    let source = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../ui/dist");
    [installed, Some(source)]
        .into_iter()
        .flatten()
        .find(|dir| dir.join("index.html").is_file())
}

/// A running server.
pub struct Server {
    addr: SocketAddr,
    token: String,
    stop: Option<oneshot::Sender<()>>,
    task: tokio::task::JoinHandle<std::io::Result<()>>,
}

/// What every route shares.
#[derive(Clone)]
struct AppState {
    host: Host,
    /// Every host event, for each WebSocket to subscribe to.
    events: broadcast::Sender<HostEvent>,
    token: Arc<str>,
}

impl Server {
    /// Binds the address and starts serving on the current tokio runtime.
    pub async fn start(config: Config) -> Result<Server, ServeError> {
        let (events, _) = broadcast::channel(EVENT_BACKLOG);
        let sender = events.clone();
        // A send fails only when no WebSocket listens, which is fine: nobody is watching.
        let sink = move |e: HostEvent| {
            let _ = sender.send(e);
        };
        let host = Host::new(&config.project, config.host, Arc::new(sink))?;
        let ui_dir = match config.ui_dir {
            Some(dir) => Some(outside_project(dir, &config.project)?),
            None => shipped_ui(),
        };
        let token = config.token.unwrap_or_else(random_token);
        let state = AppState {
            host,
            events,
            token: Arc::from(token.as_str()),
        };
        let listener = tokio::net::TcpListener::bind(config.addr)
            .await
            .map_err(|source| ServeError::Bind {
                addr: config.addr,
                source,
            })?;
        let addr = listener.local_addr().map_err(|source| ServeError::Bind {
            addr: config.addr,
            source,
        })?;
        let app = router(state, ui_dir, guard::Names::new(addr));
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(serve(listener, app, stopped));
        Ok(Server {
            addr,
            token,
            stop: Some(stop),
            task,
        })
    }

    /// The address it listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The token API requests must carry.
    pub fn token(&self) -> &str {
        &self.token
    }

    /// The URL to open: the UI, with the token it needs in the fragment (`#token=`), which the
    /// browser never sends to a server or in a Referer header; the page moves it out of the
    /// address bar and history as it starts.
    pub fn url(&self) -> String {
        format!("http://{}/#token={}", self.addr, self.token)
    }

    /// Serves until the server fails or [`Server::stop`] is called from another clone.
    pub async fn wait(mut self) -> std::io::Result<()> {
        let result = (&mut self.task).await;
        result.unwrap_or_else(|e| {
            Err(std::io::Error::other(format!(
                "the server task stopped: {e}"
            )))
        })
    }

    /// Stops accepting connections and waits for the open ones to finish.
    pub async fn stop(mut self) -> std::io::Result<()> {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        self.wait().await
    }
}

/// Accepts connections until `stopped`, then waits for the open ones to finish. Each is served
/// as `axum::serve` would (HTTP/1.1, WebSocket upgrades), plus a limit on how long a request's
/// head may take to arrive ([`HEADER_READ_TIMEOUT`]), so a client cannot hold connections open
/// by sending its headers a byte at a time (`axum::serve` sets no timer, so hyper's is off).
async fn serve(
    listener: tokio::net::TcpListener,
    app: Router,
    stopped: oneshot::Receiver<()>,
) -> std::io::Result<()> {
    // `shutdown` tells the connections to finish; each holds a `closed` receiver until it has.
    let (shutdown, _) = tokio::sync::watch::channel(());
    let (closed_tx, closed) = tokio::sync::watch::channel(());
    tokio::pin!(stopped);
    loop {
        let stream = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => stream,
                Err(e) => {
                    // Out of file descriptors, or a connection reset before it was accepted:
                    // wait a moment rather than spin.
                    tracing::warn!("cannot accept a connection: {e}");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            },
            _ = &mut stopped => break,
        };
        let service = TowerToHyperService::new(app.clone());
        let mut finish = shutdown.subscribe();
        let open = closed.clone();
        tokio::spawn(async move {
            let connection = hyper::server::conn::http1::Builder::new()
                .timer(TokioTimer::new())
                .header_read_timeout(HEADER_READ_TIMEOUT)
                .serve_connection(TokioIo::new(stream), service)
                .with_upgrades();
            tokio::pin!(connection);
            let result = tokio::select! {
                result = connection.as_mut() => result,
                _ = finish.changed() => {
                    connection.as_mut().graceful_shutdown();
                    connection.await
                }
            };
            if let Err(e) = result {
                tracing::debug!("a connection ended with an error: {e}");
            }
            drop(open);
        });
    }
    drop(listener);
    let _ = shutdown.send(());
    drop(closed);
    closed_tx.closed().await;
    Ok(())
}

/// A UI folder the developer named, once it is known to hold `index.html` and to lie outside
/// the project (both compared after resolving links, so a link cannot smuggle the project in).
fn outside_project(dir: PathBuf, project: &std::path::Path) -> Result<PathBuf, ServeError> {
    if !dir.join("index.html").is_file() {
        return Err(ServeError::NoUi(dir));
    }
    let real = |p: &std::path::Path| std::fs::canonicalize(p).unwrap_or_else(|_| p.to_owned());
    let (ui, project) = (real(&dir), real(project));
    if ui.starts_with(&project) {
        return Err(ServeError::UiInProject { ui, project });
    }
    Ok(ui)
}

/// The routes: the API behind the token check, the UI around it, the Host check and the
/// security headers around everything.
fn router(state: AppState, ui_dir: Option<PathBuf>, names: guard::Names) -> Router {
    // `any` routes every method through its fallback, which `layer` (not `route_layer`) wraps.
    let socket = any(events).layer(middleware::from_fn_with_state(
        state.clone(),
        require_token_for_socket,
    ));
    let commands = post(command)
        .layer::<_, Infallible>(DefaultBodyLimit::disable())
        .layer::<_, Infallible>(RequestBodyLimitLayer::new(BODY_LIMIT))
        .layer::<_, Infallible>(TimeoutLayer::with_status_code(
            StatusCode::SERVICE_UNAVAILABLE,
            COMMAND_TIMEOUT,
        ))
        .layer::<_, Infallible>(middleware::map_response(limits_as_json))
        .route_layer(middleware::from_fn_with_state(
            state.clone(),
            require_bearer,
        ));
    let api = Router::new()
        .route("/api/events", socket)
        .route("/api/{command}", commands)
        .with_state(state);
    // The UI may be served from elsewhere and name this one: a dev server with `?server=`, or
    // the desktop app's webview (`tauri://localhost`, `http://tauri.localhost`) connected to a
    // conductor. The token, not the origin, is what guards the API, so any origin may ask; a
    // preflight (OPTIONS, which carries no token) is answered by this layer before the token
    // check, and every answer, a 401 included, carries the CORS headers the browser needs to
    // read it. No cookies or credentials mode: the token travels in a header.
    let cors = CorsLayer::new()
        .allow_origin(tower_http::cors::Any)
        .allow_methods([Method::POST, Method::GET])
        .allow_headers([header::AUTHORIZATION, header::CONTENT_TYPE]);
    let app = api.layer(cors);
    let app = match ui_dir {
        Some(dir) => {
            let index = dir.join("index.html");
            app.fallback_service(ServeDir::new(dir).fallback(ServeFile::new(index)))
        }
        None => app.fallback(no_ui),
    };
    app.layer(middleware::from_fn_with_state(names, guard::guard))
}

/// The bearer token of a request, if it has one.
fn bearer(request: &Request) -> Option<&str> {
    request
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
}

/// Lets a request with the right token through; refuses the rest with 401.
async fn admit(state: &AppState, given: Option<&str>, request: Request, next: Next) -> Response {
    match given {
        Some(t) if same(t.as_bytes(), state.token.as_bytes()) => next.run(request).await,
        Some(_) => unauthorized("the token is wrong; use the URL `symphony serve` printed"),
        None => unauthorized("a token is required: send `Authorization: Bearer <token>` (only the event socket, GET /api/events, takes `?token=`); `symphony serve` prints it"),
    }
}

/// Commands: the token in the bearer header, never in the URL (where logs and history keep it).
async fn require_bearer(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let given = bearer(&request).map(str::to_owned);
    admit(&state, given.as_deref(), request, next).await
}

/// The event socket: the bearer header, or `?token=` on its opening `GET` (a browser cannot give
/// a WebSocket headers).
async fn require_token_for_socket(
    State(state): State<AppState>,
    Query(query): Query<std::collections::HashMap<String, String>>,
    request: Request,
    next: Next,
) -> Response {
    let in_query = (request.method() == Method::GET)
        .then(|| query.get("token").cloned())
        .flatten();
    let given = bearer(&request).map(str::to_owned).or(in_query);
    admit(&state, given.as_deref(), request, next).await
}

/// The body limit and the timeout answer with bare statuses; the page reads `{ message }`.
async fn limits_as_json(response: Response) -> Response {
    let json = response
        .headers()
        .get(header::CONTENT_TYPE)
        .is_some_and(|v| v.as_bytes().starts_with(b"application/json"));
    let message = match response.status() {
        _ if json => return response,
        StatusCode::PAYLOAD_TOO_LARGE => format!(
            "the request body is larger than {} MiB, the most `symphony serve` takes (a melody file is at most 64 MiB)",
            BODY_LIMIT / (1024 * 1024)
        ),
        StatusCode::SERVICE_UNAVAILABLE => format!(
            "the command took longer than {} s and was stopped; try again, and report it if it keeps happening",
            COMMAND_TIMEOUT.as_secs()
        ),
        _ => return response,
    };
    let status = response.status();
    (status, Json(serde_json::json!({ "message": message }))).into_response()
}

fn unauthorized(message: &str) -> Response {
    let mut response = (
        StatusCode::UNAUTHORIZED,
        Json(serde_json::json!({ "message": message })),
    )
        .into_response();
    response
        .headers_mut()
        .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
    response
}

/// Compares in time that does not depend on where the first difference is.
fn same(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// `POST /api/<command>`: one host call.
async fn command(State(state): State<AppState>, Path(name): Path<String>, body: Bytes) -> Response {
    let args: Value = if body.iter().all(u8::is_ascii_whitespace) {
        Value::Null
    } else {
        match serde_json::from_slice(&body) {
            Ok(v) => v,
            Err(e) => {
                return (
                    StatusCode::BAD_REQUEST,
                    Json(serde_json::json!({ "message": format!("the body of `{name}` is not JSON: {e}") })),
                )
                    .into_response()
            }
        }
    };
    match state.host.call(&name, args).await {
        Ok(result) => Json(result).into_response(),
        Err(e) => {
            let status = match &e {
                HostError::UnknownCommand(_) | HostError::UnknownRun(_) => StatusCode::NOT_FOUND,
                HostError::NotPlaying(_) => StatusCode::CONFLICT,
                HostError::Read { source, .. } if source.kind() == std::io::ErrorKind::NotFound => {
                    StatusCode::NOT_FOUND
                }
                e if e.is_client_error() => StatusCode::BAD_REQUEST,
                _ => StatusCode::INTERNAL_SERVER_ERROR,
            };
            (status, Json(e.to_wire())).into_response()
        }
    }
}

/// `GET /api/events`: every host event, as `{ channel, payload }` text messages.
async fn events(State(state): State<AppState>, ws: WebSocketUpgrade) -> Response {
    let rx = state.events.subscribe();
    ws.on_upgrade(move |socket| forward(socket, rx))
}

/// Sends events until the client leaves. A client that falls more than [`EVENT_BACKLOG`]
/// events behind is closed (it reconnects and reloads), rather than sent a gap.
async fn forward(socket: WebSocket, mut rx: broadcast::Receiver<HostEvent>) {
    let (mut out, mut incoming) = socket.split();
    loop {
        tokio::select! {
            event = rx.recv() => match event {
                Ok(event) => {
                    let text = serde_json::to_string(&event).expect("host events always serialize");
                    if out.send(Message::Text(text.into())).await.is_err() {
                        return;
                    }
                }
                Err(broadcast::error::RecvError::Lagged(n)) => {
                    tracing::warn!("an event socket fell {n} events behind; closing it");
                    let _ = out.send(Message::Close(Some(axum::extract::ws::CloseFrame {
                        code: 1013,
                        reason: "fell behind the events; reconnect".into(),
                    }))).await;
                    return;
                }
                Err(broadcast::error::RecvError::Closed) => return,
            },
            message = incoming.next() => match message {
                // The client says nothing the server needs; pings are answered by the library.
                Some(Ok(Message::Close(_))) | None | Some(Err(_)) => return,
                Some(Ok(_)) => {}
            },
        }
    }
}

/// What `/` shows when no UI was given.
async fn no_ui() -> Response {
    (
        StatusCode::NOT_FOUND,
        "Symphony's API is here (POST /api/<command>), but no UI is served: Symphony's own UI is not installed beside this program. In Symphony's source tree, build it with `cd ui && npm ci && npm run build` and start `symphony serve` again.\n",
    )
        .into_response()
}

/// 32 random bytes, hex.
fn random_token() -> String {
    (0..32)
        .map(|_| format!("{:02x}", rand::random::<u8>()))
        .collect()
}
