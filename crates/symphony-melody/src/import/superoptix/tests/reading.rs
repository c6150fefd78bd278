//! How an orchestra's settings, retries and priorities are read, and every problem reported.

use super::*;

#[test]
fn malformed_yaml_reports_line_and_column() {
    let p = match import(&fixture("malformed_orchestra.yaml"), "malformed.yaml") {
        Ok(m) => panic!("imported {m:?}"),
        Err(p) => p.to_string(),
    };
    assert!(
        p.starts_with("malformed.yaml: invalid YAML at line 9 column 9: did not find expected"),
        "{p}"
    );
    assert!(p.contains("flow sequence at line 8 column 14"), "{p}");

    let p = problems("tasks: [\"unclosed\n");
    assert!(p[0].starts_with("o.yaml: invalid YAML at line "), "{p:?}");
}

#[test]
fn every_problem_is_reported_with_its_field_path() {
    let p = match import(&fixture("broken_orchestra.yaml"), "broken.yaml") {
        Ok(m) => panic!("imported {m:?}"),
        Err(p) => p.iter().map(ToString::to_string).collect::<Vec<_>>(),
    };
    assert_eq!(
        p,
        vec![
            "broken.yaml: tasks[0].priority: expected a priority, found the string \"urgent\"; \
                 use critical, high, medium, low or a whole number (higher runs first)",
            "broken.yaml: tasks[0].timeout_seconds: expected a positive number of seconds, \
                 found the number `-5`",
            "broken.yaml: tasks[1].name: missing; every task needs a name (other tasks refer \
                 to it in `context`)",
            "broken.yaml: tasks[2].description: missing; the description is what the agent is \
                 asked to do (it may mention {goal})",
            "broken.yaml: tasks[3]: expected a task (a mapping with name, agent and \
                 description), found the string \"just a string\"",
            "broken.yaml: tasks[2].agent: agent \"writr\" is not listed under `agents`; did \
                 you mean `writer`?",
            "broken.yaml: tasks[2].context[0]: no task named \"reserch\"; did you mean \
                 `research`?",
        ]
    );
}

#[test]
fn unknown_context_task_is_named_with_a_suggestion_or_the_choices() {
    let yaml = "
tasks:
  - {name: research, agent: a, description: Research.}
  - {name: write, agent: a, description: Write., context: [research]}
  - {name: edit, agent: a, description: Edit., context: [write, reserch, zzz]}
";
    assert_eq!(
        problems(yaml),
        vec![
            "o.yaml: tasks[2].context[1]: no task named \"reserch\"; did you mean `research`?",
            "o.yaml: tasks[2].context[2]: no task named \"zzz\"; name one of this \
                 orchestra's tasks (research, write, edit)",
        ]
    );
}

#[test]
fn missing_or_misshapen_sections_are_reported() {
    assert_eq!(
        problems("metadata: {name: x}\n"),
        vec![
            "o.yaml: tasks: missing; an orchestra lists its work under `tasks`, each with a \
                 name, an agent and a description"
        ]
    );
    assert_eq!(
        problems("tasks: {name: research}\n"),
        vec!["o.yaml: tasks: expected a list of tasks (each `- name: ...`), found an object"]
    );
    assert_eq!(
        problems("orchestra:\n  tasks: []\n"),
        vec!["o.yaml: orchestra.tasks: the list is empty; add at least one task to import"]
    );
    assert_eq!(
        problems(""),
        vec![
            "o.yaml: expected a SuperOptiX orchestra (a YAML mapping with `metadata`, \
                 `orchestra`, `agents` and `tasks`), found an empty document"
        ]
    );
    assert_eq!(
        problems("- a\n- b\n"),
        vec![
            "o.yaml: expected a SuperOptiX orchestra (a YAML mapping with `metadata`, \
                 `orchestra`, `agents` and `tasks`), found a list"
        ]
    );
    let p = problems(
        "metadata: [x]\nagents: developer\ntasks:\n  - {name: a, agent: [x], description: ''}\n",
    );
    assert_eq!(
        p,
        vec![
            "o.yaml: metadata: expected a mapping of fields, found a list",
            "o.yaml: agents: expected a list of agent names, found the string \"developer\"",
            "o.yaml: tasks[0].agent: expected text, found a list; name the agent that plays \
                 this task (one listed under `agents`)",
            "o.yaml: tasks[0].description: is empty; the description is what the agent is \
                 asked to do (it may mention {goal})",
        ]
    );
}

