//! Black-box tests of the `symphony` binary: each runs the real executable in a temporary
//! folder and checks its exit code, its output and the files it leaves behind.

#![allow(clippy::unwrap_used)] // Tests unwrap: a panic is the failure report.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use serde_json::Value;

/// What a finished `symphony` process left: its exit code and both streams as text.
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

fn ran(output: Output) -> Ran {
    Ran {
        code: output.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    }
}

/// Runs `symphony ARGS` in `dir` with stdout piped (so never the live view).
fn symphony(dir: &Path, args: &[&str]) -> Ran {
    let output = Command::new(env!("CARGO_BIN_EXE_symphony"))
        .args(args)
        .current_dir(dir)
        .env_remove("RUST_LOG")
        .env("NO_COLOR", "1")
        // Each test folder keeps its own run store.
        .env("SYMPHONY_DB", dir.join("runs.db"))
        .stdin(Stdio::null())
        .output()
        .expect("the symphony binary runs");
    ran(output)
}

/// Runs and checks the exit code, showing everything the command printed when it differs.
fn check(dir: &Path, args: &[&str], code: i32) -> Ran {
    let r = symphony(dir, args);
    assert_eq!(r.code, code, "symphony {}\n{r:?}", args.join(" "));
    r
}

fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path
}

fn read_json(path: &Path) -> Value {
    let text = std::fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    serde_json::from_str(&text).unwrap()
}

/// Three offline steps: an offline instrument plans, a template makes a document of it, and a
/// file step writes it into the workspace. `latency` is the instrument's simulated think time.
fn three_steps(latency_ms: u64) -> String {
    format!(
        r##"{{"formatVersion": 1,
  "melody": {{"id": "three", "name": "Three steps"}},
  "inputs": {{"goal": {{"type": "string", "description": "what to plan"}}}},
  "steps": [
    {{"id": "plan", "kind": "instrument", "type": "instrument.offline",
      "config": {{"prompt": "Plan {{{{goal}}}} with milestones", "latencyMs": {latency_ms}}}}},
    {{"id": "doc", "kind": "operator", "type": "operator.template",
      "inputs": {{"text": {{"type": "text"}}}},
      "config": {{"template": "# Plan for {{{{goal}}}}\n\n{{{{text}}}}"}}}},
    {{"id": "save", "kind": "operator", "type": "operator.file.write",
      "config": {{"path": "plan.md"}}, "capabilities": ["files"]}}
  ],
  "edges": [
    {{"from": "plan.output", "to": "doc.text"}},
    {{"from": "doc.output", "to": "save.content"}}
  ]}}"##
    )
}

/// `plan` succeeds and is saved; `broken` fails every attempt and has no retry policy.
const ONE_FAILS: &str = r#"{"formatVersion": 1,
  "melody": {"id": "one-fails", "name": "One fails"},
  "steps": [
    {"id": "plan", "kind": "instrument", "type": "instrument.offline",
     "config": {"prompt": "Plan the work"}},
    {"id": "save", "kind": "operator", "type": "operator.file.write",
     "config": {"path": "plan.md"}, "capabilities": ["files"]},
    {"id": "broken", "kind": "instrument", "type": "instrument.offline",
     "config": {"prompt": "Never works", "failAttempts": 99}}
  ],
  "edges": [{"from": "plan.output", "to": "save.content"}]}"#;

#[test]
fn validate_ok_exits_0() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "three.melody.json", &three_steps(0));
    let r = check(dir.path(), &["validate", "three.melody.json"], 0);
    assert!(
        r.stdout.contains("ok  three.melody.json (3 steps)"),
        "{r:?}"
    );
}

