//! The write path: a run's events go into a channel (the host never waits) and a task of the
//! recorder's own writes them in batches, one transaction per batch, deriving the step
//! results, attempts, outputs and cache entries as it goes.

use std::collections::HashMap;

use serde_json::Value;
use sqlx::{Sqlite, Transaction};
use symphony_conductor::{EventRecord, OutputOrigin, RunEvent, StepOutcome};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use crate::{hash_bytes, now_ms, Store, StoreError};

/// The most events written in one transaction.
const BATCH: usize = 2048;

/// Records one run's events. [`Recorder::record`] never blocks; [`Recorder::finish`] waits
/// until everything recorded is written.
pub struct Recorder {
    tx: mpsc::UnboundedSender<EventRecord>,
    task: JoinHandle<Result<(), StoreError>>,
    run_id: String,
}

impl Recorder {
    pub(crate) fn start(store: Store, run_id: String, session: u32, next_seq: i64) -> Recorder {
        let (tx, rx) = mpsc::unbounded_channel();
        let writer = Writer {
            store,
            run_id: run_id.clone(),
            session,
            seq: next_seq,
            outputs: HashMap::new(),
            attempts: HashMap::new(),
        };
        Recorder {
            tx,
            task: tokio::spawn(writer.run(rx)),
            run_id,
        }
    }

    /// The run being recorded.
    pub fn run_id(&self) -> &str {
        &self.run_id
    }

    /// Queues an event for writing.
    pub fn record(&self, record: &EventRecord) {
        let _ = self.tx.send(record.clone());
    }

    /// Waits until every recorded event is written.
    pub async fn finish(self) -> Result<(), StoreError> {
        drop(self.tx);
        match self.task.await {
            Ok(result) => result,
            Err(e) => Err(StoreError::Open {
                path: std::path::PathBuf::new(),
                message: format!("the store's writer stopped: {e}"),
            }),
        }
    }
}

struct Writer {
    store: Store,
    run_id: String,
    session: u32,
    seq: i64,
    /// Content hash of each step's latest outputs, until its success is recorded.
    outputs: HashMap<String, String>,
    /// The latest attempt number of each (step, item).
    attempts: HashMap<(String, i64), u32>,
}

impl Writer {
    async fn run(mut self, mut rx: mpsc::UnboundedReceiver<EventRecord>) -> Result<(), StoreError> {
        let mut batch = Vec::with_capacity(BATCH);
        while let Some(first) = rx.recv().await {
            batch.push(first);
            while batch.len() < BATCH {
                match rx.try_recv() {
                    Ok(r) => batch.push(r),
                    Err(_) => break,
                }
            }
            self.write(&batch).await?;
            batch.clear();
        }
        Ok(())
    }

    async fn write(&mut self, batch: &[EventRecord]) -> Result<(), StoreError> {
        let store = self.store.clone();
        let mut tx = store
            .pool
            .begin()
            .await
            .map_err(|e| store.err("writing events", e))?;
        for record in batch {
            self.write_one(&mut tx, record)
                .await
                .map_err(|e| store.err("writing events", e))?;
        }
        tx.commit()
            .await
            .map_err(|e| store.err("writing events", e))
    }

    async fn write_one(
        &mut self,
        tx: &mut Transaction<'_, Sqlite>,
        record: &EventRecord,
    ) -> Result<(), sqlx::Error> {
        let mut data = serde_json::to_value(record).unwrap_or(Value::Null);
        let kind = data
            .get("type")
            .and_then(Value::as_str)
            .unwrap_or("unknown")
            .to_owned();
        let step = record.event.step().map(|s| s.to_string());
        // Large values are stored once, by content, and referenced from the log.
        match &record.event {
            RunEvent::StepOutput { step, outputs } => {
                let hash =
                    put_output(tx, &serde_json::to_value(&**outputs).unwrap_or_default()).await?;
                data["outputs"] = serde_json::json!({ "$hash": hash });
                self.outputs.insert(step.to_string(), hash);
            }
            RunEvent::StepQueued { inputs, .. } if !inputs.is_empty() => {
                let hash = put_output(tx, &Value::Object((**inputs).clone())).await?;
                data["inputs"] = serde_json::json!({ "$hash": hash });
            }
            _ => {}
        }
        sqlx::query(
            "INSERT INTO events (run_id, seq, session, at_ms, kind, step, data) VALUES (?, ?, ?, ?, ?, ?, ?)",
        )
        .bind(&self.run_id)
        .bind(self.seq)
        .bind(i64::from(self.session))
        .bind(record.at_ms as i64)
        .bind(&kind)
        .bind(&step)
        .bind(data.to_string())
        .execute(&mut **tx)
        .await?;
        self.derive(tx, record).await?;
        self.seq += 1;
        Ok(())
    }

