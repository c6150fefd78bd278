//! `operator.http.request`: one HTTP request, with templates in the URL, query, headers and
//! body, an optional credential sent as a header, timeouts, a response size limit, a bounded
//! number of redirects, and the SSRF guard on every address of every hop.
//!
//! Outputs: `status` (a number), `headers` (lower-case names to values), `body` (parsed JSON
//! when the response says it is JSON, else text), `output` (the body again, for chaining) and
//! `url` (the final URL, after redirects).
//!
//! Status handling (`failOnStatus`, default true): a 2xx answer succeeds; 429 fails as rate
//! limited and 5xx or 408 as a server failure, both retryable and carrying the server's
//! `Retry-After` (seconds or an HTTP date) so the step's retry policy waits at least that long;
//! any other status fails for good. With `failOnStatus: false` every answer succeeds and the
//! melody looks at `status` itself.
//!
//! A credential's value is sent only to the origin (scheme, host, port) the step names: a
//! redirect elsewhere drops it. It is scrubbed from every output and error, so a server that
//! echoes it back (a debugging endpoint, an error page) does not put it into the run's events.
//! Redirects are followed by this file, not by reqwest, so each hop is checked again (scheme,
//! address) and the credential handling above holds. No proxy from the environment is used: a
//! proxy would resolve the names, and the guard could not see the addresses.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use reqwest::header::{HeaderMap, HeaderName, HeaderValue};
use reqwest::{Method, StatusCode, Url};
use serde_json::{Map, Value};
use symphony_conductor::{BoxFuture, ErrorKind, Outputs, Played, StepContext, StepError, StepType};
use symphony_credentials::{CredentialError, Credentials, Secret};
use symphony_melody::{
    Capability, ConfigField, FieldType, PortSpec, PortType, Problem, Step, StepKind, Template,
    TypeSpec,
};

use crate::guard::{Policy, Refusal};
use crate::resolve::{GuardedResolver, Lookup, SystemLookup};

/// The type's name.
pub const TYPE_NAME: &str = "operator.http.request";
/// The largest response body read by default: 10 MiB.
pub const DEFAULT_MAX_BYTES: u64 = 10 * 1024 * 1024;
/// Redirects followed by default.
pub const DEFAULT_MAX_REDIRECTS: u64 = 5;
/// The whole exchange (redirects and body included) by default.
pub const DEFAULT_TIMEOUT_MS: u64 = 30_000;
/// Connecting to one address by default.
pub const DEFAULT_CONNECT_TIMEOUT_MS: u64 = 10_000;

const METHODS: &[&str] = &["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"];
/// How much of an error response's body an error message quotes.
const ERROR_BODY_CHARS: usize = 300;

/// The HTTP request operator.
pub struct HttpRequest {
    credentials: Arc<dyn Credentials>,
    lookup: Arc<dyn Lookup>,
}

impl HttpRequest {
    /// The operator, resolving names with the system's resolver.
    pub fn new(credentials: Arc<dyn Credentials>) -> Self {
        HttpRequest::with_lookup(credentials, Arc::new(SystemLookup))
    }

    /// The operator, resolving names with `lookup` (a fixed table in tests).
    pub fn with_lookup(credentials: Arc<dyn Credentials>, lookup: Arc<dyn Lookup>) -> Self {
        HttpRequest {
            credentials,
            lookup,
        }
    }
}