#[test]
fn validate_reports_every_problem_with_paths_and_exits_3() {
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        "bad.melody.json",
        r#"{"formatVersion": 1, "melody": {"id": "bad", "name": "Bad"},
            "steps": [
              {"id": "plan", "kind": "instrument", "type": "instrument.offlne", "config": {"prompt": "x"}},
              {"id": "save", "kind": "operator", "type": "operator.file.write", "config": {"path": "a.md", "content": "x"}}
            ],
            "edges": [{"from": "plan.output", "to": "nowhere.input"}]}"#,
    );
    write(dir.path(), "good.melody.json", &three_steps(0));
    let r = check(
        dir.path(),
        &["validate", "bad.melody.json", "good.melody.json"],
        3,
    );
    let problems: Vec<&str> = r
        .stderr
        .lines()
        .filter(|l| l.starts_with("error: bad.melody.json: "))
        .collect();
    assert!(problems.len() >= 3, "{r:?}");
    for path in ["steps.plan.type", "steps.save.capabilities", "edges[0].to"] {
        assert!(
            problems.iter().any(|p| p.contains(path)),
            "no problem at {path}\n{r:?}"
        );
    }
    assert!(
        r.stderr.contains("did you mean `instrument.offline`"),
        "{r:?}"
    );
    // The good file is still checked and reported.
    assert!(r.stdout.contains("ok  good.melody.json"), "{r:?}");
}

#[test]
fn validate_truncated_json_exits_3() {
    let dir = tempfile::tempdir().unwrap();
    let full = three_steps(0);
    write(dir.path(), "cut.melody.json", &full[..full.len() / 2]);
    let r = check(dir.path(), &["validate", "cut.melody.json"], 3);
    assert!(r.stderr.contains("cut.melody.json"), "{r:?}");
    assert!(r.stderr.contains("truncated"), "{r:?}");
}

#[test]
fn validate_missing_file_exits_4() {
    let dir = tempfile::tempdir().unwrap();
    let r = check(dir.path(), &["validate", "nowhere.melody.json"], 4);
    assert!(
        r.stderr
            .contains("error: cannot read `nowhere.melody.json`"),
        "{r:?}"
    );
    // The same for every command that reads a melody.
    check(dir.path(), &["plan", "nowhere.melody.json"], 4);
    check(dir.path(), &["run", "nowhere.melody.json"], 4);
    check(dir.path(), &["fmt", "nowhere.melody.json"], 4);
}

#[test]
fn validate_json_lists_each_file() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "good.melody.json", &three_steps(0));
    write(dir.path(), "bad.melody.json", "[1, 2]");
    let r = check(
        dir.path(),
        &["validate", "--json", "good.melody.json", "bad.melody.json"],
        3,
    );
    let report: Value = serde_json::from_str(&r.stdout).unwrap();
    assert_eq!(report[0]["file"], "good.melody.json");
    assert_eq!(report[0]["ok"], true);
    assert_eq!(report[1]["ok"], false);
    assert!(report[1]["problems"][0]["message"]
        .as_str()
        .unwrap()
        .contains("JSON object"));
}

#[test]
fn run_offline_melody_fills_the_workspace() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "three.melody.json", &three_steps(0));
    let r = check(
        dir.path(),
        &[
            "run",
            "three.melody.json",
            "--input",
            "goal=a todo app",
            "--workspace",
            "ws",
        ],
        0,
    );
    let ws = dir.path().join("ws");
    for step in ["plan", "doc", "save"] {
        let out = read_json(&ws.join("steps").join(step).join("output.json"));
        assert!(out.is_object(), "{step}: {out}");
    }
    let plan = std::fs::read_to_string(ws.join("files/plan.md")).unwrap();
    assert!(plan.starts_with("# Plan for a todo app"), "{plan}");
    assert!(plan.contains("offline"), "{plan}");
    let result = read_json(&ws.join("result.json"));
    assert_eq!(result["status"], "succeeded");
    assert_eq!(result["outputs"]["save"]["path"], "plan.md");
    let run = read_json(&ws.join("run.json"));
    assert_eq!(run["status"], "succeeded");
    assert_eq!(run["inputs"]["goal"], "a todo app");
    assert!(r.stdout.contains("workspace: ws"), "{r:?}");
    assert!(r.stdout.contains("result:    ws/result.json"), "{r:?}");
}

