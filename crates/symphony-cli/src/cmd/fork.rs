//! `symphony runs fork RUN --from STEP`: a new run, linked to its parent, that keeps the
//! parent's outputs of every step not downstream of STEP and plays STEP and what depends on
//! it again — with edited run inputs, an edited melody (say, a new prompt for STEP), or an
//! edited output of STEP (then only what depends on it is played). The planning is the app's
//! (`symphony_host::fork::plan`), so a fork made here and one made on the board agree.

use std::path::PathBuf;

use serde_json::{Map, Value};
use symphony_conductor::{Conductor, Outputs};
use symphony_host::fork::{self, ForkError, ForkPlan, ForkRequest};
use symphony_host::launch::{Given, Launcher, Start};
use symphony_host::recorded::{LaunchedBy, RecordedOptions};
use symphony_store::Store;

use super::run::{name_value, new_run_id, parse_inputs, play, random_u64, refuse_used_workspace};
use crate::exit::{Exit, Failure, Outcome};

/// Arguments of `symphony runs fork`.
#[derive(clap::Args)]
pub struct Args {
    /// The run to fork (`symphony runs list` shows them).
    #[arg(value_name = "RUN")]
    pub run: String,
    /// The step to rerun from: it and every step downstream of it are played again; the
    /// parent's outputs of all other steps are kept.
    #[arg(long, value_name = "STEP")]
    pub from: String,
    /// A run input to change, parsed as the input's declared type. Repeat for each input.
    #[arg(short = 'i', long = "input", value_name = "NAME=VALUE", value_parser = name_value)]
    pub inputs: Vec<(String, String)>,
    /// A run input to change, read from a file.
    #[arg(long = "input-file", value_name = "NAME=PATH", value_parser = name_value)]
    pub input_files: Vec<(String, String)>,
    /// Play this melody file instead of the parent's melody (e.g. with an edited prompt).
    #[arg(long, value_name = "FILE")]
    pub melody: Option<PathBuf>,
    /// Use this as STEP's output instead of playing it: a JSON object of its output ports,
    /// or any other JSON value (or plain text) for its `output` port.
    #[arg(long, value_name = "VALUE", conflicts_with = "output_file")]
    pub output: Option<String>,
    /// Like --output, read from a file.
    #[arg(long, value_name = "FILE")]
    pub output_file: Option<PathBuf>,
    /// The folder the fork writes into. Default: runs/<new run id>.
    #[arg(long, value_name = "DIR")]
    pub workspace: Option<PathBuf>,
    /// Print every event as one JSON object per line, then the report.
    #[arg(long)]
    pub json: bool,
    /// Trust the melody the fork plays as it is, if it needs trust (see `symphony run --trust`).
    #[arg(long)]
    pub trust: bool,
}

/// Runs `symphony runs fork`.
pub async fn run(args: Args, store: Store, store_args: &super::run::StoreArgs) -> Outcome {
    let parent = store.source(&args.run).await.map_err(|e| {
        let exit = match e {
            symphony_store::StoreError::UnknownRun(_) => Exit::Usage,
            _ => Exit::Io,
        };
        Failure::new(exit, e.to_string())
    })?;
    let registry = crate::registry::registry();
    let (melody, source) = match &args.melody {
        Some(path) => (
            super::load_melody(path, &registry)?,
            path.display().to_string(),
        ),
        None => {
            let source = format!("run {} (its melody as it was run)", args.run);
            let melody =
                symphony_melody::load_and_validate(&parent.melody_bytes, &source, &registry)
                    .map_err(Failure::problems)?;
            (melody, source)
        }
    };
    let unknown_step = |e: ForkError| match e {
        ForkError::UnknownStep { .. } => {
            Failure::new(Exit::Usage, format!("--from {}: {e}", args.from))
        }
        ForkError::Invalid(p) => Failure::problems(p.in_file(&source)),
    };
    // A fork plays the parent's melody (or an edited one): checked like a fresh run.
    let trusted = super::trust::gate(&melody, &registry, store_args, args.trust, &source)?;
    fork::check_step(&melody, &args.from).map_err(unknown_step)?;
    let edited = parse_inputs(&melody, &args.inputs, &args.input_files, &source)?;
    // Pins hold everywhere except the step the user asked to rerun from.
    let pins =
        super::run::pinned_outputs(&store, &melody, std::slice::from_ref(&args.from)).await?;
    // The app's planning rule; a fork from the command line always plays STEP anew ("take
    // again"), unless its output is given.
    let request = ForkRequest {
        from_step: args.from.clone(),
        inputs: edited,
        output: edited_output(&args)?,
        fresh: true,
    };
    let ForkPlan {
        inputs,
        given,
        fresh_steps,
        ..
    } = fork::plan(&melody, parent.inputs, parent.finished, pins, request).map_err(unknown_step)?;

    let run_id = new_run_id(&melody.melody.id);
    let workspace = super::run::default_workspace(args.workspace.as_deref(), &run_id)?;
    refuse_used_workspace(&workspace)?;
    if !args.json {
        errln!(
            "forking {} from `{}` as {run_id}: {} step{} kept from the parent, {} played again or reused if unchanged",
            args.run,
            args.from,
            given.len(),
            super::plural(given.len()),
            melody.steps.len() - given.len(),
        );
    }
    let conductor = Conductor::new(registry);
    let prepared = conductor.prepare_checked(melody);
    let start = Start {
        run_id,
        inputs,
        workspace,
        given: Given::Exactly(given),
        options: RecordedOptions {
            seed: random_u64(),
            fresh_steps,
            host: Some(LaunchedBy::Cli),
            ..RecordedOptions::default()
        },
        parent: Some((args.run.clone(), args.from.clone())),
    };
    let launching = Launcher::new(&conductor, &store).start(prepared, trusted, start);
    play(&store, &conductor, launching, args.json, &source, |_| {}).await
}

/// The edited output given with --output or --output-file: a JSON object is the step's
/// output ports; any other JSON value, or text that is not JSON, is its `output` port.
fn edited_output(args: &Args) -> Result<Option<Outputs>, Failure> {
    let raw = match (&args.output, &args.output_file) {
        (Some(text), _) => text.clone(),
        (None, Some(path)) => String::from_utf8(super::read(path)?).map_err(|_| {
            Failure::new(
                Exit::Usage,
                format!("--output-file: `{}` is not UTF-8 text", path.display()),
            )
        })?,
        (None, None) => return Ok(None),
    };
    Ok(Some(match serde_json::from_str::<Value>(raw.trim()) {
        Ok(Value::Object(ports)) => Outputs(ports),
        Ok(value) => Outputs(Map::from_iter([("output".to_owned(), value)])),
        Err(_) => Outputs(Map::from_iter([("output".to_owned(), Value::String(raw))])),
    }))
}
