//! `instrument.offline`: an instrument that calls no model. It answers deterministically from
//! its prompt, so a melody's wiring, templates, routing, retries and timing can be rehearsed
//! with no key, no network and no cost. Everything it writes says "offline", so its output is
//! never mistaken for a model's.
//!
//! It streams its answer word by word over `latencyMs` (as progress events, like a real model),
//! reports estimated token usage at zero cost, and can fail its first `failAttempts` attempts
//! with a retryable error to rehearse a retry or fallback policy.

use std::time::Duration;

use serde_json::{json, Value};
use symphony_melody::{ConfigField, FieldType, PortSpec, PortType, StepKind, TypeSpec};

use crate::step::{
    BoxFuture, ErrorKind, Outputs, Played, StepContext, StepError, StepOutput, StepType, Usage,
};

/// The offline instrument.
pub struct Offline;

impl StepType for Offline {
    fn spec(&self) -> TypeSpec {
        let mut s = super::spec(
            "instrument.offline",
            StepKind::Instrument,
            "Offline instrument",
            "Answers deterministically without calling a model, for rehearsing a melody offline.",
        );
        s.extra_inputs = Some(PortType::Any);
        s.outputs = vec![PortSpec::required(
            "output",
            PortType::Any,
            "Text, or a list or JSON object with `shape`.",
        )];
        s.config = vec![
            ConfigField::required(
                "prompt",
                FieldType::Template,
                "The prompt, with {{references}}.",
            ),
            ConfigField::optional("system", FieldType::Template, "A system prompt."),
            ConfigField::optional(
                "model",
                FieldType::String,
                "The model this step stands in for; shown in the answer.",
            )
            .single_line(),
            ConfigField::optional(
                "shape",
                FieldType::Choice {
                    options: vec!["text".into(), "list".into(), "json".into()],
                },
                "What to answer: text (default), a list of strings, or a JSON object.",
            ),
            ConfigField::optional(
                "items",
                FieldType::Integer,
                "How many list items (default 3).",
            ),
            ConfigField::optional(
                "answer",
                FieldType::Template,
                "A scripted answer, rendered, instead of the made-up one (parsed as JSON with shape json or list), to rehearse what a real model would say.",
            ),
            ConfigField::optional(
                "latencyMs",
                FieldType::Integer,
                "Simulated thinking time, streamed word by word (default 0).",
            ),
            ConfigField::optional(
                "failAttempts",
                FieldType::Integer,
                "Fail this many first attempts with a retryable error, to rehearse retries.",
            ),
        ];
        s.offline = true;
        s.cacheable = true;
        s.estimate_ms = 50;
        s
    }

    fn estimate_ms(&self, config: &serde_json::Map<String, Value>) -> Option<u64> {
        config
            .get("latencyMs")
            .and_then(Value::as_u64)
            .map(|ms| ms + 1)
    }

    fn concurrency_key(&self, _config: &serde_json::Map<String, Value>) -> Option<String> {
        Some("offline".into())
    }

    fn play<'a>(&'a self, cx: &'a StepContext) -> BoxFuture<'a, Result<Played, StepError>> {
        Box::pin(async move {
            let prompt = cx.render("prompt")?.unwrap_or_default();
            let system = cx.render("system")?.unwrap_or_default();
            cx.report_prompt((!system.is_empty()).then_some(system.as_str()), &prompt);
            if u64::from(cx.attempt) <= cx.config_u64("failAttempts").unwrap_or(0) {
                return Err(StepError::retryable(
                    ErrorKind::Instrument,
                    format!(
                        "offline rehearsal: attempt {} fails as configured (failAttempts)",
                        cx.attempt
                    ),
                ));
            }
            let model = cx.config_str("model").unwrap_or("offline");
            let seed = fnv1a(format!("{system}\u{0}{prompt}").as_bytes());
            let keywords = keywords(&prompt, seed);
            let shape = cx.config_str("shape").unwrap_or("text");
            let output = match cx.render("answer")? {
                Some(text) if shape == "text" => Value::String(text),
                Some(text) => serde_json::from_str(&text).map_err(|e| {
                    StepError::fatal(
                        ErrorKind::Config,
                        format!("config.answer: with shape {shape} the rendered answer must be JSON ({e}): {}", text.chars().take(200).collect::<String>()),
                    )
                })?,
                None => match shape {
                "list" => Value::Array(
                    list_items(&keywords, cx.config_u64("items").unwrap_or(3), seed)
                        .into_iter()
                        .map(Value::String)
                        .collect(),
                ),
                "json" => json!({
                    "offline": true,
                    "model": model,
                    "summary": summary(&prompt),
                    "keywords": keywords,
                }),
                _ => Value::String(answer(cx, model, &prompt, &keywords)),
                },
            };
            let text = match &output {
                Value::String(s) => s.clone(),
                other => other.to_string(),
            };
            stream(cx, &text, cx.config_u64("latencyMs").unwrap_or(0)).await;
            let usage = Usage {
                input_tokens: estimate_tokens(&system) + estimate_tokens(&prompt),
                output_tokens: estimate_tokens(&text),
                estimated: true,
                cost_usd: Some(0.0),
            };
            Ok(Played::Done(StepOutput {
                outputs: Outputs::single(output),
                usage: Some(usage),
            }))
        })
    }
}

