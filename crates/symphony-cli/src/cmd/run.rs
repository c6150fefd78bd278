//! `symphony run FILE`: plays a melody with the conductor and shows it as it happens.
//!
//! The command validates the melody, parses `--input` values by each input's declared type,
//! resolves defaults, picks a workspace folder (`runs/<melody>-<UTC time>-<4 hex>` unless
//! `--workspace` names one) and starts the run. It then reads the run's events into a view
//! ([`crate::view`]): the live terminal view, plain lines when stdout is not a terminal, or
//! newline-delimited JSON with `--json`. `--dry-run` stops after resolving the inputs and prints
//! the plan, writing nothing.
//!
//! Ctrl-C once cancels the run (running steps are stopped, finished outputs are kept, the
//! workspace is closed properly) and the command exits 130; a second Ctrl-C exits at once.

use std::collections::hash_map::RandomState;
use std::collections::BTreeSet;
use std::future::Future;
use std::hash::BuildHasher;
use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use serde_json::{json, Map, Value};
use symphony_conductor::{resolve_inputs, Conductor, Registry, RunEvent, RunReport, RunStatus};
use symphony_host::launch::{self, Given, LaunchError, Launcher, Next, Playing, Start};
use symphony_host::recorded::{LaunchedBy, RecordedOptions};
use symphony_melody::problem::did_you_mean;
use symphony_melody::{Melody, Problem, Problems};
use symphony_store::Store;
use tokio::sync::mpsc;

use super::plan::{plan_json, plan_of, print_plan};
use super::prompt::{self, Prompt, Reply};
use super::{is_offline, load_melody};
use crate::exit::{Exit, Failure, Outcome};
use crate::view::{self, Mode, RunContext};

/// How often the live view redraws elapsed times and countdowns.
const TICK: Duration = Duration::from_millis(100);

/// Arguments of `symphony run`.
#[derive(clap::Args)]
pub struct Args {
    /// The melody file.
    #[arg(value_name = "FILE")]
    pub file: PathBuf,
    /// A run input, parsed as the input's declared type (string as is; number, boolean, or
    /// JSON for lists and json). Repeat for each input.
    #[arg(short = 'i', long = "input", value_name = "NAME=VALUE", value_parser = name_value)]
    pub inputs: Vec<(String, String)>,
    /// A run input read from a file: its text for a string input, else parsed like --input.
    #[arg(long = "input-file", value_name = "NAME=PATH", value_parser = name_value)]
    pub input_files: Vec<(String, String)>,
    /// The folder the run writes into (created if needed; must not hold another run).
    /// Default: runs/<melody-id>-<UTC time>-<4 hex> under the current folder.
    #[arg(long, value_name = "DIR")]
    pub workspace: Option<PathBuf>,
    /// How many steps may work at once (overrides the melody's settings.maxParallel).
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..))]
    pub max_parallel: Option<u32>,
    /// Validate, resolve the inputs and print the plan; write nothing and play nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Print every event as one JSON object per line, then the report; messages go to stderr.
    #[arg(long)]
    pub json: bool,
    /// Seed of the retry jitter, to replay a run's timing exactly (default: random, shown).
    #[arg(long, value_name = "N")]
    pub seed: Option<u64>,
    /// Play every step: reuse no stored output (new outputs are still stored).
    #[arg(long)]
    pub fresh: bool,
    /// Play this step again even if an unchanged stored output exists ("take again").
    /// Repeat for each step.
    #[arg(long = "again", value_name = "STEP")]
    pub again: Vec<String>,
    /// Trust the melody as it is, if it needs trust (it runs programs, sends a credential away
    /// from its provider, or reaches addresses of its own): for scripts, and only for melodies
    /// you know. On a terminal you are asked instead.
    #[arg(long)]
    pub trust: bool,
    #[command(flatten)]
    pub store: StoreArgs,
}

/// Where runs are kept.
#[derive(clap::Args, Clone)]
pub struct StoreArgs {
    /// The run store: a SQLite file, or a Postgres database a team shares
    /// (postgres://USER@HOST/DATABASE). Default: $SYMPHONY_DB, else
    /// $XDG_DATA_HOME/symphony/runs.db, else ~/.local/share/symphony/runs.db.
    #[arg(long = "store", value_name = "FILE|URL", global = true)]
    pub path: Option<PathBuf>,
}

impl StoreArgs {
    /// Opens the store, or says why it cannot be.
    pub async fn open(&self) -> Result<Store, Failure> {
        let path = self.path.clone().unwrap_or_else(Store::default_path);
        Store::open(&path)
            .await
            .map_err(|e| Failure::new(Exit::Io, e.to_string()))
    }
}

