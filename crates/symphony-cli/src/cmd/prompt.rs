//! Answering a gate (`cue.gate`) where `symphony run` plays, when it is on a terminal: the run
//! asks for the first waiting gate, and a line typed answers it (`y` approves, `n` and a reason
//! rejects; anything else is explained, and the gate still waits for an answer from here or from
//! elsewhere: the board, `symphony runs approve`).
//!
//! Lines are read by a thread of their own (reading a terminal blocks), so the run's events go on
//! being shown and recorded while the person thinks. Lines typed while no gate asks are dropped
//! when one starts to: a stray `y` never approves what was not shown.

use std::io::BufRead;

use symphony_conductor::{Decision, GateAnswer};
use tokio::sync::mpsc;

/// The terminal's answers to the gates of one run.
pub struct Prompt {
    lines: Option<mpsc::UnboundedReceiver<String>>,
    /// The gate asked now.
    asking: Option<String>,
}

/// What a typed line means.
#[derive(Debug, PartialEq)]
pub enum Reply {
    /// An answer to send.
    Answer(GateAnswer),
    /// Not an answer: say this, and ask again.
    Explain(&'static str),
}

impl Prompt {
    /// A prompt that reads the terminal, or (not a terminal, or `--json`) one that never asks.
    pub fn new(enabled: bool) -> Prompt {
        let lines = enabled.then(|| {
            let (tx, rx) = mpsc::unbounded_channel();
            // Detached: a read in progress when the run ends is left to the process's exit.
            std::thread::spawn(move || {
                for line in std::io::stdin().lock().lines() {
                    let Ok(line) = line else { break };
                    if tx.send(line).is_err() {
                        break;
                    }
                }
            });
            rx
        });
        Prompt {
            lines,
            asking: None,
        }
    }

    /// Asks for `step` if no gate is asked now; returns what to print then.
    pub fn ask(&mut self, step: &str) -> Option<String> {
        if self.asking.is_some() {
            return None;
        }
        let lines = self.lines.as_mut()?;
        while lines.try_recv().is_ok() {}
        self.asking = Some(step.to_owned());
        Some(format!(
            "answer `{step}` here: y to approve it, n and a reason to reject it (n too costly), or leave it and answer elsewhere"
        ))
    }

    /// The gate asked now.
    pub fn asking(&self) -> Option<&str> {
        self.asking.as_deref()
    }

    /// `step` stopped waiting (answered from here or elsewhere, timed out, cancelled).
    pub fn answered(&mut self, step: &str) {
        if self.asking.as_deref() == Some(step) {
            self.asking = None;
        }
    }

    /// The next line typed while a gate is asked; pending forever otherwise.
    pub async fn line(&mut self) -> Option<String> {
        if let (Some(lines), Some(_)) = (&mut self.lines, &self.asking) {
            if let Some(line) = lines.recv().await {
                return Some(line);
            }
            // The terminal closed: nothing more will be typed.
            self.lines = None;
        }
        std::future::pending().await
    }
}

/// Reads a typed line as an answer.
pub fn reply(line: &str) -> Reply {
    let line = line.trim();
    let (word, rest) = line
        .split_once(char::is_whitespace)
        .map_or((line, ""), |(w, r)| (w, r.trim()));
    let answer = |decision, reason: &str| {
        Reply::Answer(GateAnswer {
            decision,
            reason: (!reason.is_empty()).then(|| reason.to_owned()),
            value: None,
            by: "terminal".into(),
        })
    };
    match word.to_ascii_lowercase().as_str() {
        "y" | "yes" | "approve" => answer(Decision::Approve, rest),
        "n" | "no" | "reject" if rest.is_empty() => {
            Reply::Explain("say why after the n (n too costly): the reason goes with the rejection")
        }
        "n" | "no" | "reject" => answer(Decision::Reject, rest),
        "" => Reply::Explain("type y to approve, or n and a reason to reject"),
        _ => Reply::Explain(
            "not an answer: type y to approve, or n and a reason to reject (to edit the value, use `symphony runs approve RUN STEP --edit FILE` or the board)",
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_read_as_answers() {
        let Reply::Answer(a) = reply(" y ") else {
            panic!()
        };
        assert_eq!(
            (a.decision, a.reason, a.by.as_str()),
            (Decision::Approve, None, "terminal")
        );
        let Reply::Answer(a) = reply("approve fine by me") else {
            panic!()
        };
        assert_eq!(a.reason.as_deref(), Some("fine by me"));
        let Reply::Answer(a) = reply("N   too costly ") else {
            panic!()
        };
        assert_eq!(
            (a.decision, a.reason.as_deref()),
            (Decision::Reject, Some("too costly"))
        );
        assert!(matches!(reply("n"), Reply::Explain(e) if e.contains("say why")));
        assert!(matches!(reply(""), Reply::Explain(_)));
        assert!(matches!(reply("maybe"), Reply::Explain(e) if e.contains("not an answer")));
    }
}
