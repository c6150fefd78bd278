//! `symphony serve`: the app's API over HTTP, so the same UI runs in a browser.
//!
//! A thin adapter over [`symphony_host::Host`], as `src-tauri` is: `POST /api/<command>` with
//! the arguments as a JSON body runs one host command ([`Host::call`]) and answers its JSON
//! result, or `{ message, problems? }` with a 4xx/5xx status; one WebSocket,
//! `GET /api/events?token=…`, carries every host event as `{ channel, payload }`. Everything
//! else is the built UI (`ui/dist`), served as static files with `index.html` for unknown paths.
//! `/api` answers any origin (CORS), so the desktop app can connect to a conductor served here;
//! the token is what guards it.
//!
//! **Architecture Invariant:** no melody, run or file logic here: each route unpacks, calls the
//! host once, and maps the answer. The host confines every path to the project folder.
//!
//! **Architecture Invariant:** every `/api` request carries the server's token (a bearer
//! header, or `?token=` for the WebSocket, which browsers cannot give headers); anything else
//! is refused with 401 before the host is reached. The server binds loopback unless told
//! otherwise.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
use axum::extract::{Path, Query, Request, State};
use axum::http::{header, HeaderValue, Method, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{any, post};
use axum::{Json, Router};
use futures_util::{SinkExt, StreamExt};
use serde_json::Value;
use symphony_host::{Host, HostError, HostEvent, HostOptions};
use tokio::sync::{broadcast, oneshot};
use tower_http::cors::CorsLayer;
use tower_http::services::{ServeDir, ServeFile};

/// How many events wait for a slow WebSocket before it is closed as fallen behind (at ~30
/// batches a second per run, minutes of headroom).
const EVENT_BACKLOG: usize = 4096;

/// How the server is set up.
pub struct Config {
    /// The project folder.
    pub project: PathBuf,
    /// Where to listen (`127.0.0.1:0` picks a free port on loopback).
    pub addr: SocketAddr,
    /// The token every API request must carry; a random one when `None`.
    pub token: Option<String>,
    /// The built UI; `None` serves a page saying how to build it.
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
        if let Some(dir) = &config.ui_dir {
            if !dir.join("index.html").is_file() {
                return Err(ServeError::NoUi(dir.clone()));
            }
        }
        let token = config.token.unwrap_or_else(random_token);
        let state = AppState {
            host,
            events,
            token: Arc::from(token.as_str()),
        };
        let app = router(state, config.ui_dir);
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
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(async move {
            axum::serve(listener, app)
                .with_graceful_shutdown(async move {
                    let _ = stopped.await;
                })
                .await
        });
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

    /// The URL to open: the UI, with the token it needs.
    pub fn url(&self) -> String {
        format!("http://{}/?token={}", self.addr, self.token)
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

/// The routes: the API behind the token check, the UI around it.
fn router(state: AppState, ui_dir: Option<PathBuf>) -> Router {
    let api = Router::new()
        .route("/api/events", any(events))
        .route("/api/{command}", post(command))
        .route_layer(middleware::from_fn_with_state(state.clone(), require_token))
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
    match ui_dir {
        Some(dir) => {
            let index = dir.join("index.html");
            app.fallback_service(ServeDir::new(dir).fallback(ServeFile::new(index)))
        }
        None => app.fallback(no_ui),
    }
}

/// Refuses API requests without the right token.
async fn require_token(
    State(state): State<AppState>,
    Query(query): Query<std::collections::HashMap<String, String>>,
    request: Request,
    next: Next,
) -> Response {
    let bearer = request
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "));
    let given = bearer.or_else(|| query.get("token").map(String::as_str));
    match given {
        Some(t) if same(t.as_bytes(), state.token.as_bytes()) => next.run(request).await,
        Some(_) => unauthorized("the token is wrong; use the URL `symphony serve` printed"),
        None => unauthorized("a token is required: send `Authorization: Bearer <token>` (or `?token=` for the event socket); `symphony serve` prints it"),
    }
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
        "Symphony's API is here (POST /api/<command>), but no UI is served: build it with `cd ui && npm ci && npm run build` and start `symphony serve --ui ui/dist`.\n",
    )
        .into_response()
}

/// 32 random bytes, hex.
fn random_token() -> String {
    (0..32)
        .map(|_| format!("{:02x}", rand::random::<u8>()))
        .collect()
}
