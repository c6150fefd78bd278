//! The conductor's behaviours, each tested at its public API with deterministic time
//! (`tokio::time::pause` via `start_paused`): parallelism and limits, priority, timeouts,
//! retries with backoff and retry-after, fallbacks, optional steps, skips and defaults,
//! cancellation, pause and resume, templates, router, map, and the event stream.

#![allow(clippy::unwrap_used)] // Tests unwrap: a panic is the failure report.

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;
use std::time::Duration;

use serde_json::{json, Value};
use symphony_conductor::testing::{self, edge, melody, outcome, step};
use symphony_conductor::{
    BoxFuture, Conductor, ErrorKind, EventRecord, Outputs, Played, Registry, RunEvent, RunOptions,
    RunReport, RunStatus, StepContext, StepError, StepOutcome, StepType,
};
use symphony_melody::{PortSpec, PortType, TypeSpec};
use tokio::time::Instant;

/// `instrument.flaky`: fails its first `config.fail` attempts (retryable, with an optional
/// retry-after), then answers "ok".
struct Flaky;

impl StepType for Flaky {
    fn spec(&self) -> TypeSpec {
        let mut s = Registry::standard()
            .get("instrument.offline")
            .unwrap()
            .spec
            .as_ref()
            .clone();
        s.name = "instrument.flaky".into();
        s.offline = false;
        s.config = vec![
            symphony_melody::ConfigField::optional("fail", symphony_melody::FieldType::Integer, ""),
            symphony_melody::ConfigField::optional(
                "retryAfterMs",
                symphony_melody::FieldType::Integer,
                "",
            ),
            symphony_melody::ConfigField::optional(
                "fatal",
                symphony_melody::FieldType::Boolean,
                "",
            ),
        ];
        s
    }

    fn play<'a>(&'a self, cx: &'a StepContext) -> BoxFuture<'a, Result<Played, StepError>> {
        Box::pin(async move {
            if u64::from(cx.attempt) <= cx.config_u64("fail").unwrap_or(0) {
                if cx.config.get("fatal") == Some(&json!(true)) {
                    return Err(StepError::fatal(ErrorKind::Instrument, "bad key"));
                }
                let mut e = StepError::retryable(ErrorKind::RateLimited, "429 too many requests");
                if let Some(ms) = cx.config_u64("retryAfterMs") {
                    e = e.with_retry_after(Duration::from_millis(ms));
                }
                return Err(e);
            }
            Ok(Played::Done(Outputs::single(json!("ok")).into()))
        })
    }
}

/// `operator.probe`: counts how many probes run at once, then waits `config.ms`.
struct Probe {
    now: Arc<AtomicU32>,
    max: Arc<AtomicU32>,
}

impl StepType for Probe {
    fn spec(&self) -> TypeSpec {
        let mut s = Registry::standard()
            .get("operator.delay")
            .unwrap()
            .spec
            .as_ref()
            .clone();
        s.name = "operator.probe".into();
        s.inputs = vec![PortSpec::optional("input", PortType::Any, "")];
        s
    }

    fn concurrency_key(&self, _config: &serde_json::Map<String, Value>) -> Option<String> {
        Some("probe".into())
    }

    fn play<'a>(&'a self, cx: &'a StepContext) -> BoxFuture<'a, Result<Played, StepError>> {
        Box::pin(async move {
            let n = self.now.fetch_add(1, Ordering::SeqCst) + 1;
            self.max.fetch_max(n, Ordering::SeqCst);
            tokio::time::sleep(Duration::from_millis(cx.config_u64("ms").unwrap_or(10))).await;
            self.now.fetch_sub(1, Ordering::SeqCst);
            Ok(Played::Done(
                Outputs::single(json!(cx.step.to_string())).into(),
            ))
        })
    }
}

struct Harness {
    conductor: Conductor,
    max: Arc<AtomicU32>,
}

fn harness() -> Harness {
    let mut registry = Registry::standard();
    let max = Arc::new(AtomicU32::new(0));
    registry.register(Arc::new(Flaky)).unwrap();
    registry
        .register(Arc::new(Probe {
            now: Arc::new(AtomicU32::new(0)),
            max: max.clone(),
        }))
        .unwrap();
    Harness {
        conductor: Conductor::new(registry),
        max,
    }
}

/// Plays a melody to its end, collecting every event.
async fn play(h: &Harness, m: symphony_melody::Melody) -> (RunReport, Vec<EventRecord>) {
    testing::play(&h.conductor, m, RunOptions::default()).await
}

async fn play_with(
    h: &Harness,
    m: symphony_melody::Melody,
    options: RunOptions,
    steer: impl FnOnce(symphony_conductor::RunControl),
) -> (RunReport, Vec<EventRecord>) {
    testing::play_steered(&h.conductor, m, options, steer).await
}

fn started_at(events: &[EventRecord], id: &str) -> Vec<u64> {
    events
        .iter()
        .filter_map(|e| match &e.event {
            RunEvent::StepStarted { step, .. } if &**step == id => Some(e.at_ms),
            _ => None,
        })
        .collect()
}

fn delay(id: &str, ms: u64) -> Value {
    step(id, "operator.delay", json!({"ms": ms}))
}

#[tokio::test(start_paused = true)]
async fn independent_steps_run_in_parallel_and_dependents_wait() {
    let h = harness();
    let m = melody(json!({
        "steps": [delay("a", 100), delay("b", 100), delay("c", 50)],
        "edges": [edge("a.output", "c.input"), edge("b.output", "c.input")]
    }));
    // c has one input port fed by two edges: refused, since only list ports collect.
    let problems = symphony_melody::validate(&m, h.conductor.registry());
    assert!(
        problems[0].message.contains("only list ports collect"),
        "{problems:?}"
    );

    let m = melody(json!({
        "steps": [
            delay("a", 100),
            delay("b", 100),
            step("c", "operator.merge", json!({"mode": "list"}))
        ],
        "edges": [edge("a.output", "c.items"), edge("b.output", "c.items")]
    }));
    let (report, events) = play(&h, m).await;
    assert_eq!(report.status, RunStatus::Succeeded);
    assert_eq!(started_at(&events, "a"), vec![0]);
    assert_eq!(started_at(&events, "b"), vec![0]);
    assert_eq!(started_at(&events, "c"), vec![100]);
    assert_eq!(report.totals.elapsed_ms, 100);
}

