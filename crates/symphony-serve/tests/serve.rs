//! `symphony serve` over real loopback HTTP and WebSocket: the token check, calls from another
//! origin (the desktop app connected to a conductor), commands and their errors, the UI's static
//! files, a run's events arriving on the socket, and the board's commands on that run. And the
//! attacks it stands against: a project's own `ui/dist`, a forged `Host` (DNS rebinding), the
//! token in a command's URL, an oversized body, and the headers every page carries.

#![allow(clippy::unwrap_used)] // Tests unwrap: a panic is the failure report.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use futures_util::StreamExt;
use serde_json::{json, Value};
use symphony_credentials::{CredentialError, Credentials, Secret};
use symphony_host::HostOptions;
use symphony_instruments::discovery::Endpoints;
use symphony_serve::{Config, ServeError, Server};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio_tungstenite::tungstenite::Message;

struct NoKeys;

impl Credentials for NoKeys {
    fn get(&self, name: &str) -> Result<Secret, CredentialError> {
        Err(CredentialError::Missing {
            name: name.to_owned(),
            looked: vec!["nowhere (test)".into()],
        })
    }
}

struct Fixture {
    project: tempfile::TempDir,
    _data: tempfile::TempDir,
    _ui: tempfile::TempDir,
    server: Server,
    client: reqwest::Client,
}

/// Which UI the server is given.
enum Ui {
    /// A small built UI outside the project, as `--ui DIR` names one.
    Own,
    /// None: the UI shipped with Symphony (if built), else the page saying how to build it.
    Shipped,
    /// A folder of the caller's choice (relative to the project folder).
    At(fn(&Path) -> PathBuf),
}

/// A project holding one melody and a `ui/dist` of its own (which must never be served).
fn project() -> tempfile::TempDir {
    let project = tempfile::tempdir().unwrap();
    let repo = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    std::fs::create_dir(project.path().join("melodies")).unwrap();
    std::fs::copy(
        repo.join("melodies/idea-to-code.melody.json"),
        project.path().join("melodies/idea-to-code.melody.json"),
    )
    .unwrap();
    let own = project.path().join("ui/dist");
    std::fs::create_dir_all(own.join("assets")).unwrap();
    std::fs::write(
        own.join("index.html"),
        "<!doctype html><title>PROJECT-UI-MARKER</title><script src=assets/steal.js></script>",
    )
    .unwrap();
    std::fs::write(own.join("assets/steal.js"), "/* PROJECT-UI-MARKER */").unwrap();
    project
}

async fn start(token: Option<&str>) -> Fixture {
    launch(token, Ui::Own).await.unwrap()
}

async fn launch(token: Option<&str>, ui: Ui) -> Result<Fixture, ServeError> {
    let project = project();
    let data = tempfile::tempdir().unwrap();
    let ui_root = tempfile::tempdir().unwrap();
    let ui_dir = match ui {
        Ui::Own => {
            let dir = ui_root.path().join("dist");
            std::fs::create_dir_all(dir.join("assets")).unwrap();
            std::fs::write(
                dir.join("index.html"),
                "<!doctype html><title>Symphony</title>",
            )
            .unwrap();
            std::fs::write(dir.join("assets/app.js"), "console.log('symphony')").unwrap();
            Some(dir)
        }
        Ui::Shipped => None,
        Ui::At(f) => Some(f(project.path())),
    };
    let credentials: Arc<dyn Credentials> = Arc::new(NoKeys);
    let server = Server::start(Config {
        project: project.path().to_owned(),
        addr: "127.0.0.1:0".parse().unwrap(),
        token: token.map(str::to_owned),
        ui_dir,
        host: HostOptions {
            registry: Some(symphony_host::registry::registry_with(credentials.clone())),
            credentials: Some(credentials),
            endpoints: Endpoints {
                openai: "http://127.0.0.1:9".into(),
                anthropic: "http://127.0.0.1:9".into(),
                ollama: "http://127.0.0.1:9".into(),
                timeout: Duration::from_millis(500),
            },
            store_path: Some(data.path().join("runs.db")),
            trust_file: Some(data.path().join("trust.json")),
            watch_debounce: Duration::from_millis(50),
            credential_store: Some(Arc::new(symphony_credentials::FileStore::in_dir(
                data.path().join("config"),
            ))),
        },
    })
    .await?;
    Ok(Fixture {
        project,
        _data: data,
        _ui: ui_root,
        server,
        client: reqwest::Client::new(),
    })
}

