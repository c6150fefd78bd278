//! Plain lines for pipes and logs: one timestamped line per state change.
//!
//! Streamed progress is not printed as it comes; it is summed up in the step's `succeeded`
//! line. `queued` is left out: a step normally starts the moment it is queued, and a long wait
//! for a slot is reported as a bottleneck. A big map prints its items' progress in tenths.

use std::collections::HashMap;

use symphony_conductor::{EventRecord, OutputOrigin, RunEvent, RunReport};

use super::{one_line, tokens, unit, Bottlenecks, RunContext, Shown, View};
use crate::cmd::duration;

/// Plain lines, one per state change.
pub struct Plain {
    context: RunContext,
    /// Tokens and chunks streamed per step, summed up when it succeeds.
    streamed: HashMap<String, (u64, u32)>,
    /// Per map: the last tenth of its items reported (so a big map prints ten lines, not
    /// thousands) and how many items it has.
    maps: HashMap<String, (u32, u32)>,
    /// Whether the type now playing each step is offline (a fallback may change it).
    offline: HashMap<String, bool>,
    bottlenecks: Bottlenecks,
}

impl Plain {
    /// A view that prints to stdout.
    pub fn new(context: RunContext) -> Self {
        Plain {
            context,
            streamed: HashMap::new(),
            maps: HashMap::new(),
            offline: HashMap::new(),
            bottlenecks: Bottlenecks::default(),
        }
    }

    fn line(at_ms: u64, verb: &str, rest: &str) {
        outln!("[{:>7.2}s] {verb:<10} {rest}", at_ms as f64 / 1000.0);
    }
}

impl View for Plain {
    fn event(&mut self, record: &EventRecord) {
        let at = record.at_ms;
        match &record.event {
            RunEvent::RunStarted {
                steps,
                max_parallel,
                offline,
                ..
            } => {
                for l in self.context.header(*steps, *max_parallel, *offline) {
                    outln!("{l}");
                }
                Plain::line(at, "run", "started");
            }
            RunEvent::RunPaused => Plain::line(at, "paused", "no new step starts until resumed"),
            RunEvent::RunResumed => Plain::line(at, "resumed", ""),
            RunEvent::RunFinished { status, .. } => {
                let status = serde_json::to_value(status)
                    .ok()
                    .and_then(|v| v.as_str().map(str::to_owned))
                    .unwrap_or_default();
                Plain::line(at, "finished", &format!("run {status}"));
            }
            // Exchanges and log lines are kept with the run (`symphony runs show`, the board).
            RunEvent::StepQueued { .. }
            | RunEvent::StepPrompt { .. }
            | RunEvent::StepExchange { .. }
            | RunEvent::StepLog { .. } => {}
            RunEvent::StepStarted {
                step,
                item: None,
                attempt,
                type_name,
                offline,
            } => {
                let mut rest = format!(
                    "{step} ({type_name}{})",
                    if *offline { ", offline" } else { "" }
                );
                if *attempt > 1 {
                    rest.push_str(&format!(" attempt {attempt}"));
                }
                self.offline.insert(step.to_string(), *offline);
                Plain::line(at, "started", &rest);
            }
            RunEvent::StepStarted { .. } => {}
            RunEvent::StepProgress {
                step, tokens: n, ..
            } => {
                let entry = self.streamed.entry(step.to_string()).or_default();
                entry.0 += n;
                entry.1 += 1;
            }
            RunEvent::StepRound {
                step,
                round,
                score,
                exit,
                note,
                ..
            } => Plain::line(
                at,
                "round",
                &round_line(step, *round, *score, *exit, note.as_deref()),
            ),
            RunEvent::GateWaiting {
                step,
                title,
                review,
                timeout_ms,
                on_timeout,
                ..
            } => {
                let lines = gate_waiting_lines(
                    &self.context.run_id,
                    step,
                    title,
                    review,
                    *timeout_ms,
                    *on_timeout,
                );
                Plain::line(at, "waiting", &lines[0]);
                for l in &lines[1..] {
                    outln!("{:12}{l}", "");
                }
            }
            RunEvent::GateAnswered {
                step,
                decision,
                reason,
                value,
                by,
            } => Plain::line(
                at,
                decision.past(),
                &gate_answered_line(step, *decision, by, reason.as_deref(), value.is_some()),
            ),
            RunEvent::StepItemFinished {
                step,
                item,
                ok,
                error,
                done,
                total,
            } => {
                if !ok {
                    Plain::line(
                        at,
                        "item",
                        &format!(
                            "{} failed: {} ({done}/{total} items finished)",
                            unit(step, Some(*item)),
                            error.as_deref().unwrap_or("unknown error")
                        ),
                    );
                    return;
                }
                let tenth = done * 10 / (*total).max(1);
                let (last, items) = self.maps.entry(step.to_string()).or_insert((0, 0));
                *items = *total;
                if *total <= 10 || tenth > *last {
                    *last = tenth;
                    Plain::line(at, "item", &format!("{step}  {done}/{total} items done"));
                }
            }
            RunEvent::StepOutput { .. } | RunEvent::DataSent { .. } => {}
            RunEvent::FileWritten {
                step, path, bytes, ..
            } => Plain::line(
                at,
                "file",
                &format!("{step} wrote files/{path} ({bytes} bytes)"),
            ),
            RunEvent::StepRetrying {
                step,
                item,
                next_attempt,
                delay_ms,
                error,
            } => Plain::line(
                at,
                "retrying",
                &format!(
                    "{}  attempt {} failed: {}; attempt {next_attempt} in {}",
                    unit(step, *item),
                    next_attempt.saturating_sub(1),
                    one_line(error, 200),
                    duration(*delay_ms)
                ),
            ),
            RunEvent::StepFellBack {
                step,
                item,
                fallback,
                type_name,
                error,
            } => Plain::line(
                at,
                "fell back",
                &format!(
                    "{}  to fallback {} ({type_name}): {}",
                    unit(step, *item),
                    fallback + 1,
                    one_line(error, 200)
                ),
            ),
            RunEvent::StepSkipped { step, reason } => {
                Plain::line(at, "skipped", &format!("{step}  {}", one_line(reason, 200)));
            }
            RunEvent::StepFailed {
                step,
                error,
                optional,
            } => Plain::line(
                at,
                "failed",
                &format!(
                    "{step}  {}{}",
                    one_line(error, 200),
                    if *optional {
                        " (optional: the run goes on)"
                    } else {
                        ""
                    }
                ),
            ),
            RunEvent::StepCancelled { step } => Plain::line(at, "cancelled", step),
            RunEvent::StepSucceeded {
                step,
                elapsed_ms,
                attempts,
                usage,
                origin,
                ..
            } => {
                let mut rest = format!("{step}  in {}", duration(*elapsed_ms));
                match origin {
                    OutputOrigin::Played => {}
                    OutputOrigin::Cached => rest.push_str(", cached output reused"),
                    OutputOrigin::Given => rest.push_str(", output kept from before"),
                }
                if let Some((toks, chunks)) = self.streamed.remove(step.as_ref()) {
                    if toks > 0 {
                        rest.push_str(&format!(
                            ", streamed {} in {chunks} chunk{}",
                            tokens(toks),
                            crate::cmd::plural(chunks as usize)
                        ));
                    }
                }
                if let Some(u) = usage {
                    rest.push_str(&format!(
                        ", tokens {} in / {} out{}",
                        u.input_tokens,
                        u.output_tokens,
                        if u.estimated { " (estimated)" } else { "" }
                    ));
                }
                // A map counts its items' attempts too; its item count says more.
                match self.maps.remove(step.as_ref()) {
                    Some((_, items)) => rest.push_str(&format!(", {items} items")),
                    None if *attempts > 1 => rest.push_str(&format!(", {attempts} attempts")),
                    None => {}
                }
                let offline = self
                    .offline
                    .remove(step.as_ref())
                    .unwrap_or_else(|| self.context.is_offline(step));
                if offline {
                    rest.push_str(", offline");
                }
                Plain::line(at, "succeeded", &rest);
            }
            RunEvent::Bottleneck {
                step,
                kind,
                message,
                advice,
            } => match self.bottlenecks.show(*kind) {
                Shown::Full => {
                    Plain::line(at, "bottleneck", &format!("{step}  {message}; {advice}"))
                }
                Shown::Short => Plain::line(at, "bottleneck", &format!("{step}  {message}")),
                Shown::Hidden => {}
            },
        }
    }

