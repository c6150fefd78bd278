//! The live terminal view: one line per active step, an overall bar, and a log above them.
//!
//! Drawn with indicatif's `MultiProgress` on stdout, at most 15 times a second. A line shows the
//! step's spinner, id, state (queued, running, retrying in Ns, fell back), attempt when past the
//! first, elapsed time, tokens streamed so far, `offline` for offline instruments, and a bar of
//! finished items for a map. Queued steps get a line only while the terminal has room (the
//! overall line counts them all). When a step ends its line is removed and one log line is printed
//! above the bars instead (`✓ plan  1.20s  312 tok  offline`). Time-driven parts (elapsed,
//! countdowns) are redrawn by [`View::tick`], which the run command calls every 100 ms.

use std::collections::{HashMap, HashSet};
use std::time::{Duration, Instant};

use console::style;
use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};
use symphony_conductor::{EventRecord, OutputOrigin, RunEvent, RunReport};

use super::{one_line, tokens, unit, Bottlenecks, RunContext, Shown, View};
use crate::cmd::duration;

/// What an active step is doing, as its line shows it.
enum State {
    Queued,
    Running,
    /// A gate waiting for a person's answer.
    Asking,
    Retrying {
        until: Instant,
    },
    FellBack {
        to: String,
    },
}

/// One active step's line.
struct Line {
    bar: ProgressBar,
    state: State,
    attempt: u32,
    /// When its first attempt began.
    started: Option<Instant>,
    tokens: u64,
    /// Map items finished and queued, once the step has fanned out.
    items: Option<(u32, u32)>,
    offline: bool,
}

/// The live terminal view.
pub struct Live {
    context: RunContext,
    multi: MultiProgress,
    overall: ProgressBar,
    /// Active steps only; a finished step's line is removed.
    lines: HashMap<String, Line>,
    /// Steps queued and not yet started, counted in the overall line even when they have no
    /// line of their own.
    queued: HashSet<String>,
    /// How many step lines fit under the header; queued steps beyond it get no line.
    max_lines: usize,
    bottlenecks: Bottlenecks,
    step_style: ProgressStyle,
    map_style: ProgressStyle,
    offline_run: bool,
    started: Instant,
}

/// A style for templates that are fixed strings; they cannot fail to parse.
fn template(t: &str) -> ProgressStyle {
    ProgressStyle::with_template(t)
        .unwrap_or_else(|_| ProgressStyle::default_spinner())
        .tick_chars("⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏ ")
        .progress_chars("█▌ ")
}

impl Live {
    /// Starts drawing; nothing shows until the run starts.
    pub fn new(context: RunContext) -> Self {
        // 15 redraws a second at most, whatever the event rate.
        let multi = MultiProgress::with_draw_target(ProgressDrawTarget::stdout_with_hz(15));
        let overall = multi.add(ProgressBar::new(0));
        overall.set_style(template(
            "{spinner:.green} {pos}/{len} steps {bar:24.green/white} {msg}",
        ));
        Live {
            context,
            multi,
            overall,
            lines: HashMap::new(),
            queued: HashSet::new(),
            bottlenecks: Bottlenecks::default(),
            max_lines: usize::from(console::Term::stdout().size().0)
                .saturating_sub(8)
                .max(4),
            step_style: template("{spinner:.cyan} {msg}"),
            map_style: template("{spinner:.cyan} {msg} {bar:20.cyan/blue} {pos}/{len} items"),
            offline_run: false,
            started: Instant::now(),
        }
    }

    fn println(&self, text: impl AsRef<str>) {
        // Hidden or closed output: nothing to do.
        let _ = self.multi.println(text);
    }

    /// The line of a step, added above the overall bar when the step first shows up and the
    /// terminal has room. A starting step (`running`) makes room by taking the place of a
    /// queued one; a queued step only takes free room. `None`: no line for this step for now.
    fn line(&mut self, step: &str, running: bool) -> Option<&mut Line> {
        if !self.lines.contains_key(step) && self.lines.len() >= self.max_lines {
            if !running {
                return None;
            }
            let waiting = self
                .lines
                .iter()
                .find(|(_, l)| matches!(l.state, State::Queued))
                .map(|(id, _)| id.clone())?;
            if let Some(old) = self.lines.remove(&waiting) {
                old.bar.finish_and_clear();
                self.multi.remove(&old.bar);
            }
        }
        let Live {
            lines,
            multi,
            overall,
            step_style,
            context,
            ..
        } = self;
        Some(lines.entry(step.to_owned()).or_insert_with(|| {
            let bar = multi.insert_before(overall, ProgressBar::new(0));
            bar.set_style(step_style.clone());
            Line {
                bar,
                state: State::Queued,
                attempt: 1,
                started: None,
                tokens: 0,
                items: None,
                offline: context.is_offline(step),
            }
        }))
    }