/// Sends raw bytes on a fresh connection and reads the answer to its end: the status, the head
/// and the body. For what a well-behaved client will not send (a forged `Host`, a body larger
/// than it says it is).
async fn raw(addr: std::net::SocketAddr, request: &[u8]) -> (u16, String, String) {
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    stream.write_all(request).await.unwrap();
    let mut answer = Vec::new();
    tokio::time::timeout(Duration::from_secs(10), stream.read_to_end(&mut answer))
        .await
        .expect("an answer within 10 s")
        .unwrap();
    let answer = String::from_utf8_lossy(&answer).into_owned();
    let (head, body) = answer.split_once("\r\n\r\n").unwrap_or((&answer, ""));
    let status = head.split(' ').nth(1).unwrap().parse().unwrap();
    (status, head.to_ascii_lowercase(), body.to_owned())
}

impl Fixture {
    fn api(&self, command: &str) -> String {
        format!("http://{}/api/{command}", self.server.addr())
    }

    /// POSTs a command with the right token; the status and the JSON body.
    async fn call(&self, command: &str, args: Value) -> (u16, Value) {
        let response = self
            .client
            .post(self.api(command))
            .bearer_auth(self.server.token())
            .header("content-type", "application/json")
            .body(args.to_string())
            .send()
            .await
            .unwrap();
        let status = response.status().as_u16();
        let body = response.text().await.unwrap();
        (
            status,
            serde_json::from_str(&body).unwrap_or(Value::String(body)),
        )
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_api_requires_the_token() {
    let f = start(Some("s3cret-token")).await;
    assert_eq!(f.server.token(), "s3cret-token");
    assert!(f.server.addr().ip().is_loopback());
    assert_eq!(
        f.server.url(),
        format!("http://{}/#token=s3cret-token", f.server.addr())
    );
    let cases: [(Option<&str>, u16); 4] = [
        (None, 401),
        (Some("Bearer wrong"), 401),
        (Some("s3cret-token"), 401),
        (Some("Bearer s3cret-token"), 200),
    ];
    for (header, expected) in cases {
        let mut req = f.client.post(f.api("listMelodies")).body("{}");
        if let Some(h) = header {
            req = req.header("authorization", h);
        }
        let response = req.send().await.unwrap();
        assert_eq!(response.status().as_u16(), expected, "{header:?}");
        if expected == 401 {
            let body: Value = serde_json::from_str(&response.text().await.unwrap()).unwrap();
            assert!(
                body["message"].as_str().unwrap().contains("token"),
                "{body}"
            );
        }
    }
    // A command never takes the token from its URL (where logs and history keep it), not even
    // the right one; only the event socket's opening GET does.
    let in_url = f
        .client
        .post(format!("{}?token=s3cret-token", f.api("listMelodies")))
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_eq!(in_url.status().as_u16(), 401);
    let body: Value = serde_json::from_str(&in_url.text().await.unwrap()).unwrap();
    assert!(
        body["message"].as_str().unwrap().contains("Bearer"),
        "{body}"
    );
    let post_to_socket = f
        .client
        .post(format!(
            "http://{}/api/events?token=s3cret-token",
            f.server.addr()
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(post_to_socket.status().as_u16(), 401);
    // The event socket wants the token too.
    let ws = format!("ws://{}/api/events", f.server.addr());
    let refused = tokio_tungstenite::connect_async(ws.as_str())
        .await
        .unwrap_err();
    assert!(refused.to_string().contains("401"), "{refused}");
    let refused = tokio_tungstenite::connect_async(format!("{ws}?token=nope"))
        .await
        .unwrap_err();
    assert!(refused.to_string().contains("401"), "{refused}");
    // A random token when none is given.
    let g = start(None).await;
    assert_eq!(g.server.token().len(), 64);
    assert_ne!(g.server.token(), start(None).await.server.token());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn commands_answer_json_and_errors_carry_a_message() {
    let f = start(None).await;
    let (status, list) = f.call("listMelodies", json!({})).await;
    assert_eq!(status, 200);
    assert_eq!(list[0]["path"], "melodies/idea-to-code.melody.json");
    let (status, doc) = f
        .call(
            "openMelody",
            json!({"path": "melodies/idea-to-code.melody.json"}),
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(doc["melody"]["melody"]["id"], "idea-to-code");
    assert_eq!(doc["problems"], json!([]));
    // No body at all is fine for a command without arguments.
    let response = f
        .client
        .post(f.api("stepTypes"))
        .bearer_auth(f.server.token())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 200);
    let types: Value = serde_json::from_str(&response.text().await.unwrap()).unwrap();
    assert!(types
        .as_array()
        .unwrap()
        .iter()
        .any(|t| t["name"] == "instrument.offline"));

    let (status, e) = f
        .call("openMelody", json!({"path": "../../etc/passwd"}))
        .await;
    assert_eq!(status, 400);
    assert!(
        e["message"]
            .as_str()
            .unwrap()
            .contains("`..` is not allowed"),
        "{e}"
    );
    let (status, e) = f
        .call("openMelody", json!({"path": "melodies/gone.melody.json"}))
        .await;
    assert_eq!(status, 404, "a file that is not there is not found: {e}");
    assert!(
        e["message"].as_str().unwrap().contains("gone.melody.json"),
        "{e}"
    );
    let (status, e) = f
        .call("validateMelody", json!({"melody": {"formatVersion": 1}}))
        .await;
    assert_eq!(status, 200, "validation answers its problems: {e}");
    assert!(!e.as_array().unwrap().is_empty());
    let (status, e) = f
        .call("startRun", json!({"melody": {"formatVersion": 1, "melody": {"id": "x", "name": "X"}, "steps": [{"id": "a", "kind": "operator", "type": "operator.nope"}]}}))
        .await;
    assert_eq!(status, 400);
    assert!(
        e["problems"][0]["path"]
            .as_str()
            .unwrap()
            .starts_with("steps.a"),
        "{e}"
    );
    let (status, e) = f.call("noSuchThing", json!({})).await;
    assert_eq!(status, 404);
    assert!(
        e["message"].as_str().unwrap().contains("unknown command"),
        "{e}"
    );
    let response = f
        .client
        .post(f.api("openMelody"))
        .bearer_auth(f.server.token())
        .body("{not json")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 400);
}

/// Every command of the host's one list has its route: given no arguments, each answers or
/// names the field it lacks (never "unknown command"); the desktop app's own commands are
/// refused, since only a person answers their dialogs.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_declared_command_has_a_route() {
    let f = start(None).await;
    for command in symphony_host::commands::COMMANDS {
        let (status, body) = f.call(command.name, json!({})).await;
        let message = body["message"].as_str().unwrap_or_default();
        match command.place {
            symphony_host::commands::Place::Host => assert!(
                status == 200 || (status == 400 && message.contains("missing field")),
                "{}: {status} {body}",
                command.name
            ),
            symphony_host::commands::Place::Desktop => assert!(
                status == 400 && message.contains("only a person"),
                "{}: {status} {body}",
                command.name
            ),
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_ui_is_served_as_static_files() {
    let f = start(None).await;
    let base = format!("http://{}", f.server.addr());
    let index = f
        .client
        .get(format!("{base}/?token=x"))
        .send()
        .await
        .unwrap();
    assert_eq!(index.status().as_u16(), 200);
    assert!(index
        .text()
        .await
        .unwrap()
        .contains("<title>Symphony</title>"));
    let js = f
        .client
        .get(format!("{base}/assets/app.js"))
        .send()
        .await
        .unwrap();
    assert_eq!(js.status().as_u16(), 200);
    assert!(js.headers()["content-type"]
        .to_str()
        .unwrap()
        .contains("javascript"));
    // Unknown paths are the app's own routes: index.html.
    let route = f
        .client
        .get(format!("{base}/runs/abc"))
        .send()
        .await
        .unwrap();
    assert!(route
        .text()
        .await
        .unwrap()
        .contains("<title>Symphony</title>"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_run_streams_its_events_over_the_socket() {
    let f = start(None).await;
    let url = format!(
        "ws://{}/api/events?token={}",
        f.server.addr(),
        f.server.token()
    );
    let (mut socket, _) = tokio_tungstenite::connect_async(url).await.unwrap();
    let (_, doc) = f
        .call(
            "openMelody",
            json!({"path": "melodies/idea-to-code.melody.json"}),
        )
        .await;
    let (status, started) = f
        .call("startRun", json!({"melody": doc["melody"], "path": doc["path"], "inputs": {"goal": "a chess clock"}}))
        .await;
    assert_eq!(status, 200, "{started}");
    let run_id = started["runId"].as_str().unwrap().to_owned();
    let mut types = Vec::new();
    let finished = loop {
        let message = tokio::time::timeout(Duration::from_secs(30), socket.next())
            .await
            .expect("events within 30 s")
            .expect("the socket stays open")
            .unwrap();
        let Message::Text(text) = message else {
            continue;
        };
        let envelope: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(envelope["channel"], "run-events", "{envelope}");
        assert_eq!(envelope["payload"]["runId"], run_id.as_str());
        let events = envelope["payload"]["events"].as_array().unwrap();
        types.extend(
            events
                .iter()
                .filter(|e| e["type"] != "stepProgress")
                .map(|e| e["type"].as_str().unwrap().to_owned()),
        );
        if let Some(last) = events.iter().find(|e| e["type"] == "runFinished") {
            break last.clone();
        }
    };
    assert_eq!(types[0], "runStarted");
    assert_eq!(finished["status"], "succeeded", "{finished}");
    assert!(types.iter().any(|t| t == "stepSucceeded"));

    // The board's commands on the same run.
    let (status, runs) = f
        .call("listRuns", json!({"melodyId": "idea-to-code"}))
        .await;
    assert_eq!(status, 200, "{runs}");
    assert_eq!(runs[0]["id"], run_id.as_str());
    assert_eq!(runs[0]["status"], "succeeded");
    assert_eq!(runs[0]["live"], false);
    let (status, record) = f.call("openRun", json!({"runId": run_id})).await;
    assert_eq!(status, 200);
    // The log holds what the socket carried, in order (the store may merge a step's
    // consecutive progress events, so those are left out of the comparison).
    let logged: Vec<String> = record["events"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["type"] != "stepProgress")
        .map(|e| e["type"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(logged, types, "the log holds what the socket carried");
    let (status, file) = f
        .call("runFile", json!({"runId": run_id, "path": "SPEC.md"}))
        .await;
    assert_eq!(status, 200, "{file}");
    assert!(!file["text"].as_str().unwrap().is_empty());
    let (status, e) = f
        .call("runFile", json!({"runId": run_id, "path": "../run.json"}))
        .await;
    assert_eq!(status, 400, "{e}");
    let (status, e) = f
        .call("runFile", json!({"runId": run_id, "path": "nothing.md"}))
        .await;
    assert_eq!(status, 404, "{e}");
    let (status, e) = f.call("openRun", json!({"runId": "nope"})).await;
    assert_eq!(status, 404, "{e}");
    assert!(e["message"].as_str().unwrap().contains("nope"), "{e}");
    let (status, e) = f.call("stopRun", json!({"runId": run_id})).await;
    assert_eq!(status, 409, "an ended run cannot be steered: {e}");
    let (status, compared) = f
        .call("compareRuns", json!({"a": run_id, "b": run_id}))
        .await;
    assert_eq!(status, 200);
    assert!(compared
        .as_array()
        .unwrap()
        .iter()
        .all(|c| c["sameOutput"] == true));
    let (status, fork) = f
        .call("forkRun", json!({"runId": run_id, "fromStep": "spec"}))
        .await;
    assert_eq!(status, 200, "{fork}");
    let (status, e) = f
        .call("pinStep", json!({"runId": run_id, "step": "spex"}))
        .await;
    assert_eq!(status, 400, "{e}");
    assert!(
        e["message"]
            .as_str()
            .unwrap()
            .contains("did you mean `spec`"),
        "{e}"
    );
    f.server.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_desktop_app_calls_across_origins_with_the_token() {
    let f = start(Some("s3cret-token")).await;
    for origin in ["tauri://localhost", "http://tauri.localhost"] {
        // The preflight carries no token and is not refused.
        let preflight = f
            .client
            .request(reqwest::Method::OPTIONS, f.api("listRuns"))
            .header("origin", origin)
            .header("access-control-request-method", "POST")
            .header(
                "access-control-request-headers",
                "authorization,content-type",
            )
            .send()
            .await
            .unwrap();
        assert!(
            preflight.status().is_success(),
            "{origin}: {}",
            preflight.status()
        );
        let headers = preflight.headers();
        assert_eq!(headers["access-control-allow-origin"], "*", "{origin}");
        let allowed = |name: &str| headers[name].to_str().unwrap().to_ascii_lowercase();
        assert!(allowed("access-control-allow-methods").contains("post"));
        let h = allowed("access-control-allow-headers");
        assert!(
            h.contains("authorization") && h.contains("content-type"),
            "{h}"
        );

        // The call itself needs the token, and every answer can be read by the page.
        let post = |token: Option<&str>| {
            let mut req = f
                .client
                .post(f.api("listRuns"))
                .header("origin", origin)
                .header("content-type", "application/json")
                .body("{}");
            if let Some(t) = token {
                req = req.bearer_auth(t);
            }
            req.send()
        };
        for (token, expected) in [
            (None, 401),
            (Some("wrong"), 401),
            (Some("s3cret-token"), 200),
        ] {
            let response = post(token).await.unwrap();
            assert_eq!(response.status().as_u16(), expected, "{origin} {token:?}");
            assert_eq!(
                response.headers()["access-control-allow-origin"],
                "*",
                "{origin} {token:?}"
            );
            if expected == 200 {
                let runs: Value = serde_json::from_str(&response.text().await.unwrap()).unwrap();
                assert_eq!(runs, json!([]));
            }
        }
    }
    // The event socket from the app's origin, with the token in the query.
    let url = format!("ws://{}/api/events?token=s3cret-token", f.server.addr());
    let mut request =
        tokio_tungstenite::tungstenite::client::IntoClientRequest::into_client_request(url)
            .unwrap();
    request
        .headers_mut()
        .insert("origin", "tauri://localhost".parse().unwrap());
    tokio_tungstenite::connect_async(request).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_projects_own_ui_is_never_served() {
    // By default: Symphony's own UI (or the page saying how to build it), never the project's.
    let f = launch(None, Ui::Shipped).await.unwrap();
    assert!(f.project.path().join("ui/dist/index.html").is_file());
    let base = format!("http://{}", f.server.addr());
    for path in [
        "/",
        "/?token=x",
        "/index.html",
        "/assets/steal.js",
        "/ui/dist/index.html",
    ] {
        let response = f.client.get(format!("{base}{path}")).send().await.unwrap();
        let body = response.text().await.unwrap();
        assert!(!body.contains("PROJECT-UI-MARKER"), "{path}: {body}");
    }
    // `--ui` naming a folder inside the project is refused, through a link as well.
    let Err(e) = launch(None, Ui::At(|p| p.join("ui/dist"))).await else {
        panic!("a UI inside the project was served");
    };
    assert!(matches!(e, ServeError::UiInProject { .. }), "{e}");
    assert!(e.to_string().contains("inside the project"), "{e}");
    let Err(e) = launch(None, Ui::At(|p| p.join("ui/dist/../dist/"))).await else {
        panic!("a UI inside the project was served");
    };
    assert!(matches!(e, ServeError::UiInProject { .. }), "{e}");
    #[cfg(unix)]
    {
        let Err(e) = launch(
            None,
            Ui::At(|p| {
                let link = std::env::temp_dir().join(format!(
                    "symphony-ui-link-{}",
                    p.file_name().unwrap().to_string_lossy()
                ));
                std::os::unix::fs::symlink(p.join("ui/dist"), &link).unwrap();
                link
            }),
        )
        .await
        else {
            panic!("a link into the project was served");
        };
        let ServeError::UiInProject { ui, project } = &e else {
            panic!("{e}");
        };
        assert!(ui.starts_with(project));
        let link = std::env::temp_dir().join(format!(
            "symphony-ui-link-{}",
            project.file_name().unwrap().to_string_lossy()
        ));
        std::fs::remove_file(link).unwrap();
    }
    // A folder outside the project is the developer's override and is served.
    let g = start(None).await;
    let page = g
        .client
        .get(format!("http://{}/", g.server.addr()))
        .send()
        .await
        .unwrap();
    assert!(page
        .text()
        .await
        .unwrap()
        .contains("<title>Symphony</title>"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_naming_another_host_is_refused() {
    let f = start(Some("s3cret-token")).await;
    let addr = f.server.addr();
    let port = addr.port();
    let requests = [
        "GET / HTTP/1.1\r\n".to_owned(),
        "GET /?token=s3cret-token HTTP/1.1\r\n".to_owned(),
        "POST /api/listMelodies HTTP/1.1\r\nAuthorization: Bearer s3cret-token\r\nContent-Length: 2\r\n".to_owned(),
        "OPTIONS /api/listMelodies HTTP/1.1\r\nOrigin: http://evil.example\r\nAccess-Control-Request-Method: POST\r\n".to_owned(),
        "GET /api/events?token=s3cret-token HTTP/1.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n".to_owned(),
    ];
    // A page of evil.example whose name now points at 127.0.0.1 sends its own name.
    for forged in [
        format!("evil.example:{port}"),
        "evil.example".to_owned(),
        format!("127.0.0.1.evil.example:{port}"),
    ] {
        for start in &requests {
            let request = format!("{start}Host: {forged}\r\nConnection: close\r\n\r\n{{}}");
            let (status, head, body) = raw(addr, request.as_bytes()).await;
            assert_eq!(status, 421, "{forged} {start}: {head}");
            assert!(body.contains("answers only to its own address"), "{body}");
            assert!(!head.contains("access-control-allow-origin"), "{head}");
        }
    }
    // No Host at all (HTTP/1.0) is refused too.
    let (status, _, _) = raw(addr, b"GET / HTTP/1.0\r\n\r\n").await;
    assert_eq!(status, 421);
    // This server's own names are answered, whatever port a tunnel forwards from.
    for host in [
        format!("127.0.0.1:{port}"),
        format!("localhost:{port}"),
        format!("[::1]:{port}"),
        "localhost:9000".to_owned(),
    ] {
        let request = format!(
            "POST /api/listMelodies HTTP/1.1\r\nHost: {host}\r\nAuthorization: Bearer s3cret-token\r\nContent-Length: 2\r\nConnection: close\r\n\r\n{{}}"
        );
        let (status, head, body) = raw(addr, request.as_bytes()).await;
        assert_eq!(status, 200, "{host}: {head} {body}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_answer_carries_the_security_headers() {
    let f = start(None).await;
    let host = f.server.addr().to_string();
    let base = format!("http://{host}");
    let page = f
        .client
        .get(format!("{base}/?token={}", f.server.token()))
        .send()
        .await
        .unwrap();
    let route = f
        .client
        .get(format!("{base}/runs/abc"))
        .send()
        .await
        .unwrap();
    let asset = f
        .client
        .get(format!("{base}/assets/app.js"))
        .send()
        .await
        .unwrap();
    let api = f
        .client
        .post(f.api("listMelodies"))
        .bearer_auth(f.server.token())
        .send()
        .await
        .unwrap();
    let refused = f.client.post(f.api("listMelodies")).send().await.unwrap();
    for (what, response) in [
        ("page", &page),
        ("route", &route),
        ("asset", &asset),
        ("api", &api),
        ("401", &refused),
    ] {
        let h = |name: &str| {
            response
                .headers()
                .get(name)
                .unwrap_or_else(|| panic!("{what}: no {name}"))
                .to_str()
                .unwrap()
                .to_owned()
        };
        assert_eq!(h("x-content-type-options"), "nosniff", "{what}");
        assert_eq!(h("referrer-policy"), "no-referrer", "{what}");
        assert_eq!(h("x-frame-options"), "DENY", "{what}");
        assert_eq!(h("cross-origin-opener-policy"), "same-origin", "{what}");
        let csp = h("content-security-policy");
        for directive in [
            "default-src 'self'",
            "script-src 'self';",
            "style-src 'self' 'unsafe-inline'",
            "img-src 'self' data: blob:",
            &format!("connect-src 'self' ws://{host};"),
            "frame-ancestors 'none'",
            "base-uri 'none'",
            "form-action 'none'",
            "object-src 'none'",
        ] {
            assert!(csp.contains(directive), "{what}: {directive} not in {csp}");
        }
        assert!(!csp.contains("unsafe-eval"), "{what}: {csp}");
        let cache = response
            .headers()
            .get("cache-control")
            .map(|v| v.to_str().unwrap().to_owned());
        if what == "asset" {
            assert_eq!(cache, None, "hashed assets may be cached");
        } else {
            assert_eq!(cache.as_deref(), Some("no-store"), "{what}");
        }
    }
    assert_eq!(page.status().as_u16(), 200);
    assert_eq!(api.status().as_u16(), 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_oversized_body_is_refused_and_the_server_goes_on() {
    let f = start(Some("s3cret-token")).await;
    let addr = f.server.addr();
    let too_big = symphony_serve::BODY_LIMIT + 1;
    // Said in advance: refused before a byte of the body is read.
    let head = format!(
        "POST /api/saveMelody HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer s3cret-token\r\nContent-Type: application/json\r\nContent-Length: {too_big}\r\nConnection: close\r\n\r\n"
    );
    let (status, head_seen, body) = raw(addr, head.as_bytes()).await;
    assert_eq!(status, 413, "{head_seen}");
    assert!(head_seen.contains("application/json"), "{head_seen}");
    let message: Value = serde_json::from_str(&body).unwrap();
    assert!(
        message["message"].as_str().unwrap().contains("72 MiB"),
        "{message}"
    );
    // Without the token, the token is what is refused: no body is read for a stranger.
    let (status, _, _) = raw(
        addr,
        format!("POST /api/saveMelody HTTP/1.1\r\nHost: {addr}\r\nContent-Length: {too_big}\r\nConnection: close\r\n\r\n").as_bytes(),
    )
    .await;
    assert_eq!(status, 401);
    // Not said in advance (chunked): refused once the body passes the limit. The server may
    // stop reading before the client has sent it all, so the client writes while it reads.
    let stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    let (mut read, mut write) = stream.into_split();
    let writer = tokio::spawn(async move {
        let head = format!("POST /api/validateMelody HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer s3cret-token\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n");
        write.write_all(head.as_bytes()).await?;
        let chunk = format!("100000\r\n{}\r\n", " ".repeat(0x10_0000));
        for _ in 0..=symphony_serve::BODY_LIMIT / 0x10_0000 {
            write.write_all(chunk.as_bytes()).await?;
        }
        write.write_all(b"0\r\n\r\n").await
    });
    let mut answer = Vec::new();
    let mut buf = [0u8; 4096];
    while let Ok(Ok(n)) = tokio::time::timeout(Duration::from_secs(10), read.read(&mut buf)).await {
        if n == 0 {
            break;
        }
        answer.extend_from_slice(&buf[..n]);
    }
    let _ = writer.await;
    let answer = String::from_utf8_lossy(&answer);
    assert!(answer.starts_with("HTTP/1.1 413"), "{answer}");
    assert!(answer.contains("larger than 72 MiB"), "{answer}");
    // A melody of some megabytes (more than axum's default of 2 MiB) is still taken.
    let (_, doc) = f
        .call(
            "openMelody",
            json!({"path": "melodies/idea-to-code.melody.json"}),
        )
        .await;
    let mut melody = doc["melody"].clone();
    melody["melody"]["description"] = Value::String("x".repeat(5 * 1024 * 1024));
    let (status, problems) = f.call("validateMelody", json!({ "melody": melody })).await;
    assert_eq!(status, 200, "{problems}");
    // And the server goes on serving.
    let (status, list) = f.call("listMelodies", json!({})).await;
    assert_eq!(status, 200);
    assert_eq!(list[0]["path"], "melodies/idea-to-code.melody.json");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_that_sends_its_headers_too_slowly_is_cut_off() {
    let f = start(Some("s3cret-token")).await;
    let addr = f.server.addr();
    // Slowloris: a request head begun and never finished holds the connection only so long.
    let mut slow = tokio::net::TcpStream::connect(addr).await.unwrap();
    slow.write_all(b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: a")
        .await
        .unwrap();
    let started = std::time::Instant::now();
    // Meanwhile, others are served.
    let (status, _) = f.call("listMelodies", json!({})).await;
    assert_eq!(status, 200);
    let mut rest = Vec::new();
    let read = tokio::time::timeout(
        symphony_serve::HEADER_READ_TIMEOUT + Duration::from_secs(5),
        slow.read_to_end(&mut rest),
    )
    .await
    .expect("the server closes a connection whose head does not arrive");
    let waited = started.elapsed();
    assert!(
        waited >= symphony_serve::HEADER_READ_TIMEOUT - Duration::from_secs(1),
        "closed after {waited:?}: {read:?}"
    );
    // hyper may answer 408 before closing, or just close; either way nothing was served.
    let rest = String::from_utf8_lossy(&rest);
    assert!(
        rest.is_empty() || rest.starts_with("HTTP/1.1 408"),
        "{rest}"
    );
}
