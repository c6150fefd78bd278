//! Data-driven tests of `diff` and of the three-way `merge`: each merge case is a base melody,
//! an edit for ours and one for theirs, and what the result must hold.

#![allow(clippy::unwrap_used)] // Tests unwrap: a panic is the failure report.

use serde_json::{json, Value};
use symphony_melody::diff::StepChangeKind;
use symphony_melody::{diff, load_value, merge, to_bytes, Melody};

/// Three offline steps in a chain, one run input, settings and a layout.
fn base() -> Value {
    json!({
        "formatVersion": 1,
        "melody": {"id": "m", "name": "M"},
        "inputs": {"goal": {"type": "string", "default": "ship it"}},
        "settings": {"maxParallel": 4},
        "steps": [
            {"id": "a", "kind": "instrument", "type": "instrument.offline",
             "config": {"prompt": "Plan {{goal}}"},
             "policy": {"retry": {"max": 2, "backoffMs": 500}}},
            {"id": "b", "kind": "instrument", "type": "instrument.offline",
             "inputs": {"text": {"type": "text"}},
             "config": {"prompt": "Review {{text}}"}},
            {"id": "c", "kind": "operator", "type": "operator.template",
             "inputs": {"text": {"type": "text"}},
             "config": {"template": "# {{text}}"}}
        ],
        "edges": [
            {"from": "a.output", "to": "b.text"},
            {"from": "b.output", "to": "c.text"}
        ],
        "layout": {"steps": {"a": {"x": 0.0, "y": 0.0}, "b": {"x": 200.0, "y": 0.0},
                             "c": {"x": 400.0, "y": 0.0}}}
    })
}

/// The base with `f` applied.
fn edit(f: impl FnOnce(&mut Value)) -> Value {
    let mut m = base();
    f(&mut m);
    m
}

/// The step `id` of a melody's JSON.
fn step<'a>(m: &'a mut Value, id: &str) -> &'a mut Value {
    m["steps"]
        .as_array_mut()
        .unwrap()
        .iter_mut()
        .find(|s| s["id"] == id)
        .unwrap()
}

/// Removes step `id` and the edges touching it.
fn remove_step(m: &mut Value, id: &str) {
    m["steps"].as_array_mut().unwrap().retain(|s| s["id"] != id);
    let prefix = format!("{id}.");
    m["edges"].as_array_mut().unwrap().retain(|e| {
        !e["from"].as_str().unwrap().starts_with(&prefix)
            && !e["to"].as_str().unwrap().starts_with(&prefix)
    });
}

fn melody(v: &Value) -> Melody {
    load_value(v.clone()).unwrap()
}

/// What a merge must give.
#[derive(Default)]
struct Expect {
    /// The paths of the conflicts, in order.
    conflicts: &'static [&'static str],
    /// The paths of the layout conflicts resolved to ours.
    resolved: &'static [&'static str],
    /// Values in the result, by path (`steps.ID` picks the step by id); `Value::Null` is absent.
    has: Vec<(&'static str, Value)>,
    /// The step ids in order, when given.
    steps: Option<&'static [&'static str]>,
    /// The edges (`from → to`), in order, when given.
    edges: Option<&'static [&'static str]>,
}

/// A value of the result by dotted path; list items are picked by their `id`.
fn at(doc: &Value, path: &str) -> Value {
    let mut here = doc;
    for key in path.split('.') {
        here = match here {
            Value::Array(items) => match items.iter().find(|i| i["id"] == key) {
                Some(item) => item,
                None => return Value::Null,
            },
            Value::Object(map) => match map.get(key) {
                Some(v) => v,
                None => return Value::Null,
            },
            _ => return Value::Null,
        };
    }
    here.clone()
}

