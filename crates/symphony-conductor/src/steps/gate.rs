//! `cue.gate`: a person approves before the branch goes on. The gate renders what to review
//! (`show`, a template over upstream outputs, as Markdown or JSON) and asks; the branch waits
//! without taking a slot (`scheduler/gates.rs`). The person approves (the value on `input` goes
//! on, or the value they edited), or rejects with a reason, which fails the branch or, with
//! `onReject: "route"`, sends `{reason, value}` on `rejected` instead. With `timeoutMs`, a gate
//! nobody answers in time takes its declared `onTimeout` decision.
//!
//! The wait is durable: a host records the question and the answer (the store's `gates`), so a
//! gate survives closing the app, a crash and `symphony resume`, and can be answered from
//! another process (`symphony runs approve`) while the run plays or while it is stopped. A
//! resumed gate is given its answer ([`crate::RunOptions::gates`]), or asks again with the
//! time it already waited counted against its timeout.

use std::time::Duration;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use symphony_melody::{
    ConfigField, FieldType, PortSpec, PortType, Problem, Step, StepKind, TypeSpec,
};

use crate::step::{BoxFuture, Played, StepContext, StepError, StepType};

/// The longest a gate may wait for an answer (a year), so a deadline never overflows.
pub const MAX_TIMEOUT_MS: u64 = 365 * 24 * 3600 * 1000;

/// Asks a person before the branch goes on.
pub struct GateCue;

/// A person's decision at a gate.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "camelCase")]
pub enum Decision {
    /// The branch goes on.
    Approve,
    /// The branch fails, or goes to `rejected`.
    Reject,
}

impl Decision {
    /// The past-tense word the gate's `decision` port carries.
    pub fn past(self) -> &'static str {
        match self {
            Decision::Approve => "approved",
            Decision::Reject => "rejected",
        }
    }
}

/// How a gate's review is shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "camelCase")]
pub enum ReviewFormat {
    /// Markdown text.
    Markdown,
    /// A JSON value.
    Json,
}

/// The answer to a gate.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct GateAnswer {
    /// Approve or reject.
    pub decision: Decision,
    /// Why (a rejection's reason; a note with an approval).
    #[serde(default)]
    pub reason: Option<String>,
    /// The value that goes on instead of the gate's input, when the person edited it.
    #[serde(default)]
    pub value: Option<Value>,
    /// Who answered: where a person did (`app`: the board, in the desktop app or `symphony serve`; `cli`: `symphony runs approve` or `reject`; `terminal`: typed where `symphony run` plays) or `timeout`.
    pub by: String,
}

/// What a gate asks, read from its config and inputs when it is played.
#[derive(Debug, Clone)]
pub struct Ask {
    /// The question, one line.
    pub title: String,
    /// What to review.
    pub review: String,
    /// How to show it.
    pub format: ReviewFormat,
    /// The value that goes on when approved unedited.
    pub value: Value,
    /// How long to wait for an answer.
    pub timeout: Option<Duration>,
    /// The decision taken when nobody answers in time.
    pub on_timeout: Decision,
    /// A rejection goes out on `rejected` instead of failing the step.
    pub route_reject: bool,
}

impl StepType for GateCue {
    fn spec(&self) -> TypeSpec {
        let mut s = super::spec(
            "cue.gate",
            StepKind::Cue,
            "Gate",
            "Waits for a person to approve, reject or edit the value before the branch goes on.",
        );
        s.inputs = vec![PortSpec::optional(
            "input",
            PortType::Any,
            "The value under review: what goes on when it is approved.",
        )];
        s.extra_inputs = Some(PortType::Any);
        s.outputs = vec![
            PortSpec::required(
                "output",
                PortType::Any,
                "The approved value: the input, or what the person edited it to.",
            ),
            PortSpec::optional(
                "rejected",
                PortType::Json,
                "{reason, value}, only when rejected with onReject: route.",
            ),
            PortSpec::optional("decision", PortType::Text, "approved or rejected."),
            PortSpec::optional("reason", PortType::Text, "The person's reason or note."),
            PortSpec::optional(
                "answeredBy",
                PortType::Text,
                "Where the answer came from: app (the board, in the desktop app or symphony serve), cli (symphony runs approve or reject), terminal (typed where symphony run plays), or timeout.",
            ),
        ];
        s.config = vec![
            ConfigField::optional(
                "title",
                FieldType::Template,
                "The question, e.g. \"Go on with this plan?\" (default: Approve to go on).",
            )
            .single_line(),
            ConfigField::optional(
                "show",
                FieldType::Template,
                "What to review, over upstream outputs, e.g. \"## Plan\\n{{plan.output}}\" (default: the input).",
            ),
            ConfigField::optional(
                "format",
                FieldType::Choice {
                    options: vec!["markdown".into(), "json".into()],
                },
                "How the review is shown (default: markdown when `show` is set, else json).",
            ),
            ConfigField::optional(
                "timeoutMs",
                FieldType::Integer,
                "How long to wait for an answer, in milliseconds; then onTimeout decides (default: wait).",
            ),
            ConfigField::optional(
                "onTimeout",
                FieldType::Choice {
                    options: vec!["reject".into(), "approve".into()],
                },
                "The decision when nobody answers in time (default: reject).",
            ),
            ConfigField::optional(
                "onReject",
                FieldType::Choice {
                    options: vec!["fail".into(), "route".into()],
                },
                "A rejection fails the step (default), or goes out on `rejected` (route).",
            ),
        ];
        s
    }

