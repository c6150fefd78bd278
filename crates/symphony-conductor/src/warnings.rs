//! Bottleneck warnings: every kind, its threshold, its message and its advice, and the moments
//! they are raised at.
//!
//! A warning is a [`RunEvent::Bottleneck`], at most one per step and kind. The engine raises
//! them at four moments, each a hook here, so a new kind raised at one of them touches this
//! file alone on the engine side:
//!
//! - [`Warnings::at_launch`], as the scheduler starts a unit: `waitingForSlot` (waited
//!   ≥ [`SLOT_WAIT_WARNING`] for a slot, once per limiter), `pinnedStale`, and `contextBloat`
//!   (an instrument whose templates read more than [`CONTEXT_BLOAT_BYTES`]), which is sent only
//!   once the unit misses the cache;
//! - [`on_fallback`] and [`on_retry`], as an attempt ends ([`crate::attempt`]):
//!   `fallbackTaken` and `repeatedRetries`;
//! - [`Warnings::on_tick`], every [`WATCH_EVERY`] while some unit runs in a task of its own:
//!   `slowerThanEstimate`, `slowerThanHistory` and `onCriticalPath` (the live critical path is
//!   in [`critical`]).
//!
//! A step type that is held up by something outside it (`waitingForBudget`) says so itself
//! through [`crate::step::StepContext::waiting`]. The board's label of each kind is in
//! `ui/src/board/warningLabels.ts`, typed so that a kind without a label does not compile.

mod critical;

use std::collections::{BTreeMap, HashSet};
use std::time::Duration;

use serde::Serialize;
use serde_json::{Map, Value};
use tokio::time::Instant;

use crate::cache::each_template_read;
use crate::conductor::StepHistory;
use crate::event::{json_size, EventSink, RunEvent, StepId};
use crate::scheduler::{State, StepBook};
use crate::score::{CompiledStep, Score, Variant};
use crate::step::RunView;
use critical::{waiting_on, Watch};

/// Why a bottleneck warning was raised.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "camelCase")]
pub enum BottleneckKind {
    /// The step waited for a free slot (max parallel or an instrument's concurrency limit).
    WaitingForSlot,
    /// The step is running far longer than its estimate.
    SlowerThanEstimate,
    /// The step keeps failing and being retried.
    RepeatedRetries,
    /// The step's own instrument gave up and a fallback took over.
    FallbackTaken,
    /// The step waits for its provider's rate-limit budget (requests or tokens per minute,
    /// or the provider's concurrency limit shared by every run in this process).
    WaitingForBudget,
    /// The step on the critical path holding the run up: the longest chain of unfinished
    /// steps runs through it, steps wait on it, and it has taken a large share of the run.
    OnCriticalPath,
    /// The step is running far longer than its own past runs (`RunOptions::history`).
    SlowerThanHistory,
    /// The step's input is very large (many tokens for an instrument, slow and costly).
    ContextBloat,
    /// The step was given a pinned output that was made from other inputs or settings than
    /// it gets in this run (`RunOptions::given_made_from`): the old output flowed on.
    PinnedStale,
}

/// A step waiting at least this long for a slot raises a bottleneck warning.
const SLOT_WAIT_WARNING: Duration = Duration::from_secs(1);

/// How often the running steps are looked at for warnings (slower than estimate or history,
/// on the critical path). Only while some unit runs in a task of its own.
pub(crate) const WATCH_EVERY: Duration = Duration::from_millis(500);

/// A critical-path warning needs the step to have run this long: a step that ends sooner is
/// over before anyone could act on a warning, and quick runs would warn on every play.
const CRITICAL_MIN_RUN: Duration = Duration::from_secs(2);

/// ... and to have run at least this share (in percent) of the run so far: the step by itself
/// accounts for a real part of the wall time. A chain of similar steps then warns about its
/// first few steps, not about every one, and a short step late in a long run stays quiet.
const CRITICAL_MIN_SHARE_PERCENT: u128 = 25;

/// A history warning needs this many past plays: with fewer, p50 and p95 say little.
const HISTORY_MIN_RUNS: u32 = 3;

