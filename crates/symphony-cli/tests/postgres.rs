//! A run store on a Postgres server, through the real binary: a melody played with
//! `--store postgres://…` is read back by another invocation that finds the store through
//! `SYMPHONY_DB`, and a rerun takes its unchanged steps from the shared cache.

#![allow(clippy::unwrap_used)] // Tests unwrap: a panic is the failure report.

use serde_json::json;
use symphony_store::testing::PgServer;

mod common;
use common::{chain, finish, of_type, symphony};

#[test]
fn a_melody_played_into_postgres_reads_back_from_another_invocation() {
    let Some(server) = PgServer::start() else {
        return;
    };
    let url = server.database("symphony");
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::write(d.join("chain.melody.json"), chain(0)).unwrap();

    let (code, events, out) = finish(symphony(d).args([
        "run",
        "chain.melody.json",
        "--store",
        &url,
        "--workspace",
        "ws",
        "--json",
    ]));
    assert_eq!(code, 0, "{out}");
    let run = of_type(&events, "runStarted")[0]["runId"]
        .as_str()
        .unwrap()
        .to_owned();
    // No SQLite file was made: the run went to the server.
    assert!(!d.join("runs.db").exists(), "{out}");

    let (code, shown, out) = finish(
        symphony(d)
            .env("SYMPHONY_DB", &url)
            .args(["runs", "show", &run, "--json"]),
    );
    assert_eq!(code, 0, "{out}");
    assert_eq!(shown[0]["status"], json!("succeeded"), "{out}");
    let steps: Vec<&str> = shown[0]["steps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["step"].as_str().unwrap())
        .collect();
    assert_eq!(steps, ["s1", "s2", "s3", "s4", "s5", "save"], "{out}");
    assert_eq!(shown[0]["files"][0]["path"], json!("out.md"), "{out}");

    let (code, _, out) = finish(symphony(d).env("SYMPHONY_DB", &url).args(["runs", "list"]));
    assert_eq!(code, 0, "{out}");
    assert!(
        out.contains(&run) && out.contains(&format!("store: {url}")),
        "{out}"
    );

    // A rerun (as a teammate's would be) finds the instrument steps in the shared cache.
    let (code, events, out) = finish(symphony(d).env("SYMPHONY_DB", &url).args([
        "run",
        "chain.melody.json",
        "--workspace",
        "ws2",
        "--json",
    ]));
    assert_eq!(code, 0, "{out}");
    let rerun = of_type(&events, "runStarted")[0]["runId"]
        .as_str()
        .unwrap()
        .to_owned();
    let (_, shown, out) = finish(
        symphony(d)
            .env("SYMPHONY_DB", &url)
            .args(["runs", "show", &rerun, "--json"]),
    );
    let cached = shown[0]["steps"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|s| s["origin"] == json!("cached"))
        .count();
    assert_eq!(cached, 5, "{out}");
}
