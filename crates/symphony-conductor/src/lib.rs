//! The conductor: plays a melody.
//!
//! [`Conductor::start`] checks a melody and its run inputs, prepares the run workspace and
//! spawns the scheduler (`scheduler`), which starts each step as soon as its inputs are in,
//! in parallel within the melody's limits, and plays each through [`attempt`] (timeouts,
//! retries, fallbacks). Everything that happens is a [`RunEvent`] on an [`EventStream`]; a
//! [`RunControl`] cancels, pauses and resumes. Step types live one per file in [`steps`] and are
//! registered in [`registry`].
//!
//! **Architecture Invariant:** this crate knows nothing of Tauri, SQL or HTTP servers. Hosts
//! (the CLI, the app, the store) read events and call this API; nothing here calls them.

pub mod atomic;
pub mod attempt;
pub mod cache;
pub mod conductor;
pub mod event;
pub mod registry;
mod scheduler;
mod score;
pub mod step;
pub mod steps;
#[cfg(any(test, feature = "testing"))]
pub mod testing;
mod warnings;
pub mod workspace;

pub use cache::{cache_key, CacheHandle, OutputCache};
pub use conductor::{
    resolve_inputs, Conductor, GateResume, Prepared, Run, RunControl, RunOptions, RunReport,
    StartError, StepHistory, StepReport,
};
pub use event::{
    BottleneckKind, Decision, EventRecord, EventStream, LoopExit, OutputOrigin, ReviewFormat,
    RunEvent, RunStatus, StepId, StepOutcome, Totals, EVENT_FORMAT, EXCHANGE_CAP,
};
pub use registry::Registry;
pub use score::{DEFAULT_MAX_PARALLEL, DEFAULT_TIMEOUT};
pub use step::{
    BoxFuture, ErrorKind, Outputs, Played, StepContext, StepError, StepOutput, StepType, Usage,
};
pub use steps::gate::GateAnswer;
pub use workspace::Workspace;