#[tokio::test(start_paused = true)]
async fn max_parallel_bounds_the_steps_working_at_once() {
    let h = harness();
    let steps: Vec<Value> = (0..10)
        .map(|i| step(&format!("p{i}"), "operator.probe", json!({"ms": 10})))
        .collect();
    let m = melody(json!({"steps": steps, "settings": {"maxParallel": 3}}));
    let (report, _) = play(&h, m).await;
    assert_eq!(report.status, RunStatus::Succeeded);
    assert_eq!(h.max.load(Ordering::SeqCst), 3);
    // 10 steps of 10 ms, 3 at a time: 4 rounds.
    assert_eq!(report.totals.elapsed_ms, 40);
}

#[tokio::test(start_paused = true)]
async fn per_instrument_limit_bounds_its_steps_and_warns_when_they_wait() {
    let h = harness();
    let mut steps: Vec<Value> = (0..6)
        .map(|i| step(&format!("p{i}"), "operator.probe", json!({"ms": 1000})))
        .collect();
    steps.push(delay("other", 10));
    let m = melody(json!({
        "steps": steps,
        "settings": {"maxParallel": 10, "concurrency": {"probe": 2}}
    }));
    let (report, events) = play(&h, m).await;
    assert_eq!(h.max.load(Ordering::SeqCst), 2);
    assert_eq!(report.totals.elapsed_ms, 3000);
    // The step of another instrument did not wait behind the limited ones.
    assert_eq!(started_at(&events, "other"), vec![0]);
    let warned: Vec<&str> = events
        .iter()
        .filter_map(|e| match &e.event {
            RunEvent::Bottleneck {
                step,
                kind: symphony_conductor::BottleneckKind::WaitingForSlot,
                message,
                ..
            } => {
                assert!(message.contains("`probe` limit of 2"), "{message}");
                Some(&**step)
            }
            _ => None,
        })
        .collect();
    assert_eq!(
        warned,
        vec!["p2"],
        "one warning per limiter, on the first step that waited"
    );
}

#[tokio::test(start_paused = true)]
async fn higher_priority_starts_first() {
    let h = harness();
    let mut low = delay("low", 10);
    low["policy"] = json!({"priority": -1});
    let mut high = delay("high", 10);
    high["policy"] = json!({"priority": 5});
    let m = melody(json!({"steps": [low, delay("mid", 10), high], "settings": {"maxParallel": 1}}));
    let (_, events) = play(&h, m).await;
    assert_eq!(started_at(&events, "high"), vec![0]);
    assert_eq!(started_at(&events, "mid"), vec![10]);
    assert_eq!(started_at(&events, "low"), vec![20]);
}

#[tokio::test(start_paused = true)]
async fn a_step_over_its_timeout_fails_and_keeps_what_finished() {
    let h = harness();
    let mut slow = delay("slow", 5_000);
    slow["policy"] = json!({"timeoutMs": 100});
    let m = melody(json!({
        "steps": [delay("quick", 10), slow, delay("after", 10)],
        "edges": [edge("slow.output", "after.input")]
    }));
    let (report, events) = play(&h, m).await;
    assert_eq!(report.status, RunStatus::Failed);
    assert_eq!(outcome(&report, "quick"), StepOutcome::Succeeded);
    assert_eq!(outcome(&report, "slow"), StepOutcome::Failed);
    assert_eq!(outcome(&report, "after"), StepOutcome::Skipped);
    assert!(report.steps[1]
        .note
        .as_deref()
        .unwrap()
        .contains("timed out after 100ms"));
    assert!(events.iter().any(|e| matches!(&e.event,
        RunEvent::StepSkipped { step, reason } if &**step == "after" && reason.contains("`slow` failed"))));
    assert_eq!(report.totals.elapsed_ms, 100);
}

#[tokio::test(start_paused = true)]
async fn retries_back_off_exponentially_and_honour_retry_after() {
    let h = harness();
    let mut flaky = step("f", "instrument.flaky", json!({"fail": 3}));
    flaky["policy"] =
        json!({"retry": {"max": 3, "backoffMs": 100, "factor": 2.0, "jitter": false}});
    let mut hinted = step(
        "g",
        "instrument.flaky",
        json!({"fail": 1, "retryAfterMs": 5000}),
    );
    hinted["policy"] = json!({"retry": {"max": 1, "backoffMs": 100, "jitter": false}});
    let m = melody(json!({"steps": [flaky, hinted]}));
    let (report, events) = play(&h, m).await;
    assert_eq!(report.status, RunStatus::Succeeded);
    let delays = |id: &str| -> Vec<u64> {
        events
            .iter()
            .filter_map(|e| match &e.event {
                RunEvent::StepRetrying { step, delay_ms, .. } if &**step == id => Some(*delay_ms),
                _ => None,
            })
            .collect()
    };
    assert_eq!(delays("f"), vec![100, 200, 400]);
    assert_eq!(started_at(&events, "f"), vec![0, 100, 300, 700]);
    assert_eq!(delays("g"), vec![5000]);
    assert_eq!(report.steps[0].attempts, 4);
    // The second retry in a row raises a bottleneck warning.
    assert!(events.iter().any(|e| matches!(&e.event,
        RunEvent::Bottleneck { step, kind: symphony_conductor::BottleneckKind::RepeatedRetries, .. } if &**step == "f")));
}

#[tokio::test(start_paused = true)]
async fn jittered_backoff_stays_within_bounds_and_replays_with_the_same_seed() {
    let h = harness();
    let mk = || {
        let mut flaky = step("f", "instrument.flaky", json!({"fail": 4}));
        flaky["policy"] = json!({"retry": {"max": 4, "backoffMs": 1000, "factor": 2.0}});
        melody(json!({"steps": [flaky]}))
    };
    let delays = |events: &[EventRecord]| -> Vec<u64> {
        events
            .iter()
            .filter_map(|e| match &e.event {
                RunEvent::StepRetrying { delay_ms, .. } => Some(*delay_ms),
                _ => None,
            })
            .collect()
    };
    let opts = RunOptions {
        seed: 7,
        ..RunOptions::default()
    };
    let (_, a) = play_with(&h, mk(), opts.clone(), |_| {}).await;
    let (_, b) = play_with(&h, mk(), opts, |_| {}).await;
    assert_eq!(delays(&a), delays(&b));
    for (i, d) in delays(&a).into_iter().enumerate() {
        let full = 1000 * 2u64.pow(i as u32);
        assert!(d >= full / 2 && d <= full, "retry {i}: {d}");
    }
}

