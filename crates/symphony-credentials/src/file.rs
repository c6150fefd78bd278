//! The fallback store: `credentials.json` in Symphony's config folder, for machines with no
//! keychain service (servers, CI, containers).
//!
//! The values are plain text on disk, so the file is kept private: the folder is created with
//! mode 0700 and the file is written with mode 0600 (to a temporary file, then renamed, so a
//! crash never leaves half a file). A file that others may read or change (any group or other
//! permission bit), or a symbolic link in its place, is refused with how to fix it, before a
//! byte of it is read.
//!
//! The file:
//!
//! ```json
//! {"formatVersion": 1, "credentials": {"github": "ghp_…"}}
//! ```

use std::collections::BTreeMap;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use serde::{Deserialize, Serialize};

use crate::store::{check_name, Backend, Store, StoreError};
use crate::Secret;

/// The file's name inside the config folder.
pub const FILE_NAME: &str = "credentials.json";

#[derive(Debug, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct Contents {
    format_version: u32,
    credentials: BTreeMap<String, String>,
}

/// Credentials in a JSON file only the user can read.
pub struct FileStore {
    path: PathBuf,
    // Serializes read-modify-write within this process. Two processes writing at the same
    // moment may lose one write; `credential set` is run by hand, one at a time.
    lock: Mutex<()>,
}

impl FileStore {
    /// The store at `dir/credentials.json`. Nothing is created until a credential is set.
    pub fn in_dir(dir: PathBuf) -> FileStore {
        FileStore {
            path: dir.join(FILE_NAME),
            lock: Mutex::new(()),
        }
    }

    /// The file's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn error(&self, message: impl Into<String>) -> StoreError {
        StoreError::File {
            path: self.path.clone(),
            message: message.into(),
        }
    }

    /// Reads the file; a missing file holds nothing.
    fn read(&self) -> Result<Contents, StoreError> {
        let meta = match std::fs::symlink_metadata(&self.path) {
            Ok(m) => m,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Contents::default()),
            Err(e) => return Err(self.error(format!("cannot read it: {e}"))),
        };
        if meta.file_type().is_symlink() {
            return Err(self.error(
                "it is a symbolic link, which Symphony does not follow for credentials; replace it with the file itself",
            ));
        }
        if !meta.is_file() {
            return Err(self.error("it is not a regular file; move it away"));
        }
        let mut file = std::fs::File::open(&self.path)
            .map_err(|e| self.error(format!("cannot open it: {e}")))?;
        // Checked on the open file, so what is checked is what is read.
        let meta = file
            .metadata()
            .map_err(|e| self.error(format!("cannot read its permissions: {e}")))?;
        check_private(&self.path, &meta)?;
        let mut text = String::new();
        std::io::Read::read_to_string(&mut file, &mut text)
            .map_err(|e| self.error(format!("cannot read it: {e}")))?;
        let contents: Contents = serde_json::from_str(&text).map_err(|e| {
            // Only where: serde_json's own message may quote the text it found (a value).
            let what = match e.classify() {
                serde_json::error::Category::Syntax | serde_json::error::Category::Eof => {
                    "not valid JSON"
                }
                _ => "not shaped like {\"formatVersion\": 1, \"credentials\": {name: value}}",
            };
            self.error(format!(
                "it is not a Symphony credentials file ({what}, line {} column {}); fix it or move it away and set the credentials again",
                e.line(),
                e.column()
            ))
        })?;
        if contents.format_version != 1 {
            return Err(self.error(format!(
                "it has format version {}, which this Symphony does not know; upgrade Symphony",
                contents.format_version
            )));
        }
        Ok(contents)
    }

    /// Writes the file privately: a 0600 temporary file in a 0700 folder, then a rename.
    fn write(&self, contents: &Contents) -> Result<(), StoreError> {
        let dir = self
            .path
            .parent()
            .expect("the path is a folder joined with the file name");
        create_private_dir(dir).map_err(|e| {
            self.error(format!("cannot create the folder `{}`: {e}", dir.display()))
        })?;
        let text =
            serde_json::to_string_pretty(contents).expect("a map of strings always serializes");
        let tmp = dir.join(format!(".{FILE_NAME}.{}.tmp", std::process::id()));
        // A temporary file left by a crashed process of the same id would block `create_new`.
        let _ = std::fs::remove_file(&tmp);
        let written = (|| {
            let mut f = private_file(&tmp)?;
            f.write_all(text.as_bytes())?;
            f.write_all(b"\n")?;
            f.sync_all()?;
            std::fs::rename(&tmp, &self.path)
        })();
        written.map_err(|e| {
            let _ = std::fs::remove_file(&tmp);
            self.error(format!("cannot write it: {e}"))
        })
    }

    fn locked(&self) -> std::sync::MutexGuard<'_, ()> {
        self.lock.lock().unwrap_or_else(|p| p.into_inner())
    }
}

impl Store for FileStore {
    fn backend(&self) -> Backend {
        Backend::File
    }

    fn describe(&self) -> String {
        format!("the credentials file `{}`", self.path.display())
    }

    fn get(&self, name: &str) -> Result<Option<Secret>, StoreError> {
        check_name(name)?;
        Ok(self.read()?.credentials.remove(name).map(Secret::new))
    }

    fn set(&self, name: &str, value: &Secret) -> Result<(), StoreError> {
        check_name(name)?;
        let _guard = self.locked();
        let mut contents = self.read()?;
        contents.format_version = 1;
        contents
            .credentials
            .insert(name.to_owned(), value.expose().to_owned());
        self.write(&contents)
    }

    fn remove(&self, name: &str) -> Result<bool, StoreError> {
        check_name(name)?;
        let _guard = self.locked();
        let mut contents = self.read()?;
        if contents.credentials.remove(name).is_none() {
            return Ok(false);
        }
        self.write(&contents)?;
        Ok(true)
    }

    fn list(&self) -> Result<Vec<String>, StoreError> {
        Ok(self.read()?.credentials.into_keys().collect())
    }
}

#[cfg(unix)]
fn check_private(path: &Path, meta: &std::fs::Metadata) -> Result<(), StoreError> {
    use std::os::unix::fs::PermissionsExt as _;
    let mode = meta.permissions().mode() & 0o7777;
    if mode & 0o077 != 0 {
        return Err(StoreError::Permissions {
            path: path.to_owned(),
            mode,
        });
    }
    Ok(())
}

#[cfg(not(unix))]
fn check_private(_path: &Path, _meta: &std::fs::Metadata) -> Result<(), StoreError> {
    // Windows files inherit the ACL of the user's profile folder, private by default.
    Ok(())
}

#[cfg(unix)]
fn create_private_dir(dir: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::DirBuilderExt as _;
    if dir.is_dir() {
        return Ok(());
    }
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
}

#[cfg(not(unix))]
fn create_private_dir(dir: &Path) -> std::io::Result<()> {
    std::fs::create_dir_all(dir)
}

#[cfg(unix)]
fn private_file(path: &Path) -> std::io::Result<std::fs::File> {
    use std::os::unix::fs::OpenOptionsExt as _;
    std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
}

#[cfg(not(unix))]
fn private_file(path: &Path) -> std::io::Result<std::fs::File> {
    std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(path)
}