#[test]
fn piped_run_prints_one_line_per_change_and_the_summary() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "three.melody.json", &three_steps(200));
    let r = check(
        dir.path(),
        &[
            "run",
            "three.melody.json",
            "-i",
            "goal=x",
            "--workspace",
            "ws",
        ],
        0,
    );
    let out = &r.stdout;
    assert!(
        out.contains("OFFLINE rehearsal — no model is called"),
        "{r:?}"
    );
    assert!(
        out.contains("] started    plan (instrument.offline, offline)"),
        "{r:?}"
    );
    // Streamed progress is summed up in the succeeded line, not printed chunk by chunk.
    let plan_lines: Vec<&str> = out.lines().filter(|l| l.contains(" plan ")).collect();
    assert_eq!(plan_lines.len(), 2, "{plan_lines:#?}");
    assert!(plan_lines[1].contains("succeeded  plan  in "), "{r:?}");
    assert!(plan_lines[1].contains("streamed"), "{r:?}");
    // The summary table: a header, one row per step, the totals.
    assert!(
        out.contains("step  outcome    attempts   time  tokens in/out  cost  note"),
        "{r:?}"
    );
    let row = out
        .lines()
        .find(|l| l.starts_with("plan  succeeded"))
        .unwrap_or_else(|| panic!("no summary row for plan\n{r:?}"));
    assert!(row.contains("~"), "estimated tokens are marked: {row}");
    assert!(row.ends_with("offline"), "{row}");
    assert!(
        out.contains("run succeeded in ") && out.contains("3 of 3 steps succeeded"),
        "{r:?}"
    );
    // No escape codes when piped.
    assert!(!out.contains('\x1b'), "{r:?}");
}

#[test]
fn json_run_prints_only_json_lines_then_the_report() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "three.melody.json", &three_steps(50));
    let r = check(
        dir.path(),
        &[
            "run",
            "three.melody.json",
            "--input",
            "goal=x",
            "--workspace",
            "ws",
            "--json",
        ],
        0,
    );
    let lines: Vec<Value> = r
        .stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect();
    let types: Vec<&str> = lines.iter().map(|v| v["type"].as_str().unwrap()).collect();
    assert_eq!(types.first(), Some(&"runStarted"), "{types:?}");
    assert_eq!(lines[0]["offline"], true);
    assert!(types.contains(&"stepSucceeded"), "{types:?}");
    assert!(types.contains(&"stepProgress"), "{types:?}");
    assert_eq!(types.last(), Some(&"report"), "{types:?}");
    let report = lines.last().unwrap();
    assert_eq!(report["status"], "succeeded");
    assert_eq!(report["totals"]["succeeded"], 3);
    assert_eq!(report["result"]["save"]["path"], "plan.md");
    // Human messages went to stderr.
    assert!(r.stderr.contains("workspace: ws"), "{r:?}");
}

#[test]
fn missing_required_input_exits_3_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "three.melody.json", &three_steps(0));
    let r = check(
        dir.path(),
        &["run", "three.melody.json", "--workspace", "ws"],
        3,
    );
    assert!(
        r.stderr.contains(
            "error: three.melody.json: inputs.goal: missing required run input `goal` (what to plan)"
        ),
        "{r:?}"
    );
    assert!(!dir.path().join("ws").exists(), "nothing is written");
}

#[test]
fn bad_inputs_exit_3_with_every_problem() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "three.melody.json", &three_steps(0));
    let r = check(
        dir.path(),
        &[
            "run",
            "three.melody.json",
            "-i",
            "gaol=x",
            "-i",
            "goal=y",
            "-i",
            "goal=z",
        ],
        3,
    );
    assert!(
        r.stderr.contains(
            "inputs.gaol: --input gaol: the melody has no input `gaol`; did you mean `goal`?"
        ),
        "{r:?}"
    );
    assert!(r.stderr.contains("given more than once"), "{r:?}");
    // Typed inputs are parsed by their declared type.
    write(
        dir.path(),
        "typed.melody.json",
        r#"{"formatVersion": 1, "melody": {"id": "typed", "name": "Typed"},
            "inputs": {"n": {"type": "number"}, "tags": {"type": "list", "default": []}},
            "steps": [{"id": "t", "kind": "operator", "type": "operator.template",
                       "config": {"template": "{{n}} {{tags}}"}}]}"#,
    );
    let r = check(
        dir.path(),
        &["run", "typed.melody.json", "-i", "n=three", "-i", "tags=[1"],
        3,
    );
    assert!(
        r.stderr
            .contains("inputs.n: --input n: expected a number, found `three`"),
        "{r:?}"
    );
    assert!(
        r.stderr
            .contains("inputs.tags: --input tags: expected JSON"),
        "{r:?}"
    );
    let r = check(
        dir.path(),
        &[
            "run",
            "typed.melody.json",
            "-i",
            "n=3",
            "-i",
            "tags=[\"a\"]",
            "--workspace",
            "ws",
        ],
        0,
    );
    let result = read_json(&dir.path().join("ws/result.json"));
    let text = result["outputs"]["t"]["output"].as_str().unwrap();
    assert!(
        text.starts_with("3 [") && text.contains("\"a\""),
        "{text}\n{r:?}"
    );
}

