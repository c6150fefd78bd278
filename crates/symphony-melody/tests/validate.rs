//! Every check `validate` makes, data-driven: a melody (as JSON, `formatVersion` and the
//! `melody` id and name filled in) and the problems it has, one `path: message` line each, in
//! the order the validator reports them. The expectations are inline (`expect-test`); after a
//! deliberate change of wording, `UPDATE_EXPECT=1 cargo test -p symphony-melody --test
//! validate` rewrites them, and the diff shows every message that changed.
//!
//! The step types are stand-ins declared below (this crate cannot depend on the conductor,
//! which owns the real ones): each has the shape of a real type that a check needs.

#![allow(clippy::unwrap_used)] // Tests unwrap: a panic is the failure report.

use expect_test::{expect, Expect};
use serde_json::{json, Value};
use symphony_melody::catalog::{ConfigField, FieldType, PortSpec};
use symphony_melody::{Capability, Catalog, PortType, Problem, Step, StepKind, TypeSpec};

/// Loads `doc` (a melody without its boilerplate), validates it against [`catalog`] and
/// compares its problems, one `path: message` line each, with `expect`.
fn check(doc: Value, expect: Expect) {
    let Value::Object(mut doc) = doc else {
        panic!("a melody is an object");
    };
    doc.entry("formatVersion").or_insert(json!(1));
    doc.entry("melody")
        .or_insert(json!({"id": "test", "name": "Test"}));
    let melody = symphony_melody::load_value(Value::Object(doc))
        .unwrap_or_else(|p| panic!("the case does not load, so it tests the loader: {p}"));
    let problems = symphony_melody::validate(&melody, &catalog());
    let lines: Vec<String> = problems.iter().map(ToString::to_string).collect();
    expect.assert_eq(&lines.join("\n"));
}

/// A step of type `ty` (its kind is the type's first part).
fn step(id: &str, ty: &str, config: Value) -> Value {
    let kind = ty.split('.').next().unwrap();
    json!({"id": id, "kind": kind, "type": ty, "config": config})
}

fn edge(from: &str, to: &str) -> Value {
    json!({"from": from, "to": to})
}

/// `operator.template` with a text: the most common step in these cases.
fn template(id: &str, text: &str) -> Value {
    step(id, "operator.template", json!({"template": text}))
}

// ---- the stand-in catalog -------------------------------------------------------------------

struct Types(Vec<TypeSpec>);

impl Catalog for Types {
    fn spec(&self, type_name: &str) -> Option<&TypeSpec> {
        self.0.iter().find(|s| s.name == type_name)
    }

    fn type_names(&self) -> Vec<&str> {
        self.0.iter().map(|s| s.name.as_str()).collect()
    }

    /// A type-specific check, as the conductor's router makes: `operator.delay` refuses more
    /// than an hour.
    fn check_step(&self, step: &Step, problems: &mut Vec<Problem>) {
        let ms = step.config.get("ms").and_then(Value::as_u64);
        if step.type_name == "operator.delay" && ms.is_some_and(|ms| ms > 3_600_000) {
            problems.push(Problem::at("config.ms", "at most an hour"));
        }
    }
}