#[tokio::test(start_paused = true)]
async fn a_fatal_error_is_not_retried_and_the_fallback_takes_over() {
    let h = harness();
    let mut s = step("s", "instrument.flaky", json!({"fail": 99, "fatal": true}));
    s["policy"] = json!({
        "retry": {"max": 3, "backoffMs": 10},
        "fallbacks": [{"type": "instrument.offline", "config": {"prompt": "fallback for {{goal}}"}}]
    });
    // The fallback's config is merged over the step's; offline has no `fail`/`fatal` fields.
    let m = melody(json!({
        "inputs": {"goal": {"type": "string", "default": "ship it"}},
        "steps": [s]
    }));
    let problems = symphony_melody::validate(&m, h.conductor.registry());
    assert!(
        problems
            .iter()
            .any(|p| p.path == "steps.s.policy.fallbacks[0].config.fail"),
        "{problems:?}"
    );

    let mut s = step("s", "instrument.flaky", json!({"fail": 99, "fatal": true}));
    s["policy"] =
        json!({"retry": {"max": 3, "backoffMs": 10}, "fallbacks": [{"config": {"fail": 0}}]});
    let (report, events) = play(
        &h,
        melody(json!({
            "inputs": {"goal": {"type": "string", "default": "ship it"}},
            "steps": [s]
        })),
    )
    .await;
    assert_eq!(report.status, RunStatus::Succeeded);
    assert_eq!(
        report.steps[0].attempts, 2,
        "one failed attempt (not retried), one fallback"
    );
    assert!(events.iter().any(|e| matches!(&e.event,
        RunEvent::StepFellBack { fallback: 0, error, .. } if error == "bad key")));
}

#[tokio::test(start_paused = true)]
async fn an_optional_failure_does_not_fail_the_run_and_defaults_fill_in() {
    let h = harness();
    let mut opt = step("opt", "instrument.flaky", json!({"fail": 9, "fatal": true}));
    opt["policy"] = json!({"optional": true});
    let mut uses_default = step(
        "join",
        "operator.template",
        json!({"template": "[{{extra}}]"}),
    );
    uses_default["inputs"] = json!({"extra": {"type": "any", "default": "none"}});
    let m = melody(json!({
        "steps": [opt, uses_default, delay("needs", 1)],
        "edges": [
            edge("opt.output", "join.extra"),
            edge("opt.output", "needs.input")
        ]
    }));
    let (report, _) = play(&h, m).await;
    assert_eq!(report.status, RunStatus::Succeeded);
    assert_eq!(outcome(&report, "opt"), StepOutcome::Failed);
    assert_eq!(outcome(&report, "needs"), StepOutcome::Skipped);
    assert_eq!(report.result["join"]["output"], json!("[none]"));
}

#[tokio::test(start_paused = true)]
async fn skip_conditions_read_run_inputs_and_upstream_outputs() {
    let h = harness();
    let mut review = step(
        "review",
        "operator.template",
        json!({"template": "reviewing {{draft.output}}"}),
    );
    review["policy"] = json!({"skipIf": {"op": "eq", "ref": "mode", "value": "quick"}});
    let mut polish = step("polish", "operator.template", json!({"template": "polish"}));
    polish["policy"] =
        json!({"skipIf": {"op": "contains", "ref": "draft.output", "value": "final"}});
    let m = melody(json!({
        "steps": [
            step(
                "draft",
                "operator.template",
                json!({"template": "final draft of {{goal}}"})
            ),
            review,
            polish,
            delay("after_review", 1)
        ],
        "edges": [
            edge("draft.output", "review.src"),
            edge("draft.output", "polish.src"),
            edge("review.output", "after_review.input")
        ],
        "inputs": {"goal": {"type": "string"}, "mode": {"type": "string", "default": "full"}}
    }));
    // The edges feed ports the steps must declare; the templates read `draft` through them.
    let mut m = m;
    for s in &mut m.steps {
        if s.id == "review" || s.id == "polish" {
            s.inputs.insert(
                "src".into(),
                symphony_melody::PortDecl {
                    ty: PortType::Text,
                    default: None,
                    description: String::new(),
                },
            );
        }
    }
    let options = RunOptions {
        inputs: serde_json::from_value(json!({"goal": "x", "mode": "quick"})).unwrap(),
        ..RunOptions::default()
    };
    let (report, _) = play_with(&h, m, options, |_| {}).await;
    assert_eq!(report.status, RunStatus::Succeeded);
    assert_eq!(outcome(&report, "review"), StepOutcome::Skipped);
    assert_eq!(outcome(&report, "after_review"), StepOutcome::Skipped);
    assert_eq!(outcome(&report, "polish"), StepOutcome::Skipped);
    assert_eq!(
        report.steps[2].note.as_deref(),
        Some("its skip condition holds")
    );
}

#[tokio::test(start_paused = true)]
async fn missing_and_wrong_run_inputs_are_refused_before_anything_runs() {
    let h = harness();
    let m = melody(json!({
        "steps": [step(
            "t",
            "operator.template",
            json!({"template": "{{topic}}"})
        )],
        "inputs": {"topic": {"type": "string"}, "n": {"type": "number", "default": 1}}
    }));
    let options = RunOptions {
        inputs: serde_json::from_value(json!({"n": "three", "topc": "x"})).unwrap(),
        ..RunOptions::default()
    };
    let Err(e) = h.conductor.start(m, options).await else {
        panic!("started")
    };
    let text = e.to_string();
    assert!(
        text.contains("inputs.n: expected a number, found the string \"three\""),
        "{text}"
    );
    assert!(
        text.contains("no input `topc`; did you mean `topic`?"),
        "{text}"
    );
    assert!(
        text.contains("missing required run input `topic`"),
        "{text}"
    );
}