#[test]
fn input_file_gives_a_string_input_its_text() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "three.melody.json", &three_steps(0));
    write(dir.path(), "goal.txt", "a  spaced goal\n");
    check(
        dir.path(),
        &[
            "run",
            "three.melody.json",
            "--input-file",
            "goal=goal.txt",
            "--workspace",
            "ws",
        ],
        0,
    );
    let run = read_json(&dir.path().join("ws/run.json"));
    assert_eq!(run["inputs"]["goal"], "a  spaced goal\n");
    let r = check(
        dir.path(),
        &[
            "run",
            "three.melody.json",
            "--input-file",
            "goal=missing.txt",
        ],
        4,
    );
    assert!(r.stderr.contains("cannot read `missing.txt`"), "{r:?}");
}

#[test]
fn failing_step_exits_1_and_keeps_the_finished_outputs() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "fails.melody.json", ONE_FAILS);
    let r = check(
        dir.path(),
        &["run", "fails.melody.json", "--workspace", "ws"],
        1,
    );
    let ws = dir.path().join("ws");
    assert!(ws.join("steps/plan/output.json").is_file());
    assert!(ws.join("files/plan.md").is_file());
    assert!(!ws.join("steps/broken").exists());
    assert_eq!(read_json(&ws.join("result.json"))["status"], "failed");
    assert!(
        r.stdout
            .contains("failed     broken  offline rehearsal: attempt 1 fails"),
        "{r:?}"
    );
    let row = r
        .stdout
        .lines()
        .find(|l| l.starts_with("broken"))
        .unwrap_or_else(|| panic!("no summary row for broken\n{r:?}"));
    assert!(row.contains("failed"), "{row}");
    assert!(r.stdout.contains("run failed in"), "{r:?}");
    assert!(
        r.stdout.contains("2 of 3 steps succeeded, 1 failed"),
        "{r:?}"
    );
}

#[test]
fn workspace_holding_a_run_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "three.melody.json", &three_steps(0));
    let args = [
        "run",
        "three.melody.json",
        "-i",
        "goal=x",
        "--workspace",
        "ws",
    ];
    check(dir.path(), &args, 0);
    let r = check(dir.path(), &args, 4);
    assert!(r.stderr.contains("already holds a run"), "{r:?}");
    // A workspace that cannot be created is an I/O error too.
    write(dir.path(), "file", "not a folder");
    let r = check(
        dir.path(),
        &[
            "run",
            "three.melody.json",
            "-i",
            "goal=x",
            "--workspace",
            "file/ws",
        ],
        4,
    );
    assert!(
        r.stderr.contains("cannot prepare the run workspace"),
        "{r:?}"
    );
}

