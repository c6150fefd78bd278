//! A validated melody compiled for playing: steps by position, resolved step types, edges as
//! indexes, and policies with their defaults filled in. Built once per run; the scheduler never
//! looks names up on its hot path.

use std::collections::HashMap;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use serde_json::{Map, Value};
use symphony_melody::{
    Condition, FieldType, InlineStep, Melody, Policy, PortType, ResolvedPort, Retry, Settings,
    StepKind,
};

use crate::event::StepId;
use crate::registry::{Entry, Registry};
use crate::step::{Outputs, RunView};

/// Used when neither the step nor the melody sets a timeout.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(600);
/// Used when neither the melody nor the run sets max parallel.
pub const DEFAULT_MAX_PARALLEL: u32 = 8;

/// One way to play a step: a type and the config in force.
pub(crate) struct Variant {
    pub entry: Entry,
    pub config: Arc<Map<String, Value>>,
}

/// How to play a step or a map's body: the step's own way first, then its fallbacks.
pub(crate) struct Playbook {
    pub variants: Vec<Variant>,
    pub timeout: Duration,
    pub retry: Option<Retry>,
}

/// An edge leaving a step.
pub(crate) struct OutEdge {
    pub from_port: Arc<str>,
    pub to: usize,
    /// Position of the input port in the target's `inputs`.
    pub to_port: usize,
    /// The input port's name, shared into events.
    pub to_port_name: Arc<str>,
    /// Position of this edge among the edges into that port.
    pub slot: usize,
}

pub(crate) struct CompiledStep {
    pub id: StepId,
    pub kind: StepKind,
    pub inputs: Vec<ResolvedPort>,
    /// Edges into each input port.
    pub fan_in: Vec<usize>,
    /// The source step of each slot of each input port, for skip reasons.
    pub sources: Vec<Vec<(usize, String)>>,
    pub in_edges: u32,
    pub out_edges: Vec<OutEdge>,
    pub playbook: Arc<Playbook>,
    /// The body of a cue that plays a step inside it (a map's items, a loop's rounds).
    pub body: Option<Arc<Playbook>>,
    pub priority: i32,
    pub optional: bool,
    pub skip_if: Option<Condition>,
    /// `policy.estimateMs`, when the step sets it.
    pub estimate_ms: Option<u64>,
    /// What the step's type expects a step with this config to take (for a map, what its
    /// body's type expects of one item): the estimate when neither the policy nor the run's
    /// history gives one. The same figure `symphony plan` uses.
    pub type_estimate_ms: u64,
    pub concurrency_key: Option<String>,
}

impl CompiledStep {
    /// Cues route and fan out; they take no slot of their own.
    pub fn takes_slot(&self) -> bool {
        self.kind != StepKind::Cue
    }
}

pub(crate) struct Score {
    pub steps: Vec<CompiledStep>,
    /// The melody's own max parallel (a run may override it).
    pub max_parallel: usize,
    /// Step positions by id.
    pub index: HashMap<StepId, usize>,
    pub limits: HashMap<String, u32>,
    pub offline: bool,
    /// Every step after all its upstream steps: the order in which the live critical path is
    /// computed (walked backwards), made once here so a run's periodic check only walks it.
    pub topo: Vec<usize>,
}

/// What steps can read while playing: run inputs and finished outputs, shared by all tasks.
pub(crate) struct Shared {
    pub run_inputs: Map<String, Value>,
    /// The melody (for its settings).
    pub melody: Arc<Melody>,
    pub score: Arc<Score>,
    /// Each slot is set once, when its step succeeds, and read by steps downstream of it.
    pub outputs: Box<[OnceLock<Arc<Outputs>>]>,
}

impl RunView for Shared {
    fn run_input(&self, name: &str) -> Option<&Value> {
        self.run_inputs.get(name)
    }
    fn step_index(&self, id: &str) -> Option<usize> {
        self.score.index.get(id).copied()
    }
    fn outputs_of(&self, step: usize) -> Option<&Outputs> {
        self.outputs.get(step)?.get().map(|o| &**o)
    }
    fn settings(&self) -> &Settings {
        &self.melody.settings
    }
}