impl StepType for HttpRequest {
    fn spec(&self) -> TypeSpec {
        let mut s = TypeSpec::new(
            TYPE_NAME,
            StepKind::Operator,
            "HTTP request",
            "Sends one HTTP request and outputs the status, headers and body (JSON parsed).",
        );
        s.inputs = vec![PortSpec::optional(
            "body",
            PortType::Any,
            "The request body when config.body is not set: text as is, anything else as JSON.",
        )];
        s.extra_inputs = Some(PortType::Any);
        s.outputs = vec![
            PortSpec::required("status", PortType::Number, "The HTTP status code."),
            PortSpec::required(
                "headers",
                PortType::Json,
                "Response headers by lower-case name (repeated headers joined with \", \").",
            ),
            PortSpec::required(
                "body",
                PortType::Any,
                "The response body: parsed JSON when the response is JSON, else text.",
            ),
            PortSpec::required("output", PortType::Any, "The body again, for chaining."),
            PortSpec::required("url", PortType::Text, "The final URL, after redirects."),
        ];
        s.config = vec![
            ConfigField::required(
                "url",
                FieldType::Template,
                "The URL (http or https), with {{references}}.",
            ).single_line(),
            ConfigField::optional(
                "method",
                FieldType::Choice {
                    options: METHODS.iter().map(|m| (*m).to_owned()).collect(),
                },
                "The method (default GET).",
            ),
            ConfigField::optional(
                "query",
                FieldType::Object,
                "Query parameters by name; values are templates, encoded for the URL.",
            ),
            ConfigField::optional(
                "headers",
                FieldType::Object,
                "Request headers by name; values are templates.",
            ),
            ConfigField::optional(
                "body",
                FieldType::Template,
                "The request body; defaults to the `body` input.",
            ),
            ConfigField::optional(
                "credential",
                FieldType::String,
                "A credential's name; its value is sent in a header (needs the `secrets` capability).",
            ).single_line(),
            ConfigField::optional(
                "scheme",
                FieldType::String,
                "What precedes the credential in its header (default \"Bearer\"; \"\" for the bare value).",
            ).single_line(),
            ConfigField::optional(
                "credentialHeader",
                FieldType::String,
                "The header the credential goes in (default Authorization).",
            ).single_line(),
            ConfigField::optional(
                "timeoutMs",
                FieldType::Integer,
                "The whole exchange, redirects and body included (default 30000).",
            ),
            ConfigField::optional(
                "connectTimeoutMs",
                FieldType::Integer,
                "Connecting to the server (default 10000).",
            ),
            ConfigField::optional(
                "maxBytes",
                FieldType::Integer,
                "The largest response body read (default 10485760, 10 MiB).",
            ),
            ConfigField::optional(
                "maxRedirects",
                FieldType::Integer,
                "Redirects followed (default 5; 0 follows none).",
            ),
            ConfigField::optional(
                "failOnStatus",
                FieldType::Boolean,
                "Fail on a non-2xx status (default true; 429, 408 and 5xx are retryable).",
            ),
            ConfigField::optional(
                "responseType",
                FieldType::Choice {
                    options: vec!["auto".into(), "text".into(), "json".into()],
                },
                "How to read the body: auto (JSON when the response says so), text or json.",
            ),
        ];
        s.capabilities = vec![Capability::Network];
        s.estimate_ms = 500;
        s
    }

    fn check(&self, step: &Step, problems: &mut Vec<Problem>) {
        let id = &step.id;
        let config = &step.config;
        let credential = config.get("credential").and_then(Value::as_str);
        if let Some(name) = credential {
            if let Err(e) = symphony_credentials::check_name(name) {
                problems.push(Problem::in_step(id, "config.credential", e.to_string()));
            }
            if !step.capabilities.contains(&Capability::Secrets) {
                problems.push(Problem::in_step(
                    id,
                    "capabilities",
                    format!("`{TYPE_NAME}` with a credential needs the `secrets` capability; add \"secrets\" to the step's capabilities so readers see it sends one"),
                ));
            }
        }
        let auth_header = config
            .get("credentialHeader")
            .and_then(Value::as_str)
            .unwrap_or("Authorization");
        if HeaderName::from_bytes(auth_header.as_bytes()).is_err() {
            problems.push(Problem::in_step(
                id,
                "config.credentialHeader",
                format!("`{auth_header}` is not a header name"),
            ));
        }
        for field in ["headers", "query"] {
            let Some(Value::Object(map)) = config.get(field) else {
                continue;
            };
            for (name, value) in map {
                let path = format!("config.{field}.{name}");
                let Some(text) = value.as_str() else {
                    problems.push(Problem::in_step(
                        id,
                        &path,
                        "expected a string (a template)",
                    ));
                    continue;
                };
                if let Err(e) = Template::parse(text) {
                    problems.push(Problem::in_step(id, &path, e));
                }
                if field == "headers" {
                    if HeaderName::from_bytes(name.as_bytes()).is_err() {
                        problems.push(Problem::in_step(
                            id,
                            &path,
                            format!("`{name}` is not a header name"),
                        ));
                    }
                    if credential.is_some() && name.eq_ignore_ascii_case(auth_header) {
                        problems.push(Problem::in_step(
                            id,
                            &path,
                            format!("the credential goes in `{auth_header}`; remove this header or set config.credentialHeader"),
                        ));
                    }
                }
            }
        }
        if let Some(url) = config.get("url").and_then(Value::as_str) {
            if !url.contains("{{") {
                if let Err(e) = Url::parse(url)
                    .map_err(|e| e.to_string())
                    .and_then(|u| check_scheme(&u))
                {
                    problems.push(Problem::in_step(id, "config.url", e));
                }
            }
        }
    }

