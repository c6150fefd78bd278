//! Discovery against loopback stand-ins for OpenAI, Anthropic and Ollama.

#![allow(clippy::unwrap_used)] // Tests unwrap: a panic is the failure report.

mod common;

use std::collections::HashMap;
use std::time::Duration;

use common::*;
use serde_json::json;
use symphony_instruments::discovery::{discover, Endpoints};

fn creds(pairs: &[(&str, &str)]) -> Fixed {
    Fixed(
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect::<HashMap<_, _>>(),
    )
}

/// An address where nothing listens.
fn nowhere() -> String {
    format!("http://{}", nothing_listens())
}

#[tokio::test]
async fn with_no_key_and_no_ollama_only_the_offline_instrument_is_offered() {
    let endpoints = Endpoints {
        openai: nowhere(),
        anthropic: nowhere(),
        ollama: nowhere(),
        timeout: Duration::from_millis(300),
    };
    let d = discover(&creds(&[]), &endpoints).await;
    assert!(d.offline_only);
    assert!(d.offers.is_empty());
    assert!(
        d.summary
            .contains("only the offline instrument is available (offline: no model is called)"),
        "{}",
        d.summary
    );
}

#[tokio::test]
async fn keys_and_a_local_ollama_list_their_models() {
    let server = Server::start(|_, req| match req.path.as_str() {
        "/v1/models"
            if req.headers.get("authorization").map(String::as_str) == Some("Bearer sk-o") =>
        {
            Reply::json(
                200,
                json!({"object": "list", "data": [{"id": "gpt-4o-mini"}, {"id": "gpt-4o"}]}),
            )
        }
        "/v1/models" if req.headers.get("x-api-key").map(String::as_str) == Some("sk-a") => {
            Reply::json(
                200,
                json!({"data": [{"id": "claude-sonnet-4-5", "type": "model"}]}),
            )
        }
        "/api/tags" => Reply::json(
            200,
            json!({"models": [{"name": "llama3.2:latest"}, {"name": "qwen2.5:7b"}]}),
        ),
        _ => Reply::json(401, json!({"error": {"message": "bad key"}})),
    })
    .await;
    let endpoints = Endpoints {
        openai: server.url("/v1"),
        anthropic: server.url(""),
        ollama: server.url(""),
        timeout: Duration::from_millis(2000),
    };
    let d = discover(
        &creds(&[("openai", "sk-o"), ("anthropic", "sk-a")]),
        &endpoints,
    )
    .await;
    assert!(!d.offline_only);
    let by: HashMap<&str, &Vec<String>> = d
        .offers
        .iter()
        .map(|o| (o.provider.as_str(), &o.models))
        .collect();
    assert_eq!(
        by["openai"],
        &vec!["gpt-4o".to_owned(), "gpt-4o-mini".to_owned()]
    );
    assert_eq!(by["anthropic"], &vec!["claude-sonnet-4-5".to_owned()]);
    assert_eq!(
        by["ollama"],
        &vec!["llama3.2:latest".to_owned(), "qwen2.5:7b".to_owned()]
    );
    let ollama = d.offers.iter().find(|o| o.provider == "ollama").unwrap();
    assert_eq!(
        (ollama.base_url.clone(), ollama.credential.clone()),
        (server.url("/v1"), None)
    );
    assert_eq!(
        d.summary,
        "models available from openai (2 models), anthropic (1 models), ollama (2 models)"
    );
}

#[tokio::test]
async fn a_key_that_cannot_list_models_is_offered_with_a_note_that_hides_it() {
    let server = Server::always(Reply::json(
        401,
        json!({"error": {"message": "Incorrect API key provided: sk-wrong-1234"}}),
    ))
    .await;
    let endpoints = Endpoints {
        openai: server.url("/v1"),
        anthropic: nowhere(),
        ollama: nowhere(),
        timeout: Duration::from_millis(1000),
    };
    let d = discover(&creds(&[("openai", "sk-wrong-1234")]), &endpoints).await;
    assert_eq!(d.offers.len(), 1);
    let note = d.offers[0].note.clone().unwrap();
    assert!(
        note.contains("401") && note.contains("Incorrect API key provided: ***"),
        "{note}"
    );
}

#[tokio::test]
async fn a_silent_ollama_does_not_hold_discovery_up() {
    let server = Server::always(Reply::Hang).await;
    let endpoints = Endpoints {
        openai: nowhere(),
        anthropic: nowhere(),
        ollama: server.url(""),
        timeout: Duration::from_millis(200),
    };
    let start = std::time::Instant::now();
    let d = discover(&creds(&[]), &endpoints).await;
    assert!(d.offline_only);
    assert!(start.elapsed() < Duration::from_secs(5));
}
