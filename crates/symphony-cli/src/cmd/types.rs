//! `symphony types`: the step types this build can play, as the validator sees them.
//!
//! Reads [`symphony_conductor::Registry::specs`] and prints each type's kind, title, ports, config fields and
//! capabilities, marking offline instruments. `--json` prints the specs themselves.

use symphony_melody::{ConfigField, FieldType, PortSpec, PortType, TypeSpec};

use crate::exit::{Exit, Failure, Outcome};

/// Arguments of `symphony types`.
#[derive(clap::Args)]
pub struct Args {
    /// Print the type specs as JSON.
    #[arg(long)]
    pub json: bool,
}

/// Runs `symphony types`.
pub fn run(args: Args) -> Outcome {
    let registry = crate::registry::registry();
    let specs: Vec<&TypeSpec> = registry.specs().collect();
    if args.json {
        let text = serde_json::to_string_pretty(&specs).map_err(|e| {
            Failure::new(
                Exit::Internal,
                format!("cannot write the types as JSON: {e}"),
            )
        })?;
        outln!("{text}");
        return Ok(Exit::Success);
    }
    outln!(
        "{} step types  (`*` marks a required config field, `?` an optional input port)",
        specs.len()
    );
    for spec in &specs {
        outln!();
        print_spec(spec);
    }
    Ok(Exit::Success)
}

fn print_spec(spec: &TypeSpec) {
    let offline = if spec.offline {
        ", offline: calls no model"
    } else {
        ""
    };
    outln!("{}  ({}{offline})  {}", spec.name, spec.kind, spec.title);
    outln!("  {}", spec.summary);
    outln!("  inputs:  {}", ports(&spec.inputs, spec.extra_inputs));
    outln!("  outputs: {}", ports(&spec.outputs, spec.extra_outputs));
    let config = if spec.config.is_empty() {
        "-".to_owned()
    } else {
        spec.config.iter().map(field).collect::<Vec<_>>().join(", ")
    };
    outln!("  config:  {config}");
    let caps = if spec.capabilities.is_empty() {
        "-".to_owned()
    } else {
        spec.capabilities
            .iter()
            .map(|c| c.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    };
    outln!("  capabilities: {caps}");
}

/// `content?: any, more: any` — `?` marks optional ports; `+ more of type` the declarable ones.
fn ports(fixed: &[PortSpec], extra: Option<PortType>) -> String {
    let mut parts: Vec<String> = fixed
        .iter()
        .map(|p| {
            format!(
                "{}{}: {}",
                p.name,
                if p.required { "" } else { "?" },
                p.ty.as_str()
            )
        })
        .collect();
    if let Some(ty) = extra {
        parts.push(format!("(any name): {}", ty.as_str()));
    }
    if parts.is_empty() {
        "-".into()
    } else {
        parts.join(", ")
    }
}

/// `prompt*: template` — `*` marks required fields.
fn field(f: &ConfigField) -> String {
    let ty = match &f.ty {
        FieldType::String => "string".to_owned(),
        FieldType::Template => "template".to_owned(),
        FieldType::Integer => "integer".to_owned(),
        FieldType::Number => "number".to_owned(),
        FieldType::Boolean => "boolean".to_owned(),
        FieldType::Choice { options } => options.join("|"),
        FieldType::List => "list".to_owned(),
        FieldType::Object => "object".to_owned(),
        FieldType::Condition => "condition".to_owned(),
        FieldType::Routes => "routes".to_owned(),
        FieldType::Step { .. } => "step".to_owned(),
        FieldType::Any => "any".to_owned(),
    };
    format!("{}{}: {ty}", f.name, if f.required { "*" } else { "" })
}
