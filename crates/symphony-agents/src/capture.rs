//! What the agent changed: git worktrees for the agent to work in, and the diff and file list
//! of its work.
//!
//! Changes are always measured against a fixed baseline taken before the agent starts, with
//! git doing the bookkeeping, so the record is exact for text and binary files, new files and
//! deleted ones, and does not depend on what the agent did with git itself (Aider commits its
//! edits; others leave them uncommitted; a commit and a plain edit look the same here):
//!
//! - In a worktree the baseline is the commit the worktree was made from.
//! - In a plain folder the baseline is a tree written into a scratch repository in a temporary
//!   folder: the folder is walked (honouring its `.gitignore` files, looking into nested
//!   repositories), its files hashed with `git hash-object` and the tree written with
//!   `update-index` and `write-tree`. The folder itself is never touched and needs no
//!   repository of its own. After the agent exits the same walk gives a second tree, and
//!   `git diff-tree` between the two gives the diff and the changed paths.
//!
//! In a worktree, after the agent exits, a temporary index is filled from the baseline commit
//! and then from the worktree (`git add -A`, which honours `.gitignore`), and
//! `git diff-index --cached <commit>` gives the diff and the changed paths. The index of the
//! agent's own checkout is never touched. Only plumbing commands produce the record, so the
//! user's diff settings (prefixes, external tools, colours) never change its format.

use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::process::Stdio;

use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::PermissionsExt;

use tempfile::TempDir;
use tokio::io::AsyncWriteExt;
use tokio::process::Command;

/// A diff longer than this is cut (the file list stays complete).
const DIFF_MAX: usize = 2 << 20;

/// Settings every git run Symphony starts gets on its command line (where they outrank every
/// config file), so a repository's own config cannot make Symphony run its programs:
///
/// - `core.hooksPath=/dev/null`: no hooks (`worktree add` runs `post-checkout` and
///   `reference-transaction`, index writes run `post-index-change`, …).
/// - `core.fsmonitor=false`: no file-system monitor program (`add` and `status` start one).
/// - `core.untrackedCache=false`: no untracked-cache writes into the repository's index.
/// - `core.pager=cat`, `diff.external=` (with `--no-ext-diff` and `--no-textconv` on the
///   diffs), `submodule.recurse=false`, `protocol.file.allow=user`: no pager, external diff,
///   text conversion program, submodule work or local-path fetches.
///
/// Clean and smudge filters (`filter.<name>.clean`, `.smudge`, `.process`, used through
/// `.gitattributes`) have names of the repository's choosing, so [`git_command`] lists the
/// ones defined outside the user's own (system and global) config first and blanks each one.
const HARDENING: [&str; 14] = [
    "-c",
    "core.hooksPath=/dev/null",
    "-c",
    "core.fsmonitor=false",
    "-c",
    "core.untrackedCache=false",
    "-c",
    "core.pager=cat",
    "-c",
    "diff.external=",
    "-c",
    "submodule.recurse=false",
    "-c",
    "protocol.file.allow=user",
];

/// The one place a git [`Command`] is made: git with [`HARDENING`], in `cwd`, with the
/// caller's environment minus `GIT_*` variables (a host started from a git hook must not steer
/// these commands into another repository), never prompting, and killed if dropped; and with
/// every filter the repository's own config defines (its `.git/config`, a worktree's config, or
/// what they include) blanked, so `add`, `status`, `diff` and `worktree add` never run a clean,
/// smudge or process filter program a shared repository brought along. Filters of the user's
/// system and global config (Git LFS, say) keep working. Every git run of Symphony goes through
/// it (this crate's, and the host's `committedMelody`).
pub async fn git_command(cwd: &Path) -> Command {
    let mut command = bare_git(cwd);
    for name in repository_filters(cwd).await {
        for key in ["clean", "smudge", "process"] {
            command.arg("-c").arg(format!("filter.{name}.{key}="));
        }
        command
            .arg("-c")
            .arg(format!("filter.{name}.required=false"));
    }
    command
}

