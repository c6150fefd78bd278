//! `operator.http.request` played by the real conductor against the loopback HTTP/1.1 server
//! on 127.0.0.1 (port 0) every crate's tests share (`symphony_testkit::http`), so the wire
//! format is real and no test needs the internet. Names other than `localhost` resolve through a [`StaticLookup`] table, which
//! stands in for DNS (a "public-looking" name that points at the loopback server).

#![allow(clippy::unwrap_used)] // Tests unwrap: a panic is the failure report.

use std::net::IpAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use serde_json::{json, Value};
use symphony_conductor::testing::{collect, melody};
use symphony_conductor::{
    Conductor, EventRecord, Registry, RunEvent, RunOptions, RunReport, StartError, StepOutcome,
};
use symphony_credentials::{CredentialError, Credentials, Secret};
use symphony_network::{HttpRequest, Lookup, StaticLookup, SystemLookup};
use symphony_testkit::http::{Reply, Server};

/// A credential value no output, error or event may contain.
const SENTINEL: &str = "ghp-sentinel-5f4e3d2c1b";

// ---------------------------------------------------------------------------------------------
// The loopback server (`symphony_testkit::http`).

/// The same server under another host name (mapped to 127.0.0.1 by the lookup table).
fn url_as(s: &Server, host: &str, path: &str) -> String {
    format!("http://{host}:{}{path}", s.addr.port())
}