/// Merges and checks the result against `expect`, and that it is a canonical, loadable melody
/// whose `layout.mergeConflicts` lists exactly the conflicts.
fn check(base: Value, ours: Value, theirs: Value, expect: Expect) {
    let merged = merge(Some(&melody(&base)), &melody(&ours), &melody(&theirs)).unwrap();
    let paths: Vec<&str> = merged.conflicts.iter().map(|c| c.path.as_str()).collect();
    assert_eq!(paths, expect.conflicts, "conflicts");
    let resolved: Vec<&str> = merged.resolved.iter().map(|c| c.path.as_str()).collect();
    assert_eq!(resolved, expect.resolved, "resolved layout conflicts");
    assert_eq!(merged.is_clean(), expect.conflicts.is_empty());

    let bytes = to_bytes(&merged.melody);
    let again = symphony_melody::load(&bytes, "merged").unwrap();
    assert_eq!(again, merged.melody, "the result loads back as it is");
    assert_eq!(to_bytes(&again), bytes, "the result is canonical");
    let doc: Value = serde_json::from_slice(&bytes).unwrap();

    let records = at(&doc, "layout.mergeConflicts");
    if expect.conflicts.is_empty() {
        assert_eq!(records, Value::Null, "no record of conflicts");
    } else {
        let recorded: Vec<&str> = records
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["path"].as_str().unwrap())
            .collect();
        assert_eq!(recorded, expect.conflicts, "recorded conflicts");
    }
    for (path, value) in &expect.has {
        assert_eq!(
            &at(&doc, path),
            value,
            "{path} in\n{}",
            String::from_utf8_lossy(&bytes)
        );
    }
    if let Some(ids) = expect.steps {
        let got: Vec<&str> = merged.melody.steps.iter().map(|s| s.id.as_str()).collect();
        assert_eq!(got, ids, "step order");
    }
    if let Some(edges) = expect.edges {
        let got: Vec<String> = merged
            .melody
            .edges
            .iter()
            .map(|e| format!("{} → {}", e.from, e.to))
            .collect();
        assert_eq!(got, edges, "edges");
    }
}

#[test]
fn independent_step_edits_merge() {
    check(
        base(),
        edit(|m| step(m, "a")["config"]["prompt"] = json!("Plan {{goal}} carefully")),
        edit(|m| step(m, "c")["config"]["template"] = json!("## {{text}}")),
        Expect {
            has: vec![
                ("steps.a.config.prompt", json!("Plan {{goal}} carefully")),
                ("steps.c.config.template", json!("## {{text}}")),
            ],
            steps: Some(&["a", "b", "c"]),
            ..Default::default()
        },
    );
}

#[test]
fn independent_fields_of_one_step_merge() {
    check(
        base(),
        edit(|m| step(m, "a")["policy"]["retry"]["max"] = json!(3)),
        edit(|m| step(m, "a")["policy"]["retry"]["backoffMs"] = json!(800)),
        Expect {
            has: vec![
                ("steps.a.policy.retry.max", json!(3)),
                ("steps.a.policy.retry.backoffMs", json!(800)),
            ],
            ..Default::default()
        },
    );
}

#[test]
fn same_field_changed_differently_is_a_conflict_keeping_ours() {
    check(
        base(),
        edit(|m| step(m, "a")["config"]["prompt"] = json!("ours")),
        edit(|m| step(m, "a")["config"]["prompt"] = json!("theirs")),
        Expect {
            conflicts: &["steps.a.config.prompt"],
            has: vec![("steps.a.config.prompt", json!("ours"))],
            ..Default::default()
        },
    );
    // The record itself holds all three values.
    let merged = merge(
        Some(&melody(&base())),
        &melody(&edit(|m| step(m, "a")["config"]["prompt"] = json!("ours"))),
        &melody(&edit(|m| {
            step(m, "a")["config"]["prompt"] = json!("theirs")
        })),
    )
    .unwrap();
    assert_eq!(
        merged.melody.layout.extra["mergeConflicts"],
        json!([{"path": "steps.a.config.prompt", "base": "Plan {{goal}}",
                "ours": "ours", "theirs": "theirs"}])
    );
}

#[test]
fn merging_a_conflicted_result_again_records_each_conflict_once() {
    let (ours, theirs) = (
        edit(|m| step(m, "a")["config"]["prompt"] = json!("ours")),
        edit(|m| step(m, "a")["config"]["prompt"] = json!("theirs")),
    );
    let first = merge(Some(&melody(&base())), &melody(&ours), &melody(&theirs)).unwrap();
    let again = merge(Some(&melody(&base())), &first.melody, &melody(&theirs)).unwrap();
    assert_eq!(again.conflicts.len(), 1);
    assert_eq!(
        again.melody.layout.extra["mergeConflicts"],
        first.melody.layout.extra["mergeConflicts"]
    );
}

#[test]
fn same_change_on_both_sides_is_not_a_conflict() {
    let both = edit(|m| step(m, "b")["config"]["prompt"] = json!("Review {{text}} twice"));
    check(
        base(),
        both.clone(),
        both,
        Expect {
            has: vec![("steps.b.config.prompt", json!("Review {{text}} twice"))],
            ..Default::default()
        },
    );
}