#[tokio::test(start_paused = true)]
async fn cancelling_the_run_stops_running_steps_and_starts_nothing_new() {
    let h = harness();
    let m = melody(json!({
        "steps": [delay("a", 10_000), delay("b", 10_000), delay("c", 10)],
        "edges": [edge("a.output", "c.input")]
    }));
    let (report, events) = play_with(&h, m, RunOptions::default(), |control| {
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(50)).await;
            control.cancel();
        });
    })
    .await;
    assert_eq!(report.status, RunStatus::Cancelled);
    assert_eq!(report.totals.elapsed_ms, 50);
    assert_eq!(outcome(&report, "a"), StepOutcome::Cancelled);
    assert_eq!(outcome(&report, "c"), StepOutcome::NotRun);
    assert!(started_at(&events, "c").is_empty());
    assert!(matches!(
        events.last().unwrap().event,
        RunEvent::RunFinished {
            status: RunStatus::Cancelled,
            ..
        }
    ));
}

#[tokio::test(start_paused = true)]
async fn cancelling_one_step_skips_its_dependents_and_lets_the_rest_finish() {
    let h = harness();
    let m = melody(json!({
        "steps": [delay("a", 10_000), delay("b", 100), delay("c", 10)],
        "edges": [edge("a.output", "c.input")]
    }));
    let (report, _) = play_with(&h, m, RunOptions::default(), |control| {
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(20)).await;
            control.cancel_step("a");
        });
    })
    .await;
    assert_eq!(outcome(&report, "a"), StepOutcome::Cancelled);
    assert_eq!(outcome(&report, "b"), StepOutcome::Succeeded);
    assert_eq!(outcome(&report, "c"), StepOutcome::Skipped);
    assert_eq!(report.status, RunStatus::Cancelled);
    assert_eq!(report.totals.elapsed_ms, 100);
}

#[tokio::test(start_paused = true)]
async fn pause_lets_running_steps_finish_and_resume_starts_the_rest() {
    let h = harness();
    let m = melody(json!({
        "steps": [delay("a", 100), delay("b", 100)],
        "edges": [edge("a.output", "b.input")]
    }));
    let (report, events) = play_with(&h, m, RunOptions::default(), |control| {
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(50)).await;
            control.pause();
            tokio::time::sleep(Duration::from_millis(450)).await;
            control.resume();
        });
    })
    .await;
    assert_eq!(report.status, RunStatus::Succeeded);
    assert_eq!(started_at(&events, "b"), vec![500]);
    let succeeded_a = events
        .iter()
        .find(|e| matches!(&e.event, RunEvent::StepSucceeded { step, .. } if &**step == "a"))
        .unwrap();
    assert_eq!(succeeded_a.at_ms, 100, "a kept running while paused");
    assert!(events
        .iter()
        .any(|e| e.event == RunEvent::RunPaused && e.at_ms == 50));
    assert!(events
        .iter()
        .any(|e| e.event == RunEvent::RunResumed && e.at_ms == 500));
}

#[tokio::test(start_paused = true)]
async fn templates_read_run_inputs_ports_and_upstream_outputs() {
    let h = harness();
    let mut second = step(
        "spec",
        "operator.template",
        json!({"template": "Goal: {{goal}} / plan: {{plan.output}} / port: {{p}} / field: {{data.output.k.1}}"}),
    );
    second["inputs"] = json!({"p": {"type": "text"}, "d": {"type": "json"}});
    let mut data = step("data", "operator.json.extract", json!({}));
    data["inputs"] = json!({});
    let m = melody(json!({
        "inputs": {"goal": {"type": "string", "default": "ship it"}},
        "steps": [
            step(
                "plan",
                "operator.template",
                json!({"template": "steps for {{input.goal}}"})
            ),
            step(
                "raw",
                "operator.template",
                json!({"template": "{\"k\": [\"a\", \"b\"]}"})
            ),
            data,
            second
        ],
        "edges": [
            edge("plan.output", "spec.p"),
            edge("raw.output", "data.input"),
            edge("data.output", "spec.d")
        ]
    }));
    let (report, events) = play(&h, m).await;
    assert_eq!(report.status, RunStatus::Succeeded, "{:?}", report.steps);
    assert_eq!(
        report.result["spec"]["output"],
        json!("Goal: ship it / plan: steps for ship it / port: steps for ship it / field: b")
    );
    let sent: Vec<(String, u64)> = events
        .iter()
        .filter_map(|e| match &e.event {
            RunEvent::DataSent {
                from_step,
                to_step,
                to_port,
                bytes,
                ..
            } => Some((format!("{from_step}->{to_step}.{to_port}"), *bytes)),
            _ => None,
        })
        .collect();
    assert!(
        sent.contains(&(
            "plan->spec.p".to_owned(),
            "\"steps for ship it\"".len() as u64
        )),
        "{sent:?}"
    );
}

