//! The table printed when a run ends: one row per step, then the totals and where to look.
//!
//! It reads only the conductor's [`RunReport`], so the live and the plain view end the same
//! way. Token counts marked `~` are estimates (no provider reported them, e.g. offline
//! instruments); a cost of `-` means the price is unknown.

use std::path::Path;

use console::{measure_text_width, style};
use symphony_conductor::{RunReport, RunStatus, StepOutcome, StepReport};

use crate::cmd::duration;

/// The longest note shown in the table; the full text is in the JSON report (`--json`).
const NOTE_WIDTH: usize = 120;
/// Notes are never cut shorter than this, however narrow the terminal.
const MIN_NOTE_WIDTH: usize = 24;
/// Up to this many steps, every step gets a row. Beyond it, the table keeps the steps that did
/// not succeed and the slowest that did, so a 5,000-step run still ends on a readable screen.
const MAX_ROWS: usize = 40;
/// How many of the slowest succeeded steps a long table keeps.
const SLOWEST: usize = 10;

/// The summary's lines, ready to print. With a terminal `width`, notes are cut so that rows
/// do not wrap.
pub fn lines(report: &RunReport, workspace: &Path, width: Option<usize>) -> Vec<String> {
    let header = [
        "step",
        "outcome",
        "attempts",
        "time",
        "tokens in/out",
        "cost",
        "note",
    ];
    let shown = shown_steps(report);
    let left_out = report.steps.len() - shown.len();
    let mut rows: Vec<[String; 7]> = shown.into_iter().map(row).collect();
    let mut widths: Vec<usize> = header.iter().map(|h| h.len()).collect();
    for r in &rows {
        for (w, cell) in widths.iter_mut().zip(r.iter()).take(6) {
            *w = (*w).max(measure_text_width(cell));
        }
    }
    let before_note: usize = widths[..6].iter().map(|w| w + 2).sum();
    let note_width = width
        .map_or(NOTE_WIDTH, |w| w.saturating_sub(before_note + 1))
        .clamp(MIN_NOTE_WIDTH, NOTE_WIDTH);
    for r in &mut rows {
        r[6] = cut(&r[6], note_width);
    }
    let render = |cells: &[String]| {
        let last = cells.len() - 1;
        cells
            .iter()
            .enumerate()
            .map(|(i, c)| {
                if i == last {
                    c.clone()
                } else {
                    let pad = widths[i].saturating_sub(measure_text_width(c));
                    // Numbers align right, words left.
                    if (2..=5).contains(&i) {
                        format!("{}{c}", " ".repeat(pad))
                    } else {
                        format!("{c}{}", " ".repeat(pad))
                    }
                }
            })
            .collect::<Vec<_>>()
            .join("  ")
            .trim_end()
            .to_owned()
    };
    let mut out = Vec::with_capacity(rows.len() + 6);
    let head: Vec<String> = header.iter().map(|h| (*h).to_owned()).collect();
    out.push(format!("{}", style(render(&head)).bold()));
    for r in &rows {
        out.push(render(r));
    }
    if left_out > 0 {
        out.push(format!(
            "… and {left_out} more succeeded step{} (every step is in the --json report and under steps/ in the workspace)",
            crate::cmd::plural(left_out)
        ));
    }
    out.push(String::new());
    out.extend(totals(report));
    out.push(format!("workspace: {}", workspace.display()));
    out.push(format!(
        "result:    {}",
        workspace.join("result.json").display()
    ));
    out
}

/// The steps that get a row, in melody order: all of them in a short run; in a long one, those
/// that did not succeed and the slowest that did.
fn shown_steps(report: &RunReport) -> Vec<&StepReport> {
    if report.steps.len() <= MAX_ROWS {
        return report.steps.iter().collect();
    }
    let mut succeeded: Vec<(usize, &StepReport)> = report
        .steps
        .iter()
        .enumerate()
        .filter(|(_, s)| s.outcome == StepOutcome::Succeeded)
        .collect();
    succeeded.sort_by_key(|(i, s)| (std::cmp::Reverse(s.elapsed_ms), *i));
    let slowest: std::collections::HashSet<usize> =
        succeeded.iter().take(SLOWEST).map(|(i, _)| *i).collect();
    report
        .steps
        .iter()
        .enumerate()
        .filter(|(i, s)| s.outcome != StepOutcome::Succeeded || slowest.contains(i))
        .map(|(_, s)| s)
        .collect()
}

