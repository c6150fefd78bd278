//! Reading runs back: the list, one run with its steps, its event log.

use serde::Serialize;
use serde_json::Value;

use crate::db::{on_pool, Dialect};
use crate::{Store, StoreError};

/// A line of the run list.
#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
#[serde(rename_all = "camelCase")]
pub struct RunSummary {
    /// The run's id.
    pub id: String,
    /// The melody's id.
    pub melody_id: String,
    /// running, succeeded, failed or cancelled.
    pub status: String,
    /// Start, in milliseconds since the Unix epoch.
    pub started_at: i64,
    /// End, if it ended.
    pub finished_at: Option<i64>,
    /// The run it was forked from.
    pub parent_id: Option<String>,
}

/// One step of a stored run.
#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
#[serde(rename_all = "camelCase")]
pub struct StepRow {
    /// The step's id.
    pub step: String,
    /// succeeded, failed, skipped or cancelled.
    pub outcome: String,
    /// played, cached or given, for a success.
    pub origin: Option<String>,
    /// Attempts made.
    pub attempts: i64,
    /// Time from first start to end.
    pub elapsed_ms: i64,
    /// The content hash of its outputs.
    pub output_hash: Option<String>,
    /// Its cache key, for a cacheable step.
    pub cache_key: Option<String>,
    /// Tokens and cost, as JSON.
    pub usage: Option<String>,
    /// The error or skip reason.
    pub note: Option<String>,
}

/// A stored run with its steps.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RunDetail {
    /// The run's line.
    #[serde(flatten)]
    pub summary: RunSummary,
    /// Run inputs.
    pub inputs: Value,
    /// Options it was run with.
    pub options: Value,
    /// The workspace folder.
    pub workspace: Option<String>,
    /// Totals, once finished.
    pub totals: Value,
    /// The melody's content hash.
    pub melody_hash: String,
    /// The step a fork reran from.
    pub fork_step: Option<String>,
    /// How many times it was played (1 + resumes).
    pub sessions: i64,
    /// Its steps, in the order they ended.
    pub steps: Vec<StepRow>,
    /// The files its steps wrote in the workspace's `files/` folder, in the order written.
    pub files: Vec<FileRow>,
}

/// A file a run produced.
#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
#[serde(rename_all = "camelCase")]
pub struct FileRow {
    /// Relative to the workspace's `files/` folder.
    pub path: String,
    /// The step that wrote it.
    pub step: String,
    /// Its size.
    pub bytes: i64,
    /// SHA-256 of its content, hex.
    pub sha256: String,
}

/// One event of a run's log.
#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
#[serde(rename_all = "camelCase")]
pub struct StoredEvent {
    /// Order in the run.
    pub seq: i64,
    /// 1, then one more per resume.
    pub session: i64,
    /// Milliseconds since the session started.
    pub at_ms: i64,
    /// The event's type.
    pub kind: String,
    /// The step it is about.
    pub step: Option<String>,
    /// The whole event, as JSON (large values as `{"$hash": …}`, see [`Store::output`]).
    pub data: String,
}

impl Store {
    /// The newest runs first.
    pub async fn list(&self, limit: u32) -> Result<Vec<RunSummary>, StoreError> {
        on_pool!(&self.pool, |p| sqlx::query_as(&p.sql(
            "SELECT id, melody_id, status, started_at, finished_at, parent_id FROM runs
             ORDER BY started_at DESC, id DESC LIMIT ?",
        ))
        .bind(i64::from(limit))
        .fetch_all(p)
        .await)
        .map_err(|e| self.err("listing runs", e))
    }

    /// A run and its steps.
    pub async fn run(&self, id: &str) -> Result<RunDetail, StoreError> {
        #[allow(clippy::type_complexity)]
        let row: Option<(String, String, String, i64, Option<i64>, Option<String>, String, String, Option<String>, Option<String>, String, Option<String>, i64)> =
            on_pool!(&self.pool, |p| sqlx::query_as(&p.sql(
                "SELECT id, melody_id, status, started_at, finished_at, parent_id, inputs, options, workspace, totals, melody_hash, fork_step, sessions
                 FROM runs WHERE id = ?",
            ))
            .bind(id)
            .fetch_optional(p)
            .await)
            .map_err(|e| self.err("reading a run", e))?;
        let Some(r) = row else {
            return Err(StoreError::UnknownRun(id.to_owned()));
        };
        let steps: Vec<StepRow> = on_pool!(&self.pool, |p| {
            sqlx::query_as(&p.sql(
            "SELECT step, outcome, origin, attempts, elapsed_ms, output_hash, cache_key, usage, note
             FROM step_results WHERE run_id = ? ORDER BY seq",
        ))
        .bind(id)
        .fetch_all(p)
        .await
        })
        .map_err(|e| self.err("reading steps", e))?;
        let files: Vec<FileRow> = on_pool!(&self.pool, |p| sqlx::query_as(
            &p.sql("SELECT path, step, bytes, sha256 FROM files WHERE run_id = ? ORDER BY seq",)
        )
        .bind(id)
        .fetch_all(p)
        .await)
        .map_err(|e| self.err("reading files", e))?;
        let json = |s: &str| serde_json::from_str(s).unwrap_or(Value::Null);
        Ok(RunDetail {
            summary: RunSummary {
                id: r.0,
                melody_id: r.1,
                status: r.2,
                started_at: r.3,
                finished_at: r.4,
                parent_id: r.5,
            },
            inputs: json(&r.6),
            options: json(&r.7),
            workspace: r.8,
            totals: r.9.as_deref().map_or(Value::Null, json),
            melody_hash: r.10,
            fork_step: r.11,
            sessions: r.12,
            steps,
            files,
        })
    }

    /// A run's event log, in order.
    pub async fn events(&self, id: &str) -> Result<Vec<StoredEvent>, StoreError> {
        self.run(id).await?;
        on_pool!(&self.pool, |p| sqlx::query_as(&p.sql(
            "SELECT seq, session, at_ms, kind, step, data FROM events WHERE run_id = ? ORDER BY seq",
        ))
        .bind(id)
        .fetch_all(p)
        .await)
        .map_err(|e| self.err("reading events", e))
    }

    /// The melody a run played, as its canonical bytes.
    pub async fn melody_of(&self, id: &str) -> Result<Vec<u8>, StoreError> {
        let detail = self.run(id).await?;
        let (content,): (Vec<u8>,) = on_pool!(&self.pool, |p| sqlx::query_as(
            &p.sql("SELECT content FROM melodies WHERE hash = ?")
        )
        .bind(&detail.melody_hash)
        .fetch_one(p)
        .await)
        .map_err(|e| self.err("reading the melody", e))?;
        Ok(content)
    }
}
