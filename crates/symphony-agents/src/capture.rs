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
//!   folder (`git --git-dir=<scratch> --work-tree=<folder> add -A`, then `write-tree`); the
//!   folder itself is never touched and needs no repository of its own.
//!
//! After the agent exits, a temporary index is filled from the baseline and then from the folder
//! (`git add -A`, which honours `.gitignore`), and `git diff --cached <baseline>` gives the
//! diff and the changed paths. The index of the agent's own checkout is never touched.

use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::process::Stdio;

use tempfile::TempDir;
use tokio::process::Command;

/// A diff longer than this is cut (the file list stays complete).
const DIFF_MAX: usize = 2 << 20;

/// Runs git with the caller's environment minus `GIT_*` variables (a host started from a git
/// hook must not steer these commands into another repository), and never prompts.
async fn git<I, S>(cwd: &Path, args: I, extra_env: &[(&str, &OsStr)]) -> Result<String, String>
where
    I: IntoIterator<Item = S>,
    S: AsRef<OsStr>,
{
    let args: Vec<std::ffi::OsString> = args.into_iter().map(|a| a.as_ref().to_owned()).collect();
    let mut command = Command::new("git");
    command
        .args(&args)
        .current_dir(cwd)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .env("GIT_TERMINAL_PROMPT", "0");
    for (key, _) in std::env::vars_os() {
        if key.to_string_lossy().starts_with("GIT_") {
            command.env_remove(key);
        }
    }
    command.env("GIT_TERMINAL_PROMPT", "0");
    for (k, v) in extra_env {
        command.env(k, v);
    }
    let shown = || {
        args.iter()
            .map(|a| a.to_string_lossy().into_owned())
            .collect::<Vec<_>>()
            .join(" ")
    };
    let out = command.output().await.map_err(|e| {
        if e.kind() == std::io::ErrorKind::NotFound {
            "git is not installed (or not on PATH); the agent step needs it to record what the agent changed".to_owned()
        } else {
            format!("could not run `git {}`: {e}", shown())
        }
    })?;
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

/// Makes (or makes again) a worktree of `repo` at `path` on `branch`, starting from `base`.
/// Returns the commit it starts from. An earlier worktree at the same path (a retry, a rerun of
/// the same run) is removed first and the branch is reset to `base`.
pub async fn add_worktree(
    repo: &Path,
    base: &str,
    path: &Path,
    branch: &str,
) -> Result<String, String> {
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
        let index = baseline.index_path("before")?;
        baseline.add_all(&index).await?;
        baseline.base = baseline
            .run(["write-tree"], &index)
            .await?
            .trim()
            .to_owned();
        Ok(baseline)
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

    async fn add_all(&self, index: &Path) -> Result<(), String> {
        let mut args = vec!["add".to_owned(), "-A".into(), "--".into(), ".".into()];
        args.extend(self.excludes.iter().map(|e| format!(":(exclude){e}")));
        self.run(args, index).await.map(|_| ())
    }

    /// What changed in the working folder since the baseline.
    pub async fn changes(&self) -> Result<Changes, String> {
        // A worktree has no scratch folder: its temporary index lives in a folder of its own.
        let holder;
        let index = match &self.scratch {
            Some(_) => self.index_path("after")?,
            None => {
                holder = tokio::task::spawn_blocking(|| {
                    tempfile::Builder::new().prefix("symphony-index-").tempdir()
                })
                .await
                .map_err(|e| format!("the index task failed: {e}"))?
                .map_err(|e| format!("cannot make a temporary index: {e}"))?;
                holder.path().join("index")
            }
        };
        self.run(["read-tree", self.base.as_str()], &index).await?;
        self.add_all(&index).await?;
        let mut diff = self
            .run(
                [
                    "diff",
                    "--cached",
                    "--no-color",
                    "--no-ext-diff",
                    "--no-renames",
                    self.base.as_str(),
                ],
                &index,
            )
            .await?;
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
        let names = self
            .run(
                [
                    "diff",
                    "--cached",
                    "--name-only",
                    "-z",
                    "--no-renames",
                    self.base.as_str(),
                ],
                &index,
            )
            .await?;
        let mut files: Vec<String> = names
            .split('\0')
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
            .collect();
        files.sort();
        Ok(Changes { diff, files })
    }
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
