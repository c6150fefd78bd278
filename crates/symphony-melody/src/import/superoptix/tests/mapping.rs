//! How orchestra files become melodies: steps, edges, prompts, layout, round trips.

use super::*;

#[test]
fn software_dev_orchestra_with_fan_in_imports() {
    let m = imported("software_dev_orchestra.yaml");

    assert_eq!(m.format_version, FORMAT_VERSION);
    assert_eq!(
        m.melody,
        Metadata {
            id: "software_dev".into(),
            name: "Software Dev Orchestra".into(),
            description: "Plan, build, test and review a feature.".into(),
            version: "1.0.0".into(),
            author: String::new(),
            tags: vec!["superoptix".into(), "sdlc".into(), "team".into()],
        }
    );
    assert_eq!(
        m.settings,
        Settings {
            max_parallel: Some(2),
            default_timeout_ms: Some(300_000),
            concurrency: BTreeMap::new(),
            ..Settings::default()
        }
    );
    assert_eq!(
        m.inputs.keys().collect::<Vec<_>>(),
        vec![GOAL_INPUT],
        "one run input"
    );

    assert_eq!(
        ids(&m),
        vec![
            "gather_requirements",
            "implement_feature",
            "write_tests",
            "review_release"
        ]
    );
    for s in &m.steps {
        assert_eq!(s.kind, StepKind::Instrument);
        assert_eq!(s.type_name, STEP_TYPE);
        assert_eq!(s.name, s.id, "task names are already valid ids");
        assert!(s.outputs.is_empty() && s.capabilities.is_empty());
    }

    let gather = step(&m, "gather_requirements");
    assert_eq!(
        prompt(gather),
        "Apply product manager expertise to '{{goal}}'. Write the user stories and \
             acceptance criteria."
    );
    assert_eq!(gather.config["model"], "superoptix:product_manager");
    assert_eq!(gather.description, "Played by agent `product_manager`.");
    assert!(gather.inputs.is_empty());
    let retry = Retry {
        max: 2,
        backoff_ms: 1500,
        factor: 3.0,
        max_backoff_ms: 20_000,
        jitter: true,
    };
    assert_eq!(
        gather.policy,
        Policy {
            timeout_ms: Some(120_000),
            retry: Some(retry.clone()),
            priority: 10,
            ..Policy::default()
        }
    );

    let implement = step(&m, "implement_feature");
    assert_eq!(
        prompt(implement),
        "Apply developer expertise to '{{goal}}'. Implement the feature from the \
             requirements.\n\n## From gather_requirements\n{{gather_requirements}}"
    );
    assert_eq!(implement.config["model"], "superoptix:developer");
    assert_eq!(
        implement.inputs["gather_requirements"],
        PortDecl {
            ty: PortType::Text,
            default: None,
            description: "The output of task `gather_requirements`.".into(),
        }
    );
    assert_eq!(implement.policy.timeout_ms, Some(600_000));
    assert_eq!(implement.policy.priority, 5);
    assert_eq!(implement.policy.retry, Some(retry.clone()));

    // `retry_count: 0` turns the orchestra's retries off for this task; a task without a
    // priority gets SuperOptiX's default, medium, because other tasks name theirs.
    let tests = step(&m, "write_tests");
    assert_eq!(
        tests.policy,
        Policy {
            priority: 5,
            ..Policy::default()
        }
    );

    // The fan-in: two ports, two sections, the expected output in the description, and
    // `{release_name}` (no such run input) left as plain text.
    let review = step(&m, "review_release");
    assert_eq!(
        prompt(review),
        "Review the implementation and the tests for '{{goal}}' and decide whether \
             {release_name} can ship.\n\n## From implement_feature\n{{implement_feature}}\
             \n\n## From write_tests\n{{write_tests}}"
    );
    assert_eq!(
        review.inputs.keys().collect::<Vec<_>>(),
        vec!["implement_feature", "write_tests"]
    );
    assert_eq!(
        review.description,
        "Played by agent `tech_lead`.\n\nExpected output: A go/no-go decision with a list \
             of blocking issues."
    );
    assert_eq!(review.policy.timeout_ms, Some(900_000));
    assert_eq!(review.policy.priority, 1);
    assert_eq!(review.policy.retry, Some(retry));

    assert_eq!(
        edges(&m),
        vec![
            "gather_requirements.output -> implement_feature.gather_requirements",
            "gather_requirements.output -> write_tests.gather_requirements",
            "implement_feature.output -> review_release.implement_feature",
            "write_tests.output -> review_release.write_tests",
        ]
    );
    assert_eq!(position(&m, "gather_requirements"), (0.0, 0.0));
    assert_eq!(position(&m, "implement_feature"), (280.0, 0.0));
    assert_eq!(position(&m, "write_tests"), (280.0, 140.0));
    assert_eq!(position(&m, "review_release"), (560.0, 0.0));
}

