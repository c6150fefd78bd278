//! Whole-run views: the self-contained export, the step-by-step comparison of two runs, and
//! pruning old runs.

use serde::Serialize;
use serde_json::{json, Map, Value};

use crate::db::{on_pool, Dialect, Pool};
use crate::{Store, StoreError};

/// item, attempt, session, type, started, ended, system, prompt, error.
type AttemptRow = (
    i64,
    i64,
    i64,
    String,
    i64,
    Option<i64>,
    Option<String>,
    Option<String>,
    Option<String>,
);

/// How two runs differ at one step.
#[derive(Debug, Clone, Serialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct StepDiff {
    /// The step.
    pub step: String,
    /// Its outcome in each run (`-` when it is not in that run).
    pub outcome: (String, String),
    /// Whether its outputs are identical.
    pub same_output: bool,
    /// Whether it had the same cache key (type, config and inputs), when both have one.
    pub same_key: Option<bool>,
    /// Elapsed time in each run.
    pub elapsed_ms: (i64, i64),
    /// Cost in each run, when known.
    pub cost_usd: (Option<f64>, Option<f64>),
}

/// What pruning removed.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct Pruned {
    /// Runs removed.
    pub runs: u64,
    /// Stored outputs no run or cache entry used any more, removed.
    pub outputs: u64,
    /// The store's size before and after, in bytes.
    pub bytes: (u64, u64),
}

impl Store {
    /// One self-contained JSON trace of a run: the melody, inputs, options, totals, and every
    /// step with its outputs, attempts (prompts included) and the event log. Credentials never
    /// reach the store, so none are here.
    pub async fn export(&self, id: &str) -> Result<Value, StoreError> {
        let detail = self.run(id).await?;
        let melody_bytes = self.melody_of(id).await?;
        let melody: Value = serde_json::from_slice(&melody_bytes).unwrap_or(Value::Null);
        let mut steps = Vec::new();
        for s in &detail.steps {
            let outputs = match &s.output_hash {
                Some(h) => self.output(h).await?,
                None => None,
            };
            let attempts: Vec<AttemptRow> = on_pool!(&self.pool, |p| sqlx::query_as(&p.sql(
                "SELECT item, attempt, session, type_name, started_ms, ended_ms, system, prompt, error
                 FROM attempts WHERE run_id = ? AND step = ? ORDER BY session, item, attempt",
            ))
            .bind(id)
            .bind(&s.step)
            .fetch_all(p)
            .await)
            .map_err(|e| self.err("reading attempts", e))?;
            let attempts: Vec<Value> = attempts
                .into_iter()
                .map(|a| {
                    json!({
                        "item": (a.0 >= 0).then_some(a.0),
                        "attempt": a.1, "session": a.2, "type": a.3,
                        "startedMs": a.4, "endedMs": a.5,
                        "system": a.6, "prompt": a.7, "error": a.8,
                    })
                })
                .collect();
            steps.push(json!({
                "id": s.step,
                "outcome": s.outcome,
                "origin": s.origin,
                "attempts": attempts,
                "elapsedMs": s.elapsed_ms,
                "usage": s.usage.as_deref().and_then(|u| serde_json::from_str::<Value>(u).ok()),
                "note": s.note,
                "cacheKey": s.cache_key,
                "outputs": outputs,
            }));
        }
        let stored = self.events(id).await?;
        let mut events: Vec<Value> = stored
            .iter()
            .map(|e| serde_json::from_str(&e.data).unwrap_or(Value::Null))
            .collect();
        // Put stored values back in place, so the trace stands alone.
        self.restore(&mut events).await?;
        for (data, e) in events.iter_mut().zip(&stored) {
            data["session"] = json!(e.session);
        }
        Ok(json!({
            "symphonyTrace": 1,
            "run": detail.summary,
            "forkStep": detail.fork_step,
            "inputs": detail.inputs,
            "options": detail.options,
            "totals": detail.totals,
            "sessions": detail.sessions,
            "melody": melody,
            "steps": steps,
            "events": events,
        }))
    }

