//! Watching open melodies for edits made elsewhere (another editor, a `git pull`).
//!
//! The folder of each open melody is watched (not the file: editors and git replace files by
//! renaming, which a watch on the old file would miss), through `notify` with a debounce so a
//! burst of writes is one notice. A change is reported as `file-changed` only when the file's
//! bytes differ from what the host last read or wrote, so the app's own saves stay quiet.

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use notify_debouncer_mini::notify::{RecommendedWatcher, RecursiveMode};
use notify_debouncer_mini::{new_debouncer, DebounceEventResult, Debouncer};

use crate::error::HostError;
use crate::host::EventSink;
use crate::melodies::hash_hex;
use crate::project::{Confined, Project};
use crate::wire::{FileChangedPayload, HostEvent};

/// The open melodies and the watcher over their folders.
pub struct Watch {
    /// Open files by absolute path: their project-relative name and the hash last seen.
    /// Shared with the watcher's thread; a `std` mutex, held only to read or update the map.
    files: Arc<Mutex<HashMap<PathBuf, (String, String)>>>,
    state: Mutex<WatchState>,
    sink: Arc<dyn EventSink>,
    debounce: Duration,
    project: Project,
}

#[derive(Default)]
struct WatchState {
    /// Started on the first open, so a host that opens nothing holds no watch.
    debouncer: Option<Debouncer<RecommendedWatcher>>,
    dirs: HashSet<PathBuf>,
}

impl Watch {
    /// No file watched yet.
    pub fn new(project: Project, sink: Arc<dyn EventSink>, debounce: Duration) -> Watch {
        Watch {
            files: Arc::default(),
            state: Mutex::default(),
            sink,
            debounce,
            project,
        }
    }

    /// Watches `file` from now on, its current bytes hashing to `hash`.
    pub fn track(&self, file: &Confined, hash: &str) -> Result<(), HostError> {
        self.files
            .lock()
            .expect("the watch lock is never poisoned: nothing panics under it")
            .insert(file.abs.clone(), (file.rel.clone(), hash.to_owned()));
        let Some(dir) = file.abs.parent().map(PathBuf::from) else {
            return Ok(());
        };
        let mut state = self
            .state
            .lock()
            .expect("the watch lock is never poisoned: nothing panics under it");
        if state.dirs.contains(&dir) {
            return Ok(());
        }
        let rel_dir = dir
            .strip_prefix(self.project.root())
            .map_or_else(|_| dir.display().to_string(), |d| d.display().to_string());
        let fail = |e: notify_debouncer_mini::notify::Error| HostError::Watch {
            path: rel_dir.clone(),
            why: e.to_string(),
        };
        if state.debouncer.is_none() {
            let files = self.files.clone();
            let sink = self.sink.clone();
            let debouncer =
                new_debouncer(
                    self.debounce,
                    move |result: DebounceEventResult| match result {
                        Ok(events) => {
                            let paths: HashSet<PathBuf> =
                                events.into_iter().map(|e| e.path).collect();
                            for path in paths {
                                changed(&files, sink.as_ref(), &path);
                            }
                        }
                        Err(e) => tracing::warn!("watching open melodies: {e}"),
                    },
                )
                .map_err(fail)?;
            state.debouncer = Some(debouncer);
        }
        state
            .debouncer
            .as_mut()
            .expect("the debouncer was just started")
            .watcher()
            .watch(&dir, RecursiveMode::NonRecursive)
            .map_err(fail)?;
        state.dirs.insert(dir);
        Ok(())
    }
}

/// Reports `path` if it is an open melody whose bytes are new.
fn changed(files: &Mutex<HashMap<PathBuf, (String, String)>>, sink: &dyn EventSink, path: &Path) {
    // The event names the path as the watcher saw it; open files are keyed canonically.
    let key = path.canonicalize().unwrap_or_else(|_| path.to_owned());
    let (hash, deleted) = match std::fs::read(&key) {
        Ok(bytes) => (hash_hex(&bytes), false),
        // Still missing once the debounce has passed: deleted or moved away, not replaced (an
        // editor's rename into place leaves the file there).
        Err(e) if e.kind() == std::io::ErrorKind::NotFound && !key.exists() => {
            (String::new(), true)
        }
        // Unreadable for a moment (being written): the next event reports it.
        Err(_) => return,
    };
    let rel = {
        let mut files = files
            .lock()
            .expect("the watch lock is never poisoned: nothing panics under it");
        match files.get_mut(&key) {
            Some((rel, last)) if *last != hash => {
                last.clone_from(&hash);
                rel.clone()
            }
            _ => return,
        }
    };
    sink.emit(HostEvent::FileChanged(FileChangedPayload {
        path: rel,
        hash,
        deleted,
    }));
}
