//! What can go wrong with the store, said so a person can act on it: [`StoreError`], and the
//! hints added to a database's error (SQLite's result codes, Postgres's SQLSTATEs, a server that
//! cannot be reached).

use std::path::PathBuf;

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
    /// A gate cannot take an answer.
    #[error("gate `{step}` of run `{run}` cannot be answered: {why}")]
    NotAnswerable {
        /// The run.
        run: String,
        /// The gate step.
        step: String,
        /// Why, and what is known of it.
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
