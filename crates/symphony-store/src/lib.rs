//! The run store: every run, its append-only event log, each step's result and attempts, and
//! step outputs stored once by content hash, through sqlx: in one SQLite file by default, or
//! in a Postgres database a team shares (a `postgres://` URL where a path would go). Both
//! backends sit behind the same [`Store`]; `db.rs` holds the little that differs.
//!
//! **Architecture Invariant:** this crate is the only one that speaks SQL. The conductor knows
//! nothing of it: a host hands each [`EventRecord`] of a run to a [`Recorder`], which returns at
//! once and writes in batched transactions on a task of its own, and gives the conductor the
//! store as its [`OutputCache`].
//!
//! Durability: SQLite runs in WAL mode with `synchronous = NORMAL`, so a committed batch
//! survives the process being killed (not necessarily a power cut); Postgres keeps what it
//! committed as its server is configured to. A run killed mid-way keeps
//! every step that finished before the last commit; [`Store::resume`] hands those outputs back
//! to the conductor so they are not played again.

mod db;
mod export;
mod packing;
mod pins;
mod players;
mod queries;
#[cfg(feature = "testing")]
pub mod testing;
mod writer;

use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::time::Duration;

use serde_json::{Map, Value};
use sha2::{Digest, Sha256};
use sqlx::postgres::{PgConnectOptions, PgConnection, PgPoolOptions};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::Connection;
use symphony_conductor::{BoxFuture, OutputCache, Outputs};

use db::{on_pool, Dialect, Pool};

pub use export::{Pruned, StepDiff};
pub use pins::{Pin, RunSource, DEFAULT_KEEP_RUNS};
pub use players::{played_elsewhere, SILENT_AFTER_MS};
pub use queries::{EventLog, FileRow, RunDetail, RunListing, RunSummary, StepRow, StoredEvent};
pub use writer::Recorder;

/// Embedded migrations of a SQLite store (`migrations/sqlite/NNNN_*.sql`), applied in order
/// when a store opens. They were in `migrations/` before Postgres came: moving them kept their
/// versions and checksums, which is all sqlx records, so older stores open unchanged.
static SQLITE_MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/sqlite");

/// Embedded migrations of a Postgres store (`migrations/postgres/NNNN_*.sql`): the same
/// schema, numbered alike, in Postgres types. sqlx applies them under `pg_advisory_lock`, so
/// processes opening one database at once take turns.
static POSTGRES_MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/postgres");

/// How long a statement waits for a lock another process holds before failing (SQLite's
/// busy timeout, Postgres's `lock_timeout`).
const LOCK_WAIT: Duration = Duration::from_secs(10);

/// What went wrong with the store, said so a person can act on it.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The database cannot be opened or set up.
    #[error("cannot open the run store `{path}`: {message}")]
    Open {
        /// The file, or the Postgres URL (password hidden).
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
        /// The file, or the Postgres URL (password hidden).
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
    /// Another process resumed the run while this one was not heard from.
    #[error("run `{id}` was resumed by {by} while this process was not heard from (asleep, or cut off from the run store); this process stops playing it and leaves it to that one")]
    ResumedElsewhere {
        /// The run.
        id: String,
        /// Who resumed it.
        by: String,
    },
}

/// Whether a migration failed because another process was applying it at the same time:
/// it created a table (or added a column, `0004_players`) just before this one tried, or
/// recorded the migration first, or held the file. Trying again then finds it applied.
fn raced(e: &sqlx::migrate::MigrateError) -> bool {
    raced_text(&e.to_string())
}

fn raced_text(text: &str) -> bool {
    [
        "already exists",
        "duplicate column name",
        "UNIQUE constraint failed",
        "database is locked",
    ]
    .iter()
    .any(|m| text.contains(m))
}

