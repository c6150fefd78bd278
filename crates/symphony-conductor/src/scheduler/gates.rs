//! Gates (`cue.gate`) waiting for a person. A gate's play renders what it asks and returns;
//! the wait is the scheduler's: the gate holds no slot and no task, only an entry here (with
//! its deadline, when it has a timeout). An answer comes in as a command
//! ([`super::Control::Answer`]) from the host, which recorded it first; a deadline that passes
//! takes the gate's `onTimeout` decision. A resumed run's gate takes the answer recorded while
//! no session played, or asks again with the time it already waited counted.

use std::collections::HashMap;
use std::time::Duration;

use tokio::time::Instant;

use super::{Scheduler, State};
use crate::event::RunEvent;
use crate::step::{ErrorKind, StepError};
use crate::steps::gate::{outcome, Ask, GateAnswer};

/// A gate that asked and waits.
pub(super) struct GateWait {
    ask: Ask,
    deadline: Option<Instant>,
}

/// The gates waiting in a run, by step position.
pub(super) type Gates = HashMap<usize, GateWait>;

impl Scheduler {
    /// The gate `s` asks: answered at once when a resumed run recorded its answer, else it
    /// waits.
    pub(super) fn start_gate(&mut self, s: usize, ask: Ask) {
        let id = self.score.steps[s].id.clone();
        let resumed = self.options.gates.get(&*id).cloned().unwrap_or_default();
        if let Some(answer) = resumed.answer {
            return self.end_gate(s, ask, answer);
        }
        let waited = Duration::from_millis(resumed.waited_ms);
        let deadline = ask
            .timeout
            .map(|t| Instant::now() + t.saturating_sub(waited));
        self.events.send(RunEvent::GateWaiting {
            step: id,
            title: ask.title.clone(),
            review: ask.review.clone(),
            format: ask.format,
            value: ask.value.clone(),
            timeout_ms: ask.timeout.map(|t| t.as_millis() as u64),
            waited_ms: resumed.waited_ms,
            on_timeout: ask.on_timeout,
        });
        self.books[s].asking = true;
        self.gates.insert(s, GateWait { ask, deadline });
    }

    /// A host's answer to the gate `id`; ignored unless that gate waits.
    pub(super) fn on_answer(&mut self, id: &str, answer: GateAnswer) {
        let Some(&s) = self.score.index.get(id) else {
            return;
        };
        if let Some(wait) = self.gates.remove(&s) {
            self.end_gate(s, wait.ask, answer);
        }
    }

    /// The earliest deadline of a waiting gate.
    pub(super) fn next_deadline(&self) -> Option<Instant> {
        self.gates.values().filter_map(|g| g.deadline).min()
    }

    /// Gates whose deadline has passed take their `onTimeout` decision.
    pub(super) fn on_deadlines(&mut self) {
        let now = Instant::now();
        let mut due: Vec<usize> = self
            .gates
            .iter()
            .filter(|(_, g)| g.deadline.is_some_and(|d| d <= now))
            .map(|(&s, _)| s)
            .collect();
        due.sort_unstable();
        for s in due {
            let wait = self.gates.remove(&s).expect("collected just above");
            let waited = wait.ask.timeout.unwrap_or_default();
            let answer = GateAnswer {
                decision: wait.ask.on_timeout,
                reason: Some(format!(
                    "nobody answered within {}",
                    crate::attempt::human(waited)
                )),
                value: None,
                by: "timeout".into(),
            };
            self.end_gate(s, wait.ask, answer);
        }
    }

    /// Every waiting gate ends without an answer (the run is cancelled, or nobody is left who
    /// could answer), as cancelled.
    pub(super) fn drop_gates(&mut self, why: &str) {
        let mut waiting: Vec<usize> = self.gates.drain().map(|(s, _)| s).collect();
        waiting.sort_unstable();
        for s in waiting {
            self.books[s].asking = false;
            if matches!(self.books[s].state, State::Running) {
                self.fail(s, StepError::fatal(ErrorKind::Cancelled, why));
            }
        }
    }

    /// Cancels the gate `s`, if it waits. Returns whether it did.
    pub(super) fn cancel_gate(&mut self, s: usize) -> bool {
        if self.gates.remove(&s).is_none() {
            return false;
        }
        self.books[s].asking = false;
        self.fail(
            s,
            StepError::fatal(
                ErrorKind::Cancelled,
                "cancelled while waiting for an answer",
            ),
        );
        true
    }

    /// The gate is answered: the answer is told, and the step ends as it decides.
    fn end_gate(&mut self, s: usize, ask: Ask, answer: GateAnswer) {
        // `asking` stays set: the time the gate took was a person's, which no warning about the
        // run's speed (the critical path's, at the tick that sees it end) should count.
        self.events.send(RunEvent::GateAnswered {
            step: self.score.steps[s].id.clone(),
            decision: answer.decision,
            reason: answer.reason.clone(),
            value: answer.value.clone(),
            by: answer.by.clone(),
        });
        match outcome(ask, &answer) {
            Ok(outputs) => self.finish_cue_output(s, outputs),
            Err(e) => self.fail(s, e),
        }
    }
}
