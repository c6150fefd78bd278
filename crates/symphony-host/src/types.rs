//! `stepTypes`: the palette and the inspector's description of every step type, read from the
//! conductor's registry (the same `TypeSpec`s the validator checks against), with a palette
//! group for each.
//!
//! The UI's unit tests read the same answer from `ui/src/test/stepTypes.json`, which a test
//! here writes from the real registry (`SYMPHONY_BLESS=1`) and fails on when it is stale, so
//! they never test against types the backend does not have.

use symphony_conductor::Registry;
use symphony_melody::{StepKind, TypeSpec};

use crate::wire::StepTypeInfo;
use crate::Host;

impl Host {
    /// `stepTypes`: every registered type, sorted by group, then title.
    pub fn step_types(&self) -> Vec<StepTypeInfo> {
        step_types_of(self.registry())
    }
}

/// Every type of `registry` as the UI sees it, sorted by group, then title.
pub fn step_types_of(registry: &Registry) -> Vec<StepTypeInfo> {
    let mut out: Vec<StepTypeInfo> = registry.specs().map(info).collect();
    out.sort_by(|a, b| {
        (group_rank(&a.group), &a.group, &a.title).cmp(&(group_rank(&b.group), &b.group, &b.title))
    });
    out
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

#[cfg(test)]
mod tests {
    use std::path::Path;
    use std::sync::Arc;

    /// The UI's fixture of step types, relative to the repository root.
    const UI_FIXTURE: &str = "ui/src/test/stepTypes.json";

    /// `ui/src/test/stepTypes.json` is what `stepTypes` answers with every type a host
    /// registers (no credential is read to describe a type). `SYMPHONY_BLESS=1` rewrites it.
    #[test]
    fn generated_ui_step_types_are_up_to_date() {
        let registry =
            crate::registry::registry_with(Arc::new(symphony_credentials::EnvCredentials));
        let types = super::step_types_of(&registry);
        assert!(
            types.iter().any(|t| t.name == "instrument.chat")
                && types.iter().any(|t| t.name == "instrument.agent")
                && types.iter().any(|t| t.name == "operator.http.request"),
            "the players' types are registered"
        );
        let text = serde_json::to_string_pretty(&types).expect("step types serialize") + "\n";
        let path = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../..")
            .join(UI_FIXTURE);
        if std::env::var_os("SYMPHONY_BLESS").is_some() {
            std::fs::write(&path, &text).expect("the UI's test folder is writable");
        }
        let committed = std::fs::read_to_string(&path).unwrap_or_default();
        assert!(
            committed == text,
            "{UI_FIXTURE} is stale: it differs from what `stepTypes` answers; run `SYMPHONY_BLESS=1 cargo test -p symphony-host generated` and commit the result"
        );
    }
}
