//! Reading runs back: the list, one run with its steps, its event log, and what the board
//! reads (the history with names and counts, the log with values in place, step durations).

use std::collections::{BTreeMap, HashMap};

use serde::Serialize;
use serde_json::Value;
use sqlx::QueryBuilder;

use crate::db::{on_pool, Dialect};
use crate::players::{describe, played_elsewhere};
use crate::{now_ms, Store, StoreError};

/// A line of the run list.
#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
#[serde(rename_all = "camelCase")]
pub struct RunSummary {
    /// The run's id.
    pub id: String,
    /// The melody's id.
    pub melody_id: String,
    /// running, succeeded, failed or cancelled.
    pub status: String,
    /// Start, in milliseconds since the Unix epoch.
    pub started_at: i64,
    /// End, if it ended.
    pub finished_at: Option<i64>,
    /// The run it was forked from.
    pub parent_id: Option<String>,
}

/// One step of a stored run.
#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
#[serde(rename_all = "camelCase")]
pub struct StepRow {
    /// The step's id.
    pub step: String,
    /// succeeded, failed, skipped or cancelled.
    pub outcome: String,
    /// played, cached or given, for a success.
    pub origin: Option<String>,
    /// Attempts made.
    pub attempts: i64,
    /// Time from first start to end.
    pub elapsed_ms: i64,
    /// The content hash of its outputs.
    pub output_hash: Option<String>,
    /// Its cache key, for a cacheable step.
    pub cache_key: Option<String>,
    /// Tokens and cost, as JSON.
    pub usage: Option<String>,
    /// The error or skip reason.
    pub note: Option<String>,
}

/// A stored run with its steps.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RunDetail {
    /// The run's line.
    #[serde(flatten)]
    pub summary: RunSummary,
    /// Run inputs.
    pub inputs: Value,
    /// Options it was run with.
    pub options: Value,
    /// The workspace folder.
    pub workspace: Option<String>,
    /// Totals, once finished.
    pub totals: Value,
    /// The melody's content hash.
    pub melody_hash: String,
    /// The step a fork reran from.
    pub fork_step: Option<String>,
    /// How many times it was played (1 + resumes).
    pub sessions: i64,
    /// The process that plays it, or last played it (`host:pid`).
    pub player: Option<String>,
    /// When that process was last heard from, in milliseconds since the Unix epoch: it beats
    /// every few seconds while the run plays.
    pub heard_at: Option<i64>,
    /// Its steps, in the order they ended.
    pub steps: Vec<StepRow>,
    /// The files its steps wrote in the workspace's `files/` folder, in the order written.
    pub files: Vec<FileRow>,
}

/// A file a run produced.
#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
#[serde(rename_all = "camelCase")]
pub struct FileRow {
    /// Relative to the workspace's `files/` folder.
    pub path: String,
    /// The step that wrote it.
    pub step: String,
    /// Its size.
    pub bytes: i64,
    /// SHA-256 of its content, hex.
    pub sha256: String,
}

/// One event of a run's log.
#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
#[serde(rename_all = "camelCase")]
pub struct StoredEvent {
    /// Order in the run.
    pub seq: i64,
    /// 1, then one more per resume.
    pub session: i64,
    /// Milliseconds since the session started.
    pub at_ms: i64,
    /// The event's type.
    pub kind: String,
    /// The step it is about.
    pub step: Option<String>,
    /// The whole event, as JSON (large values as `{"$hash": …}`, see [`Store::output`]).
    pub data: String,
}

impl Store {
    /// The newest runs first.
    pub async fn list(&self, limit: u32) -> Result<Vec<RunSummary>, StoreError> {
        on_pool!(&self.pool, |p| sqlx::query_as(&p.sql(
            "SELECT id, melody_id, status, started_at, finished_at, parent_id FROM runs
             ORDER BY started_at DESC, id DESC LIMIT ?",
        ))
        .bind(i64::from(limit))
        .fetch_all(p)
        .await)
        .map_err(|e| self.err("listing runs", e))
    }