/// What to do about a database error a person can act on: SQLite's primary result codes,
/// Postgres's SQLSTATEs, and a server that cannot be reached.
fn hint(e: &sqlx::Error) -> &'static str {
    match e {
        sqlx::Error::Database(db)
            if db
                .try_downcast_ref::<sqlx::postgres::PgDatabaseError>()
                .is_some() =>
        {
            postgres_hint(db.code().as_deref().unwrap_or_default())
        }
        sqlx::Error::Database(db) => sqlite_hint(db.code().as_deref()),
        sqlx::Error::Io(_) | sqlx::Error::PoolTimedOut | sqlx::Error::Tls(_) => {
            " (the database server cannot be reached: is it running, and is the URL above right? what was written before is kept)"
        }
        _ => "",
    }
}

/// Makes a SQLite store's file private to the user before SQLite opens it (runs hold prompts,
/// outputs and code). On Unix: missing folders are created 0700 (a folder that exists is left
/// as it is); a missing file is created empty with mode 0600 (SQLite takes an empty file for a
/// new database, and gives its `-wal` and `-shm` files the database file's mode); an existing
/// file, and its `-wal` and `-shm`, lose any group and other permission (a store made by an
/// older version was 0644). Elsewhere the folder is created and files keep their folder's ACL.
/// Returns why, as the error message of `Store::open`.
fn private_sqlite_file(path: &Path) -> Result<(), String> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        let mut builder = std::fs::DirBuilder::new();
        builder.recursive(true);
        #[cfg(unix)]
        std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
        builder
            .create(dir)
            .map_err(|e| format!("cannot create the folder `{}`: {e}", dir.display()))?;
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::{OpenOptionsExt as _, PermissionsExt as _};
        match std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(path)
        {
            Ok(_) => {}
            // It exists (or another process made it first): it is SQLite's to judge.
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
            Err(e) => return Err(format!("cannot create it: {e}")),
        }
        let mut files = vec![path.to_owned()];
        for suffix in ["-wal", "-shm"] {
            let mut name = path.as_os_str().to_owned();
            name.push(suffix);
            files.push(PathBuf::from(name));
        }
        for file in files {
            // Not through a link: a store file is the user's own, in the user's own folder.
            let Ok(meta) = std::fs::symlink_metadata(&file) else {
                continue;
            };
            let mode = meta.permissions().mode() & 0o7777;
            if meta.is_file() && mode & 0o077 != 0 {
                if let Err(e) =
                    std::fs::set_permissions(&file, std::fs::Permissions::from_mode(mode & !0o077))
                {
                    tracing::warn!(
                        "the run store file `{}` can be read by others (mode {mode:o}) and could not be made private: {e}",
                        file.display()
                    );
                }
            }
        }
    }
    Ok(())
}

/// Hints for SQLite's primary result codes.
fn sqlite_hint(code: Option<&str>) -> &'static str {
    match code.and_then(|c| c.parse::<i32>().ok()).map(|c| c & 0xff) {
        Some(13) => " (the disk is full: nothing already written is lost; free some space, then `symphony resume RUN` continues an unfinished run)",
        Some(5 | 6) => " (another process kept the run store locked for more than 10 s; nothing was written, try again when it is done)",
        Some(11 | 26) => " (the file is damaged or not a run store: keep a copy, then `sqlite3 FILE .recover` may save what it holds, or point --store at a new file)",
        Some(8) => " (the file is read-only: check its permissions)",
        _ => "",
    }
}

/// Hints for Postgres's SQLSTATEs.
fn postgres_hint(sqlstate: &str) -> &'static str {
    match sqlstate {
        "53100" => " (the database server's disk is full: nothing already written is lost; once space is freed there, `symphony resume RUN` continues an unfinished run)",
        "53200" | "53300" => " (the database server is out of memory or connections; try again later, or ask its administrator)",
        "55P03" => " (another process kept the run store locked for more than 10 s; nothing was written, try again when it is done)",
        "40P01" | "40001" => " (another process was writing the same rows at the same moment; nothing was written, try again)",
        "42501" => " (the database user may not do this: the store creates and writes its own tables; ask the database's owner for the rights)",
        "25006" => " (the server is read-only, a standby perhaps: point --store at the primary)",
        s if s.starts_with("08") || s.starts_with("57P") => " (the connection to the database server was lost: is it running? what was written before is kept)",
        _ => "",
    }
}

