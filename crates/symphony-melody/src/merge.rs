//! A three-way merge of melodies (base, ours, theirs), by step id and field: what the git merge
//! driver (`symphony merge-driver`) does with a melody both branches changed.
//!
//! The rules, applied to every field down to its leaves (a list, a condition or a `default` is
//! one value, as in [`crate::diff`]):
//!
//! - changed on one side only: that side's value; changed on both sides to the same value: it;
//! - changed on both sides to different values: a **conflict** at that field's path
//!   (`steps.spec.config.prompt`), and the result keeps ours;
//! - a step (run input, setting, key) added on one side is added; removed on one side and
//!   unchanged on the other, removed; removed on one side and changed on the other, a conflict
//!   at the step's path (`steps.spec`), and the result keeps ours (removed or changed);
//! - edges are a set: an edge either side added is added, an edge either side removed is removed
//!   (but an edge a side lost only with a step it removed stays while the step stays). An edge
//!   added on one side to a step the merge removed is dropped and reported as a conflict, so the
//!   result never holds a dangling edge;
//! - the order of the steps is ours, unless only theirs reordered the shared steps; a step added
//!   on one side comes after the step it follows on that side;
//! - the `layout` merges the same way (positions by step id, notes and groups by their `id`),
//!   but a layout conflict is **resolved** by taking ours and does not fail the merge; the
//!   position of a step the merge removed is dropped.
//!
//! Conflicts are recorded in the result under `layout.mergeConflicts` (see [`CONFLICTS_KEY`]):
//! a list of `{path, base, ours, theirs}`, a side left out when it has no value there. The
//! conductor and the validator never read `layout`, so the result loads, validates and saves
//! like any melody while a person resolves it (and deletes the record).

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::diff::{by_id, edge_set, is_atomic, join, section_of, steps_by_id, to_value};
use crate::load::load_value;
use crate::model::{Edge, Melody, PortRef};
use crate::problem::Problems;

/// The `layout` key where a merge with conflicts records them.
pub const CONFLICTS_KEY: &str = "mergeConflicts";

/// A field both sides changed differently. A side that is `None` has no value there (the field,
/// or the step, is absent on that side).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Conflict {
    /// Dotted path: `steps.spec.config.prompt`, `inputs.goal.default`, `layout.steps.spec`,
    /// `edges[spec.output → review.text]`.
    pub path: String,
    /// The value in the common ancestor.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub base: Option<Value>,
    /// Our value: the one the result keeps.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ours: Option<Value>,
    /// Their value.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub theirs: Option<Value>,
}

/// The outcome of [`merge`].
#[derive(Debug, Clone, PartialEq)]
pub struct Merged {
    /// The merged melody. With conflicts, it keeps ours for each and records them under
    /// `layout.mergeConflicts`.
    pub melody: Melody,
    /// Conflicts in what runs: the merge is not clean while there is one.
    pub conflicts: Vec<Conflict>,
    /// Layout conflicts, resolved by taking ours (not recorded in the file).
    pub resolved: Vec<Conflict>,
}

impl Merged {
    /// Whether the merge needs a person: some field was changed differently on both sides.
    pub fn is_clean(&self) -> bool {
        self.conflicts.is_empty()
    }
}

