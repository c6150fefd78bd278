//! "Set up a provider" at the host's boundary: a test call against a loopback server that
//! speaks the OpenAI `GET /models` wire format (and refuses a wrong key as OpenAI does), and a
//! key kept in the credential store, where discovery then finds the provider.

#![allow(clippy::unwrap_used)] // Tests unwrap: a panic is the failure report.

use serde_json::{json, Value};
use symphony_testkit::http::{Reply, Server};

mod common;
use common::fixture;

/// A model server on loopback: `GET /v1/models` answers two models to `Bearer sk-right`, and
/// 401 with OpenAI's error body to anything else. Each request is kept.
async fn models_server() -> Server {
    Server::start(|_, r| {
        let authorised = r
            .headers
            .get("authorization")
            .is_some_and(|v| v.eq_ignore_ascii_case("bearer sk-right"));
        if (r.method.as_str(), r.path.as_str()) != ("GET", "/v1/models") {
            Reply::json(
                404,
                json!({"error": {"message": "no such route", "type": "invalid_request_error"}}),
            )
        } else if authorised {
            Reply::json(
                200,
                json!({"object": "list", "data": [{"id": "model-b", "object": "model"}, {"id": "model-a", "object": "model"}]}),
            )
        } else {
            Reply::json(
                401,
                json!({"error": {"message": "Incorrect API key provided: sk-wrong.", "type": "invalid_request_error", "code": "invalid_api_key"}}),
            )
        }
    })
    .await
}

#[tokio::test]
async fn a_test_call_lists_the_models_or_says_why_not() {
    let f = fixture();
    let server = models_server().await;
    let base = server.url("/v1");
    let ok = f
        .host
        .call(
            "testProvider",
            json!({"api": "openai", "baseUrl": base, "key": "sk-right"}),
        )
        .await
        .unwrap();
    assert_eq!(ok["ok"], true, "{ok}");
    assert_eq!(ok["models"], json!(["model-a", "model-b"]), "sorted");
    assert_eq!(ok["message"], "It answered and lists 2 models.");
    let first = &server.requests()[0];
    assert_eq!(
        (first.method.as_str(), first.path.as_str()),
        ("GET", "/v1/models")
    );

    let wrong = f
        .host
        .call(
            "testProvider",
            json!({"api": "openai", "baseUrl": base, "key": "sk-wrong"}),
        )
        .await
        .unwrap();
    assert_eq!(wrong["ok"], false);
    let said = wrong["message"].as_str().unwrap();
    assert!(
        said.contains("401") && said.contains("Incorrect API key"),
        "{said}"
    );
    assert!(
        !said.contains("sk-wrong"),
        "the typed key is not repeated: {said}"
    );

    // Nothing listening: said, not raised.
    let closed = f
        .host
        .call(
            "testProvider",
            json!({"api": "openai", "baseUrl": "http://127.0.0.1:9/v1"}),
        )
        .await
        .unwrap();
    assert_eq!(closed["ok"], false, "{closed}");

    // Not a web address, or not a known wire format: a clear refusal.
    for (args, needle) in [
        (
            json!({"api": "openai", "baseUrl": "file:///etc/passwd"}),
            "http:// or https://",
        ),
        (
            json!({"api": "openai", "baseUrl": "http://a\nb"}),
            "one line",
        ),
        (
            json!({"api": "gemini", "baseUrl": base}),
            "\"openai\" or \"anthropic\"",
        ),
    ] {
        let e = f
            .host
            .call("testProvider", args)
            .await
            .unwrap_err()
            .to_string();
        assert!(e.contains(needle), "{e}");
    }
}

#[tokio::test]
async fn a_kept_key_goes_to_the_credential_store_and_nowhere_else() {
    let f = fixture();
    let saved = f
        .host
        .call(
            "setCredential",
            json!({"name": "my-server", "value": "  sk-kept-123  "}),
        )
        .await
        .unwrap();
    assert_eq!(saved["name"], "my-server");
    assert_eq!(saved["encrypted"], false, "the fixture's store is a file");
    let file = f
        .data
        .path()
        .join("config")
        .join(symphony_credentials::FILE_NAME);
    let text = std::fs::read_to_string(&file).unwrap();
    let kept: Value = serde_json::from_str(&text).unwrap();
    assert!(
        text.contains("sk-kept-123") && !text.contains("  sk-kept"),
        "kept trimmed: {kept}"
    );
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&file).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600, "the credentials file is the user's alone");
    }
    // The answer never holds the value.
    assert!(!saved.to_string().contains("sk-kept"), "{saved}");

    for (args, needle) in [
        (json!({"name": "bad name!", "value": "x"}), "name"),
        (json!({"name": "ok", "value": "   "}), "empty"),
    ] {
        let e = f
            .host
            .call("setCredential", args)
            .await
            .unwrap_err()
            .to_string();
        assert!(e.contains(needle), "{e}");
    }
}