#[test]
fn duplicate_task_names_are_refused() {
    let yaml = "
tasks:
  - {name: research, agent: a, description: One.}
  - {name: research, agent: a, description: Two.}
";
    assert_eq!(
        problems(yaml),
        vec![
            "o.yaml: tasks[1].name: \"research\" is already the name of tasks[0]; task names \
                 must be unique because `context` refers to tasks by name"
        ]
    );
}

#[test]
fn undeclared_agents_are_reported() {
    let yaml = "
agents: [researcher, writer]
tasks:
  - {name: a, agent: researcher, description: A.}
  - {name: b, agent: editor, description: B.}
";
    assert_eq!(
        problems(yaml),
        vec![
            "o.yaml: tasks[1].agent: agent \"editor\" is not listed under `agents`; add it \
                 there or correct the name (agents: researcher, writer)"
        ]
    );
    // Without an `agents` list, any agent name is taken as it is.
    let m = import(
        yaml.replace("agents: [researcher, writer]", "").as_bytes(),
        "o.yaml",
    )
    .expect("imports");
    assert_eq!(m.steps[1].config["model"], "superoptix:editor");
    assert_eq!(listing((0..20).map(|_| "t")).matches('t').count(), 12);
    assert!(listing((0..20).map(|_| "t")).ends_with(", ..."));
}

#[test]
fn execution_settings_and_their_problems() {
    let with = |execution: &str| {
        format!(
            "orchestra:\n  execution:\n{execution}\n{}",
            MINIMAL.trim_start()
        )
    };
    let settings = |execution: &str| {
        import(with(execution).as_bytes(), "o.yaml")
            .unwrap_or_else(|p| panic!("{execution}: {p}"))
            .settings
    };
    assert_eq!(
        settings("    strategy: Sequential\n    max_parallel_tasks: 4").max_parallel,
        Some(1)
    );
    assert_eq!(
        settings("    strategy: hierarchical\n    max_parallel_tasks: 4").max_parallel,
        Some(4)
    );
    assert_eq!(settings("    max_parallel_tasks: 3").max_parallel, Some(3));
    assert_eq!(settings("    enable_trace: true").max_parallel, Some(1));
    assert_eq!(
        settings("    task_timeout_seconds: \"45\"").default_timeout_ms,
        Some(45_000)
    );

    let p = problems(&with(
        "    strategy: paralel\n    max_parallel_tasks: 0\n    task_timeout_seconds: soon",
    ));
    assert_eq!(
        p,
        vec![
            "o.yaml: orchestra.execution.max_parallel_tasks: must be at least 1",
            "o.yaml: orchestra.execution.strategy: unknown execution strategy \"paralel\"; \
                 did you mean `parallel`?",
            "o.yaml: orchestra.execution.task_timeout_seconds: expected a positive number of \
                 seconds, found the string \"soon\"",
        ]
    );
}