#[tokio::test(start_paused = true)]
async fn a_router_picks_one_branch_and_the_others_are_skipped() {
    let h = harness();
    let mut router = step(
        "route",
        "cue.router",
        json!({
            "routes": [
                {"when": {"op": "contains", "ref": "input", "value": "bug"}, "port": "fix"},
                {"when": {"op": "contains", "ref": "input", "value": "idea"}, "port": "build"}
            ],
            "default": "other"
        }),
    );
    router["outputs"] =
        json!({"fix": {"type": "any"}, "build": {"type": "any"}, "other": {"type": "any"}});
    let mut join = step("join", "operator.merge", json!({"mode": "list"}));
    join["inputs"] = json!({
        "a": {"type": "any", "default": null},
        "b": {"type": "any", "default": null},
        "c": {"type": "any", "default": null}
    });
    let m = melody(json!({
        "inputs": {"goal": {"type": "string", "default": "ship it"}},
        "steps": [
            step("ask", "operator.template", json!({"template": "{{goal}}"})),
            router,
            step(
                "fixer",
                "operator.template",
                json!({"template": "fix: {{route.fix}}"})
            ),
            step(
                "builder",
                "operator.template",
                json!({"template": "build: {{route.build}}"})
            ),
            step(
                "triage",
                "operator.template",
                json!({"template": "triage: {{route.other}}"})
            ),
            join
        ],
        "edges": [
            edge("ask.output", "route.input"),
            edge("route.fix", "fixer.in"),
            edge("route.build", "builder.in"),
            edge("route.other", "triage.in"),
            edge("fixer.output", "join.a"),
            edge("builder.output", "join.b"),
            edge("triage.output", "join.c")
        ]
    }));
    // The templates' own input ports must be declared; the validator says so.
    let problems = symphony_melody::validate(&m, h.conductor.registry());
    assert!(
        problems
            .iter()
            .any(|p| p.path == "edges[1].to" || p.message.contains("in")),
        "{problems:?}"
    );
    let mut m = m;
    for s in &mut m.steps {
        if ["fixer", "builder", "triage"].contains(&s.id.as_str()) {
            s.inputs.insert(
                "in".into(),
                symphony_melody::PortDecl {
                    ty: PortType::Any,
                    default: None,
                    description: String::new(),
                },
            );
        }
    }
    assert_eq!(
        symphony_melody::validate(&m, h.conductor.registry()),
        vec![]
    );
    let options = RunOptions {
        inputs: serde_json::from_value(json!({"goal": "a new idea"})).unwrap(),
        ..RunOptions::default()
    };
    let (report, events) = play_with(&h, m, options, |_| {}).await;
    assert_eq!(report.status, RunStatus::Succeeded, "{:?}", report.steps);
    assert_eq!(
        outcome(&report, "join"),
        StepOutcome::Succeeded,
        "{:?}",
        report.steps
    );
    assert_eq!(outcome(&report, "builder"), StepOutcome::Succeeded);
    assert_eq!(outcome(&report, "fixer"), StepOutcome::Skipped);
    assert_eq!(outcome(&report, "triage"), StepOutcome::Skipped);
    assert_eq!(
        report.result["join"]["output"],
        json!(["build: a new idea"])
    );
    assert!(events.iter().any(|e| matches!(&e.event,
        RunEvent::StepSkipped { step, reason } if &**step == "fixer" && reason.contains("a router or loop chose another branch"))));
}

#[tokio::test(start_paused = true)]
async fn a_map_plays_its_body_per_item_in_parallel_and_keeps_order() {
    let h = harness();
    let mut map = step(
        "each",
        "cue.map",
        json!({"body": {"type": "operator.probe", "config": {"ms": 100}}}),
    );
    map["inputs"] = json!({});
    let mut upper = step("list", "operator.json.extract", json!({}));
    upper["inputs"] = json!({});
    let m = melody(json!({
        "steps": [
            step(
                "raw",
                "operator.template",
                json!({"template": "[\"a\", \"b\", \"c\", \"d\"]"})
            ),
            upper,
            map
        ],
        "edges": [
            edge("raw.output", "list.input"),
            edge("list.output", "each.items")
        ],
        "settings": {"maxParallel": 2}
    }));
    let (report, events) = play(&h, m).await;
    assert_eq!(report.status, RunStatus::Succeeded, "{:?}", report.steps);
    assert_eq!(
        report.result["each"]["results"],
        json!(["each", "each", "each", "each"])
    );
    assert_eq!(
        h.max.load(Ordering::SeqCst),
        2,
        "items share the run's slots"
    );
    assert_eq!(report.totals.elapsed_ms, 200);
    let items: Vec<u32> = events
        .iter()
        .filter_map(|e| match &e.event {
            RunEvent::StepItemFinished { done, total: 4, .. } => Some(*done),
            _ => None,
        })
        .collect();
    assert_eq!(items, vec![1, 2, 3, 4]);
}

#[tokio::test(start_paused = true)]
async fn a_map_body_sees_item_and_index_and_results_keep_list_order() {
    let h = harness();
    let mut map = step(
        "each",
        "cue.map",
        json!({"body": {"type": "operator.template", "config": {"template": "{{index}}:{{item.name}}"}}}),
    );
    map["inputs"] = json!({});
    let mut list = step("list", "operator.json.extract", json!({"path": "people"}));
    list["inputs"] = json!({});
    let m = melody(json!({
        "steps": [
            step(
                "raw",
                "operator.template",
                json!({"template": "{\"people\": [{\"name\": \"ada\"}, {\"name\": \"bo\"}]}"})
            ),
            list,
            map
        ],
        "edges": [
            edge("raw.output", "list.input"),
            edge("list.output", "each.items")
        ]
    }));
    let (report, _) = play(&h, m).await;
    assert_eq!(report.result["each"]["results"], json!(["0:ada", "1:bo"]));
}

#[tokio::test(start_paused = true)]
async fn a_map_over_something_that_is_not_a_list_fails_clearly() {
    let h = harness();
    let m = melody(json!({
        "steps": [
            step(
                "raw",
                "operator.template",
                json!({"template": "not a list"})
            ),
            step(
                "each",
                "cue.map",
                json!({"body": {"type": "operator.pass"}})
            )
        ],
        "edges": [edge("raw.output", "each.items")]
    }));
    // A text port cannot feed a list port on its own: the validator says so.
    let problems = symphony_melody::validate(&m, h.conductor.registry());
    assert!(
        problems[0]
            .message
            .contains("raw.output is text but each.items takes a list"),
        "{problems:?}"
    );

    let mut obj = step("obj", "operator.json.extract", json!({}));
    obj["inputs"] = json!({});
    let m = melody(json!({
        "steps": [
            step(
                "raw",
                "operator.template",
                json!({"template": "{\"a\": 1}"})
            ),
            obj,
            step(
                "each",
                "cue.map",
                json!({"body": {"type": "operator.pass"}})
            )
        ],
        "edges": [
            edge("raw.output", "obj.input"),
            edge("obj.output", "each.items")
        ]
    }));
    let (report, _) = play(&h, m).await;
    assert_eq!(report.status, RunStatus::Failed);
    assert!(
        report.steps[2]
            .note
            .as_deref()
            .unwrap()
            .contains("needs a list of items"),
        "{:?}",
        report.steps[2]
    );
}

