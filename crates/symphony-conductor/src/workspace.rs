//! The run workspace: the folder a run writes into.
//!
//! ```text
//! <workspace>/
//!   run.json                 the run: id, melody, inputs, status and totals (rewritten at the end)
//!   melody.json              the melody exactly as it was played (canonical bytes)
//!   steps/<step-id>/output.json   each step's outputs, written as the step finishes
//!   steps/<step-id>/output.txt    the `output` port again as plain text, when it is text
//!   files/                   files produced by steps (operator.file.write), confined here
//!   result.json              the final result: the outputs of the steps nothing else reads
//! ```
//!
//! **Architecture Invariant:** no step writes outside `files/`. Paths from steps are relative,
//! may not contain `..`, and are never written through a symbolic link: directories are checked
//! as they are walked, and files are written to an exclusive, randomly named temporary file and
//! renamed into place (a rename replaces a link, it never follows one; see [`crate::atomic`]).

use std::fs;
use std::path::{Component, Path, PathBuf};

use serde_json::Value;

use crate::step::{ErrorKind, StepError};

/// A run workspace on disk.
#[derive(Debug)]
pub struct Workspace {
    root: PathBuf,
    files: PathBuf,
}

/// Where `path` (inside `base`, perhaps not made yet) really leads, when that is outside `base`:
/// the nearest part of it that exists is resolved through the file system, so a symbolic link
/// on the way (a `runs` folder that is a link a shared project planted) is seen before a run
/// writes through it. `None` when it stays inside. `base` should be canonical.
pub fn leads_outside(base: &Path, path: &Path) -> Option<PathBuf> {
    let mut probe = path;
    loop {
        if let Ok(real) = probe.canonicalize() {
            return (!real.starts_with(base)).then_some(real);
        }
        match probe.parent() {
            Some(parent) if !parent.as_os_str().is_empty() => probe = parent,
            _ => return None,
        }
    }
}

impl Workspace {
    /// Creates (or reuses) the workspace at `root` with its `steps/` and `files/` folders.
    pub fn create(root: &Path) -> std::io::Result<Workspace> {
        fs::create_dir_all(root.join("steps"))?;
        fs::create_dir_all(root.join("files"))?;
        let root = root.canonicalize()?;
        Ok(Workspace {
            files: root.join("files"),
            root,
        })
    }

    /// The workspace folder.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The folder of files produced by steps.
    pub fn files_dir(&self) -> &Path {
        &self.files
    }

    /// Writes a file of the run itself (`run.json`, `steps/plan/output.json`), atomically.
    pub fn write_record(&self, relative: &str, value: &Value) -> std::io::Result<()> {
        let path = self.root.join(relative);
        if let Some(parent) = path.parent() {
            fs::create_dir_all(parent)?;
        }
        let mut bytes = serde_json::to_vec_pretty(value)?;
        bytes.push(b'\n');
        write_atomic(&path, &bytes)
    }

    /// Writes raw bytes of the run itself, atomically.
    pub fn write_record_bytes(&self, relative: &str, bytes: &[u8]) -> std::io::Result<()> {
        let path = self.root.join(relative);
        if let Some(parent) = path.parent() {
            fs::create_dir_all(parent)?;
        }
        write_atomic(&path, bytes)
    }

