//! Coding-agent instruments: agent CLIs (Claude Code, Codex, Aider, Gemini, or a command line of
//! your own) played as the `instrument.agent` step type, in the run workspace or in a git
//! worktree of their own, with what they changed recorded as a diff.
//!
//! # The step type
//!
//! ```json
//! {
//!   "id": "implement", "kind": "instrument", "type": "instrument.agent",
//!   "capabilities": ["command", "files", "secrets"],
//!   "config": {
//!     "preset": "claude",
//!     "prompt": "Implement {{plan.output}}. Keep the tests green.",
//!     "workdir": "worktree", "repo": "{{repoPath}}",
//!     "credential": "anthropic"
//!   },
//!   "policy": {"timeoutMs": 900000}
//! }
//! ```
//!
//! ## Presets
//!
//! | preset | command line (prompt always one argv element) |
//! |---|---|
//! | `claude` | `claude -p --output-format json --permission-mode acceptEdits [--model M] [args] -- <prompt>` |
//! | `codex` | `codex exec --skip-git-repo-check --color never --sandbox workspace-write [--model M] [args] -- <prompt>` |
//! | `aider` | `aider --yes-always --no-pretty --no-check-update --no-gitignore [--no-git] [--model M] [args] --message=<prompt>` |
//! | `gemini` | `gemini --approval-mode auto_edit [--model M] [args] --prompt=<prompt>` |
//! | `command` | `config.command`, e.g. `["my-agent", "--task", "{{prompt}}", "--dir", "{{workdir}}"]` |
//!
//! `autonomy: "full"` swaps the edit-only permission for the CLI's do-anything one
//! (`bypassPermissions`, `danger-full-access`, `yolo`); use it only where the agent cannot hurt
//! you. The flags are each CLI's documented non-interactive mode; `preset.rs` says what each
//! one does and why it is there.
//!
//! ## Config
//!
//! | field | meaning |
//! |---|---|
//! | `preset` (required) | `claude`, `codex`, `aider`, `gemini` or `command` |
//! | `prompt` (required) | the task, a template with `{{references}}` |
//! | `program` | the binary to run instead of the preset's usual name (or of `command[0]`) |
//! | `command` | the `command` preset's argv, with `{{prompt}}`, `{{promptFile}}` (the path of a temporary file holding the prompt), `{{workdir}}`, `{{model}}` |
//! | `args` | extra arguments, added before the prompt |
//! | `model` | passed as `--model` (or `{{model}}`) |
//! | `autonomy` | `edit` (default) or `full` |
//! | `workdir` | `workspace` (default) or `worktree` |
//! | `repo`, `base` | worktree mode: the repository (a template; absolute, or relative to the folder Symphony was started in) and the commit to start from (`HEAD`) |
//! | `credential`, `credentialEnv` | a credential name, and the variable it is put in (claude: `ANTHROPIC_API_KEY`, codex: `CODEX_API_KEY`, gemini: `GEMINI_API_KEY`; aider and command: required) |
//! | `env` | more environment variables (plain text in the melody: never secrets) |
//! | `stdin` | hand the prompt over on standard input, not on the command line (Aider: in a `--message-file`); a preset does so anyway for prompts over 100 KB, as Linux caps one argument at 128 KiB. With `command`, `{{prompt}}` is still filled in |
//! | `graceMs` | how long the agent gets between SIGTERM and SIGKILL (default 2000) |
//!
//! Outputs: `output` (stdout: the agent's answer; for `claude`, the `result` of its JSON, whose
//! tokens and cost become the step's usage), `diff` (a unified git diff of everything it
//! changed, new files included), `files` (the changed paths), `workdir` (where it worked) and, in
//! worktree mode, `branch`. Progress streams stdout and stderr line by line.
//!
//! A step declares `command` and `files`, and `secrets` when it names a `credential` (the
//! validator says so, with the step and field, when one is missing).
//!
//! ## Decisions
//!
//! - **Where it works.** `workspace`: the run workspace's `files/`, shared with other steps, so
//!   two agents in parallel there see (and record) each other's edits: give parallel agents
//!   worktrees. `worktree`: a git worktree at `<workspace>/worktrees/<step>` on the branch
//!   `symphony/<run id>/<step>` (`-item-N` for a map's items), made from `repo` (or from
//!   `files/` when that folder is itself a repository's top) at `base`. The main checkout is
//!   never touched; the branch and worktree stay after the run, for review and merging
//!   (`git worktree remove` clears one). Each attempt starts again from `base`: a retry does not
//!   build on a failed attempt's half-done edits. (The worktree lives beside `files/`, not in
//!   it: it is the repository's, written by git and the agent, not a file the step produces.)
//! - **What it changed** is measured against a baseline taken before the agent starts (the
//!   worktree's commit; a snapshot of `files/` in a scratch repository), so it is exact whether
//!   the agent commits (Aider does) or not, and needs no repository in the workspace. It honours
//!   `.gitignore`. See `capture.rs`.
//! - **Failure.** A non-zero exit (or Claude Code's `is_error`) is an `instrument` error carrying
//!   the end of stderr (and the agent's answer, when it gave one). It is retryable: agents fail
//!   for passing reasons (provider errors, rate limits) as often as for lasting ones, and
//!   `policy.retry` decides. A program that cannot be started, and exit codes 126 and 127 (a
//!   wrapper could not run or find a command), are `config` errors and are not retried. In
//!   `workspace` mode a retry finds the failed attempt's edits in place (nothing is rolled
//!   back); in `worktree` mode it starts afresh.
//! - **Stopping.** The agent runs in a process group of its own; on cancel, timeout (the
//!   conductor drops the attempt) or exit, the whole group gets SIGTERM, then SIGKILL after
//!   `graceMs`. See `process.rs` for what that cannot catch.
//! - **Environment.** The agent sees only `PATH`, `HOME`, `USER`, `LOGNAME`, `LANG`, `LC_ALL`,
//!   `TMPDIR` (when set), `TERM=dumb`, `NO_COLOR=1`, the step's `env`, and the credential. The
//!   credential's value is scrubbed from everything the step reports: progress, output, diff,
//!   file names and errors. (It cannot be scrubbed from files the agent writes.)
//! - **No shell, no code from the prompt.** Nothing is run through a shell string, and the
//!   argv that would run (after `program` replaced argv\[0\] and `args` were added) is
//!   checked by one function, [`guard::check`], both by the validator and right before the
//!   process is spawned: a placeholder (or the prompt) where a shell or interpreter reads code
//!   is refused, seeing through wrappers such as `env`, `timeout`, `sudo` or `xargs`. That is
//!   the argument of `-c`/`-e`/`-r`/`--eval`/`-Command`/`/c` (also combined, as in `bash -lc`),
//!   the script itself (`python3 {{prompt}}`), or the program read from stdin (`sh`,
//!   `python3 -` with `stdin: true`). The refusal names the field and the argv index.
//!
//!   **The safe ways to hand over the prompt** are as data the program reads: on standard input
//!   (`"stdin": true`, with a program or script that reads it:
//!   `["my-agent", "--task-from-stdin"]`, `["python3", "agent.py"]`), in a file
//!   (`["my-agent", "--task-file", "{{promptFile}}"]`; the file is outside the working folder
//!   and removed after the attempt), or as a plain argument of a program or script that treats
//!   it as text (`["python3", "agent.py", "{{prompt}}"]`,
//!   `["bash", "-c", "my-agent \"$1\"", "agent", "{{prompt}}"]`). Never where a shell or
//!   interpreter reads code. See `guard.rs` for what is read how.
//! - **git runs no repository programs.** Every git command this crate runs (worktree add and
//!   remove, the snapshots, the diffs) is made by one function that disables hooks
//!   (`core.hooksPath=/dev/null`), the file-system monitor (`core.fsmonitor=false`), the
//!   untracked cache, the pager, external diffs and text conversion, so a repository's own
//!   config cannot make Symphony start its programs; and it blanks every clean, smudge and
//!   process filter the repository's own config defines (`filter.<name>.*`, listed first by
//!   reading the config), while the user's system and global filters (Git LFS) keep working.
//!   (The agent itself may run git as it likes: it is the program the step runs.)
//! - Steps share the concurrency key `agent:<preset>` (`settings.concurrency`), and are not
//!   cached: their work is a side effect.
//!
//! ## Platforms
//!
//! Unix only (Linux, macOS): stopping a process tree rests on process groups. On other systems
//! [`register`] adds nothing, so a melody using `instrument.agent` is refused by the validator
//! as naming an unknown type (a Windows port would use a Job Object in `process.rs`).

#[cfg(unix)]
mod agent;
#[cfg(unix)]
pub mod capture;
pub mod guard;
pub mod preset;
#[cfg(unix)]
pub mod process;

use std::sync::Arc;

#[cfg(unix)]
pub use agent::Agent;
use symphony_conductor::registry::DuplicateType;
use symphony_credentials::Credentials;

/// Registers `instrument.agent`, reading credentials from `credentials`. Fails only if the
/// registry already has a type of that name.
#[cfg(unix)]
pub fn register(
    registry: &mut symphony_conductor::Registry,
    credentials: Arc<dyn Credentials>,
) -> Result<(), DuplicateType> {
    registry.register(Arc::new(Agent::new(credentials)))
}

/// Registers nothing: agents need process groups, which this system lacks.
#[cfg(not(unix))]
pub fn register(
    _registry: &mut symphony_conductor::Registry,
    _credentials: Arc<dyn Credentials>,
) -> Result<(), DuplicateType> {
    Ok(())
}