#[test]
fn delete_against_edit_is_a_conflict_keeping_our_deletion() {
    check(
        base(),
        edit(|m| remove_step(m, "b")),
        edit(|m| step(m, "b")["config"]["prompt"] = json!("Review {{text}} again")),
        Expect {
            conflicts: &["steps.b"],
            steps: Some(&["a", "c"]),
            edges: Some(&[]),
            has: vec![("layout.steps.b", Value::Null)],
            ..Default::default()
        },
    );
}

#[test]
fn edit_against_delete_is_a_conflict_keeping_our_step_and_its_edges() {
    check(
        base(),
        edit(|m| step(m, "b")["config"]["prompt"] = json!("Review {{text}} again")),
        edit(|m| remove_step(m, "b")),
        Expect {
            conflicts: &["steps.b"],
            steps: Some(&["a", "b", "c"]),
            edges: Some(&["a.output → b.text", "b.output → c.text"]),
            has: vec![("steps.b.config.prompt", json!("Review {{text}} again"))],
            ..Default::default()
        },
    );
}

#[test]
fn removed_on_one_side_and_unchanged_on_the_other_is_removed() {
    check(
        base(),
        base(),
        edit(|m| remove_step(m, "c")),
        Expect {
            steps: Some(&["a", "b"]),
            edges: Some(&["a.output → b.text"]),
            has: vec![("layout.steps.c", Value::Null)],
            ..Default::default()
        },
    );
}

#[test]
fn steps_added_on_both_sides_are_both_added_after_their_neighbours() {
    let new_step = |id: &str| {
        json!({"id": id, "kind": "instrument", "type": "instrument.offline",
               "config": {"prompt": format!("{id} {{{{goal}}}}")}})
    };
    check(
        base(),
        edit(|m| m["steps"].as_array_mut().unwrap().insert(1, new_step("x"))),
        edit(|m| m["steps"].as_array_mut().unwrap().push(new_step("y"))),
        Expect {
            steps: Some(&["a", "x", "b", "c", "y"]),
            ..Default::default()
        },
    );
}

#[test]
fn the_same_new_step_with_different_fields_conflicts_per_field() {
    let new_step = |prompt: &str| {
        json!({"id": "x", "kind": "instrument", "type": "instrument.offline",
               "name": "Extra", "config": {"prompt": prompt}})
    };
    check(
        base(),
        edit(|m| m["steps"].as_array_mut().unwrap().push(new_step("ours"))),
        edit(|m| m["steps"].as_array_mut().unwrap().push(new_step("theirs"))),
        Expect {
            conflicts: &["steps.x.config.prompt"],
            has: vec![
                ("steps.x.name", json!("Extra")),
                ("steps.x.config.prompt", json!("ours")),
            ],
            ..Default::default()
        },
    );
}

#[test]
fn edges_added_on_both_sides_are_all_kept_once() {
    check(
        base(),
        edit(|m| {
            m["edges"]
                .as_array_mut()
                .unwrap()
                .push(json!({"from": "a.output", "to": "c.extra"}));
            m["edges"]
                .as_array_mut()
                .unwrap()
                .push(json!({"from": "a.output", "to": "c.more"}));
        }),
        edit(|m| {
            m["edges"]
                .as_array_mut()
                .unwrap()
                .push(json!({"from": "a.output", "to": "c.more"}));
            m["edges"]
                .as_array_mut()
                .unwrap()
                .push(json!({"from": "b.output", "to": "c.other"}));
        }),
        Expect {
            edges: Some(&[
                "a.output → b.text",
                "b.output → c.text",
                "a.output → c.extra",
                "a.output → c.more",
                "b.output → c.other",
            ]),
            ..Default::default()
        },
    );
}

#[test]
fn an_edge_removed_on_one_side_is_removed() {
    check(
        base(),
        edit(|m| step(m, "a")["name"] = json!("Planner")),
        edit(|m| {
            m["edges"].as_array_mut().unwrap().remove(1);
        }),
        Expect {
            edges: Some(&["a.output → b.text"]),
            has: vec![("steps.a.name", json!("Planner"))],
            ..Default::default()
        },
    );
}

#[test]
fn an_edge_added_to_a_step_the_other_side_removed_is_dropped_as_a_conflict() {
    check(
        base(),
        edit(|m| remove_step(m, "c")),
        edit(|m| {
            m["edges"]
                .as_array_mut()
                .unwrap()
                .push(json!({"from": "a.output", "to": "c.extra"}));
        }),
        Expect {
            conflicts: &["edges[a.output → c.extra]"],
            steps: Some(&["a", "b"]),
            edges: Some(&["a.output → b.text"]),
            ..Default::default()
        },
    );
}

