//! The write path: a run's events go into a channel (the host never waits) and a task of the
//! recorder's own writes them in batches, one transaction per batch, deriving the step
//! results, attempts, outputs and cache entries as it goes.

use std::collections::{BTreeMap, HashMap};

use serde_json::Value;
use sqlx::QueryBuilder;
use symphony_conductor::{EventRecord, OutputOrigin, RunEvent, StepOutcome};
use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;

use crate::db::{on_pool, Dialect};
use crate::players::BEAT;
use crate::{hash_bytes, now_ms, Store, StoreError};

/// The most events written in one transaction.
const BATCH: usize = 2048;

/// Records one run's events. [`Recorder::record`] never blocks; [`Recorder::finish`] waits
/// until everything recorded is written.
pub struct Recorder {
    tx: mpsc::UnboundedSender<EventRecord>,
    task: JoinHandle<Result<(), StoreError>>,
    run_id: String,
    failure: watch::Receiver<Option<String>>,
    /// The store's file or (password-free) URL, for messages.
    path: std::path::PathBuf,
}

impl Recorder {
    pub(crate) fn start(store: Store, run_id: String, session: u32, next_seq: i64) -> Recorder {
        let (tx, rx) = mpsc::unbounded_channel();
        let (fail, failure) = watch::channel(None);
        let path = store.path().to_owned();
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
            task: tokio::spawn(async move {
                let result = writer.run(rx).await;
                if let Err(e) = &result {
                    let _ = fail.send(Some(e.to_string()));
                }
                result
            }),
            run_id,
            failure,
            path,
        }
    }

    /// The run being recorded.
    pub fn run_id(&self) -> &str {
        &self.run_id
    }

    /// Changes to `Some(why)` when the store stopped writing (the disk is full, the file was
    /// damaged): a host stops the run then, since nothing more of it would be kept. What was
    /// written before stays.
    pub fn failure(&self) -> watch::Receiver<Option<String>> {
        self.failure.clone()
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
                path: self.path,
                message: format!(
                    "its writer stopped before writing all of run {}: {e}",
                    self.run_id
                ),
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
    /// The latest attempt of each (step, item), as its row will be written.
    attempts: HashMap<(String, i64), AttemptRow>,
}

/// Rows of one batch, written with a handful of multi-row statements in one transaction:
/// sqlx hands each statement to SQLite's thread (or sends it to the Postgres server), so a
/// statement per event would cost more than the work itself.
#[derive(Default)]
struct Batch {
    events: Vec<EventRow>,
    /// Outputs by content hash (each stored once).
    outputs: HashMap<String, String>,
    /// Attempts changed in this batch, by (step, item); the latest state wins.
    attempts: HashMap<(String, i64), AttemptRow>,
    /// Step results set in this batch, by step; the latest wins.
    results: HashMap<String, ResultRow>,
    /// Cache entries: key → output hash.
    cache: Vec<(String, String)>,
    /// Files written: (path, step, bytes, sha256, seq); the latest write of a path wins.
    files: Vec<(String, String, u64, String, i64)>,
    /// Gates that asked or were answered, in the log's order.
    gates: Vec<GateChange>,
    /// The run's end: status and totals.
    finished: Option<(String, Option<String>)>,
    /// Say the run's player is still there (see `players`).
    beat: bool,
}

/// A change to the `gates` table (see `gates.rs`).
enum GateChange {
    /// A gate asked: its row is made the first time (a resumed session asking again keeps it).
    Asked {
        step: String,
        title: String,
        timeout_ms: Option<i64>,
    },
    /// The run took an answer: the row says so (a person's answer recorded before keeps its time).
    Answered {
        step: String,
        decision: &'static str,
        reason: Option<String>,
        value: Option<String>,
        by: String,
    },
}

struct EventRow {
    seq: i64,
    at_ms: i64,
    kind: String,
    step: Option<String>,
    data: String,
}

#[derive(Clone)]
struct AttemptRow {
    attempt: u32,
    type_name: String,
    started_ms: i64,
    ended_ms: Option<i64>,
    system: Option<String>,
    prompt: Option<String>,
    error: Option<String>,
}

