//! The live bottleneck warnings the conductor computes while a run plays: a step far slower
//! than its own history, the running step on the critical path, and an instrument asked with a
//! very large input. Deterministic time (`start_paused`): the periodic check runs every 500 ms
//! of the paused clock, so each warning's time is asserted exactly.

#![allow(clippy::unwrap_used)] // Tests unwrap: a panic is the failure report.

use std::collections::BTreeMap;

use serde_json::{json, Value};
use symphony_conductor::testing::{self, edge, melody, step};
use symphony_conductor::{
    BottleneckKind, Conductor, EventRecord, Registry, RunEvent, RunOptions, RunReport, RunStatus,
    StepHistory,
};

fn delay(id: &str, ms: u64) -> Value {
    step(id, "operator.delay", json!({"ms": ms}))
}

fn with_estimate(mut step: Value, ms: u64) -> Value {
    step["policy"] = json!({"estimateMs": ms});
    step
}

async fn play(m: symphony_melody::Melody, options: RunOptions) -> (RunReport, Vec<EventRecord>) {
    testing::play(&Conductor::new(Registry::standard()), m, options).await
}

/// Every warning of a kind: (time, step, message, advice).
fn warnings(events: &[EventRecord], of: BottleneckKind) -> Vec<(u64, String, String, String)> {
    events
        .iter()
        .filter_map(|e| match &e.event {
            RunEvent::Bottleneck {
                step,
                kind,
                message,
                advice,
            } if *kind == of => Some((e.at_ms, step.to_string(), message.clone(), advice.clone())),
            _ => None,
        })
        .collect()
}

fn history(runs: u32, p50_ms: u64, p95_ms: u64) -> StepHistory {
    StepHistory {
        runs,
        p50_ms,
        p95_ms,
    }
}

#[tokio::test(start_paused = true)]
async fn a_step_far_slower_than_its_own_history_is_warned_about_and_no_other() {
    let m = melody(json!({
        "steps": [
            // Past runs: 1.0 s (p50), 2.0 s (p95). Limit: max(3.0 s, 3.0 s, 1 s) = 3.0 s.
            delay("slow", 5000),
            // Within its history's bounds: max(1.8 s, 3.0 s, 1 s) = 3.0 s; runs 2.5 s.
            delay("steady", 2500),
            // Far over its history, but two runs are too few to judge by.
            delay("young", 5000),
            // Far over the figures, but under the 1 s floor.
            delay("quick", 900),
            // No history at all.
            delay("new", 5000),
        ]
    }));
    let options = RunOptions {
        history: BTreeMap::from([
            ("slow".to_owned(), history(8, 1000, 2000)),
            ("steady".to_owned(), history(5, 1000, 1200)),
            ("young".to_owned(), history(2, 100, 100)),
            ("quick".to_owned(), history(10, 50, 80)),
        ]),
        ..RunOptions::default()
    };
    let (report, events) = play(m, options).await;
    assert_eq!(report.status, RunStatus::Succeeded);
    let found = warnings(&events, BottleneckKind::SlowerThanHistory);
    assert_eq!(found.len(), 1, "{found:?}");
    let (at, step, message, advice) = &found[0];
    assert_eq!(step, "slow");
    // The first check after it ran more than 3.0 s (checks every 500 ms).
    assert_eq!(*at, 3500);
    assert_eq!(
        message,
        "running 3.5s; its last 8 runs took 1.0s (p50), 2.0s (p95)"
    );
    assert!(advice.contains("timeout and a fallback"), "{advice}");
}

