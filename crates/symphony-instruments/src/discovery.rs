//! Which models this machine can play: hosted providers whose key is set, and a local Ollama
//! server if one answers. With neither, only the offline instrument is available, and the
//! answer says so in words meant to be shown as they are.
//!
//! Every probe is bounded by a short timeout and failures are reported, not raised: discovery
//! is for showing choices (the app's model picker, `symphony types`), never a reason to fail.
//! The endpoints are a parameter so tests point them at loopback servers.

use std::time::Duration;

use serde::Serialize;
use serde_json::Value;
use symphony_credentials::Credentials;

/// Where discovery looks.
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
            openai: "https://api.openai.com/v1".into(),
            anthropic: "https://api.anthropic.com".into(),
            ollama: "http://localhost:11434".into(),
            timeout: Duration::from_millis(1500),
        }
    }
}

/// One source of models.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Offer {
    /// `openai`, `anthropic` or `ollama`.
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

/// Looks for keys (through `credentials`, names `openai` and `anthropic`) and a local Ollama.
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
    if let Ok(key) = credentials.get("openai") {
        let url = format!("{}/models", endpoints.openai.trim_end_matches('/'));
        let listed = list(client.get(&url).bearer_auth(key.expose()), "data", "id").await;
        offers.push(offer(
            "openai",
            &endpoints.openai,
            Some("openai"),
            listed,
            |e| key.scrub(e),
        ));
    }
    if let Ok(key) = credentials.get("anthropic") {
        let url =
            crate::providers::anthropic::messages_url(endpoints.anthropic.trim_end_matches('/'))
                .replace("/messages", "/models");
        let req = client
            .get(&url)
            .header("x-api-key", key.expose())
            .header("anthropic-version", "2023-06-01");
        let listed = list(req, "data", "id").await;
        offers.push(offer(
            "anthropic",
            &endpoints.anthropic,
            Some("anthropic"),
            listed,
            |e| key.scrub(e),
        ));
    }
    let tags = format!("{}/api/tags", endpoints.ollama.trim_end_matches('/'));
    if let Ok(models) = list(client.get(&tags), "models", "name").await {
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
        "no model key (OPENAI_API_KEY, ANTHROPIC_API_KEY) and no local Ollama server: only the offline instrument is available (offline: no model is called)".to_owned()
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

/// Which wire format a provider speaks, for [`probe`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProbeApi {
    /// OpenAI-compatible (`GET {base}/models`, bearer key): OpenAI, Ollama's `/v1`, vLLM,
    /// llama.cpp, LM Studio, OpenRouter.
    OpenAi,
    /// Anthropic (`GET {base}/v1/models`, `x-api-key`).
    Anthropic,
}

/// Asks one provider for its models, as the app's "Set up a provider" test call does: the
/// models it lists, or what went wrong in a sentence (the key never appears in it).
pub async fn probe(
    api: ProbeApi,
    base_url: &str,
    key: Option<&str>,
    timeout: Duration,
) -> Result<Vec<String>, String> {
    let client = reqwest::Client::builder()
        .connect_timeout(timeout)
        .timeout(timeout)
        .build()
        .map_err(|e| format!("cannot set up the HTTP client: {e}"))?;
    let base = base_url.trim_end_matches('/');
    let req = match api {
        ProbeApi::OpenAi => {
            let req = client.get(format!("{base}/models"));
            match key {
                Some(k) => req.bearer_auth(k),
                None => req,
            }
        }
        ProbeApi::Anthropic => {
            let url =
                crate::providers::anthropic::messages_url(base).replace("/messages", "/models");
            client
                .get(url)
                .header("x-api-key", key.unwrap_or_default())
                .header("anthropic-version", "2023-06-01")
        }
    };
    list(req, "data", "id").await.map_err(|e| match key {
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

/// GETs a list and reads `field` of each item of `list`.
async fn list(
    req: reqwest::RequestBuilder,
    list: &str,
    field: &str,
) -> Result<Vec<String>, String> {
    let resp = req.send().await.map_err(|e| crate::providers::chain(&e))?;
    let status = resp.status();
    let body = resp
        .bytes()
        .await
        .map_err(|e| crate::providers::chain(&e))?;
    if !status.is_success() {
        let said = crate::providers::provider_message(&body, "");
        return Err(format!("{status}: {}", said.text));
    }
    let v: Value = serde_json::from_slice(&body).map_err(|e| format!("not JSON: {e}"))?;
    let mut names: Vec<String> = v
        .get(list)
        .and_then(Value::as_array)
        .ok_or_else(|| format!("no `{list}` list in the answer"))?
        .iter()
        .filter_map(|m| m.get(field).and_then(Value::as_str).map(str::to_owned))
        .collect();
    names.sort();
    Ok(names)
}
