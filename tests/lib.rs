//! Helpers shared by the cross-crate tests in `tests/tests/`.

use std::path::{Path, PathBuf};

/// The repository root.
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("the tests package sits in the repository root")
        .to_path_buf()
}

/// Every `*.melody.json` under `dir` (recursively), sorted.
pub fn melody_files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let Ok(entries) = std::fs::read_dir(dir) else {
        return out;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            out.extend(melody_files(&path));
        } else if path
            .file_name()
            .and_then(|n| n.to_str())
            .is_some_and(|n| n.ends_with(".melody.json"))
        {
            out.push(path);
        }
    }
    out.sort();
    out
}