#[test]
fn retry_strategy_variants() {
    let retry = |strategy: &str| {
        let yaml = format!(
            "execution:\n  retry_strategy: {strategy}\n{}",
            MINIMAL.trim_start()
        );
        import(yaml.as_bytes(), "o.yaml")
            .unwrap_or_else(|p| panic!("{strategy}: {p}"))
            .steps[0]
            .policy
            .retry
            .clone()
    };
    let r = |max, backoff_ms, factor, max_backoff_ms, jitter| {
        Some(Retry {
            max,
            backoff_ms,
            factor,
            max_backoff_ms,
            jitter,
        })
    };
    assert_eq!(retry("exponential_backoff"), r(3, 500, 2.0, 30_000, true));
    assert_eq!(retry("Fixed"), r(3, 500, 1.0, 30_000, true));
    assert_eq!(retry("none"), None);
    assert_eq!(retry("false"), None);
    assert_eq!(retry("2"), r(2, 500, 2.0, 30_000, true));
    assert_eq!(
        retry("{max_attempts: 4, initial_delay: 2, multiplier: 1.5, max_delay: 10, jitter: false}"),
        r(3, 2000, 1.5, 10_000, false)
    );
    assert_eq!(
        retry("{type: fixed, retries: 1, backoff_ms: 250}"),
        r(1, 250, 1.0, 30_000, true)
    );
    assert_eq!(retry("{max_retries: 0}"), None);
    assert_eq!(retry("{type: none, max_retries: 5}"), None);

    let yaml = format!(
            "execution:\n  retry_strategy: {{strategy: exponental, max_retries: -1, backoff_factor: 0.5}}\n{}",
            MINIMAL.trim_start()
        );
    assert_eq!(
        problems(&yaml),
        vec![
            "o.yaml: execution.retry_strategy.strategy: unknown retry strategy \
                 \"exponental\"; did you mean `exponential`?",
            "o.yaml: execution.retry_strategy.max_retries: expected a whole number, 0 or \
                 more, found the number `-1`",
            "o.yaml: execution.retry_strategy.backoff_factor: expected a growth factor of at \
                 least 1 (1 keeps the wait fixed), found the number `0.5`",
        ]
    );
}

#[test]
fn priorities_words_numbers_and_defaults() {
    let yaml = "
tasks:
  - {name: a, agent: x, description: A., priority: critical}
  - {name: b, agent: x, description: B., priority: High}
  - {name: c, agent: x, description: C., priority: 7}
  - {name: d, agent: x, description: D., priority: \"-2\"}
  - {name: e, agent: x, description: E.}
  - {name: f, agent: x, description: F., priority: low}
";
    let m = import(yaml.as_bytes(), "o.yaml").expect("imports");
    let priorities: Vec<i32> = m.steps.iter().map(|s| s.policy.priority).collect();
    assert_eq!(priorities, vec![20, 10, 7, -2, 5, 1]);

    // No task names a priority: all stay at 0 and none is written.
    let m = import(MINIMAL.as_bytes(), "o.yaml").expect("imports");
    assert_eq!(m.steps[0].policy.priority, 0);

    let p = problems(
        "tasks:\n  - {name: a, agent: x, description: A., priority: hihg}\n  - {name: b, \
             agent: x, description: B., priority: 1.5}\n",
    );
    assert_eq!(
        p,
        vec![
            "o.yaml: tasks[0].priority: expected a priority, found the string \"hihg\"; did \
                 you mean `high`?",
            "o.yaml: tasks[1].priority: expected a priority, found the number `1.5`; use \
                 critical, high, medium, low or a whole number (higher runs first)",
        ]
    );
}

#[test]
fn dependencies_long_form_problems() {
    let yaml = "
tasks:
  - {name: a, agent: x, description: A.}
  - name: b
    agent: x
    description: B.
    dependencies:
      - {task_name: a, dependency_type: requires_complete}
      - {task_name: a, dependency_type: blocks}
      - {dependency_type: requires_output}
";
    assert_eq!(
        problems(yaml),
        vec![
            "o.yaml: tasks[1].dependencies[0].dependency_type: dependency type \
                 \"requires_complete\" has no melody equivalent; did you mean \
                 `requires_completion`?",
            "o.yaml: tasks[1].dependencies[1].dependency_type: dependency type \"blocks\" has \
                 no melody equivalent; use requires_output or requires_completion",
            "o.yaml: tasks[1].dependencies[2]: expected the name of another task, found an \
                 object",
        ]
    );
}