#[tokio::test(start_paused = true)]
async fn a_failing_item_fails_the_map_after_its_retries() {
    let h = harness();
    let mut map = step(
        "each",
        "cue.map",
        json!({"body": {"type": "instrument.flaky", "config": {"fail": 5}, "policy": {"retry": {"max": 1, "backoffMs": 10, "jitter": false}}}}),
    );
    map["inputs"] = json!({});
    let mut list = step("list", "operator.json.extract", json!({}));
    list["inputs"] = json!({});
    let m = melody(json!({
        "steps": [
            step("raw", "operator.template", json!({"template": "[1, 2, 3]"})),
            list,
            map
        ],
        "edges": [
            edge("raw.output", "list.input"),
            edge("list.output", "each.items")
        ]
    }));
    let (report, _) = play(&h, m).await;
    assert_eq!(report.status, RunStatus::Failed);
    let note = report.steps[2].note.clone().unwrap();
    assert!(note.starts_with("item 0 failed: 429"), "{note}");
}

#[tokio::test(start_paused = true)]
async fn a_slow_listener_never_slows_the_run_and_no_state_change_is_lost() {
    let h = harness();
    let steps: Vec<Value> = (0..2000)
        .map(|i| step(&format!("s{i}"), "operator.pass", json!({})))
        .collect();
    let edges: Vec<Value> = (1..2000)
        .map(|i| edge(&format!("s{}.output", i - 1), &format!("s{i}.input")))
        .collect();
    let run = h
        .conductor
        .start(
            melody(json!({"steps": steps, "edges": edges})),
            RunOptions::default(),
        )
        .await
        .unwrap();
    let (mut events, _control, finished) = run.into_parts();
    // Nobody reads until the run is over.
    let report = finished.await.unwrap();
    assert_eq!(report.totals.succeeded, 2000);
    let mut succeeded = 0;
    let mut last = None;
    while let Some(e) = events.recv().await {
        if matches!(e.event, RunEvent::StepSucceeded { .. }) {
            succeeded += 1;
        }
        last = Some(e.event);
    }
    assert_eq!(succeeded, 2000);
    assert!(matches!(
        last,
        Some(RunEvent::RunFinished {
            status: RunStatus::Succeeded,
            ..
        })
    ));
}

#[tokio::test(start_paused = true)]
async fn offline_instruments_stream_progress_and_report_estimated_usage() {
    let h = harness();
    let m = melody(json!({
        "inputs": {"goal": {"type": "string", "default": "ship it"}},
        "steps": [step(
            "plan",
            "instrument.offline",
            json!({"prompt": "Plan how to {{goal}} with tests", "latencyMs": 1000})
        )]
    }));
    let (report, events) = play(&h, m).await;
    assert_eq!(report.status, RunStatus::Succeeded);
    assert!(report.steps[0].offline);
    let streamed: String = events
        .iter()
        .filter_map(|e| match &e.event {
            RunEvent::StepProgress { text, .. } => Some(text.as_str()),
            _ => None,
        })
        .collect();
    let output = report.result["plan"]["output"].as_str().unwrap();
    assert_eq!(streamed, output);
    assert!(output.contains("offline rehearsal"), "{output}");
    assert!(matches!(
        events[0].event,
        RunEvent::RunStarted { offline: true, .. }
    ));
    let usage = report.steps[0].usage.clone().unwrap();
    assert!(usage.estimated && usage.output_tokens > 0 && usage.cost_usd == Some(0.0));
    assert_eq!(report.totals.elapsed_ms, 1000);
}

#[tokio::test(start_paused = true)]
async fn a_step_slower_than_its_estimate_raises_a_warning() {
    let h = harness();
    let mut slow = delay("slow", 5000);
    slow["policy"] = json!({"estimateMs": 1000});
    let (_, events) = play(&h, melody(json!({"steps": [slow]}))).await;
    let warning = events
        .iter()
        .find(|e| {
            matches!(
                &e.event,
                RunEvent::Bottleneck {
                    kind: symphony_conductor::BottleneckKind::SlowerThanEstimate,
                    ..
                }
            )
        })
        .expect("a slow-step warning");
    assert_eq!(warning.at_ms, 2000);
}

#[tokio::test]
async fn the_workspace_holds_each_output_the_files_and_the_result() {
    let h = harness();
    let dir = tempfile::tempdir().unwrap();
    let mut write = step(
        "save",
        "operator.file.write",
        json!({"path": "docs/{{goal}}.md"}),
    );
    write["capabilities"] = json!(["files"]);
    let mut evil = step(
        "evil",
        "operator.file.write",
        json!({"path": "../{{goal}}.md", "content": "x"}),
    );
    evil["capabilities"] = json!(["files"]);
    evil["policy"] = json!({"optional": true});
    let m = melody(json!({
        "inputs": {"goal": {"type": "string", "default": "ship it"}},
        "steps": [
            step(
                "plan",
                "operator.template",
                json!({"template": "# Plan for {{goal}}"})
            ),
            write,
            evil
        ],
        "edges": [edge("plan.output", "save.content")]
    }));
    let options = RunOptions {
        run_id: "r1".into(),
        inputs: serde_json::from_value(json!({"goal": "demo"})).unwrap(),
        workspace: Some(dir.path().join("ws")),
        ..RunOptions::default()
    };
    let started = Instant::now();
    let (report, _) = play_with(&h, m, options, |_| {}).await;
    assert!(started.elapsed() < Duration::from_secs(30));
    assert_eq!(report.status, RunStatus::Succeeded);
    let ws = dir.path().join("ws");
    let read = |p: &str| std::fs::read_to_string(ws.join(p)).unwrap();
    assert_eq!(read("files/docs/demo.md"), "# Plan for demo");
    assert_eq!(read("steps/plan/output.txt"), "# Plan for demo");
    let out: Value = serde_json::from_str(&read("steps/save/output.json")).unwrap();
    assert_eq!(out, json!({"path": "docs/demo.md"}));
    let result: Value = serde_json::from_str(&read("result.json")).unwrap();
    assert_eq!(result["outputs"]["save"]["path"], json!("docs/demo.md"));
    let run: Value = serde_json::from_str(&read("run.json")).unwrap();
    assert_eq!(run["status"], json!("succeeded"));
    assert_eq!(run["inputs"]["goal"], json!("demo"));
    assert!(read("melody.json").contains("\"formatVersion\": 1"));
    assert!(report.steps[2]
        .note
        .as_deref()
        .unwrap()
        .contains("`..` is not allowed"));
    assert!(!dir.path().join("demo.md").exists());
}

