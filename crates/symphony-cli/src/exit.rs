//! Exit codes, and the one error type commands return.
//!
//! Scripts and tests rely on these numbers, so they are listed once here and printed in
//! `symphony --help`. A command either returns the [`Exit`] it ended with or a [`Failure`]
//! carrying the code and a message for a person; `main` prints the message and exits with the
//! code. Nothing else in the CLI calls `std::process::exit`, except the second Ctrl-C.
//!
//! | code | meaning |
//! |-----:|---------|
//! | 0 | success |
//! | 1 | the run finished `failed` (or `fmt --check` found files to reformat, `diff` found differences, `merge-driver` left conflicts) |
//! | 2 | usage error (reported by clap) |
//! | 3 | invalid melody or run inputs (parse or validation problems, unknown or missing input) |
//! | 4 | I/O error (file missing or unreadable, output or workspace not writable) |
//! | 5 | the run ended `cancelled` without Ctrl-C (a step was cancelled) |
//! | 6 | the melody needs a person's trust and has none (no terminal to ask on, no `--trust`) |
//! | 70 | internal error: a bug in Symphony |
//! | 130 | interrupted by Ctrl-C |

use std::fmt;
use std::path::Path;
use std::process::ExitCode;

/// How the `symphony` command ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Exit {
    /// Everything went as asked.
    Success,
    /// The run finished `failed`, or `fmt --check` found files that would change.
    Failed,
    /// The command line was wrong (clap's own errors).
    Usage,
    /// A melody, or the inputs of a run, have problems.
    Invalid,
    /// A file could not be read or written.
    Io,
    /// The run ended `cancelled` without Ctrl-C (a step was cancelled).
    Cancelled,
    /// The melody needs a person's trust and has none: no terminal to ask on, no `--trust`,
    /// or the person said no.
    Untrusted,
    /// Something that should not happen did: a bug.
    Internal,
    /// The user pressed Ctrl-C.
    Interrupted,
}

impl Exit {
    /// The process exit code.
    pub fn code(self) -> u8 {
        match self {
            Exit::Success => 0,
            Exit::Failed => 1,
            Exit::Usage => 2,
            Exit::Invalid => 3,
            Exit::Io => 4,
            Exit::Cancelled => 5,
            Exit::Untrusted => 6,
            Exit::Internal => 70,
            Exit::Interrupted => 130,
        }
    }
}

impl From<Exit> for ExitCode {
    fn from(exit: Exit) -> Self {
        ExitCode::from(exit.code())
    }
}

/// The exit codes, as shown at the end of `symphony --help`.
pub const HELP: &str = "\
Exit codes:
  0    success
  1    the run finished failed (or `fmt --check` found files to reformat, `diff` found
       differences, `merge-driver` left conflicts)
  2    usage error
  3    invalid melody or run inputs (parse or validation problems, unknown or missing input)
  4    I/O error (file missing or unreadable, output or workspace not writable)
  5    the run ended cancelled because a step was cancelled
  6    the melody needs your trust and has none (no terminal to ask on, no --trust)
  70   internal error (a bug in Symphony; please report it)
  130  interrupted by Ctrl-C";

/// A command that could not do what was asked: the code to exit with and what to tell the user.
///
/// The message may span several lines (one per problem); `main` prints each as `error: …`.
#[derive(Debug)]
pub struct Failure {
    /// The exit code.
    pub exit: Exit,
    /// What happened, where, and what to do.
    pub message: String,
}

impl Failure {
    /// A failure with this code and message.
    pub fn new(exit: Exit, message: impl Into<String>) -> Self {
        Failure {
            exit,
            message: message.into(),
        }
    }

    /// Reading `path` failed.
    pub fn read(path: &Path, error: &std::io::Error) -> Self {
        let hint = match error.kind() {
            std::io::ErrorKind::NotFound => "; check the path",
            std::io::ErrorKind::PermissionDenied => "; check the file's permissions",
            _ => "",
        };
        Failure::new(
            Exit::Io,
            format!("cannot read `{}`: {error}{hint}", path.display()),
        )
    }

    /// Writing `path` failed.
    pub fn write(path: &Path, error: &std::io::Error) -> Self {
        Failure::new(
            Exit::Io,
            format!(
                "cannot write `{}`: {error}; check that the folder exists and is writable",
                path.display()
            ),
        )
    }

    /// A melody (or a run's inputs) has problems; one line per problem.
    pub fn problems(problems: symphony_melody::Problems) -> Self {
        Failure::new(Exit::Invalid, problems.to_string())
    }
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Failure {}

/// What every command returns.
pub type Outcome = Result<Exit, Failure>;
