//! The project folder, and the confinement of every path the UI names to it.
//!
//! The webview has no file access of its own: it names files, and [`Project::resolve`] decides
//! whether the host may touch them. A path is taken relative to the project root (or absolute,
//! inside it); `..` is refused outright, and the path is resolved through the file system
//! (`canonicalize`), so a symbolic link that leads out of the project is refused too. A path
//! about to be written ([`Project::resolve_for_write`]) is not followed at its own name: a
//! symbolic link there is refused, and the write replaces whatever is at that name.

use std::path::{Component, Path, PathBuf};

use crate::error::HostError;

/// The folder melodies live in, relative to the root.
pub const MELODIES_DIR: &str = "melodies";

/// Where a project keeps melodies to start new ones from, relative to its root.
pub const TEMPLATES_DIR: &str = "templates";

/// A project folder, and the files outside it the user picked in a native file dialog.
#[derive(Debug, Clone)]
pub struct Project {
    root: PathBuf,
    /// Files outside the root the user chose in the desktop app's own dialog (never a path the
    /// webview names): each may be opened and saved, nothing next to it.
    admitted: std::sync::Arc<std::sync::RwLock<std::collections::BTreeSet<PathBuf>>>,
}

/// A path inside the project.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Confined {
    /// The absolute path, symbolic links resolved.
    pub abs: PathBuf,
    /// Relative to the root, with `/`: how the UI names it.
    pub rel: String,
}

impl Project {
    /// The project at `root`, which must be an existing folder.
    pub fn open(root: &Path) -> Result<Project, HostError> {
        let root = root.canonicalize().map_err(|e| HostError::Project {
            path: root.to_owned(),
            why: e.to_string(),
        })?;
        if !root.is_dir() {
            return Err(HostError::Project {
                path: root,
                why: "it is not a folder".into(),
            });
        }
        Ok(Project {
            root,
            admitted: Default::default(),
        })
    }

    /// Admits one file outside the project, chosen by the user in a native dialog the host
    /// process showed (so not a path the webview made up). It must be a `*.melody.json` in an
    /// existing folder. Returns the name the UI then uses for it: its absolute path.
    pub fn admit(&self, path: &Path) -> Result<String, HostError> {
        let shown = path.display().to_string();
        let bad = |why: String| HostError::BadPath {
            path: shown.clone(),
            why,
        };
        let name = path
            .file_name()
            .and_then(|n| n.to_str())
            .filter(|n| n.ends_with(".melody.json"))
            .ok_or_else(|| bad("a melody file's name ends in .melody.json".into()))?;
        let parent = path
            .parent()
            .ok_or_else(|| bad("the path has no folder".into()))?
            .canonicalize()
            .map_err(|e| bad(format!("its folder cannot be used: {e}")))?;
        let abs = parent.join(name);
        if let Ok(meta) = std::fs::symlink_metadata(&abs) {
            if meta.file_type().is_symlink() {
                return Err(bad("a symbolic link; choose the file it points to".into()));
            }
        }
        self.admitted
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .insert(abs.clone());
        Ok(abs.display().to_string())
    }

    fn is_admitted(&self, abs: &Path) -> bool {
        self.admitted
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .contains(abs)
    }