struct ResultRow {
    outcome: StepOutcome,
    origin: Option<OutputOrigin>,
    attempts: u32,
    elapsed_ms: u64,
    output_hash: Option<String>,
    cache_key: Option<String>,
    usage: Option<String>,
    note: Option<String>,
    seq: i64,
}

/// Rows per multi-row statement: well under SQLite's limit of 32,766 bound values and
/// Postgres's of 65,535.
const ROWS_PER_STATEMENT: usize = 512;

impl Writer {
    async fn run(mut self, mut rx: mpsc::UnboundedReceiver<EventRecord>) -> Result<(), StoreError> {
        let mut records = Vec::with_capacity(BATCH);
        // The run's player beats while the run plays, with a batch or, when the run is quiet
        // (a long model call), on its own: see `players`.
        let mut last_beat = tokio::time::Instant::now();
        loop {
            let first = match tokio::time::timeout_at(last_beat + BEAT, rx.recv()).await {
                Ok(Some(first)) => first,
                Ok(None) => break,
                Err(_) => {
                    last_beat = tokio::time::Instant::now();
                    if let Err(e) = beat(&self.store, &self.run_id).await {
                        // A missed beat only makes the run look interrupted sooner; the next
                        // batch says whether the store still takes writes.
                        tracing::warn!(run = %self.run_id, "the run's heartbeat was not written: {e}");
                    }
                    continue;
                }
            };
            records.push(first);
            while records.len() < BATCH {
                match rx.try_recv() {
                    Ok(r) => records.push(r),
                    Err(_) => break,
                }
            }
            merge_progress(&mut records);
            let store = self.store.clone();
            // Small: `attempts` holds only steps in flight, `outputs` steps between their
            // output and their success.
            let before = (self.seq, self.outputs.clone(), self.attempts.clone());
            let mut batch = Batch::default();
            for record in &records {
                self.add(&mut batch, record);
            }
            if last_beat.elapsed() >= BEAT {
                last_beat = tokio::time::Instant::now();
                batch.beat = true;
            }
            if let Err(e) = write(&store, &self.run_id, self.session, batch).await {
                if records.len() == 1 {
                    return Err(self.write_failed(e).await);
                }
                // The batch did not fit (a full disk, say): keep every event that still
                // does, one at a time, and stop at the first that does not.
                (self.seq, self.outputs, self.attempts) = before;
                for record in &records {
                    let mut one = Batch::default();
                    self.add(&mut one, record);
                    if let Err(e) = write(&store, &self.run_id, self.session, one).await {
                        return Err(self.write_failed(e).await);
                    }
                }
            }
            records.clear();
        }
        Ok(())
    }

    /// Why a write failed, for a person. When another process has resumed the run meanwhile
    /// (this one was not heard from: asleep, or cut off from the store), its events take the
    /// same numbers and this process's are refused: say that, not the database's words.
    async fn write_failed(&self, e: sqlx::Error) -> StoreError {
        let store = &self.store;
        let claimed: Result<Option<(i64, Option<String>)>, sqlx::Error> = on_pool!(
            &store.pool,
            |p| sqlx::query_as(&p.sql("SELECT sessions, player FROM runs WHERE id = ?"))
                .bind(&self.run_id)
                .fetch_optional(p)
                .await
        );
        match claimed {
            Ok(Some((sessions, player))) if sessions > i64::from(self.session) => {
                StoreError::ResumedElsewhere {
                    id: self.run_id.clone(),
                    by: player.map_or_else(
                        || "another process".to_owned(),
                        |p| crate::players::describe_player(&p),
                    ),
                }
            }
            _ => store.err("writing events", e),
        }
    }

