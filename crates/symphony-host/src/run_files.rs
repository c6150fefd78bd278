//! `runFile`: a file a run's step wrote, read from the run workspace's `files/` folder, with
//! the same file of the run it was forked from.
//!
//! Confined twice: the path names a file inside `files/` (relative, no `..`, and resolved
//! through the file system so a symbolic link cannot lead out), and the workspace itself must
//! be inside the project folder. A run records its workspace as it was given (the app's are
//! `runs/<id>` in the project; a relative one, as `symphony run` records it, is taken from the
//! project folder), so a store shared with runs made elsewhere cannot make the app, or
//! `symphony serve`, read files outside the project.

use std::io::Read;
use std::path::{Component, Path, PathBuf};

use crate::error::HostError;
use crate::wire::RunFileContent;
use crate::Host;

/// Larger files are not sent as text.
pub const TEXT_LIMIT: u64 = 1 << 20;

impl Host {
    /// `runFile`: the file at `path` (relative to `files/`) of run `run_id`.
    pub async fn run_file(&self, run_id: &str, path: &str) -> Result<RunFileContent, HostError> {
        let rel = checked(path)?;
        let store = self.store().await?;
        let run = store.run(run_id).await?;
        let file = self.workspace_file(run_id, run.workspace.as_deref(), path, &rel)?;
        let (text, bytes, note) = read_text(&file, path)?;
        let previous = match &run.summary.parent_id {
            Some(parent) => self.previous(parent, path, &rel).await,
            None => None,
        };
        Ok(RunFileContent {
            path: rel
                .components()
                .map(|c| c.as_os_str().to_string_lossy())
                .collect::<Vec<_>>()
                .join("/"),
            text,
            bytes,
            previous,
            note,
        })
    }

    /// The same file in the parent run, as text, when it is there and can be shown.
    async fn previous(&self, parent: &str, path: &str, rel: &Path) -> Option<String> {
        let store = self.store().await.ok()?;
        let run = store.run(parent).await.ok()?;
        let file = self
            .workspace_file(parent, run.workspace.as_deref(), path, rel)
            .ok()?;
        read_text(&file, path).ok()?.0
    }

    /// The file `rel` of a run's `files/` folder, resolved, and confined to that folder and to
    /// the project.
    fn workspace_file(
        &self,
        run_id: &str,
        workspace: Option<&str>,
        path: &str,
        rel: &Path,
    ) -> Result<PathBuf, HostError> {
        let root = self.root();
        let Some(workspace) = workspace else {
            return Err(HostError::BadPath {
                path: path.to_owned(),
                why: format!("run `{run_id}` kept no workspace, so it has no files"),
            });
        };
        let workspace = self.project_workspace(Path::new(workspace))?;
        let outside = || HostError::OutsideProject {
            path: workspace.display().to_string(),
            root: root.to_owned(),
        };
        let files = workspace.join("files");
        let files = files.canonicalize().map_err(|e| HostError::Read {
            path: format!("{}/files", workspace.display()),
            source: e,
        })?;
        if !files.starts_with(root) {
            return Err(outside());
        }
        let file = files
            .join(rel)
            .canonicalize()
            .map_err(|e| HostError::Read {
                path: path.to_owned(),
                source: e,
            })?;
        if !file.starts_with(&files) {
            return Err(HostError::BadPath {
                path: path.to_owned(),
                why: "it leads out of the run's files folder (a symbolic link)".into(),
            });
        }
        Ok(file)
    }
}

impl Host {
    /// A run's recorded workspace as a folder inside the project: a relative one (as `symphony
    /// run` records it) is taken from the project folder. Told apart by name first, so nothing
    /// outside the project is even looked at, then through the file system when the folder is
    /// there (or the nearest part of it that is), so a symbolic link cannot lead out. Used by
    /// `runFile`, `continueRun`, and every new run's workspace (`runs/<run id>`).
    pub(crate) fn project_workspace(&self, named: &Path) -> Result<PathBuf, HostError> {
        let root = self.root();
        let outside = || HostError::OutsideProject {
            path: named.display().to_string(),
            root: root.to_owned(),
        };
        if named
            .components()
            .any(|c| matches!(c, Component::ParentDir))
        {
            return Err(outside());
        }
        let folder = root.join(named);
        if !folder.starts_with(root) {
            return Err(outside());
        }
        // The nearest existing part resolved: a link on the way (`runs` itself, say) cannot
        // lead out, even before the folder is made.
        if symphony_conductor::workspace::leads_outside(root, &folder).is_some() {
            return Err(outside());
        }
        Ok(folder)
    }
}

/// The path as given, if it is a plain relative path: not empty, no `..`, not absolute.
fn checked(path: &str) -> Result<PathBuf, HostError> {
    let bad = |why: &str| HostError::BadPath {
        path: path.to_owned(),
        why: why.to_owned(),
    };
    let given = crate::project::named(path)?;
    let mut rel = PathBuf::new();
    for c in given.components() {
        match c {
            Component::Normal(part) => rel.push(part),
            Component::CurDir => {}
            Component::ParentDir => {
                return Err(bad(
                    "`..` is not allowed; name the file relative to the run's files folder",
                ))
            }
            Component::RootDir | Component::Prefix(_) => {
                return Err(bad("name the file relative to the run's files folder"))
            }
        }
    }
    if rel.as_os_str().is_empty() {
        return Err(bad("the path names no file"));
    }
    Ok(rel)
}

/// A file's text when it is UTF-8 and at most [`TEXT_LIMIT`] bytes, its size, and otherwise
/// why there is no text.
fn read_text(file: &Path, path: &str) -> Result<(Option<String>, u64, Option<String>), HostError> {
    let read = |source| HostError::Read {
        path: path.to_owned(),
        source,
    };
    let meta = std::fs::metadata(file).map_err(read)?;
    if !meta.is_file() {
        return Err(HostError::BadPath {
            path: path.to_owned(),
            why: "not a file".into(),
        });
    }
    let mut bytes = meta.len();
    if bytes <= TEXT_LIMIT {
        let mut content = Vec::with_capacity(bytes as usize);
        std::fs::File::open(file)
            .and_then(|f| f.take(TEXT_LIMIT + 1).read_to_end(&mut content))
            .map_err(read)?;
        // It may have grown since: what was read is what counts.
        bytes = content.len() as u64;
        if bytes <= TEXT_LIMIT {
            return Ok(match String::from_utf8(content) {
                Ok(text) => (Some(text), bytes, None),
                Err(_) => (
                    None,
                    bytes,
                    Some("not UTF-8 text (a binary file?); open it in the run's workspace".into()),
                ),
            });
        }
    }
    Ok((
        None,
        bytes,
        Some(format!(
            "{bytes} bytes: too large to show here (the board shows files up to 1 MiB); open it in the run's workspace"
        )),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_plain_relative_paths_are_taken() {
        assert_eq!(checked("a/b.md").unwrap(), PathBuf::from("a/b.md"));
        assert_eq!(checked("./a.md").unwrap(), PathBuf::from("a.md"));
        for bad in ["", " ", "../x", "a/../../x", "/etc/passwd", ".", "a\0b"] {
            assert!(checked(bad).is_err(), "{bad:?}");
        }
    }
}