    /// Keeps the step results, attempts and cache in step with the log.
    async fn derive(
        &mut self,
        tx: &mut Transaction<'_, Sqlite>,
        record: &EventRecord,
    ) -> Result<(), sqlx::Error> {
        let at = record.at_ms as i64;
        match &record.event {
            RunEvent::StepStarted {
                step,
                item,
                attempt,
                type_name,
                ..
            } => {
                let item = item.map_or(-1, i64::from);
                self.attempts.insert((step.to_string(), item), *attempt);
                sqlx::query(
                    "INSERT OR REPLACE INTO attempts (run_id, step, item, attempt, session, type_name, started_ms) VALUES (?, ?, ?, ?, ?, ?, ?)",
                )
                .bind(&self.run_id)
                .bind(&**step)
                .bind(item)
                .bind(i64::from(*attempt))
                .bind(i64::from(self.session))
                .bind(&**type_name)
                .bind(at)
                .execute(&mut **tx)
                .await?;
            }
            RunEvent::StepPrompt {
                step,
                item,
                system,
                prompt,
                ..
            } => {
                self.update_attempt(
                    tx,
                    step,
                    *item,
                    "system = ?, prompt = ?",
                    vec![Bind::Text(system.clone()), Bind::Text(Some(prompt.clone()))],
                )
                .await?;
            }
            RunEvent::StepRetrying {
                step, item, error, ..
            }
            | RunEvent::StepFellBack {
                step, item, error, ..
            } => {
                self.update_attempt(
                    tx,
                    step,
                    *item,
                    "error = ?, ended_ms = ?",
                    vec![Bind::Text(Some(error.clone())), Bind::Int(at)],
                )
                .await?;
            }
            RunEvent::StepSucceeded {
                step,
                elapsed_ms,
                attempts,
                usage,
                origin,
                cache_key,
            } => {
                self.update_attempt(tx, step, None, "ended_ms = ?", vec![Bind::Int(at)])
                    .await?;
                let hash = self.outputs.remove(&**step);
                put_result(
                    tx,
                    &self.run_id,
                    step,
                    StepOutcome::Succeeded,
                    Some(*origin),
                    *attempts,
                    *elapsed_ms,
                    hash.as_deref(),
                    cache_key.as_deref(),
                    usage.as_ref().and_then(|u| serde_json::to_string(u).ok()),
                    None,
                    self.seq,
                )
                .await?;
                if let (Some(key), Some(hash), OutputOrigin::Played) = (cache_key, &hash, origin) {
                    sqlx::query(
                        "INSERT OR REPLACE INTO cache (key, output_hash, run_id, created_at) VALUES (?, ?, ?, ?)",
                    )
                    .bind(&**key)
                    .bind(hash)
                    .bind(&self.run_id)
                    .bind(now_ms())
                    .execute(&mut **tx)
                    .await?;
                }
            }
            RunEvent::StepFailed { step, error, .. } => {
                self.update_attempt(
                    tx,
                    step,
                    None,
                    "error = ?, ended_ms = ?",
                    vec![Bind::Text(Some(error.clone())), Bind::Int(at)],
                )
                .await?;
                put_result(
                    tx,
                    &self.run_id,
                    step,
                    StepOutcome::Failed,
                    None,
                    0,
                    0,
                    None,
                    None,
                    None,
                    Some(error),
                    self.seq,
                )
                .await?;
            }
            RunEvent::StepSkipped { step, reason } => {
                put_result(
                    tx,
                    &self.run_id,
                    step,
                    StepOutcome::Skipped,
                    None,
                    0,
                    0,
                    None,
                    None,
                    None,
                    Some(reason),
                    self.seq,
                )
                .await?;
            }
            RunEvent::StepCancelled { step } => {
                put_result(
                    tx,
                    &self.run_id,
                    step,
                    StepOutcome::Cancelled,
                    None,
                    0,
                    0,
                    None,
                    None,
                    None,
                    None,
                    self.seq,
                )
                .await?;
            }
            RunEvent::RunFinished { status, totals } => {
                let status = serde_json::to_value(status)
                    .ok()
                    .and_then(|v| v.as_str().map(str::to_owned))
                    .unwrap_or_default();
                sqlx::query("UPDATE runs SET status = ?, finished_at = ?, totals = ? WHERE id = ?")
                    .bind(status)
                    .bind(now_ms())
                    .bind(serde_json::to_string(totals).ok())
                    .bind(&self.run_id)
                    .execute(&mut **tx)
                    .await?;
            }
            _ => {}
        }
        Ok(())
    }

