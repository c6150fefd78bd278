//! The live event stream of a run: one closed enum, and a channel that never blocks the engine.
//!
//! Every state change of a run is a [`RunEvent`]. Hosts (the CLI view, the store, the app, a
//! remote board) read them from an [`EventStream`]. The channel is unbounded so a slow listener
//! never slows the conductor, and state changes are never dropped. Progress (streamed tokens or
//! bytes) is the one kind of event that may be coalesced: while a step's previous progress is
//! still unread, new progress is added to it instead of queued behind it, so a step streaming
//! thousands of tokens a second costs the listener one event per read, not one per token.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use serde::Serialize;
use serde_json::{Map, Value};
use tokio::sync::mpsc;
use tokio::time::Instant;

use crate::step::{Outputs, Usage};
pub use crate::steps::gate::{Decision, ReviewFormat};

/// The version of the events' JSON: what [`EventRecord`] serializes to.
///
/// **Decision:** [`RunEvent`] is at once the engine's API, the wire format the app and
/// `symphony serve` send, and the log the store keeps, one type on purpose: no translation layer
/// can drift, and a run recorded today replays on the board as it was seen live. The price is
/// that its JSON is a file format. So it is versioned here and pinned by a golden test
/// (`tests/event_format.rs`, one line per event kind in `tests/golden/events-v{N}.jsonl`):
///
/// - adding an event kind or an optional field keeps the version (readers ignore kinds they do
///   not know and fields they do not read), and the golden file is blessed again;
/// - renaming or removing a field, or changing what one means, raises the version; the golden
///   file of the old version stays, and whatever reads stored events (the board, the store's
///   resume) says what it does with runs of the old version.
///
/// The store records the version each run was written with (`runs.event_format`) and does not
/// append to a run of another version (resume refuses; a fork starts a new run); the app gets
/// it with a run (`openRun`'s `eventFormat`) and the board says when a run is newer than what it
/// reads (`EVENT_FORMAT` in `ui/src/board/model.ts`, checked against these golden files).
pub const EVENT_FORMAT: u32 = 1;

/// A step id, cheap to clone into events.
pub type StepId = Arc<str>;

/// How a run ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "camelCase")]
pub enum RunStatus {
    /// Every step succeeded, was skipped, or failed while optional.
    Succeeded,
    /// A required step failed; the steps that finished kept their outputs.
    Failed,
    /// The run, or a required step, was cancelled.
    Cancelled,
}

/// What became of a step, as reported at the end of a run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "camelCase")]
pub enum StepOutcome {
    /// It produced its outputs.
    Succeeded,
    /// It was not played (skip condition, router, skipped or failed upstream).
    Skipped,
    /// It failed after its retries and fallbacks.
    Failed,
    /// It was cancelled.
    Cancelled,
    /// It never became ready (the run ended first).
    NotRun,
}

/// Counts and sums over a whole run.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "camelCase")]
pub struct Totals {
    /// Steps in the melody.
    pub steps: u32,
    /// Steps that succeeded.
    pub succeeded: u32,
    /// Steps that failed (optional ones included).
    pub failed: u32,
    /// Steps skipped.
    pub skipped: u32,
    /// Steps cancelled or never run.
    pub cancelled: u32,
    /// Attempts made, retries and map items included.
    pub attempts: u32,
    /// Wall time of the run in milliseconds.
    pub elapsed_ms: u64,
    /// Input tokens used by instruments.
    pub input_tokens: u64,
    /// Output tokens produced by instruments.
    pub output_tokens: u64,
    /// Whether any token count was estimated rather than reported by a provider.
    pub tokens_estimated: bool,
    /// Cost in US dollars, where prices are known.
    pub cost_usd: f64,
}

/// Where a succeeded step's output came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "camelCase")]
pub enum OutputOrigin {
    /// The step was played in this run.
    #[default]
    Played,
    /// A stored output of an earlier play with the same type, config and inputs was reused.
    Cached,
    /// The run was given the output (a resumed run's finished step, a pinned or edited
    /// output).
    Given,
}

/// Why a bottleneck warning was raised; its kinds live with the rest of the warnings.
pub use crate::warnings::BottleneckKind;