/// Splits `name=value` at the first `=`.
pub(super) fn name_value(raw: &str) -> Result<(String, String), String> {
    match raw.split_once('=') {
        Some((name, value)) if !name.trim().is_empty() => {
            Ok((name.trim().to_owned(), value.to_owned()))
        }
        _ => Err(format!("expected NAME=VALUE, found `{raw}`")),
    }
}

/// Runs `symphony run`.
pub async fn run(args: Args) -> Outcome {
    let registry = crate::registry::registry();
    let melody = load_melody(&args.file, &registry)?;
    let source = args.file.display().to_string();
    // A dry run plays nothing, so it needs no trust; anything else asks before it starts.
    let trusted = if args.dry_run {
        None
    } else {
        Some(super::trust::gate(
            &melody,
            &registry,
            &args.store,
            args.trust,
            &source,
        )?)
    };
    let given = parse_inputs(&melody, &args.inputs, &args.input_files, &source)?;
    let inputs =
        resolve_inputs(&melody, &given).map_err(|p| Failure::problems(p.in_file(&source)))?;
    let run_id = new_run_id(&melody.melody.id);
    let workspace = default_workspace(args.workspace.as_deref(), &run_id)?;
    let seed = args.seed.unwrap_or_else(random_u64);
    for step in &args.again {
        if !melody.steps.iter().any(|s| &s.id == step) {
            return Err(Failure::new(
                Exit::Usage,
                format!(
                    "--again {step}: the melody has no step `{step}`{}",
                    did_you_mean(step, melody.steps.iter().map(|s| s.id.as_str()))
                ),
            ));
        }
    }

    if args.dry_run {
        return dry_run(&melody, &registry, &args, &run_id, &workspace, &inputs);
    }
    let trusted = trusted.expect("trust is decided above for every run but a dry run");
    refuse_used_workspace(&workspace)?;

    let store = args.store.open().await?;
    let conductor = Conductor::new(registry);
    let melody_id = melody.melody.id.clone();
    // `load_melody` validated it against this same registry: compile it without a second pass.
    let prepared = conductor.prepare_checked(melody);
    let again: BTreeSet<String> = args.again.iter().cloned().collect();
    let start = Start {
        run_id,
        inputs,
        workspace,
        given: Given::Pins {
            except: again.clone(),
        },
        options: RecordedOptions {
            seed,
            max_parallel: args.max_parallel,
            fresh: args.fresh,
            fresh_steps: again,
            host: Some(LaunchedBy::Cli),
            ..RecordedOptions::default()
        },
        parent: None,
    };
    let launching = Launcher::new(&conductor, &store).start(prepared, trusted, start);
    play(
        &store,
        &conductor,
        launching,
        args.json,
        &source,
        |playing| {
            // For a new run, what is given is what is pinned.
            say_pinned(&melody_id, &playing.given)
        },
    )
    .await
}

/// Says which steps are pinned (their chosen outputs are used), unless none is.
pub(super) fn say_pinned(melody_id: &str, pinned: &BTreeSet<String>) {
    if !pinned.is_empty() {
        errln!(
            "pinned: {} (their chosen outputs are used; `symphony runs unpin {melody_id} STEP` plays a step again)",
            pinned.iter().cloned().collect::<Vec<_>>().join(", "),
        );
    }
}

/// The outputs the melody's steps are pinned to (`symphony runs pin`), except steps taken
/// again; says which are pinned unless there are none.
pub(super) async fn pinned_outputs(
    store: &Store,
    melody: &Melody,
    again: &[String],
) -> Result<std::collections::BTreeMap<String, symphony_conductor::Outputs>, Failure> {
    let mut pinned = store
        .pinned_outputs(&melody.melody.id)
        .await
        .map_err(|e| Failure::new(Exit::Io, e.to_string()))?;
    pinned.retain(|step, _| melody.steps.iter().any(|s| &s.id == step) && !again.contains(step));
    say_pinned(&melody.melody.id, &pinned.keys().cloned().collect());
    Ok(pinned)
}

/// Why a run did not start, as the command line says it.
fn launch_failure(e: LaunchError, source: &str) -> Failure {
    match e {
        LaunchError::Invalid(problems) => Failure::problems(problems.in_file(source)),
        LaunchError::Workspace { path, source: error } => Failure::new(
            Exit::Io,
            format!(
                "cannot prepare the run workspace `{}`: {error}; choose a writable folder with --workspace",
                path.display()
            ),
        ),
        LaunchError::Store(e) => super::runs::store_failure(e),
        e @ LaunchError::Untrusted { .. } => Failure::new(Exit::Internal, e.to_string()),
    }
}

