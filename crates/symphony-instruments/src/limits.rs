//! Rate limits per provider, shared by every step of every run in the process.
//!
//! A provider's budget belongs to the account, not to a run: two melodies running at once
//! against the same key spend the same requests per minute. So the [`Limiter`] lives in the
//! step type (one instance per process, registered once) and keeps one [`Budget`] per
//! provider key (`openai`, `anthropic`, or the host of a custom base URL, the same key
//! `settings.concurrency` uses).
//!
//! Three budgets are checked before a call: calls in flight, requests started in the last
//! minute, and tokens spent in the last minute (a call reserves its estimated input and
//! output tokens, and the reservation is corrected to the real count when the call ends).
//! A provider's `429` with `Retry-After` also holds the whole key until then, so parallel
//! steps stop knocking together instead of each earning their own 429.
//!
//! Each call checks the shared counters against *its own* [`Limits`] (the process default
//! for its key, tightened or loosened by the step's `limits` config), so a step asking for a
//! lower limit waits longer without changing what other steps allow themselves.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde::{Deserialize, Serialize};
use tokio::sync::Notify;
use tokio::time::Instant;

/// The window of the per-minute budgets.
const MINUTE: Duration = Duration::from_secs(60);

/// The limits of one provider key. A field left `None` is not limited.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Limits {
    /// Calls in flight at once.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_concurrent: Option<u32>,
    /// Calls started in any 60 seconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub requests_per_minute: Option<u32>,
    /// Tokens (input and output) spent in any 60 seconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tokens_per_minute: Option<u64>,
}

impl Limits {
    /// These limits with every field `over` sets replacing this one's.
    pub fn overridden_by(self, over: &Limits) -> Limits {
        Limits {
            max_concurrent: over.max_concurrent.or(self.max_concurrent),
            requests_per_minute: over.requests_per_minute.or(self.requests_per_minute),
            tokens_per_minute: over.tokens_per_minute.or(self.tokens_per_minute),
        }
    }
}

/// The limits configured for the process: a default for every provider key, and overrides
/// per key (`"openai"`, `"anthropic"`, `"localhost:11434"`, `"openrouter.ai"`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ProviderLimits {
    /// Applies to every key.
    pub default: Limits,
    /// Per key, field by field over the default.
    #[serde(default)]
    pub by_key: BTreeMap<String, Limits>,
}

impl Default for ProviderLimits {
    /// Eight calls in flight per provider; no per-minute budgets (the provider's own 429s,
    /// honoured through `Retry-After`, take care of those unless configured).
    fn default() -> Self {
        ProviderLimits {
            default: Limits {
                max_concurrent: Some(8),
                requests_per_minute: None,
                tokens_per_minute: None,
            },
            by_key: BTreeMap::new(),
        }
    }
}

impl ProviderLimits {
    /// The limits in force for a key.
    pub fn for_key(&self, key: &str) -> Limits {
        match self.by_key.get(key) {
            Some(over) => self.default.overridden_by(over),
            None => self.default,
        }
    }

    /// Where the user's limits file is looked for: `$SYMPHONY_LIMITS`, else `limits.json`
    /// beside the credentials and price files.
    pub fn user_file() -> Option<PathBuf> {
        symphony_credentials::user_config_file("SYMPHONY_LIMITS", "limits.json")
    }

    /// The built-in limits with the user's file (if there is one) over them.
    pub fn load() -> Result<Self, LimitsError> {
        match ProviderLimits::user_file() {
            Some(path) => ProviderLimits::default().with_file(&path),
            None => Ok(ProviderLimits::default()),
        }
    }

    /// These limits with the file at `path` over them, field by field: its `default` over
    /// this default, and its `byKey` entries added (a missing file changes nothing). The file
    /// is `{"default": {…}, "byKey": {"openai": {…}, "localhost:11434": {…}}}`, each entry
    /// `{"maxConcurrent", "requestsPerMinute", "tokensPerMinute"}`, every number ≥ 1.
    pub fn with_file(mut self, path: &Path) -> Result<Self, LimitsError> {
        let text = match std::fs::read_to_string(path) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(self),
            Err(source) => {
                return Err(LimitsError::Read {
                    path: path.to_owned(),
                    source,
                })
            }
        };
        #[derive(Deserialize)]
        #[serde(rename_all = "camelCase", deny_unknown_fields)]
        struct File {
            #[serde(default)]
            default: Limits,
            #[serde(default)]
            by_key: BTreeMap<String, Limits>,
        }
        let parse = |message: String| LimitsError::Parse {
            path: path.to_owned(),
            message,
        };
        let de = &mut serde_json::Deserializer::from_str(&text);
        let file: File = serde_path_to_error::deserialize(de)
            .map_err(|e| parse(format!("{}: {}", e.path(), e.inner())))?;
        let zero = |at: &str, l: &Limits| {
            [
                ("maxConcurrent", l.max_concurrent.map(u64::from)),
                ("requestsPerMinute", l.requests_per_minute.map(u64::from)),
                ("tokensPerMinute", l.tokens_per_minute),
            ]
            .into_iter()
            .find(|(_, v)| *v == Some(0))
            .map(|(field, _)| parse(format!("{at}.{field}: must be at least 1")))
        };
        if let Some(e) = zero("default", &file.default) {
            return Err(e);
        }
        for (key, limits) in &file.by_key {
            if let Some(e) = zero(&format!("byKey.{key}"), limits) {
                return Err(e);
            }
        }
        self.default = self.default.overridden_by(&file.default);
        for (key, limits) in file.by_key {
            let merged = match self.by_key.get(&key) {
                Some(before) => before.overridden_by(&limits),
                None => limits,
            };
            self.by_key.insert(key, merged);
        }
        Ok(self)
    }
}

