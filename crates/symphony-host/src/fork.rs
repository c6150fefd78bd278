//! Forks: a new run, linked to its parent, that keeps the parent's outputs of every step not
//! downstream of a chosen step and plays that step and what depends on it again.
//!
//! [`plan`] is the one planning rule, used by `forkRun` here and by `symphony runs fork`:
//! the parent's finished outputs minus `fromStep` and everything downstream of it are given;
//! pins hold everywhere except `fromStep`; an edited output of `fromStep` is given too (then
//! only what depends on it plays); `fresh` plays `fromStep` even when the cache holds its
//! output for unchanged inputs ("take again"). Without `fresh` the cache may still serve an
//! unchanged `fromStep` (and what follows it): the new run shows those steps as `cached`.

use std::collections::{BTreeMap, BTreeSet, VecDeque};

use serde_json::{Map, Value};
use symphony_conductor::{resolve_inputs, Outputs};
use symphony_melody::problem::did_you_mean;
use symphony_melody::{Melody, Problems};

use crate::error::HostError;
use crate::launch::Given;
use crate::runs::Launch;
use crate::wire::{ForkRunArgs, RunStarted};
use crate::Host;

/// What the user asks of a fork, besides the melody.
#[derive(Debug, Clone, Default)]
pub struct ForkRequest {
    /// The step to rerun from.
    pub from_step: String,
    /// Run inputs to change; the parent's values fill the rest.
    pub inputs: Map<String, Value>,
    /// `fromStep`'s outputs to use instead of playing it.
    pub output: Option<Outputs>,
    /// Play `fromStep` even if the cache holds its output.
    pub fresh: bool,
}

/// How a fork starts.
#[derive(Debug, Clone, PartialEq)]
pub struct ForkPlan {
    /// Its run inputs, defaults filled in.
    pub inputs: Map<String, Value>,
    /// Outputs given instead of playing these steps: kept from the parent, pinned, or edited.
    pub given: BTreeMap<String, Outputs>,
    /// Steps played even if the cache holds their output.
    pub fresh_steps: BTreeSet<String>,
    /// `fromStep` and every step downstream of it.
    pub replayed: BTreeSet<String>,
}

/// Why a fork cannot be planned.
#[derive(Debug, thiserror::Error)]
pub enum ForkError {
    /// `fromStep` is not a step of the melody.
    #[error("the melody has no step `{step}`{hint}")]
    UnknownStep {
        /// The step as given.
        step: String,
        /// `; did you mean …?`, when a step's id is close.
        hint: String,
    },
    /// The run inputs do not fit the melody.
    #[error("{0}")]
    Invalid(Problems),
}

/// Plans a fork of a run of `melody` (the parent's melody, or an edited one): from the
/// parent's inputs and finished outputs, the melody's pins, and the request.
pub fn plan(
    melody: &Melody,
    parent_inputs: Map<String, Value>,
    parent_finished: BTreeMap<String, Outputs>,
    pins: BTreeMap<String, Outputs>,
    request: ForkRequest,
) -> Result<ForkPlan, ForkError> {
    check_step(melody, &request.from_step)?;
    let from = request.from_step;
    let in_melody = |step: &str| melody.steps.iter().any(|s| s.id == step);
    let mut inputs: Map<String, Value> = parent_inputs
        .into_iter()
        .filter(|(name, _)| melody.inputs.contains_key(name))
        .collect();
    inputs.extend(request.inputs);
    let inputs = resolve_inputs(melody, &inputs).map_err(ForkError::Invalid)?;

    let replayed = downstream(melody, &from);
    let mut given: BTreeMap<String, Outputs> = parent_finished
        .into_iter()
        .filter(|(step, _)| !replayed.contains(step) && in_melody(step))
        .collect();
    // Pins hold everywhere except the step the user asked to rerun from.
    given.extend(
        pins.into_iter()
            .filter(|(step, _)| step != &from && in_melody(step)),
    );
    let mut fresh_steps = BTreeSet::new();
    match request.output {
        Some(outputs) => {
            given.insert(from, outputs);
        }
        None => {
            given.remove(&from);
            if request.fresh {
                fresh_steps.insert(from);
            }
        }
    }
    Ok(ForkPlan {
        inputs,
        given,
        fresh_steps,
        replayed,
    })
}

/// Whether `step` is a step of the melody (the first thing [`plan`] checks; a host may check
/// it sooner, before reading anything else the fork needs).
pub fn check_step(melody: &Melody, step: &str) -> Result<(), ForkError> {
    if melody.steps.iter().any(|s| s.id == step) {
        return Ok(());
    }
    Err(ForkError::UnknownStep {
        step: step.to_owned(),
        hint: did_you_mean(step, melody.steps.iter().map(|s| s.id.as_str())),
    })
}

/// `step` and every step that depends on it, directly or not.
pub fn downstream(melody: &Melody, step: &str) -> BTreeSet<String> {
    let mut seen = BTreeSet::from([step.to_owned()]);
    let mut queue = VecDeque::from([step.to_owned()]);
    while let Some(at) = queue.pop_front() {
        for edge in &melody.edges {
            if edge.from.step == at && seen.insert(edge.to.step.clone()) {
                queue.push_back(edge.to.step.clone());
            }
        }
    }
    seen
}