/// Compiles a melody that has passed validation against `registry`.
pub(crate) fn compile(melody: &Melody, registry: &Registry) -> Score {
    let default_timeout = melody
        .settings
        .default_timeout_ms
        .map_or(DEFAULT_TIMEOUT, Duration::from_millis);
    let index: HashMap<&str, usize> = melody
        .steps
        .iter()
        .enumerate()
        .map(|(i, s)| (s.id.as_str(), i))
        .collect();
    let mut steps: Vec<CompiledStep> = melody
        .steps
        .iter()
        .map(|step| {
            let entry = registry
                .get(&step.type_name)
                .expect("validation checked every step type")
                .clone();
            let inputs = entry.spec.inputs_of(step);
            let inline_body = step
                .config
                .get("body")
                .filter(|_| {
                    entry
                        .spec
                        .config
                        .iter()
                        .any(|f| f.name == "body" && matches!(f.ty, FieldType::Step { .. }))
                })
                .and_then(|b| serde_json::from_value::<InlineStep>(b.clone()).ok());
            let type_estimate_ms = match &inline_body {
                Some(b) => b.policy.estimate_ms.unwrap_or_else(|| {
                    registry.get(&b.type_name).map_or(0, |e| {
                        e.step_type
                            .estimate_ms(&b.config)
                            .unwrap_or(e.spec.estimate_ms)
                    })
                }),
                None => entry
                    .step_type
                    .estimate_ms(&step.config)
                    .unwrap_or(entry.spec.estimate_ms),
            };
            let body = inline_body.map(|b| {
                Arc::new(playbook(
                    registry,
                    &b.type_name,
                    &b.config,
                    &b.policy,
                    default_timeout,
                ))
            });
            CompiledStep {
                id: Arc::from(step.id.as_str()),
                kind: step.kind,
                fan_in: vec![0; inputs.len()],
                sources: vec![Vec::new(); inputs.len()],
                inputs,
                in_edges: 0,
                out_edges: Vec::new(),
                concurrency_key: entry.step_type.concurrency_key(&step.config),
                playbook: Arc::new(playbook(
                    registry,
                    &step.type_name,
                    &step.config,
                    &step.policy,
                    default_timeout,
                )),
                body,
                priority: step.policy.priority,
                optional: step.policy.optional,
                skip_if: step.policy.skip_if.clone(),
                estimate_ms: step.policy.estimate_ms,
                type_estimate_ms,
            }
        })
        .collect();
    for edge in &melody.edges {
        let from = index[edge.from.step.as_str()];
        let to = index[edge.to.step.as_str()];
        let to_port = steps[to]
            .inputs
            .iter()
            .position(|p| p.name == edge.to.port)
            .expect("validation checked every edge's ports");
        let slot = steps[to].fan_in[to_port];
        steps[to].fan_in[to_port] += 1;
        steps[to].sources[to_port].push((from, edge.from.port.clone()));
        steps[to].in_edges += 1;
        let to_port_name = Arc::from(steps[to].inputs[to_port].name.as_str());
        steps[from].out_edges.push(OutEdge {
            from_port: Arc::from(edge.from.port.as_str()),
            to,
            to_port,
            to_port_name,
            slot,
        });
    }
    // Offline means: there are instruments, and none of them calls a model.
    let has_instruments = steps.iter().any(|s| {
        s.kind == StepKind::Instrument
            || s.body.as_ref().is_some_and(|b| {
                b.variants
                    .iter()
                    .any(|v| v.entry.spec.kind == StepKind::Instrument)
            })
    });
    let offline = has_instruments
        && steps.iter().all(|s| {
            s.kind != StepKind::Instrument
                || s.playbook.variants.iter().all(|v| v.entry.spec.offline)
        })
        && steps.iter().filter_map(|s| s.body.as_ref()).all(|b| {
            b.variants
                .iter()
                .all(|v| v.entry.spec.offline || v.entry.spec.kind != StepKind::Instrument)
        });
    let index = steps
        .iter()
        .enumerate()
        .map(|(i, s)| (s.id.clone(), i))
        .collect();
    let topo = topological_order(&steps);
    Score {
        topo,
        index,
        steps,
        max_parallel: melody
            .settings
            .max_parallel
            .unwrap_or(DEFAULT_MAX_PARALLEL)
            .max(1) as usize,
        limits: melody
            .settings
            .concurrency
            .iter()
            .map(|(k, v)| (k.clone(), *v))
            .collect(),
        offline,
    }
}

fn playbook(
    registry: &Registry,
    type_name: &str,
    config: &Map<String, Value>,
    policy: &Policy,
    default_timeout: Duration,
) -> Playbook {
    let mut variants = vec![Variant {
        entry: registry
            .get(type_name)
            .expect("validation checked every step type")
            .clone(),
        config: Arc::new(config.clone()),
    }];
    for fb in &policy.fallbacks {
        let name = fb.type_name.as_deref().unwrap_or(type_name);
        let mut merged = config.clone();
        merged.extend(fb.config.clone());
        variants.push(Variant {
            entry: registry
                .get(name)
                .expect("validation checked every fallback type")
                .clone(),
            config: Arc::new(merged),
        });
    }
    Playbook {
        variants,
        timeout: policy
            .timeout_ms
            .map_or(default_timeout, Duration::from_millis),
        retry: policy.retry.clone(),
    }
}

/// Kahn's algorithm over the compiled edges: every step after all its upstream steps. Validation
/// refuses cycles; should one slip through, its steps are left out (the order stays usable).
fn topological_order(steps: &[CompiledStep]) -> Vec<usize> {
    let mut deps: Vec<u32> = steps.iter().map(|s| s.in_edges).collect();
    let mut order: Vec<usize> = (0..steps.len()).filter(|&i| deps[i] == 0).collect();
    order.reserve(steps.len().saturating_sub(order.len()));
    let mut next = 0;
    while next < order.len() {
        let s = order[next];
        next += 1;
        for edge in &steps[s].out_edges {
            deps[edge.to] -= 1;
            if deps[edge.to] == 0 {
                order.push(edge.to);
            }
        }
    }
    order
}

/// Whether a list port collects its edges into one list.
pub(crate) fn collects(port: &ResolvedPort, fan_in: usize) -> bool {
    port.ty == PortType::List && fan_in > 1
}