/// Sends the answer as progress, word by word, spread over `latency_ms`.
async fn stream(cx: &StepContext, text: &str, latency_ms: u64) {
    let words: Vec<&str> = text.split_inclusive(' ').collect();
    if latency_ms == 0 || words.is_empty() {
        cx.progress(text, estimate_tokens(text));
        return;
    }
    // At most 50 pauses, so a long answer does not mean thousands of timers.
    let per_chunk = words.len().div_ceil(words.len().min(50));
    let chunks: Vec<&[&str]> = words.chunks(per_chunk).collect();
    let n = chunks.len() as u64;
    // Tokens are counted on the text so far, so the chunks add up to the same estimate as
    // the whole answer (rounding each chunk up would overcount).
    let mut so_far = String::new();
    let mut counted = 0;
    for (i, chunk) in chunks.into_iter().enumerate() {
        // Whole milliseconds that add up to exactly `latency_ms`.
        let i = i as u64;
        let pause = latency_ms * (i + 1) / n - latency_ms * i / n;
        tokio::time::sleep(Duration::from_millis(pause)).await;
        let piece = chunk.concat();
        so_far.push_str(&piece);
        let total = estimate_tokens(&so_far);
        cx.progress(&piece, total - counted);
        counted = total;
    }
}

fn answer(cx: &StepContext, model: &str, prompt: &str, keywords: &[String]) -> String {
    let mut out = format!(
        "[offline rehearsal of `{}` standing in for {model}; no model was called]\n\n{}\n",
        cx.step,
        summary(prompt)
    );
    for (i, k) in keywords.iter().enumerate() {
        out.push_str(&format!("\n{}. Consider {k}.", i + 1));
    }
    out.push('\n');
    out
}

fn list_items(keywords: &[String], n: u64, seed: u64) -> Vec<String> {
    (0..n.min(1000))
        .map(|i| {
            let k = if keywords.is_empty() {
                "the goal".to_owned()
            } else {
                keywords[((seed as usize) + i as usize) % keywords.len()].clone()
            };
            format!("Item {} (offline): {k}", i + 1)
        })
        .collect()
}

/// The first line of the prompt, shortened.
fn summary(prompt: &str) -> String {
    let first = prompt
        .lines()
        .find(|l| !l.trim().is_empty())
        .unwrap_or("")
        .trim();
    let short: String = first.chars().take(160).collect();
    if short.len() < first.len() {
        format!("Answering: {short}…")
    } else {
        format!("Answering: {short}")
    }
}

/// Up to five distinct long words of the prompt, in an order fixed by the prompt's hash.
fn keywords(prompt: &str, seed: u64) -> Vec<String> {
    let mut words: Vec<String> = Vec::new();
    for w in prompt.split(|c: char| !c.is_alphanumeric()) {
        let w = w.to_lowercase();
        if w.chars().count() >= 5 && !words.contains(&w) {
            words.push(w);
        }
    }
    words.sort_by_key(|w| fnv1a(w.as_bytes()) ^ seed);
    words.truncate(5);
    words
}

/// About four characters a token, the usual rule of thumb for English text.
pub fn estimate_tokens(text: &str) -> u64 {
    (text.chars().count() as u64).div_ceil(4)
}

/// FNV-1a: a stable hash (std's hasher may change between Rust versions).
fn fnv1a(bytes: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in bytes {
        h ^= u64::from(*b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    h
}
