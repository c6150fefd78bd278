//! What a new run starts from besides its melody: a past run's melody, inputs and finished
//! outputs (for a fork), the outputs steps are pinned to, and the retention setting.

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde_json::{Map, Value};
use symphony_conductor::Outputs;

use crate::db::{on_pool, Dialect};
use crate::{now_ms, Store, StoreError};

/// How many runs are kept when the user has not said: enough history to compare and fork,
/// and a bound, so the store never grows without limit unnoticed.
pub const DEFAULT_KEEP_RUNS: u32 = 1000;

/// A stored run, as a fork or a resume starts from it.
#[derive(Debug, Clone)]
pub struct RunSource {
    /// The melody as it was run (canonical bytes).
    pub melody_bytes: Vec<u8>,
    /// The melody's id.
    pub melody_id: String,
    /// Its run inputs, defaults filled in.
    pub inputs: Map<String, Value>,
    /// How it was started (seed, maxParallel, fresh, freshSteps, given).
    pub options: Value,
    /// Its workspace folder.
    pub workspace: Option<PathBuf>,
    /// `running`, `succeeded`, `failed` or `cancelled`.
    pub status: String,
    /// The outputs of every step that succeeded.
    pub finished: BTreeMap<String, Outputs>,
}

/// A step pinned to an output.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Pin {
    /// The step.
    pub step: String,
    /// The output's content hash.
    pub output_hash: String,
    /// The run it was taken from.
    pub run_id: Option<String>,
    /// When it was pinned (ms since the Unix epoch).
    pub created_at: i64,
}

impl Store {
    /// A stored run's melody, inputs and finished outputs.
    pub async fn source(&self, id: &str) -> Result<RunSource, StoreError> {
        let row: Option<(String, String, String, Option<String>, String, String)> =
            on_pool!(&self.pool, |p| sqlx::query_as(&p.sql(
                "SELECT r.status, r.inputs, r.options, r.workspace, r.melody_hash, r.melody_id FROM runs r WHERE r.id = ?",
            ))
            .bind(id)
            .fetch_optional(p)
            .await)
            .map_err(|e| self.err("reading the run", e))?;
        let Some((status, inputs, options, workspace, melody_hash, melody_id)) = row else {
            return Err(StoreError::UnknownRun(id.to_owned()));
        };
        let (melody_bytes,): (Vec<u8>,) = on_pool!(&self.pool, |p| sqlx::query_as(
            &p.sql("SELECT content FROM melodies WHERE hash = ?")
        )
        .bind(&melody_hash)
        .fetch_one(p)
        .await)
        .map_err(|e| self.err("reading the melody", e))?;
        let rows: Vec<(String, String)> = on_pool!(&self.pool, |p| {
            sqlx::query_as(&p.sql(
            "SELECT s.step, o.content FROM step_results s JOIN outputs o ON o.hash = s.output_hash
             WHERE s.run_id = ? AND s.outcome = 'succeeded'",
        ))
        .bind(id)
        .fetch_all(p)
        .await
        })
        .map_err(|e| self.err("reading finished steps", e))?;
        Ok(RunSource {
            melody_bytes,
            melody_id,
            inputs: match serde_json::from_str(&inputs) {
                Ok(Value::Object(m)) => m,
                _ => Map::new(),
            },
            options: serde_json::from_str(&options).unwrap_or(Value::Null),
            workspace: workspace.map(PathBuf::from),
            status,
            finished: outputs_by_step(rows),
        })
    }

    /// Stores `outputs` once (by content) and returns their hash: an edited output a fork
    /// starts from, or a chosen output to pin.
    pub async fn put_outputs(&self, outputs: &Outputs) -> Result<String, StoreError> {
        let text = Value::Object(outputs.0.clone()).to_string();
        let hash = crate::hash_bytes(text.as_bytes());
        on_pool!(&self.pool, |p| sqlx::query(&p.sql(
            "INSERT INTO outputs (hash, content) VALUES (?, ?) ON CONFLICT (hash) DO NOTHING"
        ))
        .bind(&hash)
        .bind(text)
        .execute(p)
        .await
        .map(|r| r.rows_affected()))
        .map_err(|e| self.err("storing an output", e))?;
        Ok(hash)
    }

    /// Pins `step` of melody `melody_id` to the output it had in run `run_id`. Fails if the
    /// step did not succeed in that run.
    pub async fn pin_from_run(&self, run_id: &str, step: &str) -> Result<Pin, StoreError> {
        // The step's columns are NULL when it has no result in the run (the LEFT JOIN).
        let row: Option<(String, Option<String>, Option<String>)> =
            on_pool!(&self.pool, |p| sqlx::query_as(&p.sql(
                "SELECT r.melody_id, s.output_hash, s.outcome FROM runs r
             LEFT JOIN step_results s ON s.run_id = r.id AND s.step = ?
             WHERE r.id = ?",
            ))
            .bind(step)
            .bind(run_id)
            .fetch_optional(p)
            .await)
            .map_err(|e| self.err("reading the step to pin", e))?;
        let Some((melody_id, hash, _)) = row else {
            return Err(StoreError::UnknownRun(run_id.to_owned()));
        };
        let Some(hash) = hash else {
            return Err(StoreError::NoOutput {
                run: run_id.to_owned(),
                step: step.to_owned(),
            });
        };
        self.pin(&melody_id, step, &hash, Some(run_id)).await
    }

