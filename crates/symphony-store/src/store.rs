//! The run store's handle: [`Store`], where it lives by default, what a new or resumed run
//! records, its size, and the store as the conductor's output cache. Opening is `open.rs`;
//! the read side, pins, export and the writer are `impl Store` blocks of their own files.

use std::path::{Path, PathBuf};

use serde_json::{Map, Value};
use symphony_conductor::{BoxFuture, OutputCache, Outputs};

use crate::db::{self, on_pool, Dialect, Pool};
use crate::{hash_bytes, now_ms, players, Recorder, StoreError};

/// The run store.
#[derive(Clone)]
pub struct Store {
    /// The connections, one pool per backend; the other modules' queries run on it.
    pub(crate) pool: Pool,
    /// The SQLite file, or the Postgres URL with its password hidden: what messages name.
    pub(crate) path: PathBuf,
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
    /// The rounds each unfinished loop (`cue.loop`) played, by step id, in order: the loop
    /// goes on after them (`RunOptions::rounds`).
    pub rounds: std::collections::BTreeMap<String, Vec<Outputs>>,
    /// Each unfinished gate (`cue.gate`) that asked: the answer given while the run was
    /// stopped, or how long it has waited (`RunOptions::gates`).
    pub gates: std::collections::BTreeMap<String, symphony_conductor::GateResume>,
    /// The session this resume starts (2 for the first resume).
    pub session: u32,
}

impl Store {
    /// Where the store lives unless told otherwise: `$SYMPHONY_DB` (a file, or a
    /// `postgres://` URL), else `$XDG_DATA_HOME/symphony/runs.db`, else
    /// `~/.local/share/symphony/runs.db`.
    pub fn default_path() -> PathBuf {
        if let Some(p) = std::env::var_os("SYMPHONY_DB").filter(|p| !p.is_empty()) {
            return PathBuf::from(p);
        }
        Store::data_dir().join("runs.db")
    }

