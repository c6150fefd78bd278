//! The wire formats, one file each, listed once in [`FORMATS`].
//!
//! A format's file declares everything Symphony knows about it: a [`Format`] (its name in a
//! step's config, who answers in messages, its default base URL, the credential it uses
//! there, the highest temperature it accepts) and an implementation of [`WireFormat`] (whether
//! a schema can go to it natively, how to list its models, and the call itself: the request
//! body, the whole answer and the stream). The step type (`chat.rs`), discovery, the host's
//! "Set up a provider" test call, trust and the offline notice read the table; nothing
//! outside a format's file names a format.
//!
//! What every format needs the same way is shared: the bounded HTTP and the error messages
//! in [`http`], server-sent event framing in `crate::sse`.
//!
//! **Architecture Invariant:** a name appears in [`FORMATS`] once; the first entry is the
//! default, used by a step that names no provider (and, as before this table existed, by one
//! that names an unknown provider: validation refuses that name first).

pub(crate) mod anthropic;
pub(crate) mod http;
pub(crate) mod openai;

use std::collections::HashSet;
use std::sync::Mutex;

use serde_json::Value;
use symphony_conductor::{BoxFuture, StepError};

pub(crate) use http::{chain, provider_message, shorten, Endpoint, Recorder};

use crate::discovery::Endpoints;

/// Every wire format Symphony speaks, the default first.
pub static FORMATS: &[&Format] = &[&openai::FORMAT, &anthropic::FORMAT];

/// What the rest of Symphony knows about one wire format.
pub struct Format {
    /// The name a step's config gives (`provider`), and discovery and `testProvider` use.
    pub name: &'static str,
    /// Who answers, in messages ("the OpenAI-compatible server", "Anthropic").
    pub label: &'static str,
    /// How the `provider` config field describes this choice.
    pub about: &'static str,
    /// The base URL a step that names none uses (no trailing slash).
    pub default_base_url: &'static str,
    /// The credential a step uses at the default base URL, and discovery looks for. Its
    /// environment variable is the credentials' usual one for the name
    /// ([`symphony_credentials::EnvCredentials::usual_variable`]).
    pub credential: &'static str,
    /// The highest temperature the API accepts (a higher one is a 400 no retry can fix).
    pub max_temperature: f64,
    /// How it is spoken.
    pub(crate) wire: &'static dyn WireFormat,
}

impl std::fmt::Debug for Format {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Format").field("name", &self.name).finish()
    }
}

impl PartialEq for Format {
    fn eq(&self, other: &Format) -> bool {
        self.name == other.name
    }
}

/// How a format is spoken. One implementation per file, reached through [`Format::wire`].
pub(crate) trait WireFormat: Send + Sync {
    /// Whether `schema` can be passed to the API itself (for a step that has other tools or
    /// not); otherwise the model is told about it in the system prompt.
    fn native_schema(&self, schema: &Value, has_tools: bool) -> bool;

    /// Where discovery asks for this format's models.
    fn discovery_base_url<'e>(&self, endpoints: &'e Endpoints) -> &'e str;

    /// The GET that lists the models of the server at `base_url` (no trailing slash), with
    /// `key` if there is one.
    fn models_request(
        &self,
        client: &reqwest::Client,
        base_url: &str,
        key: Option<&str>,
    ) -> reqwest::RequestBuilder;

    /// The model names in the answer to [`WireFormat::models_request`], or what is missing.
    fn model_names(&self, answer: &Value) -> Result<Vec<String>, String> {
        names_in(answer, "data", "id")
    }

    /// Plays one chat call, streaming its text through `on_text`.
    fn chat<'f>(
        &'f self,
        call: &'f Call<'f>,
        on_text: &'f mut (dyn FnMut(&str) + Send),
    ) -> BoxFuture<'f, Result<Answer, StepError>>;
}

/// The format named `name`, if Symphony speaks it.
pub fn find(name: &str) -> Option<&'static Format> {
    FORMATS.iter().copied().find(|f| f.name == name)
}

/// The format a step's `provider` names: the default when it names none (or one Symphony
/// does not speak, which validation reports on its own).
pub fn named_or_default(name: Option<&str>) -> &'static Format {
    name.and_then(find).unwrap_or(FORMATS[0])
}

/// The formats' names, quoted, as a person reads a choice: `"openai" or "anthropic"`.
pub fn names_in_words() -> String {
    in_words(FORMATS.iter().map(|f| format!("\"{}\"", f.name)))
}

/// Items joined as a person lists them: `a`, `a or b`, `a, b or c`.
pub(crate) fn in_words(items: impl IntoIterator<Item = String>) -> String {
    let items: Vec<String> = items.into_iter().collect();
    match items.split_last() {
        None => String::new(),
        Some((last, [])) => last.clone(),
        Some((last, rest)) => format!("{} or {last}", rest.join(", ")),
    }
}

