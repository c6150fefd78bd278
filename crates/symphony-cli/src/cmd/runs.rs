//! The run store from the command line: `symphony resume RUN`, and `symphony runs list | show
//! | events | export | diff | prune | fork | pin | unpin | pins | approve | reject |
//! retention`.
//!
//! Every run `symphony run` plays is kept in the store (see [`super::run::StoreArgs`]). A run
//! that did not finish (the process was killed, the machine went down) is resumed where it
//! stopped: the steps that finished are not played again, the ones that were in flight are.

use std::path::PathBuf;

use serde_json::json;
use symphony_conductor::{Conductor, Decision, GateAnswer};
use symphony_host::launch::{Launcher, Resume};

use super::run::{play, StoreArgs};
use crate::exit::{Exit, Failure, Outcome};

/// Arguments of `symphony resume`.
#[derive(clap::Args)]
pub struct ResumeArgs {
    /// The run to resume (`symphony runs list` shows them).
    #[arg(value_name = "RUN")]
    pub run: String,
    /// Print every event as one JSON object per line, then the report.
    #[arg(long)]
    pub json: bool,
    /// Trust the run's melody as it is, if it needs trust (see `symphony run --trust`).
    #[arg(long)]
    pub trust: bool,
    #[command(flatten)]
    pub store: StoreArgs,
}

/// Arguments of `symphony runs`.
#[derive(clap::Args)]
pub struct Args {
    #[command(subcommand)]
    action: Action,
    #[command(flatten)]
    store: StoreArgs,
}

#[derive(clap::Subcommand)]
enum Action {
    /// The newest runs first, and the store's size.
    List {
        /// How many runs to show.
        #[arg(long, default_value_t = 20)]
        limit: u32,
        /// As JSON.
        #[arg(long)]
        json: bool,
    },
    /// One run, step by step.
    Show {
        /// The run.
        run: String,
        /// As JSON.
        #[arg(long)]
        json: bool,
    },
    /// A run's event log, one JSON object per line.
    Events {
        /// The run.
        run: String,
    },
    /// One self-contained JSON trace of a run (melody, inputs, every step with its data; no
    /// credentials), to share or attach to a bug report.
    Export {
        /// The run.
        run: String,
        /// Write it here instead of to stdout.
        #[arg(short, long, value_name = "FILE")]
        output: Option<PathBuf>,
    },
    /// Compare two runs step by step: outcome, output, inputs (by cache key), time, cost.
    Diff {
        /// The first run.
        a: String,
        /// The second run.
        b: String,
        /// As JSON.
        #[arg(long)]
        json: bool,
    },
    /// Remove all but the newest runs (running ones are kept) and the outputs only they used.
    Prune {
        /// How many of the newest runs to keep.
        #[arg(long, value_name = "N")]
        keep: u32,
    },
    /// Rerun from a step as a new run linked to this one: with edited inputs, an edited
    /// melody or an edited output of that step; the parent's other outputs are kept.
    Fork(super::fork::Args),
    /// Pin a step to the output it had in a run: every later run of the melody uses it
    /// instead of playing the step, until it is unpinned.
    Pin {
        /// The run whose output to keep.
        run: String,
        /// The step.
        step: String,
    },
    /// Unpin a step: later runs play it again.
    Unpin {
        /// The melody's id.
        melody: String,
        /// The step.
        step: String,
    },
    /// The pinned steps of a melody.
    Pins {
        /// The melody's id.
        melody: String,
    },
    /// Approve a gate (`cue.gate`) a run waits at: the branch goes on, with its input or the
    /// value given with --edit. The process playing the run takes the answer within a second;
    /// a stopped run takes it when it is resumed.
    Approve {
        /// The run (`symphony runs list` shows the ones that wait).
        run: String,
        /// The gate step.
        step: String,
        /// A JSON file whose value goes on instead of the gate's input.
        #[arg(long, value_name = "FILE")]
        edit: Option<PathBuf>,
        /// A note kept with the answer.
        #[arg(long)]
        reason: Option<String>,
    },
    /// Reject a gate (`cue.gate`) a run waits at: the branch fails, or goes on from the
    /// gate's `rejected` port when the gate routes rejections.
    Reject {
        /// The run.
        run: String,
        /// The gate step.
        step: String,
        /// Why: the gate's `reason` output carries it on.
        #[arg(long)]
        reason: String,
    },
    /// Show or set how many runs the store keeps (older ones are removed after each run).
    Retention {
        /// Keep this many of the newest runs.
        #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..))]
        keep: Option<u32>,
    },
}

