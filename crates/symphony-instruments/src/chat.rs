//! `instrument.chat`: a step played by a real model, through one of the wire formats in
//! [`providers::FORMATS`] (an OpenAI-compatible server, Anthropic's Messages API).
//!
//! One attempt: read the config (checked at validation too, see [`StepType::check`]), render
//! the prompt and system templates, fetch the credential, wait for the provider's budget
//! ([`crate::limits`]), call the provider (streaming its text as progress), count tokens
//! (the provider's, or an estimate marked as such), price them, and, when the step gives a
//! JSON Schema, parse and validate the answer.
//!
//! **Secrets.** The credential's value goes into one request header and nowhere else: every
//! error message and every piece of streamed or final text passes through
//! [`Secret::scrub`] before it leaves this file, so a provider echoing the key back (some do,
//! in "invalid key sk-…" errors) cannot leak it into events, outputs or the workspace.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::{json, Map, Value};
use symphony_conductor::{
    BottleneckKind, BoxFuture, ErrorKind, Outputs, Played, StepContext, StepError, StepOutput,
    StepType, Usage,
};
use symphony_credentials::{Credentials, Secret};
use symphony_melody::{
    Capability, ConfigField, FieldType, PortSpec, PortType, Problem, Step, StepKind, TypeSpec,
};

use crate::limits::{Limiter, Limits, ProviderLimits};
use crate::prices::PriceTable;
use crate::providers::{
    self, in_words, Answer, Call, ChatRequest, Endpoint, Format, Quirks, Recorder, FORMATS,
};
use crate::{schema, InstrumentsConfig, Timeouts};

/// The key a base URL's budget and concurrency limit are kept under: the format's name
/// (`openai`, `anthropic`) for its default base URL, else the URL's `host[:port]`
/// (`localhost:11434`, `openrouter.ai`).
pub fn provider_key(format: &Format, base_url: &str) -> String {
    let base = base_url.trim_end_matches('/');
    if base == format.default_base_url {
        return format.name.to_owned();
    }
    match reqwest::Url::parse(base) {
        Ok(u) => match (u.host_str(), u.port()) {
            (Some(h), Some(p)) => format!("{h}:{p}"),
            (Some(h), None) => h.to_owned(),
            _ => base.to_owned(),
        },
        Err(_) => base.to_owned(),
    }
}

/// A step's config, read and checked.
#[derive(Debug, Clone)]
pub(crate) struct ChatConfig {
    pub format: &'static Format,
    pub base_url: String,
    pub model: String,
    pub credential: Option<String>,
    pub temperature: Option<f64>,
    pub max_tokens: Option<u64>,
    pub stop: Vec<String>,
    pub stream: bool,
    pub stream_usage: bool,
    pub schema: Option<Value>,
    /// Pass the schema to the provider (else only instruct the model).
    pub schema_native: bool,
    pub tools: Option<Vec<Value>>,
    pub timeouts: Timeouts,
    pub limits: Option<Limits>,
    pub key: String,
}