impl Host {
    /// `forkRun`: a new run linked to its parent (see [`plan`]), started like `startRun` (trust,
    /// validation, recording, events on `run-events`).
    pub async fn fork_run(&self, args: ForkRunArgs) -> Result<RunStarted, HostError> {
        let store = self.store().await?;
        let parent = store.source(&args.run_id).await?;
        let melody = match args.melody {
            Some(edited) => self.parse(edited)?,
            None => {
                let source = format!("run {} (its melody as it was run)", args.run_id);
                let mut m = symphony_melody::load(&parent.melody_bytes, &source)
                    .map_err(HostError::invalid)?;
                // A run recorded by an older Symphony is played with this build's step types.
                symphony_melody::versions::upgrade(&mut m, self.registry()).map_err(|p| {
                    HostError::invalid(symphony_melody::Problems::new(p).in_file(&source))
                })?;
                m
            }
        };
        let pins = store.pinned_outputs(&melody.melody.id).await?;
        let request = ForkRequest {
            from_step: args.from_step.clone(),
            inputs: args.inputs.unwrap_or_default(),
            output: args.output.map(Outputs),
            fresh: args.fresh.unwrap_or(false),
        };
        let plan =
            plan(&melody, parent.inputs, parent.finished, pins, request).map_err(|e| match e {
                ForkError::UnknownStep { step, hint } => HostError::UnknownStep { step, hint },
                ForkError::Invalid(problems) => HostError::invalid(problems),
            })?;
        self.launch(Launch {
            melody,
            inputs: plan.inputs,
            path: None,
            given: Given::Exactly(plan.given),
            fresh_steps: plan.fresh_steps,
            parent: Some((args.run_id, args.from_step)),
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn chain() -> Melody {
        symphony_melody::load_value(json!({
            "formatVersion": 1,
            "melody": {"id": "m", "name": "M"},
            "inputs": {"goal": {"type": "string", "default": "x"}, "tone": {"type": "string", "default": "calm"}},
            "steps": [
                {"id": "a", "kind": "operator", "type": "operator.template", "config": {"template": "{{goal}}"}},
                {"id": "b", "kind": "operator", "type": "operator.template", "inputs": {"t": {"type": "text"}}, "config": {"template": "{{t}}"}},
                {"id": "c", "kind": "operator", "type": "operator.template", "inputs": {"t": {"type": "text"}}, "config": {"template": "{{t}}"}},
                {"id": "side", "kind": "operator", "type": "operator.template", "config": {"template": "s"}}
            ],
            "edges": [{"from": "a.output", "to": "b.t"}, {"from": "b.output", "to": "c.t"}]
        }))
        .unwrap()
    }

    fn out(text: &str) -> Outputs {
        Outputs(Map::from_iter([("output".to_owned(), json!(text))]))
    }

    fn finished() -> BTreeMap<String, Outputs> {
        ["a", "b", "c", "side", "gone"]
            .into_iter()
            .map(|s| (s.to_owned(), out(s)))
            .collect()
    }

    fn request(from: &str) -> ForkRequest {
        ForkRequest {
            from_step: from.to_owned(),
            ..ForkRequest::default()
        }
    }

    #[test]
    fn upstream_and_independent_steps_are_kept_and_the_rest_replayed() {
        let plan = plan(
            &chain(),
            json!({"goal": "g", "old": 1}).as_object().unwrap().clone(),
            finished(),
            BTreeMap::new(),
            request("b"),
        )
        .unwrap();
        assert_eq!(plan.given.keys().collect::<Vec<_>>(), ["a", "side"]);
        assert_eq!(plan.replayed, BTreeSet::from(["b".into(), "c".into()]));
        assert!(plan.fresh_steps.is_empty(), "the cache may serve b");
        assert_eq!(plan.inputs["goal"], "g");
        assert_eq!(plan.inputs["tone"], "calm", "defaults fill the rest");
        assert!(
            !plan.inputs.contains_key("old"),
            "not an input of this melody"
        );
    }

    #[test]
    fn fresh_edits_and_pins() {
        let m = chain();
        let fresh = plan(
            &m,
            Map::new(),
            finished(),
            BTreeMap::new(),
            ForkRequest {
                fresh: true,
                ..request("b")
            },
        )
        .unwrap();
        assert_eq!(fresh.fresh_steps, BTreeSet::from(["b".into()]));
        // An edited output of b is given; only c plays.
        let edited = plan(
            &m,
            Map::new(),
            finished(),
            BTreeMap::new(),
            ForkRequest {
                output: Some(out("mine")),
                fresh: true,
                inputs: json!({"tone": "loud"}).as_object().unwrap().clone(),
                ..request("b")
            },
        )
        .unwrap();
        assert_eq!(edited.given["b"], out("mine"));
        assert!(edited.fresh_steps.is_empty());
        assert_eq!(edited.inputs["tone"], "loud");
        // Pins hold downstream, but not on the step rerun from.
        let pins: BTreeMap<String, Outputs> =
            [("b", out("pb")), ("c", out("pc")), ("nope", out("x"))]
                .into_iter()
                .map(|(s, o)| (s.to_owned(), o))
                .collect();
        let pinned = plan(&m, Map::new(), finished(), pins, request("b")).unwrap();
        assert_eq!(pinned.given.keys().collect::<Vec<_>>(), ["a", "c", "side"]);
        assert_eq!(pinned.given["c"], out("pc"));
    }

    #[test]
    fn an_unknown_step_or_input_is_refused() {
        let e = plan(
            &chain(),
            Map::new(),
            finished(),
            BTreeMap::new(),
            request("bb"),
        )
        .unwrap_err();
        assert_eq!(
            e.to_string(),
            "the melody has no step `bb`; did you mean `b`?"
        );
        let e = plan(
            &chain(),
            Map::new(),
            finished(),
            BTreeMap::new(),
            ForkRequest {
                inputs: json!({"goal": 3}).as_object().unwrap().clone(),
                ..request("a")
            },
        )
        .unwrap_err();
        assert!(matches!(e, ForkError::Invalid(_)), "{e}");
    }
}