/// One thing that happened in a run. Every state change is one of these.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(
    tag = "type",
    rename_all = "camelCase",
    rename_all_fields = "camelCase"
)]
pub enum RunEvent {
    /// The run began.
    RunStarted {
        /// The run's id.
        run_id: String,
        /// The melody's id.
        melody_id: String,
        /// How many steps the melody has.
        steps: u32,
        /// How many steps may work at once.
        max_parallel: u32,
        /// True when every instrument in the melody is offline (no model is called).
        offline: bool,
    },
    /// The run stopped starting new steps; running ones go on.
    RunPaused,
    /// The run starts new steps again.
    RunResumed,
    /// The run ended.
    RunFinished {
        /// How it ended.
        status: RunStatus,
        /// Counts and sums.
        totals: Totals,
    },
    /// The step (or one map item of it) is ready and waits for a free slot.
    StepQueued {
        /// The step.
        step: StepId,
        /// The map item, for a map's body.
        item: Option<u32>,
        /// Its input values by port (`item` and `index` too, for a map item).
        inputs: Arc<Map<String, Value>>,
    },
    /// An attempt of the step began.
    StepStarted {
        /// The step.
        step: StepId,
        /// The map item, for a map's body.
        item: Option<u32>,
        /// 1 for the first attempt.
        attempt: u32,
        /// The step type playing it (differs from the step's own after a fallback).
        type_name: Arc<str>,
        /// True when the instrument calls no model.
        offline: bool,
    },
    /// Streamed work from a running step. Coalesced: one event may carry many chunks.
    StepProgress {
        /// The step.
        step: StepId,
        /// Text streamed since the previous progress event.
        text: String,
        /// Tokens streamed since the previous progress event.
        tokens: u64,
        /// Bytes streamed since the previous progress event.
        bytes: u64,
    },
    /// One item of a map finished.
    StepItemFinished {
        /// The map step.
        step: StepId,
        /// The item's position.
        item: u32,
        /// Whether it succeeded.
        ok: bool,
        /// Why it failed, when it did.
        error: Option<String>,
        /// Items finished so far.
        done: u32,
        /// Items in all.
        total: u32,
    },
    /// One round of a loop (`cue.loop`) was played: what it produced, its score, and whether
    /// the loop stops after it.
    StepRound {
        /// The loop step.
        step: StepId,
        /// The round, from 1.
        round: u32,
        /// The round's outputs by port.
        #[cfg_attr(
            feature = "ts",
            ts(as = "std::collections::BTreeMap<String, serde_json::Value>")
        )]
        outputs: Arc<Outputs>,
        /// The round's score, when the loop declares one and the round gave a number.
        score: Option<f64>,
        /// Why the loop stops here; `None` when another round follows.
        exit: Option<LoopExit>,
        /// What decided the exit, for a person ("round 4 repeats round 2's output").
        note: Option<String>,
    },
    /// The step produced its outputs (sent just before [`RunEvent::StepSucceeded`]).
    StepOutput {
        /// The step.
        step: StepId,
        /// Its outputs by port.
        #[cfg_attr(
            feature = "ts",
            ts(as = "std::collections::BTreeMap<String, serde_json::Value>")
        )]
        outputs: Arc<Outputs>,
    },
    /// An attempt failed and will be tried again after `delay_ms`.
    StepRetrying {
        /// The step.
        step: StepId,
        /// The map item, for a map's body.
        item: Option<u32>,
        /// The attempt that comes next.
        next_attempt: u32,
        /// The wait before it.
        delay_ms: u64,
        /// Why the attempt failed.
        error: String,
    },
    /// The step's attempts were exhausted and a fallback takes over.
    StepFellBack {
        /// The step.
        step: StepId,
        /// The map item, for a map's body.
        item: Option<u32>,
        /// The fallback's position in `policy.fallbacks`.
        fallback: u32,
        /// The step type of the fallback.
        type_name: Arc<str>,
        /// Why the previous way failed.
        error: String,
    },
    /// The step will not be played.
    StepSkipped {
        /// The step.
        step: StepId,
        /// Why.
        reason: String,
    },
    /// The step failed for good.
    StepFailed {
        /// The step.
        step: StepId,
        /// What went wrong.
        error: String,
        /// True when the step is optional, so the run goes on.
        optional: bool,
    },
    /// The step was cancelled.
    StepCancelled {
        /// The step.
        step: StepId,
    },
    /// The step succeeded.
    StepSucceeded {
        /// The step.
        step: StepId,
        /// Time from its first start to its end, in milliseconds.
        elapsed_ms: u64,
        /// Attempts made (all items of a map included); 0 when the output was reused.
        attempts: u32,
        /// Tokens and cost, for instruments (of this run: none for a reused output).
        #[cfg_attr(
            feature = "ts",
            ts(
                type = "{ inputTokens: number, outputTokens: number, estimated: boolean, costUsd: number | null } | null"
            )
        )]
        usage: Option<Usage>,
        /// Whether the step was played, or its output reused.
        origin: OutputOrigin,
        /// The key its output may be stored and found under, for cacheable step types: a hash
        /// of the type, its version, the config and the inputs.
        cache_key: Option<Arc<str>>,
    },
    /// What an instrument sent its model, once per attempt (rendered templates, no
    /// credentials).
    StepPrompt {
        /// The step.
        step: StepId,
        /// The map item, for a map's body.
        item: Option<u32>,
        /// The attempt (1 for the first).
        attempt: u32,
        /// The system prompt, if any.
        system: Option<String>,
        /// The prompt.
        prompt: String,
    },
    /// A step wrote a file in the run workspace's `files/` folder.
    FileWritten {
        /// The step.
        step: StepId,
        /// The file, relative to `files/`.
        path: String,
        /// Its size.
        bytes: u64,
        /// SHA-256 of its content, hex.
        sha256: String,
    },
    /// Data went along an edge.
    DataSent {
        /// The upstream step.
        from_step: StepId,
        /// Its output port.
        from_port: Arc<str>,
        /// The downstream step.
        to_step: StepId,
        /// Its input port.
        to_port: Arc<str>,
        /// The size of the value as JSON text.
        bytes: u64,
    },
    /// What an instrument sent and what it got back, once per attempt: the raw request body
    /// and the raw response body (for a streamed answer, the stream's text as received).
    /// Credentials are never in it: the key travels in a header that is not recorded, and
    /// error text is scrubbed.
    StepExchange {
        /// The step.
        step: StepId,
        /// The map item, for a map's body.
        item: Option<u32>,
        /// The attempt (1 for the first).
        attempt: u32,
        /// Where the request went (no query string).
        url: String,
        /// The HTTP status, when a response came.
        status: Option<u16>,
        /// The request body as sent (JSON; never headers, never a credential).
        request: Value,
        /// The response body or stream text, at most [`EXCHANGE_CAP`] bytes.
        response: String,
        /// True when `response` was cut at [`EXCHANGE_CAP`].
        truncated: bool,
    },
    /// One log line of a step: an agent's stdout or stderr, or an instrument's note of what it
    /// did ("POST … → 200 in 1.2 s"). Credentials are never in it: the key travels in a header
    /// that is not recorded, and error text is scrubbed.
    StepLog {
        /// The step.
        step: StepId,
        /// The map item, for a map's body.
        item: Option<u32>,
        /// `stdout`, `stderr` or `info`.
        stream: Arc<str>,
        /// The line, without its line ending.
        line: String,
    },
    /// Something is holding the run up.
    Bottleneck {
        /// The step concerned.
        step: StepId,
        /// What kind of bottleneck.
        kind: BottleneckKind,
        /// What is happening, with figures.
        message: String,
        /// What could be done about it.
        advice: String,
    },
    /// A gate (`cue.gate`) asks a person and waits, holding no slot, until they answer or its
    /// timeout decides. Sent again by each session that finds the gate still unanswered.
    GateWaiting {
        /// The gate step.
        step: StepId,
        /// The question, one line.
        title: String,
        /// What to review: Markdown text, or JSON text.
        review: String,
        /// How to show `review`.
        format: ReviewFormat,
        /// The value that goes on when approved unedited.
        value: Value,
        /// How long the gate waits in all, in milliseconds; `None` waits until answered.
        timeout_ms: Option<u64>,
        /// How long it had already waited in earlier sessions, in milliseconds.
        waited_ms: u64,
        /// The decision taken when the timeout runs out.
        on_timeout: Decision,
    },
    /// A gate was answered, by a person or by its timeout.
    GateAnswered {
        /// The gate step.
        step: StepId,
        /// Approve or reject.
        decision: Decision,
        /// The person's reason or note.
        reason: Option<String>,
        /// The value the person edited, which goes on instead of the gate's input.
        value: Option<Value>,
        /// Where the answer came from: `app` (the board), `cli` (`symphony runs approve` or `reject`), `terminal` (typed where `symphony run` plays), or `timeout`.
        by: String,
    },
}

