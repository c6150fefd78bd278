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
    /// A melody that needs trust was started before a person trusted it.
    #[error("the melody `{melody}` is not trusted yet, and it would do what needs your trust: {facts}. Review its permissions and trust it (in the app, or `symphony trust FILE`) before running it")]
    Untrusted {
        /// The melody's id.
        melody: String,
        /// What it would do, as sentences joined by "; ".
        facts: String,
    },
    /// A command that only a person may carry out was asked for by a page or a script.
    #[error("{0}")]
    NeedsPerson(String),
    /// A melody to export holds what looks like a secret.
    #[error("the melody holds what looks like a secret value at {paths}; name a credential instead (the machine supplies its value) and export again")]
    SecretInMelody {
        /// Where, as field paths.
        paths: String,
    },
    /// No run with this id is in the run store.
    #[error("no run `{0}` in the run store (the history lists the runs it holds; old runs are removed to keep it to its retention)")]
    UnknownRun(String),
    /// The run is in the store but this app is not playing it, so it cannot be steered.
    #[error("run `{0}` is not playing in this app (it has finished, or another process plays it)")]
    NotPlaying(String),
    /// A step named in a command is not in the melody.
    #[error("the melody has no step `{step}`{hint}")]
    UnknownStep {
        /// The step as given.
        step: String,
        /// `; did you mean …?`, when a step's id is close.
        hint: String,
    },
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
    /// The run store failed, or has no such output.
    #[error("{0}")]
    Store(symphony_store::StoreError),
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
    /// The credential store refused or failed (never carries a credential's value).
    #[error("cannot keep the credential: {0}")]
    Credentials(String),
}

impl From<symphony_store::StoreError> for HostError {
    /// A run the store does not hold is the caller's unknown run (a 404 over HTTP); anything
    /// else stays the store's own error.
    fn from(e: symphony_store::StoreError) -> Self {
        match e {
            symphony_store::StoreError::UnknownRun(id) => HostError::UnknownRun(id),
            other => HostError::Store(other),
        }
    }
}

impl HostError {
    /// An unknown step of `melody`, with the closest step id when one is close.
    pub fn unknown_step(step: &str, melody: &symphony_melody::Melody) -> HostError {
        HostError::UnknownStep {
            step: step.to_owned(),
            hint: symphony_melody::problem::did_you_mean(
                step,
                melody.steps.iter().map(|s| s.id.as_str()),
            ),
        }
    }

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
                | HostError::Store(
                    symphony_store::StoreError::Open { .. }
                        | symphony_store::StoreError::Query { .. }
                )
                | HostError::Trust { .. }
                | HostError::Watch { .. }
                | HostError::Credentials(_)
        )
    }
}
