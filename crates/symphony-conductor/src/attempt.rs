//! Playing one unit (a step, or one item of a map) to the end: attempts with a timeout each,
//! retries with exponential backoff and jitter (never sooner than the instrument's retry-after
//! hint), then the fallbacks in order. Runs in its own task; reports back with a [`UnitDone`].
//!
//! A unit keeps its slot while it waits between retries: the wait is part of playing it.

use std::sync::Arc;
use std::time::Duration;

use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};
use serde_json::{Map, Value};
use symphony_melody::Retry;
use tokio_util::sync::CancellationToken;

use crate::cache::OutputCache;
use crate::event::{EventSink, OutputOrigin, RunEvent, StepId};
use crate::score::Playbook;
use crate::step::{ErrorKind, Outputs, Played, RunView, StepContext, StepError, Usage};
use crate::warnings;
use crate::workspace::Workspace;

/// The longest retry-after hint that is honoured; a longer one fails the step instead of
/// leaving it stuck.
pub const MAX_RETRY_AFTER: Duration = Duration::from_secs(600);

/// Everything a unit's task needs.
pub(crate) struct Job {
    pub step: usize,
    pub id: StepId,
    pub item: Option<u32>,
    pub inputs: Arc<Map<String, Value>>,
    /// The step's own way to play, then its fallbacks; timeout and retries.
    pub playbook: Arc<Playbook>,
    pub view: Arc<dyn RunView>,
    pub events: EventSink,
    pub workspace: Option<Arc<Workspace>>,
    /// Write the outputs to `steps/<id>/` (not for map items).
    pub record: bool,
    pub token: CancellationToken,
    pub seed: u64,
    pub holds_slot: bool,
    pub key: Option<String>,
    /// Whether the unit's output may be taken instead of playing it.
    pub reuse: Reuse,
    /// Sent once the unit is known to be played rather than reused (a context-bloat warning
    /// is about a call that is made, not one served from the cache).
    pub before_play: Option<RunEvent>,
}

/// An output a unit may take instead of being played.
pub(crate) enum Reuse {
    /// Play it.
    None,
    /// The run was given this output.
    Given(Outputs),
    /// Look this key up in the cache; play on a miss.
    Lookup(Arc<dyn OutputCache>, Arc<str>),
}

/// What a unit's task reports.
pub(crate) struct UnitDone {
    pub step: usize,
    pub item: Option<u32>,
    pub result: Result<Played, StepError>,
    pub attempts: u32,
    pub usage: Option<Usage>,
    pub holds_slot: bool,
    pub key: Option<String>,
    /// Played, or reused.
    pub origin: OutputOrigin,
}

/// Plays a unit through its attempts and fallbacks.
pub(crate) async fn perform(job: Job) -> UnitDone {
    let Job {
        step,
        id,
        item,
        inputs,
        playbook,
        view,
        events,
        workspace,
        record,
        token,
        seed,
        holds_slot,
        key,
        reuse,
        before_play,
    } = job;
    let reused = match reuse {
        Reuse::None => None,
        Reuse::Given(outputs) => Some((outputs, OutputOrigin::Given)),
        Reuse::Lookup(cache, key) => cache
            .lookup(&key)
            .await
            .map(|outputs| (outputs, OutputOrigin::Cached)),
    };
    if let Some((outputs, origin)) = reused {
        let (result, usage) = finish(Played::Done(outputs.into()), &workspace, record, &id).await;
        return UnitDone {
            step,
            item,
            result,
            attempts: 0,
            usage,
            holds_slot,
            key,
            origin,
        };
    }
    if let Some(event) = before_play {
        events.send(event);
    }
    let mut attempts = 0u32;
    let mut rng: Option<SmallRng> = None;
    let mut last_error = None;
    let mut cx = StepContext {
        step: id.clone(),
        item,
        attempt: 0,
        config: Arc::default(),
        inputs,
        view,
        events: events.clone(),
        workspace: workspace.clone(),
        cancel: token.clone(),
    };
    let retry = playbook.retry.as_ref();
    let timeout = playbook.timeout;
    let max_attempts = 1 + retry.map_or(0, |r| r.max);
    'variants: for (v, variant) in playbook.variants.iter().enumerate() {
        let entry = &variant.entry;
        if let Some(e) = &last_error {
            let e: &StepError = e;
            events.send(RunEvent::StepFellBack {
                step: id.clone(),
                item,
                fallback: v as u32 - 1,
                type_name: entry.name.clone(),
                error: e.message.clone(),
            });
            warnings::on_fallback(&events, &id, item, v, &e.message, &entry.spec.name);
        }
        cx.config = variant.config.clone();
        for attempt in 1..=max_attempts {
            attempts += 1;
            cx.attempt = attempt;
            events.send(RunEvent::StepStarted {
                step: id.clone(),
                item,
                attempt: attempts,
                type_name: entry.name.clone(),
                offline: entry.spec.offline,
            });
            // The play is polled first: a step that finishes at once never registers with the
            // cancellation token or the timer. The scheduler starts nothing once cancelled, so
            // a cancel always finds the play pending.
            let result = tokio::select! {
                biased;
                r = tokio::time::timeout(timeout, entry.step_type.play(&cx)) => r.unwrap_or_else(|_| {
                    Err(StepError::retryable(
                        ErrorKind::Timeout,
                        format!("timed out after {}", human(timeout)),
                    ))
                }),
                _ = token.cancelled() => Err(cancelled()),
            };
            let error = match result {
                Ok(played) => {
                    let (result, usage) = finish(played, &workspace, record, &id).await;
                    return UnitDone {
                        step,
                        item,
                        result,
                        attempts,
                        usage,
                        holds_slot,
                        key,
                        origin: OutputOrigin::Played,
                    };
                }
                Err(e) if e.kind == ErrorKind::Cancelled => {
                    return UnitDone {
                        step,
                        item,
                        result: Err(e),
                        attempts,
                        usage: None,
                        holds_slot,
                        key,
                        origin: OutputOrigin::Played,
                    }
                }
                Err(e) => e,
            };
            let Some(policy) = retry
                .as_ref()
                .filter(|_| error.retryable && attempt < max_attempts)
            else {
                last_error = Some(error);
                continue 'variants;
            };
            if error.retry_after.is_some_and(|d| d > MAX_RETRY_AFTER) {
                last_error = Some(StepError {
                    message: format!(
                        "{} (the instrument asks to wait {}, longer than the {} this step will wait)",
                        error.message,
                        human(error.retry_after.unwrap_or_default()),
                        human(MAX_RETRY_AFTER)
                    ),
                    ..error
                });
                continue 'variants;
            }
            let rng = rng.get_or_insert_with(|| {
                SmallRng::seed_from_u64(
                    seed ^ (step as u64).rotate_left(32) ^ u64::from(item.unwrap_or(u32::MAX)),
                )
            });
            let delay = backoff(policy, attempt, rng).max(error.retry_after.unwrap_or_default());
            events.send(RunEvent::StepRetrying {
                step: id.clone(),
                item,
                next_attempt: attempts + 1,
                delay_ms: delay.as_millis() as u64,
                error: error.message.clone(),
            });
            warnings::on_retry(&events, &id, item, attempt, &error.message);
            tokio::select! {
                biased;
                _ = token.cancelled() => {
                    return UnitDone { step, item, result: Err(cancelled()), attempts, usage: None, holds_slot, key, origin: OutputOrigin::Played };
                }
                _ = tokio::time::sleep(delay) => {}
            }
        }
    }
    let error = last_error.expect("every variant ends in an error before falling through");
    UnitDone {
        step,
        item,
        result: Err(error),
        attempts,
        usage: None,
        holds_slot,
        key,
        origin: OutputOrigin::Played,
    }
}