/// The most bytes of a response body kept in a [`RunEvent::StepExchange`] (256 KiB).
pub const EXCHANGE_CAP: usize = 256 * 1024;

/// An event with the time it happened, in milliseconds since the run started.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "camelCase")]
pub struct EventRecord {
    /// Milliseconds since the run started.
    pub at_ms: u64,
    /// What happened.
    #[serde(flatten)]
    pub event: RunEvent,
}

enum Envelope {
    Event(EventRecord),
    /// Progress of this step waits in the shared slots under this marker.
    Progress(u64, StepId),
}

#[derive(Default)]
struct Pending {
    marker: u64,
    at_ms: u64,
    text: String,
    tokens: u64,
    bytes: u64,
}

/// Events not yet sent, and progress not yet read. Every event goes into `batch` first (under
/// the lock, so the order of the batch is the order of sending) and reaches the stream when
/// someone flushes: the scheduler before each wait, a step task after each poll, a sink when it
/// is dropped. One wake-up of the listener then carries many events.
///
/// A step's progress is merged into its open slot until a state change of that step is sent;
/// the slot is then detached (kept by marker) so later progress opens a new one and is
/// delivered after the state change, never before it.
#[derive(Default)]
struct Slots {
    batch: Vec<Envelope>,
    open: HashMap<StepId, Pending>,
    detached: HashMap<u64, Pending>,
    next_marker: u64,
}