/// Merges `ours` and `theirs`, both descended from `base` (`None` when they share no ancestor,
/// as when both branches added the file). See the module documentation for the rules.
///
/// The error is a gap in these rules (a result that does not load), reported as the loader's
/// problems rather than as a panic.
pub fn merge(base: Option<&Melody>, ours: &Melody, theirs: &Melody) -> Result<Merged, Problems> {
    let empty = Value::Object(Map::new());
    let b = base.map(to_value);
    let (o, t) = (to_value(ours), to_value(theirs));
    let mut conflicts = Vec::new();
    let mut resolved = Vec::new();
    let mut doc = Map::new();

    for key in ["formatVersion", "melody", "inputs", "settings", "stepTypes"] {
        let merged = merge_value(
            key,
            b.as_ref().map(|b| section_of(b, key)).as_ref(),
            Some(&section_of(&o, key)),
            Some(&section_of(&t, key)),
            usize::MAX,
            &mut conflicts,
        );
        match merged {
            Some(v) if v != empty => {
                doc.insert(key.to_owned(), v);
            }
            _ => {}
        }
    }

    // Steps, by id, in the merged order.
    let ids = |m: &Melody| m.steps.iter().map(|s| s.id.clone()).collect::<Vec<_>>();
    let values = |m: &Melody| {
        m.steps
            .iter()
            .map(|s| (s.id.clone(), to_value(s)))
            .collect::<BTreeMap<_, _>>()
    };
    let base_ids = base.map(ids).unwrap_or_default();
    let base_steps = base.map(values).unwrap_or_default();
    let (ours_steps, theirs_steps) = (values(ours), values(theirs));
    let order = merged_order(&base_ids, &ids(ours), &ids(theirs));
    let mut steps = Vec::new();
    let mut kept = BTreeSet::new();
    for id in &order {
        let merged = merge_value(
            &format!("steps.{id}"),
            base_steps.get(id),
            ours_steps.get(id),
            theirs_steps.get(id),
            usize::MAX,
            &mut conflicts,
        );
        if let Some(step) = merged {
            kept.insert(id.clone());
            steps.push(step);
        }
    }
    doc.insert("steps".into(), Value::Array(steps));

    // Edges, as a set. An edge a side dropped only because it removed one of its steps is
    // not removed on its own account: if the step stays (a conflict kept ours), so does the edge.
    let base_edges: Vec<Edge> = base.map(|m| m.edges.clone()).unwrap_or_default();
    let (in_base, in_ours, in_theirs) = (
        edge_set(&base_edges),
        edge_set(&ours.edges),
        edge_set(&theirs.edges),
    );
    let (ours_ids, theirs_ids) = (steps_by_id(ours), steps_by_id(theirs));
    let dropped_by = |edges: &BTreeSet<(&PortRef, &PortRef)>,
                      ids: &BTreeMap<&str, &crate::model::Step>,
                      e: &Edge| {
        !edges.contains(&(&e.from, &e.to))
            && ids.contains_key(e.from.step.as_str())
            && ids.contains_key(e.to.step.as_str())
    };
    let mut edges: Vec<&Edge> = Vec::new();
    let mut seen = BTreeSet::new();
    for e in ours
        .edges
        .iter()
        .chain(base_edges.iter())
        .chain(&theirs.edges)
    {
        let wanted = if in_base.contains(&(&e.from, &e.to)) {
            !dropped_by(&in_ours, &ours_ids, e) && !dropped_by(&in_theirs, &theirs_ids, e)
        } else {
            true // added by a side
        };
        if wanted && seen.insert((&e.from, &e.to)) {
            edges.push(e);
        }
    }
    let mut joined = Vec::new();
    for e in edges {
        let key = (&e.from, &e.to);
        if kept.contains(&e.from.step) && kept.contains(&e.to.step) {
            joined.push(to_value(e));
        } else if !in_base.contains(&key) {
            // Added on one side to a step the merge removed: it cannot stay, and it was wanted.
            let side =
                |set: &BTreeSet<(&PortRef, &PortRef)>| set.contains(&key).then(|| to_value(e));
            conflicts.push(Conflict {
                path: format!("edges[{} → {}]", e.from, e.to),
                base: None,
                ours: side(&in_ours),
                theirs: side(&in_theirs),
            });
        }
    }
    if !joined.is_empty() {
        doc.insert("edges".into(), Value::Array(joined));
    }

    // Layout: positions by step id, the editor's keys one by one; conflicts resolved to ours.
    let layout_of = |v: &Value| section_of(v, "layout");
    let (bl, ol, tl) = (b.as_ref().map(layout_of), layout_of(&o), layout_of(&t));
    let layout_keys: BTreeSet<String> = [bl.as_ref(), Some(&ol), Some(&tl)]
        .into_iter()
        .flatten()
        .filter_map(Value::as_object)
        .flat_map(|m| m.keys().cloned())
        .collect();
    let mut layout = Map::new();
    for key in &layout_keys {
        let path = format!("layout.{key}");
        let side = |l: Option<&Value>| l.and_then(|l| l.get(key)).cloned();
        let (bv, ov, tv) = (side(bl.as_ref()), side(Some(&ol)), side(Some(&tl)));
        let merged = if key == "steps" {
            merge_value(
                &path,
                bv.as_ref(),
                ov.as_ref(),
                tv.as_ref(),
                1,
                &mut resolved,
            )
        } else {
            merge_layout_key(&path, bv, ov, tv, &mut resolved)
        };
        if let Some(v) = merged {
            layout.insert(key.clone(), v);
        }
    }
    if let Some(Value::Object(positions)) = layout.get_mut("steps") {
        positions.retain(|id, _| kept.contains(id) || !base_steps.contains_key(id));
        if positions.is_empty() {
            layout.remove("steps");
        }
    }
    if !conflicts.is_empty() {
        let mut records = match layout.remove(CONFLICTS_KEY) {
            Some(Value::Array(old)) => old,
            Some(other) => vec![other],
            None => Vec::new(),
        };
        // Merging again (a rerun merge) does not list a conflict twice.
        for record in conflicts.iter().map(to_value) {
            if !records.contains(&record) {
                records.push(record);
            }
        }
        layout.insert(CONFLICTS_KEY.into(), Value::Array(records));
    }
    if !layout.is_empty() {
        doc.insert("layout".into(), Value::Object(layout));
    }

    let melody = load_value(Value::Object(doc))?;
    Ok(Merged {
        melody,
        conflicts,
        resolved,
    })
}