    /// A run and its steps.
    pub async fn run(&self, id: &str) -> Result<RunDetail, StoreError> {
        #[allow(clippy::type_complexity)]
        let row: Option<(String, String, String, i64, Option<i64>, Option<String>, String, String, Option<String>, Option<String>, String, Option<String>, i64, Option<String>, Option<i64>)> =
            on_pool!(&self.pool, |p| sqlx::query_as(&p.sql(
                "SELECT id, melody_id, status, started_at, finished_at, parent_id, inputs, options, workspace, totals, melody_hash, fork_step, sessions, player, heard_at
                 FROM runs WHERE id = ?",
            ))
            .bind(id)
            .fetch_optional(p)
            .await)
            .map_err(|e| self.err("reading a run", e))?;
        let Some(r) = row else {
            return Err(StoreError::UnknownRun(id.to_owned()));
        };
        let steps: Vec<StepRow> = on_pool!(&self.pool, |p| {
            sqlx::query_as(&p.sql(
            "SELECT step, outcome, origin, attempts, elapsed_ms, output_hash, cache_key, usage, note
             FROM step_results WHERE run_id = ? ORDER BY seq",
        ))
        .bind(id)
        .fetch_all(p)
        .await
        })
        .map_err(|e| self.err("reading steps", e))?;
        let files: Vec<FileRow> = on_pool!(&self.pool, |p| sqlx::query_as(
            &p.sql("SELECT path, step, bytes, sha256 FROM files WHERE run_id = ? ORDER BY seq",)
        )
        .bind(id)
        .fetch_all(p)
        .await)
        .map_err(|e| self.err("reading files", e))?;
        let json = |s: &str| serde_json::from_str(s).unwrap_or(Value::Null);
        Ok(RunDetail {
            summary: RunSummary {
                id: r.0,
                melody_id: r.1,
                status: r.2,
                started_at: r.3,
                finished_at: r.4,
                parent_id: r.5,
            },
            inputs: json(&r.6),
            options: json(&r.7),
            workspace: r.8,
            totals: r.9.as_deref().map_or(Value::Null, json),
            melody_hash: r.10,
            fork_step: r.11,
            sessions: r.12,
            player: r.13,
            heard_at: r.14,
            steps,
            files,
        })
    }

    /// A run's event log, in order.
    pub async fn events(&self, id: &str) -> Result<Vec<StoredEvent>, StoreError> {
        self.run(id).await?;
        on_pool!(&self.pool, |p| sqlx::query_as(&p.sql(
            "SELECT seq, session, at_ms, kind, step, data FROM events WHERE run_id = ? ORDER BY seq",
        ))
        .bind(id)
        .fetch_all(p)
        .await)
        .map_err(|e| self.err("reading events", e))
    }

    /// The melody a run played, as its canonical bytes.
    pub async fn melody_of(&self, id: &str) -> Result<Vec<u8>, StoreError> {
        let detail = self.run(id).await?;
        let (content,): (Vec<u8>,) = on_pool!(&self.pool, |p| sqlx::query_as(
            &p.sql("SELECT content FROM melodies WHERE hash = ?")
        )
        .bind(&detail.melody_hash)
        .fetch_one(p)
        .await)
        .map_err(|e| self.err("reading the melody", e))?;
        Ok(content)
    }
}

/// A line of the board's run history: the run, the name of the melody as it was run, and
/// what its steps came to.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RunListing {
    /// The run's line.
    #[serde(flatten)]
    pub summary: RunSummary,
    /// The melody's name, as it was run (from the stored melody).
    pub melody_name: String,
    /// The step a fork reran from.
    pub fork_step: Option<String>,
    /// Totals, once finished (`null` before).
    pub totals: Value,
    /// Steps in the melody: from the totals once finished, else from the run's first event;
    /// 0 while not even that is written.
    pub steps: u32,
    /// Steps that succeeded with a reused output (cached or given).
    pub reused: u32,
    /// Steps that failed.
    pub failed: u32,
    /// Steps whose usage has a cost (the model has a price).
    pub priced: u32,
    /// Steps whose usage has no cost (no price for the model): with none priced, the run's
    /// cost is unknown rather than zero.
    pub unpriced: u32,
    /// Who plays it, while another process does ("process 4242 on this machine, heard from
    /// 2 s ago"); `None` for an ended run, one this process plays, or one interrupted.
    pub played_elsewhere: Option<String>,
    /// The run's inputs (defaults filled in), for the history to say what each run was asked.
    pub inputs: Value,
    /// The gates (`cue.gate`) waiting for a person's answer, by step id.
    pub waiting: Vec<String>,
}

