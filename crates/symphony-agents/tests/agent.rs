//! `instrument.agent` through the conductor, with a fake agent: a bash script written to a
//! temporary folder that reads its prompt, edits files, prints on stdout and stderr, sleeps
//! with a grandchild, fails, or echoes its credential, as its `FAKE_MODE` says. These are real
//! processes, so timeouts are real (hundreds of milliseconds) and process deaths are polled
//! for with a bounded loop; nothing asserts on how long anything took.

#![allow(clippy::unwrap_used)] // Tests unwrap: a panic is the failure report.
#![cfg(unix)]

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::time::Duration;

use serde_json::{json, Map, Value};
use symphony_conductor::testing::{self, melody, outcome};
use symphony_conductor::{
    Conductor, EventRecord, Registry, RunEvent, RunOptions, RunReport, RunStatus, StepOutcome,
};
use symphony_credentials::{CredentialError, Credentials, Secret};

const SENTINEL: &str = "sk-sentinel-7f3a9c-do-not-leak";

/// Knows one credential, `anthropic`, whose value is the sentinel.
struct TestCredentials;

impl Credentials for TestCredentials {
    fn get(&self, name: &str) -> Result<Secret, CredentialError> {
        if name == "anthropic" {
            Ok(Secret::new(SENTINEL))
        } else {
            Err(CredentialError::Missing {
                name: name.into(),
                looked: vec!["the test's credentials".into()],
            })
        }
    }
}

const FAKE_AGENT: &str = r#"#!/usr/bin/env bash
# A fake coding agent. The prompt is the last argument.
if [ -n "$PROMPT_FROM_STDIN" ]; then prompt="$(cat)"; else prompt="${@: -1}"; fi
printf '%s' "$prompt" > prompt.txt
printf '%s\n' "$@" > "${ARGS_FILE:-/dev/null}"
env | cut -d= -f1 | sort > "${ENV_FILE:-/dev/null}"
case "$FAKE_MODE" in
  edit)
    echo "working on it"
    echo "progress on stderr" >&2
    echo "changed by the agent" >> existing.txt
    mkdir -p src && echo 'fn main() {}' > src/main.rs
    rm -f doomed.txt
    if [ -n "$FAKE_SCAFFOLD" ]; then
      # What scaffolding tools do: a nested repository with no commit yet (cargo new), an
      # ignored build folder, an executable script and a symbolic link.
      mkdir -p app/node_modules/dep && (cd app && git init -q) && echo 'pub fn f() {}' > app/lib.rs
      echo 'node_modules/' > app/.gitignore && echo 'ignored' > app/node_modules/dep/index.js
      printf '#!/bin/sh\n' > run.sh && chmod +x run.sh && ln -s src/main.rs link
      echo 'history' > .aider.chat.history.md
    fi
    if [ -n "$FAKE_COMMIT" ]; then
      git add -A && git -c user.name=agent -c user.email=agent@example.com commit -q -m "agent work"
    fi
    echo "done: $prompt"
    ;;
  sleep)
    # A grandchild that ignores SIGTERM (ignored signals stay ignored across exec), so only
    # the SIGKILL after the grace period can end it.
    bash -c 'trap "" TERM; sleep 30 & echo $! > "$PID_FILE.tmp"; mv "$PID_FILE.tmp" "$PID_FILE"; wait' &
    echo "started"
    wait
    ;;
  daemon)
    # Leaves a process behind that holds stdout open, and exits.
    bash -c 'trap "" TERM; sleep 30 & echo $! > "$PID_FILE.tmp"; mv "$PID_FILE.tmp" "$PID_FILE"; wait' &
    while [ ! -s "$PID_FILE" ]; do sleep 0.05; done
    echo "finished, leaving a helper running"
    ;;
  json)
    # Claude Code's --output-format json result.
    echo 'new' > made.txt
    printf '{"type":"result","subtype":"success","is_error":%s,"result":"All done: made.txt","total_cost_usd":0.0421,"usage":{"input_tokens":12,"cache_creation_input_tokens":100,"cache_read_input_tokens":1000,"output_tokens":345}}\n' "${FAKE_IS_ERROR:-false}"
    [ -z "$FAKE_IS_ERROR" ]
    ;;
  chatty)
    for i in $(seq 1 2400); do echo "line $i"; done
    echo "a warning" >&2
    ;;
  fail)
    echo "partial answer"
    echo "error: the model said no: quota exceeded" >&2
    exit 3
    ;;
  leak)
    printf '%s' "${#ANTHROPIC_API_KEY}" > key-length.txt
    echo "using key $ANTHROPIC_API_KEY"
    echo "debug: Authorization: Bearer $ANTHROPIC_API_KEY" >&2
    if [ -n "$FAKE_FAIL" ]; then
      echo "401 invalid key $ANTHROPIC_API_KEY" >&2
      exit 1
    fi
    ;;
esac
"#;

struct Fixture {
    dir: tempfile::TempDir,
    agent: PathBuf,
}