impl ChatConfig {
    /// Reads a config; every problem as (field path, message).
    pub(crate) fn parse(
        config: &Map<String, Value>,
        defaults: Timeouts,
    ) -> Result<ChatConfig, Vec<(String, String)>> {
        let mut problems = Vec::new();
        let str_of = |k: &str| config.get(k).and_then(Value::as_str);
        let format = providers::named_or_default(str_of("provider"));
        let base_url = str_of("baseUrl")
            .unwrap_or(format.default_base_url)
            .trim()
            .trim_end_matches('/')
            .to_owned();
        match reqwest::Url::parse(&base_url) {
            Ok(u) if matches!(u.scheme(), "http" | "https") && u.host_str().is_some() => {
                if u.query().is_some() || !u.username().is_empty() || u.password().is_some() {
                    problems.push((
                        "config.baseUrl".into(),
                        "must not carry a query or a user name: put keys in a credential, never in the melody".into(),
                    ));
                }
            }
            _ => problems.push((
                "config.baseUrl".into(),
                format!("`{base_url}` is not an http(s) URL; e.g. \"http://localhost:11434/v1\""),
            )),
        }
        let model = str_of("model").unwrap_or("").trim().to_owned();
        if model.is_empty() {
            problems.push((
                "config.model".into(),
                "name the model, e.g. \"gpt-4o-mini\"".into(),
            ));
        }
        let credential = match str_of("credential") {
            Some(c) if c.trim().is_empty() => {
                problems.push((
                    "config.credential".into(),
                    "must not be empty; leave it out for a server that needs no key".into(),
                ));
                None
            }
            Some(c) => {
                if let Err(e) = symphony_credentials::check_name(c.trim()) {
                    problems.push(("config.credential".into(), e.to_string()));
                }
                Some(c.trim().to_owned())
            }
            None => providers::default_credential(format, &base_url),
        };
        let temperature = config.get("temperature").and_then(Value::as_f64);
        let max_temperature = format.max_temperature;
        if temperature.is_some_and(|t| !(0.0..=max_temperature).contains(&t)) {
            problems.push((
                "config.temperature".into(),
                format!("must be between 0 and {max_temperature} for this provider"),
            ));
        }
        let max_tokens = config.get("maxTokens").and_then(Value::as_u64);
        if max_tokens == Some(0) {
            problems.push(("config.maxTokens".into(), "must be at least 1".into()));
        }
        let mut stop = Vec::new();
        if let Some(list) = config.get("stop").and_then(Value::as_array) {
            for (i, s) in list.iter().enumerate() {
                match s.as_str() {
                    Some(s) if !s.is_empty() => stop.push(s.to_owned()),
                    _ => problems.push((
                        format!("config.stop[{i}]"),
                        "expected a non-empty string".into(),
                    )),
                }
            }
        }
        let schema = config.get("schema").cloned();
        if let Some(s) = &schema {
            if let Err(e) = schema::compile(s) {
                problems.push(("config.schema".into(), e));
            }
        }
        let tools = config.get("tools").and_then(Value::as_array).cloned();
        if let Some(t) = &tools {
            for (i, tool) in t.iter().enumerate() {
                if !tool.is_object() {
                    problems.push((
                        format!("config.tools[{i}]"),
                        "expected a tool definition object in the provider's format".into(),
                    ));
                }
            }
        }
        let ms = |k: &str, d: Duration, problems: &mut Vec<(String, String)>| match config
            .get(k)
            .and_then(Value::as_u64)
        {
            Some(0) => {
                problems.push((format!("config.{k}"), "must be at least 1".into()));
                d
            }
            Some(n) => Duration::from_millis(n),
            None => d,
        };
        let timeouts = Timeouts {
            connect: ms("connectTimeoutMs", defaults.connect, &mut problems),
            first_byte: ms("firstByteTimeoutMs", defaults.first_byte, &mut problems),
            idle: ms("idleTimeoutMs", defaults.idle, &mut problems),
        };
        let limits = match config.get("limits") {
            Some(v) => match serde_json::from_value::<Limits>(v.clone()) {
                Ok(l) => {
                    if l.max_concurrent == Some(0)
                        || l.requests_per_minute == Some(0)
                        || l.tokens_per_minute == Some(0)
                    {
                        problems.push(("config.limits".into(), "limits must be at least 1".into()));
                    }
                    Some(l)
                }
                Err(e) => {
                    problems.push((
                        "config.limits".into(),
                        format!("{e}; expected {{\"maxConcurrent\", \"requestsPerMinute\", \"tokensPerMinute\"}}"),
                    ));
                    None
                }
            },
            None => None,
        };
        let schema_native = str_of("schemaMode") != Some("instruct");
        if !problems.is_empty() {
            return Err(problems);
        }
        Ok(ChatConfig {
            key: provider_key(format, &base_url),
            format,
            base_url,
            model,
            credential,
            temperature,
            max_tokens,
            stop,
            stream: config
                .get("stream")
                .and_then(Value::as_bool)
                .unwrap_or(true),
            stream_usage: config
                .get("streamUsage")
                .and_then(Value::as_bool)
                .unwrap_or(true),
            schema,
            schema_native,
            tools,
            timeouts,
            limits,
        })
    }
}

/// About four characters a token: the usual rule of thumb when a provider reports no count.
pub fn estimate_tokens(text: &str) -> u64 {
    (text.chars().count() as u64).div_ceil(4)
}

/// What every play of the type shares: the process-wide state of the instruments.
struct Shared {
    credentials: Arc<dyn Credentials>,
    prices: PriceTable,
    limits: ProviderLimits,
    limiter: Limiter,
    timeouts: Timeouts,
    /// One client per connect timeout (reqwest sets it per client); clients pool their
    /// connections, so steps reuse them. A `std` mutex: held only to look up or insert.
    clients: Mutex<HashMap<Duration, reqwest::Client>>,
    /// What the formats learned about servers (one that refuses `stream_options`, say).
    quirks: Quirks,
}

