//! The run store: every run, its append-only event log, each step's result and attempts, and
//! step outputs stored once by content hash, in one SQLite file through sqlx.
//!
//! **Architecture Invariant:** this crate is the only one that speaks SQL. The conductor knows
//! nothing of it: a host hands each [`EventRecord`] of a run to a [`Recorder`], which returns at
//! once and writes in batched transactions on a task of its own, and gives the conductor the
//! store as its [`OutputCache`].
//!
//! Durability: the database runs in WAL mode with `synchronous = NORMAL`, so a committed batch
//! survives the process being killed (not necessarily a power cut). A run killed mid-way keeps
//! every step that finished before the last commit; [`Store::resume`] hands those outputs back
//! to the conductor so they are not played again.

mod export;
mod pins;
mod queries;
mod writer;

use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::time::Duration;

use serde_json::{Map, Value};
use sha2::{Digest, Sha256};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::SqlitePool;
use symphony_conductor::{BoxFuture, OutputCache, Outputs};

pub use export::{Pruned, StepDiff};
pub use pins::{Pin, RunSource, DEFAULT_KEEP_RUNS};
pub use queries::{FileRow, RunDetail, RunSummary, StepRow, StoredEvent};
pub use writer::Recorder;

/// Embedded migrations (`migrations/NNNN_*.sql`), applied in order when a store opens.
static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations");

/// What went wrong with the store, said so a person can act on it.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The database file cannot be opened or set up.
    #[error("cannot open the run store `{path}`: {message}")]
    Open {
        /// The file.
        path: PathBuf,
        /// Why, and what to do.
        message: String,
    },
    /// A query failed.
    #[error(
        "the run store `{path}` failed while {doing}: {source}{}",
        hint(source)
    )]
    Query {
        /// The file.
        path: PathBuf,
        /// What the store was doing.
        doing: String,
        /// The database's error.
        source: sqlx::Error,
    },
    /// A step has no stored output in a run.
    #[error("step `{step}` has no output in run `{run}` (it did not succeed there); `symphony runs show {run}` shows its steps")]
    NoOutput {
        /// The run.
        run: String,
        /// The step.
        step: String,
    },
    /// No run has this id.
    #[error("no run `{0}` in the run store; `symphony runs list` shows the runs it holds")]
    UnknownRun(String),
    /// The run cannot be resumed.
    #[error("run `{id}` cannot be resumed: {why}")]
    NotResumable {
        /// The run.
        id: String,
        /// Why.
        why: String,
    },
}

/// Whether a migration failed because another process was applying it at the same time.
fn raced(e: &sqlx::migrate::MigrateError) -> bool {
    let text = e.to_string();
    [
        "already exists",
        "UNIQUE constraint failed",
        "database is locked",
    ]
    .iter()
    .any(|m| text.contains(m))
}

/// What to do about a database error a person can act on (SQLite's primary result codes).
fn hint(e: &sqlx::Error) -> &'static str {
    let code = match e {
        sqlx::Error::Database(db) => db.code(),
        _ => None,
    };
    match code.as_deref().and_then(|c| c.parse::<i32>().ok()).map(|c| c & 0xff) {
        Some(13) => " (the disk is full: nothing already written is lost; free some space, then `symphony resume RUN` continues an unfinished run)",
        Some(5 | 6) => " (another process kept the run store locked for more than 10 s; nothing was written, try again when it is done)",
        Some(11 | 26) => " (the file is damaged or not a run store: keep a copy, then `sqlite3 FILE .recover` may save what it holds, or point --store at a new file)",
        Some(8) => " (the file is read-only: check its permissions)",
        _ => "",
    }
}

/// The run store.
#[derive(Clone)]
pub struct Store {
    pool: SqlitePool,
    path: PathBuf,
}

/// A run about to start, as the store records it.
pub struct NewRun<'a> {
    /// The run's id.
    pub id: &'a str,
    /// The melody's canonical bytes (`symphony_melody::to_bytes`).
    pub melody_bytes: &'a [u8],
    /// The melody's id.
    pub melody_id: &'a str,
    /// The melody's name.
    pub melody_name: &'a str,
    /// Run inputs, defaults filled in.
    pub inputs: &'a Map<String, Value>,
    /// How it was run (seed, maxParallel, fresh, …), as JSON.
    pub options: Value,
    /// The run workspace.
    pub workspace: Option<&'a Path>,
    /// The run it was forked from, and the step the fork reruns from.
    pub parent: Option<(&'a str, &'a str)>,
}