/// A run's event log as the board reads it (see [`Store::event_log`]).
#[derive(Debug, Clone, Default)]
pub struct EventLog {
    /// Each event's JSON (an `EventRecord`: `atMs` and the event, tagged by `type`), values
    /// put back in place, `atMs` continued across sessions.
    pub events: Vec<Value>,
    /// The sequence number of the last event read; the `after_seq` given (or -1) when none was.
    pub last_seq: i64,
    /// The version of the events' JSON the run was written in (`symphony_conductor::EVENT_FORMAT`
    /// of the build that recorded it).
    pub format: u32,
}

/// id, melody_id, status, started_at, finished_at, parent_id, fork_step, name, totals, first
/// event, reused, failed, priced, unpriced, player, heard_at.
type ListingRow = (
    String,
    String,
    String,
    i64,
    Option<i64>,
    Option<String>,
    Option<String>,
    String,
    Option<String>,
    Option<String>,
    i64,
    i64,
    i64,
    i64,
    Option<String>,
    Option<i64>,
);

/// The columns of a [`RunListing`], for the queries below (with their `WHERE` and order).
macro_rules! listing_sql {
    ($where:literal) => {
        concat!(
            "SELECT r.id, r.melody_id, r.status, r.started_at, r.finished_at, r.parent_id, r.fork_step,
               m.name, r.totals,
               (SELECT e.data FROM events e WHERE e.run_id = r.id AND e.seq = 0),
               (SELECT COUNT(*) FROM step_results s WHERE s.run_id = r.id AND s.outcome = 'succeeded' AND s.origin IN ('cached', 'given')),
               (SELECT COUNT(*) FROM step_results s WHERE s.run_id = r.id AND s.outcome = 'failed'),
               (SELECT COUNT(*) FROM step_results s WHERE s.run_id = r.id AND s.usage IS NOT NULL AND s.usage NOT LIKE '%\"costUsd\":null%'),
               (SELECT COUNT(*) FROM step_results s WHERE s.run_id = r.id AND s.usage LIKE '%\"costUsd\":null%'),
               r.player, r.heard_at
             FROM runs r JOIN melodies m ON m.hash = r.melody_hash ",
            $where
        )
    };
}

/// Rows per `IN (…)` list: far below either backend's limit of bound values.
const HASHES_PER_QUERY: usize = 500;

impl Store {
    /// The board's history: the newest runs first, of one melody (its id) or of all.
    pub async fn listings(
        &self,
        melody_id: Option<&str>,
        limit: u32,
    ) -> Result<Vec<RunListing>, StoreError> {
        let limit = i64::from(limit);
        let rows: Vec<ListingRow> = match melody_id {
            Some(melody) => on_pool!(&self.pool, |p| sqlx::query_as(&p.sql(listing_sql!(
                "WHERE r.melody_id = ? ORDER BY r.started_at DESC, r.id DESC LIMIT ?"
            )))
            .bind(melody)
            .bind(limit)
            .fetch_all(p)
            .await),
            None => on_pool!(&self.pool, |p| sqlx::query_as(&p.sql(listing_sql!(
                "ORDER BY r.started_at DESC, r.id DESC LIMIT ?"
            )))
            .bind(limit)
            .fetch_all(p)
            .await),
        }
        .map_err(|e| self.err("listing runs", e))?;
        let mut listed: Vec<RunListing> = rows.into_iter().map(listing).collect();
        self.fill_inputs(&mut listed).await?;
        Ok(listed)
    }

    /// Puts each listed run's inputs and waiting gates in place: two more queries per 500 runs
    /// (a listing row is already as wide as a tuple row can be).
    async fn fill_inputs(&self, listed: &mut [RunListing]) -> Result<(), StoreError> {
        let ids: Vec<String> = listed.iter().map(|l| l.summary.id.clone()).collect();
        let mut inputs: HashMap<String, Value> = HashMap::with_capacity(ids.len());
        let mut waiting: HashMap<String, Vec<String>> = HashMap::new();
        for chunk in ids.chunks(HASHES_PER_QUERY) {
            let rows: Vec<(String, String)> = on_pool!(&self.pool, |p, Db| {
                let mut q = QueryBuilder::<Db>::new("SELECT id, inputs FROM runs WHERE id IN (");
                let mut list = q.separated(", ");
                for id in chunk {
                    list.push_bind(id);
                }
                list.push_unseparated(")");
                q.build_query_as().fetch_all(p).await
            })
            .map_err(|e| self.err("reading runs' inputs", e))?;
            inputs.extend(
                rows.into_iter()
                    .filter_map(|(id, text)| serde_json::from_str(&text).ok().map(|v| (id, v))),
            );
            let gates: Vec<(String, String)> = on_pool!(&self.pool, |p, Db| {
                let mut q = QueryBuilder::<Db>::new(
                    "SELECT run_id, step FROM gates WHERE decision IS NULL AND run_id IN (",
                );
                let mut list = q.separated(", ");
                for id in chunk {
                    list.push_bind(id);
                }
                list.push_unseparated(") ORDER BY asked_at, step");
                q.build_query_as().fetch_all(p).await
            })
            .map_err(|e| self.err("reading runs' gates", e))?;
            for (id, step) in gates {
                waiting.entry(id).or_default().push(step);
            }
        }
        for l in listed {
            if let Some(v) = inputs.remove(&l.summary.id) {
                l.inputs = v;
            }
            // A run that ended waits for nobody (its gate was cancelled with it).
            if l.summary.finished_at.is_none() {
                l.waiting = waiting.remove(&l.summary.id).unwrap_or_default();
            }
        }
        Ok(())
    }