type ProgressSlots = Arc<Mutex<Slots>>;

/// The sending side, held by the conductor and its steps. Cloning is cheap. Events are sent in
/// batches: see [`EventSink::flush`]; a sink flushes when it is dropped.
pub struct EventSink {
    tx: mpsc::UnboundedSender<Vec<Envelope>>,
    /// A `std` mutex: it is held for a few instructions and never across an `.await`.
    progress: ProgressSlots,
    start: Instant,
}

impl Clone for EventSink {
    fn clone(&self) -> Self {
        EventSink {
            tx: self.tx.clone(),
            progress: self.progress.clone(),
            start: self.start,
        }
    }
}

impl Drop for EventSink {
    fn drop(&mut self) {
        self.flush();
    }
}

/// The receiving side, held by a host.
pub struct EventStream {
    rx: mpsc::UnboundedReceiver<Vec<Envelope>>,
    /// The rest of the batch being read.
    buffer: std::vec::IntoIter<Envelope>,
    progress: ProgressSlots,
}

/// Makes a connected sink and stream; times are measured from `start`.
pub fn channel(start: Instant) -> (EventSink, EventStream) {
    let (tx, rx) = mpsc::unbounded_channel();
    let progress = ProgressSlots::default();
    (
        EventSink {
            tx,
            progress: progress.clone(),
            start,
        },
        EventStream {
            rx,
            buffer: Vec::new().into_iter(),
            progress,
        },
    )
}

/// Why a loop stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "camelCase")]
pub enum LoopExit {
    /// Its `until` condition held.
    Approved,
    /// It stopped making progress: the score did not improve for `patience` rounds, or a
    /// round repeated an earlier round's output.
    Stalled,
    /// It played `maxRounds` rounds.
    Exhausted,
}

