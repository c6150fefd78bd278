//! The run store when something else is wrong: another process holds the database locked.
//! (A full disk and two processes writing at once are tested through the real binary, in
//! symphony-cli's tests/faults.rs.)

#![allow(clippy::unwrap_used)] // Tests unwrap: a panic is the failure report.

use serde_json::{json, Map};
use sqlx::{Connection, Executor, SqliteConnection};
use symphony_store::{NewRun, Store};

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

#[tokio::test]
async fn a_store_locked_by_another_process_gets_a_clear_error_and_loses_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("runs.db");
    let store = Store::open(&path).await.unwrap();
    store
        .begin(new_run("before"))
        .await
        .unwrap()
        .finish()
        .await
        .unwrap();

    // Another writer takes the database and keeps it past the store's 10 s patience.
    let mut other = SqliteConnection::connect(&format!("sqlite://{}", path.display()))
        .await
        .unwrap();
    other.execute("BEGIN IMMEDIATE").await.unwrap();
    let err = match store.begin(new_run("while-locked")).await {
        Ok(_) => panic!("a run began while another process held the store"),
        Err(e) => e.to_string(),
    };
    assert!(
        err.contains("database is locked")
            && err.contains("another process kept the run store locked"),
        "{err}"
    );
    other.execute("COMMIT").await.unwrap();

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