fn catalog() -> Types {
    use FieldType as F;
    use PortType as P;
    let spec = |name: &str, kind| TypeSpec::new(name, kind, name, "A stand-in.");

    // A template over its own extra inputs, run inputs and upstream outputs.
    let mut template = spec("operator.template", StepKind::Operator);
    template.extra_inputs = Some(P::Any);
    template.outputs = vec![PortSpec::required("output", P::Text, "")];
    template.config = vec![ConfigField::required("template", F::Template, "The text")];

    // One required input of any type, passed on.
    let mut pass = spec("operator.pass", StepKind::Operator);
    pass.inputs = vec![PortSpec::required("input", P::Any, "")];
    pass.outputs = vec![PortSpec::required("output", P::Any, "")];

    // A fixed number input and a choice.
    let mut count = spec("operator.count", StepKind::Operator);
    count.inputs = vec![PortSpec::optional("n", P::Number, "")];
    count.outputs = vec![PortSpec::required("output", P::Number, "")];
    count.config = vec![ConfigField::optional(
        "mode",
        F::Choice {
            options: vec!["up".into(), "down".into()],
        },
        "",
    )];

    // A list input that collects.
    let mut merge = spec("operator.merge", StepKind::Operator);
    merge.inputs = vec![PortSpec::required("items", P::List, "")];
    merge.outputs = vec![PortSpec::required("output", P::List, "")];

    // A one-line path, and the capability to write files.
    let mut write = spec("operator.file.write", StepKind::Operator);
    write.inputs = vec![PortSpec::optional("content", P::Text, "")];
    write.config = vec![
        ConfigField::required("path", F::Template, "Where, under files/").single_line(),
        ConfigField::optional("overwrite", F::Boolean, ""),
    ];
    write.capabilities = vec![Capability::Files];

    let mut delay = spec("operator.delay", StepKind::Operator);
    delay.inputs = vec![PortSpec::optional("input", P::Any, "")];
    delay.outputs = vec![PortSpec::required("output", P::Any, "")];
    delay.config = vec![ConfigField::required("ms", F::Integer, "How long")];

    // An instrument at config version 2, with capabilities.
    let mut chat = spec("instrument.chat", StepKind::Instrument);
    chat.config_version = 2;
    chat.extra_inputs = Some(P::Any);
    chat.outputs = vec![PortSpec::required("output", P::Text, "")];
    chat.config = vec![
        ConfigField::required("prompt", F::Template, "What to ask"),
        ConfigField::optional("model", F::String, "Who answers").single_line(),
        ConfigField::optional("temperature", F::Number, ""),
    ];
    chat.capabilities = vec![Capability::Network, Capability::Secrets];

    let mut offline = spec("instrument.offline", StepKind::Instrument);
    offline.extra_inputs = Some(P::Any);
    offline.outputs = vec![PortSpec::required("output", P::Text, "")];
    offline.config = vec![ConfigField::required("prompt", F::Template, "What to ask")];

    // A router: its output ports are the step's to declare.
    let mut router = spec("cue.router", StepKind::Cue);
    router.inputs = vec![PortSpec::required("input", P::Any, "")];
    router.extra_outputs = Some(P::Any);
    router.config = vec![ConfigField::required("routes", F::Routes, "Where to go")];

    // A map: a body step played per item, which may read `item` and `index`.
    let mut map = spec("cue.map", StepKind::Cue);
    map.inputs = vec![PortSpec::required("items", P::List, "")];
    map.outputs = vec![PortSpec::required("results", P::List, "")];
    map.config = vec![ConfigField::required(
        "body",
        F::Step {
            scope: vec!["item".into(), "index".into()],
        },
        "The step per item",
    )];

    // A list out of nothing: what a map is fed.
    let mut lines = spec("operator.lines", StepKind::Operator);
    lines.outputs = vec![PortSpec::required("output", P::List, "")];

    // A gate on a condition.
    let mut gate = spec("operator.gate", StepKind::Operator);
    gate.extra_inputs = Some(P::Text);
    gate.outputs = vec![PortSpec::required("output", P::Any, "")];
    gate.config = vec![ConfigField::required("when", F::Condition, "")];

    Types(vec![
        template, pass, count, merge, write, delay, chat, offline, router, map, lines, gate,
    ])
}

// ---- the cases --------------------------------------------------------------------------------

#[test]
fn a_valid_melody_has_no_problems() {
    let mut review = template("review", "Review {{plan.output}} for {{input.goal}}");
    review["inputs"] = json!({"waited": {"type": "any"}});
    check(
        json!({
            "inputs": {"goal": {"type": "string", "default": "ship it"}},
            "steps": [
                template("plan", "Plan {{goal}}"),
                step("wait", "operator.delay", json!({"ms": 10})),
                review
            ],
            "edges": [edge("plan.output", "wait.input"), edge("wait.output", "review.waited")]
        }),
        expect![],
    );
}