/// Launches a run (`launching`, from the [`Launcher`]) and plays it with the view the terminal
/// calls for, recording every event; `announce` says what the person should know once it has
/// started. Maps how it ended to an exit code.
pub async fn play(
    store: &Store,
    conductor: &Conductor,
    launching: impl Future<Output = Result<Playing, LaunchError>>,
    json: bool,
    source: &str,
    announce: impl FnOnce(&Playing),
) -> Outcome {
    let mode = if json {
        Mode::Json
    } else if std::io::stdout().is_terminal() {
        Mode::Live
    } else {
        Mode::Plain
    };
    // Caught from here on: a Ctrl-C while the workspace is being prepared cancels cleanly too.
    let mut presses = interrupts();
    let mut playing = launching.await.map_err(|e| launch_failure(e, source))?;
    announce(&playing);
    let context = RunContext::new(
        playing.prepared.melody(),
        conductor.registry(),
        &playing.run_id,
        &playing.workspace.clone().unwrap_or_default(),
        playing.seed,
    );
    let mut view = view::open(mode, context);
    // A person at a terminal answers gates right here.
    let mut prompt = Prompt::new(mode != Mode::Json && std::io::stdin().is_terminal());
    let (report, interrupted) = follow(
        &mut playing,
        &mut presses,
        &mut prompt,
        view.as_mut(),
        mode == Mode::Live,
    )
    .await?;
    view.finish(&report);
    let run_id = playing.run_id.clone();
    if let Err(e) = playing.keep().await {
        return Err(Failure::new(
            Exit::Io,
            format!(
                "the run store could not keep all of run {run_id}: {e}. What it wrote before is kept, and the workspace holds the output of every step that finished"
            ),
        ));
    }
    let pruned = launch::apply_retention(store).await;
    if pruned > 0 {
        errln!(
            "the run store keeps the newest {} runs: removed {pruned} older (`symphony runs retention` changes this)",
            store.keep_runs().await.unwrap_or_default(),
        );
    }
    Ok(match report.status {
        RunStatus::Succeeded => Exit::Success,
        RunStatus::Failed => Exit::Failed,
        RunStatus::Cancelled if interrupted => Exit::Interrupted,
        RunStatus::Cancelled => Exit::Cancelled,
    })
}

/// Feeds the run's events to the view until the run ends, handling Ctrl-C. Returns the report
/// and whether the user interrupted.
async fn follow(
    playing: &mut Playing,
    presses: &mut mpsc::UnboundedReceiver<()>,
    prompt: &mut Prompt,
    view: &mut dyn view::View,
    ticking: bool,
) -> Result<(RunReport, bool), Failure> {
    let control = playing.control.clone();
    let mut interrupted = false;
    let mut tick = tokio::time::interval(TICK);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    let joined = loop {
        tokio::select! {
            // A press first, so a flood of events cannot delay it.
            biased;
            Some(()) = presses.recv() => {
                if interrupted {
                    view.abandon();
                    errln!("interrupted again: exiting now; the workspace may be incomplete");
                    std::process::exit(i32::from(Exit::Interrupted.code()));
                }
                interrupted = true;
                control.cancel();
                view.note("Ctrl-C: cancelling the run; finished outputs are kept. Press Ctrl-C again to exit at once.");
            }
            // Every event is read before the run's end, so the view has seen everything when
            // the report arrives.
            next = playing.next() => match next {
                Next::Event(record) => {
                    view.event(&record);
                    if let Some(step) = gate_ended(&record.event) {
                        prompt.answered(step);
                    }
                    // Ask for the next gate that waits, if none is asked.
                    if let Some(step) = playing.asking().iter().next() {
                        if let Some(line) = prompt.ask(step) {
                            view.note(&line);
                        }
                    }
                }
                Next::Ended(joined) => break joined,
                // The store stopped writing (disk full, file damaged): nothing more of the run
                // would be kept, so it stops here with what finished.
                Next::StoreStopped => view.note(
                    "the run store stopped writing: cancelling the run; what finished is kept",
                ),
            },
            Some(line) = prompt.line() => {
                let Some(step) = prompt.asking().map(str::to_owned) else { continue };
                match prompt::reply(&line) {
                    Reply::Explain(why) => view.note(why),
                    Reply::Answer(answer) => {
                        if let Err(e) = playing.answer_gate(&step, answer).await {
                            view.note(&e.to_string());
                        }
                        prompt.answered(&step);
                    }
                }
            }
            _ = tick.tick(), if ticking => view.tick(),
        }
    };
    let report = joined.map_err(|e| {
        view.abandon();
        Failure::new(
            Exit::Internal,
            format!("the run's scheduler stopped unexpectedly: {e}; this is a bug in Symphony, please report it"),
        )
    })?;
    Ok((report, interrupted))
}