    /// Pins `step` of melody `melody_id` to stored output `output_hash`.
    pub async fn pin(
        &self,
        melody_id: &str,
        step: &str,
        output_hash: &str,
        run_id: Option<&str>,
    ) -> Result<Pin, StoreError> {
        let created_at = now_ms();
        on_pool!(&self.pool, |p| sqlx::query(&p.sql(
            "INSERT INTO pins (melody_id, step, output_hash, run_id, created_at) VALUES (?, ?, ?, ?, ?)
             ON CONFLICT (melody_id, step) DO UPDATE SET output_hash = excluded.output_hash, run_id = excluded.run_id, created_at = excluded.created_at",
        ))
        .bind(melody_id)
        .bind(step)
        .bind(output_hash)
        .bind(run_id)
        .bind(created_at)
        .execute(p)
        .await
        .map(|r| r.rows_affected()))
        .map_err(|e| self.err("pinning a step", e))?;
        Ok(Pin {
            step: step.to_owned(),
            output_hash: output_hash.to_owned(),
            run_id: run_id.map(str::to_owned),
            created_at,
        })
    }

    /// Unpins a step; says whether it was pinned.
    pub async fn unpin(&self, melody_id: &str, step: &str) -> Result<bool, StoreError> {
        let done = on_pool!(&self.pool, |p| sqlx::query(
            &p.sql("DELETE FROM pins WHERE melody_id = ? AND step = ?")
        )
        .bind(melody_id)
        .bind(step)
        .execute(p)
        .await
        .map(|r| r.rows_affected()))
        .map_err(|e| self.err("unpinning a step", e))?;
        Ok(done > 0)
    }

    /// The pins of a melody, by step.
    pub async fn pins(&self, melody_id: &str) -> Result<Vec<Pin>, StoreError> {
        let rows: Vec<(String, String, Option<String>, i64)> = on_pool!(&self.pool, |p| sqlx::query_as(&p.sql(
            "SELECT step, output_hash, run_id, created_at FROM pins WHERE melody_id = ? ORDER BY step",
        ))
        .bind(melody_id)
        .fetch_all(p)
        .await)
        .map_err(|e| self.err("reading pins", e))?;
        Ok(rows
            .into_iter()
            .map(|(step, output_hash, run_id, created_at)| Pin {
                step,
                output_hash,
                run_id,
                created_at,
            })
            .collect())
    }

    /// For each pinned step of a melody whose output a play made (not itself given), the cache
    /// key of that play: the conductor tells a stale pin by it (`RunOptions::given_made_from`).
    pub async fn pins_made_from(
        &self,
        melody_id: &str,
    ) -> Result<BTreeMap<String, String>, StoreError> {
        let rows: Vec<(String, String)> = on_pool!(&self.pool, |p| sqlx::query_as(&p.sql(
            "SELECT p.step, s.cache_key FROM pins p
             JOIN step_results s ON s.run_id = p.run_id AND s.step = p.step
             WHERE p.melody_id = ? AND s.cache_key IS NOT NULL",
        ))
        .bind(melody_id)
        .fetch_all(p)
        .await)
        .map_err(|e| self.err("reading pins", e))?;
        Ok(rows.into_iter().collect())
    }

    /// The pinned outputs of a melody, by step: what a run gives those steps.
    pub async fn pinned_outputs(
        &self,
        melody_id: &str,
    ) -> Result<BTreeMap<String, Outputs>, StoreError> {
        let rows: Vec<(String, String)> = on_pool!(&self.pool, |p| sqlx::query_as(&p.sql(
            "SELECT p.step, o.content FROM pins p JOIN outputs o ON o.hash = p.output_hash WHERE p.melody_id = ?",
        ))
        .bind(melody_id)
        .fetch_all(p)
        .await)
        .map_err(|e| self.err("reading pins", e))?;
        Ok(outputs_by_step(rows))
    }

    /// How many runs the store keeps (the newest; running ones are never removed).
    pub async fn keep_runs(&self) -> Result<u32, StoreError> {
        let row: Option<(String,)> = on_pool!(&self.pool, |p| sqlx::query_as(
            &p.sql("SELECT value FROM settings WHERE key = 'keep_runs'")
        )
        .fetch_optional(p)
        .await)
        .map_err(|e| self.err("reading the retention setting", e))?;
        Ok(row
            .and_then(|(v,)| v.parse().ok())
            .unwrap_or(DEFAULT_KEEP_RUNS))
    }

    /// Sets how many runs the store keeps.
    pub async fn set_keep_runs(&self, keep: u32) -> Result<(), StoreError> {
        on_pool!(&self.pool, |p| sqlx::query(&p.sql(
            "INSERT INTO settings (key, value) VALUES ('keep_runs', ?)
             ON CONFLICT (key) DO UPDATE SET value = excluded.value"
        ))
        .bind(keep.to_string())
        .execute(p)
        .await
        .map(|r| r.rows_affected()))
        .map_err(|e| self.err("setting the retention", e))?;
        Ok(())
    }
}

/// (step, stored outputs JSON) rows as outputs by step; a row that is not a JSON object (which
/// the store never writes) is left out.
fn outputs_by_step(rows: Vec<(String, String)>) -> BTreeMap<String, Outputs> {
    rows.into_iter()
        .filter_map(|(step, content)| match serde_json::from_str(&content) {
            Ok(Value::Object(map)) => Some((step, Outputs(map))),
            _ => None,
        })
        .collect()
}
