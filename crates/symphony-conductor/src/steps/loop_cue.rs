//! `cue.loop`: call and response. Plays its body step round after round; each round sees the
//! round number and the previous round's outputs (`{{loop.round}}`, `{{loop.previous.output}}`)
//! besides the loop's own inputs. It stops when
//!
//! - its `until` condition holds on the round just played (`round.output.approved`): **approved**;
//! - it is stuck: the `score` has not improved for `patience` rounds, or a round's outputs
//!   repeat an earlier round's exactly (by content hash): **stalled**;
//! - it has played `maxRounds` rounds: **exhausted**.
//!
//! It keeps the last round's output, or with `keep: "best"` the highest-scoring one, on
//! `output`, and the same value on the port named after the exit (`approved`, `stalled` or
//! `exhausted`), so a branch wired to `stalled` plays only when the loop got stuck. The
//! conductor schedules the rounds like a map's items (`scheduler/rounds.rs`); this file checks
//! the config and turns it into [`Rounds`].

use serde_json::{Map, Value};
use symphony_melody::reference::Reference;
use symphony_melody::{
    Condition, ConfigField, FieldType, PortSpec, PortType, Problem, Step, StepKind, TypeSpec,
};

use crate::step::{BoxFuture, ErrorKind, Played, StepContext, StepError, StepType};

/// The most rounds a loop may ask for.
pub const MAX_ROUNDS: u64 = 100_000;
/// Rounds played when `maxRounds` is not set.
pub const DEFAULT_ROUNDS: u64 = 5;

/// Plays a body round after round.
pub struct LoopCue;

/// How a loop plays, read from its config when it starts.
#[derive(Debug, Clone)]
pub struct Rounds {
    /// Rounds at most.
    pub max_rounds: u32,
    /// Stops approved when this holds on a round (reads `round.…` and `loop.…`).
    pub until: Option<Condition>,
    /// A number in each round's outputs (`round.output.score`).
    pub score: Option<Reference>,
    /// Stops stalled after this many rounds without a better score.
    pub patience: Option<u32>,
    /// Keeps the best-scoring round instead of the last.
    pub keep_best: bool,
}

impl StepType for LoopCue {
    fn spec(&self) -> TypeSpec {
        let mut s = super::spec(
            "cue.loop",
            StepKind::Cue,
            "Loop",
            "Plays a step round after round, each seeing the last, until a condition holds, it stops improving, or maxRounds.",
        );
        s.extra_inputs = Some(PortType::Any);
        s.outputs = vec![
            PortSpec::required(
                "output",
                PortType::Any,
                "The kept round's `output` (the last, or the best with keep: best).",
            ),
            PortSpec::optional(
                "rounds",
                PortType::List,
                "Every round's `output`, in order.",
            ),
            PortSpec::optional("round", PortType::Number, "Which round was kept."),
            PortSpec::optional(
                "exit",
                PortType::Text,
                "Why it stopped: approved, stalled or exhausted.",
            ),
            PortSpec::optional(
                "approved",
                PortType::Any,
                "The kept output, only when `until` held.",
            ),
            PortSpec::optional(
                "stalled",
                PortType::Any,
                "The kept output, only when the loop stopped improving.",
            ),
            PortSpec::optional(
                "exhausted",
                PortType::Any,
                "The kept output, only when maxRounds were played.",
            ),
        ];
        s.config = vec![
            ConfigField::required(
                "body",
                FieldType::Step {
                    scope: vec!["loop".into()],
                },
                "The step played each round: {\"type\", \"config\", \"policy\"}; it reads {{loop.round}} and {{loop.previous.output}}.",
            ),
            ConfigField::optional(
                "until",
                FieldType::Condition,
                "Stops (approved) when this holds on the round just played, e.g. {\"op\": \"eq\", \"ref\": \"round.output.approved\", \"value\": true}.",
            )
            .with_scope(&["round", "loop"]),
            ConfigField::optional(
                "maxRounds",
                FieldType::Integer,
                "Rounds at most (default 5).",
            ),
            ConfigField::optional(
                "score",
                FieldType::String,
                "A number in each round's outputs, e.g. round.output.score: for keep: best and patience.",
            )
            .single_line(),
            ConfigField::optional(
                "patience",
                FieldType::Integer,
                "Stops (stalled) after this many rounds without a better score.",
            ),
            ConfigField::optional(
                "keep",
                FieldType::Choice {
                    options: vec!["last".into(), "best".into()],
                },
                "Which round's output goes on: the last (default) or the best by score.",
            ),
        ];
        s
    }

    fn check(&self, step: &Step, problems: &mut Vec<Problem>) {
        match step.config.get("maxRounds").and_then(Value::as_u64) {
            Some(0) => problems.push(Problem::at(
                "config.maxRounds",
                "a loop plays at least one round",
            )),
            Some(n) if n > MAX_ROUNDS => problems.push(Problem::at(
                "config.maxRounds",
                format!("at most {MAX_ROUNDS} rounds"),
            )),
            _ => {}
        }
        let score = step.config.get("score").and_then(Value::as_str);
        if let Some(text) = score {
            if let Err(e) = parse_score(text) {
                problems.push(Problem::at("config.score", e));
            }
        }
        if score.is_none() {
            if step.config.get("keep").and_then(Value::as_str) == Some("best") {
                problems.push(Problem::at(
                    "config.keep",
                    "keep: best needs a `score` to compare rounds by",
                ));
            }
            if step.config.contains_key("patience") {
                problems.push(Problem::at(
                    "config.patience",
                    "patience counts rounds without a better score: set `score` too",
                ));
            }
        }
        if step.config.get("patience").and_then(Value::as_u64) == Some(0) {
            problems.push(Problem::at(
                "config.patience",
                "patience is at least 1 round",
            ));
        }
    }

    fn play<'a>(&'a self, cx: &'a StepContext) -> BoxFuture<'a, Result<Played, StepError>> {
        Box::pin(async move { rounds(&cx.config).map(|r| Played::Loop(Box::new(r))) })
    }
}

/// Reads a loop's config (already validated) into its plan.
fn rounds(config: &Map<String, Value>) -> Result<Rounds, StepError> {
    let bad = |field: &str, e: String| {
        StepError::fatal(ErrorKind::Config, format!("config.{field}: {e}"))
    };
    let until = config
        .get("until")
        .map(|v| serde_json::from_value::<Condition>(v.clone()))
        .transpose()
        .map_err(|e| bad("until", e.to_string()))?;
    let score = config
        .get("score")
        .and_then(Value::as_str)
        .map(parse_score)
        .transpose()
        .map_err(|e| bad("score", e))?;
    let max_rounds = config
        .get("maxRounds")
        .and_then(Value::as_u64)
        .unwrap_or(DEFAULT_ROUNDS)
        .clamp(1, MAX_ROUNDS) as u32;
    Ok(Rounds {
        max_rounds,
        until,
        score,
        patience: config
            .get("patience")
            .and_then(Value::as_u64)
            .map(|p| p.clamp(1, MAX_ROUNDS) as u32),
        keep_best: config.get("keep").and_then(Value::as_str) == Some("best"),
    })
}

/// A score reference reads the round just played: `round.<port>…`.
fn parse_score(text: &str) -> Result<Reference, String> {
    let r = Reference::parse(text.trim_start_matches("{{").trim_end_matches("}}").trim())?;
    if r.segments[0] != "round" || r.segments.len() < 2 {
        return Err(format!(
            "`{text}`: a score reads the round just played, like `round.output.score`"
        ));
    }
    Ok(r)
}
