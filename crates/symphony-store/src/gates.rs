//! Gates (`cue.gate`) that asked a person, and their answers: the durable half of a gate's
//! wait. The writer keeps the `gates` table in step with a run's `gateWaiting` and
//! `gateAnswered` events; [`Store::answer_gate`] takes a person's answer from any process (the
//! app, `symphony serve`, `symphony runs approve`), while the run plays or while it is stopped.
//! The first answer wins. The process playing the run polls [`Store::pending_answers`] and hands
//! them to its conductor; a resumed run takes them as it starts ([`Resumable::gates`]).
//!
//! [`Resumable::gates`]: crate::Resumable::gates

use std::collections::BTreeMap;

use serde::Serialize;
use serde_json::Value;
use symphony_conductor::{Decision, GateAnswer, GateResume};

use crate::db::{on_pool, Dialect};
use crate::{now_ms, Store, StoreError};

/// A gate of a run, as the store keeps it.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct GateRecord {
    /// The gate step.
    pub step: String,
    /// Its question.
    pub title: String,
    /// When it first asked, ms since the epoch.
    pub asked_at: i64,
    /// How long it waits in all; `None` waits until it is answered.
    pub timeout_ms: Option<u64>,
    /// The answer, once there is one.
    pub answer: Option<GateAnswer>,
    /// When it was answered, ms since the epoch.
    pub answered_at: Option<i64>,
    /// Whether the run took the answer (its `gateAnswered` event is in the log).
    pub applied: bool,
}

/// step, title, asked_at, timeout_ms, decision, reason, value, answered_by, answered_at, applied.
type GateRow = (
    String,
    String,
    i64,
    Option<i64>,
    Option<String>,
    Option<String>,
    Option<String>,
    Option<String>,
    Option<i64>,
    i64,
);

fn record(row: GateRow) -> GateRecord {
    let (step, title, asked_at, timeout_ms, decision, reason, value, by, answered_at, applied) =
        row;
    let decision = match decision.as_deref() {
        Some("approve") => Some(Decision::Approve),
        Some("reject") => Some(Decision::Reject),
        _ => None,
    };
    GateRecord {
        step,
        title,
        asked_at,
        timeout_ms: timeout_ms.map(|t| t.max(0) as u64),
        answer: decision.map(|decision| GateAnswer {
            decision,
            reason,
            value: value.and_then(|v| serde_json::from_str::<Value>(&v).ok()),
            by: by.unwrap_or_default(),
        }),
        answered_at,
        applied: applied != 0,
    }
}

/// `approve` or `reject`, as the table keeps a decision.
pub(crate) fn decision_word(d: Decision) -> &'static str {
    match d {
        Decision::Approve => "approve",
        Decision::Reject => "reject",
    }
}

impl Store {
    /// Every gate run `run_id` asked, in the order they asked.
    pub async fn gates(&self, run_id: &str) -> Result<Vec<GateRecord>, StoreError> {
        let rows: Vec<GateRow> = on_pool!(&self.pool, |p| sqlx::query_as(&p.sql(
            "SELECT step, title, asked_at, timeout_ms, decision, reason, value, answered_by, answered_at, applied
             FROM gates WHERE run_id = ? ORDER BY asked_at, step"
        ))
        .bind(run_id)
        .fetch_all(p)
        .await)
        .map_err(|e| self.err("reading a run's gates", e))?;
        Ok(rows.into_iter().map(record).collect())
    }

    /// Records a person's answer to gate `step` of run `run_id`. The first answer wins: a gate
    /// already answered, or one that is not waiting, is refused with what is known of it. The
    /// process playing the run hands the answer to its conductor (see
    /// [`Store::pending_answers`]); a stopped run takes it when it is resumed.
    pub async fn answer_gate(
        &self,
        run_id: &str,
        step: &str,
        answer: &GateAnswer,
    ) -> Result<(), StoreError> {
        let value = answer.value.as_ref().map(Value::to_string);
        let now = now_ms();
        let done = on_pool!(&self.pool, |p| {
            sqlx::query(&p.sql(
            "UPDATE gates SET decision = ?, reason = ?, value = ?, answered_by = ?, answered_at = ?
             WHERE run_id = ? AND step = ? AND decision IS NULL"
        ))
        .bind(decision_word(answer.decision))
        .bind(&answer.reason)
        .bind(&value)
        .bind(&answer.by)
        .bind(now)
        .bind(run_id)
        .bind(step)
        .execute(p)
        .await
        .map(|r| r.rows_affected())
        })
        .map_err(|e| self.err("recording a gate's answer", e))?;
        if done == 1 {
            return Ok(());
        }
        // Say why: no such run, no such gate, or answered already.
        self.listing(run_id).await?;
        let gates = self.gates(run_id).await?;
        let why = match gates.iter().find(|g| g.step == step) {
            Some(GateRecord {
                answer: Some(a), ..
            }) => format!(
                "it was {} already, by {}{}",
                a.decision.past(),
                a.by,
                a.reason
                    .as_deref()
                    .map(|r| format!(" ({r})"))
                    .unwrap_or_default()
            ),
            _ => {
                let waiting: Vec<&str> = gates
                    .iter()
                    .filter(|g| g.answer.is_none())
                    .map(|g| g.step.as_str())
                    .collect();
                if waiting.is_empty() {
                    "it is not waiting for an answer, and no gate of this run is".to_owned()
                } else {
                    format!(
                        "it is not waiting for an answer; the run waits at {}",
                        waiting
                            .iter()
                            .map(|s| format!("`{s}`"))
                            .collect::<Vec<_>>()
                            .join(", ")
                    )
                }
            }
        };
        Err(StoreError::NotAnswerable {
            run: run_id.to_owned(),
            step: step.to_owned(),
            why,
        })
    }

    /// Answers given to run `run_id`'s gates that the run has not taken yet, by step.
    pub async fn pending_answers(
        &self,
        run_id: &str,
    ) -> Result<BTreeMap<String, GateAnswer>, StoreError> {
        Ok(self
            .gates(run_id)
            .await?
            .into_iter()
            .filter(|g| !g.applied)
            .filter_map(|g| g.answer.map(|a| (g.step, a)))
            .collect())
    }

    /// What a resumed run's unfinished gates take with them: an answer given while it was
    /// stopped, or how long the gate has waited so far (its timeout counts on from there). A
    /// gate whose answer the run already took, and whose step did not finish (a rejection that
    /// failed the branch), asks again: its row is forgotten.
    pub(crate) async fn resumed_gates(
        &self,
        run_id: &str,
        finished: &impl Fn(&str) -> bool,
    ) -> Result<BTreeMap<String, GateResume>, StoreError> {
        let now = now_ms();
        let mut resumed = BTreeMap::new();
        for gate in self.gates(run_id).await? {
            if finished(&gate.step) {
                continue;
            }
            if gate.applied {
                on_pool!(&self.pool, |p| sqlx::query(
                    &p.sql("DELETE FROM gates WHERE run_id = ? AND step = ?")
                )
                .bind(run_id)
                .bind(&gate.step)
                .execute(p)
                .await
                .map(drop))
                .map_err(|e| self.err("reopening a gate", e))?;
                continue;
            }
            resumed.insert(
                gate.step,
                GateResume {
                    answer: gate.answer,
                    waited_ms: (now - gate.asked_at).max(0) as u64,
                },
            );
        }
        Ok(resumed)
    }
}