    fn play<'a>(&'a self, cx: &'a StepContext) -> BoxFuture<'a, Result<Played, StepError>> {
        Box::pin(async move {
            let policy = Policy::from_settings(&cx.settings().network)
                .map_err(|e| StepError::fatal(ErrorKind::Config, e))?;
            let plan = Plan::from_context(cx)?;
            let secret = match cx.config_str("credential") {
                Some(name) => Some(self.credential(name).await?),
                None => None,
            };
            let result = tokio::time::timeout(
                plan.timeout,
                self.exchange(&plan, Arc::new(policy), secret.as_ref()),
            )
            .await
            .unwrap_or_else(|_| {
                Err(StepError::retryable(
                    ErrorKind::Timeout,
                    format!(
                        "{} {} took longer than {} ms (config.timeoutMs)",
                        plan.method,
                        plan.url,
                        plan.timeout.as_millis()
                    ),
                ))
            });
            let scrub = |text: String| match &secret {
                Some(s) => s.scrub(&text),
                None => text,
            };
            let answer = result.map_err(|e| StepError {
                message: scrub(e.message),
                ..e
            })?;
            answer
                .into_outputs(&plan, secret.as_ref())
                .map(|o| Played::Done(o.into()))
        })
    }
}

impl HttpRequest {
    /// Reads a credential on the blocking pool: a keychain may block (a locked keyring waits
    /// for the user) and must not hold up the scheduler's thread.
    async fn credential(&self, name: &str) -> Result<Secret, StepError> {
        let credentials = self.credentials.clone();
        let owned = name.to_owned();
        let got = tokio::task::spawn_blocking(move || credentials.get(&owned))
            .await
            .map_err(|e| {
                StepError::fatal(
                    ErrorKind::Io,
                    format!("reading credential `{name}` failed: {e}"),
                )
            })?;
        got.map_err(|e| match e {
            CredentialError::Missing { .. } => StepError::fatal(ErrorKind::Config, e.to_string()),
            CredentialError::Source { .. } => StepError::fatal(ErrorKind::Io, e.to_string()),
        })
    }