#[tokio::test]
async fn file_write_without_a_workspace_says_what_to_do() {
    let h = harness();
    let mut write = step(
        "save",
        "operator.file.write",
        json!({"path": "a.txt", "content": "x"}),
    );
    write["capabilities"] = json!(["files"]);
    let (report, _) = play(&h, melody(json!({"steps": [write]}))).await;
    assert_eq!(report.status, RunStatus::Failed);
    assert!(report.steps[0]
        .note
        .as_deref()
        .unwrap()
        .contains("no workspace"));
}

fn chain(n: usize) -> symphony_melody::Melody {
    let steps: Vec<Value> = (0..n)
        .map(|i| step(&format!("s{i}"), "operator.pass", json!({})))
        .collect();
    let edges: Vec<Value> = (1..n)
        .map(|i| edge(&format!("s{}.output", i - 1), &format!("s{i}.input")))
        .collect();
    melody(json!({"steps": steps, "edges": edges}))
}

#[tokio::test(start_paused = true)]
async fn a_prepared_melody_plays_many_times_each_run_with_its_own_state() {
    let h = harness();
    let prepared = h.conductor.prepare(chain(3)).unwrap();
    for i in 0..2 {
        let options = RunOptions {
            run_id: format!("run-{i}"),
            ..RunOptions::default()
        };
        let run = h
            .conductor
            .start_prepared(&prepared, options)
            .await
            .unwrap();
        let (report, events) = testing::collect(run).await;
        assert_eq!(report.run_id, format!("run-{i}"));
        assert_eq!(report.status, RunStatus::Succeeded);
        assert_eq!(report.totals.succeeded, 3);
        let succeeded = events
            .iter()
            .filter(|e| matches!(e.event, RunEvent::StepSucceeded { .. }))
            .count();
        assert_eq!(succeeded, 3, "run {i} reports its own steps, once each");
    }
    // A melody with problems is refused at `prepare`, naming them.
    let bad = melody(json!({
        "steps": [step("a", "operator.pass", json!({}))],
        "edges": [edge("a.output", "ghost.input")]
    }));
    let problems = h.conductor.prepare(bad).err().unwrap();
    assert!(problems.to_string().contains("ghost"), "{problems}");
}

#[tokio::test(start_paused = true)]
async fn a_cancel_reaches_a_long_chain_of_steps_that_finish_at_once() {
    // Pass steps finish on their first poll, inside the scheduler; it must still stop now and
    // then to read its commands, or a cancel would wait for the whole chain.
    let h = harness();
    let n = 5_000;
    let (report, events) = play_with(&h, chain(n), RunOptions::default(), |control| {
        control.cancel()
    })
    .await;
    assert_eq!(report.status, RunStatus::Cancelled);
    assert!(report.totals.succeeded > 0);
    assert!(
        (report.totals.succeeded as usize) < n / 10,
        "{} of {n} steps ran after the cancel was sent",
        report.totals.succeeded
    );
    // Every step that succeeded was reported, in chain order, before the run's end.
    let order: Vec<&str> = events
        .iter()
        .filter_map(|e| match &e.event {
            RunEvent::StepSucceeded { step, .. } => Some(&**step),
            _ => None,
        })
        .collect();
    let expected: Vec<String> = (0..report.totals.succeeded)
        .map(|i| format!("s{i}"))
        .collect();
    assert_eq!(order, expected);
    assert!(matches!(
        events.last().unwrap().event,
        RunEvent::RunFinished { .. }
    ));
}

#[tokio::test(start_paused = true)]
async fn what_a_waiting_step_reports_reaches_the_listener_while_it_waits() {
    // Events go out in batches; a step's batch must be flushed when it waits, not when it ends.
    let h = harness();
    let m = melody(json!({
        "steps": [step(
            "plan",
            "instrument.offline",
            json!({"prompt": "one two three four five six seven eight", "latencyMs": 8000})
        )]
    }));
    let begun = Instant::now();
    let run = h.conductor.start(m, RunOptions::default()).await.unwrap();
    let (mut events, _control, finished) = run.into_parts();
    let mut seen = Vec::new();
    while let Some(e) = events.recv().await {
        seen.push((begun.elapsed().as_millis() as u64, e.event));
    }
    finished.await.unwrap();
    let at = |want: fn(&RunEvent) -> bool| seen.iter().find(|(_, e)| want(e)).unwrap().0;
    let started = at(|e| matches!(e, RunEvent::StepStarted { .. }));
    let first_progress = at(|e| matches!(e, RunEvent::StepProgress { .. }));
    let succeeded = at(|e| matches!(e, RunEvent::StepSucceeded { .. }));
    assert_eq!(started, 0, "StepStarted is read as the step starts");
    assert!(
        first_progress < 2000,
        "the first words are read at {first_progress} ms, long before the end"
    );
    assert_eq!(succeeded, 8000);
}

/// An in-memory output cache that counts its lookups.
#[derive(Default)]
struct MemoryCache {
    outputs: std::sync::Mutex<std::collections::HashMap<String, Outputs>>,
    lookups: AtomicU32,
}

impl symphony_conductor::OutputCache for MemoryCache {
    fn lookup<'a>(&'a self, key: &'a str) -> BoxFuture<'a, Option<Outputs>> {
        Box::pin(async move {
            self.lookups.fetch_add(1, Ordering::SeqCst);
            self.outputs.lock().unwrap().get(key).cloned()
        })
    }
}

/// What `review` produced, as its `StepOutput` event says.
fn review_output(events: &[EventRecord]) -> Value {
    events
        .iter()
        .find_map(|e| match &e.event {
            RunEvent::StepOutput { step, outputs } if &**step == "review" => {
                outputs.get("output").cloned()
            }
            _ => None,
        })
        .unwrap()
}

/// Stores every succeeded step's output under its cache key, as a run store would.
fn store_outputs(events: &[EventRecord], cache: &MemoryCache) {
    let mut outputs = std::collections::HashMap::new();
    for e in events {
        match &e.event {
            RunEvent::StepOutput { step, outputs: o } => {
                outputs.insert(step.clone(), (**o).clone());
            }
            RunEvent::StepSucceeded {
                step,
                cache_key: Some(key),
                ..
            } => {
                let o = outputs[step].clone();
                cache.outputs.lock().unwrap().insert(key.to_string(), o);
            }
            _ => {}
        }
    }
}

