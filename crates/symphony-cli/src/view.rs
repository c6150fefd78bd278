//! How a run is shown while it plays: the live terminal view, plain lines, or JSON lines.
//!
//! All three read the same [`EventRecord`]s from the conductor and never steer the run; they
//! only print. [`open`] picks one:
//!
//! - **Live** (stdout is a terminal): an indicatif `MultiProgress` with one line per *active*
//!   step (spinner, id, state, attempt, elapsed time, streamed tokens, a bar for map items) and
//!   an overall `N/M steps` bar. A step's line is removed when it finishes and replaced by one
//!   log line above the bars (`✓ plan  1.20s  312 tok`). Offline instruments say `offline`.
//! - **Plain** (piped): one timestamped line per state change. Streamed progress is not
//!   printed as it comes; it is summed up in the step's `succeeded` line. `queued` is left out
//!   too: a step normally starts the moment it is queued, and a long wait for a slot is reported
//!   as a bottleneck.
//! - **JSON** (`--json`): every event as one JSON object per line, then
//!   `{"type": "report", ...}`. Human messages go to stderr so stdout stays machine-readable.
//!
//! Live and plain end with the summary table of [`crate::summary`]. Each view has its own
//! file below `view/`; this one holds what they share.

mod json;
mod live;
mod plain;

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};

use console::style;
use symphony_conductor::{BottleneckKind, EventRecord, Registry, RunReport};
use symphony_melody::Melody;

/// Which view to show.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// The live terminal view.
    Live,
    /// Plain lines, for pipes and logs.
    Plain,
    /// Newline-delimited JSON.
    Json,
}

/// A way of showing a run.
pub trait View {
    /// Shows one event.
    fn event(&mut self, record: &EventRecord);
    /// Shows a message from the host (not from the run), e.g. that Ctrl-C was heard.
    fn note(&mut self, text: &str);
    /// Redraws what changes with time alone (elapsed times, retry countdowns).
    fn tick(&mut self) {}
    /// Clears anything drawn, before the process exits early.
    fn abandon(&mut self) {}
    /// Shows the end of the run: the summary, or the JSON report.
    fn finish(&mut self, report: &RunReport);
}

/// What a view knows of the run besides its events.
pub struct RunContext {
    melody_id: String,
    melody_name: String,
    run_id: String,
    workspace: PathBuf,
    seed: u64,
    /// Whether each step is played by an offline instrument, by id.
    offline: HashMap<String, bool>,
    /// The width of the step-id column.
    id_width: usize,
}

impl RunContext {
    /// Gathers what the views need from the melody and the step types.
    pub fn new(
        melody: &Melody,
        registry: &Registry,
        run_id: &str,
        workspace: &Path,
        seed: u64,
    ) -> Self {
        RunContext {
            melody_id: melody.melody.id.clone(),
            melody_name: melody.melody.name.clone(),
            run_id: run_id.to_owned(),
            workspace: workspace.to_path_buf(),
            seed,
            offline: melody
                .steps
                .iter()
                .map(|s| (s.id.clone(), crate::cmd::is_offline(registry, &s.type_name)))
                .collect(),
            id_width: melody
                .steps
                .iter()
                .map(|s| s.id.chars().count())
                .max()
                .unwrap_or(4)
                .clamp(4, 24),
        }
    }

    fn is_offline(&self, step: &str) -> bool {
        self.offline.get(step).copied().unwrap_or(false)
    }

    /// The header lines both human views print when the run starts.
    fn header(&self, steps: u32, max_parallel: u32, offline: bool) -> Vec<String> {
        let mut lines = vec![format!(
            "▶ {} ({}) · {steps} step{}, up to {max_parallel} at once · run {}",
            self.melody_id,
            self.melody_name,
            crate::cmd::plural(steps as usize),
            self.run_id,
        )];
        if offline {
            lines.push(format!(
                "{}",
                style("OFFLINE rehearsal — no model is called")
                    .yellow()
                    .bold()
            ));
        }
        lines.push(format!(
            "workspace: {} · seed {}",
            self.workspace.display(),
            self.seed
        ));
        lines
    }
}

