//! The run store when something else is wrong: another process holds the database locked,
//! on either backend. (A full disk and two processes writing at once are tested through the
//! real binary, in symphony-cli's tests/faults.rs.)

#![allow(clippy::unwrap_used)] // Tests unwrap: a panic is the failure report.

use std::process::{Child, Stdio};
use std::time::Duration;

use serde_json::{json, Map};
use sqlx::{Connection, Executor, SqliteConnection};
use symphony_store::NewRun;

mod common;
use common::{Backend, TestStore};

on_both_backends!(a_store_locked_by_another_process_gets_a_clear_error_and_loses_nothing);

fn new_run(id: &str) -> NewRun<'_> {
    static INPUTS: std::sync::OnceLock<Map<String, serde_json::Value>> = std::sync::OnceLock::new();
    NewRun {
        id,
        melody_bytes: b"{\"formatVersion\": 1}",
        melody_id: "locked",
        melody_name: "Locked",
        inputs: INPUTS.get_or_init(Map::new),
        options: json!({}),
        workspace: None,
        parent: None,
    }
}

/// Another process holding the store locked past its 10 s patience.
enum Holder {
    /// A SQLite connection in `BEGIN IMMEDIATE`.
    Sqlite(SqliteConnection),
    /// `psql` holding an exclusive lock on `melodies` for 12 s.
    Postgres(Child),
}

impl Holder {
    async fn take(at: &TestStore) -> Holder {
        match &at.server {
            None => {
                let url = format!("sqlite://{}", at.location().display());
                let mut other = SqliteConnection::connect(&url).await.unwrap();
                other.execute("BEGIN IMMEDIATE").await.unwrap();
                Holder::Sqlite(other)
            }
            Some(server) => {
                let mut psql = server.psql("symphony");
                let mut child = psql
                    .stdin(Stdio::piped())
                    .stdout(Stdio::null())
                    .spawn()
                    .unwrap();
                let script =
                    "BEGIN; LOCK TABLE melodies IN EXCLUSIVE MODE; SELECT pg_sleep(12); COMMIT;\n";
                std::io::Write::write_all(child.stdin.as_mut().unwrap(), script.as_bytes())
                    .unwrap();
                drop(child.stdin.take());
                // Wait until the lock is held.
                let held = "SELECT count(*) FROM pg_locks WHERE relation = 'melodies'::regclass AND mode = 'ExclusiveLock' AND granted";
                for _ in 0..500 {
                    let out = server
                        .psql("symphony")
                        .args(["-tA", "-c", held])
                        .output()
                        .unwrap();
                    if String::from_utf8_lossy(&out.stdout).trim() == "1" {
                        return Holder::Postgres(child);
                    }
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
                let _ = child.kill();
                let _ = child.wait();
                panic!("psql never took the lock");
            }
        }
    }

    async fn release(self) {
        match self {
            Holder::Sqlite(mut other) => {
                other.execute("COMMIT").await.unwrap();
            }
            Holder::Postgres(mut child) => {
                let status = tokio::task::spawn_blocking(move || child.wait())
                    .await
                    .unwrap()
                    .unwrap();
                assert!(status.success());
            }
        }
    }
}

async fn a_store_locked_by_another_process_gets_a_clear_error_and_loses_nothing(backend: Backend) {
    let Some(at) = TestStore::new(backend) else {
        return;
    };
    let store = at.open().await;
    store
        .begin(new_run("before"))
        .await
        .unwrap()
        .finish()
        .await
        .unwrap();

    // Another writer takes the database and keeps it past the store's 10 s patience.
    let holder = Holder::take(&at).await;
    let err = match store.begin(new_run("while-locked")).await {
        Ok(_) => panic!("a run began while another process held the store"),
        Err(e) => e.to_string(),
    };
    let said = match backend {
        Backend::Sqlite => "database is locked",
        Backend::Postgres => "lock timeout",
    };
    assert!(
        err.contains(said) && err.contains("another process kept the run store locked"),
        "{err}"
    );
    holder.release().await;

    // Once it lets go, the store works again and what it held before is all there.
    store
        .begin(new_run("after"))
        .await
        .unwrap()
        .finish()
        .await
        .unwrap();
    let ids: Vec<String> = store
        .list(10)
        .await
        .unwrap()
        .into_iter()
        .map(|r| r.id)
        .collect();
    assert_eq!(ids.len(), 2, "{ids:?}");
    assert!(ids.contains(&"before".to_owned()) && ids.contains(&"after".to_owned()));
}
