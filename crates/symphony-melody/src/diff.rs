//! What changed between two melodies, in the melody's own terms rather than lines of text.
//!
//! [`diff`] compares two loaded melodies section by section: the metadata (`melody.*`), run
//! inputs, settings, the steps by id and field by field (`config.prompt`, `policy.retry.max`,
//! a port under `inputs.*`), the edges as a set, the order of the steps, and apart from all of
//! these the canvas `layout`, which never changes what runs.
//!
//! A step whose id changed but whose every other field is the same, matched one to one, is a
//! rename; anything else with a new id is a removal and an addition. Edges and layout positions
//! of a renamed step are compared under its new id, so a rename alone shows as one line.
//!
//! Objects are compared key by key down to their leaves; a list is one value (two lists differ
//! or not), and so are a condition (`skipIf`, `when`) and a port's or input's `default`, which
//! mean something only as a whole. Everything is sorted (steps in file order, keys by name), so
//! the same two files always give the same diff.

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;
use serde_json::{Map, Value};

use crate::model::{Edge, Melody, PortRef, Step};

/// One field that differs. A side that is `None` has no such field (it was added or removed).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Change {
    /// Dotted path of the field, e.g. `config.prompt` in a step, `settings.maxParallel`.
    pub path: String,
    /// The value in the first melody, if it has the field.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub before: Option<Value>,
    /// The value in the second melody, if it has the field.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub after: Option<Value>,
}

/// How one step differs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum StepChangeKind {
    /// Only in the second melody.
    Added,
    /// Only in the first melody.
    Removed,
    /// In both, with different fields.
    Changed,
    /// The same step under a new id (every other field equal).
    Renamed,
}

/// One step that differs between the two melodies.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct StepDiff {
    /// The step's id (in the second melody for a rename).
    pub id: String,
    /// Added, removed, changed or renamed.
    pub change: StepChangeKind,
    /// For a rename: the id in the first melody.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub renamed_from: Option<String>,
    /// The step type (in the second melody when it has the step).
    #[serde(rename = "type")]
    pub type_name: String,
    /// For a changed step: each differing field, paths relative to the step.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub fields: Vec<Change>,
    /// For an added or removed step: the whole step, as written in the file.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub step: Option<Value>,
}

/// Edges only in one melody (`{"from": "step.port", "to": "step.port"}`).
#[derive(Debug, Clone, PartialEq, Default, Serialize)]
pub struct EdgesDiff {
    /// Edges only in the second melody, in its order.
    pub added: Vec<Edge>,
    /// Edges only in the first melody, in its order and under its ids.
    pub removed: Vec<Edge>,
}

/// The order of the steps both melodies have, when it differs.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct OrderChange {
    /// The shared steps' ids in the first melody's order (renamed steps under their new id).
    pub before: Vec<String>,
    /// The shared steps' ids in the second melody's order.
    pub after: Vec<String>,
}

/// What differs in `layout`: nothing here changes what runs.
#[derive(Debug, Clone, PartialEq, Default, Serialize)]
pub struct LayoutDiff {
    /// Steps placed in both at different positions.
    pub moved: Vec<String>,
    /// Steps with a position only in the second melody.
    pub placed: Vec<String>,
    /// Steps with a position only in the first melody.
    pub unplaced: Vec<String>,
    /// Everything else the editor keeps (notes in `layout.comments`, groups in
    /// `layout.groups`, …), field by field; list items with an `id` are compared by it
    /// (`layout.comments.note-1.text`).
    pub other: Vec<Change>,
}

impl LayoutDiff {
    /// Whether the layouts are the same.
    pub fn is_empty(&self) -> bool {
        self.moved.is_empty()
            && self.placed.is_empty()
            && self.unplaced.is_empty()
            && self.other.is_empty()
    }
}

/// Everything that differs between two melodies. See the module documentation.
#[derive(Debug, Clone, PartialEq, Default, Serialize)]
pub struct MelodyDiff {
    /// `melody.*`: id, name, description, version, author, tags.
    pub melody: Vec<Change>,
    /// `inputs.*`: run inputs added, removed or changed (`inputs.goal.default`).
    pub inputs: Vec<Change>,
    /// `settings.*` (`settings.maxParallel`, `settings.concurrency.offline`).
    pub settings: Vec<Change>,
    /// `stepTypes.*`: the step-type versions the melody was made for
    /// (`stepTypes.operator.template`: 1 → 2).
    pub step_types: Vec<Change>,
    /// Steps added, removed, changed or renamed: those of the first melody in its order, then
    /// the added ones in the second melody's order.
    pub steps: Vec<StepDiff>,
    /// The order of the shared steps, when it changed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub order: Option<OrderChange>,
    /// Edges added and removed (compared after renames are applied).
    pub edges: EdgesDiff,
    /// Canvas changes, which never change what runs.
    pub layout: LayoutDiff,
}

