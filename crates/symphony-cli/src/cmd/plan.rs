//! `symphony plan FILE`: how a melody would be played, without playing it.
//!
//! Asks `symphony-melody` for the plan (waves of steps that can run together, the critical path
//! and the serial time, from each step's estimate) and prints it, with the steps played by
//! offline instruments named. `symphony run --dry-run` prints the same plan.

use std::path::PathBuf;

use serde::Serialize;
use serde_json::Value;
use symphony_conductor::Registry;
use symphony_melody::graph::{MelodyGraph, Plan};
use symphony_melody::{Capability, Melody, StepKind};

use super::{duration, estimates, is_offline, load_melody};
use crate::exit::{Exit, Failure, Outcome};

/// Arguments of `symphony plan`.
#[derive(clap::Args)]
pub struct Args {
    /// The melody file.
    #[arg(value_name = "FILE")]
    pub file: PathBuf,
    /// Print the plan as JSON (the plan, plus each step's type, estimate and capabilities).
    #[arg(long)]
    pub json: bool,
}

/// Runs `symphony plan`.
pub fn run(args: Args) -> Outcome {
    let registry = crate::registry::registry();
    let melody = load_melody(&args.file, &registry)?;
    let plan = plan_of(&melody, &registry)?;
    if args.json {
        let doc = plan_json(&melody, &registry, &plan)?;
        outln!("{doc}");
    } else {
        outln!(
            "plan of `{}` ({}): {} step{} in {} wave{}",
            melody.melody.id,
            args.file.display(),
            melody.steps.len(),
            super::plural(melody.steps.len()),
            plan.waves.len(),
            super::plural(plan.waves.len())
        );
        print_plan(&melody, &registry, &plan);
    }
    Ok(Exit::Success)
}

/// The melody's plan. Validation refuses cycles, so `None` from the graph is an invariant
/// broken; it is still reported as an invalid melody rather than a panic.
pub fn plan_of(melody: &Melody, registry: &Registry) -> Result<Plan, Failure> {
    let est = estimates(melody, registry);
    MelodyGraph::build(melody)
        .plan(melody, |i| est[i])
        .ok_or_else(|| {
            Failure::new(
                Exit::Invalid,
                format!(
                    "melody `{}`: its steps form a cycle, so it has no plan; run `symphony validate` to see where",
                    melody.melody.id
                ),
            )
        })
}

/// Prints the waves, the critical path, the serial time and the offline instruments.
pub fn print_plan(melody: &Melody, registry: &Registry, plan: &Plan) {
    for (i, wave) in plan.waves.iter().enumerate() {
        outln!("wave {}: {}", i + 1, wave.join(", "));
    }
    outln!(
        "critical path: {}  (≈{} estimated)",
        plan.critical_path.join(" → "),
        duration(plan.critical_ms)
    );
    let saved = plan.serial_ms.saturating_sub(plan.critical_ms);
    outln!(
        "serial: ≈{} one step after another; parallel waves save ≈{}",
        duration(plan.serial_ms),
        duration(saved)
    );
    let offline = offline_steps(melody, registry);
    if offline.is_empty() {
        outln!("offline instruments: none");
    } else {
        outln!(
            "offline instruments (no model is called): {}",
            offline.join(", ")
        );
    }
}

/// The ids of the steps played by offline instruments.
pub fn offline_steps(melody: &Melody, registry: &Registry) -> Vec<String> {
    melody
        .steps
        .iter()
        .filter(|s| is_offline(registry, &s.type_name))
        .map(|s| s.id.clone())
        .collect()
}

/// One step as the JSON plan describes it.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct PlannedStep<'a> {
    id: &'a str,
    #[serde(rename = "type")]
    type_name: &'a str,
    kind: StepKind,
    estimate_ms: u64,
    offline: bool,
    capabilities: Vec<Capability>,
}

/// The plan as JSON: the [`Plan`]'s own fields, plus `melody`, `steps` and `offline`.
pub fn plan_json(melody: &Melody, registry: &Registry, plan: &Plan) -> Result<Value, Failure> {
    let est = estimates(melody, registry);
    let steps: Vec<PlannedStep> = melody
        .steps
        .iter()
        .zip(&est)
        .map(|(s, &estimate_ms)| PlannedStep {
            id: &s.id,
            type_name: &s.type_name,
            kind: s.kind,
            estimate_ms,
            offline: is_offline(registry, &s.type_name),
            capabilities: s.capabilities.iter().copied().collect(),
        })
        .collect();
    let internal =
        |e: serde_json::Error| Failure::new(Exit::Internal, format!("cannot write the plan: {e}"));
    let mut doc = serde_json::to_value(plan).map_err(internal)?;
    if let Value::Object(map) = &mut doc {
        map.insert(
            "melody".into(),
            serde_json::json!({"id": melody.melody.id, "name": melody.melody.name}),
        );
        map.insert(
            "steps".into(),
            serde_json::to_value(steps).map_err(internal)?,
        );
        map.insert(
            "offline".into(),
            serde_json::to_value(offline_steps(melody, registry)).map_err(internal)?,
        );
    }
    Ok(doc)
}
