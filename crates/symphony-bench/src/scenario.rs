//! The benchmark scenarios: melodies of many shapes, built in code as JSON and loaded through
//! the same path a host uses (`symphony_melody::load_value`).
//!
//! Every step is a no-op (`operator.pass`, `operator.merge`) or a fixed wait (`operator.delay`),
//! so what is measured is the engine: validation, compilation, scheduling, task spawning,
//! events and data flow along edges.

use serde_json::{json, Value};

/// The shape of a scenario's melody.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shape {
    /// `n` pass steps, each fed by the one before.
    Chain(usize),
    /// One pass root → `n` parallel pass steps → one merge joining all of them.
    Fanout(usize),
    /// `layers` layers of `width` steps; each step after the first layer reads 2–3 steps of the
    /// layer before through a merge's `items` list port.
    Dag {
        /// How many layers.
        layers: usize,
        /// Steps per layer.
        width: usize,
    },
    /// One `cue.loop` playing `n` rounds of a no-op body (a template of the round number, so no
    /// round repeats another and the loop runs until `maxRounds`).
    Loop(usize),
    /// `n` independent delays of `ms` milliseconds each.
    Wait {
        /// How many delays.
        n: usize,
        /// How long each waits.
        ms: u64,
    },
}

/// What the issue asks of a scenario.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Target {
    /// Engine overhead per step below this many microseconds.
    OverheadPerStepUs(f64),
    /// Overhead per step below this many microseconds, and peak memory below this many MB.
    OverheadAndPeakMb(f64, f64),
    /// The whole run (median wall time) below this many milliseconds.
    WallMs(f64),
    /// Persisting every event adds less than this many microseconds per step over the same
    /// melody unstored.
    StoredAddedUs(f64),
    /// Overhead per step (per round, for a loop) within this factor of the static chain with
    /// as many steps.
    WithinOfChain(f64),
    /// No target; measured for the record.
    None,
}

/// One benchmark scenario.
#[derive(Debug, Clone, Copy)]
pub struct Scenario {
    /// Its name on the command line and in the report.
    pub name: &'static str,
    /// What its melody looks like.
    pub shape: Shape,
    /// How many timed runs the child makes.
    pub runs: usize,
    /// What the issue asks of it.
    pub target: Target,
    /// Every event is persisted in a run store (SQLite) as the run goes.
    pub stored: bool,
}

/// Every scenario, in report order.
pub const ALL: &[Scenario] = &[
    Scenario {
        name: "chain-1k",
        shape: Shape::Chain(1_000),
        runs: 9,
        target: Target::OverheadPerStepUs(2.0),
        stored: false,
    },
    Scenario {
        name: "chain-10k",
        shape: Shape::Chain(10_000),
        runs: 5,
        target: Target::OverheadPerStepUs(2.0),
        stored: false,
    },
    Scenario {
        name: "chain-100k",
        shape: Shape::Chain(100_000),
        runs: 3,
        target: Target::OverheadPerStepUs(2.0),
        stored: false,
    },
    Scenario {
        name: "fanout-1k",
        shape: Shape::Fanout(1_000),
        runs: 9,
        target: Target::OverheadPerStepUs(2.0),
        stored: false,
    },
    Scenario {
        name: "fanout-10k",
        shape: Shape::Fanout(10_000),
        runs: 5,
        target: Target::OverheadAndPeakMb(2.0, 100.0),
        stored: false,
    },
    Scenario {
        name: "dag-32x32",
        shape: Shape::Dag {
            layers: 32,
            width: 32,
        },
        runs: 9,
        target: Target::None,
        stored: false,
    },
    Scenario {
        name: "wait-1k",
        shape: Shape::Wait { n: 1_000, ms: 10 },
        runs: 9,
        target: Target::WallMs(15.0),
        stored: false,
    },
    Scenario {
        name: "wait-10k",
        shape: Shape::Wait { n: 10_000, ms: 10 },
        runs: 5,
        target: Target::None,
        stored: false,
    },
    Scenario {
        name: "loop-1k",
        shape: Shape::Loop(1_000),
        runs: 9,
        target: Target::WithinOfChain(2.0),
        stored: false,
    },
    Scenario {
        name: "chain-1k-stored",
        shape: Shape::Chain(1_000),
        runs: 9,
        target: Target::StoredAddedUs(50.0),
        stored: true,
    },
    Scenario {
        name: "chain-10k-stored",
        shape: Shape::Chain(10_000),
        runs: 3,
        target: Target::StoredAddedUs(50.0),
        stored: true,
    },
];

/// The scenario with this name.
pub fn find(name: &str) -> Option<&'static Scenario> {
    ALL.iter().find(|s| s.name == name)
}

impl Scenario {
    /// How many steps it plays: a loop's rounds count as steps (each is a unit the scheduler
    /// plays, as a step is).
    pub fn steps(&self) -> usize {
        match self.shape {
            Shape::Chain(n) | Shape::Loop(n) => n,
            Shape::Fanout(n) => n + 2,
            Shape::Dag { layers, width } => layers * width,
            Shape::Wait { n, .. } => n,
        }
    }

    /// How many steps its melody has.
    pub fn melody_steps(&self) -> usize {
        match self.shape {
            Shape::Loop(_) => 1,
            _ => self.steps(),
        }
    }

    /// The scenario whose overhead this one is judged against, by shape: the same melody
    /// unstored for a stored one, the chain of as many steps for a loop.
    pub fn peer_shape(&self) -> Option<Shape> {
        match self.shape {
            _ if self.stored => Some(self.shape),
            Shape::Loop(n) => Some(Shape::Chain(n)),
            _ => None,
        }
    }