    /// Turns one event into rows of the batch.
    fn add(&mut self, batch: &mut Batch, record: &EventRecord) {
        let mut data = serde_json::to_value(record).unwrap_or(Value::Null);
        let kind = data
            .get("type")
            .and_then(Value::as_str)
            .unwrap_or("unknown")
            .to_owned();
        // Large values are stored once, by content, and referenced from the log.
        match &record.event {
            RunEvent::StepOutput { step, outputs } => {
                let hash = put_output(batch, serde_json::to_value(&**outputs).unwrap_or_default());
                data["outputs"] = serde_json::json!({ "$hash": hash });
                self.outputs.insert(step.to_string(), hash);
            }
            RunEvent::StepQueued { inputs, .. } if !inputs.is_empty() => {
                let hash = put_output(batch, Value::Object((**inputs).clone()));
                data["inputs"] = serde_json::json!({ "$hash": hash });
            }
            // A raw response (a streamed answer is a chunk of JSON per token) is most of a
            // model call's bytes, and deflates to a fraction of them.
            RunEvent::StepExchange { response, .. } => {
                if let Some(packed) = crate::packing::deflate(response) {
                    data["response"] = packed;
                }
            }
            _ => {}
        }
        batch.events.push(EventRow {
            seq: self.seq,
            at_ms: record.at_ms as i64,
            kind,
            step: record.event.step().map(|s| s.to_string()),
            data: data.to_string(),
        });
        self.derive(batch, record);
        self.seq += 1;
    }

    /// Keeps the step results, attempts and cache in step with the log.
    fn derive(&mut self, batch: &mut Batch, record: &EventRecord) {
        let at = record.at_ms as i64;
        let seq = self.seq;
        match &record.event {
            RunEvent::StepStarted {
                step,
                item,
                attempt,
                type_name,
                ..
            } => {
                let row = AttemptRow {
                    attempt: *attempt,
                    type_name: type_name.to_string(),
                    started_ms: at,
                    ended_ms: None,
                    system: None,
                    prompt: None,
                    error: None,
                };
                let key = (step.to_string(), item.map_or(-1, i64::from));
                self.attempts.insert(key.clone(), row.clone());
                batch.attempts.insert(key, row);
            }
            RunEvent::StepPrompt {
                step,
                item,
                system,
                prompt,
                ..
            } => self.update_attempt(batch, step, *item, |a| {
                a.system.clone_from(system);
                a.prompt = Some(prompt.clone());
            }),
            RunEvent::StepRetrying {
                step, item, error, ..
            }
            | RunEvent::StepFellBack {
                step, item, error, ..
            } => self.update_attempt(batch, step, *item, |a| {
                a.error = Some(error.clone());
                a.ended_ms = Some(at);
            }),
            RunEvent::StepSucceeded {
                step,
                elapsed_ms,
                attempts,
                usage,
                origin,
                cache_key,
            } => {
                self.update_attempt(batch, step, None, |a| a.ended_ms = Some(at));
                self.attempts.remove(&(step.to_string(), -1));
                let hash = self.outputs.remove(&**step);
                if let (Some(key), Some(hash), OutputOrigin::Played) = (cache_key, &hash, origin) {
                    batch.cache.push((key.to_string(), hash.clone()));
                }
                batch.results.insert(
                    step.to_string(),
                    ResultRow {
                        outcome: StepOutcome::Succeeded,
                        origin: Some(*origin),
                        attempts: *attempts,
                        elapsed_ms: *elapsed_ms,
                        output_hash: hash,
                        cache_key: cache_key.as_deref().map(str::to_owned),
                        usage: usage.as_ref().and_then(|u| serde_json::to_string(u).ok()),
                        note: None,
                        seq,
                    },
                );
            }
            RunEvent::StepFailed { step, error, .. } => {
                self.update_attempt(batch, step, None, |a| {
                    a.error = Some(error.clone());
                    a.ended_ms = Some(at);
                });
                self.attempts.remove(&(step.to_string(), -1));
                batch.results.insert(
                    step.to_string(),
                    ResultRow::ended(StepOutcome::Failed, Some(error), seq),
                );
            }
            RunEvent::StepSkipped { step, reason } => {
                batch.results.insert(
                    step.to_string(),
                    ResultRow::ended(StepOutcome::Skipped, Some(reason), seq),
                );
            }
            RunEvent::StepCancelled { step } => {
                batch.results.insert(
                    step.to_string(),
                    ResultRow::ended(StepOutcome::Cancelled, None, seq),
                );
            }
            RunEvent::FileWritten {
                step,
                path,
                bytes,
                sha256,
            } => batch
                .files
                .push((path.clone(), step.to_string(), *bytes, sha256.clone(), seq)),
            RunEvent::GateWaiting {
                step,
                title,
                timeout_ms,
                ..
            } => batch.gates.push(GateChange::Asked {
                step: step.to_string(),
                title: title.clone(),
                timeout_ms: timeout_ms.map(|t| t.min(i64::MAX as u64) as i64),
            }),
            RunEvent::GateAnswered {
                step,
                decision,
                reason,
                value,
                by,
            } => batch.gates.push(GateChange::Answered {
                step: step.to_string(),
                decision: crate::gates::decision_word(*decision),
                reason: reason.clone(),
                value: value.as_ref().map(Value::to_string),
                by: by.clone(),
            }),
            RunEvent::RunFinished { status, totals } => {
                let status = serde_json::to_value(status)
                    .ok()
                    .and_then(|v| v.as_str().map(str::to_owned))
                    .unwrap_or_default();
                batch.finished = Some((status, serde_json::to_string(totals).ok()));
            }
            _ => {}
        }
    }