#[test]
fn imports_round_trip_through_save_and_load_byte_for_byte() {
    for name in [
        "software_dev_orchestra.yaml",
        "sdlc_orchestra.yaml",
        "flat_orchestra.yaml",
    ] {
        let m = imported(name);
        let value = serde_json::to_value(&m).expect("a melody serializes");
        assert_eq!(
            crate::load_value(value).expect("the document loads"),
            m,
            "{name}"
        );

        let bytes = crate::to_bytes(&m);
        let loaded = crate::load(&bytes, "x.melody.json")
            .unwrap_or_else(|p| panic!("{name} saved does not load:\n{p}"));
        assert_eq!(loaded, m, "{name}");
        assert_eq!(crate::to_bytes(&loaded), bytes, "{name}");

        // Deterministic: importing again gives the same bytes.
        assert_eq!(crate::to_bytes(&imported(name)), bytes, "{name}");
    }
}

#[test]
fn generated_sdlc_orchestra_is_a_sequential_chain_with_named_retries() {
    let m = imported("sdlc_orchestra.yaml");
    assert_eq!(m.melody.id, "sdlc");
    assert_eq!(m.melody.name, "Sdlc Orchestra");
    assert_eq!(m.melody.tags, vec!["superoptix"]);
    assert_eq!(m.settings.max_parallel, Some(1), "sequential");
    assert_eq!(m.settings.default_timeout_ms, Some(300_000));
    assert_eq!(
        edges(&m),
        vec![
            "implement_feature.output -> configure_ci_pipeline.implement_feature",
            "configure_ci_pipeline.output -> create_test_plan.configure_ci_pipeline",
        ]
    );
    for s in &m.steps {
        assert_eq!(s.policy.priority, 5, "medium");
        assert_eq!(s.policy.timeout_ms, Some(600_000));
        // `exponential_backoff` names no count: the default count, the model's waits.
        assert_eq!(
            s.policy.retry,
            Some(Retry {
                max: DEFAULT_RETRIES,
                backoff_ms: 500,
                factor: 2.0,
                max_backoff_ms: 30_000,
                jitter: true,
            })
        );
    }
    assert_eq!(
        prompt(step(&m, "create_test_plan")),
        "Apply qa engineer expertise to '{{goal}}'. Create a high-level test plan including \
             test cases for the given feature\n\n## From configure_ci_pipeline\n\
             {{configure_ci_pipeline}}"
    );
    assert_eq!(position(&m, "create_test_plan"), (560.0, 0.0));
}