#[tokio::test(start_paused = true)]
async fn the_running_step_on_the_critical_path_is_warned_about_not_the_short_branch() {
    // a → b → c (10 s, then 2 s and 2 s) beside d → e (3 s, then 1 s), and a leaf f (12 s).
    let m = melody(json!({
        "steps": [
            with_estimate(delay("a", 10_000), 10_000),
            with_estimate(delay("b", 2000), 2000),
            with_estimate(delay("c", 2000), 2000),
            with_estimate(delay("d", 3000), 3000),
            with_estimate(delay("e", 1000), 1000),
            delay("f", 12_000),
        ],
        "edges": [
            edge("a.output", "b.input"),
            edge("b.output", "c.input"),
            edge("d.output", "e.input")
        ]
    }));
    let (report, events) = play(m, RunOptions::default()).await;
    assert_eq!(report.status, RunStatus::Succeeded);
    assert_eq!(report.totals.elapsed_ms, 14_000);
    let found = warnings(&events, BottleneckKind::OnCriticalPath);
    // At 2 s, a (8 s left, then b and c: 12 s) and d (1 s left, then e: 2 s) have both run
    // long enough and have steps waiting on them; only a is on the critical path. f has
    // nothing waiting on it. b and c never run 25% of the run.
    assert_eq!(
        found
            .iter()
            .map(|(at, step, message, _)| (*at, step.as_str(), message.as_str()))
            .collect::<Vec<_>>(),
        vec![(
            2000,
            "a",
            "on the critical path: 2 steps wait on it; running 2.0s of the run's 2.0s"
        )]
    );
    assert!(found[0].3.contains("faster model"), "{}", found[0].3);
}

#[tokio::test(start_paused = true)]
async fn a_step_that_started_late_is_warned_about_once_it_holds_a_quarter_of_the_run() {
    // x (4 s) → y (6 s) → z (1 ms), beside a quick leaf w: y is on the critical path from the
    // moment it starts, but only at 2 s of running (6 s into the run: 33%) is it worth a
    // warning; x was warned about before (2 s of 2 s).
    let m = melody(json!({
        "steps": [
            delay("x", 4000),
            delay("y", 6000),
            delay("z", 1),
            delay("w", 1)
        ],
        "edges": [edge("x.output", "y.input"), edge("y.output", "z.input")]
    }));
    let (_, events) = play(m, RunOptions::default()).await;
    let found: Vec<(u64, String)> = warnings(&events, BottleneckKind::OnCriticalPath)
        .into_iter()
        .map(|(at, step, _, _)| (at, step))
        .collect();
    assert_eq!(found, vec![(2000, "x".to_owned()), (6000, "y".to_owned())]);
}

#[tokio::test(start_paused = true)]
async fn a_melody_that_is_one_chain_has_no_critical_path_warning() {
    // x → y → z is all critical path: naming one of its steps would tell nothing (it once fired
    // on every linear chain).
    let m = melody(json!({
        "steps": [delay("x", 4000), delay("y", 6000), delay("z", 1)],
        "edges": [edge("x.output", "y.input"), edge("y.output", "z.input")]
    }));
    let (_, events) = play(m, RunOptions::default()).await;
    assert_eq!(warnings(&events, BottleneckKind::OnCriticalPath), vec![]);
}

#[tokio::test(start_paused = true)]
async fn an_offline_stand_in_on_the_critical_path_gets_advice_that_fits_it() {
    // An offline instrument (6 s of simulated thinking) holding up write, beside a quick leaf.
    let m = melody(json!({
        "inputs": {"goal": {"type": "string", "default": "ship it"}},
        "steps": [
            step(
                "think",
                "instrument.offline",
                json!({"prompt": "a long answer {{goal}}", "latencyMs": 6000})
            ),
            delay("write", 1),
            delay("leaf", 1)
        ],
        "edges": [edge("think.output", "write.input")]
    }));
    let (_, events) = play(m, RunOptions::default()).await;
    let found = warnings(&events, BottleneckKind::OnCriticalPath);
    assert_eq!(found.len(), 1, "{found:?}");
    assert_eq!(found[0].1, "think");
    assert!(
        found[0].3.contains("offline stand-in") && !found[0].3.contains("faster model"),
        "{}",
        found[0].3
    );
}

#[tokio::test(start_paused = true)]
async fn a_run_of_quick_steps_raises_no_live_warning() {
    let m = melody(json!({
        "steps": [delay("a", 1500), delay("b", 1500), delay("c", 10)],
        "edges": [edge("a.output", "b.input"), edge("b.output", "c.input")]
    }));
    let (_, events) = play(m, RunOptions::default()).await;
    assert!(
        !events
            .iter()
            .any(|e| matches!(e.event, RunEvent::Bottleneck { .. })),
        "{events:?}"
    );
}