/// Runs `symphony resume RUN`.
pub async fn resume(args: ResumeArgs) -> Outcome {
    let store = args.store.open().await?;
    let registry = crate::registry::registry();
    let source = format!("run {} (its melody as it was run)", args.run);
    // Checked like a fresh run, before the store hands the run over (a refusal leaves it as
    // it was): a stored run's melody is still someone else's code.
    let stored = store.source(&args.run).await.map_err(store_failure)?;
    let melody = symphony_melody::load_and_validate(&stored.melody_bytes, &source, &registry)
        .map_err(Failure::problems)?;
    let trusted = super::trust::gate(
        &melody,
        &registry,
        &args.store,
        args.trust,
        &format!("<the melody of run {}>", args.run),
    )?;
    let conductor = Conductor::new(registry);
    let prepared = conductor.prepare_checked(melody);
    let resume = Resume {
        run_id: args.run.clone(),
        workspace: stored.workspace,
    };
    let launching = Launcher::new(&conductor, &store).resume(prepared, trusted, resume);
    play(
        &store,
        &conductor,
        launching,
        args.json,
        &source,
        |playing| {
            if !args.json {
                errln!(
                    "resuming {}: {} finished step{} kept, the rest played (session {})",
                    args.run,
                    playing.given.len(),
                    super::plural(playing.given.len()),
                    playing.session
                );
            }
        },
    )
    .await
}