impl Fixture {
    fn new() -> Fixture {
        let dir = tempfile::tempdir().unwrap();
        let agent = dir.path().join("fake-agent.sh");
        std::fs::write(&agent, FAKE_AGENT).unwrap();
        let mut perms = std::fs::metadata(&agent).unwrap().permissions();
        std::os::unix::fs::PermissionsExt::set_mode(&mut perms, 0o755);
        std::fs::set_permissions(&agent, perms).unwrap();
        Fixture { dir, agent }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    fn workspace(&self) -> PathBuf {
        self.path("run")
    }

    fn files(&self) -> PathBuf {
        self.workspace().join("files")
    }

    /// A step running the fake agent through the `command` preset.
    fn command_step(&self, id: &str, mode: &str, extra: Value) -> Value {
        let mut config = json!({
            "preset": "command",
            "command": [self.agent.to_str().unwrap(), "{{prompt}}"],
            "prompt": "make the change",
            "env": {"FAKE_MODE": mode},
        });
        merge(&mut config, extra);
        step(id, config, &["command", "files"])
    }

    /// A step running the fake agent through the `claude` preset, its binary overridden.
    fn claude_step(&self, id: &str, mode: &str, extra: Value) -> Value {
        let mut config = json!({
            "preset": "claude",
            "program": self.agent.to_str().unwrap(),
            "prompt": "make the change",
            "env": {"FAKE_MODE": mode},
        });
        merge(&mut config, extra);
        step(id, config, &["command", "files"])
    }
}

fn merge(config: &mut Value, extra: Value) {
    let Value::Object(extra) = extra else { return };
    for (k, v) in extra {
        if k == "env" {
            config["env"]
                .as_object_mut()
                .unwrap()
                .extend(v.as_object().unwrap().clone());
        } else {
            config[k] = v;
        }
    }
}

fn step(id: &str, config: Value, capabilities: &[&str]) -> Value {
    json!({
        "id": id, "kind": "instrument", "type": "instrument.agent",
        "config": config, "capabilities": capabilities,
    })
}

fn conductor() -> Conductor {
    let mut registry = Registry::standard();
    symphony_agents::register(&mut registry, Arc::new(TestCredentials)).unwrap();
    Conductor::new(registry)
}

fn options(f: &Fixture) -> RunOptions {
    RunOptions {
        run_id: "r1".into(),
        workspace: Some(f.workspace()),
        ..RunOptions::default()
    }
}

/// Plays a melody to its end, collecting every event.
async fn play(
    m: symphony_melody::Melody,
    options: RunOptions,
    steer: impl FnOnce(symphony_conductor::RunControl),
) -> (RunReport, Vec<EventRecord>) {
    testing::play_steered(&conductor(), m, options, steer).await
}

fn outputs(f: &Fixture, id: &str) -> Map<String, Value> {
    let path = f.workspace().join("steps").join(id).join("output.json");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str::<Value>(&text)
        .unwrap()
        .as_object()
        .unwrap()
        .clone()
}

fn note(report: &RunReport, id: &str) -> String {
    let s = report.steps.iter().find(|s| s.id == id).unwrap();
    s.note.clone().unwrap_or_default()
}

fn progress_text(events: &[EventRecord]) -> String {
    events
        .iter()
        .filter_map(|e| match &e.event {
            RunEvent::StepProgress { text, .. } => Some(text.as_str()),
            _ => None,
        })
        .collect()
}

/// The log lines of a step: (stream, line).
fn log_lines(events: &[EventRecord], id: &str) -> Vec<(String, String)> {
    events
        .iter()
        .filter_map(|e| match &e.event {
            RunEvent::StepLog {
                step, stream, line, ..
            } if &**step == id => Some((stream.to_string(), line.clone())),
            _ => None,
        })
        .collect()
}

fn git(dir: &Path, args: &[&str]) -> String {
    let out = Command::new("git")
        .args(["-c", "user.name=test", "-c", "user.email=test@example.com"])
        .args(args)
        .current_dir(dir)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "git {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// Whether a process is gone (a zombie nobody reaps counts as gone: it runs nothing).
fn is_dead(pid: u32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Err(_) => true,
        // The state is the first field after the command name, which is in parentheses.
        Ok(stat) => stat
            .rsplit_once(')')
            .is_some_and(|(_, rest)| rest.trim_start().starts_with(['Z', 'X'])),
    }
}

async fn wait_for_death(pid: u32) {
    for _ in 0..200 {
        if is_dead(pid) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // Do not leave it behind if the test fails.
    let _ = Command::new("kill").args(["-9", &pid.to_string()]).status();
    panic!("process {pid} is still alive 10 s after the step was stopped");
}

async fn wait_for_file(path: &Path) -> String {
    for _ in 0..200 {
        if let Ok(text) = std::fs::read_to_string(path) {
            if !text.trim().is_empty() {
                return text;
            }
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("{} never appeared", path.display());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn workspace_mode_records_output_diff_and_files() {
    let f = Fixture::new();
    std::fs::create_dir_all(f.files()).unwrap();
    std::fs::write(f.files().join("existing.txt"), "before\n").unwrap();
    std::fs::write(f.files().join("doomed.txt"), "bye\n").unwrap();
    let m = melody(json!({"steps": [f.command_step("agent", "edit", json!({}))]}));
    let (report, events) = play(m, options(&f), |_| {}).await;
    assert_eq!(report.status, RunStatus::Succeeded, "{:#?}", report.steps);

    let out = outputs(&f, "agent");
    assert_eq!(
        out["output"],
        json!("working on it\ndone: make the change\n")
    );
    assert_eq!(
        out["files"],
        json!(["doomed.txt", "existing.txt", "prompt.txt", "src/main.rs"])
    );
    let diff = out["diff"].as_str().unwrap();
    assert!(diff.contains("+changed by the agent"), "{diff}");
    assert!(
        diff.contains("new file mode") && diff.contains("+fn main() {}"),
        "{diff}"
    );
    assert!(
        diff.contains("deleted file mode") && diff.contains("-bye"),
        "{diff}"
    );
    let workdir = std::fs::canonicalize(f.files()).unwrap();
    assert_eq!(out["workdir"], json!(workdir.to_str().unwrap()));
    assert!(!out.contains_key("branch"));
    // Both streams arrive as progress.
    let progress = progress_text(&events);
    assert!(
        progress.contains("working on it") && progress.contains("progress on stderr"),
        "{progress}"
    );
    // The workspace needs no repository of its own, and gets none.
    assert!(!f.files().join(".git").exists());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_record_looks_into_nested_repositories_and_honours_gitignore() {
    let f = Fixture::new();
    let m = melody(json!({"steps": [f.command_step(
        "agent",
        "edit",
        json!({"env": {"FAKE_SCAFFOLD": "1"}})
    )]}));
    let (report, _) = play(m, options(&f), |_| {}).await;
    assert_eq!(report.status, RunStatus::Succeeded, "{:#?}", report.steps);
    let out = outputs(&f, "agent");
    assert_eq!(
        out["files"],
        json!([
            // Only an aider step leaves out `.aider*`: this is the command preset.
            ".aider.chat.history.md",
            "app/.gitignore",
            "app/lib.rs",
            "existing.txt",
            "link",
            "prompt.txt",
            "run.sh",
            "src/main.rs"
        ])
    );
    let diff = out["diff"].as_str().unwrap();
    assert!(diff.contains("new file mode 100755"), "{diff}");
    assert!(
        diff.contains("new file mode 120000") && diff.contains("+src/main.rs"),
        "{diff}"
    );
    assert!(diff.contains("+pub fn f() {}"), "{diff}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_aider_step_leaves_aiders_own_files_out_of_the_record() {
    let f = Fixture::new();
    let args_file = f.path("args.txt");
    let mut s = f.claude_step(
        "aider",
        "edit",
        json!({"env": {"FAKE_SCAFFOLD": "1", "ARGS_FILE": args_file.to_str().unwrap()}}),
    );
    s["config"]["preset"] = json!("aider");
    let (report, _) = play(melody(json!({"steps": [s]})), options(&f), |_| {}).await;
    assert_eq!(report.status, RunStatus::Succeeded, "{:#?}", report.steps);
    let files = outputs(&f, "aider")["files"].clone();
    assert!(
        !files
            .as_array()
            .unwrap()
            .contains(&json!(".aider.chat.history.md")),
        "{files}"
    );
    assert!(
        files.as_array().unwrap().contains(&json!("app/lib.rs")),
        "{files}"
    );
    let args = std::fs::read_to_string(&args_file).unwrap();
    assert_eq!(
        args.lines().collect::<Vec<_>>(),
        [
            "--yes-always",
            "--no-pretty",
            "--no-check-update",
            "--no-gitignore",
            "--no-git",
            "--message=make the change"
        ]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_preset_runs_its_cli_with_its_flags_and_an_overridden_program() {
    let f = Fixture::new();
    let args_file = f.path("args.txt");
    let m = melody(json!({"steps": [f.claude_step(
        "claude",
        "edit",
        json!({"model": "sonnet", "env": {"ARGS_FILE": args_file.to_str().unwrap()}})
    )]}));
    let (report, _) = play(m, options(&f), |_| {}).await;
    assert_eq!(report.status, RunStatus::Succeeded, "{:#?}", report.steps);
    let args = std::fs::read_to_string(&args_file).unwrap();
    assert_eq!(
        args.lines().collect::<Vec<_>>(),
        [
            "-p",
            "--output-format",
            "json",
            "--permission-mode",
            "acceptEdits",
            "--model",
            "sonnet",
            "--",
            "make the change"
        ]
    );
    assert!(outputs(&f, "claude")["files"]
        .as_array()
        .unwrap()
        .contains(&json!("src/main.rs")));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn claude_code_json_gives_the_answer_tokens_and_cost() {
    let f = Fixture::new();
    let m = melody(json!({"steps": [f.claude_step("ok", "json", json!({})),]}));
    let (report, events) = play(m, options(&f), |_| {}).await;
    assert_eq!(report.status, RunStatus::Succeeded, "{:#?}", report.steps);
    let out = outputs(&f, "ok");
    assert_eq!(out["output"], json!("All done: made.txt"));
    assert_eq!(out["files"], json!(["made.txt", "prompt.txt"]));
    let usage = report.steps[0].usage.clone().unwrap();
    assert_eq!((usage.input_tokens, usage.output_tokens), (1112, 345));
    assert_eq!(usage.cost_usd, Some(0.0421));
    assert!(!usage.estimated);
    // The answer is shown as progress, not the JSON around it.
    let progress = progress_text(&events);
    assert!(
        progress.contains("All done") && !progress.contains("total_cost_usd"),
        "{progress}"
    );

    // An error result fails the step with the answer in the message.
    let m = melody(json!({"steps": [f.claude_step(
        "bad",
        "json",
        json!({"env": {"FAKE_IS_ERROR": "true"}})
    )]}));
    let (report, _) = play(m, options(&f), |_| {}).await;
    let note = note(&report, "bad");
    assert!(
        note.contains("exited with code 1") && note.contains("it answered: All done"),
        "{note}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_prompt_with_shell_metacharacters_is_passed_verbatim() {
    let f = Fixture::new();
    let prompt = "-rf it's \"quoted\"; $(touch pwned) `touch pwned2` && echo $HOME | cat > x * \\ \n second line &";
    let m = melody(json!({"steps": [f.command_step(
        "cmd",
        "edit",
        json!({"prompt": prompt})
    ),]}));
    let (report, _) = play(m, options(&f), |_| {}).await;
    assert_eq!(report.status, RunStatus::Succeeded, "{:#?}", report.steps);
    assert_eq!(
        std::fs::read_to_string(f.files().join("prompt.txt")).unwrap(),
        prompt
    );

    // Through a preset too, where the prompt follows `--`.
    let g = Fixture::new();
    let m = melody(json!({"steps": [g.claude_step(
        "claude",
        "edit",
        json!({"prompt": prompt})
    )]}));
    let (report, _) = play(m, options(&g), |_| {}).await;
    assert_eq!(report.status, RunStatus::Succeeded, "{:#?}", report.steps);
    assert_eq!(
        std::fs::read_to_string(g.files().join("prompt.txt")).unwrap(),
        prompt
    );
    for dir in [
        f.files(),
        g.files(),
        f.dir.path().to_owned(),
        g.dir.path().to_owned(),
    ] {
        assert!(
            !dir.join("pwned").exists() && !dir.join("pwned2").exists() && !dir.join("x").exists()
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_prompt_too_long_for_an_argument_goes_through_stdin() {
    // Linux refuses one argument over 128 KiB; this prompt is 150 KB.
    let prompt: String = "write the feature; ".repeat(8000);
    let f = Fixture::new();
    let args_file = f.path("args.txt");
    let m = melody(json!({"steps": [f.claude_step(
        "claude",
        "edit",
        json!({"prompt": prompt, "env": {"PROMPT_FROM_STDIN": "1", "ARGS_FILE": args_file.to_str().unwrap()}})
    )]}));
    let (report, _) = play(m, options(&f), |_| {}).await;
    assert_eq!(report.status, RunStatus::Succeeded, "{:#?}", report.steps);
    let got = std::fs::read_to_string(f.files().join("prompt.txt")).unwrap();
    assert!(
        got == prompt,
        "the agent read {} bytes of {}",
        got.len(),
        prompt.len()
    );
    let args = std::fs::read_to_string(&args_file).unwrap();
    assert!(
        args.len() < 200,
        "the prompt stayed off the command line: {} bytes",
        args.len()
    );

    // The command preset sends it on stdin when asked.
    let g = Fixture::new();
    let m = melody(json!({"steps": [g.command_step(
        "cmd",
        "edit",
        json!({"prompt": "short, on stdin", "stdin": true, "env": {"PROMPT_FROM_STDIN": "1"}})
    )]}));
    let (report, _) = play(m, options(&g), |_| {}).await;
    assert_eq!(report.status, RunStatus::Succeeded, "{:#?}", report.steps);
    assert_eq!(
        std::fs::read_to_string(g.files().join("prompt.txt")).unwrap(),
        "short, on stdin"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn worktree_mode_makes_a_branch_per_step_and_leaves_the_checkout_alone() {
    let f = Fixture::new();
    let repo = f.path("repo");
    std::fs::create_dir_all(&repo).unwrap();
    git(&repo, &["init", "-q", "-b", "main"]);
    std::fs::write(repo.join("existing.txt"), "before\n").unwrap();
    std::fs::write(repo.join("doomed.txt"), "bye\n").unwrap();
    git(&repo, &["add", "-A"]);
    git(&repo, &["commit", "-q", "-m", "start"]);
    let head = git(&repo, &["rev-parse", "HEAD"]);

    let repo_s = repo.to_str().unwrap();
    let m = melody(json!({"steps": [
        f.command_step("a", "edit", json!({"workdir": "worktree", "repo": repo_s})),
        // This agent commits its work, as Aider does: the diff is against the start, so it
        // is recorded all the same.
        f.command_step(
            "b",
            "edit",
            json!({"workdir": "worktree", "repo": repo_s, "env": {"FAKE_COMMIT": "1"}})
        ),
    ]}));
    let (report, _) = play(m, options(&f), |_| {}).await;
    assert_eq!(report.status, RunStatus::Succeeded, "{:#?}", report.steps);

    for id in ["a", "b"] {
        let out = outputs(&f, id);
        let branch = format!("symphony/r1/{id}");
        assert_eq!(out["branch"], json!(branch));
        assert_eq!(
            out["files"],
            json!(["doomed.txt", "existing.txt", "prompt.txt", "src/main.rs"]),
            "{id}"
        );
        let diff = out["diff"].as_str().unwrap();
        assert!(
            diff.contains("+changed by the agent") && diff.contains("+fn main() {}"),
            "{id}: {diff}"
        );
        let workdir = PathBuf::from(out["workdir"].as_str().unwrap());
        assert_eq!(
            workdir,
            std::fs::canonicalize(f.workspace())
                .unwrap()
                .join("worktrees")
                .join(id)
        );
        assert_eq!(
            git(&workdir, &["rev-parse", "--abbrev-ref", "HEAD"]).trim(),
            branch
        );
        assert!(workdir.join("src/main.rs").is_file());
    }
    let branches = git(
        &repo,
        &[
            "branch",
            "--list",
            "symphony/*",
            "--format=%(refname:short)",
        ],
    );
    assert_eq!(
        branches.lines().collect::<Vec<_>>(),
        ["symphony/r1/a", "symphony/r1/b"]
    );
    // b's commit is on b's branch; a's work is left uncommitted in its worktree.
    assert_ne!(git(&repo, &["rev-parse", "symphony/r1/b"]), head);
    assert_eq!(git(&repo, &["rev-parse", "symphony/r1/a"]), head);

    // The main checkout: same commit, same branch, no changes, no new files.
    assert_eq!(git(&repo, &["rev-parse", "HEAD"]), head);
    assert_eq!(
        git(&repo, &["rev-parse", "--abbrev-ref", "HEAD"]).trim(),
        "main"
    );
    assert_eq!(git(&repo, &["status", "--porcelain"]), "");
    assert_eq!(
        std::fs::read_to_string(repo.join("existing.txt")).unwrap(),
        "before\n"
    );
    assert!(!repo.join("src").exists() && repo.join("doomed.txt").exists());

    // A second run with the same id starts each worktree afresh from the start commit.
    let m = melody(json!({"steps": [f.command_step(
        "a",
        "fail",
        json!({"workdir": "worktree", "repo": repo_s})
    )]}));
    let (report, _) = play(m, options(&f), |_| {}).await;
    assert_eq!(outcome(&report, "a"), StepOutcome::Failed);
    let workdir = f.workspace().join("worktrees").join("a");
    assert!(
        !workdir.join("src").exists(),
        "the old attempt's files were cleared"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn worktree_mode_branches_from_the_workspace_when_it_is_a_repository() {
    // Not a repository: the step says what to do.
    let f = Fixture::new();
    let m = melody(json!({"steps": [f.command_step(
        "a",
        "edit",
        json!({"workdir": "worktree"})
    )]}));
    let (report, _) = play(m, options(&f), |_| {}).await;
    let note = note(&report, "a");
    assert!(
        note.contains("config.repo") && note.contains("needs a git repository"),
        "{note}"
    );

    // A repository: the worktree branches from it and leaves its checkout alone.
    let g = Fixture::new();
    std::fs::create_dir_all(g.files()).unwrap();
    git(&g.files(), &["init", "-q", "-b", "main"]);
    std::fs::write(g.files().join("existing.txt"), "before\n").unwrap();
    git(&g.files(), &["add", "-A"]);
    git(&g.files(), &["commit", "-q", "-m", "start"]);
    let m = melody(json!({"steps": [g.command_step(
        "a",
        "edit",
        json!({"workdir": "worktree"})
    )]}));
    let (report, _) = play(m, options(&g), |_| {}).await;
    assert_eq!(report.status, RunStatus::Succeeded, "{:#?}", report.steps);
    assert_eq!(outputs(&g, "a")["branch"], json!("symphony/r1/a"));
    assert_eq!(git(&g.files(), &["status", "--porcelain"]), "");
    assert!(git(&g.files(), &["branch", "--list", "symphony/r1/a"]).contains("symphony/r1/a"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_timeout_kills_the_whole_process_tree() {
    let f = Fixture::new();
    let pid_file = f.path("grandchild.pid");
    let mut s = f.command_step(
        "slow",
        "sleep",
        json!({"graceMs": 200, "env": {"PID_FILE": pid_file.to_str().unwrap()}}),
    );
    s["policy"] = json!({"timeoutMs": 700});
    let (report, _) = play(melody(json!({"steps": [s]})), options(&f), |_| {}).await;
    assert_eq!(outcome(&report, "slow"), StepOutcome::Failed);
    assert!(
        note(&report, "slow").contains("timed out"),
        "{}",
        note(&report, "slow")
    );
    let pid: u32 = wait_for_file(&pid_file).await.trim().parse().unwrap();
    wait_for_death(pid).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn what_a_finished_agent_leaves_running_is_stopped() {
    let f = Fixture::new();
    let pid_file = f.path("helper.pid");
    let s = f.command_step(
        "agent",
        "daemon",
        json!({"graceMs": 200, "env": {"PID_FILE": pid_file.to_str().unwrap()}}),
    );
    // No timeout is set: the step ends although the helper holds the agent's stdout open.
    let (report, _) = play(melody(json!({"steps": [s]})), options(&f), |_| {}).await;
    assert_eq!(report.status, RunStatus::Succeeded, "{:#?}", report.steps);
    assert_eq!(
        outputs(&f, "agent")["output"],
        json!("finished, leaving a helper running\n")
    );
    let pid: u32 = wait_for_file(&pid_file).await.trim().parse().unwrap();
    wait_for_death(pid).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cancelling_the_run_kills_the_whole_process_tree() {
    let f = Fixture::new();
    let pid_file = f.path("grandchild.pid");
    let s = f.command_step(
        "slow",
        "sleep",
        json!({"graceMs": 200, "env": {"PID_FILE": pid_file.to_str().unwrap()}}),
    );
    let watched = pid_file.clone();
    let (report, _) = play(melody(json!({"steps": [s]})), options(&f), move |control| {
        tokio::spawn(async move {
            wait_for_file(&watched).await;
            control.cancel();
        });
    })
    .await;
    assert_eq!(report.status, RunStatus::Cancelled, "{:#?}", report.steps);
    let pid: u32 = wait_for_file(&pid_file).await.trim().parse().unwrap();
    wait_for_death(pid).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_agent_gives_an_error_with_the_end_of_its_stderr() {
    let f = Fixture::new();
    let m = melody(json!({"steps": [f.command_step("bad", "fail", json!({}))]}));
    let (report, _) = play(m, options(&f), |_| {}).await;
    assert_eq!(report.status, RunStatus::Failed);
    let note = note(&report, "bad");
    assert!(note.contains("exited with code 3"), "{note}");
    assert!(
        note.contains("error: the model said no: quota exceeded"),
        "{note}"
    );
    assert!(
        note.contains(f.agent.to_str().unwrap()),
        "the message names the agent: {note}"
    );

    // A missing binary is a config error that says what to do.
    let mut s = f.claude_step("missing", "edit", json!({}));
    s["config"]["program"] = json!(f.path("no-such-agent").to_str().unwrap());
    let (report, _) = play(melody(json!({"steps": [s]})), options(&f), |_| {}).await;
    let note = self::note(&report, "missing");
    assert!(
        note.contains("was not found") && note.contains("config.program"),
        "{note}"
    );
}

fn all_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            all_files(&path, out);
        } else {
            out.push(path);
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_credential_reaches_the_agent_and_nothing_else() {
    let f = Fixture::new();
    let env_file = f.path("env.txt");
    let with_key = |id: &str, extra: Value| {
        let mut s = f.claude_step(id, "leak", extra);
        s["config"]["credential"] = json!("anthropic");
        s["capabilities"] = json!(["command", "files", "secrets"]);
        s
    };
    let ok = with_key(
        "ok",
        json!({"env": {"ENV_FILE": env_file.to_str().unwrap()}}),
    );
    let mut failing = with_key("failing", json!({"env": {"FAKE_FAIL": "1"}}));
    failing["config"]["workdir"] = json!("workspace");
    // Played one after the other: both work in files/.
    let m = melody(json!({"steps": [ok, failing], "settings": {"maxParallel": 1}}));
    let (report, events) = play(m, options(&f), |_| {}).await;
    assert_eq!(
        outcome(&report, "ok"),
        StepOutcome::Succeeded,
        "{:#?}",
        report.steps
    );
    assert_eq!(outcome(&report, "failing"), StepOutcome::Failed);

    // The agent had it, under the preset's variable.
    assert_eq!(
        std::fs::read_to_string(f.files().join("key-length.txt")).unwrap(),
        SENTINEL.len().to_string()
    );
    // It was scrubbed where the agent echoed it.
    let out = outputs(&f, "ok");
    assert_eq!(out["output"], json!("using key ***\n"));
    let failing_note = note(&report, "failing");
    assert!(
        failing_note.contains("401 invalid key ***"),
        "{failing_note}"
    );
    assert!(progress_text(&events).contains("Bearer ***"));
    // Each line it printed is in the step's log, scrubbed (stdout too, though this preset's
    // stdout is a JSON result and not shown as progress).
    let lines = log_lines(&events, "ok");
    assert!(
        lines.contains(&("stdout".to_owned(), "using key ***".to_owned()))
            && lines.contains(&(
                "stderr".to_owned(),
                "debug: Authorization: Bearer ***".to_owned()
            )),
        "{lines:?}"
    );
    // Nowhere in events, the report or the workspace.
    for e in &events {
        let text = serde_json::to_string(e).unwrap();
        assert!(
            !text.contains(SENTINEL),
            "an event holds the secret: {text}"
        );
    }
    assert!(!serde_json::to_string(&report).unwrap().contains(SENTINEL));
    let mut files = Vec::new();
    all_files(&f.workspace(), &mut files);
    assert!(files.len() > 3);
    for path in files {
        let bytes = std::fs::read(&path).unwrap();
        assert!(
            !String::from_utf8_lossy(&bytes).contains(SENTINEL),
            "{} holds the secret",
            path.display()
        );
    }
    // The agent's environment was the clean one: nothing of the test's own (cargo sets
    // CARGO_* for tests), just the named variables.
    let names = std::fs::read_to_string(&env_file).unwrap();
    let allowed = [
        "PATH",
        "HOME",
        "USER",
        "LOGNAME",
        "LANG",
        "LC_ALL",
        "TMPDIR",
        "TERM",
        "NO_COLOR",
        "ANTHROPIC_API_KEY",
        "FAKE_MODE",
        "ENV_FILE",
        // bash sets these itself.
        "PWD",
        "SHLVL",
        "_",
        "OLDPWD",
    ];
    for name in names.lines() {
        assert!(
            allowed.contains(&name),
            "unexpected variable {name} in the agent's environment"
        );
    }
    assert!(names.lines().any(|n| n == "ANTHROPIC_API_KEY"));
}

#[test]
fn a_credential_needs_the_secrets_capability_and_a_variable() {
    let mut registry = Registry::standard();
    symphony_agents::register(&mut registry, Arc::new(TestCredentials)).unwrap();
    let f = Fixture::new();
    let mut s = f.claude_step("a", "edit", json!({}));
    s["config"]["credential"] = json!("anthropic");
    let mut c = f.command_step("c", "edit", json!({}));
    c["config"]["credential"] = json!("anthropic");
    c["capabilities"] = json!(["command", "files", "secrets"]);
    let m = melody(json!({"steps": [s, c]}));
    let problems: Vec<String> = symphony_melody::validate(&m, &registry)
        .iter()
        .map(ToString::to_string)
        .collect();
    assert_eq!(problems.len(), 2, "{problems:#?}");
    assert!(
        problems[0].contains("steps.a") && problems[0].contains("`secrets` capability"),
        "{problems:#?}"
    );
    assert!(
        problems[1].contains("steps.c") && problems[1].contains("credentialEnv"),
        "{problems:#?}"
    );

    // Agents of one CLI share one concurrency limit; the type is registered once.
    let entry = registry.get("instrument.agent").unwrap();
    let config = json!({"preset": "claude"});
    assert_eq!(
        entry
            .step_type
            .concurrency_key(config.as_object().unwrap())
            .as_deref(),
        Some("agent:claude")
    );
    assert!(symphony_agents::register(&mut registry, Arc::new(TestCredentials)).is_err());

    // And the type needs command and files.
    let mut bare = f.command_step("d", "edit", json!({}));
    bare["capabilities"] = json!([]);
    let problems = symphony_melody::validate(&melody(json!({"steps": [bare]})), &registry);
    let text: Vec<String> = problems.iter().map(ToString::to_string).collect();
    assert!(
        text.iter().any(|p| p.contains("`command` capability")),
        "{text:#?}"
    );
    assert!(
        text.iter().any(|p| p.contains("`files` capability")),
        "{text:#?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_line_the_agent_prints_is_a_log_line_of_its_stream() {
    let f = Fixture::new();
    let m = melody(json!({"steps": [f.command_step("agent", "edit", json!({}))]}));
    let (report, events) = play(m, options(&f), |_| {}).await;
    assert_eq!(report.status, RunStatus::Succeeded, "{:#?}", report.steps);
    let lines = log_lines(&events, "agent");
    let of = |stream: &str| -> Vec<&str> {
        lines
            .iter()
            .filter(|(s, _)| s == stream)
            .map(|(_, l)| l.as_str())
            .collect()
    };
    // The two pipes are read side by side, so only the order within a stream is certain.
    assert_eq!(of("stdout"), ["working on it", "done: make the change"]);
    assert_eq!(of("stderr"), ["progress on stderr"]);
    assert_eq!(lines.len(), 3, "{lines:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_chatty_agent_logs_its_first_2000_lines_and_counts_the_rest() {
    let f = Fixture::new();
    let m = melody(json!({"steps": [f.command_step("agent", "chatty", json!({}))]}));
    let (report, events) = play(m, options(&f), |_| {}).await;
    assert_eq!(report.status, RunStatus::Succeeded, "{:#?}", report.steps);
    let lines = log_lines(&events, "agent");
    assert_eq!(lines.len(), 2001);
    let stdout: Vec<&str> = lines
        .iter()
        .filter(|(s, _)| s == "stdout")
        .map(|(_, l)| l.as_str())
        .collect();
    // The stdout lines kept are the first ones, in order.
    assert_eq!(stdout[0], "line 1");
    assert!(stdout
        .iter()
        .enumerate()
        .all(|(i, l)| *l == format!("line {}", i + 1)));
    let (stream, last) = lines.last().unwrap();
    assert_eq!(stream, "info");
    // 2400 stdout lines and one stderr line, 2000 kept.
    assert_eq!(
        last,
        "401 more lines of output left out of the log (it keeps the first 2000 of each attempt)"
    );
    // The output port still has every line.
    assert!(outputs(&f, "agent")["output"]
        .as_str()
        .unwrap()
        .ends_with("line 2400\n"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_command_that_would_run_the_prompt_as_code_is_refused_and_never_runs() {
    let f = Fixture::new();
    let marker = f.path("ran.txt");
    let marker_s = marker.to_str().unwrap();
    // Each would create the marker if it ran at all, and then run the prompt as shell code.
    let inject = step(
        "inject",
        json!({
            "preset": "command",
            "command": ["env", "-i", "bash", "-lc", format!("touch {marker_s}; echo {{{{prompt}}}}")],
            "prompt": "hello; touch pwned",
        }),
        &["command", "files"],
    );
    let piped = step(
        "piped",
        json!({
            "preset": "command",
            "command": ["timeout", "60", "sh"],
            "stdin": true,
            "prompt": format!("touch {marker_s}"),
        }),
        &["command", "files"],
    );
    let m = melody(json!({"steps": [inject, piped]}));

    // Validation names the step and the field.
    let mut registry = Registry::standard();
    symphony_agents::register(&mut registry, Arc::new(TestCredentials)).unwrap();
    let problems: Vec<String> = symphony_melody::validate(&m, &registry)
        .iter()
        .map(ToString::to_string)
        .collect();
    assert_eq!(problems.len(), 2, "{problems:#?}");
    assert!(
        problems[0].contains("steps.inject")
            && problems[0].contains("config.command[4]")
            && problems[0].contains("argv[4]")
            && problems[0].contains("`stdin: true`"),
        "{problems:#?}"
    );
    assert!(
        problems[1].contains("steps.piped")
            && problems[1].contains("config.stdin")
            && problems[1].contains("standard input"),
        "{problems:#?}"
    );
    // So the conductor will not start it.
    assert!(conductor().start(m.clone(), options(&f)).await.is_err());

    // Played without validation, each step refuses before anything is spawned.
    let c = conductor();
    let prepared = c.prepare_checked(m);
    let run = c
        .start_prepared(&prepared, options(&f))
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let (report, _) = testing::collect(run).await;
    for id in ["inject", "piped"] {
        assert_eq!(outcome(&report, id), StepOutcome::Failed, "{id}");
        let note = note(&report, id);
        assert!(note.contains("refused"), "{id}: {note}");
    }
    assert!(note(&report, "inject").contains("config.command[4]"));
    assert!(
        !marker.exists(),
        "a refused command ran: {} exists",
        marker.display()
    );
    assert!(!f.files().join("pwned").exists());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn prompt_file_hands_the_prompt_over_as_a_file() {
    let f = Fixture::new();
    let prompt = "it's \"quoted\"; $(touch pwned)";
    let s = step(
        "agent",
        json!({
            "preset": "command",
            "command": ["sh", "-c", "cat \"$1\" > prompt.txt", "sh", "{{promptFile}}"],
            "prompt": prompt,
        }),
        &["command", "files"],
    );
    let (report, _) = play(melody(json!({"steps": [s]})), options(&f), |_| {}).await;
    assert_eq!(report.status, RunStatus::Succeeded, "{:#?}", report.steps);
    assert_eq!(
        std::fs::read_to_string(f.files().join("prompt.txt")).unwrap(),
        prompt
    );
    assert!(!f.files().join("pwned").exists());
    // The file is outside the working folder, so it is not recorded as the agent's work.
    assert_eq!(outputs(&f, "agent")["files"], json!(["prompt.txt"]));
}

/// Hooks, an fsmonitor and clean and smudge filters (for files the repository's
/// `.gitattributes` gives `filter=trap`) that leave a marker named after themselves in `dir`
/// when run.
fn booby_trap(repo: &Path, dir: &Path) {
    for kind in ["clean", "smudge"] {
        git(
            repo,
            &[
                "config",
                &format!("filter.trap.{kind}"),
                &format!("touch '{}/filter-{kind}'; cat", dir.display()),
            ],
        );
    }
    let hooks = repo.join(".git").join("hooks");
    std::fs::create_dir_all(&hooks).unwrap();
    let mut scripts: Vec<PathBuf> = [
        "post-checkout",
        "pre-commit",
        "post-commit",
        "reference-transaction",
        "post-index-change",
        "pre-auto-gc",
        "post-rewrite",
        "fsmonitor-watchman",
    ]
    .iter()
    .map(|name| hooks.join(name))
    .collect();
    scripts.push(repo.join("fsmonitor.sh"));
    for script in &scripts {
        let name = script.file_name().unwrap().to_str().unwrap();
        std::fs::write(
            script,
            format!("#!/bin/sh\ntouch '{}/{name}'\n", dir.display()),
        )
        .unwrap();
        let mut perms = std::fs::metadata(script).unwrap().permissions();
        std::os::unix::fs::PermissionsExt::set_mode(&mut perms, 0o755);
        std::fs::set_permissions(script, perms).unwrap();
    }
    git(
        repo,
        &[
            "config",
            "core.fsmonitor",
            repo.join("fsmonitor.sh").to_str().unwrap(),
        ],
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn git_runs_symphony_starts_run_no_hooks_no_fsmonitor_and_no_filters() {
    let f = Fixture::new();
    let repo = f.path("repo");
    std::fs::create_dir_all(&repo).unwrap();
    git(&repo, &["init", "-q", "-b", "main"]);
    std::fs::write(repo.join("existing.txt"), "before\n").unwrap();
    std::fs::write(repo.join("doomed.txt"), "bye\n").unwrap();
    std::fs::write(repo.join(".gitattributes"), "* filter=trap\n").unwrap();
    git(&repo, &["add", "-A"]);
    git(&repo, &["commit", "-q", "-m", "start"]);
    let markers = f.path("markers");
    std::fs::create_dir_all(&markers).unwrap();
    booby_trap(&repo, &markers);

    // Twice: the second attempt removes and re-adds the worktree and resets the branch.
    for _ in 0..2 {
        let m = melody(json!({"steps": [f.command_step(
            "a",
            "edit",
            json!({"workdir": "worktree", "repo": repo.to_str().unwrap()})
        )]}));
        let (report, _) = play(m, options(&f), |_| {}).await;
        assert_eq!(report.status, RunStatus::Succeeded, "{:#?}", report.steps);
        let ran: Vec<String> = std::fs::read_dir(&markers)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        assert!(ran.is_empty(), "these ran: {ran:?}");
    }
    let out = outputs(&f, "a");
    assert_eq!(
        out["files"],
        json!(["doomed.txt", "existing.txt", "prompt.txt", "src/main.rs"])
    );

    // The trap works: git run without Symphony's settings springs it.
    git(&repo, &["status", "--porcelain"]);
    std::fs::write(repo.join("new.txt"), "x\n").unwrap();
    git(&repo, &["add", "new.txt"]);
    let ran: Vec<String> = std::fs::read_dir(&markers)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert!(
        ran.iter().any(|m| m == "filter-clean") && ran.len() > 1,
        "the test's hooks, fsmonitor and filters do not run at all: {ran:?}"
    );
}
