//! `symphony credential set|list|remove`: the credentials melodies name, kept by this machine.
//!
//! Values go to the OS keychain when one answers, else to a file only the user can read (with
//! a warning that it is a plain file); `symphony_credentials::open` decides and says which.
//! A value is read from standard input or a hidden prompt, never from the command line, where
//! `ps` and the shell history would show it; no command prints a value.

use std::io::{IsTerminal as _, Read as _};

use symphony_credentials::{open, Opened, Secret, StoreError, StoreOptions};

use crate::exit::{Exit, Failure, Outcome};

/// The longest value `set` accepts, so a mistaken pipe of a large file is refused.
const MAX_VALUE_BYTES: u64 = 64 * 1024;

/// Arguments of `symphony credential`.
#[derive(clap::Args)]
#[command(
    after_help = "A melody names a credential (\"credential\": \"github\"); its value comes from \
$SYMPHONY_CREDENTIAL_<NAME> if set, else from the store. The store is the OS keychain when one \
answers, else ~/.config/symphony/credentials.json (mode 0600). $SYMPHONY_CREDENTIAL_STORE=file \
or keychain picks one."
)]
pub struct Args {
    #[command(subcommand)]
    action: Action,
}

#[derive(clap::Subcommand)]
enum Action {
    /// Store a credential. The value is read from standard input, or from a hidden prompt on a
    /// terminal; never give it on the command line.
    Set {
        /// The credential's name, as melodies write it (letters, digits, `_`, `-`, `.`).
        name: String,
    },
    /// List the names of stored credentials (never their values).
    List {
        /// Print `{"store", "location", "names"}` as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Remove a stored credential.
    Remove {
        /// The credential's name.
        name: String,
    },
}

/// Runs `symphony credential …`.
pub fn run(args: Args) -> Outcome {
    let opened = open_store()?;
    match args.action {
        Action::Set { name } => {
            symphony_credentials::check_name(&name).map_err(store_failure)?;
            warn_if_file(&opened);
            let value = read_value(&name)?;
            opened.store.set(&name, &value).map_err(store_failure)?;
            outln!("stored credential `{name}` in {}", opened.store.describe());
        }
        Action::List { json } => {
            let names = opened.store.list().map_err(store_failure)?;
            if json {
                let doc = serde_json::json!({
                    "store": opened.backend.to_string(),
                    "location": opened.store.describe(),
                    "names": names,
                });
                outln!("{doc}");
            } else {
                warn_if_file(&opened);
                errln!(
                    "{} credential{} in {}",
                    names.len(),
                    super::plural(names.len()),
                    opened.store.describe()
                );
                for name in names {
                    outln!("{name}");
                }
            }
        }
        Action::Remove { name } => {
            symphony_credentials::check_name(&name).map_err(store_failure)?;
            if !opened.store.remove(&name).map_err(store_failure)? {
                return Err(Failure::new(
                    Exit::Invalid,
                    format!(
                        "no stored credential `{name}` in {}; `symphony credential list` shows the names",
                        opened.store.describe()
                    ),
                ));
            }
            outln!(
                "removed credential `{name}` from {}",
                opened.store.describe()
            );
        }
    }
    Ok(Exit::Success)
}

fn open_store() -> Result<Opened, Failure> {
    StoreOptions::from_env()
        .and_then(open)
        .map_err(store_failure)
}

fn warn_if_file(opened: &Opened) {
    if let Some(w) = &opened.warning {
        errln!("warning: {w}");
    }
}

/// A name or setting the user gave is wrong (3); the store could not be read or written (4).
fn store_failure(e: StoreError) -> Failure {
    let exit = match e {
        StoreError::BadName { .. } | StoreError::BadPreference(_) => Exit::Invalid,
        _ => Exit::Io,
    };
    Failure::new(exit, e.to_string())
}

/// The value: from a hidden prompt when standard input is a terminal, else all of standard
/// input, less one trailing line break (what `echo` and most editors add).
fn read_value(name: &str) -> Result<Secret, Failure> {
    let mut text = if std::io::stdin().is_terminal() {
        rpassword::prompt_password(format!("value of `{name}` (typing is hidden): ")).map_err(
            |e| {
                Failure::new(
                    Exit::Io,
                    format!("cannot read the value from the terminal: {e}"),
                )
            },
        )?
    } else {
        let mut buf = Vec::new();
        std::io::stdin()
            .lock()
            .take(MAX_VALUE_BYTES + 1)
            .read_to_end(&mut buf)
            .map_err(|e| Failure::new(Exit::Io, format!("cannot read standard input: {e}")))?;
        if buf.len() as u64 > MAX_VALUE_BYTES {
            return Err(Failure::new(
                Exit::Invalid,
                format!(
                    "the value on standard input is longer than {} KiB; is the right thing piped in?",
                    MAX_VALUE_BYTES / 1024
                ),
            ));
        }
        String::from_utf8(buf).map_err(|_| {
            Failure::new(
                Exit::Invalid,
                "the value on standard input is not UTF-8 text",
            )
        })?
    };
    if text.ends_with('\n') {
        text.pop();
        if text.ends_with('\r') {
            text.pop();
        }
    }
    if text.is_empty() {
        return Err(Failure::new(
            Exit::Invalid,
            format!(
                "no value given for `{name}`: pipe it in (`symphony credential set {name} < file`) or type it at the prompt"
            ),
        ));
    }
    Ok(Secret::new(text))
}
