//! `symphony diff` and `symphony merge-driver`, black-box: the diff of two files (and of two
//! commits' versions), and real git repositories that merge a melody through the driver.
//!
//! Git runs with no system or user configuration (`GIT_CONFIG_NOSYSTEM`, a temporary `HOME`),
//! so the tests do not depend on the machine.

#![allow(clippy::unwrap_used)] // Tests unwrap: a panic is the failure report.

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use serde_json::{json, Value};

const FILE: &str = "melodies/idea.melody.json";

/// What a finished process left: its exit code and both streams.
struct Ran {
    code: i32,
    stdout: String,
    stderr: String,
}

impl std::fmt::Debug for Ran {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "exit {}\n--- stdout ---\n{}\n--- stderr ---\n{}",
            self.code, self.stdout, self.stderr
        )
    }
}

fn finish(mut cmd: Command, stdin: Option<&[u8]>) -> Ran {
    cmd.stdin(if stdin.is_some() {
        Stdio::piped()
    } else {
        Stdio::null()
    })
    .stdout(Stdio::piped())
    .stderr(Stdio::piped());
    let mut child = cmd.spawn().unwrap();
    if let Some(bytes) = stdin {
        child.stdin.take().unwrap().write_all(bytes).unwrap();
    }
    let out = child.wait_with_output().unwrap();
    Ran {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// Runs `symphony ARGS` in `dir`, optionally with `stdin`.
fn symphony(dir: &Path, args: &[&str], stdin: Option<&[u8]>) -> Ran {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_symphony"));
    cmd.args(args)
        .current_dir(dir)
        .env_remove("RUST_LOG")
        .env("NO_COLOR", "1")
        .env("SYMPHONY_DB", dir.join("runs.db"));
    finish(cmd, stdin)
}

/// Runs `symphony ARGS` and checks its exit code.
fn check(dir: &Path, args: &[&str], code: i32) -> Ran {
    let r = symphony(dir, args, None);
    assert_eq!(r.code, code, "symphony {}\n{r:?}", args.join(" "));
    r
}

/// A git repository in a temporary folder, with a home of its own and the merge driver set up.
struct Repo {
    _tmp: tempfile::TempDir,
    home: PathBuf,
    dir: PathBuf,
}

impl Repo {
    fn new() -> Repo {
        let tmp = tempfile::tempdir().unwrap();
        let home = tmp.path().join("home");
        let dir = tmp.path().join("repo");
        std::fs::create_dir_all(&home).unwrap();
        std::fs::create_dir_all(dir.join("melodies")).unwrap();
        let repo = Repo {
            _tmp: tmp,
            home,
            dir,
        };
        repo.ok(&["init", "-q", "-b", "main"]);
        repo.ok(&["config", "user.name", "Test"]);
        repo.ok(&["config", "user.email", "test@example.com"]);
        repo.ok(&["config", "merge.symphony.name", "Symphony melody merge"]);
        let driver = format!(
            "'{}' merge-driver %O %A %B %P",
            env!("CARGO_BIN_EXE_symphony")
        );
        repo.ok(&["config", "merge.symphony.driver", &driver]);
        std::fs::write(
            repo.dir.join(".gitattributes"),
            "*.melody.json merge=symphony\n",
        )
        .unwrap();
        repo
    }

    fn git(&self, args: &[&str]) -> Ran {
        let mut cmd = Command::new("git");
        cmd.args(args)
            .current_dir(&self.dir)
            .env("GIT_CONFIG_NOSYSTEM", "1")
            .env("HOME", &self.home)
            .env("XDG_CONFIG_HOME", self.home.join(".config"))
            .env("GIT_TERMINAL_PROMPT", "0")
            .env("NO_COLOR", "1")
            .env_remove("GIT_DIR")
            .env_remove("GIT_WORK_TREE")
            .env_remove("GIT_INDEX_FILE")
            .env_remove("GIT_CONFIG_GLOBAL");
        finish(cmd, None)
    }

    fn ok(&self, args: &[&str]) -> Ran {
        let r = self.git(args);
        assert_eq!(r.code, 0, "git {}\n{r:?}", args.join(" "));
        r
    }

    /// Writes the melody (canonical, through `symphony fmt`) and commits it.
    fn commit(&self, melody: &Value, message: &str) {
        std::fs::write(
            self.dir.join(FILE),
            serde_json::to_string_pretty(melody).unwrap(),
        )
        .unwrap();
        check(&self.dir, &["fmt", FILE], 0);
        self.ok(&["add", "-A"]);
        self.ok(&["commit", "-q", "--allow-empty", "-m", message]);
    }

    fn melody(&self) -> Value {
        serde_json::from_str(&std::fs::read_to_string(self.dir.join(FILE)).unwrap()).unwrap()
    }
}

/// The example melody idea-to-code, as JSON.
fn example() -> Value {
    let path =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../melodies/idea-to-code.melody.json");
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

fn step<'a>(m: &'a mut Value, id: &str) -> &'a mut Value {
    m["steps"]
        .as_array_mut()
        .unwrap()
        .iter_mut()
        .find(|s| s["id"] == id)
        .unwrap()
}

fn edited(f: impl FnOnce(&mut Value)) -> Value {
    let mut m = example();
    f(&mut m);
    m
}

/// A repository with the example on `main`, a branch `left` and a branch `right` each
/// committing their own edit, and `left` checked out.
fn branches(left: Value, right: Value) -> Repo {
    let repo = Repo::new();
    repo.commit(&example(), "base");
    repo.ok(&["checkout", "-q", "-b", "left"]);
    repo.commit(&left, "left");
    repo.ok(&["checkout", "-q", "-b", "right", "main"]);
    repo.commit(&right, "right");
    repo.ok(&["checkout", "-q", "left"]);
    repo
}

#[test]
fn git_merges_edits_of_different_steps_cleanly() {
    let repo = branches(
        edited(|m| step(m, "spec")["config"]["prompt"] = json!("Write a spec for: {{goal}}")),
        edited(|m| {
            step(m, "architecture")["config"]["system"] = json!("You are a careful architect.");
            step(m, "features")["policy"]["estimateMs"] = json!(450);
            m["layout"]["steps"]["code"] = json!({"x": 900.0, "y": 120.0});
        }),
    );
    let r = repo.git(&["merge", "--no-edit", "right"]);
    assert_eq!(r.code, 0, "{r:?}");

    let m = repo.melody();
    assert_eq!(
        step(&mut m.clone(), "spec")["config"]["prompt"],
        "Write a spec for: {{goal}}"
    );
    let mut m2 = m.clone();
    assert_eq!(
        step(&mut m2, "architecture")["config"]["system"],
        "You are a careful architect."
    );
    assert_eq!(step(&mut m2, "features")["policy"]["estimateMs"], 450);
    assert_eq!(m["layout"]["steps"]["code"]["x"], 900.0);
    assert!(m["layout"].get("mergeConflicts").is_none());
    check(&repo.dir, &["validate", FILE], 0);
    check(&repo.dir, &["fmt", "--check", FILE], 0);
    // Nothing left to resolve, and the merge commit holds the file.
    assert_eq!(repo.ok(&["status", "--porcelain"]).stdout, "");
}

#[test]
fn git_merge_of_the_same_prompt_is_a_conflict_recorded_in_a_valid_melody() {
    let repo = branches(
        edited(|m| step(m, "spec")["config"]["prompt"] = json!("Ours: a spec for {{goal}}")),
        edited(|m| {
            step(m, "spec")["config"]["prompt"] = json!("Theirs: a spec for {{goal}}");
            step(m, "write_spec")["config"]["path"] = json!("docs/SPEC.md");
        }),
    );
    let r = repo.git(&["merge", "--no-edit", "right"]);
    assert_ne!(r.code, 0, "{r:?}");
    let all = format!("{}{}", r.stdout, r.stderr);
    assert!(all.contains("CONFLICT"), "{r:?}");
    assert!(
        all.contains("conflict: melodies/idea.melody.json: steps.spec.config.prompt"),
        "{r:?}"
    );
    assert!(
        repo.ok(&["status", "--porcelain"])
            .stdout
            .contains(&format!("UU {FILE}")),
        "the file is marked conflicted"
    );

    let mut m = repo.melody();
    assert_eq!(
        step(&mut m, "spec")["config"]["prompt"],
        "Ours: a spec for {{goal}}"
    );
    // Their other edit merged.
    assert_eq!(step(&mut m, "write_spec")["config"]["path"], "docs/SPEC.md");
    assert_eq!(
        m["layout"]["mergeConflicts"],
        json!([{
            "path": "steps.spec.config.prompt",
            "base": "Turn this idea into a clear product spec with goals, users and constraints: {{goal}}",
            "ours": "Ours: a spec for {{goal}}",
            "theirs": "Theirs: a spec for {{goal}}"
        }])
    );
    // Still a valid melody, already canonical, and saving it again keeps the record.
    check(&repo.dir, &["validate", FILE], 0);
    check(&repo.dir, &["fmt", "--check", FILE], 0);
    check(&repo.dir, &["fmt", FILE], 0);
    assert_eq!(
        repo.melody()["layout"]["mergeConflicts"][0]["ours"],
        "Ours: a spec for {{goal}}"
    );

    // A person resolves it: takes theirs, drops the record, commits.
    let mut resolved = repo.melody();
    step(&mut resolved, "spec")["config"]["prompt"] = json!("Theirs: a spec for {{goal}}");
    resolved["layout"]
        .as_object_mut()
        .unwrap()
        .remove("mergeConflicts");
    repo.commit(&resolved, "merge right");
    check(&repo.dir, &["validate", FILE], 0);
}

#[test]
fn git_merge_keeps_ours_for_a_layout_only_conflict() {
    let repo = branches(
        edited(|m| m["layout"]["steps"]["spec"] = json!({"x": 10.0, "y": 10.0})),
        edited(|m| m["layout"]["steps"]["spec"] = json!({"x": 20.0, "y": 20.0})),
    );
    let r = repo.git(&["merge", "--no-edit", "right"]);
    assert_eq!(r.code, 0, "{r:?}");
    assert!(
        r.stderr
            .contains("layout.steps.spec: changed on both sides (layout only); kept ours")
            || r.stdout.contains("layout.steps.spec"),
        "{r:?}"
    );
    assert_eq!(repo.melody()["layout"]["steps"]["spec"]["x"], 10.0);
}

#[test]
fn diff_of_two_commits_shows_field_level_changes() {
    let repo = branches(
        edited(|m| {
            step(m, "spec")["config"]["prompt"] =
                json!("Turn this idea into a short product spec: {{goal}}");
            step(m, "spec")["policy"]["retry"]["max"] = json!(3);
            m["melody"]["name"] = json!("Idea to code, reviewed");
            let arch = step(m, "architecture");
            let prompt = arch["config"]["prompt"]
                .as_str()
                .unwrap()
                .replace("Features:", "Feature list:");
            arch["config"]["prompt"] = json!(prompt);
        }),
        example(),
    );
    let old = repo.ok(&["show", &format!("main:{FILE}")]).stdout;
    let new = repo.ok(&["show", &format!("left:{FILE}")]).stdout;
    std::fs::write(repo.dir.join("old.json"), &old).unwrap();
    std::fs::write(repo.dir.join("new.json"), &new).unwrap();

    let r = check(&repo.dir, &["diff", "old.json", "new.json"], 1);
    let lines: Vec<&str> = r.stdout.lines().collect();
    assert_eq!(
        lines,
        [
            r#"~ melody.name: "Idea to code" → "Idea to code, reviewed""#,
            r#"~ step spec: config.prompt: "Turn this idea into a clear product spec with goals, users a…" → "Turn this idea into a short product spec: {{goal}}""#,
            "~ step spec: policy.retry.max: 2 → 3",
            // Long texts that differ late are shown from a little before the difference.
            r#"~ step architecture: config.prompt: "…interfaces) for:\n{{spec}}\n\nFeatures:\n{{features}}" → "…interfaces) for:\n{{spec}}\n\nFeature list:\n{{features}}""#,
        ],
        "{r:?}"
    );

    // One side from stdin, straight from git.
    let r = symphony(&repo.dir, &["diff", "-", FILE], Some(old.as_bytes()));
    assert_eq!(r.code, 1, "{r:?}");
    assert!(
        r.stdout.contains("~ step spec: policy.retry.max: 2 → 3"),
        "{r:?}"
    );
}

#[test]
fn diff_exit_codes_json_and_layout() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let write = |name: &str, v: &Value| {
        std::fs::write(d.join(name), serde_json::to_string_pretty(v).unwrap()).unwrap();
    };
    write("a.melody.json", &example());
    write("same.melody.json", &example());
    write(
        "moved.melody.json",
        &edited(|m| {
            m["layout"]["steps"]["spec"] = json!({"x": 5.0, "y": 5.0});
            m["layout"]["steps"]["code"] = json!({"x": 5.0, "y": 500.0});
        }),
    );
    write(
        "b.melody.json",
        &edited(|m| {
            m["steps"].as_array_mut().unwrap().push(json!({
                "id": "review", "kind": "instrument", "type": "instrument.offline",
                "inputs": {"text": {"type": "text"}}, "config": {"prompt": "Review {{text}}"}}));
            m["edges"]
                .as_array_mut()
                .unwrap()
                .push(json!({"from": "spec.output", "to": "review.text"}));
            m["inputs"]["mode"] = json!({"type": "string", "default": "quick"});
            m["settings"]["maxParallel"] = json!(6);
        }),
    );
    std::fs::write(
        d.join("bad.melody.json"),
        r#"{"formatVersion": 1, "steps": "#,
    )
    .unwrap();

    let r = check(d, &["diff", "a.melody.json", "same.melody.json"], 0);
    assert_eq!(r.stdout, "");

    let r = check(d, &["diff", "a.melody.json", "moved.melody.json"], 1);
    assert_eq!(
        r.stdout,
        "layout only (changes nothing that runs): 2 steps moved\n  moved: code, spec\n"
    );
    let r = check(
        d,
        &["diff", "--no-layout", "a.melody.json", "moved.melody.json"],
        0,
    );
    assert_eq!(r.stdout, "");

    let r = check(d, &["diff", "a.melody.json", "b.melody.json"], 1);
    assert_eq!(
        r.stdout,
        "~ settings.maxParallel: 4 → 6\n\
         + input mode (string)\n\
         + step review (instrument.offline)\n\
         + edge spec.output → review.text\n",
        "{r:?}"
    );

    let r = check(d, &["diff", "--json", "a.melody.json", "b.melody.json"], 1);
    let v: Value = serde_json::from_str(&r.stdout).unwrap();
    assert_eq!(v["same"], false);
    assert_eq!(v["changesWhatRuns"], true);
    assert_eq!(v["a"], "a.melody.json");
    assert_eq!(v["steps"][0]["id"], "review");
    assert_eq!(v["steps"][0]["change"], "added");
    assert_eq!(v["steps"][0]["step"]["config"]["prompt"], "Review {{text}}");
    assert_eq!(
        v["edges"]["added"],
        json!([{"from": "spec.output", "to": "review.text"}])
    );
    assert_eq!(
        v["settings"],
        json!([{"path": "settings.maxParallel", "before": 4, "after": 6}])
    );
    assert_eq!(v["inputs"][0]["path"], "inputs.mode");
    assert!(v["inputs"][0].get("before").is_none());

    let r = check(d, &["diff", "a.melody.json", "bad.melody.json"], 3);
    assert!(
        r.stderr
            .contains("error: bad.melody.json: the file ends too early"),
        "{r:?}"
    );
    let r = check(d, &["diff", "a.melody.json", "missing.melody.json"], 4);
    assert!(r.stderr.contains("missing.melody.json"), "{r:?}");
    check(d, &["diff", "-", "-"], 2);
    check(d, &["diff", "a.melody.json"], 2);
}