/// The `instrument.chat` step type. Register one instance per process: its limiter is the
/// budget every run shares.
pub struct Chat {
    shared: Arc<Shared>,
}

impl Chat {
    /// The step type, with its credentials source, prices, limits and default timeouts.
    pub fn new(config: InstrumentsConfig) -> Self {
        Chat {
            shared: Arc::new(Shared {
                credentials: config.credentials,
                prices: config.prices,
                limits: config.limits,
                limiter: Limiter::new(),
                timeouts: config.timeouts,
                clients: Mutex::new(HashMap::new()),
                quirks: Quirks::default(),
            }),
        }
    }

    /// The process-wide limiter (for hosts that show budgets).
    pub fn limiter(&self) -> &Limiter {
        &self.shared.limiter
    }

    fn client(&self, connect: Duration) -> Result<reqwest::Client, StepError> {
        let mut clients = self
            .shared
            .clients
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(c) = clients.get(&connect) {
            return Ok(c.clone());
        }
        let client = reqwest::Client::builder()
            .connect_timeout(connect)
            .user_agent(concat!("symphony/", env!("CARGO_PKG_VERSION")))
            .tcp_nodelay(true)
            .build()
            .map_err(|e| {
                StepError::fatal(
                    ErrorKind::Instrument,
                    format!("cannot set up the HTTP client: {}", providers::chain(&e)),
                )
            })?;
        clients.insert(connect, client.clone());
        Ok(client)
    }
}

impl StepType for Chat {
    fn spec(&self) -> TypeSpec {
        let mut s = TypeSpec::new(
            "instrument.chat",
            StepKind::Instrument,
            "Chat model",
            "Asks a model (OpenAI-compatible or Anthropic) and streams its answer.",
        );
        s.extra_inputs = Some(PortType::Any);
        s.outputs = vec![
            PortSpec::required(
                "output",
                PortType::Any,
                "The answer's text, or the parsed JSON when config.schema is set.",
            ),
            PortSpec::optional(
                "toolCalls",
                PortType::List,
                "The tool calls the model asked for ({id, name, arguments}); produced only when there are some.",
            ),
            PortSpec::optional(
                "finishReason",
                PortType::Text,
                "Why the model stopped (stop, length, tool_calls, end_turn, max_tokens, …).",
            ),
        ];
        let opt = ConfigField::optional;
        s.config = vec![
            ConfigField::required("model", FieldType::String, "The model, e.g. \"gpt-4o-mini\", \"claude-sonnet-4-5\", \"llama3.2\".").single_line(),
            ConfigField::required("prompt", FieldType::Template, "The user message, with {{references}}."),
            opt("system", FieldType::Template, "The system prompt, with {{references}}."),
            opt(
                "provider",
                FieldType::Choice { options: FORMATS.iter().map(|f| f.name.to_owned()).collect() },
                &format!("The API: {}.", in_words(FORMATS.iter().map(|f| f.about.to_owned()))),
            ),
            opt(
                "baseUrl",
                FieldType::String,
                &format!("The API's base URL (default {}).", in_words(FORMATS.iter().map(|f| f.default_base_url.to_owned()))),
            )
            .single_line(),
            opt("credential", FieldType::String, "The name of the credential holding the key (default: the provider's name for its default URL, none for other URLs).").single_line(),
            opt("temperature", FieldType::Number, "Sampling temperature, 0 to 2."),
            opt("maxTokens", FieldType::Integer, "The most tokens the answer may have (Anthropic: default 4096)."),
            opt("stop", FieldType::List, "Stop sequences."),
            opt("stream", FieldType::Boolean, "Stream the answer (default true)."),
            opt("streamUsage", FieldType::Boolean, "Ask an OpenAI-compatible server for usage at the end of a stream (default true; turned off by itself for a server that refuses it)."),
            opt("schema", FieldType::Object, "A JSON Schema the answer must match: the output is the parsed JSON."),
            opt(
                "schemaMode",
                FieldType::Choice { options: vec!["native".into(), "instruct".into()] },
                "Pass the schema to the provider (native, the default) or only describe it in the system prompt (instruct, for servers that reject response_format).",
            ),
            opt("tools", FieldType::List, "Tool definitions in the provider's format; calls come out on the toolCalls port."),
            opt("connectTimeoutMs", FieldType::Integer, "How long connecting may take (default 10000)."),
            opt("firstByteTimeoutMs", FieldType::Integer, "How long until the server starts answering (default 120000)."),
            opt("idleTimeoutMs", FieldType::Integer, "How long a stream may pause between chunks (default 60000)."),
            opt("limits", FieldType::Object, "This step's view of its provider's budget: {maxConcurrent, requestsPerMinute, tokensPerMinute}."),
        ];
        s.capabilities = vec![Capability::Network, Capability::Secrets];
        s.cacheable = true;
        s.estimate_ms = 8_000;
        s
    }