/// The credential a step uses when it names none: its format's own at the default base URL,
/// OpenRouter's for openrouter.ai, none for anything else (a local server).
pub(crate) fn default_credential(format: &Format, base_url: &str) -> Option<String> {
    if base_url == format.default_base_url {
        return Some(format.credential.to_owned());
    }
    let host = reqwest::Url::parse(base_url)
        .ok()
        .and_then(|u| u.host_str().map(str::to_owned));
    (host.as_deref() == Some("openrouter.ai")).then(|| "openrouter".to_owned())
}

/// `field` of every item of the list `list` in `answer`.
pub(crate) fn names_in(answer: &Value, list: &str, field: &str) -> Result<Vec<String>, String> {
    Ok(answer
        .get(list)
        .and_then(Value::as_array)
        .ok_or_else(|| format!("no `{list}` list in the answer"))?
        .iter()
        .filter_map(|m| m.get(field).and_then(Value::as_str).map(str::to_owned))
        .collect())
}

/// A chat call, the same for every format.
#[derive(Debug, Clone)]
pub(crate) struct ChatRequest {
    pub model: String,
    pub system: Option<String>,
    pub prompt: String,
    pub temperature: Option<f64>,
    pub max_tokens: Option<u64>,
    pub stop: Vec<String>,
    pub stream: bool,
    /// Ask for token counts at the end of a stream where the format must ask for them
    /// (`streamUsage`; OpenAI-compatible servers).
    pub stream_usage: bool,
    /// A JSON Schema to pass to the provider natively (when the step asked for it and the
    /// provider can take it); otherwise the instruction is already in the system prompt.
    pub schema: Option<Value>,
    /// Tool definitions, in the provider's own format, passed as they are.
    pub tools: Option<Vec<Value>>,
}

/// What a call produced.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct Answer {
    /// The answer's text.
    pub text: String,
    /// Tool calls the model asked for: `{"id", "name", "arguments"}` each.
    pub tool_calls: Vec<Value>,
    /// The provider's finish or stop reason.
    pub finish_reason: Option<String>,
    /// Input tokens, as the provider reported them.
    pub input_tokens: Option<u64>,
    /// Output tokens, as the provider reported them.
    pub output_tokens: Option<u64>,
    /// A structured answer the provider gave as data rather than text (Anthropic's forced
    /// tool).
    pub structured: Option<Value>,
}

/// One call as the step type hands it to a format.
pub(crate) struct Call<'a> {
    /// Where and how to send it.
    pub ep: Endpoint<'a>,
    /// What to ask.
    pub req: &'a ChatRequest,
    /// What this process learned about servers so far.
    pub quirks: &'a Quirks,
    /// Reports a request that failed before the format sends another in the same attempt
    /// (so each request gets its exchange and log line).
    pub failed: &'a (dyn Fn(&StepError) + Sync),
}

/// What formats learned about servers while the process runs, by base URL: that one refuses
/// an optional field, say, so it is never sent there again. Kept by the step type, shared by
/// all its steps. A `std` mutex: held for a lookup, never across an `.await`.
#[derive(Debug, Default)]
pub(crate) struct Quirks(Mutex<HashSet<(&'static str, String)>>);

impl Quirks {
    /// Whether `quirk` was noted for `base_url`.
    pub(crate) fn has(&self, base_url: &str, quirk: &'static str) -> bool {
        self.0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .contains(&(quirk, base_url.to_owned()))
    }

    /// Notes `quirk` for `base_url`.
    pub(crate) fn note(&self, base_url: &str, quirk: &'static str) {
        self.0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .insert((quirk, base_url.to_owned()));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_format_has_one_name_and_a_key_variable() {
        let mut names: Vec<&str> = FORMATS.iter().map(|f| f.name).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), FORMATS.len(), "a name appears once");
        for f in FORMATS {
            assert!(
                symphony_credentials::EnvCredentials::usual_variable(f.credential).is_some(),
                "credential `{}` of format `{}` needs its usual variable in symphony-credentials",
                f.credential,
                f.name
            );
            assert!(!f.default_base_url.ends_with('/'), "{}", f.name);
            assert_eq!(find(f.name), Some(*f));
        }
        assert_eq!(named_or_default(None).name, "openai");
        assert_eq!(named_or_default(Some("nonsense")).name, "openai");
    }

    #[test]
    fn choices_read_as_a_person_lists_them() {
        let words = |v: &[&str]| in_words(v.iter().map(|s| (*s).to_owned()));
        assert_eq!(words(&[]), "");
        assert_eq!(words(&["a"]), "a");
        assert_eq!(words(&["a", "b"]), "a or b");
        assert_eq!(words(&["a", "b", "c"]), "a, b or c");
        assert_eq!(names_in_words(), "\"openai\" or \"anthropic\"");
    }
}