/// Opens the view for `mode`.
pub fn open(mode: Mode, context: RunContext) -> Box<dyn View> {
    match mode {
        Mode::Live => Box::new(live::Live::new(context)),
        Mode::Plain => Box::new(plain::Plain::new(context)),
        Mode::Json => {
            errln!(
                "workspace: {} · seed {}",
                context.workspace.display(),
                context.seed
            );
            Box::new(json::Json::new(context))
        }
    }
}

/// `312 tok`, `12.5k tok`.
fn tokens(n: u64) -> String {
    if n < 10_000 {
        format!("{n} tok")
    } else {
        format!("{:.1}k tok", n as f64 / 1000.0)
    }
}

/// One line of text: newlines become spaces, long text is cut.
fn one_line(text: &str, max: usize) -> String {
    let flat: String = text
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    if flat.chars().count() > max {
        let cut: String = flat.chars().take(max.saturating_sub(1)).collect();
        format!("{cut}…")
    } else {
        flat
    }
}

/// `plan` or `map[3]`.
fn unit(step: &str, item: Option<u32>) -> String {
    match item {
        Some(i) => format!("{step}[{i}]"),
        None => step.to_owned(),
    }
}

/// How much of a bottleneck warning to show.
#[derive(Debug, PartialEq, Eq)]
enum Shown {
    /// The message and the advice: the first warning of its kind.
    Full,
    /// The message only: the advice was given already.
    Short,
    /// Nothing now; counted for [`Bottlenecks::closing_note`].
    Hidden,
}

/// Keeps bottleneck warnings readable. The conductor warns once per step, so 40 steps queued
/// behind `maxParallel 3` give 37 "waited for a free slot" warnings that all say the same
/// thing; the human views show the first in full and count the rest.
#[derive(Default)]
struct Bottlenecks {
    seen: HashSet<BottleneckKind>,
    /// Slot waits after the first, not shown one by one.
    more_slot_waits: u32,
}

impl Bottlenecks {
    fn show(&mut self, kind: BottleneckKind) -> Shown {
        if self.seen.insert(kind) {
            Shown::Full
        } else if kind == BottleneckKind::WaitingForSlot {
            self.more_slot_waits += 1;
            Shown::Hidden
        } else {
            Shown::Short
        }
    }

    /// What the hidden warnings amounted to, printed once the run is over.
    fn closing_note(&self) -> Option<String> {
        (self.more_slot_waits > 0).then(|| {
            format!(
                "bottleneck: {} more step{} waited for a free slot",
                self.more_slot_waits,
                crate::cmd::plural(self.more_slot_waits as usize)
            )
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repeated_slot_waits_are_counted_not_shown() {
        let mut b = Bottlenecks::default();
        assert_eq!(b.show(BottleneckKind::WaitingForSlot), Shown::Full);
        assert_eq!(b.show(BottleneckKind::WaitingForSlot), Shown::Hidden);
        assert_eq!(b.show(BottleneckKind::WaitingForSlot), Shown::Hidden);
        assert_eq!(b.show(BottleneckKind::RepeatedRetries), Shown::Full);
        assert_eq!(b.show(BottleneckKind::RepeatedRetries), Shown::Short);
        assert_eq!(
            b.closing_note().as_deref(),
            Some("bottleneck: 2 more steps waited for a free slot")
        );
        assert_eq!(Bottlenecks::default().closing_note(), None);
    }

    #[test]
    fn one_line_cuts_and_flattens() {
        assert_eq!(one_line("a\nb", 10), "a b");
        assert_eq!(one_line("abcdef", 4), "abc…");
        assert_eq!(tokens(312), "312 tok");
        assert_eq!(tokens(12_500), "12.5k tok");
    }
}