impl MelodyDiff {
    /// Whether anything that runs differs (everything but the layout).
    pub fn changes_what_runs(&self) -> bool {
        !(self.melody.is_empty()
            && self.inputs.is_empty()
            && self.settings.is_empty()
            && self.step_types.is_empty()
            && self.steps.is_empty()
            && self.order.is_none()
            && self.edges.added.is_empty()
            && self.edges.removed.is_empty())
    }

    /// Whether the two melodies are the same in every way, layout included.
    pub fn is_empty(&self) -> bool {
        !self.changes_what_runs() && self.layout.is_empty()
    }
}

/// Compares two melodies: `a` is the old one, `b` the new one.
pub fn diff(a: &Melody, b: &Melody) -> MelodyDiff {
    let mut out = MelodyDiff::default();
    let (va, vb) = (to_value(a), to_value(b));
    for (section, list) in [
        ("melody", &mut out.melody),
        ("inputs", &mut out.inputs),
        ("settings", &mut out.settings),
        ("stepTypes", &mut out.step_types),
    ] {
        compare(
            section,
            Some(&section_of(&va, section)),
            Some(&section_of(&vb, section)),
            list,
        );
    }

    let (a_steps, b_steps) = (steps_by_id(a), steps_by_id(b));
    let renames = renames(a, b, &a_steps, &b_steps);
    let renamed = |id: &str| renames.get(id).cloned().unwrap_or_else(|| id.to_owned());

    // Steps of `a`, in its order: removed, renamed or changed.
    for step in &a.steps {
        let new_id = renamed(&step.id);
        match b_steps.get(new_id.as_str()) {
            None => out.steps.push(StepDiff {
                id: step.id.clone(),
                change: StepChangeKind::Removed,
                renamed_from: None,
                type_name: step.type_name.clone(),
                fields: Vec::new(),
                step: Some(to_value(step)),
            }),
            Some(other) if new_id != step.id => out.steps.push(StepDiff {
                id: new_id,
                change: StepChangeKind::Renamed,
                renamed_from: Some(step.id.clone()),
                type_name: other.type_name.clone(),
                fields: Vec::new(),
                step: None,
            }),
            Some(other) => {
                let mut fields = Vec::new();
                compare(
                    "",
                    Some(&to_value(step)),
                    Some(&to_value(other)),
                    &mut fields,
                );
                if !fields.is_empty() {
                    out.steps.push(StepDiff {
                        id: step.id.clone(),
                        change: StepChangeKind::Changed,
                        renamed_from: None,
                        type_name: other.type_name.clone(),
                        fields,
                        step: None,
                    });
                }
            }
        }
    }
    let old_ids: BTreeSet<String> = a.steps.iter().map(|s| renamed(&s.id)).collect();
    for step in b.steps.iter().filter(|s| !old_ids.contains(&s.id)) {
        out.steps.push(StepDiff {
            id: step.id.clone(),
            change: StepChangeKind::Added,
            renamed_from: None,
            type_name: step.type_name.clone(),
            fields: Vec::new(),
            step: Some(to_value(step)),
        });
    }

    let new_ids: BTreeSet<&str> = b.steps.iter().map(|s| s.id.as_str()).collect();
    let before: Vec<String> = a
        .steps
        .iter()
        .map(|s| renamed(&s.id))
        .filter(|id| new_ids.contains(id.as_str()))
        .collect();
    let after: Vec<String> = b
        .steps
        .iter()
        .filter(|s| old_ids.contains(&s.id))
        .map(|s| s.id.clone())
        .collect();
    if before != after {
        out.order = Some(OrderChange { before, after });
    }

    let renamed_edge = |e: &Edge| {
        let mut e = e.clone();
        e.from.step = renamed(&e.from.step);
        e.to.step = renamed(&e.to.step);
        e
    };
    let old_edges: Vec<Edge> = a.edges.iter().map(renamed_edge).collect();
    let (old_set, new_set) = (edge_set(&old_edges), edge_set(&b.edges));
    out.edges.removed = a
        .edges
        .iter()
        .zip(&old_edges)
        .filter(|(_, renamed)| !new_set.contains(&(&renamed.from, &renamed.to)))
        .map(|(e, _)| e.clone())
        .collect();
    out.edges.added = b
        .edges
        .iter()
        .filter(|e| !old_set.contains(&(&e.from, &e.to)))
        .cloned()
        .collect();

    let old_positions: BTreeMap<String, _> = a
        .layout
        .steps
        .iter()
        .map(|(id, p)| (renamed(id), *p))
        .collect();
    for (id, p) in &old_positions {
        match b.layout.steps.get(id) {
            None => out.layout.unplaced.push(id.clone()),
            Some(q) if q != p => out.layout.moved.push(id.clone()),
            Some(_) => {}
        }
    }
    out.layout.placed = b
        .layout
        .steps
        .keys()
        .filter(|id| !old_positions.contains_key(*id))
        .cloned()
        .collect();
    let keys: BTreeSet<&String> = a.layout.extra.keys().chain(b.layout.extra.keys()).collect();
    for key in keys {
        let path = format!("layout.{key}");
        let (x, y) = (a.layout.extra.get(key), b.layout.extra.get(key));
        let listed = |v: Option<&Value>| match v {
            None => Some(Map::new()),
            Some(Value::Array(items)) if items.is_empty() => Some(Map::new()),
            Some(Value::Array(items)) => by_id(items),
            Some(_) => None,
        };
        match (listed(x), listed(y)) {
            // Notes and groups: item by item, by id.
            (Some(x), Some(y)) => compare(
                &path,
                Some(&Value::Object(x)),
                Some(&Value::Object(y)),
                &mut out.layout.other,
            ),
            _ => compare(&path, x, y, &mut out.layout.other),
        }
    }
    out
}