#[test]
fn default_workspace_is_under_runs() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "three.melody.json", &three_steps(0));
    let r = check(dir.path(), &["run", "three.melody.json", "-i", "goal=x"], 0);
    let runs: Vec<String> = std::fs::read_dir(dir.path().join("runs"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(runs.len(), 1, "{runs:?}");
    // three-YYYYMMDD-HHMMSS-xxxx
    let name = &runs[0];
    assert!(
        name.starts_with("three-") && name.len() == "three-".len() + 15 + 5,
        "{name}"
    );
    assert!(
        r.stdout.contains(&format!("workspace: runs/{name}")),
        "{r:?}"
    );
    assert!(dir
        .path()
        .join("runs")
        .join(name)
        .join("result.json")
        .is_file());
}

#[test]
fn dry_run_writes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "three.melody.json", &three_steps(0));
    let r = check(
        dir.path(),
        &["run", "three.melody.json", "-i", "goal=x", "--dry-run"],
        0,
    );
    assert!(r.stdout.contains("nothing is written"), "{r:?}");
    assert!(r.stdout.contains("wave 1: plan"), "{r:?}");
    assert!(
        r.stdout
            .contains("save  operator.file.write  (may use: files)"),
        "{r:?}"
    );
    let entries: Vec<_> = std::fs::read_dir(dir.path()).unwrap().collect();
    assert_eq!(entries.len(), 1, "only the melody file: {entries:?}");
    // Inputs are still checked.
    check(dir.path(), &["run", "three.melody.json", "--dry-run"], 3);
    let r = check(
        dir.path(),
        &[
            "run",
            "three.melody.json",
            "-i",
            "goal=x",
            "--dry-run",
            "--json",
        ],
        0,
    );
    let doc: Value = serde_json::from_str(&r.stdout).unwrap();
    assert_eq!(doc["type"], "dryRun");
    assert_eq!(doc["plan"]["waves"][0][0], "plan");
}

#[test]
fn plan_prints_waves_and_critical_path() {
    let dir = tempfile::tempdir().unwrap();
    // a → b → d and a → c → d, where c is slow: the critical path goes through c.
    write(
        dir.path(),
        "diamond.melody.json",
        r#"{"formatVersion": 1, "melody": {"id": "diamond", "name": "Diamond"},
            "steps": [
              {"id": "a", "kind": "instrument", "type": "instrument.offline", "config": {"prompt": "a"}},
              {"id": "b", "kind": "operator", "type": "operator.pass"},
              {"id": "c", "kind": "operator", "type": "operator.pass", "policy": {"estimateMs": 5000}},
              {"id": "d", "kind": "operator", "type": "operator.merge"}
            ],
            "edges": [
              {"from": "a.output", "to": "b.input"}, {"from": "a.output", "to": "c.input"},
              {"from": "b.output", "to": "d.items"}, {"from": "c.output", "to": "d.items"}
            ]}"#,
    );
    let r = symphony(dir.path(), &["validate", "diamond.melody.json"]);
    assert_eq!(r.code, 0, "the test melody must be valid\n{r:?}");
    let r = check(dir.path(), &["plan", "diamond.melody.json"], 0);
    assert!(
        r.stdout.contains("wave 1: a\nwave 2: b, c\nwave 3: d\n"),
        "{r:?}"
    );
    assert!(r.stdout.contains("critical path: a → c → d"), "{r:?}");
    assert!(
        r.stdout
            .contains("offline instruments (no model is called): a"),
        "{r:?}"
    );
    let r = check(dir.path(), &["plan", "diamond.melody.json", "--json"], 0);
    let plan: Value = serde_json::from_str(&r.stdout).unwrap();
    assert_eq!(plan["criticalPath"], serde_json::json!(["a", "c", "d"]));
    assert_eq!(plan["offline"], serde_json::json!(["a"]));
    assert_eq!(plan["steps"][2]["estimateMs"], 5000);
}

#[test]
fn fmt_check_finds_and_fmt_fixes_non_canonical_files() {
    let dir = tempfile::tempdir().unwrap();
    let messy = write(dir.path(), "messy.melody.json", &three_steps(0));
    let r = check(dir.path(), &["fmt", "--check", "messy.melody.json"], 1);
    assert!(
        r.stdout.contains("would reformat messy.melody.json"),
        "{r:?}"
    );
    assert_eq!(
        std::fs::read_to_string(&messy).unwrap(),
        three_steps(0),
        "--check changes nothing"
    );
    let r = check(dir.path(), &["fmt", "messy.melody.json"], 0);
    assert!(r.stdout.contains("formatted messy.melody.json"), "{r:?}");
    check(dir.path(), &["fmt", "--check", "messy.melody.json"], 0);
    let canonical = std::fs::read_to_string(&messy).unwrap();
    assert!(
        canonical.ends_with("}\n") && canonical.contains("\n  \"steps\": ["),
        "{canonical}"
    );
    // Formatting twice changes nothing, and the melody still validates.
    check(dir.path(), &["fmt", "messy.melody.json"], 0);
    assert_eq!(std::fs::read_to_string(&messy).unwrap(), canonical);
    check(dir.path(), &["validate", "messy.melody.json"], 0);
    // A file that does not parse is reported and left alone.
    write(dir.path(), "broken.melody.json", "{");
    let r = check(dir.path(), &["fmt", "--check", "broken.melody.json"], 3);
    assert!(r.stderr.contains("broken.melody.json"), "{r:?}");
}