/// The run store.
#[derive(Clone)]
pub struct Store {
    pool: Pool,
    /// The SQLite file, or the Postgres URL with its password hidden: what messages name.
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

    /// Opens the store at `path` and brings its schema up to date: a SQLite file (created if
    /// needed), or, when `path` is a `postgres://` (or `postgresql://`) URL, a database on a
    /// Postgres server (which must exist; the store creates its tables in it).
    pub async fn open(path: &Path) -> Result<Store, StoreError> {
        match path.to_str() {
            Some(url) if db::is_postgres_url(url) => Store::open_postgres(url).await,
            _ => Store::open_sqlite(path).await,
        }
    }

    async fn open_sqlite(path: &Path) -> Result<Store, StoreError> {
        let fail = |message: String| StoreError::Open {
            path: path.to_owned(),
            message,
        };
        // The folder (0700 when made here) and the file (0600), before SQLite opens it: SQLite
        // gives its `-wal` and `-shm` files the mode of the database file. Off the runtime.
        let owned = path.to_owned();
        tokio::task::spawn_blocking(move || private_sqlite_file(&owned))
            .await
            .map_err(|e| fail(format!("the task preparing the file failed: {e}")))?
            .map_err(fail)?;
        let url = format!("sqlite://{}", path.display());
        let options = SqliteConnectOptions::from_str(&url)
            .map_err(|e| fail(e.to_string()))?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal)
            .foreign_keys(true)
            // Another process writing: wait for it rather than fail at once.
            .busy_timeout(LOCK_WAIT);
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
            match SQLITE_MIGRATOR.run(&pool).await {
                Ok(()) => break,
                Err(e) if tries < 20 && raced(&e) => {
                    tries += 1;
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
                Err(e) => return Err(fail(format!("cannot bring its schema up to date: {e}; if the file is damaged, move it aside and a new store is started"))),
            }
        }
        Ok(Store {
            pool: Pool::Sqlite(pool),
            path: path.to_owned(),
        })
    }

    async fn open_postgres(url: &str) -> Result<Store, StoreError> {
        let shown = db::redacted(url);
        let fail = |message: String| StoreError::Open {
            path: PathBuf::from(&shown),
            message,
        };
        let options = PgConnectOptions::from_str(url)
            .map_err(|e| {
                fail(format!(
                    "{e}: a Postgres store is named by a URL such as postgres://USER@HOST/DATABASE"
                ))
            })?
            .application_name("symphony")
            // Another process holding rows a statement needs: wait for it, then fail with a
            // hint, as SQLite's busy timeout does, rather than wait for ever.
            .options([("lock_timeout", format!("{}ms", LOCK_WAIT.as_millis()))]);
        // One connection first: the pool would retry a refused connection until its timeout
        // and then say only that it timed out, where this says why at once.
        PgConnection::connect_with(&options)
            .await
            .map_err(|e| fail(explain_open_postgres(&e, &shown)))?
            .close()
            .await
            .map_err(|e| fail(explain_open_postgres(&e, &shown)))?;
        let pool = PgPoolOptions::new()
            .max_connections(4)
            .acquire_timeout(LOCK_WAIT)
            .connect_with(options)
            .await
            .map_err(|e| fail(explain_open_postgres(&e, &shown)))?;
        // sqlx's Postgres migrator holds `pg_advisory_lock` while it works, so processes
        // opening a new database at once take turns and the later ones find it migrated.
        POSTGRES_MIGRATOR.run(&pool).await.map_err(|e| {
            fail(format!(
                "cannot bring its schema up to date: {e}; if the database holds tables of another program, give the store a database of its own (`createdb symphony`)"
            ))
        })?;
        Ok(Store {
            pool: Pool::Postgres(pool),
            path: PathBuf::from(shown),
        })
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
                "INSERT INTO runs (id, melody_hash, melody_id, parent_id, fork_step, inputs, options, workspace, status, started_at, player, heard_at)
                 VALUES (?, ?, ?, ?, ?, ?, ?, ?, 'running', ?, ?, ?)",
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
            let (sessions, status, player, heard_at): (i64, String, Option<String>, Option<i64>) =
                sqlx::query_as(
                    &p.sql("SELECT sessions, status, player, heard_at FROM runs WHERE id = ?"),
                )
                .bind(id)
                .fetch_one(p)
                .await
                .map_err(|e| self.err("reading the run", e))?;
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

    fn err(&self, doing: &str, source: sqlx::Error) -> StoreError {
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

/// Says why a Postgres server would not give the store a connection, and what to do.
fn explain_open_postgres(e: &sqlx::Error, url: &str) -> String {
    let code = match e {
        sqlx::Error::Database(db) => db.code().map(|c| c.into_owned()),
        _ => None,
    };
    let what = match (e, code.as_deref()) {
        (sqlx::Error::Io(io), _) if io.kind() == std::io::ErrorKind::ConnectionRefused => {
            format!("is the Postgres server running, and listening where the URL says? the URL is {url}")
        }
        (sqlx::Error::Io(_) | sqlx::Error::PoolTimedOut, _) => {
            format!("the server cannot be reached: check the host and port of the URL ({url}) and the network")
        }
        (_, Some("3D000")) => {
            "the database does not exist: create it (`createdb NAME`, or `CREATE DATABASE` as its owner), or name another one in the URL".to_owned()
        }
        (_, Some("28P01" | "28000")) => {
            "the server refused the user: check the user and password in the URL (or ~/.pgpass) and the server's pg_hba.conf".to_owned()
        }
        (_, Some("53300")) => "the server has no connection left: try again later".to_owned(),
        _ => return e.to_string(),
    };
    format!("{e}: {what}")
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

#[cfg(test)]
mod tests {
    use super::*;

    /// sqlx records each applied migration's version and checksum, and refuses a store whose
    /// record differs from the migrations it embeds. These are the values stores made before
    /// the migrations moved to `migrations/sqlite/` hold: a migration must never change.
    #[test]
    fn sqlite_migrations_are_those_existing_stores_recorded() {
        let recorded = [
            (1, "95ADE71107FF0A0D1C78855AE9DFBDF82F605C0D729BD1795FE78D878B8B375A8AF1D4933FED6E49BFA85316344D2951"),
            (2, "6E071D84CBCE951640DBDA534D21328482EF8D97A98275F0D557C62F6437A4206243256D5CD1D380DB750F603E3AC920"),
            (3, "C5592B7A30EB6FA62C03FA2D6359F474374139426BBF6CBEBF8B2060AD9BCB942C2A9B769BB6C141255EC4D7BD10765D"),
            (4, "C7AB9AA79BF585B09FA3432B9B718B177C7B90466AE7FA8B376D28B67F5FCF7FB2E47B173E2A952D17691E63787949DA"),
        ];
        let embedded: Vec<(i64, String)> = SQLITE_MIGRATOR
            .iter()
            .map(|m| {
                let hex = m.checksum.iter().map(|b| format!("{b:02X}")).collect();
                (m.version, hex)
            })
            .collect();
        for (version, checksum) in recorded {
            assert!(
                embedded.contains(&(version, checksum.to_owned())),
                "migration {version} changed: {embedded:?}"
            );
        }
        let versions =
            |m: &sqlx::migrate::Migrator| m.iter().map(|m| m.version).collect::<Vec<_>>();
        assert_eq!(
            versions(&SQLITE_MIGRATOR),
            versions(&POSTGRES_MIGRATOR),
            "each migration is written for both backends"
        );
    }

    #[test]
    fn a_migration_another_process_applied_first_is_taken_as_a_race() {
        // What each backend says when a migration's table or column was made meanwhile.
        for text in [
            "while executing migration 4: error returned from database: (code: 1) duplicate column name: player",
            "while executing migration 4: error returned from database: column \"player\" of relation \"runs\" already exists",
            "while executing migration 1: error returned from database: (code: 1) table melodies already exists",
            "error returned from database: (code: 2067) UNIQUE constraint failed: _sqlx_migrations.version",
            "error returned from database: (code: 5) database is locked",
        ] {
            assert!(raced_text(text), "{text}");
        }
        assert!(!raced_text(
            "while executing migration 4: error returned from database: (code: 11) database disk image is malformed"
        ));
    }
}