#[tokio::test(start_paused = true)]
async fn an_instrument_asked_with_a_very_large_input_is_warned_about_once() {
    let mut summarise = step(
        "summarise",
        "instrument.offline",
        json!({"prompt": "Summarise {{text}} for {{goal}}", "system": "Be brief about {{text}}"}),
    );
    summarise["inputs"] = json!({"text": {"type": "text"}});
    let mut copy = step("copy", "operator.template", json!({"template": "{{text}}"}));
    copy["inputs"] = json!({"text": {"type": "text"}});
    // Reads the large output by reference rather than through a port (it runs after
    // `summarise`, so `research` is upstream of it).
    let mut direct = step(
        "direct",
        "instrument.offline",
        json!({"prompt": "Check {{research.output}}"}),
    );
    direct["inputs"] = json!({"after": {"type": "text"}});
    let m = melody(json!({
        "inputs": {
            "goal": {"type": "string", "default": "ship it"},
            "doc": {"type": "string", "default": ""}
        },
        "steps": [
            step(
                "research",
                "operator.template",
                json!({"template": "{{doc}}"})
            ),
            summarise,
            direct,
            // An operator: no model, no tokens, no warning.
            copy,
            // An instrument with a small prompt.
            step(
                "small",
                "instrument.offline",
                json!({"prompt": "Plan {{goal}}"})
            ),
        ],
        "edges": [
            edge("research.output", "summarise.text"),
            edge("research.output", "copy.text"),
            edge("summarise.output", "direct.after")
        ]
    }));
    let options = RunOptions {
        inputs: serde_json::Map::from_iter([("doc".to_owned(), json!("x".repeat(100_000)))]),
        ..RunOptions::default()
    };
    let (report, events) = play(m, options).await;
    assert_eq!(report.status, RunStatus::Succeeded, "{:?}", report.steps);
    let mut found = warnings(&events, BottleneckKind::ContextBloat);
    found.sort_by(|a, b| a.1.cmp(&b.1));
    assert_eq!(
        found
            .iter()
            .map(|(_, step, message, _)| (step.as_str(), message.as_str()))
            .collect::<Vec<_>>(),
        vec![
            (
                "direct",
                "its input is 100 KB (~25k tokens), mostly from research.output (100 KB)"
            ),
            // `text` is read twice and counted once.
            (
                "summarise",
                "its input is 100 KB (~25k tokens), mostly from research.output (100 KB)"
            ),
        ]
    );
    assert!(
        found[0].3.contains("operator.json.extract"),
        "{}",
        found[0].3
    );
}

/// A cache that has an answer for every step: everything is served, nothing is asked.
struct KnowsEverything;

impl symphony_conductor::OutputCache for KnowsEverything {
    fn lookup<'a>(
        &'a self,
        _key: &'a str,
    ) -> symphony_conductor::BoxFuture<'a, Option<symphony_conductor::Outputs>> {
        Box::pin(async { Some(symphony_conductor::Outputs::single(json!("remembered"))) })
    }
}

#[tokio::test(start_paused = true)]
async fn an_answer_served_from_the_cache_raises_no_context_warning() {
    let mut summarise = step(
        "summarise",
        "instrument.offline",
        json!({"prompt": "Summarise {{doc}}"}),
    );
    summarise["inputs"] = json!({});
    let m = melody(json!({
        "inputs": {"doc": {"type": "string", "default": ""}},
        "steps": [summarise]
    }));
    let options = |cache: Option<symphony_conductor::CacheHandle>| RunOptions {
        inputs: serde_json::Map::from_iter([("doc".to_owned(), json!("x".repeat(100_000)))]),
        cache,
        ..RunOptions::default()
    };
    // Asked for real, the step is warned about; served from the cache, it is not.
    let (_, asked) = play(m.clone(), options(None)).await;
    assert_eq!(warnings(&asked, BottleneckKind::ContextBloat).len(), 1);
    let (report, served) = play(
        m,
        options(Some(symphony_conductor::CacheHandle(std::sync::Arc::new(
            KnowsEverything,
        )))),
    )
    .await;
    assert_eq!(report.status, RunStatus::Succeeded);
    assert!(served.iter().any(
        |e| matches!(&e.event, RunEvent::StepSucceeded { step, .. } if &**step == "summarise")
    ));
    assert_eq!(
        warnings(&served, BottleneckKind::ContextBloat),
        vec![],
        "a cached answer asked nothing of the instrument"
    );
}