#[test]
fn fmt_records_step_type_versions_and_a_file_for_a_newer_version_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let file = write(dir.path(), "m.melody.json", &three_steps(0));
    check(dir.path(), &["fmt", "m.melody.json"], 0);
    let formatted: Value = serde_json::from_str(&std::fs::read_to_string(&file).unwrap()).unwrap();
    let used: std::collections::BTreeSet<String> = formatted["steps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["type"].as_str().unwrap().to_owned())
        .collect();
    let pinned: std::collections::BTreeSet<String> = formatted["stepTypes"]
        .as_object()
        .unwrap()
        .keys()
        .cloned()
        .collect();
    assert_eq!(pinned, used, "every type used is pinned, nothing else");
    assert!(formatted["stepTypes"]
        .as_object()
        .unwrap()
        .values()
        .all(|v| v == 1));

    // A file saved by a Symphony whose `instrument.offline` is at version 2: every command
    // that reads it refuses it and says why; `fmt` leaves it alone.
    let mut newer = formatted.clone();
    newer["stepTypes"]["instrument.offline"] = serde_json::json!(2);
    let newer = serde_json::to_string_pretty(&newer).unwrap();
    write(dir.path(), "newer.melody.json", &newer);
    for args in [
        &["validate", "newer.melody.json"][..],
        &["run", "newer.melody.json"][..],
        &["fmt", "newer.melody.json"][..],
    ] {
        let r = check(dir.path(), args, 3);
        assert!(
            r.stderr.contains("stepTypes.instrument.offline: made for version 2 of `instrument.offline`; this Symphony has version 1. Update Symphony"),
            "{args:?}: {r:?}"
        );
    }
    assert_eq!(
        std::fs::read_to_string(dir.path().join("newer.melody.json")).unwrap(),
        newer
    );
}

#[test]
fn a_runs_folder_that_links_out_is_refused_not_written_through() {
    let dir = tempfile::tempdir().unwrap();
    let elsewhere = tempfile::tempdir().unwrap();
    write(dir.path(), "m.melody.json", &three_steps(0));
    std::os::unix::fs::symlink(elsewhere.path(), dir.path().join("runs")).unwrap();
    let r = check(
        dir.path(),
        &["run", "m.melody.json", "--input", "goal=x"],
        4,
    );
    assert!(
        r.stderr.contains("`runs` leads out of this folder") && r.stderr.contains("--workspace"),
        "{r:?}"
    );
    assert_eq!(std::fs::read_dir(elsewhere.path()).unwrap().count(), 0);
    // The person can still say where runs go.
    check(
        dir.path(),
        &[
            "run",
            "m.melody.json",
            "--input",
            "goal=x",
            "--workspace",
            "mine",
        ],
        0,
    );
    assert!(dir.path().join("mine/files/plan.md").exists());
}