    /// Sends the request and follows redirects, checking every hop.
    async fn exchange(
        &self,
        plan: &Plan,
        policy: Arc<Policy>,
        secret: Option<&Secret>,
    ) -> Result<Answer, StepError> {
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .no_proxy()
            .dns_resolver(Arc::new(GuardedResolver {
                lookup: self.lookup.clone(),
                policy: policy.clone(),
            }))
            .connect_timeout(plan.connect_timeout)
            .user_agent(concat!("symphony/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| {
                StepError::fatal(
                    ErrorKind::Config,
                    format!("cannot set up the HTTP client: {e}"),
                )
            })?;
        let origin = plan.url.origin();
        let mut url = plan.url.clone();
        let mut method = plan.method.clone();
        let mut body = plan.body.clone();
        let mut headers = plan.headers.clone();
        let mut redirects = 0u64;
        loop {
            check_scheme(&url).map_err(|e| StepError::fatal(ErrorKind::Refused, e))?;
            check_literal(&url, &policy)?;
            let mut request = client
                .request(method.clone(), url.clone())
                .headers(headers.clone());
            if let (Some(secret), true) = (secret, url.origin() == origin) {
                let value = if plan.scheme.is_empty() {
                    secret.expose().to_owned()
                } else {
                    format!("{} {}", plan.scheme, secret.expose())
                };
                let mut value = HeaderValue::from_str(&value).map_err(|_| {
                    StepError::fatal(
                        ErrorKind::Config,
                        "the credential's value cannot be sent in a header (it holds a line break or a control character)",
                    )
                })?;
                value.set_sensitive(true);
                request = request.header(plan.auth_header.clone(), value);
            }
            if let Some(b) = &body {
                request = request.body(b.clone());
            }
            let response = request
                .send()
                .await
                .map_err(|e| send_error(&method, &url, &e))?;
            let status = response.status();
            let location = response
                .headers()
                .get(reqwest::header::LOCATION)
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned);
            match (status.is_redirection(), location) {
                (true, Some(location)) if status != StatusCode::NOT_MODIFIED => {
                    let next = url.join(&location).map_err(|e| {
                        StepError::fatal(
                            ErrorKind::Instrument,
                            format!("{url} redirected to `{location}`, which is not a URL: {e}"),
                        )
                    })?;
                    if redirects >= plan.max_redirects {
                        return Err(StepError::fatal(
                            ErrorKind::Instrument,
                            format!(
                                "too many redirects: {} followed (config.maxRedirects), and {url} redirects again, to {next}; raise config.maxRedirects or request the final URL",
                                plan.max_redirects
                            ),
                        ));
                    }
                    redirects += 1;
                    // 303, and 301/302 after a POST, turn into a GET without a body (as
                    // browsers do); 307 and 308 repeat the request as it was.
                    let to_get = status == StatusCode::SEE_OTHER && method != Method::HEAD
                        || matches!(status, StatusCode::MOVED_PERMANENTLY | StatusCode::FOUND)
                            && method == Method::POST;
                    if to_get {
                        method = Method::GET;
                        body = None;
                        headers.remove(reqwest::header::CONTENT_TYPE);
                        headers.remove(reqwest::header::CONTENT_LENGTH);
                    }
                    if next.origin() != url.origin() {
                        for h in [
                            reqwest::header::AUTHORIZATION,
                            reqwest::header::COOKIE,
                            reqwest::header::PROXY_AUTHORIZATION,
                        ] {
                            headers.remove(h);
                        }
                    }
                    url = next;
                }
                _ => {
                    let headers = response.headers().clone();
                    let bytes = read_limited(response, plan.max_bytes, &url).await?;
                    return Ok(Answer {
                        url,
                        status,
                        headers,
                        bytes,
                    });
                }
            }
        }
    }
}

/// Only http and https: `file:`, `ftp:`, `gopher:` and the like are refused.
fn check_scheme(url: &Url) -> Result<(), String> {
    match url.scheme() {
        "http" | "https" => Ok(()),
        other => Err(format!(
            "the URL `{url}` uses `{other}:`; only http and https are allowed"
        )),
    }
}

/// A host written as an address never reaches the resolver, so it is checked here.
fn check_literal(url: &Url, policy: &Policy) -> Result<(), StepError> {
    let Some(host) = url.host_str() else {
        return Err(StepError::fatal(
            ErrorKind::Config,
            format!("the URL `{url}` has no host"),
        ));
    };
    // The URL parser writes every IPv4 form (`2130706433`, `0x7f.1`) as dotted decimal and
    // IPv6 in brackets, so an address host always parses here.
    let Ok(ip) = host
        .trim_start_matches('[')
        .trim_end_matches(']')
        .parse::<std::net::IpAddr>()
    else {
        return Ok(());
    };
    policy
        .check(&ip.to_string(), ip)
        .map_err(|r| StepError::fatal(ErrorKind::Refused, r.to_string()))
}

/// A failed send, as a step error: a refusal by the guard as it is, a timeout or a failed
/// connection as retryable.
fn send_error(method: &Method, url: &Url, e: &reqwest::Error) -> StepError {
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(e);
    let mut deepest = e.to_string();
    while let Some(s) = source {
        if let Some(r) = s.downcast_ref::<Refusal>() {
            return StepError::fatal(ErrorKind::Refused, r.to_string());
        }
        deepest = s.to_string();
        source = s.source();
    }
    let at = format!("{method} {}", without_query(url));
    if e.is_timeout() {
        StepError::retryable(
            ErrorKind::Timeout,
            format!("{at}: connecting took longer than config.connectTimeoutMs ({deepest})"),
        )
    } else if e.is_connect() {
        StepError::retryable(ErrorKind::Io, format!("{at}: cannot connect: {deepest}"))
    } else {
        StepError::retryable(
            ErrorKind::Io,
            format!("{at}: the request failed: {deepest}"),
        )
    }
}

/// A URL without its query, for messages (queries often carry tokens).
fn without_query(url: &Url) -> String {
    let mut u = url.clone();
    u.set_query(None);
    u.set_fragment(None);
    u.to_string()
}