/// git with [`HARDENING`] and a clean environment, as [`git_command`] describes.
fn bare_git(cwd: &Path) -> Command {
    let mut command = Command::new("git");
    command.args(HARDENING).current_dir(cwd).kill_on_drop(true);
    for (key, _) in std::env::vars_os() {
        if key.to_string_lossy().starts_with("GIT_") {
            command.env_remove(key);
        }
    }
    command.env("GIT_TERMINAL_PROMPT", "0");
    command
}

/// The names of the filter drivers defined by the repository at `cwd` rather than by the user:
/// every `filter.<name>.{clean,smudge,process}` whose scope is not `system` or `global`. Reading
/// config runs no program. None when `cwd` is not in a repository or git cannot say.
async fn repository_filters(cwd: &Path) -> Vec<String> {
    let out = bare_git(cwd)
        .args([
            "config",
            "--show-scope",
            "--name-only",
            "--get-regexp",
            r"^filter\..*\.(clean|smudge|process)$",
        ])
        .stdin(Stdio::null())
        .stderr(Stdio::null())
        .output()
        .await;
    let Ok(out) = out else { return Vec::new() };
    let mut names: Vec<String> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|line| {
            let (scope, key) = line.split_once('\t')?;
            if scope == "system" || scope == "global" {
                return None;
            }
            let rest = key.strip_prefix("filter.")?;
            let (name, _) = rest.rsplit_once('.')?;
            Some(name.to_owned())
        })
        .collect();
    names.sort();
    names.dedup();
    names
}

/// Runs git (made by [`git_command`]) and returns its stdout.
async fn git<I, S>(cwd: &Path, args: I, extra_env: &[(&str, &OsStr)]) -> Result<String, String>
where
    I: IntoIterator<Item = S>,
    S: AsRef<OsStr>,
{
    git_with_input(cwd, args, extra_env, None).await
}