#[test]
fn import_superoptix_writes_a_melody_that_validates() {
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        "tiny_orchestra.yaml",
        r#"
orchestra:
  id: tiny
  name: Tiny Orchestra
agents:
  - name: planner
  - name: writer
tasks:
  - name: plan
    agent: planner
    description: "Plan {goal} in steps."
  - name: write
    agent: writer
    description: "Write it up."
    context: [plan]
"#,
    );
    let r = check(
        dir.path(),
        &[
            "import",
            "superoptix",
            "tiny_orchestra.yaml",
            "-o",
            "tiny.melody.json",
        ],
        0,
    );
    assert!(r.stdout.contains("2 steps, 1 edge, inputs: goal"), "{r:?}");
    check(dir.path(), &["validate", "tiny.melody.json"], 0);
    check(dir.path(), &["fmt", "--check", "tiny.melody.json"], 0);
    // An existing file is kept unless --force.
    let r = check(
        dir.path(),
        &[
            "import",
            "superoptix",
            "tiny_orchestra.yaml",
            "-o",
            "tiny.melody.json",
        ],
        4,
    );
    assert!(r.stderr.contains("already exists; pass --force"), "{r:?}");
    check(
        dir.path(),
        &[
            "import",
            "superoptix",
            "tiny_orchestra.yaml",
            "-o",
            "tiny.melody.json",
            "--force",
        ],
        0,
    );
    // The imported melody rehearses offline.
    check(
        dir.path(),
        &[
            "run",
            "tiny.melody.json",
            "-i",
            "goal=a blog",
            "--workspace",
            "ws",
        ],
        0,
    );
    // A file that is not an orchestra is refused with its path.
    write(dir.path(), "list.yaml", "- 1\n- 2\n");
    let r = check(
        dir.path(),
        &["import", "superoptix", "list.yaml", "-o", "x.melody.json"],
        3,
    );
    assert!(r.stderr.contains("error: list.yaml: "), "{r:?}");
    assert!(!dir.path().join("x.melody.json").exists());
}

#[test]
fn types_lists_every_step_type() {
    let dir = tempfile::tempdir().unwrap();
    let r = check(dir.path(), &["types"], 0);
    assert!(
        r.stdout
            .contains("instrument.offline  (instrument, offline: calls no model)"),
        "{r:?}"
    );
    assert!(r.stdout.contains("capabilities: files"), "{r:?}");
    let r = check(dir.path(), &["types", "--json"], 0);
    let specs: Value = serde_json::from_str(&r.stdout).unwrap();
    let names: Vec<&str> = specs
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["name"].as_str().unwrap())
        .collect();
    for name in [
        "instrument.offline",
        "operator.template",
        "operator.file.write",
        "cue.map",
    ] {
        assert!(names.contains(&name), "{names:?}");
    }
}

#[test]
fn usage_errors_exit_2_and_help_lists_exit_codes() {
    let dir = tempfile::tempdir().unwrap();
    check(dir.path(), &["run"], 2);
    check(dir.path(), &["run", "x.json", "--input", "goal"], 2);
    check(dir.path(), &["run", "x.json", "--max-parallel", "0"], 2);
    check(dir.path(), &["frobnicate"], 2);
    let r = check(dir.path(), &["--help"], 0);
    assert!(r.stdout.contains("Exit codes:"), "{r:?}");
    assert!(r.stdout.contains("130  interrupted by Ctrl-C"), "{r:?}");
}

/// Ctrl-C once cancels the run: the command reports it, closes the workspace and exits 130.
#[cfg(unix)]
#[test]
fn ctrl_c_cancels_the_run_and_exits_130() {
    use std::io::{BufRead, BufReader};

    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "slow.melody.json", &three_steps(20_000));
    let mut child = Command::new(env!("CARGO_BIN_EXE_symphony"))
        .args([
            "run",
            "slow.melody.json",
            "-i",
            "goal=x",
            "--workspace",
            "ws",
        ])
        .current_dir(dir.path())
        .env("NO_COLOR", "1")
        .env("SYMPHONY_DB", dir.path().join("runs.db"))
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    let mut seen = String::new();
    loop {
        let mut line = String::new();
        assert!(
            stdout.read_line(&mut line).unwrap() > 0,
            "the run ended before its first step started:\n{seen}"
        );
        seen.push_str(&line);
        if line.contains("started    plan") {
            break;
        }
    }
    // The shell's own `kill`, so the test needs no kill binary and no libc crate.
    let status = Command::new("sh")
        .args(["-c", &format!("kill -INT {}", child.id())])
        .status()
        .unwrap();
    assert!(status.success());
    let mut rest = String::new();
    std::io::Read::read_to_string(&mut stdout, &mut rest).unwrap();
    let code = child.wait().unwrap().code();
    seen.push_str(&rest);
    assert_eq!(code, Some(130), "{seen}");
    assert!(seen.contains("Ctrl-C: cancelling the run"), "{seen}");
    assert!(seen.contains("cancelled  plan"), "{seen}");
    assert!(seen.contains("run cancelled in"), "{seen}");
    let result = read_json(&dir.path().join("ws/result.json"));
    assert_eq!(result["status"], "cancelled");
}
