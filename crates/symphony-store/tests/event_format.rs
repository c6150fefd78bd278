//! The version of the events' JSON is kept per run: a run is recorded with this build's
//! `EVENT_FORMAT`, a run of a store made before the version was kept reads as version 1, and a
//! run recorded in another version is not resumed (its log would mix two formats) but says to
//! fork it.

#![allow(clippy::unwrap_used)] // Tests unwrap: a panic is the failure report.

use serde_json::json;
use symphony_conductor::{EventRecord, RunEvent, EVENT_FORMAT};
use symphony_store::{NewRun, Store};

#[tokio::test]
async fn a_run_keeps_its_event_format_and_another_format_is_not_resumed() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("runs.db");
    let store = Store::open(&path).await.unwrap();
    let melody = br#"{"formatVersion": 1, "melody": {"id": "m", "name": "M"}, "steps": []}"#;
    let recorder = store
        .begin(NewRun {
            id: "r",
            melody_bytes: melody,
            melody_id: "m",
            melody_name: "M",
            inputs: &Default::default(),
            options: json!({}),
            workspace: None,
            parent: None,
        })
        .await
        .unwrap();
    recorder.record(&EventRecord {
        at_ms: 0,
        event: RunEvent::RunPaused,
    });
    // Cut short: the run stays `running`, resumable.
    recorder.finish().await.unwrap();
    let log = store.event_log("r", None).await.unwrap();
    assert_eq!(log.format, EVENT_FORMAT);
    assert_eq!(log.events.len(), 1);
    drop(store);

    // The same run as a build with another format would have written it.
    let pool = sqlx::SqlitePool::connect(&format!("sqlite://{}", path.display()))
        .await
        .unwrap();
    sqlx::query("UPDATE runs SET event_format = ? WHERE id = 'r'")
        .bind(i64::from(EVENT_FORMAT) + 1)
        .execute(&pool)
        .await
        .unwrap();
    pool.close().await;

    let store = Store::open(&path).await.unwrap();
    assert_eq!(
        store.event_log("r", None).await.unwrap().format,
        EVENT_FORMAT + 1
    );
    let e = store.resume("r").await.err().unwrap().to_string();
    assert!(
        e.contains(&format!(
            "recorded in version {} of the event format and this Symphony writes version {EVENT_FORMAT}; fork it instead",
            EVENT_FORMAT + 1
        )),
        "{e}"
    );
}