#[test]
fn the_melody_its_run_inputs_and_its_settings() {
    // Ids and names name folders and references: no spaces or dots.
    check(
        json!({"melody": {"id": "my melody", "name": "Mine"}, "steps": []}),
        expect!["melody.id: melody ids hold letters, digits, `_` and `-` (they name run folders and files)"],
    );
    check(
        json!({"inputs": {"the goal": {"type": "string"}}, "steps": []}),
        expect!["inputs.the goal: input names hold letters, digits, `_` and `-`"],
    );
    // A default must be of the input's type.
    check(
        json!({"inputs": {"n": {"type": "number", "default": "three"}}, "steps": []}),
        expect![[r#"inputs.n.default: expected a number, found the string "three""#]],
    );
    check(
        json!({
            "settings": {"maxParallel": 0, "defaultTimeoutMs": 0, "concurrency": {"probe": 0}},
            "steps": []
        }),
        expect![[r#"
            settings.maxParallel: must be at least 1
            settings.defaultTimeoutMs: must be at least 1
            settings.concurrency.probe: must be at least 1"#]],
    );
    // What a melody makes the host allocate: never zero, never over the hard ceiling.
    check(
        json!({"settings": {"limits": {"templateBytes": 0, "mapItems": 1_000_000_000}}, "steps": []}),
        expect![[r#"
            settings.limits.templateBytes: templateBytes must be at least 1
            settings.limits.mapItems: 1000000000 is over the ceiling of 1000000 items for a map's items; no melody may set more"#]],
    );
}

#[test]
fn step_type_version_pins() {
    // Made by a newer Symphony; made by an older one and not upgraded; this build's version;
    // a type this build does not know (its steps are reported, not its pin).
    check(
        json!({
            "stepTypes": {
                "instrument.chat": 3,
                "operator.template": 1,
                "instrument.offline": 0,
                "operator.gone": 4
            },
            "steps": []
        }),
        expect![[r#"
            stepTypes.instrument.chat: made for version 3 of `instrument.chat`; this Symphony has version 2: update Symphony to play it
            stepTypes.instrument.offline: made for version 0 of `instrument.offline`; this Symphony has version 1: it is upgraded when it is opened (`symphony fmt FILE` rewrites the file)"#]],
    );
}

#[test]
fn step_ids() {
    check(
        json!({"steps": [template("has.dot", "x"), template("input", "x")]}),
        expect![[r#"
            steps.has.dot.id: step ids hold letters, digits, `_` and `-` (no dots or spaces)
            steps.input.id: `input` is reserved for `input.<name>` references; choose another id"#]],
    );
    check(
        json!({"steps": [template("a", "x"), template("b", "x"), template("a", "y")]}),
        expect!["steps.a.id: duplicate step id `a`; ids must be unique"],
    );
}

#[test]
fn step_types_and_kinds() {
    // Close to a known type: the hint names it.
    check(
        json!({"steps": [step("a", "operator.templat", json!({"template": "x"}))]}),
        expect![
            "steps.a.type: unknown step type `operator.templat`; did you mean `operator.template`?"
        ],
    );
    // Far from every type, the hint still names the closest one.
    check(
        json!({"steps": [step("a", "operator.x", json!({}))]}),
        expect!["steps.a.type: unknown step type `operator.x`; did you mean `operator.gate`?"],
    );
    check(
        json!({"steps": [{"id": "a", "kind": "instrument", "type": "operator.template",
                          "config": {"template": "x"}}]}),
        expect![
            "steps.a.kind: `operator.template` is an operator type, but the step says `instrument`"
        ],
    );
}

#[test]
fn declared_ports() {
    let mut bad_name = template("a", "x");
    bad_name["inputs"] = json!({"the text": {"type": "text", "default": ""}});
    let mut retyped = step("b", "operator.count", json!({}));
    retyped["inputs"] = json!({"n": {"type": "text", "default": ""}});
    let mut extra_of_wrong_type = step(
        "c",
        "operator.gate",
        json!({"when": {"op": "notEmpty", "ref": "rows"}}),
    );
    extra_of_wrong_type["inputs"] = json!({"rows": {"type": "list", "default": []}});
    // Its required `input` is fed, so only the misspelt port is reported.
    let mut no_such_port = step("d", "operator.pass", json!({}));
    no_such_port["inputs"] = json!({"inpt": {"type": "any", "default": null}});
    let mut bad_default = template("e", "x");
    bad_default["inputs"] = json!({"n": {"type": "number", "default": "x"}});
    check(
        json!({
            "steps": [bad_name, retyped, extra_of_wrong_type, no_such_port, bad_default],
            "edges": [edge("a.output", "d.input")]
        }),
        expect![[r#"
            steps.a.inputs.the text: port names hold letters, digits, `_` and `-`
            steps.b.inputs.n.type: `operator.count` takes number, not text
            steps.c.inputs.rows.type: `operator.gate` takes extra inputs of type text
            steps.d.inputs.inpt: `operator.pass` has no input port `inpt`; did you mean `input`?
            steps.e.inputs.n.default: expected number, found the string "x""#]],
    );
}

#[test]
fn declared_outputs() {
    let mut fixed = step("p", "operator.count", json!({}));
    fixed["outputs"] = json!({"extra": {"type": "any"}});
    let mut bad_name = step(
        "r",
        "cue.router",
        json!({"routes": [{"when": {"op": "notEmpty", "ref": "a.output"}, "port": "a b"}]}),
    );
    bad_name["outputs"] = json!({"a b": {"type": "any"}});
    // A router's outputs are the step's: it must declare them.
    let undeclared = step(
        "s",
        "cue.router",
        json!({"routes": [{"when": {"op": "notEmpty", "ref": "a.output"}, "port": "go"}]}),
    );
    check(
        json!({
            "steps": [template("a", "x"), fixed, bad_name, undeclared],
            "edges": [edge("a.output", "r.input"), edge("a.output", "s.input")]
        }),
        expect![[r#"
            steps.p.outputs.extra: `operator.count` has no output port `extra`
            steps.r.outputs.a b: port names hold letters, digits, `_` and `-`
            steps.s.outputs: a `cue.router` step must declare its output ports
            steps.s.config.routes[0].port: no output port `go`; declare it under the step's outputs"#]],
    );
}

#[test]
fn capabilities_a_type_needs_are_declared() {
    check(
        json!({"steps": [
            step("save", "operator.file.write", json!({"path": "out.md"})),
            step("ask", "instrument.chat", json!({"prompt": "hi"}))
        ]}),
        expect![[r#"
            steps.save.capabilities: `operator.file.write` needs the `files` capability; add "files" to the step's capabilities so readers see what it may do
            steps.ask.capabilities: `instrument.chat` needs the `network` capability; add "network" to the step's capabilities so readers see what it may do
            steps.ask.capabilities: `instrument.chat` needs the `secrets` capability; add "secrets" to the step's capabilities so readers see what it may do"#]],
    );
}

#[test]
fn edges_name_real_steps_and_ports() {
    check(
        json!({
            "steps": [template("plan", "x"), template("review", "x")],
            "edges": [edge("plann.output", "review.plan"), edge("plan.outptu", "review.plan")]
        }),
        expect![[r#"
            edges[0].from: no step `plann`; did you mean `plan`?
            edges[0].to: step `review` has no input port `plan` (it has: none)
            edges[1].from: step `plan` has no output port `outptu`; did you mean `output`? (it has: output)
            edges[1].to: step `review` has no input port `plan` (it has: none)"#]],
    );
    // A step with no input port of that name, and a type without extra inputs.
    check(
        json!({
            "steps": [template("a", "x"), step("b", "operator.pass", json!({}))],
            "edges": [edge("a.output", "b.input"), edge("a.output", "b.inptu")]
        }),
        expect!["edges[1].to: step `b` has no input port `inptu`; did you mean `input`? (it has: input)"],
    );
}

#[test]
fn edges_carry_what_the_port_takes() {
    // A list into a number port.
    check(
        json!({
            "steps": [
                step("rows", "operator.lines", json!({})),
                step("n", "operator.count", json!({}))
            ],
            "edges": [edge("rows.output", "n.n")]
        }),
        expect!["edges[0]: rows.output is list but n.n takes number"],
    );
    // One text edge into a list port: a list port fed by one edge takes it as the list.
    check(
        json!({
            "steps": [template("a", "x"), step("all", "operator.merge", json!({}))],
            "edges": [edge("a.output", "all.items")]
        }),
        expect!["edges[0]: a.output is text but all.items takes a list; connect a list, or several edges to collect their values"],
    );
    // Two edges into a list port collect; into any other port, they are refused.
    check(
        json!({
            "steps": [
                template("a", "x"),
                template("b", "y"),
                step("all", "operator.merge", json!({})),
                step("one", "operator.pass", json!({}))
            ],
            "edges": [
                edge("a.output", "all.items"),
                edge("b.output", "all.items"),
                edge("a.output", "one.input"),
                edge("b.output", "one.input")
            ]
        }),
        expect![
            "edges[3].to: one.input already has an incoming edge; only list ports collect several"
        ],
    );
}

#[test]
fn required_inputs_are_fed_and_nothing_loops() {
    check(
        json!({"steps": [step("lonely", "operator.pass", json!({}))]}),
        expect!["steps.lonely.inputs.input: required input `input` has no incoming edge; connect one or give it a default"],
    );
    check(
        json!({
            "steps": [
                step("a", "operator.pass", json!({})),
                step("b", "operator.pass", json!({})),
                step("c", "operator.pass", json!({}))
            ],
            "edges": [edge("a.output", "b.input"), edge("b.output", "c.input"), edge("c.output", "a.input")]
        }),
        expect!["edges: cycle: a → b → c → a (a melody must not loop back on itself)"],
    );
}

#[test]
fn config_fields() {
    // An unknown key (with a hint), a missing required one, a value of the wrong type, a
    // choice that is not one of the options.
    check(
        json!({"steps": [
            step("a", "instrument.offline", json!({"promt": "hi"})),
            step("b", "operator.delay", json!({"ms": "ten"})),
            step("c", "operator.count", json!({"mode": "sideways"}))
        ]}),
        expect![[r#"
            steps.a.config.promt: `instrument.offline` has no setting `promt`; did you mean `prompt`?
            steps.a.config.prompt: missing required setting `prompt` (What to ask)
            steps.b.config.ms: expected a whole number, found the string "ten"
            steps.c.config.mode: expected one of "up", "down", found the string "sideways""#]],
    );
    // One-line fields hold no line break, tab or other control character.
    check(
        json!({"steps": [
            {"id": "save", "kind": "operator", "type": "operator.file.write",
             "config": {"path": "spec.md\n"}, "capabilities": ["files"]},
            {"id": "ask", "kind": "instrument", "type": "instrument.chat",
             "config": {"prompt": "hi\nthere", "model": "gpt\t4"}, "capabilities": ["network", "secrets"]}
        ]}),
        expect![[r#"
            steps.save.config.path: `path` is one line, but it holds a line break (U+000A): remove it
            steps.ask.config.model: `model` is one line, but it holds a tab (U+0009): remove it"#]],
    );
    // A check only the type knows (the catalog's own), reported at the step.
    check(
        json!({"steps": [step("wait", "operator.delay", json!({"ms": 4_000_000}))]}),
        expect!["steps.wait.config.ms: at most an hour"],
    );
}

#[test]
fn templates_and_what_they_refer_to() {
    // Syntax; a name nothing defines; a step that is not upstream; its own output; an output
    // port the step does not have.
    check(
        json!({
            "inputs": {"goal": {"type": "string", "default": "x"}},
            "steps": [
                template("a", "{{unclosed"),
                template("b", "{{nothing}}"),
                template("c", "{{d.output}}"),
                template("d", "{{d.output}}"),
                template("e", "{{a.outptu}}")
            ]
        }),
        expect![[r#"
            steps.a.config.template: `{{` at character 0 is never closed with `}}`
            steps.b.config.template: `nothing` refers to nothing: no input port, run input or step is called `nothing`
            steps.c.config.template: `d.output`: step `d` is not upstream of `c`; connect an edge from `d` (directly or through other steps) so its output exists when this step starts
            steps.d.config.template: `d.output`: a step cannot read its own output
            steps.e.config.template: `a.outptu`: step `a` has no output port `outptu`; did you mean `output`?"#]],
    );
    // An own input port has no fields when it is text; one named after a step hides it.
    let mut reader = template("reader", "{{note.length}} and {{plan.output}}");
    reader["inputs"] = json!({"note": {"type": "text", "default": ""}, "plan": {"type": "any"}});
    check(
        json!({
            "steps": [template("plan", "x"), reader],
            "edges": [edge("plan.output", "reader.plan")]
        }),
        expect![[r#"
            steps.reader.config.template: `note.length`: `note` is this step's own text input port, which has no fields
            steps.reader.config.template: `plan.output`: `plan` is this step's own input port (named after the step `plan`), so this reads a field `output` inside what that port received, not the step's output; the step `plan` has an output `output`. Write `{{plan}}` for the value the port received"#]],
    );
}

#[test]
fn conditions() {
    // Not a condition (no `ref`; no such `op`); a reference that does not parse; a name
    // nothing defines.
    check(
        json!({"steps": [
            step("g1", "operator.gate", json!({"when": {"op": "eq", "value": 1}})),
            step("g2", "operator.gate", json!({"when": {"op": "truthy", "ref": "x"}})),
            step("g3", "operator.gate", json!({"when": {"op": "notEmpty", "ref": "a..b"}})),
            step("g4", "operator.gate", json!({"when": {"op": "notEmpty", "ref": "nobody"}}))
        ]}),
        expect![[r#"
            steps.g1.config.when: missing field `ref`
            steps.g2.config.when: unknown variant `truthy`, expected one of `eq`, `ne`, `contains`, `gt`, `lt`, `empty`, `notEmpty`, `all`, `any`, `not`
            steps.g3.config.when.ref: `a..b` is not a reference (use names joined by dots, like `plan.output`)
            steps.g4.config.when.ref: `nobody` refers to nothing: no input port, run input or step is called `nobody`"#]],
    );
}

#[test]
fn routes() {
    let mut empty = step("r1", "cue.router", json!({"routes": []}));
    empty["outputs"] = json!({"yes": {"type": "any"}});
    let mut wrong_port = step(
        "r2",
        "cue.router",
        json!({"routes": [{"when": {"op": "notEmpty", "ref": "missing"}, "port": "yse"}]}),
    );
    wrong_port["outputs"] = json!({"yes": {"type": "any"}});
    check(
        json!({
            "steps": [template("a", "x"), empty, wrong_port],
            "edges": [edge("a.output", "r1.input"), edge("a.output", "r2.input")]
        }),
        expect![[r#"
            steps.r1.config.routes: a router needs at least one route
            steps.r2.config.routes[0].port: no output port `yse`; declare it under the step's outputs
            steps.r2.config.routes[0].when.ref: `missing` refers to nothing: no input port, run input or step is called `missing`"#]],
    );
}

#[test]
fn a_maps_body() {
    let map = |id: &str, body: Value| step(id, "cue.map", json!({"body": body}));
    check(
        json!({
            "steps": [
                step("list", "operator.lines", json!({})),
                // Its templates may read `item` and `index`, and nothing undefined.
                map("m1", json!({"type": "operator.template", "config": {"template": "{{item}} {{index}} {{other}}"}})),
                map("m2", json!({"type": "operator.tmplate", "config": {}})),
                map("m3", json!({"type": "cue.map", "config": {"body": {"type": "operator.template", "config": {"template": "x"}}}})),
                // The body's capabilities are the map step's to declare.
                map("m4", json!({"type": "operator.file.write", "config": {"path": "{{index}}.md"}})),
                map("m5", json!({"type": "operator.template", "config": {"template": "x"}, "policy": {"retry": {"max": 1, "factor": 0.5}}})),
                map("m6", json!("operator.template")),
                // `item` is the map's item even where a step is called `item` too.
                map("m7", json!({"type": "operator.template", "config": {"template": "{{item.output}}"}})),
                template("item", "x")
            ],
            "edges": [
                edge("list.output", "m1.items"),
                edge("list.output", "m2.items"),
                edge("list.output", "m3.items"),
                edge("list.output", "m4.items"),
                edge("list.output", "m5.items"),
                edge("list.output", "m6.items"),
                edge("list.output", "m7.items")
            ]
        }),
        expect![[r#"
            steps.m1.config.body.config.template: `other` refers to nothing: no input port, run input or step is called `other`
            steps.m2.config.body.type: unknown step type `operator.tmplate`; did you mean `operator.template`?
            steps.m3.config.body.type: a cue cannot be played inside another step
            steps.m4.config.body.type: `operator.file.write` needs the `files` capability; add "files" to the step's capabilities so readers see what it may do
            steps.m5.config.body.policy.retry.factor: must be a number of at least 1
            steps.m6.config.body: expected a step object with a type, found the string "operator.template""#]],
    );
}

#[test]
fn policies() {
    let with = |id: &str, policy: Value| {
        let mut s = step(id, "instrument.offline", json!({"prompt": "hi"}));
        s["policy"] = policy;
        s
    };
    check(
        json!({
            "inputs": {"mode": {"type": "string", "default": "full"}},
            "steps": [
                with("a", json!({"timeoutMs": 0})),
                with("b", json!({"retry": {"max": 101, "factor": 0.5}})),
                // Fallbacks: an unknown type, one of another kind, a config the type refuses
                // (merged over the step's), and one that needs capabilities the step lacks.
                with("c", json!({"fallbacks": [
                    {"type": "instrument.ofline"},
                    {"type": "operator.template", "config": {"template": "x"}},
                    {"config": {"temperature": 0.2}},
                    {"type": "instrument.chat"}
                ]})),
                with("d", json!({"skipIf": {"op": "eq", "ref": "mood", "value": "quick"}}))
            ]
        }),
        expect![[r#"
            steps.a.policy.timeoutMs: must be at least 1
            steps.b.policy.retry.factor: must be a number of at least 1
            steps.b.policy.retry.max: more than 100 retries is surely a mistake
            steps.c.policy.fallbacks[0].type: unknown step type `instrument.ofline`; did you mean `instrument.offline`?
            steps.c.policy.fallbacks[1].type: a fallback must be of the step's kind (instrument), `operator.template` is operator
            steps.c.policy.fallbacks[1].config.prompt: `operator.template` has no setting `prompt`
            steps.c.policy.fallbacks[2].config.temperature: `instrument.offline` has no setting `temperature`
            steps.c.policy.fallbacks[3].type: `instrument.chat` needs the `network` capability; add "network" to the step's capabilities so readers see what it may do
            steps.c.policy.fallbacks[3].type: `instrument.chat` needs the `secrets` capability; add "secrets" to the step's capabilities so readers see what it may do
            steps.d.policy.skipIf.ref: `mood` refers to nothing: no input port, run input or step is called `mood`"#]],
    );
}
