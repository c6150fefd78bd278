//! The live critical path: what the periodic check knows of a run (each step's estimate, its
//! history, whether two steps can play at once), the longest chain of unfinished work, and how
//! many steps wait on a step.
//!
//! Each step's estimate is `policy.estimateMs`, else its history's p50, else what its type
//! expects (the figure `symphony plan` uses). A step not started counts its whole estimate; a
//! running step what is left of it, but never less than half of what it has run. The chain is
//! computed backwards over the topological order made once in the [`Score`], with scratch
//! space kept between ticks, so a tick allocates nothing.

use std::collections::BTreeMap;

use tokio::time::Instant;

use super::HISTORY_MIN_RUNS;
use crate::conductor::StepHistory;
use crate::scheduler::{State, StepBook};
use crate::score::Score;

/// Per-run figures of the periodic check, made on its first tick (a run of quick steps never
/// has one).
pub(super) struct Watch {
    /// Each step's expected duration in milliseconds: `policy.estimateMs`, else the p50 of its
    /// history, else what its type expects.
    estimate_ms: Vec<u64>,
    /// Each step's history, when it has enough runs to judge by.
    pub history: Vec<Option<StepHistory>>,
    /// Scratch: the longest chain of unfinished work starting at each step, in milliseconds.
    pub tail_ms: Vec<u64>,
    /// Scratch: steps seen while counting what waits on a step.
    pub seen: Vec<bool>,
    /// Whether any two steps can play at once. In a melody that is one chain, every step is on
    /// the critical path by definition, so saying so of one of them tells nothing.
    pub parallel: bool,
}

impl Watch {
    pub(super) fn new(score: &Score, history: &BTreeMap<String, StepHistory>) -> Self {
        let history: Vec<Option<StepHistory>> = if history.is_empty() {
            vec![None; score.steps.len()]
        } else {
            score
                .steps
                .iter()
                .map(|s| history.get(&*s.id).copied().filter(|h| h.runs > 0))
                .collect()
        };
        let estimate_ms = score
            .steps
            .iter()
            .zip(&history)
            .map(|(s, h)| {
                s.estimate_ms
                    .or(h.map(|h| h.p50_ms))
                    .unwrap_or(s.type_estimate_ms)
            })
            .collect();
        // Depth of each step along the longest chain of edges to it; two steps at one depth
        // can play at once.
        let mut depth = vec![0usize; score.steps.len()];
        for &s in &score.topo {
            for e in &score.steps[s].out_edges {
                depth[e.to] = depth[e.to].max(depth[s] + 1);
            }
        }
        let mut width = vec![0u32; score.steps.len()];
        let parallel = depth.iter().any(|&d| {
            width[d] += 1;
            width[d] > 1
        });
        Watch {
            estimate_ms,
            parallel,
            history: history
                .into_iter()
                .map(|h| h.filter(|h| h.runs >= HISTORY_MIN_RUNS))
                .collect(),
            tail_ms: vec![0; score.steps.len()],
            seen: vec![false; score.steps.len()],
        }
    }

    /// The remaining critical path, backwards over the topological order: fills `tail_ms` with
    /// the longest chain of unfinished work that starts at each step, by estimates, and returns
    /// the longest of those that start at a running or ready step. A step not started counts
    /// its whole estimate; a running one what is left of it, but never less than half of what
    /// it has run already (a step past its estimate is not about to end: the longer it has
    /// overrun, the less its estimate says).
    pub(super) fn remaining_path(
        &mut self,
        score: &Score,
        books: &[StepBook],
        now: Instant,
    ) -> u64 {
        let estimate_ms = &self.estimate_ms;
        let remaining = |s: usize| -> u64 {
            let estimate = estimate_ms[s];
            match (books[s].state, books[s].first_start) {
                (State::Running, Some(since)) => {
                    let ran = now.saturating_duration_since(since).as_millis() as u64;
                    estimate.saturating_sub(ran).max(ran / 2)
                }
                _ => estimate,
            }
        };
        let mut longest = 0;
        for &s in score.topo.iter().rev() {
            if matches!(books[s].state, State::Done(_)) {
                self.tail_ms[s] = 0;
                continue;
            }
            let after = score.steps[s]
                .out_edges
                .iter()
                .map(|e| self.tail_ms[e.to])
                .max()
                .unwrap_or(0);
            let tail = remaining(s).saturating_add(after);
            self.tail_ms[s] = tail;
            // Every chain of unfinished work starts at a step that runs or is ready to.
            if matches!(books[s].state, State::Running | State::Ready) {
                longest = longest.max(tail);
            }
        }
        longest
    }
}

/// How many steps not yet started depend on step `s`, directly or further down.
pub(super) fn waiting_on(score: &Score, books: &[StepBook], seen: &mut [bool], s: usize) -> usize {
    seen.fill(false);
    let mut stack = vec![s];
    let mut count = 0;
    while let Some(at) = stack.pop() {
        for edge in &score.steps[at].out_edges {
            if seen[edge.to] || books[edge.to].state != State::Waiting {
                continue;
            }
            seen[edge.to] = true;
            count += 1;
            stack.push(edge.to);
        }
    }
    count
}
