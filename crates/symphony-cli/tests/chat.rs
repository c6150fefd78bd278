//! `symphony run` on a melody of real chat steps, against loopback servers that speak the
//! OpenAI-compatible and Anthropic wire formats (streaming included): streamed progress,
//! usage and cost reach the JSON events and the report, and a credential's value never
//! appears in any byte the command writes (stdout, stderr, every file it leaves), even when
//! a server echoes the key back in an error.

#![allow(clippy::unwrap_used)] // Tests unwrap: a panic is the failure report.

use std::path::Path;
use std::process::{Command, Stdio};

use serde_json::{json, Value};
use symphony_testkit::http::{named, sse, Recorded, Reply, Server};

const OPENAI_KEY: &str = "sk-sentinel-openai-5d1f0c2e9a7b";
const ANTHROPIC_KEY: &str = "sk-sentinel-anthropic-83c4e6f1";

/// A loopback server on a thread of its own (the shared `symphony_testkit::http` one),
/// answering every request with `reply(request)`, and its URL.
fn serve(reply: fn(&Recorded) -> Reply) -> (String, Server) {
    let server = Server::start_in_thread(move |_, r| reply(r));
    (server.url(""), server)
}

fn openai_ok(_: &Recorded) -> Reply {
    let mut chunks: Vec<String> = ["Plan: ", "dig ", "a canal."]
        .iter()
        .map(|p| {
            sse(&json!({"choices": [{"index": 0, "delta": {"content": p}, "finish_reason": null}]}))
        })
        .collect();
    chunks.push(sse(
        &json!({"choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]}),
    ));
    chunks.push(sse(
        &json!({"choices": [], "usage": {"prompt_tokens": 2000, "completion_tokens": 1000}}),
    ));
    chunks.push("data: [DONE]\n\n".into());
    Reply::stream(chunks).paced(20)
}

fn anthropic_ok(_: &Recorded) -> Reply {
    let mut chunks = vec![
        named(
            "message_start",
            &json!({"type": "message_start", "message": {"usage": {"input_tokens": 3000, "output_tokens": 1}}}),
        ),
        named(
            "content_block_start",
            &json!({"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}}),
        ),
        named("ping", &json!({"type": "ping"})),
    ];
    for p in ["Looks ", "sound."] {
        chunks.push(named("content_block_delta", &json!({"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": p}})));
    }
    chunks.push(named(
        "content_block_stop",
        &json!({"type": "content_block_stop", "index": 0}),
    ));
    chunks.push(named("message_delta", &json!({"type": "message_delta", "delta": {"stop_reason": "end_turn"}, "usage": {"output_tokens": 500}})));
    chunks.push(named("message_stop", &json!({"type": "message_stop"})));
    Reply::stream(chunks).paced(20)
}

/// A server that echoes the key it was sent, as some do in "invalid key" errors.
fn openai_echoes_the_key(r: &Recorded) -> Reply {
    let auth = r.headers.get("authorization").map_or("", String::as_str);
    let key = auth.strip_prefix("Bearer ").unwrap_or("").trim();
    let body = json!({"error": {"message": format!("Incorrect API key provided: {key}."), "code": "invalid_api_key"}});
    Reply::chunked(401, "application/json", vec![body.to_string()]).paced(20)
}

fn melody(openai: &str, anthropic: &str) -> String {
    json!({
        "formatVersion": 1,
        "melody": {"id": "chat-e2e", "name": "Chat end to end"},
        "inputs": {"goal": {"type": "string", "default": "move water"}},
        "steps": [
            {"id": "plan", "kind": "instrument", "type": "instrument.chat", "capabilities": ["network", "secrets"],
             "config": {"baseUrl": format!("{openai}/v1"), "model": "gpt-4o-mini", "credential": "openai",
                        "prompt": "Plan how to {{goal}}", "firstByteTimeoutMs": 5000}},
            {"id": "review", "kind": "instrument", "type": "instrument.chat", "capabilities": ["network", "secrets"],
             "inputs": {"plan": {"type": "text"}},
             "config": {"provider": "anthropic", "baseUrl": anthropic, "model": "claude-sonnet-4-5", "credential": "anthropic",
                        "system": "You review plans.", "prompt": "Review: {{plan}}"}}
        ],
        "edges": [{"from": "plan.output", "to": "review.plan"}]
    })
    .to_string()
}

/// Runs `symphony run melody.json --json` in `dir` with the sentinel keys in its environment
/// and its home inside `dir`, so every file it writes is under `dir`.
fn run(dir: &Path) -> (i32, String, String) {
    run_with(dir, &["--json", "--workspace", "ws"])
}

fn run_with(dir: &Path, args: &[&str]) -> (i32, String, String) {
    // These melodies send the user's keys to loopback servers of their own: they need trust,
    // given here as a script gives it.
    run_untrusted(dir, &[args, &["--trust"]].concat())
}

/// `symphony run melody.json ARGS` without `--trust`, and without a terminal to ask on.
fn run_untrusted(dir: &Path, args: &[&str]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_symphony"))
        .args(["run", "melody.json"])
        .args(args)
        .current_dir(dir)
        .env_remove("RUST_LOG")
        .env_remove("OPENAI_API_KEY")
        .env_remove("ANTHROPIC_API_KEY")
        .env("SYMPHONY_CREDENTIAL_OPENAI", OPENAI_KEY)
        .env("SYMPHONY_CREDENTIAL_ANTHROPIC", ANTHROPIC_KEY)
        .env("HOME", dir.join("home"))
        .env("XDG_CONFIG_HOME", dir.join("home/.config"))
        .env("XDG_DATA_HOME", dir.join("home/.local/share"))
        .env("SYMPHONY_PRICES", dir.join("home/no-prices.json"))
        .env("NO_COLOR", "1")
        .stdin(Stdio::null())
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Every file under `dir`, with its bytes.
fn files(dir: &Path) -> Vec<(String, Vec<u8>)> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            out.extend(files(&path));
        } else {
            out.push((path.display().to_string(), std::fs::read(&path).unwrap()));
        }
    }
    out
}

fn contains(haystack: &[u8], needle: &str) -> bool {
    haystack
        .windows(needle.len())
        .any(|w| w == needle.as_bytes())
}

/// No sentinel in stdout, stderr or any file under `dir`, nor in the export of any run the store
/// holds (the store keeps large responses deflated, which a byte search of its file would not
/// see through; the export has them inflated); returns how many files were searched.
fn assert_no_key(dir: &Path, stdout: &str, stderr: &str) -> usize {
    let all = files(dir);
    let store = |args: &[&str]| {
        let out = Command::new(env!("CARGO_BIN_EXE_symphony"))
            .args(["runs"])
            .args(args)
            .current_dir(dir)
            .env("HOME", dir.join("home"))
            .env("XDG_DATA_HOME", dir.join("home/.local/share"))
            .env("NO_COLOR", "1")
            .output()
            .unwrap();
        assert!(out.status.success(), "{out:?}");
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    let listed: Value = serde_json::from_str(&store(&["list", "--json"])).unwrap();
    let exports: Vec<String> = listed["runs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| store(&["export", r["id"].as_str().unwrap()]))
        .collect();
    assert!(!exports.is_empty(), "the runs are in the store");
    for key in [OPENAI_KEY, ANTHROPIC_KEY] {
        assert!(!stdout.contains(key), "the key leaked to stdout");
        assert!(!stderr.contains(key), "the key leaked to stderr");
        for (name, bytes) in &all {
            assert!(!contains(bytes, key), "the key leaked into {name}");
        }
        for export in &exports {
            assert!(!export.contains(key), "the key leaked into a run's export");
        }
    }
    all.len()
}

#[test]
fn a_melody_of_chat_steps_streams_counts_prices_and_never_leaks_a_key() {
    let (openai, openai_seen) = serve(openai_ok);
    let (anthropic, anthropic_seen) = serve(anthropic_ok);
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("home")).unwrap();
    std::fs::write(dir.path().join("melody.json"), melody(&openai, &anthropic)).unwrap();

    let (code, stdout, stderr) = run(dir.path());
    assert_eq!(code, 0, "stdout:\n{stdout}\nstderr:\n{stderr}");
    let lines: Vec<Value> = stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();

    // Streamed progress from both steps, adding up to their answers.
    let streamed = |step: &str| -> (String, usize) {
        let ev: Vec<&Value> = lines
            .iter()
            .filter(|l| l["type"] == "stepProgress" && l["step"] == step)
            .collect();
        (
            ev.iter().map(|l| l["text"].as_str().unwrap()).collect(),
            ev.len(),
        )
    };
    assert_eq!(streamed("plan").0, "Plan: dig a canal.");
    assert_eq!(streamed("review").0, "Looks sound.");
    assert!(streamed("plan").1 >= 2, "the plan arrived in pieces");

    // The review received the plan.
    let review_body = anthropic_seen.requests()[0].body.clone();
    assert_eq!(
        review_body["messages"][0]["content"],
        "Review: Plan: dig a canal."
    );

    // Usage and cost, per step in the events and summed in the report.
    let usage_of = |step: &str| {
        lines
            .iter()
            .find(|l| l["type"] == "stepSucceeded" && l["step"] == step)
            .unwrap()["usage"]
            .clone()
    };
    let plan = usage_of("plan");
    assert_eq!(
        (
            plan["inputTokens"].as_u64(),
            plan["outputTokens"].as_u64(),
            plan["estimated"].as_bool()
        ),
        (Some(2000), Some(1000), Some(false))
    );
    // gpt-4o-mini: 2000 × $0.15 + 1000 × $0.60 per million.
    assert!(
        (plan["costUsd"].as_f64().unwrap() - 0.0009).abs() < 1e-12,
        "{plan}"
    );
    let review = usage_of("review");
    // claude-sonnet-4-5: 3000 × $3 + 500 × $15 per million.
    assert!(
        (review["costUsd"].as_f64().unwrap() - 0.0165).abs() < 1e-12,
        "{review}"
    );
    let report = lines.iter().find(|l| l["type"] == "report").unwrap();
    let totals = &report["totals"];
    assert_eq!(
        (
            totals["inputTokens"].as_u64(),
            totals["outputTokens"].as_u64()
        ),
        (Some(5000), Some(1500))
    );
    assert!(
        (totals["costUsd"].as_f64().unwrap() - 0.0174).abs() < 1e-12,
        "{totals}"
    );
    assert_eq!(totals["tokensEstimated"], false);

    // Each call's raw request and stream are in the events (and the store), without the key.
    for (step, said) in [("plan", "a canal."), ("review", "sound.")] {
        let exchange = lines
            .iter()
            .find(|l| l["type"] == "stepExchange" && l["step"] == step)
            .unwrap_or_else(|| panic!("no exchange for {step}"));
        assert_eq!(exchange["status"], 200);
        assert!(exchange["request"]["messages"].is_array(), "{exchange}");
        assert!(
            exchange["response"].as_str().unwrap().contains(said),
            "{exchange}"
        );
    }

    // The keys went where they belong, in headers, and nowhere else.
    let openai_head = openai_seen.requests()[0].headers.clone();
    assert_eq!(openai_head["authorization"], format!("Bearer {OPENAI_KEY}"));
    let anthropic_head = anthropic_seen.requests()[0].headers.clone();
    assert_eq!(anthropic_head["x-api-key"], ANTHROPIC_KEY);
    let searched = assert_no_key(dir.path(), &stdout, &stderr);
    assert!(
        searched >= 3,
        "the workspace was written ({searched} files)"
    );

    // The summary a person reads says the same: tokens and cost per step and for the run.
    // (The answers are stored now: --fresh calls the servers again.)
    let (code, stdout, stderr) = run_with(dir.path(), &["--fresh", "--workspace", "ws2"]);
    assert_eq!(code, 0, "stdout:\n{stdout}\nstderr:\n{stderr}");
    assert!(
        stdout.contains("tokens 5000 in / 1500 out · cost $0.02"),
        "{stdout}"
    );
    let row = |step: &str| {
        stdout
            .lines()
            .find(|l| l.starts_with(step) && l.contains("succeeded"))
            .unwrap_or_default()
            .to_owned()
    };
    assert!(
        row("plan").contains("2000/1000") && row("plan").contains("$0.0009"),
        "{stdout}"
    );
    assert!(
        row("review").contains("3000/500") && row("review").contains("$0.02"),
        "{stdout}"
    );
    assert_no_key(dir.path(), &stdout, &stderr);
}

#[test]
fn a_melody_that_sends_a_key_to_its_own_server_is_refused_until_a_person_trusts_it() {
    // The attack: a shared melody names the user's `openai` credential and a server of its
    // own. Without a terminal to ask on and without --trust, nothing is sent.
    let (openai, openai_seen) = serve(openai_ok);
    let (anthropic, anthropic_seen) = serve(anthropic_ok);
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("home")).unwrap();
    std::fs::write(dir.path().join("melody.json"), melody(&openai, &anthropic)).unwrap();
    let (code, stdout, stderr) = run_untrusted(dir.path(), &["--workspace", "ws"]);
    assert_eq!(
        code, 6,
        "refused with the documented code\n{stdout}\n{stderr}"
    );
    assert!(
        stderr.contains("is not trusted")
            && stderr.contains("sends your credential `openai` to")
            && stderr.contains(&openai),
        "{stderr}"
    );
    assert!(
        stderr.contains("symphony trust melody.json"),
        "it says how to trust it: {stderr}"
    );
    assert_eq!(
        openai_seen.requests().len(),
        0,
        "no request reached the server"
    );
    assert_eq!(anthropic_seen.requests().len(), 0);
    assert!(!dir.path().join("ws").exists(), "no run was started");

    // `symphony trust FILE --yes` records it; the run then plays without --trust.
    let out = Command::new(env!("CARGO_BIN_EXE_symphony"))
        .args(["trust", "melody.json", "--yes"])
        .current_dir(dir.path())
        .env("HOME", dir.path().join("home"))
        .env("XDG_DATA_HOME", dir.path().join("home/.local/share"))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let (code, stdout, stderr) = run_untrusted(dir.path(), &["--workspace", "ws", "--json"]);
    assert_eq!(code, 0, "trusted, it plays\n{stdout}\n{stderr}");
    assert!(!openai_seen.requests().is_empty());

    // Changing where the key goes asks again.
    let moved = melody(&openai.replace("127.0.0.1", "localhost"), &anthropic);
    std::fs::write(dir.path().join("melody.json"), moved).unwrap();
    let (code, _, stderr) = run_untrusted(dir.path(), &["--workspace", "ws2"]);
    assert_eq!(code, 6, "{stderr}");
}

#[test]
fn a_key_echoed_by_the_server_is_hidden_everywhere() {
    let (openai, seen) = serve(openai_echoes_the_key);
    let (anthropic, _) = serve(anthropic_ok);
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("home")).unwrap();
    std::fs::write(dir.path().join("melody.json"), melody(&openai, &anthropic)).unwrap();

    let (code, stdout, stderr) = run(dir.path());
    assert_eq!(
        code, 1,
        "the run fails\nstdout:\n{stdout}\nstderr:\n{stderr}"
    );
    assert_eq!(seen.requests().len(), 1, "a wrong key is not retried");
    let failed = stdout
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap())
        .find(|l| l["type"] == "stepFailed")
        .unwrap();
    let error = failed["error"].as_str().unwrap();
    assert!(
        error.contains("Incorrect API key provided: ***.")
            && error.contains("check credential `openai`"),
        "{error}"
    );
    // The raw exchange (request and the echoing error body) is written too, scrubbed.
    let exchange = stdout
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap())
        .find(|l| l["type"] == "stepExchange")
        .expect("the call is recorded");
    assert_eq!(exchange["status"], 401);
    assert!(
        exchange["response"]
            .as_str()
            .unwrap()
            .contains("Incorrect API key provided: ***."),
        "{exchange}"
    );
    assert_no_key(dir.path(), &stdout, &stderr);
}

