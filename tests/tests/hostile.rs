//! Malformed and hostile melodies get a clear error, never a panic or a hang: truncated JSON,
//! wrong types, unknown versions, a 100,000-step melody, cycles, dangling edges and ports,
//! templates naming unknown steps, paths escaping the workspace, maps over non-lists, deep
//! nesting and garbage bytes.

#![allow(clippy::unwrap_used)] // Tests unwrap: a panic is the failure report.

use serde_json::{json, Value};
use symphony_conductor::{Conductor, Registry, RunOptions, RunStatus};

/// Loads and validates; returns every problem as text (empty when the melody is fine).
fn check(text: &str) -> Vec<String> {
    match symphony_melody::load_and_validate(
        text.as_bytes(),
        "hostile.melody.json",
        &Registry::standard(),
    ) {
        Ok(_) => Vec::new(),
        Err(p) => p.iter().map(ToString::to_string).collect(),
    }
}

/// A step's note in a run's report (its error or skip reason), or "" when it has none.
fn note_of(report: &symphony_conductor::RunReport, id: &str) -> String {
    report
        .steps
        .iter()
        .find(|s| s.id == id)
        .unwrap()
        .note
        .clone()
        .unwrap_or_default()
}

fn doc(steps: Value, edges: Value) -> String {
    json!({
        "formatVersion": 1,
        "melody": {"id": "h", "name": "H"},
        "inputs": {"goal": {"type": "string", "default": "x"}},
        "steps": steps,
        "edges": edges
    })
    .to_string()
}

fn expect(text: &str, needles: &[&str]) {
    let problems = check(text);
    assert!(!problems.is_empty(), "accepted: {text}");
    let all = problems.join("\n");
    for n in needles {
        assert!(all.contains(n), "missing {n:?} in:\n{all}");
    }
    for p in &problems {
        assert!(p.starts_with("hostile.melody.json: "), "no file in {p}");
    }
}

#[test]
fn truncated_json_and_garbage() {
    let good = doc(
        json!([{"id": "a", "kind": "operator", "type": "operator.pass"}]),
        json!([]),
    );
    for cut in [1, good.len() / 3, good.len() / 2, good.len() - 1] {
        expect(&good[..cut], &["truncated JSON"]);
    }
    expect("\u{0}\u{1}garbage", &["invalid JSON at line 1"]);
    expect("", &["truncated"]);
    expect("[]", &["must hold a JSON object"]);
    expect(&"[".repeat(100_000), &["invalid JSON"]);
}

#[test]
fn wrong_types_name_the_step_and_field() {
    // Shape problems (the file's own structure) are reported together...
    expect(
        &doc(
            json!([
                {"id": "a", "kind": "operator", "type": "operator.pass", "policy": {"timeoutMs": -1, "priority": "high"}},
                {"id": "b", "kind": "operator", "type": 7, "config": []}
            ]),
            json!([]),
        ),
        &[
            "steps.a.policy.priority: expected a whole number, found the string \"high\"",
            "steps.a.policy.timeoutMs: expected a whole number, found the number `-1`",
            "steps.b.type: expected a string, found the number `7`",
            "steps.b.config: expected an object, found a list",
        ],
    );
    // ...and once the shape is right, every config problem of every step.
    expect(
        &doc(
            json!([
                {"id": "plan", "kind": "instrument", "type": "instrument.offline", "config": {"prompt": 42, "latencyMs": "slow", "temprature": 1}},
                {"id": "b", "kind": "operator", "type": "operator.delay", "config": {}}
            ]),
            json!([]),
        ),
        &[
            "steps.plan.config.prompt: expected a string, found the number `42`",
            "steps.plan.config.latencyMs: expected a whole number, found the string \"slow\"",
            "steps.plan.config.temprature: `instrument.offline` has no setting `temprature`",
            "steps.b.config.ms: missing required setting `ms`",
        ],
    );
}