/// What a resumed run needs: the melody as it was run, its inputs and options, and the outputs
/// of the steps that finished.
pub struct Resumable {
    /// The melody's canonical bytes.
    pub melody_bytes: Vec<u8>,
    /// Run inputs.
    pub inputs: Map<String, Value>,
    /// Options as recorded (seed, maxParallel, …).
    pub options: Value,
    /// The run workspace.
    pub workspace: Option<PathBuf>,
    /// Outputs of every step that succeeded, by step id.
    pub finished: std::collections::BTreeMap<String, Outputs>,
    /// The session this resume starts (2 for the first resume).
    pub session: u32,
}

impl Store {
    /// Where the store lives unless told otherwise: `$SYMPHONY_DB`, else
    /// `$XDG_DATA_HOME/symphony/runs.db`, else `~/.local/share/symphony/runs.db`.
    pub fn default_path() -> PathBuf {
        if let Some(p) = std::env::var_os("SYMPHONY_DB").filter(|p| !p.is_empty()) {
            return PathBuf::from(p);
        }
        let data = std::env::var_os("XDG_DATA_HOME")
            .filter(|p| !p.is_empty())
            .map(PathBuf::from)
            .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".local/share")))
            .unwrap_or_else(|| PathBuf::from("."));
        data.join("symphony").join("runs.db")
    }

    /// Opens (creating if needed) the store at `path` and brings its schema up to date.
    pub async fn open(path: &Path) -> Result<Store, StoreError> {
        let fail = |message: String| StoreError::Open {
            path: path.to_owned(),
            message,
        };
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir)
                .map_err(|e| fail(format!("cannot create the folder `{}`: {e}", dir.display())))?;
        }
        let url = format!("sqlite://{}", path.display());
        let options = SqliteConnectOptions::from_str(&url)
            .map_err(|e| fail(e.to_string()))?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal)
            .foreign_keys(true)
            // Another process writing: wait for it rather than fail at once.
            .busy_timeout(Duration::from_secs(10));
        let pool = SqlitePoolOptions::new()
            .max_connections(4)
            .connect_with(options)
            .await
            .map_err(|e| fail(explain_open(&e)))?;
        // SQLite gives sqlx's migrator no lock: two processes opening a new store at once
        // both try to create it, and the slower one finds the tables made. Once the faster
        // one has committed, running the migrator again finds everything applied.
        let mut tries = 0;
        loop {
            match MIGRATOR.run(&pool).await {
                Ok(()) => break,
                Err(e) if tries < 20 && raced(&e) => {
                    tries += 1;
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
                Err(e) => return Err(fail(format!("cannot bring its schema up to date: {e}; if the file is damaged, move it aside and a new store is started"))),
            }
        }
        Ok(Store {
            pool,
            path: path.to_owned(),
        })
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The size of the database on disk, in bytes (the file and its write-ahead log).
    pub fn size_bytes(&self) -> u64 {
        let len = |p: PathBuf| std::fs::metadata(p).map_or(0, |m| m.len());
        let mut wal = self.path.clone().into_os_string();
        wal.push("-wal");
        len(self.path.clone()) + len(PathBuf::from(wal))
    }

    /// Records a run that is about to start and returns the recorder for its events.
    pub async fn begin(&self, run: NewRun<'_>) -> Result<Recorder, StoreError> {
        let melody_hash = hash_bytes(run.melody_bytes);
        let now = now_ms();
        let mut tx = self
            .pool
            .begin()
            .await
            .map_err(|e| self.err("starting a run", e))?;
        sqlx::query(
            "INSERT OR IGNORE INTO melodies (hash, melody_id, name, content, created_at) VALUES (?, ?, ?, ?, ?)",
        )
        .bind(&melody_hash)
        .bind(run.melody_id)
        .bind(run.melody_name)
        .bind(run.melody_bytes)
        .bind(now)
        .execute(&mut *tx)
        .await
        .map_err(|e| self.err("storing the melody", e))?;
        sqlx::query(
            "INSERT INTO runs (id, melody_hash, melody_id, parent_id, fork_step, inputs, options, workspace, status, started_at)
             VALUES (?, ?, ?, ?, ?, ?, ?, ?, 'running', ?)",
        )
        .bind(run.id)
        .bind(&melody_hash)
        .bind(run.melody_id)
        .bind(run.parent.map(|p| p.0))
        .bind(run.parent.map(|p| p.1))
        .bind(Value::Object(run.inputs.clone()).to_string())
        .bind(run.options.to_string())
        .bind(run.workspace.map(|w| w.display().to_string()))
        .bind(now)
        .execute(&mut *tx)
        .await
        .map_err(|e| self.err("recording the run", e))?;
        tx.commit()
            .await
            .map_err(|e| self.err("starting a run", e))?;
        Ok(Recorder::start(self.clone(), run.id.to_owned(), 1, 0))
    }

    /// Prepares to resume a run that did not finish: what finished is handed back; the run is
    /// marked running again, in a new session, and its events continue the same log.
    pub async fn resume(&self, id: &str) -> Result<(Resumable, Recorder), StoreError> {
        let source = self.source(id).await?;
        if source.status == "succeeded" {
            return Err(StoreError::NotResumable {
                id: id.to_owned(),
                why: "it succeeded; rerun it with `symphony run` (unchanged steps come from the cache)".into(),
            });
        }
        let (sessions,): (i64,) = sqlx::query_as("SELECT sessions FROM runs WHERE id = ?")
            .bind(id)
            .fetch_one(&self.pool)
            .await
            .map_err(|e| self.err("reading the run", e))?;
        let (next_seq,): (i64,) =
            sqlx::query_as("SELECT COALESCE(MAX(seq), -1) + 1 FROM events WHERE run_id = ?")
                .bind(id)
                .fetch_one(&self.pool)
                .await
                .map_err(|e| self.err("reading the event log", e))?;
        let session = sessions as u32 + 1;
        // Steps that failed, were skipped or cancelled are played again: forget their end.
        sqlx::query("DELETE FROM step_results WHERE run_id = ? AND outcome <> 'succeeded'")
            .bind(id)
            .execute(&self.pool)
            .await
            .map_err(|e| self.err("reopening the run", e))?;
        sqlx::query(
            "UPDATE runs SET status = 'running', finished_at = NULL, sessions = ? WHERE id = ?",
        )
        .bind(i64::from(session))
        .bind(id)
        .execute(&self.pool)
        .await
        .map_err(|e| self.err("reopening the run", e))?;
        let resumable = Resumable {
            melody_bytes: source.melody_bytes,
            inputs: source.inputs,
            options: source.options,
            workspace: source.workspace,
            finished: source.finished,
            session,
        };
        Ok((
            resumable,
            Recorder::start(self.clone(), id.to_owned(), session, next_seq),
        ))
    }

    /// Moves everything in the write-ahead log into the main file (what `size_bytes` then
    /// reports is the data, not the log).
    pub async fn checkpoint(&self) -> Result<(), StoreError> {
        sqlx::query("PRAGMA wal_checkpoint(TRUNCATE)")
            .execute(&self.pool)
            .await
            .map_err(|e| self.err("checkpointing", e))?;
        Ok(())
    }

    /// Reads outputs stored under a content hash.
    pub async fn output(&self, hash: &str) -> Result<Option<Value>, StoreError> {
        let row: Option<(String,)> = sqlx::query_as("SELECT content FROM outputs WHERE hash = ?")
            .bind(hash)
            .fetch_optional(&self.pool)
            .await
            .map_err(|e| self.err("reading an output", e))?;
        Ok(row.and_then(|(c,)| serde_json::from_str(&c).ok()))
    }

    fn err(&self, doing: &str, source: sqlx::Error) -> StoreError {
        StoreError::Query {
            path: self.path.clone(),
            doing: doing.to_owned(),
            source,
        }
    }
}