    /// One run's line of the history.
    pub async fn listing(&self, id: &str) -> Result<RunListing, StoreError> {
        let row: Option<ListingRow> = on_pool!(&self.pool, |p| sqlx::query_as(
            &p.sql(listing_sql!("WHERE r.id = ?"))
        )
        .bind(id)
        .fetch_optional(p)
        .await)
        .map_err(|e| self.err("reading a run", e))?;
        let mut one = [row
            .map(listing)
            .ok_or_else(|| StoreError::UnknownRun(id.to_owned()))?];
        self.fill_inputs(&mut one).await?;
        let [listed] = one;
        Ok(listed)
    }

    /// A run's event log from `after_seq` on (all of it when `None`), as the board shows it:
    /// the values the log keeps by hash (`{"$hash": …}`) are put back in place, and the events
    /// of a resumed run's later sessions have their `atMs` moved past the end of the session
    /// before, so time only grows along the log. What another process is writing into the
    /// same store is read as far as it has been committed.
    pub async fn event_log(
        &self,
        id: &str,
        after_seq: Option<i64>,
    ) -> Result<EventLog, StoreError> {
        self.listing(id).await?;
        let (format,): (i64,) = on_pool!(&self.pool, |p| sqlx::query_as(
            &p.sql("SELECT event_format FROM runs WHERE id = ?")
        )
        .bind(id)
        .fetch_one(p)
        .await)
        .map_err(|e| self.err("reading the run", e))?;
        let after = after_seq.unwrap_or(-1);
        let rows: Vec<(i64, i64, i64, String)> = on_pool!(&self.pool, |p| sqlx::query_as(
            &p.sql(
                "SELECT seq, session, at_ms, data FROM events WHERE run_id = ? AND seq > ? ORDER BY seq"
            )
        )
        .bind(id)
        .bind(after)
        .fetch_all(p)
        .await)
        .map_err(|e| self.err("reading events", e))?;
        // Read after the events: a session of an event read above has ended before it began
        // (a resume follows the end of the session before), so these ends are final.
        let ends: Vec<(i64, i64)> = on_pool!(&self.pool, |p| sqlx::query_as(&p.sql(
            "SELECT session, MAX(at_ms) FROM events WHERE run_id = ? GROUP BY session ORDER BY session"
        ))
        .bind(id)
        .fetch_all(p)
        .await)
        .map_err(|e| self.err("reading events", e))?;
        let last_seq = rows.last().map_or(after, |r| r.0);
        let mut events = Vec::with_capacity(rows.len());
        for (_, session, at_ms, data) in rows {
            let mut data: Value = serde_json::from_str(&data).unwrap_or(Value::Null);
            let shift: i64 = ends
                .iter()
                .filter(|(s, _)| *s < session)
                .map(|(_, end)| end)
                .sum();
            if let Some(object) = data.as_object_mut() {
                object.insert("atMs".into(), Value::from(at_ms + shift));
            }
            events.push(data);
        }
        self.restore(&mut events).await?;
        Ok(EventLog {
            events,
            last_seq,
            format: u32::try_from(format).unwrap_or(u32::MAX),
        })
    }