fn two_instruments_and_an_operator() -> symphony_melody::Melody {
    let mut review = step(
        "review",
        "instrument.offline",
        json!({"prompt": "Review {{plan}}", "latencyMs": 100}),
    );
    review["inputs"] = json!({"plan": {"type": "text"}});
    let mut shout = step(
        "shout",
        "operator.template",
        json!({"template": "{{text}}!"}),
    );
    shout["inputs"] = json!({"text": {"type": "text"}});
    melody(json!({
        "inputs": {"goal": {"type": "string", "default": "ship it"}},
        "steps": [
            step(
                "ask",
                "instrument.offline",
                json!({"prompt": "Plan {{goal}}", "latencyMs": 100})
            ),
            review,
            shout,
        ],
        "edges": [
            edge("ask.output", "review.plan"),
            edge("review.output", "shout.text")
        ]
    }))
}

fn origin(report: &RunReport, id: &str) -> symphony_conductor::OutputOrigin {
    report.steps.iter().find(|s| s.id == id).unwrap().origin
}

#[tokio::test(start_paused = true)]
async fn a_rerun_reuses_stored_outputs_of_unchanged_cacheable_steps() {
    use symphony_conductor::{CacheHandle, OutputOrigin};
    let h = harness();
    let cache = Arc::new(MemoryCache::default());
    let with_cache = || RunOptions {
        cache: Some(CacheHandle(cache.clone())),
        ..RunOptions::default()
    };
    let (first, events) =
        play_with(&h, two_instruments_and_an_operator(), with_cache(), |_| {}).await;
    assert_eq!(first.status, RunStatus::Succeeded);
    assert_eq!(origin(&first, "ask"), OutputOrigin::Played);
    // Cacheable steps report a key; the operator (cheap to replay) does not.
    let keyed: Vec<&str> = events
        .iter()
        .filter_map(|e| match &e.event {
            RunEvent::StepSucceeded {
                step,
                cache_key: Some(_),
                ..
            } => Some(&**step),
            _ => None,
        })
        .collect();
    assert_eq!(keyed, ["ask", "review"]);
    store_outputs(&events, &cache);

    // Same melody, same inputs: both instruments come from the cache, nothing is played.
    let (second, events) =
        play_with(&h, two_instruments_and_an_operator(), with_cache(), |_| {}).await;
    assert_eq!(second.result, first.result);
    assert_eq!(origin(&second, "ask"), OutputOrigin::Cached);
    assert_eq!(origin(&second, "review"), OutputOrigin::Cached);
    assert_eq!(origin(&second, "shout"), OutputOrigin::Played);
    assert!(started_at(&events, "ask").is_empty() && started_at(&events, "review").is_empty());
    assert_eq!(second.totals.elapsed_ms, 0, "no simulated latency was paid");
    assert_eq!(second.steps[0].attempts, 0);

    // Change the run input: `ask` reads it, so it is played again, and so is `review`, whose
    // input changed with it.
    let options = RunOptions {
        inputs: json!({"goal": "ship it twice"})
            .as_object()
            .unwrap()
            .clone(),
        ..with_cache()
    };
    let (third, _) = play_with(&h, two_instruments_and_an_operator(), options, |_| {}).await;
    assert_eq!(origin(&third, "ask"), OutputOrigin::Played);
    assert_eq!(origin(&third, "review"), OutputOrigin::Played);

    // `fresh` plays everything; `fresh_steps` plays just the named step ("take again").
    let lookups = cache.lookups.load(Ordering::SeqCst);
    let (fresh, _) = play_with(
        &h,
        two_instruments_and_an_operator(),
        RunOptions {
            fresh: true,
            ..with_cache()
        },
        |_| {},
    )
    .await;
    assert_eq!(origin(&fresh, "ask"), OutputOrigin::Played);
    assert_eq!(
        cache.lookups.load(Ordering::SeqCst),
        lookups,
        "fresh looks nothing up"
    );
    let (again, _) = play_with(
        &h,
        two_instruments_and_an_operator(),
        RunOptions {
            fresh_steps: ["review".to_owned()].into(),
            ..with_cache()
        },
        |_| {},
    )
    .await;
    assert_eq!(origin(&again, "ask"), OutputOrigin::Cached);
    assert_eq!(origin(&again, "review"), OutputOrigin::Played);
}

#[tokio::test(start_paused = true)]
async fn given_outputs_stand_in_for_their_steps_and_flow_downstream() {
    use symphony_conductor::OutputOrigin;
    let h = harness();
    let options = RunOptions {
        given: [(
            "review".to_owned(),
            Outputs::single(json!("an edited review")),
        )]
        .into(),
        ..RunOptions::default()
    };
    let (report, events) = play_with(&h, two_instruments_and_an_operator(), options, |_| {}).await;
    assert_eq!(report.status, RunStatus::Succeeded);
    assert_eq!(origin(&report, "review"), OutputOrigin::Given);
    assert_eq!(origin(&report, "ask"), OutputOrigin::Played);
    assert!(started_at(&events, "review").is_empty());
    assert_eq!(report.result["shout"]["output"], json!("an edited review!"));
}

#[tokio::test(start_paused = true)]
async fn queued_steps_carry_their_inputs_and_instruments_report_their_prompt() {
    let h = harness();
    let (_, events) = play(&h, two_instruments_and_an_operator()).await;
    let queued = events
        .iter()
        .find_map(|e| match &e.event {
            RunEvent::StepQueued { step, inputs, .. } if &**step == "shout" => Some(inputs.clone()),
            _ => None,
        })
        .unwrap();
    assert_eq!(queued.get("text"), Some(&review_output(&events)));
    let prompt = events
        .iter()
        .find_map(|e| match &e.event {
            RunEvent::StepPrompt {
                step,
                prompt,
                attempt,
                ..
            } if &**step == "ask" => Some((prompt.clone(), *attempt)),
            _ => None,
        })
        .unwrap();
    assert_eq!(prompt, ("Plan ship it".to_owned(), 1));
}