/// Steps of `a` renamed in `b`: old id → new id. A removed step and an added step are a rename
/// when everything but the id is equal and neither has another such match.
fn renames(
    a: &Melody,
    b: &Melody,
    a_steps: &BTreeMap<&str, &Step>,
    b_steps: &BTreeMap<&str, &Step>,
) -> BTreeMap<String, String> {
    // Each step's content without its id, as canonical text, to the ids that have it.
    let content = |step: &Step| {
        let mut v = to_value(step);
        if let Value::Object(map) = &mut v {
            map.remove("id");
        }
        v.to_string()
    };
    let mut removed: BTreeMap<String, Vec<&str>> = BTreeMap::new();
    for s in a
        .steps
        .iter()
        .filter(|s| !b_steps.contains_key(s.id.as_str()))
    {
        removed.entry(content(s)).or_default().push(&s.id);
    }
    let mut added: BTreeMap<String, Vec<&str>> = BTreeMap::new();
    for s in b
        .steps
        .iter()
        .filter(|s| !a_steps.contains_key(s.id.as_str()))
    {
        added.entry(content(s)).or_default().push(&s.id);
    }
    removed
        .iter()
        .filter_map(
            |(key, old)| match (&old[..], added.get(key).map(|v| &v[..])) {
                ([old], Some([new])) => Some(((*old).to_owned(), (*new).to_owned())),
                _ => None,
            },
        )
        .collect()
}

/// A melody's steps by id.
pub(crate) fn steps_by_id(m: &Melody) -> BTreeMap<&str, &Step> {
    m.steps.iter().map(|s| (s.id.as_str(), s)).collect()
}

/// Edges as a set of (from, to), for lookups.
pub(crate) fn edge_set(edges: &[Edge]) -> BTreeSet<(&PortRef, &PortRef)> {
    edges.iter().map(|e| (&e.from, &e.to)).collect()
}

/// A top-level section of a melody's JSON; a section left out (it holds its default) is `{}`.
pub(crate) fn section_of(melody: &Value, key: &str) -> Value {
    melody
        .get(key)
        .cloned()
        .unwrap_or_else(|| Value::Object(Map::new()))
}

/// The melody (or a part of it) as the JSON it is written as.
pub(crate) fn to_value<T: Serialize>(value: &T) -> Value {
    serde_json::to_value(value).expect("melody types have only string keys and always serialize")
}

/// Fields compared (and merged) as one value even when they are objects: a condition, and a
/// default value, mean something only whole.
pub(crate) fn is_atomic(path: &str) -> bool {
    let last = path.rsplit('.').next().unwrap_or(path);
    matches!(last, "skipIf" | "when" | "default")
}

/// Joins a path and a key (`""` + `a` is `a`).
pub(crate) fn join(path: &str, key: &str) -> String {
    if path.is_empty() {
        key.to_owned()
    } else {
        format!("{path}.{key}")
    }
}

/// The items of a list by their `id`, when every item is an object with a distinct one.
pub(crate) fn by_id(items: &[Value]) -> Option<Map<String, Value>> {
    if items.is_empty() {
        return None;
    }
    let mut map = Map::new();
    for item in items {
        let id = item.get("id")?.as_str()?;
        if map.insert(id.to_owned(), item.clone()).is_some() {
            return None;
        }
    }
    Some(map)
}

/// Appends to `out` every leaf that differs between `a` and `b` under `path`.
fn compare(path: &str, a: Option<&Value>, b: Option<&Value>, out: &mut Vec<Change>) {
    if a == b {
        return;
    }
    if let (Some(Value::Object(x)), Some(Value::Object(y))) = (a, b) {
        if !is_atomic(path) {
            let keys: BTreeSet<&String> = x.keys().chain(y.keys()).collect();
            for key in keys {
                compare(&join(path, key), x.get(key), y.get(key), out);
            }
            return;
        }
    }
    out.push(Change {
        path: path.to_owned(),
        before: a.cloned(),
        after: b.cloned(),
    });
}