#[test]
fn run_inputs_merge_as_a_map() {
    check(
        base(),
        edit(|m| m["inputs"]["goal"]["default"] = json!("ship it today")),
        edit(|m| m["inputs"]["mode"] = json!({"type": "string", "default": "quick"})),
        Expect {
            has: vec![
                ("inputs.goal.default", json!("ship it today")),
                ("inputs.mode.default", json!("quick")),
            ],
            ..Default::default()
        },
    );
    check(
        base(),
        edit(|m| m["inputs"]["goal"]["default"] = json!("ours")),
        edit(|m| m["inputs"]["goal"]["default"] = json!("theirs")),
        Expect {
            conflicts: &["inputs.goal.default"],
            has: vec![("inputs.goal.default", json!("ours"))],
            ..Default::default()
        },
    );
    // Removed on one side, changed on the other.
    check(
        base(),
        edit(|m| {
            m.as_object_mut().unwrap().remove("inputs");
        }),
        edit(|m| m["inputs"]["goal"]["description"] = json!("What to ship")),
        Expect {
            conflicts: &["inputs.goal"],
            has: vec![("inputs", Value::Null)],
            ..Default::default()
        },
    );
}

#[test]
fn settings_and_metadata_merge_field_by_field() {
    check(
        base(),
        edit(|m| {
            m["settings"]["maxParallel"] = json!(2);
            m["melody"]["name"] = json!("Ours");
        }),
        edit(|m| {
            m["settings"]["concurrency"] = json!({"offline": 1});
            m["melody"]["name"] = json!("Theirs");
            m["melody"]["description"] = json!("Plans and reviews");
        }),
        Expect {
            conflicts: &["melody.name"],
            has: vec![
                ("settings.maxParallel", json!(2)),
                ("settings.concurrency.offline", json!(1)),
                ("melody.name", json!("Ours")),
                ("melody.description", json!("Plans and reviews")),
            ],
            ..Default::default()
        },
    );
}

#[test]
fn a_layout_only_conflict_is_resolved_to_ours() {
    check(
        base(),
        edit(|m| m["layout"]["steps"]["a"] = json!({"x": 10.0, "y": 10.0})),
        edit(|m| {
            m["layout"]["steps"]["a"] = json!({"x": 20.0, "y": 20.0});
            m["layout"]["steps"]["b"] = json!({"x": 250.0, "y": 50.0});
        }),
        Expect {
            resolved: &["layout.steps.a"],
            has: vec![
                ("layout.steps.a", json!({"x": 10.0, "y": 10.0})),
                ("layout.steps.b", json!({"x": 250.0, "y": 50.0})),
            ],
            ..Default::default()
        },
    );
}

#[test]
fn notes_merge_by_id() {
    let note = |id: &str, text: &str| json!({"id": id, "x": 0, "y": 0, "width": 100, "height": 50, "text": text});
    check(
        edit(|m| m["layout"]["comments"] = json!([note("n1", "first")])),
        edit(|m| m["layout"]["comments"] = json!([note("n1", "first, edited")])),
        edit(|m| m["layout"]["comments"] = json!([note("n1", "first"), note("n2", "second")])),
        Expect {
            has: vec![
                ("layout.comments.n1.text", json!("first, edited")),
                ("layout.comments.n2.text", json!("second")),
            ],
            ..Default::default()
        },
    );
}

#[test]
fn no_common_ancestor_merges_as_two_additions() {
    let ours = edit(|m| step(m, "a")["config"]["prompt"] = json!("ours"));
    let merged = merge(None, &melody(&ours), &melody(&base())).unwrap();
    let paths: Vec<&str> = merged.conflicts.iter().map(|c| c.path.as_str()).collect();
    assert_eq!(paths, ["steps.a.config.prompt"]);
    assert_eq!(merged.melody.steps.len(), 3);
}

#[test]
fn merging_identical_sides_changes_no_byte() {
    let m = melody(&base());
    let merged = merge(Some(&m), &m, &m).unwrap();
    assert!(merged.is_clean());
    assert_eq!(to_bytes(&merged.melody), to_bytes(&m));
}

// ---- diff ----