/// The gate an event ends the wait of: answered, or its step ended some other way.
fn gate_ended(event: &RunEvent) -> Option<&str> {
    match event {
        RunEvent::GateAnswered { step, .. }
        | RunEvent::StepFailed { step, .. }
        | RunEvent::StepCancelled { step }
        | RunEvent::StepSucceeded { step, .. } => Some(step),
        _ => None,
    }
}

/// Ctrl-C presses, as a channel, so the run loop decides what each press means.
///
/// On Unix the handler is installed before this returns (a press right after is never lost
/// to the default action, which would kill the process without closing the run).
fn interrupts() -> mpsc::UnboundedReceiver<()> {
    let (tx, rx) = mpsc::unbounded_channel();
    #[cfg(unix)]
    match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::interrupt()) {
        Ok(mut signal) => {
            tokio::spawn(async move {
                while signal.recv().await.is_some() {
                    if tx.send(()).is_err() {
                        break;
                    }
                }
            });
        }
        Err(e) => tracing::warn!(
            "Ctrl-C cannot be caught ({e}); it will stop the command without closing the run"
        ),
    }
    #[cfg(not(unix))]
    tokio::spawn(async move {
        while tokio::signal::ctrl_c().await.is_ok() {
            if tx.send(()).is_err() {
                break;
            }
        }
    });
    rx
}

/// Parses `--input` and `--input-file` values by each input's declared type. Every problem is
/// reported at once, as `FILE: inputs.NAME: …`.
pub(super) fn parse_inputs(
    melody: &Melody,
    inputs: &[(String, String)],
    input_files: &[(String, String)],
    source: &str,
) -> Result<Map<String, Value>, Failure> {
    let mut given = Map::new();
    let mut problems = Vec::new();
    let declared = || melody.inputs.keys().map(String::as_str);
    let mut add = |name: &str, raw: &str, flag: &str, problems: &mut Vec<Problem>| {
        let path = format!("inputs.{name}");
        let Some(decl) = melody.inputs.get(name) else {
            let names: Vec<&str> = declared().collect();
            let known = if names.is_empty() {
                "it declares no inputs".to_owned()
            } else {
                format!("it declares: {}", names.join(", "))
            };
            problems.push(Problem::at(
                path,
                format!(
                    "{flag} {name}: the melody has no input `{name}`{}; {known}",
                    did_you_mean(name, declared())
                ),
            ));
            return;
        };
        if given.contains_key(name) {
            problems.push(Problem::at(
                path,
                format!("{flag} {name}: given more than once; give each input once"),
            ));
            return;
        }
        match decl.ty.parse_cli(raw) {
            Ok(value) => {
                given.insert(name.to_owned(), value);
            }
            Err(e) => problems.push(Problem::at(path, format!("{flag} {name}: {e}"))),
        }
    };
    for (name, raw) in inputs {
        add(name, raw, "--input", &mut problems);
    }
    for (name, file) in input_files {
        let path = Path::new(file);
        let bytes = super::read(path)?;
        let Ok(text) = String::from_utf8(bytes) else {
            problems.push(Problem::at(
                format!("inputs.{name}"),
                format!("--input-file {name}: `{file}` is not UTF-8 text"),
            ));
            continue;
        };
        let is_string = melody
            .inputs
            .get(name.as_str())
            .is_some_and(|d| d.ty == symphony_melody::ValueType::String);
        let raw = if is_string {
            text.as_str()
        } else {
            text.trim()
        };
        add(name, raw, "--input-file", &mut problems);
    }
    if problems.is_empty() {
        Ok(given)
    } else {
        Err(Failure::problems(Problems::new(problems).in_file(source)))
    }
}