/// A step is far slower than its history once it has run longer than
/// max(p95 × [`HISTORY_P95_FACTOR`], p50 × [`HISTORY_P50_FACTOR`], [`HISTORY_FLOOR`]): well past
/// the tail of its own past runs (p95 alone is noisy with few runs, hence the p50 bound), and
/// never for sub-second steps, whose spread is mostly noise.
const HISTORY_P95_FACTOR: f64 = 1.5;
/// See [`HISTORY_P95_FACTOR`].
const HISTORY_P50_FACTOR: u64 = 3;
/// See [`HISTORY_P95_FACTOR`].
const HISTORY_FLOOR: Duration = Duration::from_secs(1);

/// A step is far slower than its estimate once it has run this many times `policy.estimateMs`
/// (and at least [`ESTIMATE_FLOOR`]).
const ESTIMATE_FACTOR: u64 = 2;
/// See [`ESTIMATE_FACTOR`].
const ESTIMATE_FLOOR: Duration = Duration::from_secs(1);

/// An instrument whose templates read more than this (as JSON text) raises a context-bloat
/// warning: 64 KiB is about 16k tokens, past the whole window of smaller models, and a prompt
/// that size is usually a whole document passed on where one field or a summary would do
/// (cost and latency grow with every token).
const CONTEXT_BLOAT_BYTES: u64 = 64 * 1024;

/// The attempt after which a step that keeps failing is warned about (once per step).
const RETRIES_WARNING_AT: u32 = 2;

/// What one run has warned about, so each warning is raised once, and the figures of the
/// periodic check. Owned by the scheduler's task, like the rest of the run's state.
#[derive(Default)]
pub(crate) struct Warnings {
    /// Steps warned about, by kind: at most one warning per step and kind.
    warned: HashSet<(usize, BottleneckKind)>,
    /// Limiters already warned about (`None` is maxParallel).
    slot_warned: HashSet<Option<String>>,
    /// What the periodic check needs, made on its first tick.
    watch: Option<Watch>,
}

/// A unit the scheduler is starting, as the launch warnings see it.
pub(crate) struct Launch<'a> {
    pub score: &'a Score,
    /// The step's position.
    pub s: usize,
    /// The way it plays first (the step's own, or its map body's).
    pub variant: &'a Variant,
    pub inputs: &'a Map<String, Value>,
    pub view: &'a dyn RunView,
    /// How long it waited since it was queued.
    pub waited: Duration,
    /// Its instrument's concurrency key (none for a map item).
    pub key: Option<&'a str>,
    /// The run's `maxParallel`.
    pub max_parallel: usize,
    /// It takes a given output instead of playing (and so asks no model).
    pub given: bool,
    /// Its pinned output was made from other inputs or settings than it gets now.
    pub stale_pin: bool,
}

impl Warnings {
    /// The warnings of a unit being started. Sends those about its start; returns the one to
    /// send once the unit is known to be played rather than reused (a context-bloat warning is
    /// about a call that is made, not one served from the cache).
    pub(crate) fn at_launch(&mut self, events: &EventSink, l: Launch<'_>) -> Option<RunEvent> {
        let step = &l.score.steps[l.s];
        // One warning per limiter (maxParallel, or an instrument key), on the first step that
        // waited long: forty steps queued behind one limit are one bottleneck, not forty.
        let limiter = l
            .key
            .filter(|k| l.score.limits.contains_key(*k))
            .map(str::to_owned);
        if l.waited >= SLOT_WAIT_WARNING && self.slot_warned.insert(limiter) {
            let limit = l
                .key
                .and_then(|k| {
                    l.score
                        .limits
                        .get(k)
                        .map(|n| format!("the `{k}` limit of {n}"))
                })
                .unwrap_or_else(|| format!("maxParallel {}", l.max_parallel));
            events.send(RunEvent::Bottleneck {
                step: step.id.clone(),
                kind: BottleneckKind::WaitingForSlot,
                message: format!(
                    "waited {:.1}s for a free slot ({limit})",
                    l.waited.as_secs_f64()
                ),
                advice: "raise settings.maxParallel (or the instrument's concurrency limit), or give this step a higher priority".into(),
            });
        }
        if l.stale_pin {
            events.send(RunEvent::Bottleneck {
                step: step.id.clone(),
                kind: BottleneckKind::PinnedStale,
                message: "its pinned output was made from other inputs or settings than it gets in this run, and was passed on unchanged".into(),
                advice: "unpin it to play it with what it gets now, or pin a newer output".into(),
            });
        }
        // Once per step: an instrument about to be asked with a very large input.
        if l.given
            || l.variant.entry.spec.kind != symphony_melody::StepKind::Instrument
            || self.warned.contains(&(l.s, BottleneckKind::ContextBloat))
        {
            return None;
        }
        let (total, from, size) = input_bloat(l.score, step, l.variant, l.inputs, l.view)?;
        self.warned.insert((l.s, BottleneckKind::ContextBloat));
        Some(RunEvent::Bottleneck {
            step: step.id.clone(),
            kind: BottleneckKind::ContextBloat,
            message: format!(
                "its input is {} (~{}k tokens), {} {from} ({})",
                size_text(total),
                (total + 2000) / 4000,
                if size * 2 > total { "mostly from" } else { "the largest part from" },
                size_text(size)
            ),
            advice: "pass only what it needs (operator.json.extract a field), summarise upstream, or split the step".into(),
        })
    }

