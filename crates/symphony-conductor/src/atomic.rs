//! Atomic file writes that never follow a symbolic link.
//!
//! Every file Symphony replaces as a whole (a step's file in the run workspace, the run's own
//! records, a saved melody, the trust file) is written by [`write_atomic`]: the bytes go to a
//! new temporary file beside the target, created exclusively (`O_CREAT | O_EXCL`, which fails
//! on any existing name, a symbolic link included) under a random name, then synced and renamed
//! over the target. So:
//!
//! - a reader, or a crash, never sees half a file;
//! - a symbolic link planted at the target is replaced by the rename, never followed (and a hard
//!   link is detached: the other name keeps its old content);
//! - a link planted at the temporary name cannot be written through, because the name is not
//!   known in advance and an existing name is never opened.
//!
//! Blocking: call it from a blocking task in async code.

use std::io::Write as _;
use std::path::Path;

/// Who may read a file written by [`write_atomic`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// As a file made by `std::fs::write`: mode 0666 less the process's umask (0644 usually),
    /// for melodies and run workspaces, which are the user's ordinary files.
    Shared,
    /// Only the user (mode 0600 on Unix): for files that say what the user trusts or hold
    /// secrets.
    Private,
}

/// The longest part of the target's name kept in the temporary name, so a long name does not
/// make a temporary name past the file system's limit (255 bytes on most).
const NAME_IN_TEMPORARY: usize = 64;

/// Writes `bytes` to `path` atomically, through an exclusive, randomly named temporary file in
/// the same folder that is synced and then renamed over `path` (see the module). The folder
/// must exist. On failure the temporary file is removed and `path` is left as it was.
pub fn write_atomic(path: &Path, bytes: &[u8], access: Access) -> std::io::Result<()> {
    let name = path.file_name().ok_or_else(|| {
        std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            format!("`{}` names no file", path.display()),
        )
    })?;
    let dir = match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir,
        _ => Path::new("."),
    };
    let name = name.to_string_lossy();
    let mut cut = name.len().min(NAME_IN_TEMPORARY);
    while !name.is_char_boundary(cut) {
        cut -= 1;
    }
    let prefix = format!(".{}.", &name[..cut]);
    let mut builder = tempfile::Builder::new();
    builder.prefix(&prefix).suffix(".tmp");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        // The mode is given to open(2), so the umask applies as it does to any new file.
        let mode = match access {
            Access::Shared => 0o666,
            Access::Private => 0o600,
        };
        builder.permissions(std::fs::Permissions::from_mode(mode));
    }
    #[cfg(not(unix))]
    let _ = access; // Windows files inherit the ACL of their folder.
                    // Dropped on any error below, which removes the temporary file.
    let mut tmp = builder.tempfile_in(dir)?;
    tmp.write_all(bytes)?;
    tmp.as_file().sync_data()?;
    tmp.persist(path).map_err(|e| e.error)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_replaces_and_leaves_no_temporary_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a.json");
        write_atomic(&path, b"one", Access::Shared).unwrap();
        write_atomic(&path, b"two", Access::Shared).unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), b"two");
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
    }

    #[test]
    fn a_long_name_still_fits() {
        let dir = tempfile::tempdir().unwrap();
        let name = format!("{}.txt", "é".repeat(120));
        let path = dir.path().join(&name);
        write_atomic(&path, b"x", Access::Shared).unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), b"x");
    }

    #[test]
    fn a_failed_write_leaves_the_target_and_no_temporary_file() {
        let dir = tempfile::tempdir().unwrap();
        // A folder at the target: the rename fails.
        std::fs::create_dir(dir.path().join("t")).unwrap();
        std::fs::write(dir.path().join("t/keep"), "k").unwrap();
        assert!(write_atomic(&dir.path().join("t"), b"x", Access::Shared).is_err());
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
        assert_eq!(std::fs::read(dir.path().join("t/keep")).unwrap(), b"k");
    }

    #[cfg(unix)]
    #[test]
    fn a_link_at_the_target_is_replaced_not_followed() {
        let dir = tempfile::tempdir().unwrap();
        let outside = tempfile::tempdir().unwrap();
        let victim = outside.path().join("victim");
        std::fs::write(&victim, "keep").unwrap();
        let path = dir.path().join("a.json");
        std::os::unix::fs::symlink(&victim, &path).unwrap();
        write_atomic(&path, b"new", Access::Shared).unwrap();
        assert_eq!(std::fs::read(&victim).unwrap(), b"keep");
        let meta = std::fs::symlink_metadata(&path).unwrap();
        assert!(meta.is_file(), "the link was replaced by a file");
        assert_eq!(std::fs::read(&path).unwrap(), b"new");
        // A hard link is detached the same way: its other name keeps the old bytes.
        let hard = dir.path().join("b.json");
        std::fs::hard_link(&victim, &hard).unwrap();
        write_atomic(&hard, b"new", Access::Shared).unwrap();
        assert_eq!(std::fs::read(&victim).unwrap(), b"keep");
    }

    #[cfg(unix)]
    #[test]
    fn modes_are_private_or_as_an_ordinary_file() {
        use std::os::unix::fs::PermissionsExt as _;
        let dir = tempfile::tempdir().unwrap();
        let private = dir.path().join("p");
        write_atomic(&private, b"x", Access::Private).unwrap();
        let mode = std::fs::metadata(&private).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        let shared = dir.path().join("s");
        write_atomic(&shared, b"x", Access::Shared).unwrap();
        let mode = std::fs::metadata(&shared).unwrap().permissions().mode() & 0o777;
        // Whatever the umask leaves of 0666 (never execute, always the owner's read and write).
        assert_eq!(mode & 0o711, 0o600, "{mode:o}");
        std::fs::write(dir.path().join("plain"), b"x").unwrap();
        let plain = std::fs::metadata(dir.path().join("plain"))
            .unwrap()
            .permissions()
            .mode()
            & 0o777;
        assert_eq!(mode, plain, "as std::fs::write makes it");
    }
}