fn row(step: &StepReport) -> [String; 7] {
    let outcome = match step.outcome {
        StepOutcome::Succeeded => style("succeeded").green().to_string(),
        StepOutcome::Failed => style("failed").red().bold().to_string(),
        StepOutcome::Skipped => style("skipped").dim().to_string(),
        StepOutcome::Cancelled => style("cancelled").red().to_string(),
        StepOutcome::NotRun => style("not run").dim().to_string(),
    };
    let ran = step.attempts > 0 || step.elapsed_ms > 0;
    let (toks, cost) = match &step.usage {
        Some(u) => (
            format!(
                "{}/{}{}",
                u.input_tokens,
                u.output_tokens,
                if u.estimated { "~" } else { "" }
            ),
            u.cost_usd.map_or("-".to_owned(), money),
        ),
        None => ("-".to_owned(), "-".to_owned()),
    };
    let mut note = Vec::new();
    match step.origin {
        symphony_conductor::OutputOrigin::Played => {}
        symphony_conductor::OutputOrigin::Cached => note.push("cached".to_owned()),
        symphony_conductor::OutputOrigin::Given => note.push("kept".to_owned()),
    }
    if step.offline {
        note.push("offline".to_owned());
    }
    if let Some(n) = &step.note {
        note.push(n.clone());
    }
    [
        step.id.clone(),
        outcome,
        step.attempts.to_string(),
        if ran {
            duration(step.elapsed_ms)
        } else {
            "-".into()
        },
        toks,
        cost,
        note.join("; "),
    ]
}

/// Two lines: how the run ended and the step counts; then tokens and cost.
fn totals(report: &RunReport) -> [String; 2] {
    let t = &report.totals;
    let status = match report.status {
        RunStatus::Succeeded => style("succeeded").green().bold().to_string(),
        RunStatus::Failed => style("failed").red().bold().to_string(),
        RunStatus::Cancelled => style("cancelled").red().bold().to_string(),
    };
    let mut counts = format!(
        "{} of {} step{} succeeded, {} failed, {} skipped",
        t.succeeded,
        t.steps,
        crate::cmd::plural(t.steps as usize),
        t.failed,
        t.skipped
    );
    if t.cancelled > 0 {
        counts.push_str(&format!(", {} cancelled or not run", t.cancelled));
    }
    [
        format!("run {status} in {} · {counts}", duration(t.elapsed_ms)),
        format!(
            "tokens {} in / {} out{} · cost {}",
            t.input_tokens,
            t.output_tokens,
            if t.tokens_estimated {
                " (~ estimated)"
            } else {
                ""
            },
            money(t.cost_usd)
        ),
    ]
}

/// `$0`, `$0.0042`, `$1.25`.
fn money(usd: f64) -> String {
    if usd == 0.0 {
        "$0".into()
    } else if usd < 0.01 {
        format!("${usd:.4}")
    } else {
        format!("${usd:.2}")
    }
}

/// One line, at most `max` characters.
fn cut(text: &str, max: usize) -> String {
    let flat: String = text
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    if flat.chars().count() > max {
        let head: String = flat.chars().take(max - 1).collect();
        format!("{head}…")
    } else {
        flat
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use symphony_conductor::Totals;

    fn step(i: usize, outcome: StepOutcome, elapsed_ms: u64) -> StepReport {
        StepReport {
            id: format!("s{i:02}"),
            outcome,
            attempts: 1,
            elapsed_ms,
            note: None,
            usage: None,
            offline: false,
            origin: symphony_conductor::OutputOrigin::Played,
        }
    }

    fn report(steps: Vec<StepReport>) -> RunReport {
        RunReport {
            run_id: "r".into(),
            status: RunStatus::Failed,
            totals: Totals::default(),
            steps,
            result: Default::default(),
        }
    }

    #[test]
    fn long_runs_keep_failures_and_the_slowest_steps() {
        let steps = (0..50)
            .map(|i| match i {
                7 => step(i, StepOutcome::Failed, 5),
                _ => step(i, StepOutcome::Succeeded, i as u64),
            })
            .collect();
        let lines = lines(&report(steps), Path::new("ws"), None);
        let ids: Vec<&str> = lines[1..]
            .iter()
            .take_while(|l| l.starts_with('s'))
            .map(|l| &l[..3])
            .collect();
        assert_eq!(
            ids,
            ["s07", "s40", "s41", "s42", "s43", "s44", "s45", "s46", "s47", "s48", "s49"]
        );
        assert!(lines.iter().any(|l| l.starts_with("… and 39 more")));
    }

    #[test]
    fn short_runs_show_every_step() {
        let steps = (0..3).map(|i| step(i, StepOutcome::Succeeded, 1)).collect();
        let lines = lines(&report(steps), Path::new("ws"), None);
        assert!(lines[1].starts_with("s00") && lines[3].starts_with("s02"));
        assert!(!lines.iter().any(|l| l.starts_with('…')));
    }

    #[test]
    fn money_and_cut() {
        assert_eq!(money(0.0), "$0");
        assert_eq!(money(0.0042), "$0.0042");
        assert_eq!(money(1.254), "$1.25");
        assert_eq!(cut("a\nb", 10), "a b");
        assert_eq!(cut("abcdef", 4), "abc…");
    }
}