#[test]
fn hand_written_variants_are_tolerated() {
    let m = imported("flat_orchestra.yaml");
    // No `metadata`: the name comes from `orchestra`, the id is its slug.
    assert_eq!(m.melody.name, "Research Brief");
    assert_eq!(m.melody.id, "research-brief");
    // Top-level `execution`; parallel without a count leaves the conductor's default.
    assert_eq!(m.settings.max_parallel, None);
    assert_eq!(m.settings.default_timeout_ms, Some(90_500));

    // Slugs collide (`Research Topic`, `research-topic`) or are reserved (`goal` would
    // shadow the run input in templates, `input` is reserved by the validator).
    assert_eq!(
        ids(&m),
        vec!["research-topic", "research-topic-2", "goal-2", "input-2"]
    );
    let priorities: Vec<i32> = m.steps.iter().map(|s| s.policy.priority).collect();
    assert_eq!(priorities, vec![3, 10, 5, 5]);

    // `simple` is a fixed wait; `retry_count` overrides the count only.
    let simple = |max| Retry {
        max,
        backoff_ms: 500,
        factor: 1.0,
        max_backoff_ms: 30_000,
        jitter: true,
    };
    assert_eq!(step(&m, "research-topic").policy.retry, Some(simple(3)));
    assert_eq!(step(&m, "input-2").policy.retry, Some(simple(1)));

    // Other placeholders stay; a literal `{{` is escaped so it cannot open a hole.
    assert_eq!(
        prompt(step(&m, "research-topic")),
        "Research {{goal}} thoroughly; cite sources as {source}."
    );
    assert_eq!(
        prompt(step(&m, "research-topic-2")),
        "Double-check the facts in { {braces}}.\n\n## From Research Topic\n{{research-topic}}"
    );

    // `requires_completion` orders without feeding the prompt; `requires_output` (the
    // default of a bare name) reads like `context`.
    let goal = step(&m, "goal-2");
    assert_eq!(
        goal.inputs.keys().collect::<Vec<_>>(),
        vec!["research-topic", "research-topic-2"]
    );
    assert_eq!(
        prompt(goal),
        "Write the brief.\n\n## From Research Topic\n{{research-topic}}"
    );
    assert_eq!(
        edges(&m),
        vec![
            "research-topic.output -> research-topic-2.research-topic",
            "research-topic-2.output -> goal-2.research-topic-2",
            "research-topic.output -> goal-2.research-topic",
            "goal-2.output -> input-2.goal-2",
        ]
    );
    assert_eq!(position(&m, "goal-2"), (560.0, 0.0));
    assert_eq!(position(&m, "input-2"), (840.0, 0.0));
}

#[test]
fn goal_placeholder_becomes_the_run_input() {
    let m = import(MINIMAL.as_bytes(), "orchestras/research_orchestra.yaml")
        .expect("a minimal orchestra imports");
    assert_eq!(
        m.inputs[GOAL_INPUT],
        RunInput {
            ty: ValueType::String,
            description: "The orchestra's goal".into(),
            default: None,
        }
    );
    assert_eq!(prompt(&m.steps[0]), "Research {{goal}}.");
    // The template parses and its one hole names the run input.
    let t = crate::Template::parse(prompt(&m.steps[0])).expect("a valid template");
    let refs: Vec<String> = t.references().map(ToString::to_string).collect();
    assert_eq!(refs, vec!["goal"]);
    // Without any metadata the file name names the melody; without `execution`, SuperOptiX
    // runs sequentially.
    assert_eq!(m.melody.name, "research");
    assert_eq!(m.melody.id, "research");
    assert_eq!(m.settings.max_parallel, Some(1));
    assert_eq!(m.steps[0].policy, Policy::default());

    let no_goal = MINIMAL.replace("{goal}", "the topic");
    let m = import(no_goal.as_bytes(), "o.yaml").expect("imports");
    assert!(m.inputs.is_empty(), "no `{{goal}}`, no run input");
    assert_eq!(prompt(&m.steps[0]), "Research the topic.");
    // A step may now be called `goal`: nothing to shadow.
    let named_goal = no_goal.replace("name: research", "name: goal");
    let m = import(named_goal.as_bytes(), "o.yaml").expect("imports");
    assert_eq!(ids(&m), vec!["goal"]);
}

#[test]
fn literal_double_braces_never_open_a_hole() {
    assert_eq!(escape_holes("a {{b}} {{{c"), "a { {b}} { { {c");
    let inputs: BTreeMap<String, RunInput> = [(
        GOAL_INPUT.to_owned(),
        RunInput {
            ty: ValueType::String,
            description: String::new(),
            default: None,
        },
    )]
    .into();
    for text in [
        "{{goal}}",
        "{{{goal}",
        "x{goal}}y",
        "{ {goal} }",
        "{goal",
        "}{goal}{",
    ] {
        let out = fill_placeholders(&escape_holes(text), &inputs);
        let t = crate::Template::parse(&out)
            .unwrap_or_else(|e| panic!("{text:?} gave {out:?}, not a template: {e}"));
        for r in t.references() {
            assert_eq!(r.to_string(), "goal", "{text:?} gave {out:?}");
        }
    }
    assert_eq!(
        fill_placeholders(&escape_holes("{{goal}}"), &inputs),
        "{ {{goal}}}"
    );
}