/// [`git`], writing `input` to its stdin (while reading its stdout, so neither pipe can fill
/// up and stall the other side).
async fn git_with_input<I, S>(
    cwd: &Path,
    args: I,
    extra_env: &[(&str, &OsStr)],
    input: Option<Vec<u8>>,
) -> Result<String, String>
where
    I: IntoIterator<Item = S>,
    S: AsRef<OsStr>,
{
    let args: Vec<std::ffi::OsString> = args.into_iter().map(|a| a.as_ref().to_owned()).collect();
    let mut command = git_command(cwd).await;
    command
        .args(&args)
        .stdin(if input.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for (k, v) in extra_env {
        command.env(k, v);
    }
    let shown = || {
        args.iter()
            .map(|a| a.to_string_lossy().into_owned())
            .collect::<Vec<_>>()
            .join(" ")
    };
    let mut child = command.spawn().map_err(|e| {
        if e.kind() == std::io::ErrorKind::NotFound {
            "git is not installed (or not on PATH); the agent step needs it to record what the agent changed".to_owned()
        } else {
            format!("could not run `git {}`: {e}", shown())
        }
    })?;
    let stdin = child.stdin.take();
    let write = async move {
        if let (Some(mut stdin), Some(input)) = (stdin, input) {
            let _ = stdin.write_all(&input).await;
            // Dropping stdin closes it: git sees the end of its input.
        }
    };
    let (_, out) = tokio::join!(write, child.wait_with_output());
    let out = out.map_err(|e| format!("could not run `git {}`: {e}", shown()))?;
    if !out.status.success() {
        return Err(format!(
            "`git {}` in {} failed: {}",
            shown(),
            cwd.display(),
            String::from_utf8_lossy(&out.stderr).trim()
        ));
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// The top folder of the checkout `dir` is in, if it is in one.
pub async fn toplevel(dir: &Path) -> Option<PathBuf> {
    git(dir, ["rev-parse", "--show-toplevel"], &[])
        .await
        .ok()
        .map(|s| PathBuf::from(s.trim()))
}

/// The lock that makes one worktree at a time in `repo`, shared by every step of the process.
fn repo_lock(repo: &Path) -> std::sync::Arc<tokio::sync::Mutex<()>> {
    use std::collections::HashMap;
    use std::sync::{Arc, Mutex, OnceLock};
    // A `std` mutex: held only to look the lock up, never across an `.await`.
    static LOCKS: OnceLock<Mutex<HashMap<std::path::PathBuf, Arc<tokio::sync::Mutex<()>>>>> =
        OnceLock::new();
    let key = repo.to_path_buf();
    LOCKS
        .get_or_init(Mutex::default)
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .entry(key)
        .or_default()
        .clone()
}

/// Makes (or makes again) a worktree of `repo` at `path` on `branch`, starting from `base`.
/// Returns the commit it starts from. An earlier worktree at the same path (a retry, a rerun of
/// the same run) is removed first and the branch is reset to `base`.
pub async fn add_worktree(
    repo: &Path,
    base: &str,
    path: &Path,
    branch: &str,
) -> Result<String, String> {
    // Parallel steps in worktree mode on one repository would race on its ref and worktree
    // locks ("cannot lock ref"): one worktree is made at a time per repository.
    let lock = repo_lock(repo);
    let _held = lock.lock().await;
    let commit = git(
        repo,
        ["rev-parse", "--verify", "--quiet", &format!("{base}^{{commit}}")],
        &[],
    )
    .await
    .map_err(|_| {
        format!(
            "`{base}` is not a commit in {}; a worktree starts from a commit (does the repository have one yet?)",
            repo.display()
        )
    })?
    .trim()
    .to_owned();
    if tokio::fs::try_exists(path).await.unwrap_or(false) {
        let _ = git(
            repo,
            [
                OsStr::new("worktree"),
                OsStr::new("remove"),
                OsStr::new("--force"),
                path.as_os_str(),
            ],
            &[],
        )
        .await;
        if tokio::fs::try_exists(path).await.unwrap_or(false) {
            tokio::fs::remove_dir_all(path)
                .await
                .map_err(|e| format!("cannot clear the old worktree {}: {e}", path.display()))?;
        }
        let _ = git(repo, ["worktree", "prune"], &[]).await;
    }
    // Forget worktrees whose folders are gone (a deleted run workspace): their branches would
    // otherwise count as checked out and refuse `-B`.
    let _ = git(repo, ["worktree", "prune"], &[]).await;
    if let Some(parent) = path.parent() {
        tokio::fs::create_dir_all(parent)
            .await
            .map_err(|e| format!("cannot create {}: {e}", parent.display()))?;
    }
    git(
        repo,
        [
            OsStr::new("worktree"),
            OsStr::new("add"),
            OsStr::new("--quiet"),
            OsStr::new("-B"),
            OsStr::new(branch),
            path.as_os_str(),
            OsStr::new(&commit),
        ],
        &[],
    )
    .await?;
    Ok(commit)
}

/// A branch name from free text: each `/`-separated part keeps letters, digits, `-`, `_` and
/// `.`, other characters become `-`; parts never start with `.` or end with `.lock`.
pub fn branch_part(text: &str) -> String {
    let mut out: String = text
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.') {
                c
            } else {
                '-'
            }
        })
        .collect();
    while out.contains("..") {
        out = out.replace("..", ".");
    }
    let mut out = out.trim_start_matches('.').to_owned();
    if out.ends_with(".lock") || out.ends_with('.') {
        out.push('_');
    }
    if out.is_empty() {
        out.push('_');
    }
    out
}

/// The state changes are measured against.
pub struct Baseline {
    /// The scratch repository of a plain folder's snapshot; removed when dropped.
    scratch: Option<TempDir>,
    /// The folder the agent works in.
    work_tree: PathBuf,
    /// The tree or commit the changes are measured against.
    base: String,
    /// Pathspecs left out of the record (the agent's own bookkeeping).
    excludes: Vec<String>,
}

/// What the agent changed.
pub struct Changes {
    /// A unified diff (`git diff` format), cut at 2 MiB.
    pub diff: String,
    /// The changed paths (added, modified, deleted), relative to the working folder, sorted.
    pub files: Vec<String>,
}

