//! `symphony`: the command-line host of the Symphony engine.
//!
//! It validates, plans, formats and imports melody files, and runs them with a live view of
//! every step. Like the desktop app, it is a thin host: each command unpacks its arguments,
//! calls `symphony-melody` or `symphony-conductor`, and turns the answer into text and an exit
//! code (see [`exit`]). One module per command lives under `cmd/`; the live and plain views of a
//! run live in `view`, its closing table in `summary`.
//!
//! **Architecture Invariant:** no melody logic lives here. What a step type accepts, how a
//! melody is validated, planned or played is asked of the core crates, never re-implemented.

#[macro_use]
mod out;
mod cmd;
mod exit;
mod registry;
mod summary;
mod view;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

use crate::exit::{Exit, Outcome};

/// Validate, plan, format, import and run Symphony melodies.
#[derive(Parser)]
#[command(name = "symphony", version, after_help = exit::HELP)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

/// Every command, each implemented in its own module under `cmd/`.
#[derive(Subcommand)]
enum Command {
    /// Check melody files and report every problem, with its file and field path.
    Validate(cmd::validate::Args),
    /// Show how a melody would be played: waves of parallel steps and the critical path.
    Plan(cmd::plan::Args),
    /// Play a melody, showing each step live, and write its workspace; the run is kept in the
    /// run store.
    Run(cmd::run::Args),
    /// Continue a run that did not finish: finished steps are kept, the rest are played.
    Resume(cmd::runs::ResumeArgs),
    /// The runs in the store: list, show, events, export, diff, prune.
    Runs(cmd::runs::Args),
    /// Convert a workflow from another tool into a melody.
    Import(cmd::import::Args),
    /// Rewrite melody files in their canonical, deterministic form.
    Fmt(cmd::fmt::Args),
    /// Compare two melody files step by step and field by field; exit 1 when they differ.
    Diff(cmd::diff::Args),
    /// Git's merge driver for melody files (`%O %A %B`): merge by step id and field.
    MergeDriver(cmd::merge_driver::Args),
    /// List the step types this build can play.
    Types(cmd::types::Args),
    /// Serve the app's API and UI over HTTP on loopback; prints the URL (with its token) first.
    Serve(cmd::serve::Args),
    /// Set, list and remove the credentials melodies name (values never on the command line).
    Credential(cmd::credential::Args),
    /// Show what a melody would do that needs your trust (programs, credentials sent away,
    /// addresses it reaches) and trust it as it is.
    Trust(cmd::trust::Args),
}

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            // `--help` and `--version` arrive here too, and are not errors.
            let _ = e.print();
            return if e.use_stderr() {
                Exit::Usage.into()
            } else {
                Exit::Success.into()
            };
        }
    };
    init_tracing();
    match dispatch(cli.command) {
        Ok(Ok(exit)) => exit.into(),
        Ok(Err(failure)) => {
            for line in failure.message.lines() {
                errln!("error: {line}");
            }
            failure.exit.into()
        }
        Err(unexpected) => {
            errln!("error: {unexpected:#}");
            errln!("error: this is a bug in Symphony; please report it with the command you ran");
            Exit::Internal.into()
        }
    }
}

/// Runs one command. The outer `Result` carries only the unexpected (a runtime that cannot
/// start); every expected failure is a [`exit::Failure`] inside.
fn dispatch(command: Command) -> anyhow::Result<Outcome> {
    Ok(match command {
        Command::Validate(args) => cmd::validate::run(args),
        Command::Plan(args) => cmd::plan::run(args),
        Command::Import(args) => cmd::import::run(args),
        Command::Fmt(args) => cmd::fmt::run(args),
        Command::Diff(args) => cmd::diff::run(args),
        Command::MergeDriver(args) => cmd::merge_driver::run(args),
        Command::Types(args) => cmd::types::run(args),
        Command::Credential(args) => cmd::credential::run(args),
        Command::Trust(args) => cmd::trust::run(args),
        Command::Run(args) => block_on(cmd::run::run(args))?,
        Command::Resume(args) => block_on(cmd::runs::resume(args))?,
        Command::Runs(args) => block_on(cmd::runs::run(args))?,
        Command::Serve(args) => block_on(cmd::serve::run(args))?,
    })
}

/// Runs an async command on a multi-thread runtime.
fn block_on(command: impl std::future::Future<Output = Outcome>) -> anyhow::Result<Outcome> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| anyhow::anyhow!("cannot start the async runtime: {e}"))?;
    Ok(runtime.block_on(command))
}

/// Engine diagnostics go to stderr, filtered by `RUST_LOG` (warnings and errors by default), so
/// they never mix with the JSON a script reads from stdout.
fn init_tracing() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_target(false)
        .try_init();
}
