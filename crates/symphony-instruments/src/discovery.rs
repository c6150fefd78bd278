//! Which models this machine can play: hosted providers whose key is set (every wire format
//! in [`FORMATS`], at its default base URL with its credential), and a local Ollama server if
//! one answers. With neither, only the offline instrument is available, and the
//! answer says so in words meant to be shown as they are.
//!
//! Every probe is bounded by a short timeout and failures are reported, not raised: discovery
//! is for showing choices (the app's model picker, `symphony types`), never a reason to fail.
//! The endpoints are a parameter so tests point them at loopback servers.

use std::time::Duration;

use serde::Serialize;
use serde_json::Value;
use symphony_credentials::{Credentials, EnvCredentials};

use crate::providers::{chain, names_in, provider_message, Format, FORMATS};

/// Where discovery looks. Hosts use the default; tests point it at loopback servers. The
/// fields name the formats whose discovery can be pointed elsewhere (each format reads its
/// own in `WireFormat::discovery_base_url`); a format without one here is looked for at its
/// default base URL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoints {
    /// The OpenAI base URL (`GET {openai}/models`).
    pub openai: String,
    /// The Anthropic base URL (`GET {anthropic}/v1/models`).
    pub anthropic: String,
    /// The Ollama server (`GET {ollama}/api/tags`).
    pub ollama: String,
    /// How long each probe may take.
    pub timeout: Duration,
}

impl Default for Endpoints {
    fn default() -> Self {
        Endpoints {
            openai: crate::providers::openai::FORMAT.default_base_url.into(),
            anthropic: crate::providers::anthropic::FORMAT.default_base_url.into(),
            ollama: "http://localhost:11434".into(),
            timeout: Duration::from_millis(1500),
        }
    }
}

/// One source of models.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Offer {
    /// A wire format's name (`openai`, `anthropic`), or `ollama`.
    pub provider: String,
    /// The config a step uses for it: `provider` and `baseUrl`.
    pub base_url: String,
    /// The credential a step names for it, if it needs one.
    pub credential: Option<String>,
    /// The models it offers (as listed by the provider, sorted).
    pub models: Vec<String>,
    /// What went wrong while listing, if something did (the key may still work).
    pub note: Option<String>,
}

/// What discovery found.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Discovery {
    /// Sources of real models.
    pub offers: Vec<Offer>,
    /// True when there is none: only `instrument.offline` can play.
    pub offline_only: bool,
    /// One sentence for a person.
    pub summary: String,
}

/// Looks for keys (through `credentials`, each format's credential: `openai`, `anthropic`)
/// and a local Ollama.
pub async fn discover(credentials: &dyn Credentials, endpoints: &Endpoints) -> Discovery {
    let client = match reqwest::Client::builder()
        .connect_timeout(endpoints.timeout)
        .timeout(endpoints.timeout)
        .build()
    {
        Ok(c) => c,
        Err(e) => {
            return Discovery {
                offers: Vec::new(),
                offline_only: true,
                summary: format!("cannot set up the HTTP client ({e}); only the offline instrument is available (offline: no model is called)"),
            }
        }
    };
    let mut offers = Vec::new();
    for format in FORMATS {
        if let Ok(key) = credentials.get(format.credential) {
            let base = format.wire.discovery_base_url(endpoints);
            let req =
                format
                    .wire
                    .models_request(&client, base.trim_end_matches('/'), Some(key.expose()));
            let listed = list(req, |v| format.wire.model_names(v)).await;
            offers.push(offer(
                format.name,
                base,
                Some(format.credential),
                listed,
                |e| key.scrub(e),
            ));
        }
    }
    let tags = format!("{}/api/tags", endpoints.ollama.trim_end_matches('/'));
    if let Ok(models) = list(client.get(&tags), |v| names_in(v, "models", "name")).await {
        offers.push(Offer {
            provider: "ollama".into(),
            base_url: format!("{}/v1", endpoints.ollama.trim_end_matches('/')),
            credential: None,
            note: models.is_empty().then(|| {
                "Ollama is running but has no model; pull one with `ollama pull llama3.2`".into()
            }),
            models,
        });
    }
    let offline_only = offers.is_empty();
    let summary = if offline_only {
        format!("no model key ({}) and no local Ollama server: only the offline instrument is available (offline: no model is called)", key_variables().join(", "))
    } else {
        let names: Vec<String> = offers
            .iter()
            .map(|o| format!("{} ({} models)", o.provider, o.models.len()))
            .collect();
        format!("models available from {}", names.join(", "))
    };
    Discovery {
        offers,
        offline_only,
        summary,
    }
}

/// The environment variables that hold the formats' keys, in the order of [`FORMATS`]
/// (`OPENAI_API_KEY`, `ANTHROPIC_API_KEY`): what a person without any model is told to set.
pub fn key_variables() -> Vec<&'static str> {
    FORMATS
        .iter()
        .filter_map(|f| EnvCredentials::usual_variable(f.credential))
        .collect()
}

/// Asks one provider for its models, as the app's "Set up a provider" test call does: the
/// models it lists, or what went wrong in a sentence (the key never appears in it).
pub async fn probe(
    format: &Format,
    base_url: &str,
    key: Option<&str>,
    timeout: Duration,
) -> Result<Vec<String>, String> {
    let client = reqwest::Client::builder()
        .connect_timeout(timeout)
        .timeout(timeout)
        .build()
        .map_err(|e| format!("cannot set up the HTTP client: {e}"))?;
    let req = format
        .wire
        .models_request(&client, base_url.trim_end_matches('/'), key);
    list(req, |v| format.wire.model_names(v))
        .await
        .map_err(|e| match key {
            Some(k) if !k.is_empty() => e.replace(k, "[key]"),
            _ => e,
        })
}

fn offer(
    provider: &str,
    base_url: &str,
    credential: Option<&str>,
    listed: Result<Vec<String>, String>,
    scrub: impl Fn(&str) -> String,
) -> Offer {
    let (models, note) = match listed {
        Ok(m) => (m, None),
        Err(e) => (
            Vec::new(),
            Some(format!(
                "the key is set but the models could not be listed: {}",
                scrub(&e)
            )),
        ),
    };
    Offer {
        provider: provider.into(),
        base_url: base_url.trim_end_matches('/').into(),
        credential: credential.map(str::to_owned),
        models,
        note,
    }
}

/// GETs a list of models and reads their names with `names`, sorted.
async fn list(
    req: reqwest::RequestBuilder,
    names: impl FnOnce(&Value) -> Result<Vec<String>, String>,
) -> Result<Vec<String>, String> {
    let resp = req.send().await.map_err(|e| chain(&e))?;
    let status = resp.status();
    let body = resp.bytes().await.map_err(|e| chain(&e))?;
    if !status.is_success() {
        let said = provider_message(&body, "");
        return Err(format!("{status}: {}", said.text));
    }
    let v: Value = serde_json::from_slice(&body).map_err(|e| format!("not JSON: {e}"))?;
    let mut names = names(&v)?;
    names.sort();
    Ok(names)
}
