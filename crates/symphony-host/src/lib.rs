//! The service behind every command of the Symphony app: one [`Host`] per project folder.
//!
//! The desktop app (`src-tauri`) and `symphony serve` are two thin adapters over this crate:
//! each unpacks a command's arguments, makes one call here and forwards [`HostEvent`]s to the
//! UI. Everything the webview may do to the machine goes through a `Host`: it reads and writes
//! melody files only inside the project folder ([`project`]), describes the step types
//! ([`types`]), keeps the user's trust in melodies that run commands ([`trust`]), plays runs
//! with the conductor and records them in the run store ([`runs`], through the one
//! [`launch::Launcher`] every host uses, with [`recorded::RecordedOptions`]), shows past runs to the
//! board ([`history`], [`run_files`]), forks them ([`fork`]), gives the conductor each step's
//! past durations ([`estimates`]), and watches open melodies for edits made elsewhere
//! ([`watch`]). The request, response and event types the UI sees are
//! declared once, in [`wire`], and exported to TypeScript ([`bindings`]).
//!
//! **Architecture Invariant:** no Tauri, no HTTP server, no SQL here. Events leave through the
//! [`EventSink`] trait the adapters implement; the run store is reached through its crate.
//!
//! **Architecture Invariant:** no path from the UI is used before [`project::Project::resolve`]
//! has confined it to the project folder (no `..`, no symbolic link out of it).

pub mod bindings;
pub mod commands;
pub mod compare;
mod error;
pub mod estimates;
pub mod fork;
mod gates;
pub mod history;
mod host;
pub mod launch;
pub mod melodies;
pub mod project;
pub mod providers;
pub mod recorded;
pub mod registry;
pub mod resume;
pub mod run_files;
pub mod runs;
pub mod trust;
pub mod types;
pub mod watch;
pub mod wire;

pub use error::HostError;
pub use host::{EventSink, Host, HostOptions};
pub use registry::registry;
pub use wire::HostEvent;