    /// The periodic check of the running steps: warns about a step running far longer than
    /// its estimate or its own history, and about the running step on the critical path.
    /// O(steps) at most every [`WATCH_EVERY`]; the critical path is computed only when a
    /// running step is long enough to be worth a warning.
    pub(crate) fn on_tick(
        &mut self,
        events: &EventSink,
        score: &Score,
        books: &[StepBook],
        run_start: Instant,
        history: &BTreeMap<String, StepHistory>,
    ) {
        let now = Instant::now();
        let run_elapsed = now.saturating_duration_since(run_start);
        let watch = self.watch.get_or_insert_with(|| Watch::new(score, history));
        let mut critical_candidates = Vec::new();
        for (s, step) in score.steps.iter().enumerate() {
            let book = &books[s];
            if book.state != State::Running || book.asking {
                continue;
            }
            let Some(since) = book.first_start else {
                continue;
            };
            let ran = now.saturating_duration_since(since);
            if let Some(estimate) = step.estimate_ms {
                let limit = Duration::from_millis(estimate.saturating_mul(ESTIMATE_FACTOR))
                    .max(ESTIMATE_FLOOR);
                if ran >= limit && self.warned.insert((s, BottleneckKind::SlowerThanEstimate)) {
                    events.send(RunEvent::Bottleneck {
                        step: step.id.clone(),
                        kind: BottleneckKind::SlowerThanEstimate,
                        message: format!(
                            "running {:.1}s against an estimate of {:.1}s",
                            ran.as_secs_f64(),
                            estimate as f64 / 1000.0
                        ),
                        advice: "check the instrument's health, give the step a timeout and a fallback, or split it into smaller steps".into(),
                    });
                }
            }
            if let Some(h) = watch.history[s] {
                let limit = Duration::from_millis(
                    ((h.p95_ms as f64 * HISTORY_P95_FACTOR) as u64)
                        .max(h.p50_ms.saturating_mul(HISTORY_P50_FACTOR)),
                )
                .max(HISTORY_FLOOR);
                if ran > limit && self.warned.insert((s, BottleneckKind::SlowerThanHistory)) {
                    events.send(RunEvent::Bottleneck {
                        step: step.id.clone(),
                        kind: BottleneckKind::SlowerThanHistory,
                        message: format!(
                            "running {:.1}s; its last {} runs took {:.1}s (p50), {:.1}s (p95)",
                            ran.as_secs_f64(),
                            h.runs,
                            h.p50_ms as f64 / 1000.0,
                            h.p95_ms as f64 / 1000.0
                        ),
                        advice: "check the instrument's health or the size of its input; give it a timeout and a fallback".into(),
                    });
                }
            }
            if ran >= CRITICAL_MIN_RUN
                && ran.as_millis() * 100 >= run_elapsed.as_millis() * CRITICAL_MIN_SHARE_PERCENT
                && !self.warned.contains(&(s, BottleneckKind::OnCriticalPath))
                && step
                    .out_edges
                    .iter()
                    .any(|e| books[e.to].state == State::Waiting)
            {
                critical_candidates.push((s, ran));
            }
        }
        if critical_candidates.is_empty() || !watch.parallel {
            return;
        }
        let longest = watch.remaining_path(score, books, now);
        for (s, ran) in critical_candidates {
            if watch.tail_ms[s] < longest {
                continue;
            }
            let waiting = waiting_on(score, books, &mut watch.seen, s);
            self.warned.insert((s, BottleneckKind::OnCriticalPath));
            // An offline stand-in takes the time its settings say: model advice does not fit it.
            let stand_in = score.steps[s]
                .playbook
                .variants
                .iter()
                .all(|v| v.entry.spec.offline);
            events.send(RunEvent::Bottleneck {
                step: score.steps[s].id.clone(),
                kind: BottleneckKind::OnCriticalPath,
                message: format!(
                    "on the critical path: {waiting} {} on it; running {:.1}s of the run's {:.1}s",
                    if waiting == 1 { "step waits" } else { "steps wait" },
                    ran.as_secs_f64(),
                    run_elapsed.as_secs_f64()
                ),
                advice: if stand_in {
                    "it decides when the run ends; it is an offline stand-in, so its time is its latencyMs setting: a real model's time will differ".into()
                } else {
                    "it decides when the run ends: use a faster model, split it, cache it, or start it earlier with a higher priority".into()
                },
            });
        }
    }
}

