//! The project folder, and the confinement of every path the UI names to it.
//!
//! The webview has no file access of its own: it names files, and [`Project::resolve`] decides
//! whether the host may touch them. A path is taken relative to the project root (or absolute,
//! inside it); `..` is refused outright, and the path is resolved through the file system
//! (`canonicalize`), so a symbolic link that leads out of the project is refused too.

use std::path::{Component, Path, PathBuf};

use crate::error::HostError;

/// The folder melodies live in, relative to the root.
pub const MELODIES_DIR: &str = "melodies";

/// A project folder.
#[derive(Debug, Clone)]
pub struct Project {
    root: PathBuf,
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
        Ok(Project { root })
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
        if path.trim().is_empty() {
            return Err(bad("no path given"));
        }
        if path.contains('\0') {
            return Err(bad("a path cannot contain a NUL character"));
        }
        let given = Path::new(path);
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
        let outside = || HostError::OutsideProject {
            path: path.to_owned(),
            root: self.root.clone(),
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
        let rel = abs.strip_prefix(&self.root).map_err(|_| outside())?;
        if rel.as_os_str().is_empty() {
            return Err(bad("this is the project folder itself, not a file in it"));
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
}

#[cfg(test)]
mod tests {
    use super::*;

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
