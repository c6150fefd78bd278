//! `answerGate`: a person's answer to a gate (`cue.gate`), from the app's board. The answer is
//! recorded in the run store first (the first answer wins, and it survives this process), then
//! handed to the run if this process plays it; another process playing it reads it from the
//! store (`launch::Playing`), a stopped run takes it when it is continued.

use symphony_conductor::GateAnswer;

use crate::error::HostError;
use crate::wire::{AnswerGateArgs, GateAnswerTaken};
use crate::Host;

impl Host {
    /// `answerGate`.
    pub async fn answer_gate(&self, a: AnswerGateArgs) -> Result<GateAnswerTaken, HostError> {
        let store = self.store().await?;
        let answer = GateAnswer {
            decision: a.decision,
            reason: a.reason.filter(|r| !r.trim().is_empty()),
            value: a.value,
            by: "app".into(),
        };
        store.answer_gate(&a.run_id, &a.step, &answer).await?;
        let past = answer.decision.past();
        if let Ok(control) = self.control(&a.run_id) {
            control.answer(&a.step, answer);
            return Ok(GateAnswerTaken {
                next: "here".into(),
                message: format!("`{}` {past}: the run has the answer now", a.step),
            });
        }
        let listing = store.listing(&a.run_id).await?;
        Ok(match listing.played_elsewhere {
            Some(by) => GateAnswerTaken {
                next: "elsewhere".into(),
                message: format!(
                    "`{}` {past}: {by} plays the run and takes the answer within a second",
                    a.step
                ),
            },
            None => GateAnswerTaken {
                next: "stopped".into(),
                message: format!(
                    "`{}` {past}: the run is stopped, and takes the answer when it is continued",
                    a.step
                ),
            },
        })
    }
}