    /// The run time a perfect engine would take: the sum of the waits on the critical path.
    pub fn ideal_ms(&self) -> f64 {
        match self.shape {
            Shape::Wait { ms, .. } => ms as f64,
            _ => 0.0,
        }
    }

    /// A one-line description of the melody, for the report.
    pub fn describe(&self) -> String {
        let shape = self.describe_shape();
        if self.stored {
            format!("{shape}; every event persisted in a SQLite run store (one new file per scenario, WAL), the clock stopping when the store has written the last one")
        } else {
            shape
        }
    }

    fn describe_shape(&self) -> String {
        match self.shape {
            Shape::Chain(n) => format!("{n} `operator.pass` in a chain, maxParallel default (8)"),
            Shape::Fanout(n) => format!(
                "pass root → {n} parallel `operator.pass` → one `operator.merge` (list mode, {n} edges into `items`), maxParallel {n}"
            ),
            Shape::Dag { layers, width } => format!(
                "{layers} layers × {width}: layer 0 `operator.pass`, later layers `operator.merge` (text mode, empty separator) reading 2–3 steps of the layer before through `items`, maxParallel {width}"
            ),
            Shape::Wait { n, ms } => format!(
                "{n} independent `operator.delay` of {ms} ms, no edges, maxParallel {n}"
            ),
            Shape::Loop(n) => format!(
                "one `cue.loop` of {n} rounds (`maxRounds`), its body an `operator.template` of `{{{{loop.round}}}}`"
            ),
        }
    }

    /// The melody, as the JSON a file would hold.
    pub fn melody_json(&self) -> Value {
        let (steps, edges, max_parallel) = match self.shape {
            Shape::Chain(n) => chain(n),
            Shape::Fanout(n) => fanout(n),
            Shape::Dag { layers, width } => dag(layers, width),
            Shape::Wait { n, ms } => wait(n, ms),
            Shape::Loop(n) => rounds(n),
        };
        let mut doc = json!({
            "formatVersion": 1,
            "melody": {"id": format!("bench-{}", self.name), "name": format!("Benchmark {}", self.name)},
            "steps": steps,
            "edges": edges,
        });
        if let Some(m) = max_parallel {
            doc["settings"] = json!({"maxParallel": m});
        }
        doc
    }
}

type Parts = (Vec<Value>, Vec<Value>, Option<usize>);

fn pass(id: &str) -> Value {
    json!({"id": id, "kind": "operator", "type": "operator.pass"})
}

fn edge(from: &str, to: &str) -> Value {
    json!({"from": from, "to": to})
}

fn chain(n: usize) -> Parts {
    let steps = (0..n).map(|i| pass(&format!("s{i}"))).collect();
    let edges = (1..n)
        .map(|i| edge(&format!("s{}.output", i - 1), &format!("s{i}.input")))
        .collect();
    (steps, edges, None)
}

fn fanout(n: usize) -> Parts {
    let mut steps = Vec::with_capacity(n + 2);
    let mut edges = Vec::with_capacity(2 * n);
    steps.push(pass("root"));
    for i in 0..n {
        steps.push(pass(&format!("f{i}")));
        edges.push(edge("root.output", &format!("f{i}.input")));
        edges.push(edge(&format!("f{i}.output"), "join.items"));
    }
    steps.push(json!({
        "id": "join", "kind": "operator", "type": "operator.merge", "config": {"mode": "list"}
    }));
    (steps, edges, Some(n))
}

/// Layer 0 is pass steps; each later step is a merge in text mode with an empty separator, so
/// every value stays the empty string. (A list- or object-mode merge nests its inputs, so values
/// would grow about 2.5× per layer: 2.5^31 after 32 layers.)
fn dag(layers: usize, width: usize) -> Parts {
    let mut steps = Vec::with_capacity(layers * width);
    let mut edges = Vec::new();
    for j in 0..width {
        steps.push(pass(&format!("d0_{j}")));
    }
    for k in 1..layers {
        for j in 0..width {
            let id = format!("d{k}_{j}");
            steps.push(json!({
                "id": id, "kind": "operator", "type": "operator.merge",
                "config": {"mode": "text", "separator": ""}
            }));
            // Two parents, and a third for every other step: 2.5 on average.
            let mut parents = vec![j, (j + 1) % width];
            if j % 2 == 0 {
                parents.push((j + 5) % width);
            }
            for p in parents {
                edges.push(edge(
                    &format!("d{}_{p}.output", k - 1),
                    &format!("{id}.items"),
                ));
            }
        }
    }
    (steps, edges, Some(width))
}

fn rounds(n: usize) -> Parts {
    let step = json!({
        "id": "rounds", "kind": "cue", "type": "cue.loop",
        "config": {
            "body": {"type": "operator.template", "config": {"template": "{{loop.round}}"}},
            "maxRounds": n
        }
    });
    (vec![step], Vec::new(), None)
}

fn wait(n: usize, ms: u64) -> Parts {
    let steps = (0..n)
        .map(|i| {
            json!({"id": format!("w{i}"), "kind": "operator", "type": "operator.delay", "config": {"ms": ms}})
        })
        .collect();
    (steps, Vec::new(), Some(n))
}

#[cfg(test)]
mod tests {
    use super::*;
    use symphony_conductor::Registry;

    #[test]
    fn every_scenario_is_a_valid_melody_of_the_stated_size() {
        let registry = Registry::standard();
        for s in ALL.iter().filter(|s| s.steps() <= 20_000) {
            let melody = symphony_melody::load_value(s.melody_json()).expect("loads");
            assert_eq!(melody.steps.len(), s.melody_steps(), "{}", s.name);
            let problems = symphony_melody::validate(&melody, &registry);
            assert!(problems.is_empty(), "{}: {problems:?}", s.name);
        }
    }
}
