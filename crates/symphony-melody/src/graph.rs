//! The melody as a petgraph graph: cycles, ancestry, waves and the critical path.
//!
//! Node weights are step positions in `Melody::steps`; several edges between the same two steps
//! (different ports) become one graph edge, since ordering is all the graph is for.

use std::collections::{HashMap, HashSet, VecDeque};

use petgraph::algo::kosaraju_scc;
use petgraph::graph::{DiGraph, NodeIndex};
use petgraph::Direction;
use serde::Serialize;

use crate::model::Melody;

/// The dependency graph of a melody's steps.
#[derive(Debug, Clone)]
pub struct MelodyGraph {
    graph: DiGraph<usize, ()>,
}

/// How the conductor would play a melody if every step took its estimate.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Plan {
    /// Groups of step ids that can run together; each wave needs the ones before it.
    pub waves: Vec<Vec<String>>,
    /// The chain of steps that decides the run's length, first to last.
    pub critical_path: Vec<String>,
    /// The sum of the estimates along the critical path, in milliseconds.
    pub critical_ms: u64,
    /// The sum of every step's estimate: the run's length with no parallelism.
    pub serial_ms: u64,
}

impl MelodyGraph {
    /// Builds the graph. Edges naming unknown steps are left out (the validator reports them).
    pub fn build(melody: &Melody) -> Self {
        let n = melody.steps.len();
        let mut graph = DiGraph::with_capacity(n, melody.edges.len());
        let mut index: HashMap<&str, NodeIndex> = HashMap::with_capacity(n);
        for (i, step) in melody.steps.iter().enumerate() {
            let node = graph.add_node(i);
            index.entry(step.id.as_str()).or_insert(node);
        }
        let mut seen = HashSet::with_capacity(melody.edges.len());
        for edge in &melody.edges {
            if let (Some(&a), Some(&b)) = (
                index.get(edge.from.step.as_str()),
                index.get(edge.to.step.as_str()),
            ) {
                if seen.insert((a, b)) {
                    graph.add_edge(a, b, ());
                }
            }
        }
        MelodyGraph { graph }
    }

    /// The steps that feed `b` directly.
    pub fn parents(&self, b: usize) -> Vec<usize> {
        self.graph
            .neighbors_directed(NodeIndex::new(b), Direction::Incoming)
            .map(NodeIndex::index)
            .collect()
    }

    /// Every step upstream of `b`.
    pub fn ancestors(&self, b: usize) -> HashSet<usize> {
        let mut seen = HashSet::new();
        let mut queue = VecDeque::from([NodeIndex::new(b)]);
        while let Some(n) = queue.pop_front() {
            for p in self.graph.neighbors_directed(n, Direction::Incoming) {
                if seen.insert(p.index()) {
                    queue.push_back(p);
                }
            }
        }
        seen
    }

    /// Each cycle, as the steps along it in order.
    pub fn cycles(&self) -> Vec<Vec<usize>> {
        let mut out = Vec::new();
        // Kosaraju, not Tarjan: petgraph's Tarjan recurses per node and overflows the stack on a
        // 100,000-step chain; Kosaraju walks with explicit stacks.
        for scc in kosaraju_scc(&self.graph) {
            let self_loop = scc.len() == 1 && self.graph.contains_edge(scc[0], scc[0]);
            if scc.len() > 1 || self_loop {
                out.push(self.cycle_through(&scc));
            }
        }
        out.sort();
        out
    }

    /// A cycle inside one strongly connected component, found by BFS back to its first node.
    fn cycle_through(&self, scc: &[NodeIndex]) -> Vec<usize> {
        let members: HashSet<NodeIndex> = scc.iter().copied().collect();
        let start = *scc.iter().min().expect("an SCC is never empty");
        let mut prev: HashMap<NodeIndex, NodeIndex> = HashMap::new();
        let mut queue = VecDeque::from([start]);
        while let Some(n) = queue.pop_front() {
            for next in self.graph.neighbors(n) {
                if next == start {
                    let mut path = vec![n.index()];
                    let mut cur = n;
                    while let Some(&p) = prev.get(&cur) {
                        path.push(p.index());
                        cur = p;
                    }
                    path.reverse();
                    return path;
                }
                if members.contains(&next) && !prev.contains_key(&next) && next != start {
                    prev.insert(next, n);
                    queue.push_back(next);
                }
            }
        }
        scc.iter().map(|n| n.index()).collect()
    }