/// Runs `symphony runs …`.
pub async fn run(args: Args) -> Outcome {
    let store = args.store.open().await?;
    match args.action {
        Action::Fork(fork) => return super::fork::run(fork, store, &args.store).await,
        Action::Pin { run, step } => {
            let pin = store
                .pin_from_run(&run, &step)
                .await
                .map_err(store_failure)?;
            let melody = store
                .run(&run)
                .await
                .map_err(store_failure)?
                .summary
                .melody_id;
            outln!(
                "pinned `{}` of melody {melody} to its output in {run} ({}): later runs use it instead of playing the step; `symphony runs unpin {melody} {}` undoes this",
                pin.step,
                &pin.output_hash[..12],
                pin.step
            );
        }
        Action::Unpin { melody, step } => {
            if store.unpin(&melody, &step).await.map_err(store_failure)? {
                outln!("unpinned `{step}` of melody {melody}: later runs play it");
            } else {
                return Err(Failure::new(
                    Exit::Usage,
                    format!("`{step}` of melody {melody} is not pinned; `symphony runs pins {melody}` lists its pins"),
                ));
            }
        }
        Action::Pins { melody } => {
            let pins = store.pins(&melody).await.map_err(store_failure)?;
            if pins.is_empty() {
                outln!("melody {melody} has no pinned steps");
            }
            for p in pins {
                outln!(
                    "{:<24} {}  from {}  pinned {}",
                    p.step,
                    &p.output_hash[..12],
                    p.run_id.as_deref().unwrap_or("-"),
                    time(p.created_at)
                );
            }
        }
        Action::Approve {
            run,
            step,
            edit,
            reason,
        } => {
            let value = edit
                .map(|file| {
                    let text = std::fs::read_to_string(&file).map_err(|e| {
                        Failure::new(Exit::Usage, format!("cannot read {}: {e}", file.display()))
                    })?;
                    serde_json::from_str::<serde_json::Value>(&text).map_err(|e| {
                        Failure::new(
                            Exit::Usage,
                            format!("{} is not JSON: {e} (--edit takes the value that goes on, as JSON)", file.display()),
                        )
                    })
                })
                .transpose()?;
            let answer = GateAnswer {
                decision: Decision::Approve,
                reason,
                value,
                by: "cli".into(),
            };
            answer_gate(&store, &run, &step, answer).await?;
        }
        Action::Reject { run, step, reason } => {
            let answer = GateAnswer {
                decision: Decision::Reject,
                reason: Some(reason),
                value: None,
                by: "cli".into(),
            };
            answer_gate(&store, &run, &step, answer).await?;
        }
        Action::Retention { keep } => {
            if let Some(keep) = keep {
                store.set_keep_runs(keep).await.map_err(store_failure)?;
                let pruned = store.apply_retention().await.map_err(store_failure)?;
                outln!(
                    "the store keeps the newest {keep} runs (removed {} now)",
                    pruned.runs
                );
            } else {
                outln!(
                    "the store keeps the newest {} runs; it holds {} in {} ({})",
                    store.keep_runs().await.map_err(store_failure)?,
                    store.list(u32::MAX).await.map_err(store_failure)?.len(),
                    store.path().display(),
                    bytes(store.size_bytes().await)
                );
            }
        }
        Action::List { limit, json } => {
            let runs = store.listings(None, limit).await.map_err(store_failure)?;
            if json {
                outln!(
                    "{}",
                    json!({"runs": runs, "store": store.path(), "bytes": store.size_bytes().await})
                );
            } else {
                for r in &runs {
                    let s = &r.summary;
                    // A run left `running` is either played by another process now or was
                    // interrupted (`symphony resume` plays the rest).
                    let status = match (&*s.status, &r.played_elsewhere) {
                        ("running", _) if !r.waiting.is_empty() => "waiting",
                        ("running", Some(_)) => "playing",
                        ("running", None) => "interrupted",
                        (status, _) => status,
                    };
                    outln!(
                        "{:<44} {:<11} {:<24} {}{}{}{}",
                        s.id,
                        status,
                        s.melody_id,
                        time(s.started_at),
                        s.parent_id
                            .as_deref()
                            .map_or(String::new(), |p| format!("  (fork of {p})")),
                        r.played_elsewhere
                            .as_deref()
                            .map_or(String::new(), |by| format!("  (by {by})")),
                        if r.waiting.is_empty() {
                            String::new()
                        } else {
                            format!(
                                "  (waits for a person at {}: `symphony runs approve {} STEP`)",
                                r.waiting.join(", "),
                                s.id
                            )
                        }
                    );
                }
                if runs.is_empty() {
                    outln!("no runs yet; `symphony run FILE` plays one and keeps it here");
                }
                outln!(
                    "store: {} ({})",
                    store.path().display(),
                    bytes(store.size_bytes().await)
                );
            }
        }
        Action::Show { run, json } => {
            let detail = store.run(&run).await.map_err(store_failure)?;
            if json {
                outln!("{}", serde_json::to_string(&detail).unwrap_or_default());
            } else {
                // A run left `running` is played by another process now, or was interrupted.
                let status = if detail.summary.status == "running" {
                    match store
                        .listing(&run)
                        .await
                        .map_err(store_failure)?
                        .played_elsewhere
                    {
                        Some(by) => format!("playing (by {by})"),
                        None => "interrupted (`symphony resume` plays the rest)".to_owned(),
                    }
                } else {
                    detail.summary.status.clone()
                };
                outln!(
                    "{}  {}  melody {}  started {}{}",
                    detail.summary.id,
                    status,
                    detail.summary.melody_id,
                    time(detail.summary.started_at),
                    if detail.sessions > 1 {
                        format!("  ({} sessions)", detail.sessions)
                    } else {
                        String::new()
                    }
                );
                outln!("inputs: {}", detail.inputs);
                if let Some(ws) = &detail.workspace {
                    outln!("workspace: {ws}");
                }
                outln!(
                    "{:<24} {:<10} {:<7} {:>8} {:>9}  note",
                    "step",
                    "outcome",
                    "origin",
                    "attempts",
                    "time"
                );
                for s in &detail.steps {
                    outln!(
                        "{:<24} {:<10} {:<7} {:>8} {:>9}  {}",
                        s.step,
                        s.outcome,
                        s.origin.as_deref().unwrap_or("-"),
                        s.attempts,
                        super::duration(s.elapsed_ms.max(0) as u64),
                        s.note.as_deref().unwrap_or("")
                    );
                }
                for f in &detail.files {
                    outln!(
                        "file {}  ({}, written by {}, sha256 {})",
                        f.path,
                        bytes(f.bytes.max(0) as u64),
                        f.step,
                        &f.sha256[..12.min(f.sha256.len())]
                    );
                }
                for g in store.gates(&run).await.map_err(store_failure)? {
                    outln!("{}", gate_line(&g, detail.summary.finished_at.is_some()));
                }
                if !detail.totals.is_null() {
                    outln!("totals: {}", detail.totals);
                }
            }
        }
        Action::Events { run } => {
            for e in store.events(&run).await.map_err(store_failure)? {
                outln!("{}", e.data);
            }
        }
        Action::Export { run, output } => {
            let trace = store.export(&run).await.map_err(store_failure)?;
            let text = serde_json::to_string_pretty(&trace).unwrap_or_default();
            match output {
                Some(path) => {
                    std::fs::write(&path, text + "\n").map_err(|e| Failure::write(&path, &e))?;
                    errln!("wrote the trace of {run} to {}", path.display());
                }
                None => outln!("{text}"),
            }
        }
        Action::Diff { a, b, json } => {
            let diff = store.diff(&a, &b).await.map_err(store_failure)?;
            if json {
                outln!("{}", serde_json::to_string(&diff).unwrap_or_default());
            } else {
                outln!(
                    "{:<24} {:<22} {:<9} {:<9} {:>19} {:>19}",
                    "step",
                    "outcome (a → b)",
                    "inputs",
                    "output",
                    "time (a → b)",
                    "cost (a → b)"
                );
                for d in &diff {
                    let arrow = |x: &str, y: &str| {
                        if x == y {
                            x.to_owned()
                        } else {
                            format!("{x} → {y}")
                        }
                    };
                    let cost =
                        |c: Option<f64>| c.map_or_else(|| "-".to_owned(), |c| format!("${c:.4}"));
                    outln!(
                        "{:<24} {:<22} {:<9} {:<9} {:>19} {:>19}",
                        d.step,
                        arrow(&d.outcome.0, &d.outcome.1),
                        match d.same_key {
                            Some(true) => "same",
                            Some(false) => "changed",
                            None => "-",
                        },
                        if d.same_output { "same" } else { "changed" },
                        format!(
                            "{} → {}",
                            super::duration(d.elapsed_ms.0.max(0) as u64),
                            super::duration(d.elapsed_ms.1.max(0) as u64)
                        ),
                        format!("{} → {}", cost(d.cost_usd.0), cost(d.cost_usd.1))
                    );
                }
            }
        }
        Action::Prune { keep } => {
            let pruned = store.prune(keep).await.map_err(store_failure)?;
            outln!(
                "removed {} run{} and {} stored output{}; the store went from {} to {}",
                pruned.runs,
                super::plural(pruned.runs as usize),
                pruned.outputs,
                super::plural(pruned.outputs as usize),
                bytes(pruned.bytes.0),
                bytes(pruned.bytes.1)
            );
        }
    }
    Ok(Exit::Success)
}