    /// Puts the values the event log keeps by hash back in place: a `stepOutput`'s `outputs`
    /// and a `stepQueued`'s `inputs` (see the writer); and inflates a `stepExchange`'s
    /// deflated `response`. Reads each stored value once, many per
    /// query.
    pub(crate) async fn restore(&self, events: &mut [Value]) -> Result<(), StoreError> {
        let hashed = |data: &Value, field: &str| {
            data.get(field)
                .and_then(|v| v.get("$hash"))
                .and_then(Value::as_str)
                .map(str::to_owned)
        };
        let mut wanted: Vec<String> = events
            .iter()
            .flat_map(|e| [hashed(e, "outputs"), hashed(e, "inputs")])
            .flatten()
            .collect();
        wanted.sort_unstable();
        wanted.dedup();
        let mut values: HashMap<String, Value> = HashMap::with_capacity(wanted.len());
        for chunk in wanted.chunks(HASHES_PER_QUERY) {
            let rows: Vec<(String, String)> = on_pool!(&self.pool, |p, Db| {
                let mut q =
                    QueryBuilder::<Db>::new("SELECT hash, content FROM outputs WHERE hash IN (");
                let mut list = q.separated(", ");
                for hash in chunk {
                    list.push_bind(hash);
                }
                list.push_unseparated(")");
                q.build_query_as().fetch_all(p).await
            })
            .map_err(|e| self.err("reading stored values", e))?;
            values.extend(rows.into_iter().filter_map(|(hash, content)| {
                serde_json::from_str(&content).ok().map(|v| (hash, v))
            }));
        }
        for event in events {
            for field in ["outputs", "inputs"] {
                if let Some(hash) = hashed(event, field) {
                    event[field] = values.get(&hash).cloned().unwrap_or(Value::Null);
                }
            }
            if let Some(response) = event.get_mut("response") {
                crate::packing::inflate_in_place(response);
            }
        }
        Ok(())
    }

    /// How long each step of a melody took in its latest `last` plays (origin `played`,
    /// succeeded; cached and given outputs are not plays), newest first, by step: what a host
    /// gives the conductor as the steps' history.
    pub async fn step_durations(
        &self,
        melody_id: &str,
        last: u32,
    ) -> Result<BTreeMap<String, Vec<u64>>, StoreError> {
        let rows: Vec<(String, i64)> = on_pool!(&self.pool, |p| sqlx::query_as(&p.sql(
            "SELECT step, elapsed_ms FROM (
               SELECT s.step, s.elapsed_ms,
                      ROW_NUMBER() OVER (PARTITION BY s.step ORDER BY r.started_at DESC, r.id DESC) AS n
               FROM step_results s JOIN runs r ON r.id = s.run_id
               WHERE r.melody_id = ? AND s.outcome = 'succeeded' AND s.origin = 'played'
             ) t WHERE n <= ? ORDER BY step, n",
        ))
        .bind(melody_id)
        .bind(i64::from(last))
        .fetch_all(p)
        .await)
        .map_err(|e| self.err("reading step durations", e))?;
        let mut by_step: BTreeMap<String, Vec<u64>> = BTreeMap::new();
        for (step, ms) in rows {
            by_step.entry(step).or_default().push(ms.max(0) as u64);
        }
        Ok(by_step)
    }
}

/// A [`ListingRow`] as a [`RunListing`].
fn listing(r: ListingRow) -> RunListing {
    let json = |s: Option<&str>| s.and_then(|s| serde_json::from_str::<Value>(s).ok());
    let totals = json(r.8.as_deref()).unwrap_or(Value::Null);
    let first = json(r.9.as_deref()).unwrap_or(Value::Null);
    let steps = totals
        .get("steps")
        .or_else(|| first.get("steps"))
        .and_then(Value::as_u64)
        .unwrap_or(0);
    let count = |n: i64| u32::try_from(n).unwrap_or(u32::MAX);
    let now = now_ms();
    let played_elsewhere = match (&r.14, r.15) {
        (Some(player), Some(heard_at))
            if played_elsewhere(&r.2, Some(player), Some(heard_at), now) =>
        {
            Some(describe(player, heard_at, now))
        }
        _ => None,
    };
    RunListing {
        summary: RunSummary {
            id: r.0,
            melody_id: r.1,
            status: r.2,
            started_at: r.3,
            finished_at: r.4,
            parent_id: r.5,
        },
        fork_step: r.6,
        melody_name: r.7,
        totals,
        steps: u32::try_from(steps).unwrap_or(u32::MAX),
        reused: count(r.10),
        failed: count(r.11),
        priced: count(r.12),
        unpriced: count(r.13),
        played_elsewhere,
        inputs: Value::Null,
        waiting: Vec::new(),
    }
}