    /// Writes a file produced by a step under `files/`, refusing any path that could land
    /// outside it. Returns the path relative to `files/`. Blocking: call from a blocking task.
    pub fn write_file(&self, relative: &str, bytes: &[u8]) -> Result<String, StepError> {
        let refuse = |why: String| {
            StepError::fatal(
                ErrorKind::Refused,
                format!("refused to write `{relative}`: {why}"),
            )
        };
        if relative.is_empty() {
            return Err(refuse("the path is empty".into()));
        }
        // A rendered path can bring a line break from an input: a file name must not hold one.
        if let Some(c) = relative.chars().find(|c| c.is_control()) {
            return Err(refuse(format!(
                "the path holds {}; a file name is one line of printable characters",
                symphony_melody::control_name(c)
            )));
        }
        let path = Path::new(relative);
        let mut parts = Vec::new();
        for c in path.components() {
            match c {
                Component::Normal(p) => parts.push(p),
                Component::CurDir => {}
                Component::ParentDir => {
                    return Err(refuse(
                        "`..` is not allowed; files stay inside the run workspace".into(),
                    ))
                }
                Component::RootDir | Component::Prefix(_) => {
                    return Err(refuse(
                        "absolute paths are not allowed; give a path relative to the workspace's files/ folder"
                            .into(),
                    ))
                }
            }
        }
        let Some((name, dirs)) = parts.split_last() else {
            return Err(refuse("the path names no file".into()));
        };
        let io = |e: std::io::Error, at: &Path| {
            StepError::fatal(ErrorKind::Io, format!("writing `{}`: {e}", at.display()))
        };
        let mut dir = self.files.clone();
        for part in dirs {
            dir.push(part);
            match fs::symlink_metadata(&dir) {
                Ok(meta) if meta.file_type().is_symlink() => {
                    return Err(refuse(format!(
                        "`{}` is a symbolic link; steps may not write through links",
                        dir.strip_prefix(&self.files).unwrap_or(&dir).display()
                    )))
                }
                Ok(meta) if meta.is_dir() => {}
                Ok(_) => {
                    return Err(refuse(format!(
                        "`{}` is a file, not a folder",
                        dir.strip_prefix(&self.files).unwrap_or(&dir).display()
                    )))
                }
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => match fs::create_dir(&dir) {
                    Ok(()) => {}
                    // Another step made it first (map items write in parallel): check it again.
                    Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                        let meta = fs::symlink_metadata(&dir).map_err(|e| io(e, &dir))?;
                        if !meta.is_dir() || meta.file_type().is_symlink() {
                            return Err(refuse(format!(
                                "`{}` appeared as something other than a folder",
                                dir.strip_prefix(&self.files).unwrap_or(&dir).display()
                            )));
                        }
                    }
                    Err(e) => return Err(io(e, &dir)),
                },
                Err(e) => return Err(io(e, &dir)),
            }
        }
        let target = dir.join(name);
        if let Ok(meta) = fs::symlink_metadata(&target) {
            if meta.is_dir() {
                return Err(refuse("a folder of that name exists".into()));
            }
        }
        write_atomic(&target, bytes).map_err(|e| io(e, &target))?;
        Ok(parts
            .iter()
            .map(|p| p.to_string_lossy())
            .collect::<Vec<_>>()
            .join("/"))
    }
}

/// Writes through an exclusive, randomly named temporary file renamed into place, so a reader
/// (or a crash) never sees half a file and a symbolic link at `path`, or at any temporary name,
/// is replaced or refused, never followed (see [`crate::atomic`]).
fn write_atomic(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    crate::atomic::write_atomic(path, bytes, crate::atomic::Access::Shared)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_inside_and_refuses_escapes() {
        let dir = tempfile::tempdir().unwrap();
        let ws = Workspace::create(dir.path()).unwrap();
        assert_eq!(
            ws.write_file("src/./main.rs", b"fn main() {}").unwrap(),
            "src/main.rs"
        );
        assert_eq!(
            fs::read_to_string(ws.files_dir().join("src/main.rs")).unwrap(),
            "fn main() {}"
        );
        for bad in ["../x", "a/../../x", "/etc/passwd", "", "a/b/.."] {
            let e = ws.write_file(bad, b"x").unwrap_err();
            assert_eq!(e.kind, ErrorKind::Refused, "{bad}: {e}");
        }
    }

    #[test]
    fn never_writes_through_symlinks() {
        let dir = tempfile::tempdir().unwrap();
        let outside = tempfile::tempdir().unwrap();
        let ws = Workspace::create(dir.path()).unwrap();
        std::os::unix::fs::symlink(outside.path(), ws.files_dir().join("link")).unwrap();
        let e = ws.write_file("link/evil.txt", b"x").unwrap_err();
        assert!(e.message.contains("symbolic link"), "{e}");
        // A link as the final name is replaced, not followed.
        let target = outside.path().join("secret.txt");
        fs::write(&target, "keep").unwrap();
        std::os::unix::fs::symlink(&target, ws.files_dir().join("name.txt")).unwrap();
        ws.write_file("name.txt", b"new").unwrap();
        assert_eq!(fs::read_to_string(&target).unwrap(), "keep");
        assert!(!fs::symlink_metadata(ws.files_dir().join("name.txt"))
            .unwrap()
            .file_type()
            .is_symlink());
        assert!(fs::read_dir(outside.path()).unwrap().count() == 1);
    }
}