    /// Sets columns of the latest attempt of a step (or map item).
    async fn update_attempt(
        &self,
        tx: &mut Transaction<'_, Sqlite>,
        step: &str,
        item: Option<u32>,
        set: &str,
        values: Vec<Bind>,
    ) -> Result<(), sqlx::Error> {
        let item = item.map_or(-1, i64::from);
        let Some(&attempt) = self.attempts.get(&(step.to_owned(), item)) else {
            return Ok(());
        };
        let sql = format!(
            "UPDATE attempts SET {set} WHERE run_id = ? AND step = ? AND item = ? AND session = ? AND attempt = ?"
        );
        let mut query = sqlx::query(&sql);
        for v in values {
            query = match v {
                Bind::Text(t) => query.bind(t),
                Bind::Int(i) => query.bind(i),
            };
        }
        query
            .bind(&self.run_id)
            .bind(step)
            .bind(item)
            .bind(i64::from(self.session))
            .bind(i64::from(attempt))
            .execute(&mut **tx)
            .await?;
        Ok(())
    }
}

/// A value bound into an attempt update.
enum Bind {
    Text(Option<String>),
    Int(i64),
}

/// Stores a value once, by the SHA-256 of its compact JSON; returns the hash.
async fn put_output(
    tx: &mut Transaction<'_, Sqlite>,
    value: &Value,
) -> Result<String, sqlx::Error> {
    let text = value.to_string();
    let hash = hash_bytes(text.as_bytes());
    sqlx::query("INSERT OR IGNORE INTO outputs (hash, content) VALUES (?, ?)")
        .bind(&hash)
        .bind(text)
        .execute(&mut **tx)
        .await?;
    Ok(hash)
}

#[allow(clippy::too_many_arguments)]
async fn put_result(
    tx: &mut Transaction<'_, Sqlite>,
    run_id: &str,
    step: &str,
    outcome: StepOutcome,
    origin: Option<OutputOrigin>,
    attempts: u32,
    elapsed_ms: u64,
    output_hash: Option<&str>,
    cache_key: Option<&str>,
    usage: Option<String>,
    note: Option<&str>,
    seq: i64,
) -> Result<(), sqlx::Error> {
    let name = |v: Value| v.as_str().map(str::to_owned);
    sqlx::query(
        "INSERT OR REPLACE INTO step_results (run_id, step, outcome, origin, attempts, elapsed_ms, output_hash, cache_key, usage, note, seq)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
    )
    .bind(run_id)
    .bind(step)
    .bind(serde_json::to_value(outcome).ok().and_then(name))
    .bind(origin.and_then(|o| serde_json::to_value(o).ok()).and_then(name))
    .bind(i64::from(attempts))
    .bind(elapsed_ms as i64)
    .bind(output_hash)
    .bind(cache_key)
    .bind(usage)
    .bind(note)
    .bind(seq)
    .execute(&mut **tx)
    .await?;
    Ok(())
}
