//! The run store: every run, its append-only event log, each step's result and attempts, and
//! step outputs stored once by content hash, through sqlx: in one SQLite file by default, or
//! in a Postgres database a team shares (a `postgres://` URL where a path would go). Both
//! backends sit behind the same [`Store`]; `db.rs` holds the little that differs.
//!
//! **Architecture Invariant:** this crate is the only one that speaks SQL. The conductor knows
//! nothing of it: a host hands each [`EventRecord`] of a run to a [`Recorder`], which returns at
//! once and writes in batched transactions on a task of its own, and gives the conductor the
//! store as its [`OutputCache`].
//!
//! Durability: SQLite runs in WAL mode with `synchronous = NORMAL`, so a committed batch
//! survives the process being killed (not necessarily a power cut); Postgres keeps what it
//! committed as its server is configured to. A run killed mid-way keeps
//! every step that finished before the last commit; [`Store::resume`] hands those outputs back
//! to the conductor so they are not played again.
//!
//! [`Store`] itself is `store.rs`, opening it `open.rs`, its errors `error.rs`.
//!
//! [`EventRecord`]: symphony_conductor::EventRecord
//! [`OutputCache`]: symphony_conductor::OutputCache

mod db;
mod error;
mod export;
mod gates;
mod open;
mod packing;
mod pins;
mod players;
mod queries;
mod store;
#[cfg(feature = "testing")]
pub mod testing;
mod writer;

use sha2::{Digest, Sha256};

pub use error::StoreError;
pub use export::{Pruned, StepDiff};
pub use gates::GateRecord;
pub use pins::{Pin, RunSource, DEFAULT_KEEP_RUNS};
pub use players::{played_elsewhere, SILENT_AFTER_MS};
pub use queries::{EventLog, FileRow, RunDetail, RunListing, RunSummary, StepRow, StoredEvent};
pub use store::{NewRun, Resumable, Store};
pub use writer::Recorder;

/// SHA-256 of bytes, in hex.
pub(crate) fn hash_bytes(bytes: &[u8]) -> String {
    let digest = Sha256::digest(bytes);
    let mut hex = String::with_capacity(64);
    for b in digest {
        hex.push_str(&format!("{b:02x}"));
    }
    hex
}

/// Milliseconds since the Unix epoch.
pub(crate) fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}