#[test]
fn unknown_versions_and_missing_sections() {
    expect(
        r#"{"formatVersion": 99, "melody": {"id": "x", "name": "x"}, "steps": []}"#,
        &["unknown format version 99", "newer Symphony"],
    );
    expect(
        r#"{"formatVersion": "1"}"#,
        &["formatVersion: expected a whole number"],
    );
    expect(r#"{"melody": {}}"#, &["formatVersion: missing"]);
    expect(
        r#"{"formatVersion": 1}"#,
        &[
            "melody: missing required field",
            "steps: missing required field",
        ],
    );
}

#[test]
fn graph_problems_are_all_reported_at_once() {
    expect(
        &doc(
            json!([
                {"id": "a", "kind": "operator", "type": "operator.pass"},
                {"id": "b", "kind": "operator", "type": "operator.pass"},
                {"id": "c", "kind": "operator", "type": "operator.pas"},
                {"id": "a", "kind": "operator", "type": "operator.pass"},
                {"id": "t", "kind": "operator", "type": "operator.template", "config": {"template": "{{ghost.output}} {{b.nope}} {{a.output}}"}}
            ]),
            json!([
                {"from": "a.output", "to": "b.input"},
                {"from": "b.output", "to": "a.input"},
                {"from": "a.output", "to": "zzz.input"},
                {"from": "a.outptu", "to": "b.input"}
            ]),
        ),
        &[
            "steps.a.id: duplicate step id `a`",
            "steps.c.type: unknown step type `operator.pas`; did you mean `operator.pass`?",
            "edges[2].to: no step `zzz`",
            "edges[3].from: step `a` has no output port `outptu`; did you mean `output`?",
            "edges: cycle: a → b → a",
            "`ghost.output` refers to nothing",
            "`b.nope`: step `b` has no output port `nope`",
            "`a.output`: step `a` is not upstream of `t`",
        ],
    );
}

#[test]
fn a_mistyped_port_in_a_reference_is_named_with_a_suggestion() {
    // The newcomer's case: `writer` has an input port named after the step `spec` (the editor
    // names a port dropped on "+ input" after its source), so `{{spec.outptu}}` read a field
    // inside that port's text and rendered as nothing, unreported.
    let offline = |id: &str, prompt: &str, inputs: Value| json!({"id": id, "kind": "instrument", "type": "instrument.offline", "config": {"prompt": prompt}, "inputs": inputs});
    let steps = json!([
        offline("spec", "a spec for {{goal}}", json!({})),
        offline(
            "writer",
            "Write from {{spec.outptu}}",
            json!({"spec": {"type": "any"}})
        ),
        offline(
            "again",
            "Write from {{spec.output}}",
            json!({"spec": {"type": "any"}})
        ),
        offline("direct", "Write from {{spec.outptu}}", json!({})),
        offline(
            "fine",
            "Write from {{spec}} and {{spec.title}}",
            json!({"spec": {"type": "any"}})
        )
    ]);
    let edges = json!([
        {"from": "spec.output", "to": "writer.spec"},
        {"from": "spec.output", "to": "again.spec"},
        {"from": "spec.output", "to": "direct.prompt"},
        {"from": "spec.output", "to": "fine.spec"}
    ]);
    let problems = check(&doc(steps, edges));
    let of = |step: &str| {
        problems
            .iter()
            .filter(|p| p.contains(&format!("steps.{step}.")))
            .cloned()
            .collect::<Vec<_>>()
    };
    let writer = of("writer").join("\n");
    assert!(
        writer.contains("steps.writer.config.prompt")
            && writer.contains("`spec.outptu`: `spec` is this step's own input port")
            && writer.contains("`outptu` looks like the step `spec`'s output `output`")
            && writer.contains("Write `{{spec}}`"),
        "{problems:#?}"
    );
    assert!(
        of("again")
            .join("\n")
            .contains("the step `spec` has an output `output`"),
        "{problems:#?}"
    );
    assert!(
        of("direct").join("\n").contains(
            "`spec.outptu`: step `spec` has no output port `outptu`; did you mean `output`?"
        ),
        "{problems:#?}"
    );
    assert_eq!(
        of("fine"),
        Vec::<String>::new(),
        "a field of the port's value, not a port name, is fine"
    );
}

#[test]
fn one_line_fields_refuse_line_breaks_and_the_workspace_refuses_them_too() {
    expect(
        &doc(
            json!([
                {"id": "w", "kind": "operator", "type": "operator.file.write", "capabilities": ["files"], "config": {"path": "spec.md\n", "content": "x"}},
                {"id": "m", "kind": "instrument", "type": "instrument.offline", "config": {"prompt": "many\nlines are fine", "model": "a\tb"}}
            ]),
            json!([]),
        ),
        &[
            "steps.w.config.path: `path` is one line, but it holds a line break (U+000A): remove it",
            "steps.m.config.model: `model` is one line, but it holds a tab (U+0009): remove it",
        ],
    );
    let problems = check(&doc(
        json!([{"id": "m", "kind": "instrument", "type": "instrument.offline", "config": {"prompt": "many\nlines are fine"}}]),
        json!([]),
    ));
    assert_eq!(
        problems,
        Vec::<String>::new(),
        "a prompt may hold line breaks"
    );
}

#[test]
fn a_limit_past_its_ceiling_is_refused_naming_the_setting() {
    let text = json!({
        "formatVersion": 1,
        "melody": {"id": "h", "name": "H"},
        "settings": {"limits": {"mapItems": 2_000_000u64, "templateBytes": 0}},
        "steps": [{"id": "a", "kind": "operator", "type": "operator.pass"}]
    })
    .to_string();
    expect(
        &text,
        &[
            "settings.limits.mapItems: 2000000 is over the ceiling of 1000000 items",
            "settings.limits.templateBytes: templateBytes must be at least 1",
        ],
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_template_or_a_fan_out_past_its_limit_fails_the_step_not_the_process() {
    // A small file that would render a huge prompt, and a map over a list made at run time.
    let text = json!({
        "formatVersion": 1,
        "melody": {"id": "h", "name": "H"},
        "inputs": {"goal": {"type": "string", "default": "x".repeat(600)}},
        "settings": {"limits": {"templateBytes": 1000, "mapItems": 5}},
        "steps": [
            {"id": "big", "kind": "operator", "type": "operator.template",
             "config": {"template": "{{goal}}{{goal}}{{goal}}"}, "policy": {"optional": true}},
            {"id": "list", "kind": "operator", "type": "operator.template", "config": {"template": "[1,2,3,4,5,6]"}},
            {"id": "parse", "kind": "operator", "type": "operator.json.extract", "config": {}},
            {"id": "each", "kind": "cue", "type": "cue.map", "config": {"body": {"type": "operator.pass"}}, "policy": {"optional": true}}
        ],
        "edges": [{"from": "list.output", "to": "parse.input"}, {"from": "parse.output", "to": "each.items"}]
    })
    .to_string();
    let melody = symphony_melody::load(text.as_bytes(), "limits").unwrap();
    let report = Conductor::new(Registry::standard())
        .start(melody, RunOptions::default())
        .await
        .unwrap()
        .finished()
        .await;
    let note = |id: &str| note_of(&report, id);
    assert!(
        note("big").contains("config.template: step `big`: a rendered template is over the limit of 1000 bytes (settings.limits.templateBytes"),
        "{}",
        note("big")
    );
    assert!(
        note("each").contains(
            "step `each`: a map's items is over the limit of 5 items (settings.limits.mapItems"
        ) && note("each").contains("(6 arrived)"),
        "{}",
        note("each")
    );
}

#[test]
fn port_type_mismatches_and_missing_config() {
    expect(
        &doc(
            json!([
                {"id": "t", "kind": "operator", "type": "operator.template", "config": {"template": "x"}},
                {"id": "m", "kind": "cue", "type": "cue.map", "config": {}},
                {"id": "w", "kind": "operator", "type": "operator.file.write", "config": {"path": "a"}}
            ]),
            json!([{"from": "t.output", "to": "m.items"}]),
        ),
        &[
            "t.output is text but m.items takes a list",
            "steps.m.config.body: missing required setting `body`",
            "steps.w.capabilities: `operator.file.write` needs the `files` capability",
        ],
    );
}

#[test]
fn deep_nesting_is_refused_not_a_stack_overflow() {
    let deep = format!("{}{}", "{\"a\":".repeat(10_000), "}".repeat(10_000));
    expect(&deep, &["invalid JSON"]);
    // A condition nested 5,000 deep: the JSON parser's depth limit refuses it.
    let cond = format!(
        "{}{{\"op\":\"empty\",\"ref\":\"goal\"}}{}",
        "{\"op\":\"not\",\"of\":".repeat(5_000),
        "}".repeat(5_000)
    );
    let text = doc(
        json!([{"id": "a", "kind": "operator", "type": "operator.pass"}]),
        json!([]),
    )
    .replace(
        "\"type\":\"operator.pass\"",
        &format!("\"type\":\"operator.pass\",\"policy\":{{\"skipIf\":{cond}}}"),
    );
    expect(&text, &["recursion limit exceeded"]);
}

#[test]
fn a_100k_step_melody_validates_and_plans_in_linear_time() {
    let n = 100_000;
    let steps: Vec<Value> = (0..n)
        .map(|i| json!({"id": format!("s{i}"), "kind": "operator", "type": "operator.pass"}))
        .collect();
    let edges: Vec<Value> = (1..n)
        .map(|i| json!({"from": format!("s{}.output", i - 1), "to": format!("s{i}.input")}))
        .collect();
    let text = doc(json!(steps), json!(edges));
    let melody =
        symphony_melody::load_and_validate(text.as_bytes(), "big", &Registry::standard()).unwrap();
    let graph = symphony_melody::graph::MelodyGraph::build(&melody);
    let plan = graph.plan(&melody, |_| 1).unwrap();
    assert_eq!(plan.waves.len(), n);
    assert_eq!(plan.critical_ms, n as u64);
    // The same chain with a cycle back to the start is reported, not looped on.
    let mut cyclic: Value = serde_json::from_str(&text).unwrap();
    cyclic["edges"]
        .as_array_mut()
        .unwrap()
        .push(json!({"from": format!("s{}.output", n - 1), "to": "s0.input"}));
    let problems = check(&cyclic.to_string());
    assert!(
        problems.iter().any(|p| p.contains("cycle: s0 → s1")),
        "{:?}",
        &problems[..problems.len().min(3)]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_100k_step_chain_runs_to_the_end() {
    let n = 100_000;
    let steps: Vec<Value> = (0..n)
        .map(|i| json!({"id": format!("s{i}"), "kind": "operator", "type": "operator.pass"}))
        .collect();
    let edges: Vec<Value> = (1..n)
        .map(|i| json!({"from": format!("s{}.output", i - 1), "to": format!("s{i}.input")}))
        .collect();
    let melody = symphony_melody::load(doc(json!(steps), json!(edges)).as_bytes(), "big").unwrap();
    let report = Conductor::new(Registry::standard())
        .start(melody, RunOptions::default())
        .await
        .unwrap()
        .finished()
        .await;
    assert_eq!(report.status, RunStatus::Succeeded);
    assert_eq!(report.totals.succeeded, n as u32);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_paths_and_non_lists_fail_their_step_with_a_reason() {
    let dir = tempfile::tempdir().unwrap();
    let outside = dir.path().join("outside");
    std::fs::create_dir(&outside).unwrap();
    let ws = dir.path().join("ws");
    std::fs::create_dir_all(ws.join("files")).unwrap();
    std::os::unix::fs::symlink(&outside, ws.join("files/escape")).unwrap();
    let writer = |id: &str, path: &str| {
        json!({"id": id, "kind": "operator", "type": "operator.file.write", "config": {"path": path, "content": "pwned"},
               "capabilities": ["files"], "policy": {"optional": true}})
    };
    let text = doc(
        json!([
            writer("dotdot", "../../etc/{{goal}}"),
            writer("absolute", "/tmp/{{goal}}"),
            writer("link", "escape/{{goal}}.txt"),
            writer("newline", "{{two.output}}.md"),
            {"id": "two", "kind": "operator", "type": "operator.template", "config": {"template": "spec\nmd"}},
            {"id": "obj", "kind": "operator", "type": "operator.json.extract", "config": {}},
            {"id": "src", "kind": "operator", "type": "operator.template", "config": {"template": "{\"not\": \"a list\"}"}},
            {"id": "each", "kind": "cue", "type": "cue.map", "config": {"body": {"type": "operator.pass"}}, "policy": {"optional": true}}
        ]),
        json!([{"from": "src.output", "to": "obj.input"}, {"from": "obj.output", "to": "each.items"}, {"from": "two.output", "to": "newline.content"}]),
    );
    let melody = symphony_melody::load(text.as_bytes(), "hostile").unwrap();
    let report = Conductor::new(Registry::standard())
        .start(
            melody,
            RunOptions {
                workspace: Some(ws.clone()),
                ..RunOptions::default()
            },
        )
        .await
        .unwrap()
        .finished()
        .await;
    let note = |id: &str| note_of(&report, id);
    assert!(
        note("dotdot").contains("`..` is not allowed"),
        "{}",
        note("dotdot")
    );
    assert!(
        note("absolute").contains("absolute paths are not allowed"),
        "{}",
        note("absolute")
    );
    assert!(note("link").contains("symbolic link"), "{}", note("link"));
    assert!(
        note("newline").contains("the path holds a line break (U+000A)"),
        "{}",
        note("newline")
    );
    assert!(
        note("each").contains("needs a list of items"),
        "{}",
        note("each")
    );
    assert_eq!(
        std::fs::read_dir(&outside).unwrap().count(),
        0,
        "nothing escaped"
    );
    assert_eq!(
        report.status,
        RunStatus::Succeeded,
        "all of them were optional"
    );
}