    /// The project folder (absolute, canonical).
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Resolves a path the UI names to one inside the project.
    ///
    /// An existing path is canonicalized and must stay inside the root. A path that does not
    /// exist yet (a file about to be saved) must have an existing parent inside the root, and
    /// no `..` anywhere. Empty paths, `..` and paths that leave the project are refused with an
    /// error that says so.
    pub fn resolve(&self, path: &str) -> Result<Confined, HostError> {
        let bad = |why: &str| HostError::BadPath {
            path: path.to_owned(),
            why: why.to_owned(),
        };
        let given = named(path)?;
        if given
            .components()
            .any(|c| matches!(c, Component::ParentDir))
        {
            return Err(bad(
                "`..` is not allowed in a path; name files relative to the project folder",
            ));
        }
        let joined = if given.is_absolute() {
            given.to_owned()
        } else {
            self.root.join(given)
        };
        let abs = match joined.canonicalize() {
            Ok(abs) => abs,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                // A new file: its folder must exist and be inside the project, and the name
                // itself must not be a dangling symbolic link (writing would follow it).
                let name = joined
                    .file_name()
                    .ok_or_else(|| bad("the path names no file"))?;
                if std::fs::symlink_metadata(&joined).is_ok() {
                    return Err(bad("a symbolic link that leads nowhere"));
                }
                let parent = joined
                    .parent()
                    .ok_or_else(|| bad("the path has no folder"))?;
                let parent = parent.canonicalize().map_err(|e| HostError::BadPath {
                    path: path.to_owned(),
                    why: format!("its folder cannot be used: {e}"),
                })?;
                parent.join(name)
            }
            Err(e) => {
                return Err(HostError::Read {
                    path: path.to_owned(),
                    source: e,
                })
            }
        };
        self.confine(path, abs)
    }

    /// Resolves a path the host is about to write a whole file to (a temporary file renamed
    /// over it): as [`Project::resolve`], and then, without following the file's own name:
    ///
    /// - the target is its folder, resolved through the file system, joined with the name as
    ///   given, and that must be inside the project (or a file the user picked);
    /// - a symbolic link at that name is refused, wherever it leads, with what to do instead.
    ///
    /// So the write lands on the name the UI gave and nowhere else: a link that appears at
    /// that name after this check is replaced by the rename, never written through.
    pub fn resolve_for_write(&self, path: &str) -> Result<Confined, HostError> {
        // The checks and messages of a read first (`..`, a link or folder out of the project).
        let resolved = self.resolve(path)?;
        let bad = |why: String| HostError::BadPath {
            path: path.to_owned(),
            why,
        };
        let given = named(path)?;
        let joined = if given.is_absolute() {
            given.to_owned()
        } else {
            self.root.join(given)
        };
        let name = joined
            .file_name()
            .ok_or_else(|| bad("the path names no file".into()))?;
        let parent = joined
            .parent()
            .ok_or_else(|| bad("the path has no folder".into()))?
            .canonicalize()
            .map_err(|e| bad(format!("its folder cannot be used: {e}")))?;
        let target = self.confine(path, parent.join(name))?;
        match std::fs::symlink_metadata(&target.abs) {
            Ok(meta) if meta.file_type().is_symlink() => Err(bad(format!(
                "it is a symbolic link (to `{}`), and Symphony does not write through links; \
                 save under another name, or replace the link with a copy of the file it points to",
                resolved.rel
            ))),
            Ok(meta) if !meta.is_file() => Err(bad(
                "it is not a regular file (a folder?); choose another name".into(),
            )),
            _ => Ok(target),
        }
    }

    /// `abs` (a folder resolved through the file system, and a name) as a path inside the
    /// project, or a file the user picked; refused otherwise. `path` is as the UI gave it.
    fn confine(&self, path: &str, abs: PathBuf) -> Result<Confined, HostError> {
        let rel = match abs.strip_prefix(&self.root) {
            Ok(rel) => rel,
            // Outside the project: only a file the user picked in the app's own dialog.
            Err(_) if self.is_admitted(&abs) => {
                let rel = abs.display().to_string();
                return Ok(Confined { abs, rel });
            }
            Err(_) => {
                return Err(HostError::OutsideProject {
                    path: path.to_owned(),
                    root: self.root.clone(),
                })
            }
        };
        if rel.as_os_str().is_empty() {
            return Err(HostError::BadPath {
                path: path.to_owned(),
                why: "this is the project folder itself, not a file in it".into(),
            });
        }
        let rel = rel
            .components()
            .map(|c| c.as_os_str().to_string_lossy())
            .collect::<Vec<_>>()
            .join("/");
        Ok(Confined { abs, rel })
    }

    /// The melodies folder (absolute; it may not exist).
    pub fn melodies_dir(&self) -> PathBuf {
        self.root.join(MELODIES_DIR)
    }

    /// The templates folder (absolute; it may not exist): melodies to start new ones from.
    pub fn templates_dir(&self) -> PathBuf {
        self.root.join(TEMPLATES_DIR)
    }
}

/// A path the UI names, as a path: refused when empty or holding a NUL character (what every
/// path a command takes must pass before it is looked at further).
pub(crate) fn named(path: &str) -> Result<&Path, HostError> {
    let bad = |why: &str| HostError::BadPath {
        path: path.to_owned(),
        why: why.to_owned(),
    };
    if path.trim().is_empty() {
        return Err(bad("no path given"));
    }
    if path.contains('\0') {
        return Err(bad("a path cannot contain a NUL character"));
    }
    Ok(Path::new(path))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_file_picked_outside_the_project_is_reachable_and_nothing_next_to_it() {
        let project = tempfile::tempdir().unwrap();
        let elsewhere = tempfile::tempdir().unwrap();
        let picked = elsewhere.path().join("mine.melody.json");
        std::fs::write(&picked, "{}").unwrap();
        std::fs::write(elsewhere.path().join("other.melody.json"), "{}").unwrap();
        let p = Project::open(project.path()).unwrap();
        let name = picked.canonicalize().unwrap().display().to_string();
        assert!(matches!(
            p.resolve(&name),
            Err(HostError::OutsideProject { .. })
        ));

        assert_eq!(p.admit(&picked).unwrap(), name);
        let c = p.resolve(&name).unwrap();
        assert_eq!(c.abs, picked.canonicalize().unwrap());
        assert_eq!(c.rel, name, "the UI names it by its absolute path");
        // Its neighbour, the folder and `..` tricks stay refused.
        let other = elsewhere
            .path()
            .canonicalize()
            .unwrap()
            .join("other.melody.json");
        assert!(p.resolve(&other.display().to_string()).is_err());
        assert!(p.resolve(&elsewhere.path().display().to_string()).is_err());
        let sneaky = format!("{}/../x.melody.json", elsewhere.path().display());
        assert!(p.resolve(&sneaky).is_err());

        // A place to save a new file: admitted before it exists, then written and read.
        let new = elsewhere.path().join("new.melody.json");
        let name = p.admit(&new).unwrap();
        assert!(p.resolve(&name).is_ok());
        // Only melody files, in folders that exist.
        assert!(p.admit(&elsewhere.path().join("notes.txt")).is_err());
        assert!(p
            .admit(&elsewhere.path().join("nope/a.melody.json"))
            .is_err());
    }

    #[test]
    fn relative_paths_resolve_inside() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("melodies")).unwrap();
        std::fs::write(dir.path().join("melodies/a.melody.json"), "{}").unwrap();
        let p = Project::open(dir.path()).unwrap();
        let c = p.resolve("melodies/a.melody.json").unwrap();
        assert_eq!(c.rel, "melodies/a.melody.json");
        assert!(c.abs.is_absolute());
        let new = p.resolve("melodies/new.melody.json").unwrap();
        assert_eq!(new.rel, "melodies/new.melody.json");
        let abs = p.resolve(c.abs.to_str().unwrap()).unwrap();
        assert_eq!(abs, c);
    }
}