fn cancelled() -> StepError {
    StepError::fatal(ErrorKind::Cancelled, "cancelled")
}

/// Records a successful attempt's outputs in the workspace (when asked) and splits off usage.
async fn finish(
    played: Played,
    workspace: &Option<Arc<Workspace>>,
    record: bool,
    id: &StepId,
) -> (Result<Played, StepError>, Option<Usage>) {
    match played {
        Played::Done(out) => {
            if record {
                if let Some(ws) = workspace {
                    if let Err(e) = record_outputs(ws, id, &out.outputs).await {
                        return (Err(e), None);
                    }
                }
            }
            let usage = out.usage.clone();
            (
                Ok(Played::Done(crate::step::StepOutput { usage: None, ..out })),
                usage,
            )
        }
        fan_out => (Ok(fan_out), None),
    }
}

/// Writes `steps/<id>/output.json` (and `output.txt` for a text `output` port).
pub(crate) async fn record_outputs(
    ws: &Arc<Workspace>,
    id: &StepId,
    outputs: &Outputs,
) -> Result<(), StepError> {
    let ws = ws.clone();
    let dir = format!("steps/{id}");
    let doc = Value::Object(outputs.0.clone());
    let text = outputs
        .get("output")
        .and_then(Value::as_str)
        .map(str::to_owned);
    tokio::task::spawn_blocking(move || {
        ws.write_record(&format!("{dir}/output.json"), &doc)?;
        if let Some(text) = text {
            ws.write_record_bytes(&format!("{dir}/output.txt"), text.as_bytes())?;
        }
        Ok::<_, std::io::Error>(())
    })
    .await
    .map_err(|e| StepError::fatal(ErrorKind::Io, format!("the write task failed: {e}")))?
    .map_err(|e| {
        StepError::fatal(
            ErrorKind::Io,
            format!("could not record the output in the run workspace: {e}"),
        )
    })
}

/// The wait before retry number `attempt` (1 for the first retry).
pub fn backoff(policy: &Retry, attempt: u32, rng: &mut impl Rng) -> Duration {
    let exp = policy.factor.powi(attempt.saturating_sub(1).min(64) as i32);
    let ms = (policy.backoff_ms as f64 * exp).min(policy.max_backoff_ms as f64);
    let ms = if policy.jitter {
        rng.random_range(ms / 2.0..=ms.max(0.0))
    } else {
        ms
    };
    Duration::from_millis(ms.max(0.0) as u64)
}

/// "1.5s", "250ms", "10m".
pub fn human(d: Duration) -> String {
    let ms = d.as_millis();
    if ms < 1000 {
        format!("{ms}ms")
    } else if ms < 120_000 {
        format!("{:.1}s", d.as_secs_f64())
    } else {
        format!("{}m", ms / 60_000)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_caps_and_jitters_within_bounds() {
        let policy = Retry {
            max: 5,
            backoff_ms: 100,
            factor: 2.0,
            max_backoff_ms: 500,
            jitter: false,
        };
        let mut rng = SmallRng::seed_from_u64(1);
        let waits: Vec<u64> = (1..=5)
            .map(|a| backoff(&policy, a, &mut rng).as_millis() as u64)
            .collect();
        assert_eq!(waits, vec![100, 200, 400, 500, 500]);
        let jittered = Retry {
            jitter: true,
            ..policy
        };
        for a in 1..=5 {
            let full = waits[a as usize - 1];
            let w = backoff(&jittered, a, &mut rng).as_millis() as u64;
            assert!(
                w >= full / 2 && w <= full,
                "attempt {a}: {w} not in [{}, {full}]",
                full / 2
            );
        }
    }
}
