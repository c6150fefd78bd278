//! The step-type versions a melody is pinned to, and upgrading a melody made with older ones.
//!
//! A step type's config format has a version ([`TypeSpec::config_version`]). A melody records
//! the version of every type it uses in `stepTypes`, so a file says what it was written for:
//! `"stepTypes": {"operator.template": 1}`. A type missing from `stepTypes` is taken at version 1
//! (files written before pins existed).
//!
//! Loading a melody pinned to an older version runs the type's migrations one version at a time
//! ([`Catalog::migrate_config`]) and pins the new version; a type without a migration from that
//! version, or pinned to a version newer than this build knows, is refused with a problem that
//! names the step, the type and both versions. The same applies to steps nested in config (a
//! map's `body`).
//!
//! [`pin`] rewrites the pins to exactly the types a melody uses, at this build's versions: what
//! saving does. [`pin_new`] pins only the types that have no pin yet (steps just added in the
//! editor, which were made for this build).

use serde_json::{Map, Value};

use crate::catalog::{Catalog, FieldType};
use crate::model::Melody;
use crate::problem::Problem;

/// One step's config moved from an older version of its type to this build's.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Upgraded {
    /// The step (for a nested step, the step that holds it).
    pub step: String,
    /// The type.
    pub type_name: String,
    /// The version the file was made with.
    pub from: u32,
    /// This build's version.
    pub to: u32,
}

/// Upgrades every step whose type is pinned to an older version than the catalog's, and pins
/// the types it upgraded. Unknown types are left alone (the validator reports them).
///
/// On any problem the melody is left unchanged.
pub fn upgrade(melody: &mut Melody, catalog: &dyn Catalog) -> Result<Vec<Upgraded>, Vec<Problem>> {
    let mut problems = Vec::new();
    for (type_name, &pinned) in &melody.step_types {
        if let Some(spec) = catalog.spec(type_name) {
            if pinned > spec.config_version {
                problems.push(Problem::at(
                    format!("stepTypes.{type_name}"),
                    format!(
                        "made for version {pinned} of `{type_name}`; this Symphony has version {}. \
                         Update Symphony to open this melody",
                        spec.config_version
                    ),
                ));
            } else if pinned == 0 {
                problems.push(Problem::at(
                    format!("stepTypes.{type_name}"),
                    "versions start at 1",
                ));
            }
        }
    }
    if !problems.is_empty() {
        return Err(problems);
    }

    let mut steps = melody.steps.clone();
    let mut done = Vec::new();
    for step in &mut steps {
        let pinned = pinned_version(melody, &step.type_name);
        upgrade_config(
            catalog,
            &step.id,
            "config",
            &step.type_name,
            pinned,
            &mut step.config,
            &mut done,
            &mut problems,
        );
        // Steps nested in config (a map's body) are pinned like top-level ones.
        let Some(spec) = catalog.spec(&step.type_name) else {
            continue;
        };
        for field in &spec.config {
            if !matches!(field.ty, FieldType::Step { .. }) {
                continue;
            }
            let Some(Value::Object(inner)) = step.config.get_mut(&field.name) else {
                continue;
            };
            let Some(inner_type) = inner.get("type").and_then(Value::as_str).map(str::to_owned)
            else {
                continue;
            };
            let pinned = pinned_version(melody, &inner_type);
            let mut config = match inner.get("config") {
                Some(Value::Object(c)) => c.clone(),
                _ => Map::new(),
            };
            let before = done.len();
            upgrade_config(
                catalog,
                &step.id,
                &format!("config.{}.config", field.name),
                &inner_type,
                pinned,
                &mut config,
                &mut done,
                &mut problems,
            );
            if done.len() > before {
                inner.insert("config".into(), Value::Object(config));
            }
        }
    }
    if !problems.is_empty() {
        return Err(problems);
    }
    melody.steps = steps;
    for u in &done {
        melody.step_types.insert(u.type_name.clone(), u.to);
    }
    Ok(done)
}

/// The version a melody is pinned to for a type; 1 when it has no pin.
pub fn pinned_version(melody: &Melody, type_name: &str) -> u32 {
    melody.step_types.get(type_name).copied().unwrap_or(1)
}

/// Sets the pins to exactly the known types the melody uses (nested steps included), at the
/// catalog's versions. Call it on a melody that [`upgrade`] accepted.
pub fn pin(melody: &mut Melody, catalog: &dyn Catalog) {
    melody.step_types = used_types(melody, catalog)
        .into_iter()
        .filter_map(|t| catalog.spec(&t).map(|s| (t, s.config_version)))
        .collect();
}

/// Pins the known types the melody uses that have no pin yet, at the catalog's versions: steps
/// added in the editor were made for this build.
pub fn pin_new(melody: &mut Melody, catalog: &dyn Catalog) {
    for t in used_types(melody, catalog) {
        if let Some(spec) = catalog.spec(&t) {
            melody.step_types.entry(t).or_insert(spec.config_version);
        }
    }
}

/// Every type name used by a step or by a step nested in a step's config.
fn used_types(melody: &Melody, catalog: &dyn Catalog) -> Vec<String> {
    let mut names = std::collections::BTreeSet::new();
    for step in &melody.steps {
        names.insert(step.type_name.clone());
        let Some(spec) = catalog.spec(&step.type_name) else {
            continue;
        };
        for field in &spec.config {
            if matches!(field.ty, FieldType::Step { .. }) {
                if let Some(t) = step
                    .config
                    .get(&field.name)
                    .and_then(|b| b.get("type"))
                    .and_then(Value::as_str)
                {
                    names.insert(t.to_owned());
                }
            }
        }
    }
    names.into_iter().collect()
}

#[allow(clippy::too_many_arguments)]
fn upgrade_config(
    catalog: &dyn Catalog,
    step: &str,
    path: &str,
    type_name: &str,
    pinned: u32,
    config: &mut Map<String, Value>,
    done: &mut Vec<Upgraded>,
    problems: &mut Vec<Problem>,
) {
    let Some(spec) = catalog.spec(type_name) else {
        return;
    };
    let target = spec.config_version;
    if pinned >= target || pinned == 0 {
        return;
    }
    let mut next = config.clone();
    for from in pinned..target {
        if let Err(why) = catalog.migrate_config(type_name, from, &mut next) {
            problems.push(Problem::in_step(
                step,
                path,
                format!(
                    "made for version {pinned} of `{type_name}`, and this Symphony has version \
                     {target}: moving it from version {from} to {} failed: {why}. Open it with \
                     the Symphony it was made with, or change the step to the new version by hand",
                    from + 1
                ),
            ));
            return;
        }
    }
    *config = next;
    done.push(Upgraded {
        step: step.to_owned(),
        type_name: type_name.to_owned(),
        from: pinned,
        to: target,
    });
}