impl LoopExit {
    /// The word for it, which is also the loop's output port that carries the kept output.
    pub fn as_str(self) -> &'static str {
        match self {
            LoopExit::Approved => "approved",
            LoopExit::Stalled => "stalled",
            LoopExit::Exhausted => "exhausted",
        }
    }
}

impl RunEvent {
    /// The step an event is about, if it is about one.
    pub fn step(&self) -> Option<&StepId> {
        match self {
            RunEvent::StepQueued { step, .. }
            | RunEvent::StepStarted { step, .. }
            | RunEvent::StepProgress { step, .. }
            | RunEvent::StepItemFinished { step, .. }
            | RunEvent::StepRound { step, .. }
            | RunEvent::StepOutput { step, .. }
            | RunEvent::StepRetrying { step, .. }
            | RunEvent::StepFellBack { step, .. }
            | RunEvent::StepSkipped { step, .. }
            | RunEvent::StepFailed { step, .. }
            | RunEvent::StepCancelled { step }
            | RunEvent::StepSucceeded { step, .. }
            | RunEvent::StepPrompt { step, .. }
            | RunEvent::FileWritten { step, .. }
            | RunEvent::StepExchange { step, .. }
            | RunEvent::StepLog { step, .. }
            | RunEvent::Bottleneck { step, .. }
            | RunEvent::GateWaiting { step, .. }
            | RunEvent::GateAnswered { step, .. } => Some(step),
            RunEvent::DataSent { from_step, .. } => Some(from_step),
            RunEvent::RunStarted { .. }
            | RunEvent::RunPaused
            | RunEvent::RunResumed
            | RunEvent::RunFinished { .. } => None,
        }
    }
}

impl RunEvent {
    /// False for what a step notes while it plays ([`RunEvent::StepLog`],
    /// [`RunEvent::StepExchange`]) and for progress: progress of the step may go on being
    /// merged across them (an agent printing a line per token would otherwise cost a progress
    /// event per line).
    pub fn is_state_change(&self) -> bool {
        !matches!(
            self,
            RunEvent::StepLog { .. }
                | RunEvent::StepExchange { .. }
                | RunEvent::StepProgress { .. }
        )
    }
}

impl EventSink {
    /// Milliseconds since the run started.
    pub fn now_ms(&self) -> u64 {
        self.start.elapsed().as_millis() as u64
    }

    /// Sends a state change: queues it behind every event sent before it, for the next
    /// [`EventSink::flush`]. Never blocks; if nobody listens any more, the event is dropped.
    pub fn send(&self, event: RunEvent) {
        let record = EventRecord {
            at_ms: self.now_ms(),
            event,
        };
        let mut slots = self.lock();
        if let Some(step) = record
            .event
            .step()
            .filter(|_| record.event.is_state_change())
        {
            // Progress of this step not yet read is delivered before the state change; later
            // progress opens a new slot, after it.
            if let Some(p) = slots.open.remove(step) {
                slots.detached.insert(p.marker, p);
            }
        }
        slots.batch.push(Envelope::Event(record));
    }

    /// Delivers every queued event to the stream, in order.
    pub fn flush(&self) {
        let mut slots = self.lock();
        if slots.batch.is_empty() {
            return;
        }
        // The next batch starts as large as this one was: no regrowing it event by event.
        let capacity = slots.batch.len();
        let batch = std::mem::replace(&mut slots.batch, Vec::with_capacity(capacity));
        // Sent under the lock, so a flush from another clone cannot overtake this one.
        let _ = self.tx.send(batch);
    }

