//! `symphony serve` over real loopback HTTP and WebSocket: the token check, calls from another
//! origin (the desktop app connected to a conductor), commands and their errors, the UI's static
//! files, a run's events arriving on the socket, and the board's commands on that run.

#![allow(clippy::unwrap_used)] // Tests unwrap: a panic is the failure report.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use futures_util::StreamExt;
use serde_json::{json, Value};
use symphony_credentials::{CredentialError, Credentials, Secret};
use symphony_host::HostOptions;
use symphony_instruments::discovery::Endpoints;
use symphony_serve::{Config, Server};
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
    _project: tempfile::TempDir,
    _data: tempfile::TempDir,
    server: Server,
    client: reqwest::Client,
}

async fn start(token: Option<&str>) -> Fixture {
    let project = tempfile::tempdir().unwrap();
    let data = tempfile::tempdir().unwrap();
    let repo = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    std::fs::create_dir(project.path().join("melodies")).unwrap();
    std::fs::copy(
        repo.join("melodies/idea-to-code.melody.json"),
        project.path().join("melodies/idea-to-code.melody.json"),
    )
    .unwrap();
    let ui = project.path().join("ui-dist");
    std::fs::create_dir_all(ui.join("assets")).unwrap();
    std::fs::write(
        ui.join("index.html"),
        "<!doctype html><title>Symphony</title>",
    )
    .unwrap();
    std::fs::write(ui.join("assets/app.js"), "console.log('symphony')").unwrap();
    let credentials: Arc<dyn Credentials> = Arc::new(NoKeys);
    let server = Server::start(Config {
        project: project.path().to_owned(),
        addr: "127.0.0.1:0".parse().unwrap(),
        token: token.map(str::to_owned),
        ui_dir: Some(ui),
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
    .await
    .unwrap();
    Fixture {
        _project: project,
        _data: data,
        server,
        client: reqwest::Client::new(),
    }
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
        format!("http://{}/?token=s3cret-token", f.server.addr())
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