/// Records the answer to a gate and says what happens next: the process playing the run takes
/// it, or the run, stopped, takes it when resumed.
async fn answer_gate(
    store: &symphony_store::Store,
    run: &str,
    step: &str,
    answer: GateAnswer,
) -> Result<(), Failure> {
    let decision = answer.decision;
    store
        .answer_gate(run, step, &answer)
        .await
        .map_err(store_failure)?;
    let listing = store.listing(run).await.map_err(store_failure)?;
    let next = match &listing.played_elsewhere {
        Some(by) => format!("{by} plays the run and takes the answer within a second"),
        None => format!("the run is stopped: `symphony resume {run}` plays on from the gate"),
    };
    outln!(
        "{} `{step}` of run {run}; {next}",
        capitalised(decision.past())
    );
    Ok(())
}

/// A gate of `runs show`: "gate approve-plan (Go on with this plan?): approved by cli at … (fine)".
fn gate_line(g: &symphony_store::GateRecord, ended: bool) -> String {
    let what = match (&g.answer, ended) {
        (Some(a), _) => format!(
            "{} by {} at {}{}{}",
            a.decision.past(),
            a.by,
            g.answered_at.map_or_else(|| "-".into(), time),
            if a.value.is_some() {
                ", with an edited value"
            } else {
                ""
            },
            a.reason
                .as_deref()
                .map_or_else(String::new, |r| format!(" ({r})"))
        ),
        (None, true) => format!("asked at {}, never answered", time(g.asked_at)),
        (None, false) => format!(
            "waiting since {}: `symphony runs approve RUN {}` or `reject`",
            time(g.asked_at),
            g.step
        ),
    };
    format!("gate {} ({}): {what}", g.step, g.title)
}

fn capitalised(word: &str) -> String {
    let mut c = word.chars();
    c.next()
        .map(|f| f.to_uppercase().chain(c).collect())
        .unwrap_or_default()
}

/// A store's failure as the command line says it: an unknown or unresumable run is a usage
/// error (exit 2), anything else an I/O one (exit 4).
pub(super) fn store_failure(e: symphony_store::StoreError) -> Failure {
    let exit = match e {
        symphony_store::StoreError::UnknownRun(_)
        | symphony_store::StoreError::NotResumable { .. }
        | symphony_store::StoreError::NotAnswerable { .. }
        | symphony_store::StoreError::NoOutput { .. } => Exit::Usage,
        _ => Exit::Io,
    };
    Failure::new(exit, e.to_string())
}

/// A UTC time, `2026-11-23 02:51:07`.
fn time(ms: i64) -> String {
    let secs = ms.div_euclid(1000);
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    let (y, m, d) = symphony_host::runs::civil_from_days(days);
    format!(
        "{y:04}-{m:02}-{d:02} {:02}:{:02}:{:02}",
        rem / 3600,
        (rem % 3600) / 60,
        rem % 60
    )
}

fn bytes(n: u64) -> String {
    if n < 1024 * 1024 {
        format!("{:.1} KB", n as f64 / 1024.0)
    } else {
        format!("{:.1} MB", n as f64 / (1024.0 * 1024.0))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_read_as_utc_dates() {
        assert_eq!(time(0), "1970-01-01 00:00:00");
        assert_eq!(time(1_795_402_267_000), "2026-11-23 02:51:07");
        assert_eq!(time(951_782_400_000), "2000-02-29 00:00:00");
    }
}