    /// Reports streamed progress, merging it with any progress of the step not yet read.
    pub fn progress(&self, step: &StepId, text: &str, tokens: u64, bytes: u64) {
        let at_ms = self.now_ms();
        let mut slots = self.lock();
        if let Some(p) = slots.open.get_mut(step) {
            p.text.push_str(text);
            p.tokens += tokens;
            p.bytes += bytes;
            p.at_ms = at_ms;
            return;
        }
        slots.next_marker += 1;
        let marker = slots.next_marker;
        slots.open.insert(
            step.clone(),
            Pending {
                marker,
                at_ms,
                text: text.to_owned(),
                tokens,
                bytes,
            },
        );
        slots.batch.push(Envelope::Progress(marker, step.clone()));
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Slots> {
        // Nothing panics while holding it; should something, the queue is still consistent
        // (each change is one push or one insert), so carry on rather than lose events.
        self.progress
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

impl EventStream {
    /// The next event, or `None` once the run has finished and every event was read.
    pub async fn recv(&mut self) -> Option<EventRecord> {
        loop {
            if let Some(envelope) = self.buffer.next() {
                return Some(self.open(envelope));
            }
            self.buffer = self.rx.recv().await?.into_iter();
        }
    }

    /// The next event if one is waiting, without waiting.
    pub fn try_recv(&mut self) -> Option<EventRecord> {
        loop {
            if let Some(envelope) = self.buffer.next() {
                return Some(self.open(envelope));
            }
            self.buffer = self.rx.try_recv().ok()?.into_iter();
        }
    }

    fn open(&self, envelope: Envelope) -> EventRecord {
        match envelope {
            Envelope::Event(record) => record,
            Envelope::Progress(marker, step) => {
                let mut slots = self
                    .progress
                    .lock()
                    .expect("the progress lock is never held across a panic");
                let p = match slots.open.get(&step) {
                    Some(p) if p.marker == marker => slots.open.remove(&step),
                    _ => slots.detached.remove(&marker),
                }
                .unwrap_or_default();
                EventRecord {
                    at_ms: p.at_ms,
                    event: RunEvent::StepProgress {
                        step,
                        text: p.text,
                        tokens: p.tokens,
                        bytes: p.bytes,
                    },
                }
            }
        }
    }
}

/// The size of a value as compact JSON, without building the text for strings.
pub fn json_size(value: &Value) -> u64 {
    match value {
        Value::String(s) => s.len() as u64 + 2,
        Value::Null => 4,
        Value::Bool(b) => {
            if *b {
                4
            } else {
                5
            }
        }
        Value::Number(n) => n.to_string().len() as u64,
        Value::Array(items) => 2 + items.iter().map(|v| json_size(v) + 1).sum::<u64>(),
        Value::Object(map) => {
            2 + map
                .iter()
                .map(|(k, v)| k.len() as u64 + 4 + json_size(v))
                .sum::<u64>()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn progress_is_coalesced_but_state_changes_are_kept_in_order() {
        let (sink, mut stream) = channel(Instant::now());
        let step: StepId = Arc::from("plan");
        sink.send(RunEvent::RunPaused);
        for word in ["a ", "b ", "c "] {
            sink.progress(&step, word, 1, 2);
        }
        sink.send(RunEvent::StepCancelled { step: step.clone() });
        sink.progress(&step, "d", 1, 1);
        // Dropping the sink flushes it.
        drop(sink);
        let mut events = Vec::new();
        while let Some(r) = stream.recv().await {
            events.push(r.event);
        }
        assert_eq!(
            events,
            vec![
                RunEvent::RunPaused,
                RunEvent::StepProgress {
                    step: step.clone(),
                    text: "a b c ".into(),
                    tokens: 3,
                    bytes: 6
                },
                RunEvent::StepCancelled { step: step.clone() },
                RunEvent::StepProgress {
                    step,
                    text: "d".into(),
                    tokens: 1,
                    bytes: 1
                },
            ]
        );
    }

    #[tokio::test]
    async fn log_lines_do_not_split_progress() {
        let (sink, mut stream) = channel(Instant::now());
        let step: StepId = Arc::from("agent");
        sink.progress(&step, "a", 1, 1);
        sink.send(RunEvent::StepLog {
            step: step.clone(),
            item: None,
            stream: Arc::from("stdout"),
            line: "a".into(),
        });
        sink.progress(&step, "b", 1, 1);
        drop(sink);
        let mut events = Vec::new();
        while let Some(r) = stream.recv().await {
            events.push(r.event);
        }
        assert_eq!(events.len(), 2, "{events:?}");
        assert!(
            matches!(&events[0], RunEvent::StepProgress { text, .. } if text == "ab"),
            "{events:?}"
        );
    }
}