/// A limits file that cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum LimitsError {
    /// The file exists but cannot be read.
    #[error("cannot read the limits file `{path}`: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The file is not a limits file.
    #[error("the limits file `{path}` is not valid ({message}); expected {{\"default\": {{\"maxConcurrent\": 8}}, \"byKey\": {{\"openai\": {{\"requestsPerMinute\": 500, \"tokensPerMinute\": 200000}}}}}}")]
    Parse {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
}

/// What a key has spent. Held under a `std::sync::Mutex`: it is only touched for a few
/// arithmetic steps and never across an `.await`.
#[derive(Debug, Default)]
struct Budget {
    in_flight: u32,
    /// Start times of the calls of the last minute, oldest first.
    requests: VecDeque<Instant>,
    /// (start time, reservation id, tokens) of the calls of the last minute, oldest first.
    tokens: VecDeque<(Instant, u64, u64)>,
    next_id: u64,
    /// The provider asked every caller to wait until then (a 429 with `Retry-After`).
    held_until: Option<Instant>,
}

impl Budget {
    fn prune(&mut self, now: Instant) {
        while self.requests.front().is_some_and(|t| *t + MINUTE <= now) {
            self.requests.pop_front();
        }
        while self
            .tokens
            .front()
            .is_some_and(|(t, _, _)| *t + MINUTE <= now)
        {
            self.tokens.pop_front();
        }
        if self.held_until.is_some_and(|t| t <= now) {
            self.held_until = None;
        }
    }

    /// `None` if a call may start now; otherwise why not, and until when at the latest it
    /// has to wait (`None`: until a call in flight ends).
    fn blocked(
        &self,
        limits: &Limits,
        tokens: u64,
        now: Instant,
    ) -> Option<(String, Option<Instant>)> {
        if let Some(t) = self.held_until {
            return Some((
                format!(
                    "the provider asked to wait {} ms more (429 Retry-After)",
                    (t - now).as_millis()
                ),
                Some(t),
            ));
        }
        if let Some(max) = limits.max_concurrent {
            if self.in_flight >= max.max(1) {
                return Some((
                    format!("{} calls in flight, the limit is {max}", self.in_flight),
                    None,
                ));
            }
        }
        if let Some(rpm) = limits.requests_per_minute {
            if self.requests.len() >= rpm.max(1) as usize {
                let idx = self.requests.len() - rpm.max(1) as usize;
                return Some((
                    format!(
                        "{} requests in the last minute, the limit is {rpm} per minute",
                        self.requests.len()
                    ),
                    Some(self.requests[idx] + MINUTE),
                ));
            }
        }
        if let Some(tpm) = limits.tokens_per_minute {
            let spent: u64 = self.tokens.iter().map(|(_, _, n)| n).sum();
            // A call bigger than the whole budget still goes, alone, rather than never.
            if spent > 0 && spent + tokens > tpm {
                let mut freed = 0;
                let mut until = None;
                for (t, _, n) in &self.tokens {
                    freed += n;
                    until = Some(*t + MINUTE);
                    if spent - freed + tokens <= tpm {
                        break;
                    }
                }
                return Some((
                    format!(
                        "{spent} tokens spent in the last minute and this call needs about {tokens}; the limit is {tpm} per minute"
                    ),
                    until,
                ));
            }
        }
        None
    }
}

/// One key's budget and the waiters on it.
#[derive(Debug, Default)]
struct Key {
    budget: Mutex<Budget>,
    /// Woken when a call ends or the budget changes, so waiters re-check.
    changed: Notify,
}

/// The process-wide limiter: one budget per provider key.
#[derive(Debug, Default)]
pub struct Limiter {
    keys: Mutex<HashMap<String, Arc<Key>>>,
}