#[test]
fn cycles_import_and_are_left_to_the_validator() {
    let yaml = "
tasks:
  - {name: a, agent: x, description: A., context: [c]}
  - {name: b, agent: x, description: B., context: [a, a]}
  - {name: c, agent: x, description: C., context: [b]}
  - {name: d, agent: x, description: D., context: [d]}
";
    let m = import(yaml.as_bytes(), "o.yaml").expect("cycles are the validator's business");
    assert_eq!(
        edges(&m),
        vec![
            "c.output -> a.c",
            "a.output -> b.a",
            "b.output -> c.b",
            "d.output -> d.d",
        ]
    );
    assert_eq!(
        crate::graph::MelodyGraph::build(&m).cycles().len(),
        2,
        "the validator sees both cycles"
    );
    for id in ["a", "b", "c", "d"] {
        let (x, y) = position(&m, id);
        assert!(x.is_finite() && y.is_finite());
    }
}

#[test]
fn long_chains_lay_out_without_recursion() {
    let mut yaml = String::from("tasks:\n");
    for i in 0..20_000 {
        yaml.push_str(&format!("  - {{name: t{i}, agent: x, description: Go."));
        if i > 0 {
            yaml.push_str(&format!(", context: [t{}]", i - 1));
        }
        yaml.push_str("}\n");
    }
    let m = import(yaml.as_bytes(), "o.yaml").expect("imports");
    assert_eq!(position(&m, "t19999"), (280.0 * 19_999.0, 0.0));
}

/// A stand-in for the conductor's `instrument.offline` (which this crate cannot depend on),
/// with the parts of its spec the importer relies on, as in `symphony-conductor`'s
/// `steps/offline.rs`: a required `prompt` template, an optional `model` string, extra
/// inputs of any type and one `output` port.
struct StandIn(crate::TypeSpec);

impl crate::Catalog for StandIn {
    fn spec(&self, type_name: &str) -> Option<&crate::TypeSpec> {
        (type_name == self.0.name).then_some(&self.0)
    }
    fn type_names(&self) -> Vec<&str> {
        vec![self.0.name.as_str()]
    }
}

fn stand_in() -> StandIn {
    use crate::catalog::{ConfigField, FieldType, PortSpec};
    StandIn(crate::TypeSpec {
        name: STEP_TYPE.into(),
        kind: StepKind::Instrument,
        version: 1,
        config_version: 1,
        title: "Offline instrument".into(),
        summary: "Answers a prompt without calling a model.".into(),
        inputs: vec![],
        extra_inputs: Some(PortType::Any),
        outputs: vec![PortSpec::required("output", PortType::Any, "The answer.")],
        extra_outputs: None,
        config: vec![
            ConfigField::required("prompt", FieldType::Template, "What to ask."),
            ConfigField::optional("model", FieldType::String, "Who answers."),
        ],
        capabilities: vec![],
        offline: true,
        estimate_ms: 1,
        cacheable: true,
    })
}

#[test]
fn imports_validate_against_a_stand_in_offline_instrument() {
    let catalog = stand_in();
    for name in [
        "software_dev_orchestra.yaml",
        "sdlc_orchestra.yaml",
        "flat_orchestra.yaml",
    ] {
        let problems = crate::validate(&imported(name), &catalog);
        assert!(problems.is_empty(), "{name}: {problems:#?}");
    }
    // A cycle in `context` imports, and the validator is the one to refuse it.
    let cyclic = "
tasks:
  - {name: a, agent: x, description: A., context: [b]}
  - {name: b, agent: x, description: B., context: [a]}
";
    let m = import(cyclic.as_bytes(), "o.yaml").expect("imports");
    let problems = crate::validate(&m, &catalog);
    assert!(
        problems.iter().any(|p| p.message.starts_with("cycle: ")),
        "{problems:#?}"
    );
}

#[test]
fn slugs_and_source_names() {
    assert_eq!(slug("Code Review", "task"), "code-review");
    assert_eq!(slug("  QA: Test Plan!! ", "task"), "qa-test-plan");
    assert_eq!(slug("implement_feature", "task"), "implement_feature");
    assert_eq!(slug("Résumé", "task"), "r-sum");
    assert_eq!(slug("???", "task"), "task");
    assert_eq!(slug(&"x".repeat(300), "task").len(), MAX_ID_LEN);
    assert_eq!(name_from_source("a/b/sdlc_orchestra.yaml"), "sdlc");
    assert_eq!(name_from_source("C:\\o\\team.yml"), "team");
    assert_eq!(name_from_source(""), "SuperOptiX orchestra");
}