    fn check(&self, step: &Step, problems: &mut Vec<Problem>) {
        if let Err(found) = ChatConfig::parse(&step.config, self.shared.timeouts) {
            for (path, message) in found {
                problems.push(Problem::at(path, message));
            }
        }
    }

    fn concurrency_key(&self, config: &Map<String, Value>) -> Option<String> {
        let format = providers::named_or_default(config.get("provider").and_then(Value::as_str));
        let base = config
            .get("baseUrl")
            .and_then(Value::as_str)
            .unwrap_or(format.default_base_url);
        Some(provider_key(format, base))
    }

    fn play<'a>(&'a self, cx: &'a StepContext) -> BoxFuture<'a, Result<Played, StepError>> {
        Box::pin(async move {
            let cfg = ChatConfig::parse(&cx.config, self.shared.timeouts).map_err(|found| {
                StepError::fatal(
                    ErrorKind::Config,
                    found
                        .into_iter()
                        .map(|(p, m)| format!("{p}: {m}"))
                        .collect::<Vec<_>>()
                        .join("; "),
                )
            })?;
            // A keychain may block (opening it, asking the user to unlock it): off the runtime.
            let secret = match &cfg.credential {
                Some(name) => {
                    let (credentials, name) = (self.shared.credentials.clone(), name.clone());
                    Some(
                        tokio::task::spawn_blocking(move || credentials.get(&name))
                            .await
                            .map_err(|e| {
                                StepError::fatal(
                                    ErrorKind::Config,
                                    format!("the credential lookup stopped: {e}"),
                                )
                            })?
                            .map_err(|e| StepError::fatal(ErrorKind::Config, e.to_string()))?,
                    )
                }
                None => None,
            };
            self.play_with(cx, &cfg, secret.as_ref())
                .await
                .map_err(|mut e| {
                    if let Some(s) = &secret {
                        e.message = s.scrub(&e.message);
                    }
                    e
                })
        })
    }
}