/// Reads the body chunk by chunk, stopping as soon as it passes `max` bytes.
async fn read_limited(
    mut response: reqwest::Response,
    max: u64,
    url: &Url,
) -> Result<Vec<u8>, StepError> {
    let too_big = |what: String| {
        StepError::fatal(
            ErrorKind::Input,
            format!(
                "the response from {} {what}, more than config.maxBytes ({max} bytes); raise config.maxBytes or ask for less",
                without_query(url)
            ),
        )
    };
    if let Some(len) = response.content_length().filter(|l| *l > max) {
        return Err(too_big(format!("declares {len} bytes")));
    }
    let mut bytes = Vec::new();
    while let Some(chunk) = response.chunk().await.map_err(|e| {
        StepError::retryable(
            ErrorKind::Io,
            format!(
                "reading the response from {} failed: {e}",
                without_query(url)
            ),
        )
    })? {
        if (bytes.len() + chunk.len()) as u64 > max {
            return Err(too_big("is longer".to_owned()));
        }
        bytes.extend_from_slice(&chunk);
    }
    Ok(bytes)
}

/// The request a step's config and inputs describe, rendered and checked.
struct Plan {
    method: Method,
    url: Url,
    headers: HeaderMap,
    body: Option<Vec<u8>>,
    scheme: String,
    auth_header: HeaderName,
    timeout: Duration,
    connect_timeout: Duration,
    max_bytes: u64,
    max_redirects: u64,
    fail_on_status: bool,
    response_type: String,
}

impl Plan {
    fn from_context(cx: &StepContext) -> Result<Plan, StepError> {
        let config_error = |field: &str, what: String| {
            StepError::fatal(ErrorKind::Config, format!("config.{field}: {what}"))
        };
        let render = |field: &str, text: &str| -> Result<String, StepError> {
            let t = Template::parse(text).map_err(|e| config_error(field, e))?;
            Ok(t.render(|r| cx.lookup(r)))
        };
        let method_text = cx.config_str("method").unwrap_or("GET");
        let method = Method::from_bytes(method_text.to_ascii_uppercase().as_bytes())
            .map_err(|_| config_error("method", format!("`{method_text}` is not a method")))?;
        let url_text = cx.render("url")?.unwrap_or_default();
        let mut url = Url::parse(url_text.trim())
            .map_err(|e| config_error("url", format!("`{url_text}` is not a URL ({e})")))?;
        check_scheme(&url).map_err(|e| StepError::fatal(ErrorKind::Refused, e))?;
        if let Some(Value::Object(query)) = cx.config.get("query") {
            let mut pairs = url.query_pairs_mut();
            for (name, value) in query {
                let text = value.as_str().unwrap_or_default();
                pairs.append_pair(name, &render(&format!("query.{name}"), text)?);
            }
        }
        let mut headers = HeaderMap::new();
        if let Some(Value::Object(map)) = cx.config.get("headers") {
            for (name, value) in map {
                let field = format!("headers.{name}");
                let header = HeaderName::from_bytes(name.as_bytes())
                    .map_err(|_| config_error(&field, format!("`{name}` is not a header name")))?;
                let text = render(&field, value.as_str().unwrap_or_default())?;
                let value = HeaderValue::from_str(&text).map_err(|_| {
                    config_error(
                        &field,
                        "the rendered value holds a line break or a control character".into(),
                    )
                })?;
                headers.append(header, value);
            }
        }
        let body = match cx.render("body")? {
            Some(text) => Some(text.into_bytes()),
            None => match cx.input("body") {
                None | Some(Value::Null) => None,
                Some(Value::String(s)) => Some(s.clone().into_bytes()),
                Some(other) => {
                    if !headers.contains_key(reqwest::header::CONTENT_TYPE) {
                        headers.insert(
                            reqwest::header::CONTENT_TYPE,
                            HeaderValue::from_static("application/json"),
                        );
                    }
                    Some(serde_json::to_vec(other).expect("a serde_json::Value always serializes"))
                }
            },
        };
        let auth_text = cx.config_str("credentialHeader").unwrap_or("Authorization");
        let auth_header = HeaderName::from_bytes(auth_text.as_bytes()).map_err(|_| {
            config_error(
                "credentialHeader",
                format!("`{auth_text}` is not a header name"),
            )
        })?;
        let ms =
            |key: &str, default: u64| Duration::from_millis(cx.config_u64(key).unwrap_or(default));
        Ok(Plan {
            method,
            url,
            headers,
            body,
            scheme: cx
                .config_str("scheme")
                .unwrap_or("Bearer")
                .trim()
                .to_owned(),
            auth_header,
            timeout: ms("timeoutMs", DEFAULT_TIMEOUT_MS),
            connect_timeout: ms("connectTimeoutMs", DEFAULT_CONNECT_TIMEOUT_MS),
            max_bytes: cx.config_u64("maxBytes").unwrap_or(DEFAULT_MAX_BYTES),
            max_redirects: cx
                .config_u64("maxRedirects")
                .unwrap_or(DEFAULT_MAX_REDIRECTS),
            fail_on_status: cx
                .config
                .get("failOnStatus")
                .and_then(Value::as_bool)
                .unwrap_or(true),
            response_type: cx.config_str("responseType").unwrap_or("auto").to_owned(),
        })
    }
}

