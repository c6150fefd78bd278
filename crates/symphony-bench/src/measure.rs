//! Plays one scenario several times in this process and reports the figures as one JSON line.
//!
//! The parent starts one child process per scenario, so the peak memory read here at the end
//! (`VmHWM` of `/proc/self/status`) belongs to that scenario alone.
//!
//! Preparing the melody (JSON → `load_value` → `validate` → `Conductor::prepare_checked`) is
//! timed apart from the runs: a host does it once per melody, not once per run. A timed run
//! goes from `Conductor::start_prepared` until the run's report is in *and* a listener task has
//! drained every event: a real host always listens.

use std::time::Instant;

use anyhow::{bail, Context, Result};
use serde_json::{json, Value};
use symphony_conductor::{Conductor, Prepared, Registry, RunEvent, RunOptions, RunStatus};

use crate::scenario::Scenario;

/// One timed run.
struct RunFigures {
    /// From `start` to report-and-all-events-read, in milliseconds.
    wall_ms: f64,
    /// How long `Conductor::start_prepared` took (run inputs, the run's state, spawning).
    start_ms: f64,
    /// When the listener read `RunFinished`, in milliseconds from `start`: the run's end as a
    /// host sees it; what follows is the scheduler tearing its state down.
    finished_event_ms: f64,
    /// Events the listener read.
    events: u64,
}

/// Runs the scenario and returns its figures as JSON.
pub fn run(scenario: &Scenario) -> Result<Value> {
    let registry = Registry::standard();

    let t = Instant::now();
    let doc = scenario.melody_json();
    let build_ms = ms(t);
    let t = Instant::now();
    let melody = symphony_melody::load_value(doc)
        .map_err(|p| anyhow::anyhow!("{p}"))
        .context("the scenario's melody does not load")?;
    let load_ms = ms(t);
    let t = Instant::now();
    let problems = symphony_melody::validate(&melody, &registry);
    let validate_ms = ms(t);
    if !problems.is_empty() {
        bail!(
            "the scenario's melody is invalid: {}",
            symphony_melody::Problems::new(problems)
        );
    }
    let rss_after_build_mb = status_mb("VmRSS")?;

    let conductor = Conductor::new(registry);
    let t = Instant::now();
    let prepared = conductor.prepare_checked(melody);
    let compile_ms = ms(t);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot build the tokio runtime")?;

    // A stored scenario writes into a fresh store of its own, removed at the end.
    let store_dir = tempfile::tempdir().context("cannot make a folder for the run store")?;
    let store = if scenario.stored {
        let path = store_dir.path().join("runs.db");
        Some(
            runtime
                .block_on(symphony_store::Store::open(&path))
                .map_err(|e| anyhow::anyhow!("{e}"))?,
        )
    } else {
        None
    };
    let mut runs = Vec::with_capacity(scenario.runs);
    for i in 0..scenario.runs {
        let figures = runtime
            .block_on(play(
                &conductor,
                &prepared,
                scenario.melody_steps(),
                i,
                store.as_ref(),
            ))
            .with_context(|| format!("run {i} of {}", scenario.name))?;
        runs.push(figures);
    }
    // Bytes per step: the store's size (checkpointed into the main file) over every step of
    // every run it holds.
    let stored_bytes_per_step = match &store {
        Some(store) => {
            runtime
                .block_on(store.checkpoint())
                .map_err(|e| anyhow::anyhow!("{e}"))?;
            Some(
                runtime.block_on(store.size_bytes()) as f64
                    / (scenario.runs * scenario.steps()) as f64,
            )
        }
        None => None,
    };
    drop(store);
    drop(runtime);

    let events = runs.first().map_or(0, |r| r.events);
    if runs.iter().any(|r| r.events != events) {
        eprintln!(
            "{}: event counts differ between runs: {:?}",
            scenario.name,
            runs.iter().map(|r| r.events).collect::<Vec<_>>()
        );
    }
    Ok(json!({
        "scenario": scenario.name,
        "steps": scenario.steps(),
        "runs": runs.len(),
        "wall_ms": runs.iter().map(|r| r.wall_ms).collect::<Vec<_>>(),
        "start_ms": runs.iter().map(|r| r.start_ms).collect::<Vec<_>>(),
        "finished_event_ms": runs.iter().map(|r| r.finished_event_ms).collect::<Vec<_>>(),
        "events": events,
        "build_ms": build_ms,
        "load_ms": load_ms,
        "validate_ms": validate_ms,
        "compile_ms": compile_ms,
        "stored_bytes_per_step": stored_bytes_per_step,
        "rss_after_build_mb": rss_after_build_mb,
        "peak_rss_mb": status_mb("VmHWM")?,
    }))
}