    fn note(&mut self, text: &str) {
        outln!("{text}");
    }

    fn finish(&mut self, report: &RunReport) {
        if let Some(note) = self.bottlenecks.closing_note() {
            outln!("{note}");
        }
        outln!();
        for l in crate::summary::lines(report, &self.context.workspace, None) {
            outln!("{l}");
        }
    }
}

/// One line about a loop's round: "review round 3, score 0.9: approved (`until` held …)".
pub(crate) fn round_line(
    step: &str,
    round: u32,
    score: Option<f64>,
    exit: Option<symphony_conductor::LoopExit>,
    note: Option<&str>,
) -> String {
    let mut line = format!("{step} round {round}");
    if let Some(score) = score {
        line.push_str(&format!(", score {score}"));
    }
    if let Some(exit) = exit {
        line.push_str(&format!(": {}", exit.as_str()));
        if let Some(note) = note {
            line.push_str(&format!(" ({note})"));
        }
    }
    line
}

/// The most lines of a gate's review a terminal view prints (the app shows all of it).
const REVIEW_LINES: usize = 20;

/// What a terminal says when a gate waits: its question, what to review (cut at
/// [`REVIEW_LINES`] lines), what happens if nobody answers, and how to answer.
pub(crate) fn gate_waiting_lines(
    run_id: &str,
    step: &str,
    title: &str,
    review: &str,
    timeout_ms: Option<u64>,
    on_timeout: symphony_conductor::Decision,
) -> Vec<String> {
    let mut lines = vec![format!("{step} waits for a person: {title}")];
    let review_lines: Vec<&str> = review.lines().collect();
    for l in review_lines.iter().take(REVIEW_LINES) {
        lines.push(format!("    │ {}", one_line(l, 160)));
    }
    if review_lines.len() > REVIEW_LINES {
        lines.push(format!(
            "    │ … {} more lines (the app shows all of it)",
            review_lines.len() - REVIEW_LINES
        ));
    }
    if let Some(ms) = timeout_ms {
        lines.push(format!(
            "    if nobody answers within {}, it is {}",
            duration(ms),
            on_timeout.past()
        ));
    }
    lines.push(format!(
        "    answer: `symphony runs approve {run_id} {step}` or `symphony runs reject {run_id} {step} --reason …` (or the app's board)"
    ));
    lines
}

/// One line about a gate's answer: "review approved by cli (looks good)".
pub(crate) fn gate_answered_line(
    step: &str,
    decision: symphony_conductor::Decision,
    by: &str,
    reason: Option<&str>,
    edited: bool,
) -> String {
    let mut line = format!("{step} {} by {by}", decision.past());
    if edited {
        line.push_str(", with an edited value");
    }
    if let Some(reason) = reason {
        line.push_str(&format!(" ({})", one_line(reason, 160)));
    }
    line
}