/// The final response.
struct Answer {
    url: Url,
    status: StatusCode,
    headers: HeaderMap,
    bytes: Vec<u8>,
}

impl Answer {
    fn into_outputs(self, plan: &Plan, secret: Option<&Secret>) -> Result<Outputs, StepError> {
        let scrub = |text: &str| match secret {
            Some(s) => s.scrub(text),
            None => text.to_owned(),
        };
        let content_type = self
            .headers
            .get(reqwest::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_ascii_lowercase();
        let text = String::from_utf8(self.bytes).map_err(|_| {
            StepError::fatal(
                ErrorKind::Input,
                format!(
                    "the response from {} is not UTF-8 text (content-type `{content_type}`); this operator reads text and JSON only",
                    without_query(&self.url)
                ),
            )
        })?;
        let text = scrub(&text);
        if !self.status.is_success() && plan.fail_on_status {
            return Err(status_error(
                &plan.method,
                &self.url,
                self.status,
                &self.headers,
                &text,
            ));
        }
        let mime = content_type.split(';').next().unwrap_or("").trim();
        let says_json = mime == "application/json" || mime.ends_with("+json");
        let body = match plan.response_type.as_str() {
            "text" => Value::String(text),
            "json" => serde_json::from_str(&text).map_err(|e| {
                StepError::fatal(
                    ErrorKind::Input,
                    format!(
                        "the response from {} is not JSON ({e}); set config.responseType to \"text\" to take it as text",
                        without_query(&self.url)
                    ),
                )
            })?,
            _ if says_json && !text.trim().is_empty() => {
                serde_json::from_str(&text).unwrap_or(Value::String(text))
            }
            _ => Value::String(text),
        };
        let body = match secret {
            Some(s) => scrub_value(body, s),
            None => body,
        };
        let mut headers = Map::new();
        for (name, value) in &self.headers {
            let value = scrub(&String::from_utf8_lossy(value.as_bytes()));
            match headers.get_mut(name.as_str()) {
                Some(Value::String(prev)) => {
                    prev.push_str(", ");
                    prev.push_str(&value);
                }
                _ => {
                    headers.insert(name.as_str().to_owned(), Value::String(value));
                }
            }
        }
        let mut out = Map::new();
        out.insert("status".into(), Value::from(self.status.as_u16()));
        out.insert("headers".into(), Value::Object(headers));
        out.insert("output".into(), body.clone());
        out.insert("body".into(), body);
        out.insert("url".into(), Value::String(scrub(self.url.as_str())));
        Ok(Outputs(out))
    }
}

/// The error for a non-2xx status: 429 rate limited, 408 and 5xx retryable, the rest fatal;
/// `Retry-After` (seconds or an HTTP date) carried as the retry hint.
pub fn status_error(
    method: &Method,
    url: &Url,
    status: StatusCode,
    headers: &HeaderMap,
    body: &str,
) -> StepError {
    let snippet: String = body.trim().chars().take(ERROR_BODY_CHARS).collect();
    let more = if body.trim().chars().count() > ERROR_BODY_CHARS {
        "…"
    } else {
        ""
    };
    let mut message = format!("{method} {} answered {status}", without_query(url));
    if !snippet.is_empty() {
        message.push_str(&format!(": {snippet}{more}"));
    }
    let retry_after = headers
        .get(reqwest::header::RETRY_AFTER)
        .and_then(|v| v.to_str().ok())
        .and_then(parse_retry_after);
    let error = if status == StatusCode::TOO_MANY_REQUESTS {
        StepError::retryable(ErrorKind::RateLimited, message)
    } else if status.is_server_error() || status == StatusCode::REQUEST_TIMEOUT {
        StepError::retryable(ErrorKind::Instrument, message)
    } else {
        message.push_str(" (set config.failOnStatus to false to take any status as an answer)");
        return StepError::fatal(ErrorKind::Instrument, message);
    };
    match retry_after {
        Some(after) => error.with_retry_after(after),
        None => error,
    }
}

/// `Retry-After`: whole seconds, or an HTTP date (a date in the past means now).
pub fn parse_retry_after(text: &str) -> Option<Duration> {
    let text = text.trim();
    if let Ok(secs) = text.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    let at = httpdate::parse_http_date(text).ok()?;
    Some(
        at.duration_since(SystemTime::now())
            .unwrap_or(Duration::ZERO),
    )
}

/// Replaces the secret in every string (keys included) of a JSON value.
fn scrub_value(value: Value, secret: &Secret) -> Value {
    match value {
        Value::String(s) => Value::String(secret.scrub(&s)),
        Value::Array(items) => {
            Value::Array(items.into_iter().map(|v| scrub_value(v, secret)).collect())
        }
        Value::Object(map) => Value::Object(
            map.into_iter()
                .map(|(k, v)| (secret.scrub(&k), scrub_value(v, secret)))
                .collect(),
        ),
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn url() -> Url {
        Url::parse("https://api.example.com/v1/items?token=abc").expect("a test URL")
    }

    fn with_retry_after(v: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(
            reqwest::header::RETRY_AFTER,
            HeaderValue::from_str(v).expect("a test header"),
        );
        h
    }

    #[test]
    fn statuses_map_to_errors() {
        let e = status_error(
            &Method::GET,
            &url(),
            StatusCode::TOO_MANY_REQUESTS,
            &with_retry_after("7"),
            "slow down",
        );
        assert_eq!(e.kind, ErrorKind::RateLimited);
        assert!(e.retryable);
        assert_eq!(e.retry_after, Some(Duration::from_secs(7)));
        assert_eq!(
            e.message,
            "GET https://api.example.com/v1/items answered 429 Too Many Requests: slow down"
        );

        let e = status_error(
            &Method::POST,
            &url(),
            StatusCode::SERVICE_UNAVAILABLE,
            &HeaderMap::new(),
            "",
        );
        assert_eq!(
            (e.kind, e.retryable, e.retry_after),
            (ErrorKind::Instrument, true, None)
        );

        let e = status_error(
            &Method::GET,
            &url(),
            StatusCode::REQUEST_TIMEOUT,
            &HeaderMap::new(),
            "",
        );
        assert!(e.retryable);

        let e = status_error(
            &Method::GET,
            &url(),
            StatusCode::NOT_FOUND,
            &with_retry_after("7"),
            "no such item",
        );
        assert_eq!(
            (e.kind, e.retryable, e.retry_after),
            (ErrorKind::Instrument, false, None)
        );
        assert!(
            e.message.contains("404 Not Found: no such item"),
            "{}",
            e.message
        );
        assert!(e.message.contains("failOnStatus"), "{}", e.message);
        assert!(
            !e.message.contains("token=abc"),
            "the query is left out: {}",
            e.message
        );
    }

    #[test]
    fn retry_after_reads_seconds_and_dates() {
        assert_eq!(parse_retry_after(" 120 "), Some(Duration::from_secs(120)));
        assert_eq!(
            parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT"),
            Some(Duration::ZERO)
        );
        let later = httpdate::fmt_http_date(SystemTime::now() + Duration::from_secs(3600));
        let d = parse_retry_after(&later).expect("a date parses");
        assert!(
            d > Duration::from_secs(3500) && d <= Duration::from_secs(3600),
            "{d:?}"
        );
        assert_eq!(parse_retry_after("soon"), None);
    }

    #[test]
    fn secrets_are_scrubbed_from_json_keys_and_values() {
        let s = Secret::new("sk-sentinel-1234");
        let v = serde_json::json!({"echo": ["Bearer sk-sentinel-1234"], "sk-sentinel-1234": 1});
        assert_eq!(
            scrub_value(v, &s),
            serde_json::json!({"echo": ["Bearer ***"], "***": 1})
        );
    }
}
