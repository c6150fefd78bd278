//! `stepTypes`: the palette and the inspector's description of every step type, read from the
//! conductor's registry (the same `TypeSpec`s the validator checks against), with a palette
//! group for each.

use symphony_melody::{StepKind, TypeSpec};

use crate::wire::StepTypeInfo;
use crate::Host;

impl Host {
    /// `stepTypes`: every registered type, sorted by group, then title.
    pub fn step_types(&self) -> Vec<StepTypeInfo> {
        let mut out: Vec<StepTypeInfo> = self.registry().specs().map(info).collect();
        out.sort_by(|a, b| {
            (group_rank(&a.group), &a.group, &a.title).cmp(&(
                group_rank(&b.group),
                &b.group,
                &b.title,
            ))
        });
        out
    }
}

/// One type as the UI sees it.
pub fn info(spec: &TypeSpec) -> StepTypeInfo {
    StepTypeInfo {
        name: spec.name.clone(),
        kind: spec.kind,
        group: group_of(spec).to_owned(),
        title: spec.title.clone(),
        description: spec.summary.clone(),
        inputs: spec.inputs.clone(),
        outputs: spec.outputs.clone(),
        extra_inputs: spec.extra_inputs,
        extra_outputs: spec.extra_outputs,
        config: spec.config.clone(),
        capabilities: spec.capabilities.clone(),
        offline: spec.offline,
        version: spec.version,
    }
}

/// The palette group: by what the type is for, read from its name and kind.
pub fn group_of(spec: &TypeSpec) -> &'static str {
    let rest = spec
        .name
        .split_once('.')
        .map_or(spec.name.as_str(), |(_, r)| r);
    match spec.kind {
        StepKind::Instrument if rest.starts_with("agent") => "Agents",
        StepKind::Instrument => "Models",
        StepKind::Operator if rest.starts_with("json") || rest == "merge" || rest == "pass" => {
            "Data"
        }
        StepKind::Operator if rest.starts_with("file") => "Files",
        StepKind::Operator if rest.starts_with("http") => "Network",
        StepKind::Operator if rest.starts_with("template") => "Text",
        StepKind::Operator if rest.starts_with("command") => "Commands",
        StepKind::Operator => "Utilities",
        StepKind::Addon => "Add-ons",
        StepKind::Cue => "Flow",
    }
}

/// The order groups appear in the palette.
fn group_rank(group: &str) -> usize {
    const ORDER: &[&str] = &[
        "Models",
        "Agents",
        "Text",
        "Data",
        "Files",
        "Network",
        "Commands",
        "Utilities",
        "Flow",
        "Add-ons",
    ];
    ORDER
        .iter()
        .position(|g| *g == group)
        .unwrap_or(ORDER.len())
}