    fn check(&self, step: &Step, problems: &mut Vec<Problem>) {
        match step.config.get("timeoutMs").and_then(Value::as_u64) {
            Some(0) => problems.push(Problem::at(
                "config.timeoutMs",
                "a gate waits at least 1 ms; leave timeoutMs out to wait until answered",
            )),
            Some(ms) if ms > MAX_TIMEOUT_MS => problems.push(Problem::at(
                "config.timeoutMs",
                format!("at most {MAX_TIMEOUT_MS} ms (a year)"),
            )),
            _ => {}
        }
        if step.config.contains_key("onTimeout") && !step.config.contains_key("timeoutMs") {
            problems.push(Problem::at(
                "config.onTimeout",
                "onTimeout decides when timeoutMs runs out: set timeoutMs too",
            ));
        }
    }

    fn play<'a>(&'a self, cx: &'a StepContext) -> BoxFuture<'a, Result<Played, StepError>> {
        Box::pin(async move { ask(cx).map(|a| Played::Ask(Box::new(a))) })
    }
}

/// Renders what the gate asks.
fn ask(cx: &StepContext) -> Result<Ask, StepError> {
    let value = cx.input("input").cloned().unwrap_or(Value::Null);
    let shown = cx.render("show")?;
    let format = match cx.config_str("format") {
        Some("json") => ReviewFormat::Json,
        Some(_) => ReviewFormat::Markdown,
        None if shown.is_some() => ReviewFormat::Markdown,
        None => ReviewFormat::Json,
    };
    let review = match shown {
        Some(text) => text,
        None => serde_json::to_string_pretty(&value).expect("JSON values serialize"),
    };
    let title = cx
        .render("title")?
        .filter(|t| !t.trim().is_empty())
        .unwrap_or_else(|| "Approve to go on".to_owned());
    Ok(Ask {
        title,
        review,
        format,
        value,
        timeout: cx
            .config_u64("timeoutMs")
            .map(|ms| Duration::from_millis(ms.min(MAX_TIMEOUT_MS))),
        on_timeout: match cx.config_str("onTimeout") {
            Some("approve") => Decision::Approve,
            _ => Decision::Reject,
        },
        route_reject: cx.config_str("onReject") == Some("route"),
    })
}

/// The outputs of an answered gate, or the error of a rejection that fails it.
pub(crate) fn outcome(ask: Ask, answer: &GateAnswer) -> Result<Map<String, Value>, StepError> {
    let mut out = Map::new();
    out.insert("decision".into(), Value::from(answer.decision.past()));
    out.insert("answeredBy".into(), Value::from(answer.by.clone()));
    if let Some(reason) = &answer.reason {
        out.insert("reason".into(), Value::from(reason.clone()));
    }
    match answer.decision {
        Decision::Approve => {
            out.insert("output".into(), answer.value.clone().unwrap_or(ask.value));
        }
        Decision::Reject if ask.route_reject => {
            out.insert(
                "rejected".into(),
                serde_json::json!({"reason": answer.reason, "value": ask.value}),
            );
        }
        Decision::Reject => {
            let why = answer
                .reason
                .as_deref()
                .filter(|r| !r.trim().is_empty())
                .map_or_else(String::new, |r| format!(": {r}"));
            return Err(StepError::fatal(
                crate::step::ErrorKind::Rejected,
                format!("rejected at the gate ({}){why}", answer.by),
            ));
        }
    }
    Ok(out)
}