/// Why a call waited, for the step's bottleneck warning.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Wait {
    /// The provider key.
    pub key: String,
    /// What is awaited, with figures.
    pub reason: String,
}

/// A call's place in its key's budget. Dropping it ends the call (the slot is freed even
/// when the step's future is dropped by a timeout or a cancel).
#[derive(Debug)]
pub struct Permit {
    key: Arc<Key>,
    reservation: u64,
}

impl Permit {
    /// Corrects the call's token reservation to what it really spent.
    pub fn settle(&self, tokens: u64) {
        let mut b = lock(&self.key.budget);
        if let Some(entry) = b.tokens.iter_mut().find(|e| e.1 == self.reservation) {
            entry.2 = tokens;
        }
        drop(b);
        self.key.changed.notify_waiters();
    }
}

impl Drop for Permit {
    fn drop(&mut self) {
        lock(&self.key.budget).in_flight -= 1;
        self.key.changed.notify_waiters();
    }
}

fn lock(m: &Mutex<Budget>) -> std::sync::MutexGuard<'_, Budget> {
    // A panic while holding this lock leaves only counters behind; keep using them.
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl Limiter {
    /// A limiter with no calls yet.
    pub fn new() -> Self {
        Limiter::default()
    }

    fn key(&self, key: &str) -> Arc<Key> {
        let mut keys = self
            .keys
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        keys.entry(key.to_owned()).or_default().clone()
    }

    /// Waits until a call of about `tokens` tokens fits `limits` on `key`, then takes its
    /// place. `on_wait` is called once, when (and if) the call has to wait.
    pub async fn acquire(
        &self,
        key: &str,
        limits: &Limits,
        tokens: u64,
        on_wait: impl FnOnce(Wait),
    ) -> Permit {
        let k = self.key(key);
        let mut on_wait = Some(on_wait);
        loop {
            // Registered before the check, so a release between the check and the wait is
            // not missed.
            let changed = k.changed.notified();
            tokio::pin!(changed);
            changed.as_mut().enable();
            let deadline = {
                let mut b = lock(&k.budget);
                let now = Instant::now();
                b.prune(now);
                match b.blocked(limits, tokens, now) {
                    None => {
                        b.in_flight += 1;
                        b.requests.push_back(now);
                        let id = b.next_id;
                        b.next_id += 1;
                        b.tokens.push_back((now, id, tokens));
                        return Permit {
                            key: k.clone(),
                            reservation: id,
                        };
                    }
                    Some((reason, until)) => {
                        if let Some(f) = on_wait.take() {
                            f(Wait {
                                key: key.to_owned(),
                                reason,
                            });
                        }
                        until
                    }
                }
            };
            match deadline {
                Some(t) => {
                    tokio::select! {
                        () = &mut changed => {}
                        () = tokio::time::sleep_until(t) => {}
                    }
                }
                None => changed.await,
            }
        }
    }

    /// Holds every call on `key` until `until` (the provider's `Retry-After`).
    pub fn hold(&self, key: &str, until: Instant) {
        let k = self.key(key);
        {
            let mut b = lock(&k.budget);
            b.held_until = Some(b.held_until.map_or(until, |t| t.max(until)));
        }
        k.changed.notify_waiters();
    }

    /// Calls in flight on a key right now.
    pub fn in_flight(&self, key: &str) -> u32 {
        lock(&self.key(key).budget).in_flight
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use std::sync::atomic::{AtomicU32, Ordering};

    fn limits(c: Option<u32>, rpm: Option<u32>, tpm: Option<u64>) -> Limits {
        Limits {
            max_concurrent: c,
            requests_per_minute: rpm,
            tokens_per_minute: tpm,
        }
    }

    #[test]
    fn the_users_limits_file_is_laid_over_the_built_in_limits_field_by_field() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("limits.json");
        // No file: the built-in limits.
        assert_eq!(
            ProviderLimits::default().with_file(&path).unwrap(),
            ProviderLimits::default()
        );
        std::fs::write(
            &path,
            r#"{"byKey": {"openai": {"requestsPerMinute": 500, "tokensPerMinute": 200000},
                          "localhost:11434": {"maxConcurrent": 1}}}"#,
        )
        .unwrap();
        let l = ProviderLimits::default().with_file(&path).unwrap();
        // The default's 8 in flight is kept; OpenAI gains per-minute budgets, Ollama one call
        // at a time; other keys are as before.
        assert_eq!(
            l.for_key("openai"),
            limits(Some(8), Some(500), Some(200_000))
        );
        assert_eq!(l.for_key("localhost:11434"), limits(Some(1), None, None));
        assert_eq!(l.for_key("anthropic"), limits(Some(8), None, None));
        std::fs::write(&path, r#"{"default": {"maxConcurrent": 16}}"#).unwrap();
        let l = ProviderLimits::default().with_file(&path).unwrap();
        assert_eq!(l.for_key("anthropic"), limits(Some(16), None, None));
    }

    #[test]
    fn a_broken_limits_file_says_where_and_what() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("limits.json");
        let error = |text: &str| {
            std::fs::write(&path, text).unwrap();
            ProviderLimits::default()
                .with_file(&path)
                .unwrap_err()
                .to_string()
        };
        let e = error(r#"{"byKey": {"openai": {"requestsPerMinte": 5}}}"#);
        assert!(
            e.contains("byKey.openai") && e.contains("unknown field `requestsPerMinte`"),
            "{e}"
        );
        let e = error(r#"{"byKey": {"openai": {"maxConcurrent": 0}}}"#);
        assert!(
            e.contains("byKey.openai.maxConcurrent: must be at least 1"),
            "{e}"
        );
        let e = error(r#"{"defaults": {}}"#);
        assert!(e.contains("unknown field `defaults`"), "{e}");
        assert!(e.contains(&path.display().to_string()), "{e}");
    }

    #[tokio::test(start_paused = true)]
    async fn concurrency_is_capped_and_waiters_are_told_once() {
        let limiter = Arc::new(Limiter::new());
        let now = Arc::new(AtomicU32::new(0));
        let max = Arc::new(AtomicU32::new(0));
        let waits = Arc::new(AtomicU32::new(0));
        let mut tasks = Vec::new();
        for _ in 0..20 {
            let (limiter, now, max, waits) =
                (limiter.clone(), now.clone(), max.clone(), waits.clone());
            tasks.push(tokio::spawn(async move {
                let _p = limiter
                    .acquire("p", &limits(Some(3), None, None), 1, |_| {
                        waits.fetch_add(1, Ordering::SeqCst);
                    })
                    .await;
                let n = now.fetch_add(1, Ordering::SeqCst) + 1;
                max.fetch_max(n, Ordering::SeqCst);
                tokio::time::sleep(Duration::from_millis(10)).await;
                now.fetch_sub(1, Ordering::SeqCst);
            }));
        }
        for t in tasks {
            t.await.unwrap();
        }
        assert_eq!(max.load(Ordering::SeqCst), 3);
        assert_eq!(waits.load(Ordering::SeqCst), 17);
        assert_eq!(limiter.in_flight("p"), 0);
    }

    #[tokio::test(start_paused = true)]
    async fn requests_per_minute_spread_calls_over_the_minute() {
        let limiter = Limiter::new();
        let l = limits(None, Some(2), None);
        let start = Instant::now();
        for _ in 0..2 {
            drop(limiter.acquire("p", &l, 0, |_| panic!("no wait")).await);
        }
        let mut reason = String::new();
        drop(limiter.acquire("p", &l, 0, |w| reason = w.reason).await);
        assert_eq!(Instant::now() - start, MINUTE);
        assert_eq!(
            reason,
            "2 requests in the last minute, the limit is 2 per minute"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn tokens_per_minute_count_what_was_really_spent() {
        let limiter = Limiter::new();
        let l = limits(None, None, Some(1000));
        let start = Instant::now();
        let p = limiter.acquire("p", &l, 900, |_| panic!("no wait")).await;
        // The estimate was high: the call spent 100, so the next 800 fit at once.
        p.settle(100);
        drop(p);
        drop(limiter.acquire("p", &l, 800, |_| panic!("no wait")).await);
        assert_eq!(Instant::now(), start);
        // Now 900 are spent: 200 more must wait for the first call to leave the window.
        drop(limiter.acquire("p", &l, 200, |_| {}).await);
        assert_eq!(Instant::now() - start, MINUTE);
    }

    #[tokio::test(start_paused = true)]
    async fn a_hold_stops_every_caller_until_it_ends() {
        let limiter = Limiter::new();
        let start = Instant::now();
        limiter.hold("p", start + Duration::from_millis(1500));
        let mut told = false;
        drop(
            limiter
                .acquire("p", &Limits::default(), 0, |_| told = true)
                .await,
        );
        assert!(told);
        assert_eq!(Instant::now() - start, Duration::from_millis(1500));
        // Keys are independent.
        limiter.hold("p", Instant::now() + MINUTE);
        drop(
            limiter
                .acquire("q", &Limits::default(), 0, |_| panic!("no wait"))
                .await,
        );
    }

    #[test]
    fn per_key_limits_override_the_default_field_by_field() {
        let mut pl = ProviderLimits::default();
        pl.by_key
            .insert("openai".into(), limits(None, Some(500), None));
        assert_eq!(pl.for_key("openai"), limits(Some(8), Some(500), None));
        assert_eq!(pl.for_key("anthropic"), limits(Some(8), None, None));
    }
}
