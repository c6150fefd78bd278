//! A run whose `operator.file.write` steps meet symbolic links planted in the workspace's
//! `files/` folder (what a shared melody's earlier step, or anyone who can write there, could
//! leave): at the file's own name, at the temporary name older versions wrote through, and as
//! a folder on the way. None of them is written through.

#![cfg(unix)]
#![allow(clippy::unwrap_used)] // Tests unwrap: a panic is the failure report.

use std::os::unix::fs::symlink;

use serde_json::{json, Value};
use symphony_conductor::testing::{melody, play};
use symphony_conductor::{Conductor, Registry, RunOptions, RunStatus};

fn write_step(id: &str, path: &str) -> Value {
    json!({
        "id": id, "kind": "operator", "type": "operator.file.write",
        "config": {"path": path, "content": "written by the run"},
        "capabilities": ["files"],
        "policy": {"optional": true}
    })
}

#[tokio::test]
async fn file_write_steps_never_write_through_planted_links() {
    let dir = tempfile::tempdir().unwrap();
    let outside = tempfile::tempdir().unwrap();
    let victim = outside.path().join("victim.txt");
    std::fs::write(&victim, "the user's file").unwrap();

    let ws = dir.path().join("ws");
    let files = ws.join("files");
    std::fs::create_dir_all(&files).unwrap();
    // 1. The step's target is a link to the victim.
    symlink(&victim, files.join("target.txt")).unwrap();
    // 2. The temporary name older versions used (`.{name}.{pid}.tmp`) is a link to the victim.
    let old_tmp = files.join(format!(".tmp-named.txt.{}.tmp", std::process::id()));
    symlink(&victim, &old_tmp).unwrap();
    // 3. A folder on the way is a link out of the workspace.
    symlink(outside.path(), files.join("out")).unwrap();

    let melody = melody(json!({
        "steps": [
            write_step("target", "target.txt"),
            write_step("tmp", "tmp-named.txt"),
            write_step("folder", "out/escaped.txt")
        ]
    }));
    let options = RunOptions {
        run_id: "links".into(),
        workspace: Some(ws.clone()),
        ..RunOptions::default()
    };
    let (report, _) = play(&Conductor::new(Registry::standard()), melody, options).await;
    assert_eq!(report.status, RunStatus::Succeeded, "{report:?}");

    // The victim is untouched and nothing was made beside it.
    assert_eq!(std::fs::read_to_string(&victim).unwrap(), "the user's file");
    assert_eq!(std::fs::read_dir(outside.path()).unwrap().count(), 1);
    // 1. The link was replaced by the step's file.
    let target = std::fs::symlink_metadata(files.join("target.txt")).unwrap();
    assert!(target.is_file());
    assert_eq!(
        std::fs::read_to_string(files.join("target.txt")).unwrap(),
        "written by the run"
    );
    // 2. The link at the old temporary name is left as it was, the file written beside it.
    assert!(std::fs::symlink_metadata(&old_tmp)
        .unwrap()
        .file_type()
        .is_symlink());
    assert_eq!(
        std::fs::read_to_string(files.join("tmp-named.txt")).unwrap(),
        "written by the run"
    );
    // 3. The folder link was refused.
    let folder = report.steps.iter().find(|s| s.id == "folder").unwrap();
    assert!(
        folder.note.as_deref().unwrap().contains("symbolic link"),
        "{folder:?}"
    );
    // No temporary file is left behind.
    let names: Vec<String> = std::fs::read_dir(&files)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(names.len(), 4, "{names:?}");
}
