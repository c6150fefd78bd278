//! Semantic checks of a loaded melody against a [`Catalog`], reporting every problem at once.
//!
//! What is checked: step ids (syntax, duplicates), types (known, kind matches), declared ports,
//! config fields (required, types, unknown keys, templates and conditions and what they refer
//! to), policies (fallback types, retry numbers), capabilities, edges (dangling steps or ports,
//! type mismatches, two edges into one non-list port), unfed required inputs, cycles, run inputs
//! and settings. Every check is linear or near-linear in the size of the melody, so a
//! 100,000-step file validates in well under a second.

use std::collections::{HashMap, HashSet};

use serde_json::{Map, Value};

use crate::catalog::{describe, Catalog, FieldType, PortType, ResolvedPort, TypeSpec};
use crate::condition::Condition;
use crate::graph::MelodyGraph;
use crate::model::{Melody, Policy, Route, Step, StepKind};
use crate::problem::{did_you_mean, Problem};
use crate::reference::{Reference, Scope, Target};
use crate::template::Template;

/// Checks `melody` against `catalog`; an empty list means it is valid.
pub fn validate(melody: &Melody, catalog: &dyn Catalog) -> Vec<Problem> {
    let mut v = Validator {
        melody,
        catalog,
        problems: Vec::new(),
        index: HashMap::with_capacity(melody.steps.len()),
        ports: Vec::with_capacity(melody.steps.len()),
        graph: None,
        ancestors: HashMap::new(),
    };
    v.run();
    v.problems
}

struct Validator<'m> {
    melody: &'m Melody,
    catalog: &'m dyn Catalog,
    problems: Vec<Problem>,
    /// First position of each step id.
    index: HashMap<&'m str, usize>,
    /// Resolved (inputs, outputs) per step; `None` when its type is unknown.
    ports: Vec<Option<(Vec<ResolvedPort>, Vec<ResolvedPort>)>>,
    graph: Option<MelodyGraph>,
    /// Ancestor sets, computed only for steps whose references reach beyond direct parents.
    ancestors: HashMap<usize, HashSet<usize>>,
}

impl<'m> Validator<'m> {
    fn run(&mut self) {
        self.check_inputs_and_settings();
        self.check_ids();
        for (i, step) in self.melody.steps.iter().enumerate() {
            let spec = self.catalog.spec(&step.type_name);
            self.ports
                .push(spec.map(|s| (s.inputs_of(step), s.outputs_of(step))));
            self.check_type(step, spec);
            if let Some(spec) = spec {
                self.check_declared_ports(step, spec);
                self.check_capabilities(step, spec, "capabilities");
            }
            let _ = i;
        }
        let fed = self.check_edges();
        self.check_unfed_inputs(&fed);
        let graph = MelodyGraph::build(self.melody);
        for cycle in graph.cycles() {
            let names: Vec<&str> = cycle
                .iter()
                .map(|&i| self.melody.steps[i].id.as_str())
                .collect();
            let mut p = Problem::at(
                "edges",
                format!(
                    "cycle: {} → {} (a melody must not loop back on itself)",
                    names.join(" → "),
                    names[0]
                ),
            );
            p.step = Some(names[0].to_owned());
            self.problems.push(p);
        }
        self.graph = Some(graph);
        for i in 0..self.melody.steps.len() {
            self.check_config_and_policy(i);
        }
    }

    /// Pins of known types must be this build's versions: a newer one needs a newer Symphony,
    /// an older one must go through [`crate::versions::upgrade`] first (every host does that
    /// when it loads a melody).
    fn check_step_types(&mut self) {
        for (type_name, &pinned) in &self.melody.step_types {
            let Some(spec) = self.catalog.spec(type_name) else {
                continue;
            };
            let now = spec.config_version;
            if pinned != now {
                let what = if pinned > now {
                    "update Symphony to play it"
                } else {
                    "it is upgraded when it is opened (`symphony fmt FILE` rewrites the file)"
                };
                self.problems.push(Problem::at(
                    format!("stepTypes.{type_name}"),
                    format!(
                        "made for version {pinned} of `{type_name}`; this Symphony has version {now}: {what}"
                    ),
                ));
            }
        }
    }

