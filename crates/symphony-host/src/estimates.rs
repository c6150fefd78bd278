//! How long each step of a melody took in its past plays: the p50 and p95 of its latest plays,
//! given to the conductor as [`RunOptions::history`](symphony_conductor::RunOptions), which warns
//! when a step runs far longer than its own past and estimates the critical path with it.

use std::collections::BTreeMap;

use symphony_conductor::StepHistory;
use symphony_store::Store;

use crate::error::HostError;
use crate::Host;

/// How many of a step's latest plays its figures come from.
pub const PLAYS: u32 = 20;

/// The steps' histories for a new run of `melody_id`, from its latest [`PLAYS`] plays each
/// (cached and given outputs are not plays). Advisory: a store that cannot be read gives no
/// history, and the run starts anyway.
pub async fn step_history(store: &Store, melody_id: &str) -> BTreeMap<String, StepHistory> {
    match store.step_durations(melody_id, PLAYS).await {
        Ok(durations) => durations
            .into_iter()
            .filter_map(|(step, ms)| summarize(ms).map(|h| (step, h)))
            .collect(),
        Err(e) => {
            tracing::warn!("the steps' past durations could not be read: {e}");
            BTreeMap::new()
        }
    }
}

impl Host {
    /// What a new run of `melody_id` is given as its steps' history (see [`step_history`]).
    pub async fn step_history(
        &self,
        melody_id: &str,
    ) -> Result<BTreeMap<String, StepHistory>, HostError> {
        Ok(step_history(&self.store().await?, melody_id).await)
    }
}

/// The p50 and p95 of some durations; `None` for none.
pub fn summarize(mut ms: Vec<u64>) -> Option<StepHistory> {
    ms.sort_unstable();
    Some(StepHistory {
        runs: u32::try_from(ms.len()).unwrap_or(u32::MAX),
        p50_ms: percentile(&ms, 50)?,
        p95_ms: percentile(&ms, 95)?,
    })
}

/// The `p`th percentile of sorted values by the nearest-rank method: the smallest value with
/// at least `p`% of the values at or below it (so always one of the values). `None` when there
/// are none; `p` is clamped to 1..=100.
pub fn percentile(sorted: &[u64], p: u32) -> Option<u64> {
    if sorted.is_empty() {
        return None;
    }
    let p = u64::from(p.clamp(1, 100));
    let n = sorted.len() as u64;
    // ceil(p / 100 × n), at least 1.
    let rank = (p * n).div_ceil(100).max(1);
    sorted.get((rank - 1) as usize).copied()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nearest_rank_percentiles() {
        assert_eq!(percentile(&[], 50), None);
        assert_eq!(percentile(&[7], 50), Some(7));
        assert_eq!(percentile(&[7], 95), Some(7));
        // The textbook example: 15, 20, 35, 40, 50.
        let v = [15, 20, 35, 40, 50];
        assert_eq!(percentile(&v, 5), Some(15));
        assert_eq!(percentile(&v, 30), Some(20));
        assert_eq!(percentile(&v, 40), Some(20));
        assert_eq!(percentile(&v, 50), Some(35));
        assert_eq!(percentile(&v, 100), Some(50));
        // Two values: the median is the lower, p95 the higher.
        assert_eq!(percentile(&[10, 90], 50), Some(10));
        assert_eq!(percentile(&[10, 90], 95), Some(90));
        // Twenty values 1..=20: p50 is the 10th, p95 the 19th.
        let twenty: Vec<u64> = (1..=20).collect();
        assert_eq!(percentile(&twenty, 50), Some(10));
        assert_eq!(percentile(&twenty, 95), Some(19));
        assert_eq!(percentile(&twenty, 0), Some(1), "clamped to the first");
    }

    #[test]
    fn histories_come_from_unsorted_durations() {
        assert_eq!(summarize(vec![]), None);
        assert_eq!(
            summarize(vec![300, 100, 200]),
            Some(StepHistory {
                runs: 3,
                p50_ms: 200,
                p95_ms: 300
            })
        );
    }
}