    /// Steps in an order where every step comes after its parents; `None` if there is a cycle.
    pub fn topological_order(&self) -> Option<Vec<usize>> {
        petgraph::algo::toposort(&self.graph, None)
            .ok()
            .map(|order| order.into_iter().map(NodeIndex::index).collect())
    }

    /// The execution plan, with `estimate_ms(step position)` as each step's expected duration.
    /// `None` if the melody has a cycle.
    pub fn plan(&self, melody: &Melody, estimate_ms: impl Fn(usize) -> u64) -> Option<Plan> {
        let order = self.topological_order()?;
        let n = melody.steps.len();
        let mut level = vec![0usize; n];
        // finish[i]: the earliest time step i can finish; via[i]: the parent that decides it.
        let mut finish = vec![0u64; n];
        let mut via: Vec<Option<usize>> = vec![None; n];
        let mut serial_ms = 0u64;
        for &i in &order {
            let mut start = 0u64;
            for p in self
                .graph
                .neighbors_directed(NodeIndex::new(i), Direction::Incoming)
            {
                let p = p.index();
                level[i] = level[i].max(level[p] + 1);
                if via[i].is_none() || finish[p] > start {
                    start = finish[p];
                    via[i] = Some(p);
                }
            }
            let est = estimate_ms(i);
            serial_ms = serial_ms.saturating_add(est);
            finish[i] = start.saturating_add(est);
        }
        let depth = level.iter().copied().max().map_or(0, |d| d + 1);
        let mut waves = vec![Vec::new(); depth];
        for (i, step) in melody.steps.iter().enumerate() {
            waves[level[i]].push(step.id.clone());
        }
        let mut critical_path = Vec::new();
        let mut cur = (0..n).max_by_key(|&i| (finish[i], std::cmp::Reverse(i)));
        let critical_ms = cur.map_or(0, |i| finish[i]);
        while let Some(i) = cur {
            critical_path.push(melody.steps[i].id.clone());
            cur = via[i];
        }
        critical_path.reverse();
        Some(Plan {
            waves,
            critical_path,
            critical_ms,
            serial_ms,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn melody(edges: &[(&str, &str)], ids: &[&str]) -> Melody {
        let steps: Vec<_> = ids
            .iter()
            .map(|id| json!({"id": id, "kind": "operator", "type": "operator.pass"}))
            .collect();
        let edges: Vec<_> = edges
            .iter()
            .map(|(a, b)| json!({"from": format!("{a}.output"), "to": format!("{b}.input")}))
            .collect();
        crate::load_value(json!({
            "formatVersion": 1, "melody": {"id": "t", "name": "t"}, "steps": steps, "edges": edges
        }))
        .unwrap()
    }

    #[test]
    fn waves_and_critical_path() {
        // a → b → d, a → c → d; c is slow.
        let m = melody(
            &[("a", "b"), ("a", "c"), ("b", "d"), ("c", "d")],
            &["a", "b", "c", "d"],
        );
        let g = MelodyGraph::build(&m);
        let plan = g.plan(&m, |i| [10, 5, 50, 1][i]).unwrap();
        assert_eq!(plan.waves, vec![vec!["a"], vec!["b", "c"], vec!["d"]]);
        assert_eq!(plan.critical_path, vec!["a", "c", "d"]);
        assert_eq!(plan.critical_ms, 61);
        assert_eq!(plan.serial_ms, 66);
    }

    #[test]
    fn finds_cycles_in_order() {
        let m = melody(
            &[("a", "b"), ("b", "c"), ("c", "a"), ("d", "d")],
            &["a", "b", "c", "d"],
        );
        let g = MelodyGraph::build(&m);
        assert_eq!(g.cycles(), vec![vec![0, 1, 2], vec![3]]);
        assert!(g.plan(&m, |_| 1).is_none());
    }
}