    fn check_inputs_and_settings(&mut self) {
        self.check_step_types();
        if !valid_name(&self.melody.melody.id) {
            self.problems.push(Problem::at(
                "melody.id",
                "melody ids hold letters, digits, `_` and `-` (they name run folders and files)",
            ));
        }
        for (name, input) in &self.melody.inputs {
            if !valid_name(name) {
                self.problems.push(Problem::at(
                    format!("inputs.{name}"),
                    "input names hold letters, digits, `_` and `-`",
                ));
            }
            if let Some(d) = &input.default {
                if !input.ty.accepts(d) {
                    self.problems.push(Problem::at(
                        format!("inputs.{name}.default"),
                        format!("expected {}, found {}", input.ty.describe(), describe(d)),
                    ));
                }
            }
        }
        let s = &self.melody.settings;
        for (path, message) in s.limits.problems() {
            self.problems.push(Problem::at(path, message));
        }
        if s.max_parallel == Some(0) {
            self.problems
                .push(Problem::at("settings.maxParallel", "must be at least 1"));
        }
        if s.default_timeout_ms == Some(0) {
            self.problems.push(Problem::at(
                "settings.defaultTimeoutMs",
                "must be at least 1",
            ));
        }
        for (key, n) in &s.concurrency {
            if *n == 0 {
                self.problems.push(Problem::at(
                    format!("settings.concurrency.{key}"),
                    "must be at least 1",
                ));
            }
        }
    }

    fn check_ids(&mut self) {
        for (i, step) in self.melody.steps.iter().enumerate() {
            if !valid_name(&step.id) {
                self.problems.push(Problem::in_step(
                    &step.id,
                    "id",
                    "step ids hold letters, digits, `_` and `-` (no dots or spaces)",
                ));
            } else if step.id == "input" {
                self.problems.push(Problem::in_step(
                    &step.id,
                    "id",
                    "`input` is reserved for `input.<name>` references; choose another id",
                ));
            }
            if self.index.insert(step.id.as_str(), i).is_some() {
                self.problems.push(Problem::in_step(
                    &step.id,
                    "id",
                    format!("duplicate step id `{}`; ids must be unique", step.id),
                ));
                // Keep the first occurrence as the one edges refer to.
                let first = self
                    .melody
                    .steps
                    .iter()
                    .position(|s| s.id == step.id)
                    .expect("the id was just seen");
                self.index.insert(step.id.as_str(), first);
            }
        }
    }

    fn check_type(&mut self, step: &Step, spec: Option<&TypeSpec>) {
        match spec {
            None => {
                let hint = did_you_mean(&step.type_name, self.catalog.type_names());
                self.problems.push(Problem::in_step(
                    &step.id,
                    "type",
                    format!("unknown step type `{}`{hint}", step.type_name),
                ));
            }
            Some(spec) if spec.kind != step.kind => {
                self.problems.push(Problem::in_step(
                    &step.id,
                    "kind",
                    format!(
                        "`{}` is an {} type, but the step says `{}`",
                        spec.name, spec.kind, step.kind
                    ),
                ));
            }
            Some(_) => {}
        }
    }