    /// Redraws a step's line from what is known of it.
    fn render(&self, step: &str) {
        let width = self.context.id_width;
        let Some(line) = self.lines.get(step) else {
            return;
        };
        let now = Instant::now();
        // Pad before styling: escape codes would count as width.
        let (text, paint): (String, fn(String) -> String) = match &line.state {
            State::Queued => ("queued".into(), |t| style(t).dim().to_string()),
            State::Running if line.items.is_some() => ("mapping".into(), |t| t),
            State::Running => ("running".into(), |t| t),
            State::Asking => ("waiting for you".into(), |t| style(t).yellow().to_string()),
            State::Retrying { until } => (
                format!(
                    "retrying in {:.0}s",
                    until.saturating_duration_since(now).as_secs_f64().ceil()
                ),
                |t| style(t).yellow().to_string(),
            ),
            State::FellBack { to } => (format!("fell back → {to}"), |t| {
                style(t).yellow().to_string()
            }),
        };
        let state = paint(format!("{text:<16}"));
        let mut parts = vec![format!("{step:<width$}"), state];
        // The attempt column is kept even when empty, so elapsed times line up.
        let attempt = if line.attempt > 1 {
            format!("attempt {}", line.attempt)
        } else {
            String::new()
        };
        parts.push(format!("{attempt:<10}"));
        if let Some(t) = line.started {
            parts.push(format!("{:>6.1}s", now.duration_since(t).as_secs_f64()));
        }
        if line.tokens > 0 {
            parts.push(tokens(line.tokens));
        }
        if line.offline {
            parts.push(format!("{}", style("offline").yellow()));
        }
        line.bar.set_message(parts.join("  "));
    }

    /// Removes a finished step's line and logs what became of it.
    fn close(&mut self, step: &str, log: String) {
        self.queued.remove(step);
        if let Some(line) = self.lines.remove(step) {
            line.bar.finish_and_clear();
            self.multi.remove(&line.bar);
        }
        self.overall.inc(1);
        self.println(log);
        self.render_overall();
    }

    fn render_overall(&self) {
        let elapsed = self.started.elapsed().as_secs_f64();
        let running = self
            .lines
            .values()
            .filter(|l| !matches!(l.state, State::Queued))
            .count();
        let mut msg = format!("{elapsed:.1}s · {running} running");
        if !self.queued.is_empty() {
            msg.push_str(&format!(" · {} queued", self.queued.len()));
        }
        if self.offline_run {
            msg.push_str(&format!(" · {}", style("OFFLINE rehearsal").yellow()));
        }
        self.overall.set_message(msg);
    }

    /// A step id padded to the id column, so log lines line up with the active lines.
    fn id(&self, step: &str) -> String {
        let width = self.context.id_width;
        format!("{step:<width$}")
    }

    /// `  offline` when the step is (still) played by an offline instrument.
    fn offline_tag(&self, step: &str) -> String {
        let offline = self
            .lines
            .get(step)
            .map_or_else(|| self.context.is_offline(step), |l| l.offline);
        if offline {
            format!("  {}", style("offline").yellow())
        } else {
            String::new()
        }
    }
}