impl Baseline {
    /// The baseline of a worktree made from `commit`.
    pub fn of_commit(work_tree: &Path, commit: &str, excludes: &[&str]) -> Baseline {
        Baseline {
            scratch: None,
            work_tree: work_tree.to_owned(),
            base: commit.to_owned(),
            excludes: excludes.iter().map(|e| (*e).to_owned()).collect(),
        }
    }

    /// Snapshots a plain folder into a scratch repository.
    pub async fn of_folder(dir: &Path, excludes: &[&str]) -> Result<Baseline, String> {
        let scratch = tokio::task::spawn_blocking(|| {
            tempfile::Builder::new()
                .prefix("symphony-snapshot-")
                .tempdir()
        })
        .await
        .map_err(|e| format!("the snapshot task failed: {e}"))?
        .map_err(|e| format!("cannot make a temporary folder for the snapshot: {e}"))?;
        let repo = scratch.path().join("repo.git");
        git(
            scratch.path(),
            [
                OsStr::new("init"),
                OsStr::new("--quiet"),
                OsStr::new("--bare"),
                repo.as_os_str(),
            ],
            &[],
        )
        .await?;
        let mut baseline = Baseline {
            scratch: Some(scratch),
            work_tree: dir.to_owned(),
            base: String::new(),
            excludes: excludes.iter().map(|e| (*e).to_owned()).collect(),
        };
        baseline.base = baseline.folder_tree("before").await?;
        Ok(baseline)
    }

    /// Writes the plain folder's current content into the scratch repository as a tree, and
    /// returns the tree's id.
    ///
    /// The folder is walked here rather than by `git add`, which stops at a nested repository
    /// (a folder with its own `.git`, as `cargo new` makes) and records it as a submodule link,
    /// or fails when it has no commit yet; here its files count like any others. `.gitignore`
    /// files inside the folder are honoured (so `node_modules/` stays out when a scaffold
    /// ignores it); `.git` folders, and ignore rules from outside the folder, are not read.
    async fn folder_tree(&self, name: &str) -> Result<String, String> {
        let dir = self.work_tree.clone();
        let excludes = self.excludes.clone();
        let entries = tokio::task::spawn_blocking(move || walk(&dir, &excludes))
            .await
            .map_err(|e| format!("the folder walk failed: {e}"))??;
        let index = self.index_path(name)?;
        let _ = tokio::fs::remove_file(&index).await;
        // Regular files are hashed in one batch; names holding a newline, which the batch
        // cannot carry, and symbolic links (whose content is their target) one by one.
        let mut batch = Vec::new();
        let mut batched = Vec::new();
        let mut lines: Vec<u8> = Vec::new();
        for entry in &entries {
            match &entry.kind {
                Kind::File { .. } if !entry.path.contains(&b'\n') => {
                    batch.extend_from_slice(&entry.path);
                    batch.push(b'\n');
                    batched.push(entry);
                }
                Kind::File { executable } => {
                    let id = self
                        .run(
                            [
                                OsStr::new("hash-object"),
                                OsStr::new("-w"),
                                OsStr::new("--no-filters"),
                                OsStr::new("--"),
                                OsStr::from_bytes(&entry.path),
                            ],
                            &index,
                        )
                        .await?;
                    index_line(&mut lines, file_mode(*executable), id.trim(), &entry.path);
                }
                Kind::Link { target } => {
                    let id = self
                        .run_with_input(
                            ["hash-object", "-w", "--no-filters", "--stdin"],
                            &index,
                            target.clone(),
                        )
                        .await?;
                    index_line(&mut lines, "120000", id.trim(), &entry.path);
                }
            }
        }
        if !batched.is_empty() {
            let ids = self
                .run_with_input(
                    ["hash-object", "-w", "--no-filters", "--stdin-paths"],
                    &index,
                    batch,
                )
                .await?;
            let ids: Vec<&str> = ids.lines().collect();
            if ids.len() != batched.len() {
                return Err(format!(
                    "git hashed {} of {} files; was the folder changing while it was read?",
                    ids.len(),
                    batched.len()
                ));
            }
            for (entry, id) in batched.iter().zip(ids) {
                let executable = matches!(entry.kind, Kind::File { executable: true });
                index_line(&mut lines, file_mode(executable), id, &entry.path);
            }
        }
        self.run_with_input(["update-index", "-z", "--index-info"], &index, lines)
            .await?;
        Ok(self.run(["write-tree"], &index).await?.trim().to_owned())
    }