    fn check_declared_ports(&mut self, step: &Step, spec: &TypeSpec) {
        for (name, decl) in &step.inputs {
            let field = format!("inputs.{name}");
            if !valid_name(name) {
                self.problems.push(Problem::in_step(
                    &step.id,
                    &field,
                    "port names hold letters, digits, `_` and `-`",
                ));
            }
            match spec.inputs.iter().find(|p| &p.name == name) {
                Some(fixed) if !fixed.ty.accepts(decl.ty) || !decl.ty.accepts(fixed.ty) => {
                    self.problems.push(Problem::in_step(
                        &step.id,
                        &format!("{field}.type"),
                        format!(
                            "`{}` takes {}, not {}",
                            spec.name,
                            fixed.ty.as_str(),
                            decl.ty.as_str()
                        ),
                    ))
                }
                Some(_) => {}
                None => match spec.extra_inputs {
                    Some(allowed) if allowed.accepts(decl.ty) => {}
                    Some(allowed) => self.problems.push(Problem::in_step(
                        &step.id,
                        &format!("{field}.type"),
                        format!(
                            "`{}` takes extra inputs of type {}",
                            spec.name,
                            allowed.as_str()
                        ),
                    )),
                    None => self.problems.push(Problem::in_step(
                        &step.id,
                        &field,
                        format!(
                            "`{}` has no input port `{name}`{}",
                            spec.name,
                            did_you_mean(name, spec.inputs.iter().map(|p| p.name.as_str()))
                        ),
                    )),
                },
            }
            if let Some(d) = &decl.default {
                if !decl.ty.admits(d) {
                    self.problems.push(Problem::in_step(
                        &step.id,
                        &format!("{field}.default"),
                        format!("expected {}, found {}", decl.ty.as_str(), describe(d)),
                    ));
                }
            }
        }
        for name in step.outputs.keys() {
            let fixed = spec.outputs.iter().any(|p| &p.name == name);
            if !fixed && spec.extra_outputs.is_none() {
                self.problems.push(Problem::in_step(
                    &step.id,
                    &format!("outputs.{name}"),
                    format!("`{}` has no output port `{name}`", spec.name),
                ));
            } else if !valid_name(name) {
                self.problems.push(Problem::in_step(
                    &step.id,
                    &format!("outputs.{name}"),
                    "port names hold letters, digits, `_` and `-`",
                ));
            }
        }
        if spec.outputs.is_empty() && spec.extra_outputs.is_some() && step.outputs.is_empty() {
            self.problems.push(Problem::in_step(
                &step.id,
                "outputs",
                format!("a `{}` step must declare its output ports", spec.name),
            ));
        }
    }

    fn check_capabilities(&mut self, step: &Step, spec: &TypeSpec, field: &str) {
        for cap in &spec.capabilities {
            if !step.capabilities.contains(cap) {
                self.problems.push(Problem::in_step(
                    &step.id,
                    field,
                    format!(
                        "`{}` needs the `{}` capability; add \"{}\" to the step's capabilities so readers see what it may do",
                        spec.name,
                        cap.as_str(),
                        cap.as_str()
                    ),
                ));
            }
        }
    }

