//! The SQLite store's files are private to the user: the database and SQLite's `-wal` and
//! `-shm` beside it are 0600, and folders the store creates are 0700.

#![cfg(unix)]
#![allow(clippy::unwrap_used)] // Tests unwrap: a panic is the failure report.

use std::os::unix::fs::PermissionsExt as _;
use std::path::{Path, PathBuf};

use symphony_store::Store;

fn mode(path: &Path) -> u32 {
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

fn beside(path: &Path, suffix: &str) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(suffix);
    PathBuf::from(name)
}

#[tokio::test]
async fn a_new_store_and_the_folders_it_makes_are_private() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let path = dir.path().join("data/symphony/runs.db");
    let store = Store::open(&path).await.unwrap();
    // Written to, so SQLite has made its write-ahead log and shared-memory index.
    store.set_keep_runs(7).await.unwrap();
    assert_eq!(mode(&path), 0o600);
    for suffix in ["-wal", "-shm"] {
        let file = beside(&path, suffix);
        assert!(
            file.exists(),
            "{} exists while the store is open",
            file.display()
        );
        assert_eq!(mode(&file), 0o600, "{}", file.display());
    }
    assert_eq!(mode(&dir.path().join("data")), 0o700);
    assert_eq!(mode(&dir.path().join("data/symphony")), 0o700);
    // A folder that was there is left as it was.
    assert_eq!(mode(dir.path()), 0o755);
    drop(store);
    // The new, empty file became a working store.
    let again = Store::open(&path).await.unwrap();
    assert_eq!(again.keep_runs().await.unwrap(), 7);
}

#[tokio::test]
async fn a_store_made_readable_by_others_is_made_private_when_opened() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("runs.db");
    let store = Store::open(&path).await.unwrap();
    store.set_keep_runs(3).await.unwrap();
    drop(store);
    // As an older version left it.
    for file in [path.clone(), beside(&path, "-wal"), beside(&path, "-shm")] {
        if file.exists() {
            std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o644)).unwrap();
        }
    }
    let store = Store::open(&path).await.unwrap();
    assert_eq!(store.keep_runs().await.unwrap(), 3);
    store.set_keep_runs(4).await.unwrap();
    for file in [path.clone(), beside(&path, "-wal"), beside(&path, "-shm")] {
        assert_eq!(mode(&file), 0o600, "{}", file.display());
    }
}
