//! What the store's tests share: a store on either backend, and `on_both_backends!`, which
//! makes one test of each scenario per backend (`sqlite::NAME` and `postgres::NAME`), so the
//! two backends are held to the same suite rather than to copies of it.

#![allow(dead_code)] // Each test file uses some of these.

use std::path::{Path, PathBuf};

use symphony_store::testing::PgServer;
use symphony_store::Store;

/// Where a test's store lives.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    /// A SQLite file in a temporary folder.
    Sqlite,
    /// A new database on a Postgres server of the test's own.
    Postgres,
}

/// A store location of the test's own, removed (or its server stopped) when dropped.
pub struct TestStore {
    location: PathBuf,
    /// The Postgres server, for Postgres.
    pub server: Option<PgServer>,
    _dir: tempfile::TempDir,
}

impl TestStore {
    /// A new, empty location; `None` when Postgres is asked for and cannot be had (the test
    /// then passes having printed SKIPPED, see `symphony_store::testing`).
    pub fn new(backend: Backend) -> Option<TestStore> {
        let dir = tempfile::tempdir().unwrap();
        let (location, server) = match backend {
            Backend::Sqlite => (dir.path().join("runs.db"), None),
            Backend::Postgres => {
                let server = PgServer::start()?;
                (PathBuf::from(server.database("symphony")), Some(server))
            }
        };
        Some(TestStore {
            location,
            server,
            _dir: dir,
        })
    }

    /// The file, or the database's URL: what `Store::open` is given.
    pub fn location(&self) -> &Path {
        &self.location
    }

    /// Opens the store (again).
    pub async fn open(&self) -> Store {
        Store::open(&self.location).await.unwrap()
    }
}

/// `on_both_backends!(name, …)`: for each `async fn name(backend: Backend)`, a test
/// `sqlite::name` and a test `postgres::name`.
#[macro_export]
macro_rules! on_both_backends {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test]
                async fn $name() {
                    super::$name(super::common::Backend::Sqlite).await
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test]
                async fn $name() {
                    super::$name(super::common::Backend::Postgres).await
                }
            )*
        }
    };
}