    /// Symphony's folder of the user's data: `$XDG_DATA_HOME/symphony`, else
    /// `~/.local/share/symphony`. What sits beside a store file sits here when the store is
    /// on a Postgres server.
    pub fn data_dir() -> PathBuf {
        std::env::var_os("XDG_DATA_HOME")
            .filter(|p| !p.is_empty())
            .map(PathBuf::from)
            .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".local/share")))
            .unwrap_or_else(|| PathBuf::from("."))
            .join("symphony")
    }

    /// Whether a store location is a Postgres URL (`postgres://…`) rather than a file.
    pub fn is_postgres_location(location: &Path) -> bool {
        location.to_str().is_some_and(db::is_postgres_url)
    }

    /// The database file, or the Postgres URL (its password hidden).
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Whether the store is a database on a Postgres server (else a SQLite file).
    pub fn is_postgres(&self) -> bool {
        matches!(self.pool, Pool::Postgres(_))
    }

    /// How many runs the store holds.
    pub async fn count_runs(&self) -> Result<u64, StoreError> {
        let (n,): (i64,) = on_pool!(&self.pool, |p| sqlx::query_as(
            &p.sql("SELECT COUNT(*) FROM runs")
        )
        .fetch_one(p)
        .await)
        .map_err(|e| self.err("counting runs", e))?;
        Ok(n.max(0) as u64)
    }

    /// The store's size, in bytes: for SQLite the file and its write-ahead log, for Postgres
    /// the store's tables with their indexes and TOAST (not the rest of the database). 0 when
    /// it cannot be told.
    pub async fn size_bytes(&self) -> u64 {
        match &self.pool {
            Pool::Sqlite(_) => {
                let len = |p: PathBuf| std::fs::metadata(p).map_or(0, |m| m.len());
                let mut wal = self.path.clone().into_os_string();
                wal.push("-wal");
                len(self.path.clone()) + len(PathBuf::from(wal))
            }
            Pool::Postgres(p) => {
                let size: Result<(i64,), _> = sqlx::query_as(
                    "SELECT COALESCE(SUM(pg_total_relation_size(c.oid)), 0)::BIGINT
                     FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
                     WHERE n.nspname = current_schema() AND c.relkind = 'r'
                       AND c.relname = ANY($1)",
                )
                .bind(TABLES)
                .fetch_one(p)
                .await;
                size.map_or_else(
                    |e| {
                        tracing::warn!("the run store's size could not be read: {e}");
                        0
                    },
                    |(n,)| n.max(0) as u64,
                )
            }
        }
    }

    /// Records a run that is about to start and returns the recorder for its events.
    pub async fn begin(&self, run: NewRun<'_>) -> Result<Recorder, StoreError> {
        let melody_hash = hash_bytes(run.melody_bytes);
        let now = now_ms();
        let inputs = Value::Object(run.inputs.clone()).to_string();
        let options = run.options.to_string();
        let workspace = run.workspace.map(|w| w.display().to_string());
        on_pool!(&self.pool, |p| {
            let mut tx = p.begin().await.map_err(|e| self.err("starting a run", e))?;
            sqlx::query(&p.sql(
                "INSERT INTO melodies (hash, melody_id, name, content, created_at) VALUES (?, ?, ?, ?, ?)
                 ON CONFLICT (hash) DO NOTHING",
            ))
            .bind(&melody_hash)
            .bind(run.melody_id)
            .bind(run.melody_name)
            .bind(run.melody_bytes)
            .bind(now)
            .execute(&mut *tx)
            .await
            .map_err(|e| self.err("storing the melody", e))?;
            sqlx::query(&p.sql(
                "INSERT INTO runs (id, melody_hash, melody_id, parent_id, fork_step, inputs, options, workspace, status, started_at, player, heard_at, event_format)
                 VALUES (?, ?, ?, ?, ?, ?, ?, ?, 'running', ?, ?, ?, ?)",
            ))
            .bind(run.id)
            .bind(&melody_hash)
            .bind(run.melody_id)
            .bind(run.parent.map(|x| x.0))
            .bind(run.parent.map(|x| x.1))
            .bind(&inputs)
            .bind(&options)
            .bind(&workspace)
            .bind(now)
            .bind(players::this_player())
            .bind(now)
            .bind(i64::from(symphony_conductor::EVENT_FORMAT))
            .execute(&mut *tx)
            .await
            .map_err(|e| self.err("recording the run", e))?;
            tx.commit()
                .await
                .map_err(|e| self.err("starting a run", e))?;
        });
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
        let (session, next_seq) = on_pool!(&self.pool, |p| {
            let (sessions, status, player, heard_at, event_format): (
                i64,
                String,
                Option<String>,
                Option<i64>,
                i64,
            ) = sqlx::query_as(&p.sql(
                "SELECT sessions, status, player, heard_at, event_format FROM runs WHERE id = ?",
            ))
            .bind(id)
            .fetch_one(p)
            .await
            .map_err(|e| self.err("reading the run", e))?;
            // One log, one format: events of this build are not appended to a log written in
            // another version of the events' JSON.
            if event_format != i64::from(symphony_conductor::EVENT_FORMAT) {
                return Err(StoreError::NotResumable {
                    id: id.to_owned(),
                    why: format!(
                        "it was recorded in version {event_format} of the event format and this Symphony writes version {}; fork it instead (`symphony runs fork {id}`), which starts a new run and keeps what finished",
                        symphony_conductor::EVENT_FORMAT
                    ),
                });
            }
            let now = now_ms();
            if let (Some(player), Some(heard_at)) = (&player, heard_at) {
                if players::played_elsewhere(&status, Some(player), Some(heard_at), now) {
                    return Err(StoreError::NotResumable {
                        id: id.to_owned(),
                        why: format!(
                            "it is still being played by {}; watch it with `symphony serve` or the app's history, or resume it once that process has stopped",
                            players::describe(player, heard_at, now)
                        ),
                    });
                }
            }
            let (next_seq,): (i64,) = sqlx::query_as(
                &p.sql("SELECT COALESCE(MAX(seq), -1) + 1 FROM events WHERE run_id = ?"),
            )
            .bind(id)
            .fetch_one(p)
            .await
            .map_err(|e| self.err("reading the event log", e))?;
            let session = sessions as u32 + 1;
            // Claim the next session: of two processes resuming the run at once, one wins
            // and the other is told, instead of both writing the same sequence numbers.
            let claimed = sqlx::query(&p.sql(
                "UPDATE runs SET status = 'running', finished_at = NULL, sessions = ?, player = ?, heard_at = ? WHERE id = ? AND sessions = ?",
            ))
            .bind(i64::from(session))
            .bind(players::this_player())
            .bind(now)
            .bind(id)
            .bind(sessions)
            .execute(p)
            .await
            .map_err(|e| self.err("reopening the run", e))?;
            if claimed.rows_affected() == 0 {
                return Err(StoreError::NotResumable {
                    id: id.to_owned(),
                    why: "another process resumed it at the same moment".into(),
                });
            }
            // Steps that failed, were skipped or cancelled are played again: forget their end.
            sqlx::query(
                &p.sql("DELETE FROM step_results WHERE run_id = ? AND outcome <> 'succeeded'"),
            )
            .bind(id)
            .execute(p)
            .await
            .map_err(|e| self.err("reopening the run", e))?;
            (session, next_seq)
        });
        let mut rounds = self.loop_rounds(id).await?;
        rounds.retain(|step, _| !source.finished.contains_key(step));
        let finished = |step: &str| source.finished.contains_key(step);
        let gates = self.resumed_gates(id, &finished).await?;
        let resumable = Resumable {
            rounds,
            gates,
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

    /// Every round a loop of run `id` played, from its `stepRound` events, by step, in order
    /// of the log. A round is taken only when it is the next one of its loop, so the list of
    /// each step is rounds 1, 2, … with no gap or repeat.
    async fn loop_rounds(
        &self,
        id: &str,
    ) -> Result<std::collections::BTreeMap<String, Vec<Outputs>>, StoreError> {
        let rows: Vec<(String, String)> = on_pool!(&self.pool, |p| {
            sqlx::query_as(&p.sql(
            "SELECT step, data FROM events WHERE run_id = ? AND kind = 'stepRound' ORDER BY seq",
        ))
        .bind(id)
        .fetch_all(p)
        .await
        })
        .map_err(|e| self.err("reading a loop's rounds", e))?;
        let mut rounds: std::collections::BTreeMap<String, Vec<Outputs>> = Default::default();
        for (step, data) in rows {
            let Ok(event) = serde_json::from_str::<Value>(&data) else {
                continue;
            };
            let (Some(round), Some(Value::Object(outputs))) =
                (event["round"].as_u64(), event.get("outputs").cloned())
            else {
                continue;
            };
            let played = rounds.entry(step).or_default();
            if round == played.len() as u64 + 1 {
                played.push(Outputs(outputs));
            }
        }
        Ok(rounds)
    }

    /// Removes the record of a run that was begun ([`Store::begin`]) but could not start: one
    /// with a single session and no event. Returns whether it was removed; a run with any
    /// event, or one that was resumed, is left as it is. Its recorder must be finished first.
    pub async fn forget_unstarted(&self, id: &str) -> Result<bool, StoreError> {
        let removed = on_pool!(&self.pool, |p| sqlx::query(&p.sql(
            "DELETE FROM runs WHERE id = ? AND sessions = 1
               AND NOT EXISTS (SELECT 1 FROM events WHERE run_id = ?)",
        ))
        .bind(id)
        .bind(id)
        .execute(p)
        .await
        .map(|r| r.rows_affected()))
        .map_err(|e| self.err("removing a run that did not start", e))?;
        Ok(removed > 0)
    }

    /// Moves everything in SQLite's write-ahead log into the main file (what `size_bytes`
    /// then reports is the data, not the log). Nothing to do for Postgres, whose size counts
    /// the tables, not its log.
    pub async fn checkpoint(&self) -> Result<(), StoreError> {
        if let Pool::Sqlite(p) = &self.pool {
            sqlx::query("PRAGMA wal_checkpoint(TRUNCATE)")
                .execute(p)
                .await
                .map_err(|e| self.err("checkpointing", e))?;
        }
        Ok(())
    }

    /// Reads outputs stored under a content hash.
    pub async fn output(&self, hash: &str) -> Result<Option<Value>, StoreError> {
        let row: Option<(String,)> = on_pool!(&self.pool, |p| sqlx::query_as(
            &p.sql("SELECT content FROM outputs WHERE hash = ?")
        )
        .bind(hash)
        .fetch_optional(p)
        .await)
        .map_err(|e| self.err("reading an output", e))?;
        Ok(row.and_then(|(c,)| serde_json::from_str(&c).ok()))
    }

    /// A failed query, with the store it failed in and what it was doing.
    pub(crate) fn err(&self, doing: &str, source: sqlx::Error) -> StoreError {
        StoreError::Query {
            path: self.path.clone(),
            doing: doing.to_owned(),
            source,
        }
    }
}

/// The store's tables (what [`Store::size_bytes`] counts on Postgres).
const TABLES: &[&str] = &[
    "melodies",
    "runs",
    "events",
    "outputs",
    "step_results",
    "attempts",
    "cache",
    "pins",
    "settings",
    "files",
];

impl OutputCache for Store {
    fn lookup<'a>(&'a self, key: &'a str) -> BoxFuture<'a, Option<Outputs>> {
        Box::pin(async move {
            let row: Result<Option<(String,)>, _> = on_pool!(&self.pool, |p| {
                sqlx::query_as(&p.sql(
                    "SELECT o.content FROM cache c JOIN outputs o ON o.hash = c.output_hash WHERE c.key = ?",
                ))
                .bind(key)
                .fetch_optional(p)
                .await
            });
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