/// Merges one of the editor's layout keys: a list of items with ids (notes, groups) item by
/// item, in ours' order with theirs' new items after the ones they follow; anything else whole.
fn merge_layout_key(
    path: &str,
    base: Option<Value>,
    ours: Option<Value>,
    theirs: Option<Value>,
    resolved: &mut Vec<Conflict>,
) -> Option<Value> {
    // Each side as (ids in order, items by id), or None when it is not such a list.
    let listed = |v: &Option<Value>| -> Option<(Vec<String>, Map<String, Value>)> {
        match v {
            None => Some((Vec::new(), Map::new())),
            Some(Value::Array(items)) if items.is_empty() => Some((Vec::new(), Map::new())),
            Some(Value::Array(items)) => {
                let map = by_id(items)?;
                let order = items
                    .iter()
                    .filter_map(|i| i.get("id").and_then(Value::as_str).map(str::to_owned))
                    .collect();
                Some((order, map))
            }
            Some(_) => None,
        }
    };
    if let (Some(b), Some(o), Some(t)) = (listed(&base), listed(&ours), listed(&theirs)) {
        let (bm, om, tm) = (
            Value::Object(b.1),
            Value::Object(o.1.clone()),
            Value::Object(t.1.clone()),
        );
        let merged = merge_value(
            path,
            base.as_ref().map(|_| &bm),
            Some(&om),
            Some(&tm),
            1,
            resolved,
        );
        let Some(Value::Object(mut items)) = merged else {
            return ours;
        };
        let mut out = Vec::new();
        for id in merged_order(&b.0, &o.0, &t.0) {
            if let Some(item) = items.remove(&id) {
                out.push(item);
            }
        }
        return (!out.is_empty()).then_some(Value::Array(out));
    }
    merge_value(
        path,
        base.as_ref(),
        ours.as_ref(),
        theirs.as_ref(),
        0,
        resolved,
    )
}

/// The three-way merge of one value at `path`, recursing `depth` levels into objects. A
/// conflict is pushed onto `conflicts` and resolved to ours. `None` is "absent".
fn merge_value(
    path: &str,
    base: Option<&Value>,
    ours: Option<&Value>,
    theirs: Option<&Value>,
    depth: usize,
    conflicts: &mut Vec<Conflict>,
) -> Option<Value> {
    if ours == theirs || base == theirs {
        return ours.cloned();
    }
    if base == ours {
        return theirs.cloned();
    }
    if depth > 0 && !is_atomic(path) {
        if let (Some(Value::Object(o)), Some(Value::Object(t))) = (ours, theirs) {
            let b = match base {
                None => Some(None),
                Some(Value::Object(b)) => Some(Some(b)),
                Some(_) => None,
            };
            if let Some(b) = b {
                let keys: BTreeSet<&String> = o
                    .keys()
                    .chain(t.keys())
                    .chain(b.into_iter().flat_map(|b| b.keys()))
                    .collect();
                let mut out = Map::new();
                for key in keys {
                    let merged = merge_value(
                        &join(path, key),
                        b.and_then(|b| b.get(key)),
                        o.get(key),
                        t.get(key),
                        depth - 1,
                        conflicts,
                    );
                    if let Some(v) = merged {
                        out.insert(key.clone(), v);
                    }
                }
                return Some(Value::Object(out));
            }
        }
    }
    conflicts.push(Conflict {
        path: path.to_owned(),
        base: base.cloned(),
        ours: ours.cloned(),
        theirs: theirs.cloned(),
    });
    ours.cloned()
}

/// The order of the merged ids: ours (or theirs, when only theirs reordered the ids all three
/// share), with the other side's new ids each placed after the id it follows there.
fn merged_order(base: &[String], ours: &[String], theirs: &[String]) -> Vec<String> {
    let (in_ours, in_theirs): (BTreeSet<&String>, BTreeSet<&String>) =
        (ours.iter().collect(), theirs.iter().collect());
    let in_all: BTreeSet<&String> = base
        .iter()
        .filter(|id| in_ours.contains(id) && in_theirs.contains(id))
        .collect();
    let shared = |list: &[String]| -> Vec<String> {
        list.iter()
            .filter(|id| in_all.contains(id))
            .cloned()
            .collect()
    };
    let (primary, secondary) = if shared(ours) == shared(base) && shared(theirs) != shared(base) {
        (theirs, ours)
    } else {
        (ours, theirs)
    };
    let mut out = primary.to_vec();
    let mut present: BTreeSet<String> = out.iter().cloned().collect();
    for (i, id) in secondary.iter().enumerate() {
        if present.contains(id) {
            continue;
        }
        let at = match i.checked_sub(1).map(|p| &secondary[p]) {
            Some(prev) => out
                .iter()
                .position(|x| x == prev)
                .map_or(out.len(), |p| p + 1),
            None => 0,
        };
        out.insert(at, id.clone());
        present.insert(id.clone());
    }
    out
}