    /// Changes the latest attempt of a step (or map item) and marks it for writing.
    fn update_attempt(
        &mut self,
        batch: &mut Batch,
        step: &str,
        item: Option<u32>,
        change: impl FnOnce(&mut AttemptRow),
    ) {
        let key = (step.to_owned(), item.map_or(-1, i64::from));
        if let Some(row) = self.attempts.get_mut(&key) {
            change(row);
            batch.attempts.insert(key, row.clone());
        }
    }
}

impl ResultRow {
    fn ended(outcome: StepOutcome, note: Option<&str>, seq: i64) -> Self {
        ResultRow {
            outcome,
            origin: None,
            attempts: 0,
            elapsed_ms: 0,
            output_hash: None,
            cache_key: None,
            usage: None,
            note: note.map(str::to_owned),
            seq,
        }
    }
}

/// Adds a value to the batch's outputs, by the SHA-256 of its compact JSON; returns the hash.
fn put_output(batch: &mut Batch, value: Value) -> String {
    let text = value.to_string();
    let hash = hash_bytes(text.as_bytes());
    batch.outputs.entry(hash.clone()).or_insert(text);
    hash
}

/// The name serde gives a unit enum variant (`succeeded`, `played`).
fn name_of(v: impl serde::Serialize) -> Option<String> {
    serde_json::to_value(v)
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
}

/// Merges each step's streamed progress within a batch: a run of `StepProgress` events of one
/// step, with no other event of that step between them, becomes one event at the place (and
/// time) of the last, carrying all their text, tokens and bytes. Other events keep their order,
/// and time still only grows along the log. Streaming steps send a progress event per chunk;
/// kept one by one they were a sixth of a streaming run's stored bytes. (Progress is the one
/// event that may be merged: see the conductor's event invariants.)
fn merge_progress(records: &mut Vec<EventRecord>) {
    // The index of each step's progress event still open for merging into a later one.
    let mut open: HashMap<std::sync::Arc<str>, usize> = HashMap::new();
    let mut merged_away = vec![false; records.len()];
    for i in 0..records.len() {
        let Some(step) = records[i].event.step().cloned() else {
            continue;
        };
        if !matches!(records[i].event, RunEvent::StepProgress { .. }) {
            open.remove(&step);
            continue;
        }
        if let Some(earlier) = open.insert(step, i) {
            let RunEvent::StepProgress {
                text: before,
                tokens: t0,
                bytes: b0,
                ..
            } = std::mem::replace(&mut records[earlier].event, RunEvent::RunPaused)
            else {
                unreachable!("only progress events are left open");
            };
            if let RunEvent::StepProgress {
                text,
                tokens,
                bytes,
                ..
            } = &mut records[i].event
            {
                text.insert_str(0, &before);
                *tokens += t0;
                *bytes += b0;
            }
            merged_away[earlier] = true;
        }
    }
    if merged_away.iter().any(|m| *m) {
        let mut i = 0;
        records.retain(|_| {
            i += 1;
            !merged_away[i - 1]
        });
    }
}