/// The user's limits file (`limits.json` beside the credentials) holds every run of the
/// process to its budgets: four chat steps that could all run at once, against a server the
/// file limits to one call at a time, reach it one after another.
#[test]
fn the_users_limits_file_holds_parallel_steps_to_its_budget() {
    // In flight from the request read to just before the answer's last content chunk.
    let server = Server::start_in_thread(|_, r| openai_ok(r));
    let addr = server.addr;
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let step = |id: &str| {
        json!({"id": id, "kind": "instrument", "type": "instrument.chat", "capabilities": ["network", "secrets"],
               "config": {"baseUrl": format!("http://{addr}/v1"), "model": "gpt-4o-mini", "credential": "openai",
                          "prompt": format!("Part {id} of {{{{goal}}}}")}})
    };
    let m = json!({
        "formatVersion": 1,
        "melody": {"id": "limited", "name": "Limited"},
        "inputs": {"goal": {"type": "string", "default": "move water"}},
        "settings": {"maxParallel": 4},
        "steps": [step("a"), step("b"), step("c"), step("d")],
        "edges": []
    });
    std::fs::write(d.join("melody.json"), m.to_string()).unwrap();
    std::fs::create_dir_all(d.join("home/.config/symphony")).unwrap();
    std::fs::write(
        d.join("home/.config/symphony/limits.json"),
        json!({"byKey": {addr.to_string(): {"maxConcurrent": 1}}}).to_string(),
    )
    .unwrap();
    let (code, stdout, stderr) = run(d);
    assert_eq!(code, 0, "{stdout}\n{stderr}");
    assert_eq!(server.requests().len(), 4);
    assert_eq!(
        server.max_in_flight(),
        1,
        "the file's limit of 1 call in flight was kept"
    );
    // Without the file, the same melody sends its four calls together.
    std::fs::remove_file(d.join("home/.config/symphony/limits.json")).unwrap();
    server.reset_max_in_flight();
    let (code, stdout, stderr) = run_with(d, &["--json", "--workspace", "ws2", "--fresh"]);
    assert_eq!(code, 0, "{stdout}\n{stderr}");
    assert!(
        server.max_in_flight() > 1,
        "without the file, calls overlap ({} at most)",
        server.max_in_flight()
    );
}