/// A loopback server whose paths each answer one way.
async fn server() -> Server {
    // `/rate-once` is rate limited the first time only.
    let rated = AtomicBool::new(false);
    Server::start(move |_, r| {
        let port = r.server.port();
        let path = r.path.split('?').next().unwrap_or("");
        let json_type = "application/json";
        let redirect =
            |status, to: String| Reply::text(status, "text/plain", "").with_header("location", &to);
        match path {
            "/json" => Reply::text(200, json_type, r#"{"ok":true,"items":[1,2,3]}"#),
            "/text" => Reply::text(200, "text/plain", "hello"),
            "/echo" => Reply::json(
                200,
                json!({"method": r.method, "target": r.path, "headers": r.headers, "body": r.text}),
            ),
            "/echo-fail" => {
                let auth = r.headers.get("authorization").cloned().unwrap_or_default();
                Reply::text(401, "text/plain", &format!("bad credentials: {auth}"))
            }
            // Chunked, with no length announced: the limit must be enforced while reading.
            "/big" => Reply::chunked(200, "text/plain", vec!["a".repeat(1024); 200]),
            "/big-declared" => Reply::text(200, "text/plain", &"b".repeat(100_000)),
            "/slow" => Reply::After(5000, Box::new(Reply::text(200, "text/plain", "late"))),
            "/rate" => {
                Reply::text(429, "text/plain", "slow down").with_header("retry-after", "700")
            }
            "/rate-once" if !rated.swap(true, Ordering::SeqCst) => {
                Reply::text(429, "text/plain", "slow down").with_header("retry-after", "1")
            }
            "/rate-once" => Reply::text(200, json_type, r#"{"ok":true}"#),
            "/missing" => Reply::text(404, "text/plain", "no such thing"),
            "/to-loopback" => redirect(302, format!("http://127.0.0.1:{port}/json")),
            "/to-other-origin" => redirect(302, format!("http://other.test:{port}/echo")),
            "/see-other" => redirect(303, "/echo".into()),
            p if p.starts_with("/redirect/") => {
                match p["/redirect/".len()..].parse::<u32>().unwrap_or(0) {
                    0 => Reply::text(200, "text/plain", "landed"),
                    n => redirect(302, format!("/redirect/{}", n - 1)),
                }
            }
            _ => Reply::text(404, "text/plain", "unknown path"),
        }
    })
    .await
}

// ---------------------------------------------------------------------------------------------
// Playing a one-step melody.

/// Credentials with one value, `github`.
struct TestCredentials;

impl Credentials for TestCredentials {
    fn get(&self, name: &str) -> Result<Secret, CredentialError> {
        match name {
            "github" => Ok(Secret::new(SENTINEL)),
            _ => Err(CredentialError::Missing {
                name: name.into(),
                looked: vec!["the test table".into()],
            }),
        }
    }
}

/// Names the tests use, all pointing at the loopback server.
fn table() -> Arc<dyn Lookup> {
    let lo: IpAddr = "127.0.0.1".parse().unwrap();
    Arc::new(
        StaticLookup::default()
            .with("api.test", &[lo])
            .with("other.test", &[lo]),
    )
}

struct Played {
    report: RunReport,
    events: Vec<EventRecord>,
}

impl Played {
    fn outcome(&self) -> StepOutcome {
        self.report.steps[0].outcome
    }

    fn note(&self) -> String {
        self.report.steps[0].note.clone().unwrap_or_default()
    }

    /// The step's outputs, from its `StepOutput` event.
    fn outputs(&self) -> serde_json::Map<String, Value> {
        self.events
            .iter()
            .find_map(|e| match &e.event {
                RunEvent::StepOutput { outputs, .. } => Some(outputs.0.clone()),
                _ => None,
            })
            .unwrap_or_else(|| panic!("no output; the step ended: {}", self.note()))
    }

    /// Every event and the report, as the JSON a store or a remote board would see.
    fn everything(&self) -> String {
        format!(
            "{}\n{}",
            serde_json::to_string(&self.events).unwrap(),
            serde_json::to_string(&self.report).unwrap()
        )
    }
}

/// A melody of one `operator.http.request` step, `call`, from its config and policy.
fn one_call(step: Value, settings: Value) -> symphony_melody::Melody {
    let mut step = step;
    let obj = step.as_object_mut().unwrap();
    obj.insert("id".into(), json!("call"));
    obj.insert("kind".into(), json!("operator"));
    obj.insert("type".into(), json!("operator.http.request"));
    obj.entry("capabilities").or_insert(json!(["network"]));
    melody(json!({
        "inputs": {"name": {"type": "string", "default": "world"}},
        "settings": settings,
        "steps": [step],
    }))
}

async fn start(
    step: Value,
    settings: Value,
    lookup: Arc<dyn Lookup>,
) -> Result<Played, StartError> {
    let mut registry = Registry::standard();
    registry
        .register(Arc::new(HttpRequest::with_lookup(
            Arc::new(TestCredentials),
            lookup,
        )))
        .unwrap();
    let run = Conductor::new(registry)
        .start(one_call(step, settings), RunOptions::default())
        .await?;
    let (report, events) = collect(run).await;
    Ok(Played { report, events })
}

/// Plays one step; the loopback server is allowed by name and address.
async fn play(step: Value) -> Played {
    play_with(
        step,
        json!({"network": {"allowHosts": ["127.0.0.1", "api.test"]}}),
    )
    .await
}

async fn play_with(step: Value, settings: Value) -> Played {
    start(step, settings, table())
        .await
        .unwrap_or_else(|e| panic!("{e}"))
}

// ---------------------------------------------------------------------------------------------
// The tests.

#[tokio::test]
async fn get_parses_a_json_body() {
    let s = server().await;
    let p = play(json!({"config": {"url": s.url("/json")}})).await;
    assert_eq!(p.outcome(), StepOutcome::Succeeded, "{}", p.note());
    let out = p.outputs();
    assert_eq!(out["status"], 200);
    assert_eq!(out["body"], json!({"ok": true, "items": [1, 2, 3]}));
    assert_eq!(out["output"], out["body"]);
    assert_eq!(out["headers"]["content-type"], "application/json");
    assert_eq!(out["url"], s.url("/json"));
    assert_eq!(s.requests()[0].method, "GET");
}

#[tokio::test]
async fn a_text_body_stays_text() {
    let s = server().await;
    let p = play(json!({"config": {"url": s.url("/text")}})).await;
    assert_eq!(p.outputs()["body"], "hello");
}

#[tokio::test]
async fn post_sends_the_rendered_body_query_and_headers() {
    let s = server().await;
    let p = play(json!({"config": {
        "method": "POST",
        "url": s.url("/echo"),
        "query": {"q": "{{name}} & more"},
        "headers": {"X-Trace": "trace-{{name}}", "Content-Type": "text/plain"},
        "body": "hello {{name}}",
    }}))
    .await;
    assert_eq!(p.outcome(), StepOutcome::Succeeded, "{}", p.note());
    let seen = &s.requests()[0];
    assert_eq!(seen.method, "POST");
    assert_eq!(seen.path, "/echo?q=world+%26+more", "the query is encoded");
    assert_eq!(seen.headers["x-trace"], "trace-world");
    assert_eq!(seen.headers["content-type"], "text/plain");
    assert_eq!(seen.text, "hello world");
    assert_eq!(p.outputs()["body"]["body"], "hello world");
}

#[tokio::test]
async fn a_body_past_the_limit_stops_the_read() {
    let s = server().await;
    let p = play(json!({"config": {"url": s.url("/big"), "maxBytes": 10_000}})).await;
    assert_eq!(p.outcome(), StepOutcome::Failed);
    assert!(
        p.note()
            .contains("is longer, more than config.maxBytes (10000 bytes)"),
        "{}",
        p.note()
    );
    let p = play(json!({"config": {"url": s.url("/big-declared"), "maxBytes": 10_000}})).await;
    assert!(
        p.note()
            .contains("declares 100000 bytes, more than config.maxBytes"),
        "{}",
        p.note()
    );
    let p = play(json!({"config": {"url": s.url("/big-declared")}})).await;
    assert_eq!(p.outcome(), StepOutcome::Succeeded, "10 MiB by default");
}

#[tokio::test]
async fn redirects_are_followed_up_to_the_limit() {
    let s = server().await;
    let p = play(json!({"config": {"url": s.url("/redirect/2"), "maxRedirects": 2}})).await;
    assert_eq!(p.outcome(), StepOutcome::Succeeded, "{}", p.note());
    assert_eq!(p.outputs()["body"], "landed");
    assert_eq!(p.outputs()["url"], s.url("/redirect/0"));

    let p = play(json!({"config": {"url": s.url("/redirect/3"), "maxRedirects": 2}})).await;
    assert_eq!(p.outcome(), StepOutcome::Failed);
    assert!(
        p.note().contains("too many redirects: 2 followed"),
        "{}",
        p.note()
    );

    let p = play(json!({"config": {"url": s.url("/redirect/1"), "maxRedirects": 0}})).await;
    assert!(
        p.note().contains("too many redirects: 0 followed"),
        "{}",
        p.note()
    );
}

#[tokio::test]
async fn see_other_turns_a_post_into_a_get() {
    let s = server().await;
    let p =
        play(json!({"config": {"method": "POST", "url": s.url("/see-other"), "body": "x"}})).await;
    assert_eq!(p.outcome(), StepOutcome::Succeeded, "{}", p.note());
    assert_eq!(p.outputs()["body"]["method"], "GET");
    assert_eq!(p.outputs()["body"]["body"], "");
}

#[tokio::test]
async fn a_redirect_from_an_allowed_host_to_a_private_address_is_refused() {
    let s = server().await;
    // `api.test` is allowed by name (it stands for a public host); the redirect goes to
    // 127.0.0.1, which nothing allows.
    let p = play_with(
        json!({"config": {"url": url_as(&s, "api.test", "/to-loopback")}}),
        json!({"network": {"allowHosts": ["api.test"]}}),
    )
    .await;
    assert_eq!(p.outcome(), StepOutcome::Failed);
    let note = p.note();
    assert!(note.contains("refused to connect to 127.0.0.1"), "{note}");
    assert!(note.contains("a loopback address"), "{note}");
    assert!(note.contains("settings.network.allowHosts"), "{note}");
    assert_eq!(
        s.requests()
            .iter()
            .map(|r| r.path.as_str())
            .collect::<Vec<_>>(),
        ["/to-loopback"],
        "the private address was never contacted"
    );
}

#[tokio::test]
async fn loopback_is_refused_by_default_and_allowed_by_the_setting() {
    let s = server().await;
    let localhost = url_as(&s, "localhost", "/json");
    // The system resolver, as in real use.
    let system: Arc<dyn Lookup> = Arc::new(SystemLookup);

    let p = start(
        json!({"config": {"url": localhost}}),
        json!({}),
        system.clone(),
    )
    .await
    .unwrap();
    assert_eq!(p.outcome(), StepOutcome::Failed);
    let note = p.note();
    assert!(note.contains("(an address of `localhost`)"), "{note}");
    assert!(note.contains("a loopback address"), "{note}");
    assert!(note.contains("allowPrivate to true"), "{note}");

    let p = start(
        json!({"config": {"url": s.url("/json")}}),
        json!({}),
        system.clone(),
    )
    .await
    .unwrap();
    assert!(
        p.note()
            .contains("refused to connect to 127.0.0.1: it is a loopback address"),
        "{}",
        p.note()
    );
    assert!(s.requests().is_empty(), "nothing reached the server");

    let p = start(
        json!({"config": {"url": localhost}}),
        json!({"network": {"allowPrivate": true}}),
        system,
    )
    .await
    .unwrap();
    assert_eq!(p.outcome(), StepOutcome::Succeeded, "{}", p.note());
    assert_eq!(p.outputs()["status"], 200);
}

#[tokio::test]
async fn the_metadata_address_is_refused_even_with_allow_private() {
    let p = play_with(
        json!({"config": {"url": "http://169.254.169.254/latest/meta-data/"}}),
        json!({"network": {"allowPrivate": true}}),
    )
    .await;
    assert_eq!(p.outcome(), StepOutcome::Failed);
    let note = p.note();
    assert!(
        note.contains("refused to connect to 169.254.169.254"),
        "{note}"
    );
    assert!(note.contains("cloud metadata endpoint"), "{note}");
    assert!(note.contains("allowPrivate does not cover it"), "{note}");
}

#[tokio::test]
async fn an_ipv4_mapped_loopback_address_is_refused() {
    let s = server().await;
    let url = format!("http://[::ffff:127.0.0.1]:{}/json", s.addr.port());
    let p = play_with(json!({"config": {"url": url}}), json!({})).await;
    assert_eq!(p.outcome(), StepOutcome::Failed);
    assert!(
        p.note()
            .contains("refused to connect to 127.0.0.1: it is a loopback address"),
        "{}",
        p.note()
    );
    // Decimal and hexadecimal IPv4 forms are the same address.
    for host in ["2130706433", "0x7f.1"] {
        let url = format!("http://{host}:{}/json", s.addr.port());
        let p = play_with(json!({"config": {"url": url}}), json!({})).await;
        assert!(
            p.note().contains("refused to connect to 127.0.0.1"),
            "{host}: {}",
            p.note()
        );
    }
    assert!(s.requests().is_empty());
}

#[tokio::test]
async fn schemes_other_than_http_are_refused() {
    // A literal URL is caught by the validator, before the run.
    let Err(StartError::Invalid(problems)) = start(
        json!({"config": {"url": "file:///etc/passwd"}}),
        json!({}),
        table(),
    )
    .await
    else {
        panic!("a file: URL must not validate");
    };
    let text = problems.to_string();
    assert!(text.contains("config.url"), "{text}");
    assert!(text.contains("only http and https are allowed"), "{text}");

    // A URL made by a template is checked when it is rendered.
    let p = play(json!({"config": {"url": "ftp://{{name}}/file"}})).await;
    assert_eq!(p.outcome(), StepOutcome::Failed);
    assert!(
        p.note().contains("uses `ftp:`; only http and https"),
        "{}",
        p.note()
    );
}

#[tokio::test]
async fn a_slow_server_times_out() {
    let s = server().await;
    let p = play(json!({"config": {"url": s.url("/slow"), "timeoutMs": 200}})).await;
    assert_eq!(p.outcome(), StepOutcome::Failed);
    assert!(
        p.note()
            .contains("took longer than 200 ms (config.timeoutMs)"),
        "{}",
        p.note()
    );
}

#[tokio::test]
async fn rate_limits_carry_the_retry_after_hint() {
    let s = server().await;
    // 700 s is more than the conductor waits, so it gives up and says why.
    let p = play(json!({"config": {"url": s.url("/rate")}, "policy": {"retry": {"max": 2, "backoffMs": 10}}})).await;
    assert_eq!(p.outcome(), StepOutcome::Failed);
    let note = p.note();
    assert!(
        note.contains("answered 429 Too Many Requests: slow down"),
        "{note}"
    );
    assert!(
        note.contains("asks to wait"),
        "the hint reached the conductor: {note}"
    );
    assert_eq!(p.report.steps[0].attempts, 1);

    // One second: the retry waits at least that long, then succeeds.
    let p = play(json!({"config": {"url": s.url("/rate-once")}, "policy": {"retry": {"max": 1, "backoffMs": 10}}})).await;
    assert_eq!(p.outcome(), StepOutcome::Succeeded, "{}", p.note());
    let delay = p
        .events
        .iter()
        .find_map(|e| match &e.event {
            RunEvent::StepRetrying { delay_ms, .. } => Some(*delay_ms),
            _ => None,
        })
        .unwrap();
    assert_eq!(delay, 1000, "the wait is the server's Retry-After");
}

#[tokio::test]
async fn other_statuses_fail_for_good_unless_asked_not_to() {
    let s = server().await;
    let p = play(json!({"config": {"url": s.url("/missing")}, "policy": {"retry": {"max": 2, "backoffMs": 10}}})).await;
    assert_eq!(p.outcome(), StepOutcome::Failed);
    assert_eq!(p.report.steps[0].attempts, 1, "a 404 is not retried");
    assert!(
        p.note().contains("answered 404 Not Found: no such thing"),
        "{}",
        p.note()
    );

    let p = play(json!({"config": {"url": s.url("/missing"), "failOnStatus": false}})).await;
    assert_eq!(p.outcome(), StepOutcome::Succeeded);
    assert_eq!(p.outputs()["status"], 404);
    assert_eq!(p.outputs()["body"], "no such thing");
}

#[tokio::test]
async fn the_credential_is_sent_and_never_shown() {
    let s = server().await;
    let step = |path: &str| {
        json!({
            "config": {"url": url_as(&s, "api.test", path), "credential": "github", "scheme": "Bearer"},
            "capabilities": ["network", "secrets"],
        })
    };
    let p = play(step("/echo")).await;
    assert_eq!(p.outcome(), StepOutcome::Succeeded, "{}", p.note());
    assert_eq!(
        s.requests()[0].headers["authorization"],
        format!("Bearer {SENTINEL}"),
        "the server got the credential"
    );
    assert_eq!(
        p.outputs()["body"]["headers"]["authorization"],
        "Bearer ***",
        "the echo is scrubbed"
    );
    assert!(!p.everything().contains(SENTINEL), "{}", p.everything());

    // An error page that quotes it is scrubbed too.
    let p = play(step("/echo-fail")).await;
    assert_eq!(p.outcome(), StepOutcome::Failed);
    assert!(
        p.note().contains("bad credentials: Bearer ***"),
        "{}",
        p.note()
    );
    assert!(!p.everything().contains(SENTINEL), "{}", p.everything());

    // A redirect to another origin does not take it along.
    let p = play_with(
        step("/to-other-origin"),
        json!({"network": {"allowHosts": ["api.test", "other.test"]}}),
    )
    .await;
    assert_eq!(p.outcome(), StepOutcome::Succeeded, "{}", p.note());
    let last = s.requests().last().unwrap().clone();
    assert_eq!(last.path, "/echo");
    assert_eq!(last.headers.get("authorization"), None, "{last:?}");
}

#[tokio::test]
async fn a_credential_in_another_header_without_a_scheme() {
    let s = server().await;
    let p = play(json!({
        "config": {"url": s.url("/echo"), "credential": "github", "scheme": "", "credentialHeader": "X-Api-Key"},
        "capabilities": ["network", "secrets"],
    }))
    .await;
    assert_eq!(p.outcome(), StepOutcome::Succeeded, "{}", p.note());
    assert_eq!(s.requests()[0].headers["x-api-key"], SENTINEL);
    assert_eq!(p.outputs()["body"]["headers"]["x-api-key"], "***");
}

#[tokio::test]
async fn a_credential_needs_the_secrets_capability_and_a_known_name() {
    let Err(StartError::Invalid(problems)) = start(
        json!({"config": {"url": "https://api.test/", "credential": "github"}}),
        json!({}),
        table(),
    )
    .await
    else {
        panic!("a credential without the secrets capability must not validate");
    };
    let text = problems.to_string();
    assert!(text.contains("needs the `secrets` capability"), "{text}");

    let p = play(json!({
        "config": {"url": "https://api.test/", "credential": "nobody"},
        "capabilities": ["network", "secrets"],
    }))
    .await;
    assert_eq!(p.outcome(), StepOutcome::Failed);
    assert!(p.note().contains("no credential `nobody`"), "{}", p.note());
}

#[test]
fn register_adds_the_type_once() {
    let mut registry = Registry::standard();
    symphony_network::register(&mut registry, Arc::new(TestCredentials)).unwrap();
    let spec = &registry.get("operator.http.request").unwrap().spec;
    assert_eq!(spec.capabilities, [symphony_melody::Capability::Network]);
    let again = symphony_network::register(&mut registry, Arc::new(TestCredentials));
    assert_eq!(
        again.unwrap_err().to_string(),
        "step type `operator.http.request` is registered twice"
    );
}

#[test]
fn network_settings_round_trip_and_are_left_out_when_default() {
    let step = || json!({"config": {"url": "https://api.test/"}});
    let with = one_call(
        step(),
        json!({"network": {"allowPrivate": true, "allowHosts": ["localhost", "10.0.0.0/8"]}}),
    );
    let bytes = symphony_melody::to_bytes(&with);
    let text = String::from_utf8(bytes.clone()).unwrap();
    assert!(
        text.contains(r#""allowHosts""#) && text.contains(r#""allowPrivate": true"#),
        "{text}"
    );
    let again = symphony_melody::load(&bytes, "saved").unwrap();
    assert_eq!(again.settings, with.settings);
    assert_eq!(symphony_melody::to_bytes(&again), bytes, "saving is stable");

    let without = symphony_melody::to_bytes(&one_call(step(), json!({})));
    let without = String::from_utf8(without).unwrap();
    assert!(!without.contains("settings"), "{without}");

    let unknown = symphony_melody::load_value(json!({
        "formatVersion": 1,
        "melody": {"id": "x", "name": "x"},
        "settings": {"network": {"allowPrivat": true}},
        "steps": [],
    }));
    assert!(
        unknown.is_err(),
        "a misspelt setting is an error, not ignored"
    );
}