    /// Compares two runs step by step, in the order of the first.
    pub async fn diff(&self, a: &str, b: &str) -> Result<Vec<StepDiff>, StoreError> {
        let (ra, rb) = (self.run(a).await?, self.run(b).await?);
        let mut order: Vec<&str> = ra.steps.iter().map(|s| s.step.as_str()).collect();
        for s in &rb.steps {
            if !order.contains(&s.step.as_str()) {
                order.push(&s.step);
            }
        }
        let cost = |u: &Option<String>| {
            u.as_deref()
                .and_then(|u| serde_json::from_str::<Map<String, Value>>(u).ok())
                .and_then(|m| m.get("costUsd").and_then(Value::as_f64))
        };
        Ok(order
            .into_iter()
            .map(|id| {
                let x = ra.steps.iter().find(|s| s.step == id);
                let y = rb.steps.iter().find(|s| s.step == id);
                let outcome =
                    |s: Option<&crate::StepRow>| s.map_or("-".to_owned(), |s| s.outcome.clone());
                StepDiff {
                    step: id.to_owned(),
                    outcome: (outcome(x), outcome(y)),
                    same_output: x.and_then(|s| s.output_hash.as_ref())
                        == y.and_then(|s| s.output_hash.as_ref()),
                    same_key: match (
                        x.and_then(|s| s.cache_key.as_ref()),
                        y.and_then(|s| s.cache_key.as_ref()),
                    ) {
                        (Some(p), Some(q)) => Some(p == q),
                        _ => None,
                    },
                    elapsed_ms: (x.map_or(0, |s| s.elapsed_ms), y.map_or(0, |s| s.elapsed_ms)),
                    cost_usd: (
                        x.and_then(|s| cost(&s.usage)),
                        y.and_then(|s| cost(&s.usage)),
                    ),
                }
            })
            .collect())
    }

    /// Removes every run beyond the newest `keep` (running runs are kept), then the stored
    /// outputs nothing refers to any more, and gives the space back (SQLite; on Postgres the
    /// server's autovacuum makes the space reusable, and the store never takes the exclusive
    /// lock `VACUUM FULL` would need on a database others share).
    pub async fn prune(&self, keep: u32) -> Result<Pruned, StoreError> {
        let before = self.size_bytes().await;
        let runs = on_pool!(&self.pool, |p| sqlx::query(&p.sql(
            "DELETE FROM runs WHERE status <> 'running' AND id NOT IN
               (SELECT id FROM runs ORDER BY started_at DESC, id DESC LIMIT ?)",
        ))
        .bind(i64::from(keep))
        .execute(p)
        .await
        .map(|r| r.rows_affected()))
        .map_err(|e| self.err("pruning runs", e))?;
        if runs == 0 {
            return Ok(Pruned {
                runs,
                outputs: 0,
                bytes: (before, before),
            });
        }
        let outputs = on_pool!(&self.pool, |p| {
            sqlx::query(
                "DELETE FROM cache WHERE run_id IS NOT NULL AND run_id NOT IN (SELECT id FROM runs)",
            )
            .execute(p)
            .await
            .map_err(|e| self.err("pruning the cache", e))?;
            // Outputs the log refers to by `{"$hash": …}` are still in use.
            let logged = p.json_text("data", "outputs", "$hash");
            let queued = p.json_text("data", "inputs", "$hash");
            let outputs = sqlx::query(&format!(
                "DELETE FROM outputs WHERE hash NOT IN (SELECT output_hash FROM step_results WHERE output_hash IS NOT NULL)
                   AND hash NOT IN (SELECT output_hash FROM cache)
                   AND hash NOT IN (SELECT output_hash FROM pins)
                   AND hash NOT IN (SELECT {logged} FROM events WHERE kind = 'stepOutput' AND {logged} IS NOT NULL)
                   AND hash NOT IN (SELECT {queued} FROM events WHERE kind = 'stepQueued' AND {queued} IS NOT NULL)",
            ))
            .execute(p)
            .await
            .map_err(|e| self.err("pruning outputs", e))?
            .rows_affected();
            sqlx::query("DELETE FROM melodies WHERE hash NOT IN (SELECT melody_hash FROM runs)")
                .execute(p)
                .await
                .map_err(|e| self.err("pruning melodies", e))?;
            outputs
        });
        if let Pool::Sqlite(p) = &self.pool {
            for statement in ["PRAGMA wal_checkpoint(TRUNCATE)", "VACUUM"] {
                sqlx::query(statement)
                    .execute(p)
                    .await
                    .map_err(|e| self.err("compacting", e))?;
            }
        }
        Ok(Pruned {
            runs,
            outputs,
            bytes: (before, self.size_bytes().await),
        })
    }

    /// Prunes to the retention setting ([`Store::keep_runs`]): what a host does after each
    /// run, so the store never grows without bound. Cheap when there is nothing to remove.
    pub async fn apply_retention(&self) -> Result<Pruned, StoreError> {
        let keep = self.keep_runs().await?;
        self.prune(keep).await
    }
}