    fn index_path(&self, name: &str) -> Result<PathBuf, String> {
        match &self.scratch {
            Some(s) => Ok(s.path().join(format!("index-{name}"))),
            None => Err("a worktree's baseline keeps no scratch folder".into()),
        }
    }

    /// Runs git on the working folder (through the scratch repository for a plain folder)
    /// with the given index.
    async fn run<I, S>(&self, args: I, index: &Path) -> Result<String, String>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        let mut all: Vec<std::ffi::OsString> = Vec::new();
        if let Some(s) = &self.scratch {
            all.push("--git-dir".into());
            all.push(s.path().join("repo.git").into_os_string());
            all.push("--work-tree".into());
            all.push(self.work_tree.clone().into_os_string());
        }
        all.extend(args.into_iter().map(|a| a.as_ref().to_owned()));
        git(
            &self.work_tree,
            all,
            &[("GIT_INDEX_FILE", index.as_os_str())],
        )
        .await
    }

    /// [`Baseline::run`], with `input` on git's stdin.
    async fn run_with_input<I, S>(
        &self,
        args: I,
        index: &Path,
        input: Vec<u8>,
    ) -> Result<String, String>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        let mut all: Vec<std::ffi::OsString> = Vec::new();
        if let Some(s) = &self.scratch {
            all.push("--git-dir".into());
            all.push(s.path().join("repo.git").into_os_string());
            all.push("--work-tree".into());
            all.push(self.work_tree.clone().into_os_string());
        }
        all.extend(args.into_iter().map(|a| a.as_ref().to_owned()));
        git_with_input(
            &self.work_tree,
            all,
            &[("GIT_INDEX_FILE", index.as_os_str())],
            Some(input),
        )
        .await
    }

    async fn add_all(&self, index: &Path) -> Result<(), String> {
        let mut args = vec!["add".to_owned(), "-A".into(), "--".into(), ".".into()];
        args.extend(self.excludes.iter().map(|e| format!(":(exclude){e}")));
        self.run(args, index).await.map(|_| ())
    }

    /// What changed in the working folder since the baseline.
    pub async fn changes(&self) -> Result<Changes, String> {
        // Plumbing only (`diff-tree`, `diff-index`): they ignore the user's diff settings
        // (prefixes, external diff tools, colours), so the record has one format everywhere.
        let (diff, names) = match &self.scratch {
            Some(_) => {
                let after = self.folder_tree("after").await?;
                let index = self.index_path("after")?;
                let (base, after) = (self.base.as_str(), after.as_str());
                let patch = [
                    "diff-tree",
                    "-r",
                    "--no-renames",
                    "--no-ext-diff",
                    "--no-textconv",
                    "-p",
                    base,
                    after,
                ];
                let names = [
                    "diff-tree",
                    "-r",
                    "--no-renames",
                    "--name-only",
                    "-z",
                    base,
                    after,
                ];
                (
                    self.run(patch, &index).await?,
                    self.run(names, &index).await?,
                )
            }
            None => {
                // A worktree: its content goes into a temporary index (never the checkout's
                // own), starting from the baseline so left-out paths count as unchanged.
                let holder = tokio::task::spawn_blocking(|| {
                    tempfile::Builder::new().prefix("symphony-index-").tempdir()
                })
                .await
                .map_err(|e| format!("the index task failed: {e}"))?
                .map_err(|e| format!("cannot make a temporary index: {e}"))?;
                let index = holder.path().join("index");
                self.run(["read-tree", self.base.as_str()], &index).await?;
                self.add_all(&index).await?;
                let base = self.base.as_str();
                (
                    self.run(
                        [
                            "diff-index",
                            "--cached",
                            "-p",
                            "--no-renames",
                            "--no-ext-diff",
                            "--no-textconv",
                            base,
                        ],
                        &index,
                    )
                    .await?,
                    self.run(
                        [
                            "diff-index",
                            "--cached",
                            "--name-only",
                            "-z",
                            "--no-renames",
                            base,
                        ],
                        &index,
                    )
                    .await?,
                )
            }
        };
        let mut diff = diff;
        if diff.len() > DIFF_MAX {
            let mut cut = DIFF_MAX;
            while !diff.is_char_boundary(cut) {
                cut -= 1;
            }
            diff.truncate(cut);
            diff.push_str(&format!(
                "\n[symphony: diff cut at {} MiB; see the files list for every changed path]\n",
                DIFF_MAX >> 20
            ));
        }
        let mut files: Vec<String> = names
            .split('\0')
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
            .collect();
        files.sort();
        Ok(Changes { diff, files })
    }
}