impl Chat {
    async fn play_with(
        &self,
        cx: &StepContext,
        cfg: &ChatConfig,
        secret: Option<&Secret>,
    ) -> Result<Played, StepError> {
        let prompt = cx.render("prompt")?.unwrap_or_default();
        let mut system = cx.render("system")?.filter(|s| !s.is_empty());
        // Where the schema cannot go natively, the model is told in the system prompt.
        let native = cfg.schema_native
            && cfg
                .schema
                .as_ref()
                .is_some_and(|s| cfg.format.wire.native_schema(s, cfg.tools.is_some()));
        if let (Some(s), false) = (&cfg.schema, native) {
            let instruction = schema::instruction(s);
            system = Some(match system {
                Some(sys) => format!("{sys}\n\n{instruction}"),
                None => instruction,
            });
        }
        cx.report_prompt(system.as_deref(), &prompt);
        let validator =
            match &cfg.schema {
                Some(s) => Some(schema::compile(s).map_err(|e| {
                    StepError::fatal(ErrorKind::Config, format!("config.schema: {e}"))
                })?),
                None => None,
            };
        let req = ChatRequest {
            model: cfg.model.clone(),
            system,
            prompt,
            temperature: cfg.temperature,
            max_tokens: cfg.max_tokens,
            stop: cfg.stop.clone(),
            stream: cfg.stream,
            stream_usage: cfg.stream_usage,
            schema: cfg.schema.clone().filter(|_| native),
            tools: cfg.tools.clone(),
        };
        let input_estimate = estimate_tokens(req.system.as_deref().unwrap_or(""))
            + estimate_tokens(&req.prompt)
            + req
                .tools
                .as_ref()
                .map_or(0, |t| estimate_tokens(&Value::Array(t.clone()).to_string()))
            + req
                .schema
                .as_ref()
                .map_or(0, |s| estimate_tokens(&s.to_string()));

        // Wait for the provider's budget, shared with every other step in the process.
        let mut limits = self.shared.limits.for_key(&cfg.key);
        if let Some(over) = &cfg.limits {
            limits = limits.overridden_by(over);
        }
        let reserve = input_estimate + cfg.max_tokens.unwrap_or(1024);
        let permit = self
            .shared
            .limiter
            .acquire(&cfg.key, &limits, reserve, |w| {
                cx.waiting(
                    BottleneckKind::WaitingForBudget,
                    format!("waiting for `{}`'s budget: {}", w.key, w.reason),
                    format!(
                        "raise the limits of `{}` (config.limits or the instruments' provider limits) if the provider allows more, or expect this step to start later",
                        w.key
                    ),
                );
            })
            .await;

        let client = self.client(cfg.timeouts.connect)?;
        let recorder = Recorder::default();
        let ep = Endpoint {
            client: &client,
            base_url: &cfg.base_url,
            secret,
            credential: cfg.credential.as_deref(),
            timeouts: cfg.timeouts,
            label: cfg.format.label,
            record: &recorder,
            limits: cx.limits(),
            step: &cx.step,
        };
        // Reports each request: when it ends, fails, or the attempt is dropped mid-call.
        let call = CallLog {
            cx,
            recorder: &recorder,
            secret,
        };
        // Streamed text as progress: tokens are counted on the text so far, so the pieces add
        // up to the estimate of the whole.
        let mut chars = 0u64;
        let mut counted = 0u64;
        let mut on_text = |piece: &str| {
            chars += piece.chars().count() as u64;
            let total = chars.div_ceil(4);
            let shown = match secret {
                Some(s) => s.scrub(piece),
                None => piece.to_owned(),
            };
            cx.progress(&shown, total - counted);
            counted = total;
        };
        let failed = |e: &StepError| call.report(CallEnd::Failed(e));
        let request = Call {
            ep,
            req: &req,
            quirks: &self.shared.quirks,
            failed: &failed,
        };
        let result = cfg.format.wire.chat(&request, &mut on_text).await;
        let answer = match result {
            Ok(a) => a,
            Err(e) => {
                call.report(CallEnd::Failed(&e));
                if e.kind == ErrorKind::RateLimited {
                    if let Some(after) = e.retry_after {
                        self.shared
                            .limiter
                            .hold(&cfg.key, tokio::time::Instant::now() + after);
                    }
                }
                return Err(e);
            }
        };
        let usage = self.usage(cfg, input_estimate, &answer);
        call.report(CallEnd::Done {
            tokens: usage.output_tokens,
        });
        permit.settle(usage.input_tokens + usage.output_tokens);
        drop(permit);
        let output = self.output(cfg, validator.as_ref(), &answer, secret)?;
        let mut outputs = Outputs::single(output);
        if !answer.tool_calls.is_empty() {
            let calls = Value::Array(answer.tool_calls.clone());
            let calls = match secret {
                Some(s) => serde_json::from_str(&s.scrub(&calls.to_string())).unwrap_or(calls),
                None => calls,
            };
            outputs.0.insert("toolCalls".into(), calls);
        }
        if let Some(r) = &answer.finish_reason {
            outputs.0.insert("finishReason".into(), json!(r));
        }
        Ok(Played::Done(StepOutput {
            outputs,
            usage: Some(usage),
        }))
    }

    /// The provider's counts, or estimates (marked) where it gave none; priced when the
    /// model's price is known.
    fn usage(&self, cfg: &ChatConfig, input_estimate: u64, answer: &Answer) -> Usage {
        let output_estimate = estimate_tokens(&answer.text)
            + answer
                .structured
                .as_ref()
                .map_or(0, |v| estimate_tokens(&v.to_string()))
            + answer
                .tool_calls
                .iter()
                .map(|c| estimate_tokens(&c.to_string()))
                .sum::<u64>();
        let input_tokens = answer.input_tokens.unwrap_or(input_estimate);
        let output_tokens = answer.output_tokens.unwrap_or(output_estimate);
        Usage {
            input_tokens,
            output_tokens,
            estimated: answer.input_tokens.is_none() || answer.output_tokens.is_none(),
            cost_usd: self
                .shared
                .prices
                .cost(&cfg.model, input_tokens, output_tokens),
        }
    }