/// A step (not a map item) falls back: its way to play number `v - 1` gave up with `error`
/// and fallback `v - 1` (of type `type_name`) takes over.
pub(crate) fn on_fallback(
    events: &EventSink,
    id: &StepId,
    item: Option<u32>,
    v: usize,
    error: &str,
    type_name: &str,
) {
    if item.is_some() {
        return;
    }
    events.send(RunEvent::Bottleneck {
        step: id.clone(),
        kind: BottleneckKind::FallbackTaken,
        message: format!(
            "{} gave up ({}); playing fallback {} (`{}`)",
            if v == 1 { "the step's own instrument".to_owned() } else { format!("fallback {}", v - 2) },
            error,
            v - 1,
            type_name
        ),
        advice: "check the primary instrument (key, quota, health); if it stays down, make the fallback the primary".into(),
    });
}

/// A step (not a map item) failed `attempt` times in a row with `error` and is retried.
pub(crate) fn on_retry(
    events: &EventSink,
    id: &StepId,
    item: Option<u32>,
    attempt: u32,
    error: &str,
) {
    if attempt != RETRIES_WARNING_AT || item.is_some() {
        return;
    }
    events.send(RunEvent::Bottleneck {
        step: id.clone(),
        kind: BottleneckKind::RepeatedRetries,
        message: format!("failed {attempt} times in a row; last: {error}"),
        advice:
            "add a fallback instrument, raise the timeout, or check the instrument's rate limits"
                .into(),
    });
}

/// How large the values an instrument's templates read are, and where the largest comes
/// from, when their sum is over [`CONTEXT_BLOAT_BYTES`]: `(total, source, its size)`. An
/// instrument sends what its templates render (the prompt, the system prompt), so that is
/// what is measured; each reference counts once.
fn input_bloat(
    score: &Score,
    step: &CompiledStep,
    variant: &Variant,
    inputs: &Map<String, Value>,
    view: &dyn RunView,
) -> Option<(u64, String, u64)> {
    let mut counted: Vec<String> = Vec::new();
    let mut total = 0u64;
    let mut biggest: Option<(u64, String)> = None;
    each_template_read(
        &variant.entry.spec,
        &variant.config,
        inputs,
        view,
        |r, value| {
            let text = r.to_string();
            if counted.contains(&text) {
                return;
            }
            let size = value.map_or(0, json_size);
            total += size;
            if biggest.as_ref().is_none_or(|(b, _)| size > *b) {
                biggest = Some((size, source_of(score, step, r)));
            }
            counted.push(text);
        },
    );
    let (size, from) = biggest?;
    (total > CONTEXT_BLOAT_BYTES).then_some((total, from, size))
}

/// Where a value a template reads comes from: the upstream output feeding the input port it
/// names (`research.output`), or the reference itself (`input.doc`, `plan.output`).
fn source_of(score: &Score, step: &CompiledStep, r: &symphony_melody::Reference) -> String {
    let head = r.segments[0].as_str();
    match step.inputs.iter().position(|p| p.name == head) {
        Some(p) => match step.sources[p].as_slice() {
            [(src, port)] => format!("{}.{port}", score.steps[*src].id),
            [] => format!("its `{head}` input"),
            many => format!("its `{head}` input (joined from {} steps)", many.len()),
        },
        None => r.to_string(),
    }
}

/// "210 KB", "1.3 MB".
fn size_text(bytes: u64) -> String {
    if bytes < 1_000_000 {
        format!("{} KB", (bytes + 500) / 1000)
    } else {
        format!("{:.1} MB", bytes as f64 / 1_000_000.0)
    }
}