impl OutputCache for Store {
    fn lookup<'a>(&'a self, key: &'a str) -> BoxFuture<'a, Option<Outputs>> {
        Box::pin(async move {
            let row: Result<Option<(String,)>, _> = sqlx::query_as(
                "SELECT o.content FROM cache c JOIN outputs o ON o.hash = c.output_hash WHERE c.key = ?",
            )
            .bind(key)
            .fetch_optional(&self.pool)
            .await;
            match row {
                Ok(Some((content,))) => match serde_json::from_str(&content) {
                    Ok(Value::Object(map)) => Some(Outputs(map)),
                    _ => None,
                },
                Ok(None) => None,
                Err(e) => {
                    // A cache that cannot be read is a miss: the step is played.
                    tracing::warn!("the output cache could not be read: {e}");
                    None
                }
            }
        })
    }
}

/// Says what an open failure means for the person who has to fix it.
fn explain_open(e: &sqlx::Error) -> String {
    let text = e.to_string();
    if text.contains("not a database") || text.contains("malformed") {
        format!("{text}: the file is not a Symphony run store or is damaged; move it aside (or set SYMPHONY_DB to another file) and a new store is started")
    } else if text.contains("locked") || text.contains("busy") {
        format!(
            "{text}: another program holds it locked; close it, or set SYMPHONY_DB to another file"
        )
    } else if text.contains("unable to open") || text.contains("readonly") {
        format!("{text}: check that the folder exists and is writable, or set SYMPHONY_DB to another file")
    } else {
        text
    }
}

/// SHA-256 of bytes, in hex.
pub(crate) fn hash_bytes(bytes: &[u8]) -> String {
    let digest = Sha256::digest(bytes);
    let mut hex = String::with_capacity(64);
    for b in digest {
        hex.push_str(&format!("{b:02x}"));
    }
    hex
}

/// Milliseconds since the Unix epoch.
pub(crate) fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}