#[test]
fn diff_lists_field_changes_by_step() {
    let a = melody(&base());
    let b = melody(&edit(|m| {
        step(m, "a")["config"]["prompt"] = json!("Plan {{goal}} well");
        step(m, "a")["policy"]["retry"]["max"] = json!(3);
        step(m, "b")["inputs"]["notes"] = json!({"type": "text"});
        m["melody"]["name"] = json!("M2");
        m["settings"]["maxParallel"] = json!(6);
        m["inputs"]["mode"] = json!({"type": "string"});
    }));
    let d = diff(&a, &b);
    let fields: Vec<(&str, &str)> = d
        .steps
        .iter()
        .flat_map(|s| {
            s.fields
                .iter()
                .map(move |f| (s.id.as_str(), f.path.as_str()))
        })
        .collect();
    assert_eq!(
        fields,
        [
            ("a", "config.prompt"),
            ("a", "policy.retry.max"),
            ("b", "inputs.notes")
        ]
    );
    assert_eq!(d.melody[0].path, "melody.name");
    assert_eq!(d.settings[0].path, "settings.maxParallel");
    assert_eq!(d.inputs[0].path, "inputs.mode");
    assert_eq!(d.inputs[0].before, None);
    assert!(d.changes_what_runs());
    assert!(d.layout.is_empty());
}

#[test]
fn diff_of_equal_melodies_is_empty() {
    let a = melody(&base());
    assert!(diff(&a, &a).is_empty());
}

#[test]
fn diff_detects_a_rename_and_compares_its_edges_and_position_under_the_new_id() {
    let a = melody(&base());
    let b = melody(&edit(|m| {
        step(m, "b")["id"] = json!("review");
        m["edges"] = json!([
            {"from": "a.output", "to": "review.text"},
            {"from": "review.output", "to": "c.text"}
        ]);
        let p = m["layout"]["steps"]
            .as_object_mut()
            .unwrap()
            .remove("b")
            .unwrap();
        m["layout"]["steps"]["review"] = p;
    }));
    let d = diff(&a, &b);
    assert_eq!(d.steps.len(), 1, "{d:#?}");
    assert_eq!(d.steps[0].change, StepChangeKind::Renamed);
    assert_eq!(d.steps[0].renamed_from.as_deref(), Some("b"));
    assert_eq!(d.steps[0].id, "review");
    assert!(d.edges.added.is_empty() && d.edges.removed.is_empty());
    assert!(d.layout.is_empty());
    assert!(d.order.is_none());
}

#[test]
fn diff_shows_a_renamed_and_edited_step_as_removed_and_added() {
    let a = melody(&base());
    let b = melody(&edit(|m| {
        step(m, "c")["id"] = json!("doc");
        step(m, "doc")["config"]["template"] = json!("## {{text}}");
        m["edges"][1]["to"] = json!("doc.text");
    }));
    let d = diff(&a, &b);
    let kinds: Vec<(&str, StepChangeKind)> =
        d.steps.iter().map(|s| (s.id.as_str(), s.change)).collect();
    assert_eq!(
        kinds,
        [
            ("c", StepChangeKind::Removed),
            ("doc", StepChangeKind::Added)
        ]
    );
    assert_eq!(d.edges.added.len(), 1);
    assert_eq!(d.edges.removed.len(), 1);
}

#[test]
fn diff_keeps_layout_apart() {
    let a = melody(&base());
    let b = melody(&edit(|m| {
        m["layout"]["steps"]["a"] = json!({"x": 5.0, "y": 5.0});
        m["layout"]["steps"]["c"] = json!({"x": 5.0, "y": 500.0});
        m["layout"]["groups"] =
            json!([{"id": "g1", "x": 0, "y": 0, "width": 1, "height": 1, "label": "G"}]);
    }));
    let d = diff(&a, &b);
    assert!(!d.changes_what_runs());
    assert!(!d.is_empty());
    assert_eq!(d.layout.moved, ["a", "c"]);
    let other: Vec<&str> = d.layout.other.iter().map(|c| c.path.as_str()).collect();
    assert_eq!(other, ["layout.groups.g1"]);
}

#[test]
fn diff_reports_a_new_step_order() {
    let a = melody(&base());
    let b = melody(&edit(|m| m["steps"].as_array_mut().unwrap().swap(0, 2)));
    let d = diff(&a, &b);
    assert!(d.steps.is_empty());
    let order = d.order.unwrap();
    assert_eq!(order.before, ["a", "b", "c"]);
    assert_eq!(order.after, ["c", "b", "a"]);
}