#[test]
fn merge_driver_leaves_ours_alone_when_a_side_is_not_a_melody() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let text = serde_json::to_string_pretty(&example()).unwrap();
    std::fs::write(d.join("base"), &text).unwrap();
    std::fs::write(d.join("ours"), &text).unwrap();
    std::fs::write(d.join("theirs"), "{ not json").unwrap();
    let r = check(d, &["merge-driver", "base", "ours", "theirs", FILE], 3);
    assert!(r.stderr.contains("(theirs)"), "{r:?}");
    assert_eq!(std::fs::read_to_string(d.join("ours")).unwrap(), text);
}

#[test]
fn merge_driver_reports_a_result_that_no_longer_validates() {
    // Both sides feed the same (non-list) input port from a different step: each side is
    // valid, the merge of the edge sets is not.
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let write = |name: &str, v: &Value| {
        std::fs::write(d.join(name), serde_json::to_string_pretty(v).unwrap()).unwrap();
    };
    let extra_input = |m: &mut Value, from: &str| {
        step(m, "write_code")["inputs"] = json!({"note": {"type": "text"}});
        m["edges"]
            .as_array_mut()
            .unwrap()
            .push(json!({"from": from, "to": "write_code.note"}));
    };
    write("base", &example());
    write("ours", &edited(|m| extra_input(m, "spec.output")));
    write("theirs", &edited(|m| extra_input(m, "architecture.output")));
    check(d, &["validate", "ours"], 0);
    check(d, &["validate", "theirs"], 0);
    let r = check(d, &["merge-driver", "base", "ours", "theirs", FILE], 1);
    assert!(r.stderr.contains("does not validate"), "{r:?}");
}
