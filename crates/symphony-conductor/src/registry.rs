//! The one place where step types are registered.
//!
//! [`Registry::standard`] lists every built-in type; adding a step type means writing its file
//! under `steps/` and adding one line here. The registry is also the [`Catalog`] the validator
//! and the editor read.

use std::collections::BTreeMap;
use std::sync::Arc;

use symphony_melody::{Catalog, Problem, Step, TypeSpec};

use crate::step::StepType;
use crate::steps;

/// A registered type: its implementation and its spec (computed once). Cheap to clone: the
/// scheduler hands one to every attempt.
#[derive(Clone)]
pub struct Entry {
    /// The implementation.
    pub step_type: Arc<dyn StepType>,
    /// Its description.
    pub spec: Arc<TypeSpec>,
    /// Its name, shared into events.
    pub name: Arc<str>,
}

/// The set of step types a conductor can play.
#[derive(Clone, Default)]
pub struct Registry {
    types: BTreeMap<String, Entry>,
}

/// Registering a type whose name is taken.
#[derive(Debug, thiserror::Error)]
#[error("step type `{0}` is registered twice")]
pub struct DuplicateType(pub String);

impl Registry {
    /// Every built-in step type.
    pub fn standard() -> Registry {
        let mut r = Registry::default();
        let all: Vec<Arc<dyn StepType>> = vec![
            Arc::new(steps::offline::Offline),
            Arc::new(steps::template::TemplateOp),
            Arc::new(steps::json_extract::JsonExtract),
            Arc::new(steps::merge::Merge),
            Arc::new(steps::file_write::FileWrite),
            Arc::new(steps::pass::Pass),
            Arc::new(steps::delay::Delay),
            Arc::new(steps::router::Router),
            Arc::new(steps::map::MapCue),
            Arc::new(steps::loop_cue::LoopCue),
            Arc::new(steps::gate::GateCue),
        ];
        for t in all {
            r.register(t)
                .expect("built-in step types have distinct names");
        }
        r
    }

    /// Adds a type; refuses a name that is already registered.
    pub fn register(&mut self, step_type: Arc<dyn StepType>) -> Result<(), DuplicateType> {
        let spec = step_type.spec();
        debug_assert!(
            spec.name.starts_with(&format!("{}.", spec.kind)),
            "a type's name starts with its kind"
        );
        if self.types.contains_key(&spec.name) {
            return Err(DuplicateType(spec.name));
        }
        self.types.insert(
            spec.name.clone(),
            Entry {
                step_type,
                name: Arc::from(spec.name.as_str()),
                spec: Arc::new(spec),
            },
        );
        Ok(())
    }

    /// Registers `step_type` in place of the type of the same name, if there is one: a newer
    /// version of a type (tests pretend one; an embedder may ship one).
    pub fn replace(&mut self, step_type: Arc<dyn StepType>) {
        let name = step_type.spec().name;
        self.types.remove(&name);
        self.register(step_type).expect("the name was just freed");
    }

    /// The entry of a type.
    pub fn get(&self, name: &str) -> Option<&Entry> {
        self.types.get(name)
    }

    /// A step's expected duration: its own `policy.estimateMs`, else what its type says for
    /// its config, else the type's default; 0 for an unknown type.
    pub fn estimate_ms(&self, step: &Step) -> u64 {
        step.policy.estimate_ms.unwrap_or_else(|| {
            self.types.get(&step.type_name).map_or(0, |e| {
                e.step_type
                    .estimate_ms(&step.config)
                    .unwrap_or(e.spec.estimate_ms)
            })
        })
    }

    /// Every registered spec, sorted by name.
    pub fn specs(&self) -> impl Iterator<Item = &TypeSpec> {
        self.types.values().map(|e| &*e.spec)
    }
}

impl Catalog for Registry {
    fn spec(&self, type_name: &str) -> Option<&TypeSpec> {
        self.types.get(type_name).map(|e| &*e.spec)
    }

    fn type_names(&self) -> Vec<&str> {
        self.types.keys().map(String::as_str).collect()
    }

    fn check_step(&self, step: &Step, problems: &mut Vec<Problem>) {
        if let Some(e) = self.types.get(&step.type_name) {
            e.step_type.check(step, problems);
        }
    }

    fn migrate_config(
        &self,
        type_name: &str,
        from: u32,
        config: &mut serde_json::Map<String, serde_json::Value>,
    ) -> Result<(), String> {
        match self.types.get(type_name) {
            Some(e) => e.step_type.migrate(from, config),
            None => Err(format!("`{type_name}` is not a known step type")),
        }
    }
}