    /// The `output` port: the text, or the validated JSON when the step has a schema.
    fn output(
        &self,
        cfg: &ChatConfig,
        validator: Option<&jsonschema::Validator>,
        answer: &Answer,
        secret: Option<&Secret>,
    ) -> Result<Value, StepError> {
        let text = match secret {
            Some(s) => s.scrub(&answer.text),
            None => answer.text.clone(),
        };
        let Some(validator) = validator else {
            return Ok(Value::String(text));
        };
        let cut = matches!(
            answer.finish_reason.as_deref(),
            Some("length" | "max_tokens")
        );
        let cut_note = if cut {
            format!(
                " (the answer was cut at the token limit{}; raise maxTokens)",
                cfg.max_tokens
                    .map(|n| format!(" of {n}"))
                    .unwrap_or_default()
            )
        } else {
            String::new()
        };
        let value = match &answer.structured {
            Some(v) => v.clone(),
            None => schema::parse_answer(&text).map_err(|e| {
                StepError::retryable(
                    ErrorKind::Instrument,
                    format!(
                        "the answer is not JSON ({e}){cut_note}; it began: {}",
                        providers::shorten(&text, 120)
                    ),
                )
            })?,
        };
        schema::check(validator, &value).map_err(|e| {
            StepError::retryable(
                ErrorKind::Instrument,
                format!("the answer does not match config.schema: {e}{cut_note}"),
            )
        })?;
        Ok(value)
    }
}

/// How a request ended, for its log line.
enum CallEnd<'e> {
    /// The answer was read; the model produced this many tokens.
    Done { tokens: u64 },
    /// The call failed.
    Failed(&'e StepError),
    /// The attempt was dropped mid-call (its timeout, or a cancel).
    Dropped,
}

/// Reports what a step's request sent and received: one `StepExchange` event and an `info`
/// log line ("POST … → 200, first byte after 0.41 s, 37 tokens in 1.20 s"), plus the error
/// on failure. Reporting takes what the recorder holds, so each request is reported once; a
/// call still open when the attempt is dropped is reported on drop. Everything passes through
/// [`Secret::scrub`] first.
struct CallLog<'a> {
    cx: &'a StepContext,
    recorder: &'a Recorder,
    secret: Option<&'a Secret>,
}

impl CallLog<'_> {
    fn scrub(&self, text: String) -> String {
        match self.secret {
            Some(s) => s.scrub(&text),
            None => text,
        }
    }

    fn report(&self, end: CallEnd<'_>) {
        let r = self.recorder.take();
        if r.url.is_empty() {
            return;
        }
        let took = r.sent.map_or(0.0, |t| t.elapsed().as_secs_f64());
        let mut response = String::from_utf8_lossy(&r.response).into_owned();
        if r.truncated {
            // A character cut in two at the cap, and a key cut in two (which scrubbing would
            // not recognise), go.
            if response.ends_with('\u{FFFD}') {
                response.pop();
            }
            if let Some(s) = self.secret {
                cut_partial_key(&mut response, s.expose());
            }
        }
        let response = self.scrub(response);
        let request = match self.secret {
            Some(s) => {
                let text = r.request.to_string();
                let clean = s.scrub(&text);
                if clean == text {
                    r.request
                } else {
                    serde_json::from_str(&clean).unwrap_or(Value::String(clean))
                }
            }
            None => r.request,
        };
        let status = r
            .status
            .map_or_else(|| "no answer".to_owned(), |s| s.to_string());
        let line = match &end {
            CallEnd::Done { tokens } => format!(
                "POST {} → {status}, first byte after {:.2} s, {tokens} tokens in {took:.2} s",
                r.url,
                r.first_byte.map_or(took, |d| d.as_secs_f64())
            ),
            CallEnd::Failed(_) => format!("POST {} → {status} after {took:.2} s", r.url),
            CallEnd::Dropped => format!(
                "POST {} → {status}, stopped after {took:.2} s (the attempt timed out or was cancelled)",
                r.url
            ),
        };
        self.cx
            .report_exchange(&r.url, r.status, request, response, r.truncated);
        self.cx.log("info", line);
        if let CallEnd::Failed(e) = end {
            self.cx
                .log("info", self.scrub(format!("error: {}", e.message)));
        }
    }
}