/// The beat: the run's player was heard from now (bound: now, the run).
const BEAT_SQL: &str = "UPDATE runs SET heard_at = ? WHERE id = ?";

/// Says the run's player is still there.
async fn beat(store: &Store, run_id: &str) -> Result<(), sqlx::Error> {
    let now = now_ms();
    on_pool!(&store.pool, |p| sqlx::query(&p.sql(BEAT_SQL))
        .bind(now)
        .bind(run_id)
        .execute(p)
        .await
        .map(drop))
}

/// `totals` (the conductor's JSON) with `ms` more elapsed; unchanged if it is not that shape.
fn add_elapsed(totals: &str, ms: i64) -> String {
    let Ok(mut value) = serde_json::from_str::<serde_json::Value>(totals) else {
        return totals.to_owned();
    };
    let Some(elapsed) = value.get("elapsedMs").and_then(serde_json::Value::as_i64) else {
        return totals.to_owned();
    };
    value["elapsedMs"] = (elapsed + ms).into();
    value.to_string()
}

/// Writes a batch in one transaction: outputs first (the rest refers to them), then the log,
/// attempts, results, cache entries and the run's end. The same statements serve both
/// backends (`ON CONFLICT … DO UPDATE` is SQLite's and Postgres's upsert alike).
///
/// Rows that other runs may be writing too (outputs, cache entries) go in key order: two
/// Postgres transactions taking the same keys in different orders could deadlock. A key appears
/// at most once per statement, as Postgres requires of `ON CONFLICT DO UPDATE`.
async fn write(store: &Store, run_id: &str, session: u32, batch: Batch) -> Result<(), sqlx::Error> {
    let mut outputs: Vec<(String, String)> = batch.outputs.into_iter().collect();
    outputs.sort_unstable_by(|a, b| a.0.cmp(&b.0));
    let attempts: Vec<((String, i64), AttemptRow)> = batch.attempts.into_iter().collect();
    let results: Vec<(String, ResultRow)> = batch.results.into_iter().collect();
    // The latest entry for a key wins, as it would have row after row.
    let cache: Vec<(String, String)> = batch
        .cache
        .into_iter()
        .collect::<BTreeMap<_, _>>()
        .into_iter()
        .collect();
    let files: Vec<(String, (String, u64, String, i64))> = batch
        .files
        .into_iter()
        .map(|(path, step, bytes, sha256, seq)| (path, (step, bytes, sha256, seq)))
        .collect::<BTreeMap<_, _>>()
        .into_iter()
        .collect();
    let now = now_ms();
    on_pool!(&store.pool, |p, Db| {
        let mut tx = p.begin().await?;
        for rows in outputs.chunks(ROWS_PER_STATEMENT) {
            let mut q = QueryBuilder::<Db>::new("INSERT INTO outputs (hash, content) ");
            q.push_values(rows, |mut b, (hash, content)| {
                b.push_bind(hash).push_bind(content);
            });
            q.push(" ON CONFLICT (hash) DO NOTHING");
            q.build().execute(&mut *tx).await?;
        }
        for rows in batch.events.chunks(ROWS_PER_STATEMENT) {
            let mut q = QueryBuilder::<Db>::new(
                "INSERT INTO events (run_id, seq, session, at_ms, kind, step, data) ",
            );
            q.push_values(rows, |mut b, e| {
                b.push_bind(run_id)
                    .push_bind(e.seq)
                    .push_bind(i64::from(session))
                    .push_bind(e.at_ms)
                    .push_bind(&e.kind)
                    .push_bind(&e.step)
                    .push_bind(&e.data);
            });
            q.build().execute(&mut *tx).await?;
        }
        for rows in attempts.chunks(ROWS_PER_STATEMENT) {
            let mut q = QueryBuilder::<Db>::new(
                "INSERT INTO attempts (run_id, step, item, attempt, session, type_name, started_ms, ended_ms, system, prompt, error) ",
            );
            q.push_values(rows, |mut b, ((step, item), a)| {
                b.push_bind(run_id)
                    .push_bind(step)
                    .push_bind(*item)
                    .push_bind(i64::from(a.attempt))
                    .push_bind(i64::from(session))
                    .push_bind(&a.type_name)
                    .push_bind(a.started_ms)
                    .push_bind(a.ended_ms)
                    .push_bind(&a.system)
                    .push_bind(&a.prompt)
                    .push_bind(&a.error);
            });
            q.push(
                " ON CONFLICT (run_id, step, item, session, attempt) DO UPDATE SET
                 type_name = excluded.type_name, started_ms = excluded.started_ms,
                 ended_ms = excluded.ended_ms, system = excluded.system,
                 prompt = excluded.prompt, error = excluded.error",
            );
            q.build().execute(&mut *tx).await?;
        }
        for rows in results.chunks(ROWS_PER_STATEMENT) {
            let mut q = QueryBuilder::<Db>::new(
                "INSERT INTO step_results (run_id, step, outcome, origin, attempts, elapsed_ms, output_hash, cache_key, usage, note, seq) ",
            );
            q.push_values(rows, |mut b, (step, r)| {
                b.push_bind(run_id)
                    .push_bind(step)
                    .push_bind(name_of(r.outcome))
                    .push_bind(r.origin.and_then(name_of))
                    .push_bind(i64::from(r.attempts))
                    .push_bind(r.elapsed_ms as i64)
                    .push_bind(&r.output_hash)
                    .push_bind(&r.cache_key)
                    .push_bind(&r.usage)
                    .push_bind(&r.note)
                    .push_bind(r.seq);
            });
            q.push(
                " ON CONFLICT (run_id, step) DO UPDATE SET
                 outcome = excluded.outcome, origin = excluded.origin,
                 attempts = excluded.attempts, elapsed_ms = excluded.elapsed_ms,
                 output_hash = excluded.output_hash, cache_key = excluded.cache_key,
                 usage = excluded.usage, note = excluded.note, seq = excluded.seq",
            );
            q.build().execute(&mut *tx).await?;
        }
        for rows in cache.chunks(ROWS_PER_STATEMENT) {
            let mut q = QueryBuilder::<Db>::new(
                "INSERT INTO cache (key, output_hash, run_id, created_at) ",
            );
            q.push_values(rows, |mut b, (key, hash)| {
                b.push_bind(key)
                    .push_bind(hash)
                    .push_bind(run_id)
                    .push_bind(now);
            });
            q.push(
                " ON CONFLICT (key) DO UPDATE SET output_hash = excluded.output_hash,
                 run_id = excluded.run_id, created_at = excluded.created_at",
            );
            q.build().execute(&mut *tx).await?;
        }
        for rows in files.chunks(ROWS_PER_STATEMENT) {
            let mut q = QueryBuilder::<Db>::new(
                "INSERT INTO files (run_id, path, step, bytes, sha256, seq) ",
            );
            q.push_values(rows, |mut b, (path, (step, bytes, sha256, seq))| {
                b.push_bind(run_id)
                    .push_bind(path)
                    .push_bind(step)
                    .push_bind(*bytes as i64)
                    .push_bind(sha256)
                    .push_bind(*seq);
            });
            q.push(
                " ON CONFLICT (run_id, path) DO UPDATE SET step = excluded.step,
                 bytes = excluded.bytes, sha256 = excluded.sha256, seq = excluded.seq",
            );
            q.build().execute(&mut *tx).await?;
        }
        for change in &batch.gates {
            match change {
                GateChange::Asked {
                    step,
                    title,
                    timeout_ms,
                } => {
                    sqlx::query(&p.sql(
                        "INSERT INTO gates (run_id, step, title, asked_at, timeout_ms) VALUES (?, ?, ?, ?, ?)
                         ON CONFLICT (run_id, step) DO NOTHING",
                    ))
                    .bind(run_id)
                    .bind(step)
                    .bind(title)
                    .bind(now)
                    .bind(timeout_ms)
                    .execute(&mut *tx)
                    .await?;
                }
                GateChange::Answered {
                    step,
                    decision,
                    reason,
                    value,
                    by,
                } => {
                    sqlx::query(&p.sql(
                        "INSERT INTO gates (run_id, step, title, asked_at, decision, reason, value, answered_by, answered_at, applied)
                         VALUES (?, ?, '', ?, ?, ?, ?, ?, ?, 1)
                         ON CONFLICT (run_id, step) DO UPDATE SET decision = excluded.decision,
                         reason = excluded.reason, value = excluded.value,
                         answered_by = excluded.answered_by,
                         answered_at = COALESCE(gates.answered_at, excluded.answered_at), applied = 1",
                    ))
                    .bind(run_id)
                    .bind(step)
                    .bind(now)
                    .bind(*decision)
                    .bind(reason)
                    .bind(value)
                    .bind(by)
                    .bind(now)
                    .execute(&mut *tx)
                    .await?;
                }
            }
        }
        if batch.beat {
            sqlx::query(&p.sql(BEAT_SQL))
                .bind(now)
                .bind(run_id)
                .execute(&mut *tx)
                .await?;
        }
        if let Some((status, totals)) = &batch.finished {
            // The conductor's clock starts again at each session, so a resumed run's totals
            // are its last session's: its elapsed time takes the earlier sessions' on, as the
            // board's clock does (see `event_log`), so History shows how long the run played.
            let mut totals = totals.clone();
            if session > 1 {
                let ends: Vec<(i64,)> = sqlx::query_as(&p.sql(
                    "SELECT MAX(at_ms) FROM events WHERE run_id = ? AND session < ? GROUP BY session",
                ))
                .bind(run_id)
                .bind(i64::from(session))
                .fetch_all(&mut *tx)
                .await?;
                let earlier: i64 = ends.iter().map(|e| e.0).sum();
                totals = totals.map(|t| add_elapsed(&t, earlier));
            }
            sqlx::query(
                &p.sql("UPDATE runs SET status = ?, finished_at = ?, totals = ? WHERE id = ?"),
            )
            .bind(status)
            .bind(now)
            .bind(totals)
            .bind(run_id)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn progress(at_ms: u64, step: &str, text: &str) -> EventRecord {
        EventRecord {
            at_ms,
            event: RunEvent::StepProgress {
                step: step.into(),
                text: text.into(),
                tokens: 1,
                bytes: text.len() as u64,
            },
        }
    }

    fn brief(records: &[EventRecord]) -> Vec<(u64, String, String)> {
        records
            .iter()
            .map(|r| match &r.event {
                RunEvent::StepProgress {
                    step, text, tokens, ..
                } => (r.at_ms, step.to_string(), format!("{text}/{tokens}")),
                other => (
                    r.at_ms,
                    other.step().map(|s| s.to_string()).unwrap_or_default(),
                    "other".into(),
                ),
            })
            .collect()
    }

    #[test]
    fn a_steps_progress_is_merged_into_its_last_event_until_another_event_of_that_step() {
        let succeeded = |at_ms, step: &str| EventRecord {
            at_ms,
            event: RunEvent::StepCancelled { step: step.into() },
        };
        let mut records = vec![
            progress(1, "a", "He"),
            progress(2, "b", "x"),
            progress(3, "a", "ll"),
            progress(4, "a", "o"),
            succeeded(5, "a"),
            progress(6, "a", "again"),
            progress(7, "b", "y"),
        ];
        merge_progress(&mut records);
        assert_eq!(
            brief(&records),
            vec![
                (4, "a".into(), "Hello/3".into()),
                (5, "a".into(), "other".into()),
                (6, "a".into(), "again/1".into()),
                (7, "b".into(), "xy/2".into()),
            ]
        );
        let at: Vec<u64> = records.iter().map(|r| r.at_ms).collect();
        assert!(at.windows(2).all(|w| w[0] <= w[1]), "{at:?}");
    }
}