    /// Checks edges; returns, per step, the input ports fed by at least one edge.
    fn check_edges(&mut self) -> Vec<HashSet<&'m str>> {
        let mut fed: Vec<HashSet<&'m str>> = vec![HashSet::new(); self.melody.steps.len()];
        let mut single_into_list = Vec::new();
        for (e, edge) in self.melody.edges.iter().enumerate() {
            let from = self.port_of(e, "from", &edge.from.step, &edge.from.port, false);
            let to = self.port_of(e, "to", &edge.to.step, &edge.to.port, true);
            let (Some((_, from_ty)), Some((to_step, to_ty))) = (from, to) else {
                continue;
            };
            if !to_ty.accepts(from_ty) {
                self.problems.push(Problem::at(
                    format!("edges[{e}]"),
                    format!(
                        "{} is {} but {} takes {}",
                        edge.from,
                        from_ty.as_str(),
                        edge.to,
                        to_ty.as_str()
                    ),
                ));
            }
            single_into_list.push((e, to_step, from_ty, to_ty));
            if !fed[to_step].insert(edge.to.port.as_str()) && to_ty != PortType::List {
                self.problems.push(Problem::at(
                    format!("edges[{e}].to"),
                    format!(
                        "{} already has an incoming edge; only list ports collect several",
                        edge.to
                    ),
                ));
            }
        }
        // A list port fed by one edge takes that value as the list, so it must be one.
        let mut fan_in: HashMap<(usize, &str), usize> = HashMap::new();
        for edge in &self.melody.edges {
            if let Some(&t) = self.index.get(edge.to.step.as_str()) {
                *fan_in.entry((t, edge.to.port.as_str())).or_default() += 1;
            }
        }
        for (e, to_step, from_ty, to_ty) in single_into_list {
            let edge = &self.melody.edges[e];
            let single = fan_in.get(&(to_step, edge.to.port.as_str())) == Some(&1);
            if to_ty == PortType::List
                && single
                && !matches!(from_ty, PortType::List | PortType::Any | PortType::Json)
            {
                self.problems.push(Problem::at(
                    format!("edges[{e}]"),
                    format!(
                        "{} is {} but {} takes a list; connect a list, or several edges to collect their values",
                        edge.from,
                        from_ty.as_str(),
                        edge.to
                    ),
                ));
            }
        }
        fed
    }

    fn port_of(
        &mut self,
        e: usize,
        end: &str,
        step: &str,
        port: &str,
        input: bool,
    ) -> Option<(usize, PortType)> {
        let Some(&i) = self.index.get(step) else {
            self.problems.push(Problem::at(
                format!("edges[{e}].{end}"),
                format!(
                    "no step `{step}`{}",
                    did_you_mean(step, self.index.keys().copied())
                ),
            ));
            return None;
        };
        let (inputs, outputs) = self.ports[i].as_ref()?;
        let list = if input { inputs } else { outputs };
        match list.iter().find(|p| p.name == port) {
            Some(p) => Some((i, p.ty)),
            None => {
                let hint = did_you_mean(port, list.iter().map(|p| p.name.as_str()));
                let names: Vec<&str> = list.iter().map(|p| p.name.as_str()).collect();
                self.problems.push(Problem::at(
                    format!("edges[{e}].{end}"),
                    format!(
                        "step `{step}` has no {} port `{port}`{hint} (it has: {})",
                        if input { "input" } else { "output" },
                        if names.is_empty() {
                            "none".to_owned()
                        } else {
                            names.join(", ")
                        }
                    ),
                ));
                None
            }
        }
    }

    fn check_unfed_inputs(&mut self, fed: &[HashSet<&str>]) {
        for (i, step) in self.melody.steps.iter().enumerate() {
            let Some((inputs, _)) = &self.ports[i] else {
                continue;
            };
            for p in inputs {
                if p.required && !fed[i].contains(p.name.as_str()) {
                    self.problems.push(Problem::in_step(
                        &step.id,
                        &format!("inputs.{}", p.name),
                        format!(
                            "required input `{}` has no incoming edge; connect one or give it a default",
                            p.name
                        ),
                    ));
                }
            }
        }
    }

    fn check_config_and_policy(&mut self, i: usize) {
        let step = &self.melody.steps[i];
        if let Some(spec) = self.catalog.spec(&step.type_name) {
            self.check_config(i, spec, &step.config, "config", &[]);
            let mut extra = Vec::new();
            self.catalog.check_step(step, &mut extra);
            for mut p in extra {
                p.path = format!("steps.{}.{}", step.id, p.path);
                p.step = Some(step.id.clone());
                self.problems.push(p);
            }
        }
        self.check_policy(i, &step.policy, "policy", step.kind);
    }

    fn check_policy(&mut self, i: usize, policy: &Policy, field: &str, kind: StepKind) {
        let step = &self.melody.steps[i];
        if policy.timeout_ms == Some(0) {
            self.problems.push(Problem::in_step(
                &step.id,
                &format!("{field}.timeoutMs"),
                "must be at least 1",
            ));
        }
        if let Some(r) = &policy.retry {
            if !(r.factor.is_finite() && r.factor >= 1.0) {
                self.problems.push(Problem::in_step(
                    &step.id,
                    &format!("{field}.retry.factor"),
                    "must be a number of at least 1",
                ));
            }
            if r.max > 100 {
                self.problems.push(Problem::in_step(
                    &step.id,
                    &format!("{field}.retry.max"),
                    "more than 100 retries is surely a mistake",
                ));
            }
        }
        for (f, fb) in policy.fallbacks.iter().enumerate() {
            let path = format!("{field}.fallbacks[{f}]");
            let type_name = fb.type_name.as_deref().unwrap_or(&step.type_name);
            let Some(spec) = self.catalog.spec(type_name) else {
                self.problems.push(Problem::in_step(
                    &step.id,
                    &format!("{path}.type"),
                    format!(
                        "unknown step type `{type_name}`{}",
                        did_you_mean(type_name, self.catalog.type_names())
                    ),
                ));
                continue;
            };
            if spec.kind != kind {
                self.problems.push(Problem::in_step(
                    &step.id,
                    &format!("{path}.type"),
                    format!(
                        "a fallback must be of the step's kind ({kind}), `{type_name}` is {}",
                        spec.kind
                    ),
                ));
            }
            let mut merged = step.config.clone();
            merged.extend(fb.config.clone());
            self.check_config(i, spec, &merged, &format!("{path}.config"), &[]);
            self.check_capabilities(step, spec, &format!("{path}.type"));
        }
        if let Some(cond) = &policy.skip_if {
            self.check_condition(i, cond, &format!("{field}.skipIf"), &[]);
        }
    }

    fn check_config(
        &mut self,
        i: usize,
        spec: &TypeSpec,
        config: &Map<String, Value>,
        field: &str,
        scope: &[String],
    ) {
        let step = &self.melody.steps[i];
        for key in config.keys() {
            if !spec.config.iter().any(|f| &f.name == key) {
                self.problems.push(Problem::in_step(
                    &step.id,
                    &format!("{field}.{key}"),
                    format!(
                        "`{}` has no setting `{key}`{}",
                        spec.name,
                        did_you_mean(key, spec.config.iter().map(|f| f.name.as_str()))
                    ),
                ));
            }
        }
        for f in &spec.config {
            let path = format!("{field}.{}", f.name);
            let Some(value) = config.get(&f.name) else {
                if f.required {
                    self.problems.push(Problem::in_step(
                        &step.id,
                        &path,
                        format!("missing required setting `{}` ({})", f.name, f.description),
                    ));
                }
                continue;
            };
            if let Err(msg) = f.ty.check(value) {
                self.problems.push(Problem::in_step(&step.id, &path, msg));
                continue;
            }
            if let Some(c) = value
                .as_str()
                .filter(|_| f.single_line)
                .and_then(|text| text.chars().find(|c| c.is_control()))
            {
                self.problems.push(Problem::in_step(
                    &step.id,
                    &path,
                    format!(
                        "`{}` is one line, but it holds {}: remove it",
                        f.name,
                        control_name(c)
                    ),
                ));
                continue;
            }
            let field_scope;
            let scope = if f.scope.is_empty() {
                scope
            } else {
                field_scope = [scope, f.scope.as_slice()].concat();
                field_scope.as_slice()
            };
            match &f.ty {
                FieldType::Template => {
                    let text = value.as_str().expect("checked to be a string");
                    self.check_template(i, text, &path, scope);
                }
                FieldType::Condition => match serde_json::from_value::<Condition>(value.clone()) {
                    Ok(c) => self.check_condition(i, &c, &path, scope),
                    Err(e) => self
                        .problems
                        .push(Problem::in_step(&step.id, &path, e.to_string())),
                },
                FieldType::Routes => self.check_routes(i, value, &path),
                FieldType::Step { scope: names } => self.check_inline(i, value, &path, names),
                _ => {}
            }
        }
    }

    fn check_routes(&mut self, i: usize, value: &Value, path: &str) {
        let step = &self.melody.steps[i];
        let routes: Vec<Route> = match serde_json::from_value(value.clone()) {
            Ok(r) => r,
            Err(e) => {
                self.problems
                    .push(Problem::in_step(&step.id, path, e.to_string()));
                return;
            }
        };
        if routes.is_empty() {
            self.problems.push(Problem::in_step(
                &step.id,
                path,
                "a router needs at least one route",
            ));
        }
        let outputs: Vec<String> = self.ports[i]
            .as_ref()
            .map(|(_, o)| o.iter().map(|p| p.name.clone()).collect())
            .unwrap_or_default();
        for (r, route) in routes.iter().enumerate() {
            if !outputs.contains(&route.port) {
                self.problems.push(Problem::in_step(
                    &step.id,
                    &format!("{path}[{r}].port"),
                    format!(
                        "no output port `{}`; declare it under the step's outputs{}",
                        route.port,
                        did_you_mean(&route.port, outputs.iter().map(String::as_str))
                    ),
                ));
            }
            self.check_condition(i, &route.when, &format!("{path}[{r}].when"), &[]);
        }
    }

    fn check_inline(&mut self, i: usize, value: &Value, path: &str, names: &[String]) {
        let step = &self.melody.steps[i];
        let inline: crate::model::InlineStep = match serde_json::from_value(value.clone()) {
            Ok(s) => s,
            Err(e) => {
                self.problems
                    .push(Problem::in_step(&step.id, path, e.to_string()));
                return;
            }
        };
        let Some(spec) = self.catalog.spec(&inline.type_name) else {
            self.problems.push(Problem::in_step(
                &step.id,
                &format!("{path}.type"),
                format!(
                    "unknown step type `{}`{}",
                    inline.type_name,
                    did_you_mean(&inline.type_name, self.catalog.type_names())
                ),
            ));
            return;
        };
        if spec.kind == StepKind::Cue {
            self.problems.push(Problem::in_step(
                &step.id,
                &format!("{path}.type"),
                "a cue cannot be played inside another step",
            ));
        }
        self.check_capabilities(step, spec, &format!("{path}.type"));
        self.check_config(i, spec, &inline.config, &format!("{path}.config"), names);
        self.check_policy(i, &inline.policy, &format!("{path}.policy"), spec.kind);
    }

    fn check_template(&mut self, i: usize, text: &str, path: &str, scope: &[String]) {
        match Template::parse(text) {
            Ok(t) => {
                for r in t.references() {
                    self.check_reference(i, r, path, scope);
                }
            }
            Err(e) => {
                let id = self.melody.steps[i].id.clone();
                self.problems.push(Problem::in_step(&id, path, e));
            }
        }
    }

    fn check_condition(&mut self, i: usize, cond: &Condition, path: &str, scope: &[String]) {
        for (at, text) in cond.references() {
            let field = format!("{path}.{at}");
            match Reference::parse(text) {
                Ok(r) => self.check_reference(i, &r, &field, scope),
                Err(e) => {
                    let id = self.melody.steps[i].id.clone();
                    self.problems.push(Problem::in_step(&id, &field, e));
                }
            }
        }
    }

    fn check_reference(&mut self, i: usize, r: &Reference, path: &str, extra: &[String]) {
        let step = &self.melody.steps[i];
        let scope = StepScope {
            v: self,
            step: i,
            extra,
        };
        let problem = match r.target(&scope) {
            Ok(Target::StepOutput {
                step: target, port, ..
            }) => {
                let t = self.index[target];
                let has_port = self.ports[t]
                    .as_ref()
                    .map(|(_, outs)| outs.iter().any(|p| p.name == port));
                if has_port == Some(false) {
                    let outs = self.ports[t].as_ref().map(|(_, outs)| outs);
                    Some(format!(
                        "`{r}`: step `{target}` has no output port `{port}`{}",
                        did_you_mean(port, outs.into_iter().flatten().map(|p| p.name.as_str()))
                    ))
                } else if t == i {
                    Some(format!("`{r}`: a step cannot read its own output"))
                } else if !self.is_ancestor(t, i) {
                    Some(format!(
                        "`{r}`: step `{target}` is not upstream of `{}`; connect an edge from `{target}` (directly or through other steps) so its output exists when this step starts",
                        step.id
                    ))
                } else {
                    None
                }
            }
            // A name the step's scope adds (a map's `item`, a loop's `loop`) is not a port: it
            // hides no step, and its fields are whatever the run puts there.
            Ok(Target::OwnInput { port, .. }) if extra.iter().any(|e| e == port) => None,
            Ok(Target::OwnInput { port, path }) if !path.is_empty() => {
                let ty = self.ports[i]
                    .as_ref()
                    .and_then(|(ins, _)| ins.iter().find(|p| p.name == port))
                    .map(|p| p.ty);
                match ty {
                    Some(
                        t
                        @ (PortType::Text | PortType::Number | PortType::Boolean | PortType::File),
                    ) => Some(format!(
                        "`{r}`: `{port}` is this step's own {} input port, which has no fields{}",
                        t.as_str(),
                        if self.index.contains_key(port) {
                            format!("; it hides the step `{port}`, so rename the port to read that step")
                        } else {
                            String::new()
                        }
                    )),
                    // An input port named after a step hides that step: `spec.output` reads a
                    // field `output` inside the input, which is (almost always) the step's
                    // output itself, and renders as nothing. A first field that is, or looks
                    // like, one of the hidden step's output ports is that mistake.
                    _ => self.index.get(port).and_then(|&hidden| {
                        let outs = self.ports[hidden].as_ref().map(|(_, outs)| outs)?;
                        let field = path[0].as_str();
                        let names = || outs.iter().map(|p| p.name.as_str());
                        let named = if names().any(|n| n == field) {
                            format!("the step `{port}` has an output `{field}`")
                        } else {
                            let hint = did_you_mean(field, names());
                            let close = hint.trim_start_matches("; did you mean ").trim_end_matches('?');
                            if hint.is_empty() {
                                return None;
                            }
                            format!("`{field}` looks like the step `{port}`'s output {close}")
                        };
                        Some(format!(
                            "`{r}`: `{port}` is this step's own input port (named after the step `{port}`), so this reads a field `{field}` inside what that port received, not the step's output; {named}. Write `{{{{{port}}}}}` for the value the port received"
                        ))
                    }),
                }
            }
            Ok(_) => None,
            Err(e) => Some(e),
        };
        if let Some(message) = problem {
            let id = step.id.clone();
            let mut p = Problem::in_step(&id, "", message);
            p.path = format!("steps.{id}.{path}");
            self.problems.push(p);
        }
    }

    /// Whether `a` is upstream of `b` through edges.
    fn is_ancestor(&mut self, a: usize, b: usize) -> bool {
        let graph = self
            .graph
            .as_ref()
            .expect("the graph is built before configs are checked");
        if graph.parents(b).contains(&a) {
            return true;
        }
        self.ancestors
            .entry(b)
            .or_insert_with(|| graph.ancestors(b))
            .contains(&a)
    }
}

struct StepScope<'a, 'm> {
    v: &'a Validator<'m>,
    step: usize,
    extra: &'a [String],
}

impl Scope for StepScope<'_, '_> {
    fn has_own_input(&self, name: &str) -> bool {
        self.extra.iter().any(|n| n == name)
            || self.v.ports[self.step]
                .as_ref()
                .is_some_and(|(inputs, _)| inputs.iter().any(|p| p.name == name))
    }
    fn has_run_input(&self, name: &str) -> bool {
        self.v.melody.inputs.contains_key(name)
    }
    fn has_step(&self, id: &str) -> bool {
        self.v.index.contains_key(id)
    }
}

/// Names a control character for a message: "a line break (U+000A)".
pub fn control_name(c: char) -> String {
    let what = match c {
        '\n' | '\r' => "a line break",
        '\t' => "a tab",
        '\0' => "a NUL character",
        _ => "a control character",
    };
    format!("{what} (U+{:04X})", c as u32)
}

/// Step ids, port and input names: letters, digits, `_` and `-`.
pub fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 128
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
}
