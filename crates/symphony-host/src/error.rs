//! What can go wrong in a host call, said so the person in front of the app can act on it.

use std::path::PathBuf;

use symphony_melody::{Problem, Problems};

use crate::wire::ErrorBody;

/// A failed host call. Each variant names what went wrong and where; [`HostError::to_wire`]
/// is what the UI receives (`{ message, problems? }`).
#[derive(Debug, thiserror::Error)]
pub enum HostError {
    /// A path leads outside the project folder.
    #[error("`{path}` is outside the project folder `{root}`; the app only reads and writes files inside the project")]
    OutsideProject {
        /// The path as given.
        path: String,
        /// The project folder.
        root: PathBuf,
    },
    /// A path that cannot be used, and why.
    #[error("`{path}`: {why}")]
    BadPath {
        /// The path as given.
        path: String,
        /// What is wrong with it.
        why: String,
    },
    /// A file or folder could not be read.
    #[error("cannot read `{path}`: {source}")]
    Read {
        /// The path, relative to the project.
        path: String,
        /// Why.
        source: std::io::Error,
    },
    /// A file could not be written.
    #[error("cannot write `{path}`: {source}")]
    Write {
        /// The path, relative to the project.
        path: String,
        /// Why.
        source: std::io::Error,
    },
    /// The project folder cannot be used.
    #[error("cannot use `{path}` as the project folder: {why}")]
    Project {
        /// The folder.
        path: PathBuf,
        /// Why.
        why: String,
    },
    /// The melody (or the run inputs) have problems; every one is listed.
    #[error("{summary}")]
    Invalid {
        /// One line for the message (the first problem, and how many there are).
        summary: String,
        /// Every problem.
        problems: Vec<Problem>,
    },
    /// A melody with command steps was started before the user trusted it.
    #[error("the melody `{melody}` runs commands on this machine (steps: {steps}) and is not trusted yet; review its permissions and trust it before running it")]
    Untrusted {
        /// The melody's id.
        melody: String,
        /// The steps that run commands.
        steps: String,
    },
    /// A melody to export holds what looks like a secret.
    #[error("the melody holds what looks like a secret value at {paths}; name a credential instead (the machine supplies its value) and export again")]
    SecretInMelody {
        /// Where, as field paths.
        paths: String,
    },
    /// No run with this id is playing in this host.
    #[error("no run `{0}` is playing in this app (it may have finished)")]
    UnknownRun(String),
    /// The adapter asked for a command the host does not have.
    #[error("unknown command `{0}`")]
    UnknownCommand(String),
    /// A command's arguments did not have the expected shape.
    #[error("the arguments of `{command}` are not as expected: {message}")]
    BadArguments {
        /// The command.
        command: String,
        /// What did not fit.
        message: String,
    },
    /// The run store failed.
    #[error("{0}")]
    Store(#[from] symphony_store::StoreError),
    /// The run could not start.
    #[error("cannot start the run: {0}")]
    Start(String),
    /// The trust file could not be read or written.
    #[error("the trust file `{path}`: {why}")]
    Trust {
        /// The file.
        path: PathBuf,
        /// What went wrong.
        why: String,
    },
    /// Open melodies cannot be watched for changes.
    #[error("cannot watch `{path}` for changes: {why}")]
    Watch {
        /// The folder.
        path: String,
        /// Why.
        why: String,
    },
}

impl HostError {
    /// An invalid melody (or inputs), with every problem.
    pub fn invalid(problems: Problems) -> HostError {
        let problems = problems.into_vec();
        let first = problems
            .first()
            .map_or_else(String::new, ToString::to_string);
        let summary = match problems.len() {
            0 | 1 => first,
            n => format!(
                "{first} (and {} more problem{})",
                n - 1,
                if n == 2 { "" } else { "s" }
            ),
        };
        HostError::Invalid { summary, problems }
    }

    /// The body the UI receives.
    pub fn to_wire(&self) -> ErrorBody {
        ErrorBody {
            message: self.to_string(),
            problems: match self {
                HostError::Invalid { problems, .. } => Some(problems.clone()),
                _ => None,
            },
        }
    }

    /// Whether the caller is at fault (a 4xx over HTTP) rather than the machine (5xx).
    pub fn is_client_error(&self) -> bool {
        !matches!(
            self,
            HostError::Read { .. }
                | HostError::Write { .. }
                | HostError::Project { .. }
                | HostError::Store(_)
                | HostError::Trust { .. }
                | HostError::Watch { .. }
        )
    }
}
