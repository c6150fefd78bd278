//! Tests of the SuperOptiX import: fixtures and helpers here, how files become melodies in
//! `mapping.rs`, how settings are read and problems reported in `reading.rs`.

mod mapping;
mod reading;

use std::collections::BTreeMap;

use super::text::{escape_holes, fill_placeholders, listing, name_from_source, slug};
use super::*;
use crate::catalog::PortType;
use crate::model::{
    Metadata, Policy, PortDecl, Retry, RunInput, Settings, Step, StepKind, ValueType,
    FORMAT_VERSION,
};

fn fixture(name: &str) -> Vec<u8> {
    let path = format!(
        "{}/tests/fixtures/superoptix/{name}",
        env!("CARGO_MANIFEST_DIR")
    );
    std::fs::read(&path).unwrap_or_else(|e| panic!("cannot read fixture {path}: {e}"))
}

fn imported(name: &str) -> Melody {
    import(&fixture(name), name).unwrap_or_else(|p| panic!("{name} does not import:\n{p}"))
}

/// The problems of a document that must not import, as the user sees them.
fn problems(yaml: &str) -> Vec<String> {
    match import(yaml.as_bytes(), "o.yaml") {
        Ok(m) => panic!("expected problems, imported {m:#?}"),
        Err(p) => p.iter().map(ToString::to_string).collect(),
    }
}

fn prompt(step: &Step) -> &str {
    step.config["prompt"].as_str().expect("the prompt is text")
}

fn edges(m: &Melody) -> Vec<String> {
    m.edges
        .iter()
        .map(|e| format!("{} -> {}", e.from, e.to))
        .collect()
}

fn position(m: &Melody, id: &str) -> (f64, f64) {
    let p = m.layout.steps[id];
    (p.x, p.y)
}

fn step<'m>(m: &'m Melody, id: &str) -> &'m Step {
    m.step(id)
        .unwrap_or_else(|| panic!("no step {id} in {:?}", ids(m)))
}

fn ids(m: &Melody) -> Vec<&str> {
    m.steps.iter().map(|s| s.id.as_str()).collect()
}

const MINIMAL: &str = "
tasks:
  - name: research
    agent: researcher
    description: Research {goal}.
";