async fn play(
    conductor: &Conductor,
    prepared: &Prepared,
    steps: usize,
    i: usize,
    store: Option<&symphony_store::Store>,
) -> Result<RunFigures> {
    let options = RunOptions {
        run_id: format!("bench-{i}"),
        workspace: None,
        ..RunOptions::default()
    };
    let t = Instant::now();
    let recorder = match store {
        Some(store) => {
            let melody = prepared.melody();
            let bytes = symphony_melody::to_bytes(melody);
            Some(
                store
                    .begin(symphony_store::NewRun {
                        id: &options.run_id,
                        melody_bytes: &bytes,
                        melody_id: &melody.melody.id,
                        melody_name: &melody.melody.name,
                        inputs: &options.inputs,
                        options: json!({}),
                        workspace: None,
                        parent: None,
                    })
                    .await
                    .map_err(|e| anyhow::anyhow!("{e}"))?,
            )
        }
        None => None,
    };
    let run = conductor
        .start_prepared(prepared, options)
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))
        .context("the run did not start")?;
    let start_ms = ms(t);
    let (mut events, _control, finished) = run.into_parts();
    let listener = tokio::spawn(async move {
        let mut n = 0u64;
        let mut finished_at = None;
        while let Some(record) = events.recv().await {
            n += 1;
            if let Some(r) = &recorder {
                r.record(&record);
            }
            if matches!(record.event, RunEvent::RunFinished { .. }) {
                finished_at = Some(ms(t));
            }
        }
        if let Some(r) = recorder {
            r.finish().await.map_err(|e| anyhow::anyhow!("{e}"))?;
        }
        Ok::<_, anyhow::Error>((n, finished_at))
    });
    let report = finished.await.context("the scheduler task failed")?;
    let (events, finished_at) = listener.await.context("the listener task failed")??;
    let wall_ms = ms(t);
    let finished_event_ms = finished_at.context("the run sent no RunFinished event")?;
    if report.status != RunStatus::Succeeded || report.totals.succeeded as usize != steps {
        bail!(
            "the run did not succeed: {:?}, {} of {steps} steps succeeded",
            report.status,
            report.totals.succeeded
        );
    }
    // Dropping the report (one entry per step) is the host's business: outside the timed part.
    drop(report);
    Ok(RunFigures {
        wall_ms,
        start_ms,
        finished_event_ms,
        events,
    })
}

fn ms(since: Instant) -> f64 {
    since.elapsed().as_secs_f64() * 1000.0
}

/// A `kB` line of `/proc/self/status` (`VmHWM`, `VmRSS`), in MB.
fn status_mb(key: &str) -> Result<f64> {
    let status =
        std::fs::read_to_string("/proc/self/status").context("cannot read /proc/self/status")?;
    let line = status
        .lines()
        .find_map(|l| l.strip_prefix(key)?.strip_prefix(':'))
        .with_context(|| format!("/proc/self/status has no {key}"))?;
    let kb: f64 = line
        .trim()
        .trim_end_matches("kB")
        .trim()
        .parse()
        .with_context(|| format!("cannot read {key} from `{line}`"))?;
    Ok(kb / 1024.0)
}