/// A workspace that already holds a run is left alone: mixing two runs' outputs would make
/// both unreadable.
/// The workspace of a new run: `--workspace` as the person gave it, else `runs/<run id>` in the
/// current folder, refused when a symbolic link on the way (`runs` itself) leads out of that
/// folder: a cloned project could ship `runs` as a link for step files to land elsewhere.
pub(super) fn default_workspace(given: Option<&Path>, run_id: &str) -> Result<PathBuf, Failure> {
    if let Some(path) = given {
        return Ok(path.to_owned());
    }
    let path = PathBuf::from("runs").join(run_id);
    let here = std::env::current_dir()
        .and_then(|d| d.canonicalize())
        .map_err(|e| Failure::new(Exit::Io, format!("cannot read the current folder: {e}")))?;
    if let Some(real) = symphony_conductor::workspace::leads_outside(&here, &here.join(&path)) {
        return Err(Failure::new(
            Exit::Io,
            format!(
                "`runs` leads out of this folder (to {}) through a symbolic link; Symphony writes a run's files inside the folder it runs in unless --workspace says where",
                real.display()
            ),
        ));
    }
    Ok(path)
}

pub(super) fn refuse_used_workspace(workspace: &Path) -> Result<(), Failure> {
    if workspace.join("run.json").exists() {
        return Err(Failure::new(
            Exit::Io,
            format!(
                "the workspace `{}` already holds a run (run.json); choose another --workspace or remove that folder",
                workspace.display()
            ),
        ));
    }
    Ok(())
}

/// Prints what would run, touching nothing.
fn dry_run(
    melody: &Melody,
    registry: &Registry,
    args: &Args,
    run_id: &str,
    workspace: &Path,
    inputs: &Map<String, Value>,
) -> Outcome {
    let plan = plan_of(melody, registry)?;
    if args.json {
        let doc = json!({
            "type": "dryRun",
            "runId": run_id,
            "workspace": workspace.display().to_string(),
            "inputs": inputs,
            "maxParallel": args.max_parallel.or(melody.settings.max_parallel)
                .unwrap_or(symphony_conductor::DEFAULT_MAX_PARALLEL),
            "plan": plan_json(melody, registry, &plan)?,
        });
        outln!("{doc}");
        return Ok(Exit::Success);
    }
    outln!(
        "dry run of `{}` ({}): nothing is written and no step is played",
        melody.melody.id,
        args.file.display()
    );
    if inputs.is_empty() {
        outln!("inputs: none");
    }
    for (name, value) in inputs {
        outln!("input {name} = {}", short(value));
    }
    outln!("workspace: {} (not created)", workspace.display());
    print_plan(melody, registry, &plan);
    outln!("would run:");
    let width = melody
        .steps
        .iter()
        .map(|s| s.id.len())
        .max()
        .unwrap_or(0)
        .min(32);
    for step in &melody.steps {
        let mut notes = Vec::new();
        if is_offline(registry, &step.type_name) {
            notes.push("offline".to_owned());
        }
        if !step.capabilities.is_empty() {
            let caps: Vec<&str> = step.capabilities.iter().map(|c| c.as_str()).collect();
            notes.push(format!("may use: {}", caps.join(", ")));
        }
        if let Some(r) = &step.policy.retry {
            notes.push(format!("retries {}", r.max));
        }
        if !step.policy.fallbacks.is_empty() {
            notes.push(format!("{} fallback(s)", step.policy.fallbacks.len()));
        }
        if step.policy.optional {
            notes.push("optional".into());
        }
        outln!(
            "  {:<width$}  {}{}",
            step.id,
            step.type_name,
            if notes.is_empty() {
                String::new()
            } else {
                format!("  ({})", notes.join("; "))
            }
        );
    }
    Ok(Exit::Success)
}

/// A value on one line, cut at 80 characters.
fn short(value: &Value) -> String {
    let text = value.to_string();
    if text.chars().count() > 80 {
        let cut: String = text.chars().take(79).collect();
        format!("{cut}…")
    } else {
        text
    }
}

/// A new run's id: see [`symphony_host::runs::new_run_id`] (the app names runs the same way).
pub(super) fn new_run_id(melody_id: &str) -> String {
    symphony_host::runs::new_run_id(melody_id)
}

/// 64 random bits from the standard library's per-process hash keys (no extra crate needed
/// for a folder suffix and a jitter seed).
pub(super) fn random_u64() -> u64 {
    RandomState::new().hash_one(SystemTime::now())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn name_value_pairs() {
        assert_eq!(
            name_value("goal=a=b").unwrap(),
            ("goal".into(), "a=b".into())
        );
        assert_eq!(name_value("n=").unwrap(), ("n".into(), String::new()));
        assert!(name_value("goal").is_err());
        assert!(name_value("=x").is_err());
    }
}