/// Drops the end of `text` when it is the start of `key` (four characters or more): what
/// scrubbing cannot find once a cap cut the key in two.
fn cut_partial_key(text: &mut String, key: &str) {
    if let Some(k) = (4..key.len())
        .rev()
        .find(|&k| key.is_char_boundary(k) && text.ends_with(&key[..k]))
    {
        text.truncate(text.len() - k);
    }
}

impl Drop for CallLog<'_> {
    fn drop(&mut self) {
        self.report(CallEnd::Dropped);
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn parse(v: Value) -> Result<ChatConfig, Vec<(String, String)>> {
        ChatConfig::parse(v.as_object().unwrap(), Timeouts::default())
    }

    #[test]
    fn a_key_cut_in_two_at_the_end_of_a_capped_body_goes() {
        let mut t = "invalid key sk-test-sent".to_owned();
        cut_partial_key(&mut t, "sk-test-sentinel-0123");
        assert_eq!(t, "invalid key ");
        let mut t = "ends in sk-".to_owned();
        cut_partial_key(&mut t, "sk-test-sentinel-0123");
        assert_eq!(t, "ends in sk-", "three characters say nothing");
    }

    #[test]
    fn keys_name_the_provider_or_the_host() {
        let (openai, anthropic) = (providers::FORMATS[0], providers::FORMATS[1]);
        assert_eq!(provider_key(openai, "https://api.openai.com/v1/"), "openai");
        assert_eq!(
            provider_key(anthropic, "https://api.anthropic.com"),
            "anthropic"
        );
        assert_eq!(
            provider_key(openai, "http://localhost:11434/v1"),
            "localhost:11434"
        );
        assert_eq!(
            provider_key(openai, "https://openrouter.ai/api/v1"),
            "openrouter.ai"
        );
    }

    #[test]
    fn defaults_fill_what_the_step_leaves_out() {
        let c = parse(json!({"model": "gpt-4o-mini", "prompt": "hi"})).unwrap();
        assert_eq!(
            (c.format.name, c.base_url.as_str(), c.credential.as_deref()),
            ("openai", "https://api.openai.com/v1", Some("openai"))
        );
        assert!(c.stream && c.stream_usage && c.schema_native);
        let local =
            parse(json!({"model": "llama3.2", "baseUrl": "http://localhost:11434/v1/"})).unwrap();
        assert_eq!(
            (local.base_url.as_str(), local.credential),
            ("http://localhost:11434/v1", None)
        );
        let or =
            parse(json!({"model": "openai/gpt-4o", "baseUrl": "https://openrouter.ai/api/v1"}))
                .unwrap();
        assert_eq!(or.credential.as_deref(), Some("openrouter"));
        let a = parse(json!({"model": "claude-sonnet-4-5", "provider": "anthropic"})).unwrap();
        assert_eq!(
            (a.key.as_str(), a.credential.as_deref()),
            ("anthropic", Some("anthropic"))
        );
    }

    #[test]
    fn every_config_problem_is_reported_with_its_field() {
        let e = parse(json!({
            "model": "", "baseUrl": "localhost:11434", "temperature": 3.0, "maxTokens": 0,
            "stop": ["", 3], "schema": {"type": 12}, "tools": ["x"], "idleTimeoutMs": 0,
            "limits": {"maxConcurent": 2}
        }))
        .unwrap_err();
        let fields: Vec<&str> = e.iter().map(|(f, _)| f.as_str()).collect();
        assert_eq!(
            fields,
            [
                "config.baseUrl",
                "config.model",
                "config.temperature",
                "config.maxTokens",
                "config.stop[0]",
                "config.stop[1]",
                "config.schema",
                "config.tools[0]",
                "config.idleTimeoutMs",
                "config.limits"
            ]
        );
        let e =
            parse(json!({"model": "m", "baseUrl": "https://x.example/v1?key=abc"})).unwrap_err();
        assert!(e[0].1.contains("never in the melody"), "{e:?}");
        // A credential name that no store could hold is refused before the run.
        let e = parse(json!({"model": "m", "credential": "my key"})).unwrap_err();
        assert_eq!(e[0].0, "config.credential", "{e:?}");
        // Anthropic refuses temperatures above 1; OpenAI-compatible servers take up to 2.
        let e =
            parse(json!({"provider": "anthropic", "model": "m", "temperature": 1.5})).unwrap_err();
        assert_eq!(e[0].0, "config.temperature", "{e:?}");
        assert!(parse(json!({"model": "m", "temperature": 1.5})).is_ok());
    }
}