/// What a walked path is.
enum Kind {
    /// A regular file.
    File {
        /// Any execute bit is set.
        executable: bool,
    },
    /// A symbolic link, with its target.
    Link {
        /// The target, as stored by git (the link's content).
        target: Vec<u8>,
    },
}

/// A file of a walked folder.
struct Entry {
    /// Relative to the folder, `/`-separated, as bytes (names need not be UTF-8).
    path: Vec<u8>,
    kind: Kind,
}

/// Every file under `dir` that belongs in its record (see [`Baseline::folder_tree`]).
fn walk(dir: &Path, excludes: &[String]) -> Result<Vec<Entry>, String> {
    let mut overrides = ignore::overrides::OverrideBuilder::new(dir);
    for e in excludes {
        overrides
            .add(&format!("!{e}"))
            .map_err(|err| format!("bad exclude pattern `{e}`: {err}"))?;
    }
    let overrides = overrides
        .build()
        .map_err(|err| format!("bad exclude patterns: {err}"))?;
    let walker = ignore::WalkBuilder::new(dir)
        .hidden(false)
        .parents(false)
        .ignore(false)
        .git_ignore(true)
        .git_global(false)
        .git_exclude(false)
        .require_git(false)
        .follow_links(false)
        .overrides(overrides)
        .filter_entry(|e| e.file_name() != ".git")
        .build();
    let mut entries = Vec::new();
    for item in walker {
        let item = item.map_err(|e| format!("cannot read {}: {e}", dir.display()))?;
        let Some(file_type) = item.file_type() else {
            continue;
        };
        let Ok(relative) = item.path().strip_prefix(dir) else {
            continue;
        };
        if relative.as_os_str().is_empty() || file_type.is_dir() {
            continue;
        }
        let path = relative.as_os_str().as_bytes().to_vec();
        let kind = if file_type.is_symlink() {
            let target = std::fs::read_link(item.path())
                .map_err(|e| format!("cannot read the link {}: {e}", item.path().display()))?;
            Kind::Link {
                target: target.as_os_str().as_bytes().to_vec(),
            }
        } else if file_type.is_file() {
            let mode = item
                .metadata()
                .map_err(|e| format!("cannot read {}: {e}", item.path().display()))?
                .permissions()
                .mode();
            Kind::File {
                executable: mode & 0o111 != 0,
            }
        } else {
            // Sockets, fifos, devices: not content.
            continue;
        };
        entries.push(Entry { path, kind });
    }
    Ok(entries)
}

/// Git's mode of a regular file.
fn file_mode(executable: bool) -> &'static str {
    if executable {
        "100755"
    } else {
        "100644"
    }
}

/// Appends one `git update-index -z --index-info` record.
fn index_line(out: &mut Vec<u8>, mode: &str, id: &str, path: &[u8]) {
    out.extend_from_slice(format!("{mode} {id}\t").as_bytes());
    out.extend_from_slice(path);
    out.push(0);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn branch_parts_are_valid_ref_names() {
        assert_eq!(branch_part("run 1/x"), "run-1-x");
        assert_eq!(branch_part("..hidden.lock"), "hidden.lock_");
        assert_eq!(branch_part(""), "_");
        assert_eq!(branch_part("a..b"), "a.b");
    }
}