impl View for Live {
    fn event(&mut self, record: &EventRecord) {
        match &record.event {
            RunEvent::RunStarted {
                steps,
                max_parallel,
                offline,
                ..
            } => {
                self.offline_run = *offline;
                // The run's clock started `at_ms` before this event was read.
                self.started = Instant::now()
                    .checked_sub(Duration::from_millis(record.at_ms))
                    .unwrap_or_else(Instant::now);
                for l in self.context.header(*steps, *max_parallel, *offline) {
                    self.println(l);
                }
                self.overall.set_length(u64::from(*steps));
                self.render_overall();
            }
            RunEvent::RunPaused => self.println(format!("{} run paused", style("‖").yellow())),
            RunEvent::RunResumed => self.println(format!("{} run resumed", style("▶").green())),
            RunEvent::RunFinished { .. } => {
                self.overall.finish_and_clear();
            }
            RunEvent::StepQueued {
                step, item: None, ..
            } => {
                self.queued.insert(step.to_string());
                if self.line(step, false).is_some() {
                    self.render(step);
                }
                self.render_overall();
            }
            RunEvent::StepQueued {
                step,
                item: Some(_),
                ..
            } => {
                let map_style = self.map_style.clone();
                if let Some(line) = self.line(step, true) {
                    let (done, total) = line.items.unwrap_or((0, 0));
                    if line.items.is_none() {
                        line.bar.set_style(map_style);
                    }
                    line.items = Some((done, total + 1));
                    line.bar.set_length(u64::from(total + 1));
                    self.render(step);
                }
            }
            RunEvent::StepStarted {
                step,
                item: None,
                attempt,
                offline,
                ..
            } => {
                self.queued.remove(step.as_ref());
                if let Some(line) = self.line(step, true) {
                    line.state = State::Running;
                    line.attempt = *attempt;
                    // After a fallback the type playing the step may call a model after all.
                    line.offline = *offline;
                    line.started.get_or_insert_with(Instant::now);
                    self.render(step);
                }
                self.render_overall();
            }
            RunEvent::StepStarted { .. } => {}
            RunEvent::StepProgress {
                step, tokens: n, ..
            } => {
                // Only active steps have a line; late progress of a finished one is dropped.
                if let Some(line) = self.lines.get_mut(step.as_ref()) {
                    line.tokens += n;
                    self.render(step);
                }
            }
            RunEvent::StepRound {
                step,
                round,
                score,
                exit,
                note,
                ..
            } => {
                let line = super::plain::round_line(
                    &self.id(step),
                    *round,
                    *score,
                    *exit,
                    note.as_deref(),
                );
                self.println(format!("{} {line}", style("↻").cyan()));
            }
            RunEvent::GateWaiting {
                step,
                title,
                review,
                timeout_ms,
                on_timeout,
                ..
            } => {
                let lines = super::plain::gate_waiting_lines(
                    &self.context.run_id,
                    step,
                    title,
                    review,
                    *timeout_ms,
                    *on_timeout,
                );
                self.println(format!("{} {}", style("⏸").yellow(), lines[0]));
                for l in &lines[1..] {
                    self.println(format!("  {l}"));
                }
                if let Some(line) = self.lines.get_mut(step.as_ref()) {
                    line.state = State::Asking;
                }
                self.render(step);
            }
            RunEvent::GateAnswered {
                step,
                decision,
                reason,
                value,
                by,
            } => {
                let mark = match decision {
                    symphony_conductor::Decision::Approve => style("✓").green(),
                    symphony_conductor::Decision::Reject => style("✗").red(),
                };
                self.println(format!(
                    "{mark} {}",
                    super::plain::gate_answered_line(
                        step,
                        *decision,
                        by,
                        reason.as_deref(),
                        value.is_some()
                    )
                ));
                if let Some(line) = self.lines.get_mut(step.as_ref()) {
                    line.state = State::Running;
                }
            }
            RunEvent::StepItemFinished {
                step,
                item,
                ok,
                error,
                done,
                total,
            } => {
                if let Some(line) = self.lines.get_mut(step.as_ref()) {
                    line.items = Some((*done, *total));
                    line.bar.set_length(u64::from(*total));
                    line.bar.set_position(u64::from(*done));
                }
                if !ok {
                    self.println(format!(
                        "{} {} item failed: {}",
                        style("✗").red(),
                        self.id(&unit(step, Some(*item))),
                        error.as_deref().unwrap_or("unknown error")
                    ));
                }
                self.render(step);
            }
            // Files are listed with the run (`symphony runs show`); the live view shows steps.
            RunEvent::StepOutput { .. }
            | RunEvent::DataSent { .. }
            | RunEvent::FileWritten { .. }
            | RunEvent::StepPrompt { .. }
            | RunEvent::StepExchange { .. }
            | RunEvent::StepLog { .. } => {}
            RunEvent::StepRetrying {
                step,
                item,
                next_attempt,
                delay_ms,
                error,
            } => {
                if let (None, Some(line)) = (item, self.lines.get_mut(step.as_ref())) {
                    line.state = State::Retrying {
                        until: Instant::now() + Duration::from_millis(*delay_ms),
                    };
                    line.attempt = *next_attempt;
                    self.render(step);
                }
                self.println(format!(
                    "{} {} attempt {} failed: {}",
                    style("↻").yellow(),
                    self.id(&unit(step, *item)),
                    next_attempt.saturating_sub(1),
                    one_line(error, 160)
                ));
            }
            RunEvent::StepFellBack {
                step,
                item,
                type_name,
                error,
                ..
            } => {
                if let (None, Some(line)) = (item, self.lines.get_mut(step.as_ref())) {
                    line.state = State::FellBack {
                        to: type_name.to_string(),
                    };
                    self.render(step);
                }
                self.println(format!(
                    "{} {} fell back to {type_name}: {}",
                    style("⤷").yellow(),
                    self.id(&unit(step, *item)),
                    one_line(error, 160)
                ));
            }
            RunEvent::StepSkipped { step, reason } => {
                let log = format!(
                    "{} {} skipped: {}",
                    style("↷").dim(),
                    self.id(step),
                    one_line(reason, 160)
                );
                self.close(step, log);
            }
            RunEvent::StepFailed {
                step,
                error,
                optional,
            } => {
                let log = format!(
                    "{} {} failed{}: {}",
                    style("✗").red().bold(),
                    self.id(step),
                    if *optional { " (optional)" } else { "" },
                    one_line(error, 200),
                );
                self.close(step, log);
            }
            RunEvent::StepCancelled { step } => {
                let log = format!("{} {} cancelled", style("■").red(), self.id(step));
                self.close(step, log);
            }
            RunEvent::StepSucceeded {
                step,
                elapsed_ms,
                attempts,
                usage,
                origin,
                ..
            } => {
                let streamed = self.lines.get(step.as_ref()).map_or(0, |l| l.tokens);
                let toks = usage
                    .as_ref()
                    .map_or(streamed, |u| u.output_tokens.max(streamed));
                let mut log = format!(
                    "{} {} {:>7}",
                    style("✓").green().bold(),
                    self.id(step),
                    duration(*elapsed_ms)
                );
                if toks > 0 {
                    log.push_str(&format!("  {}", tokens(toks)));
                }
                // A map counts its items' attempts too; its item count says more.
                match self.lines.get(step.as_ref()).and_then(|l| l.items) {
                    Some((_, total)) => log.push_str(&format!("  {total} items")),
                    None if *attempts > 1 => log.push_str(&format!("  {attempts} attempts")),
                    None => {}
                }
                match origin {
                    OutputOrigin::Played => {}
                    OutputOrigin::Cached => log.push_str(&format!("  {}", style("cached").cyan())),
                    OutputOrigin::Given => log.push_str(&format!("  {}", style("kept").cyan())),
                }
                log.push_str(&self.offline_tag(step));
                self.close(step, log);
            }
            RunEvent::Bottleneck {
                step,
                kind,
                message,
                advice,
            } => match self.bottlenecks.show(*kind) {
                Shown::Full => self.println(format!(
                    "{} bottleneck: {step} {message}; {advice}",
                    style("⚠").yellow().bold()
                )),
                Shown::Short => self.println(format!(
                    "{} bottleneck: {step} {message}",
                    style("⚠").yellow().bold()
                )),
                Shown::Hidden => {}
            },
        }
    }

    fn note(&mut self, text: &str) {
        self.println(format!("{} {text}", style("!").yellow().bold()));
    }

    fn tick(&mut self) {
        let steps: Vec<String> = self.lines.keys().cloned().collect();
        for step in steps {
            self.render(&step);
            if let Some(line) = self.lines.get(&step) {
                line.bar.tick();
            }
        }
        self.render_overall();
        self.overall.tick();
    }

    fn abandon(&mut self) {
        let _ = self.multi.clear();
    }

    fn finish(&mut self, report: &RunReport) {
        for (_, line) in self.lines.drain() {
            line.bar.finish_and_clear();
        }
        self.overall.finish_and_clear();
        let _ = self.multi.clear();
        if let Some(note) = self.bottlenecks.closing_note() {
            outln!("{} {note}", style("⚠").yellow().bold());
        }
        outln!();
        let width = usize::from(console::Term::stdout().size().1);
        for l in crate::summary::lines(report, &self.context.workspace, Some(width)) {
            outln!("{l}");
        }
    }
}
