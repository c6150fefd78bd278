//! Opening a store: a SQLite file made private to the user before SQLite opens it, or a
//! connection to a Postgres server, then its schema brought up to date by the embedded,
//! numbered migrations of its backend (with the race of two processes creating one store at
//! once taken as such); an open failure says what to do.

use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::time::Duration;

use sqlx::postgres::{PgConnectOptions, PgConnection, PgPoolOptions};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::Connection;

use crate::db::{self, Pool};
use crate::{Store, StoreError};

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

impl Store {
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

#[cfg(test)]
mod tests {
    use super::*;

    /// sqlx records each applied migration's version and checksum, and refuses a store whose
    /// record differs from the migrations it embeds. These are the values stores made before
    /// the migrations moved to `migrations/sqlite/` hold, and those of each migration since: a
    /// migration must never change.
    #[test]
    fn sqlite_migrations_are_those_existing_stores_recorded() {
        let recorded = [
            (1, "95ADE71107FF0A0D1C78855AE9DFBDF82F605C0D729BD1795FE78D878B8B375A8AF1D4933FED6E49BFA85316344D2951"),
            (2, "6E071D84CBCE951640DBDA534D21328482EF8D97A98275F0D557C62F6437A4206243256D5CD1D380DB750F603E3AC920"),
            (3, "C5592B7A30EB6FA62C03FA2D6359F474374139426BBF6CBEBF8B2060AD9BCB942C2A9B769BB6C141255EC4D7BD10765D"),
            (4, "C7AB9AA79BF585B09FA3432B9B718B177C7B90466AE7FA8B376D28B67F5FCF7FB2E47B173E2A952D17691E63787949DA"),
            (5, "7A8CAF46804426A09F6ECD72A7CBE4CAF87808B09CFE384112B44680F6141F1E87554E505E20608BB6B6F928D06C4BAF"),
            (6, "C410E87DFB16098E240AFF7B2326AE45B9759A9F025A081F07CCBFCE751379D52A0B76F97B63C672D8E853E043C35EE2"),
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
