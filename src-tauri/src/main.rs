//! The Symphony desktop app: the composition root of the host, the UI and the window.
//!
//! Every `#[tauri::command]` here is a one-line adapter: it unpacks the arguments Tauri gives
//! it, makes one call into [`symphony_host::Host`], and returns the result or the host's error
//! body (`{ message, problems? }`). Commands are named as in `docs/app-api.md` (the UI calls
//! `invoke("openMelody", { path })`), hence the camelCase function names. Host events are
//! forwarded with `emit` on their channel (`run-events`, `file-changed`).
//!
//! **Architecture Invariant:** no melody, run or file logic here, and no file access of the
//! webview's own: the capabilities allow listening to events and nothing else, and every
//! path the UI names is confined to the project folder by the host, except a file the user
//! picked in the system file dialog this process shows (`pickMelodyToOpen`,
//! `pickMelodySaveLocation`), which the host admits one file at a time.
//!
//! The project folder is `--project DIR`, else the nearest folder holding `melodies/` from the
//! current folder up, else from the executable's folder up (a build inside the repository
//! opens the repository), else the current folder.

#![allow(non_snake_case)] // Command names are the API's camelCase names.
#![cfg_attr(not(debug_assertions), windows_subsystem = "windows")]

use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde_json::{Map, Value};
use symphony_host::wire::{
    CredentialSaved, Done, ErrorBody, ExportedMelody, ForkRunArgs, MelodyComparison,
    MelodyDocument, MelodyEntry, Permissions, PinInfo, ProjectInfo, ProviderTest, RunEntry,
    RunFileContent, RunRecord, RunStarted, SetCredentialArgs, StartRunArgs, StepComparison,
    StepTypeInfo, StoreInfo, TestProviderArgs, Trusted,
};
use symphony_host::{Host, HostError, HostEvent, HostOptions};
use symphony_melody::Problem;
use tauri::{Emitter, Manager, State};
use tauri_plugin_dialog::DialogExt;

/// What every command returns: its result, or the error body the UI shows.
type Answer<T> = Result<T, ErrorBody>;

fn wire(e: HostError) -> ErrorBody {
    e.to_wire()
}

/// `projectInfo`
#[tauri::command]
async fn projectInfo(host: State<'_, Host>) -> Answer<ProjectInfo> {
    Ok(host.project_info().await)
}

/// `listMelodies`
#[tauri::command]
async fn listMelodies(host: State<'_, Host>) -> Answer<Vec<MelodyEntry>> {
    host.list_melodies().map_err(wire)
}

/// `openMelody`
#[tauri::command]
async fn openMelody(host: State<'_, Host>, path: String) -> Answer<MelodyDocument> {
    host.open_melody(&path).map_err(wire)
}

/// `saveMelody`
#[tauri::command]
async fn saveMelody(host: State<'_, Host>, path: String, melody: Value) -> Answer<MelodyDocument> {
    host.save_melody(&path, melody).map_err(wire)
}

/// Shows the system's file dialog (from this process, not the webview) for a melody to open,
/// anywhere on disk, and admits the chosen file to the host. Answers the name to open it by, or
/// nothing if the user cancelled. Desktop only: `symphony serve` has no such command.
#[tauri::command]
async fn pickMelodyToOpen(app: tauri::AppHandle, host: State<'_, Host>) -> Answer<Option<String>> {
    let picked = tauri::async_runtime::spawn_blocking(move || {
        app.dialog()
            .file()
            .set_title("Open a melody")
            .add_filter("Melody", &["json"])
            .blocking_pick_file()
    })
    .await
    .map_err(|e| dialog_failed(&e))?;
    admit(&host, picked)
}

/// Shows the system's save dialog for where to save a melody, anywhere on disk, and admits
/// that place to the host. Answers the name to save it by, or nothing if the user cancelled.
#[tauri::command(rename_all = "camelCase")]
async fn pickMelodySaveLocation(
    app: tauri::AppHandle,
    host: State<'_, Host>,
    suggested_name: String,
) -> Answer<Option<String>> {
    let picked = tauri::async_runtime::spawn_blocking(move || {
        app.dialog()
            .file()
            .set_title("Save the melody")
            .add_filter("Melody", &["json"])
            .set_file_name(suggested_name)
            .blocking_save_file()
    })
    .await
    .map_err(|e| dialog_failed(&e))?;
    admit(&host, picked)
}

fn admit(host: &Host, picked: Option<tauri_plugin_dialog::FilePath>) -> Answer<Option<String>> {
    let Some(picked) = picked else {
        return Ok(None);
    };
    let path = picked.into_path().map_err(|e| dialog_failed(&e))?;
    host.admit(&path).map(Some).map_err(wire)
}

fn dialog_failed(e: &dyn std::fmt::Display) -> ErrorBody {
    ErrorBody {
        message: format!("the file dialog failed: {e}"),
        problems: None,
    }
}

/// `validateMelody`
#[tauri::command]
async fn validateMelody(host: State<'_, Host>, melody: Value) -> Answer<Vec<Problem>> {
    Ok(host.validate_melody(melody))
}

/// `stepTypes`
#[tauri::command]
async fn stepTypes(host: State<'_, Host>) -> Answer<Vec<StepTypeInfo>> {
    Ok(host.step_types())
}

/// `importSuperoptix`
#[tauri::command]
async fn importSuperoptix(host: State<'_, Host>, yaml: String) -> Answer<MelodyDocument> {
    host.import_superoptix(&yaml).map_err(wire)
}

/// `importMelody`
#[tauri::command]
async fn importMelody(host: State<'_, Host>, text: String) -> Answer<MelodyDocument> {
    host.import_melody(&text).map_err(wire)
}

/// `compareMelodies`
#[tauri::command]
async fn compareMelodies(
    host: State<'_, Host>,
    base: Value,
    melody: Value,
) -> Answer<MelodyComparison> {
    host.compare_melodies(base, melody).map_err(wire)
}

/// `committedMelody`
#[tauri::command]
async fn committedMelody(host: State<'_, Host>, path: String) -> Answer<MelodyDocument> {
    host.committed_melody(&path).await.map_err(wire)
}

/// `exportMelody`
#[tauri::command]
async fn exportMelody(host: State<'_, Host>, melody: Value) -> Answer<ExportedMelody> {
    host.export_melody(melody).map_err(wire)
}

/// `permissions`
#[tauri::command]
async fn permissions(host: State<'_, Host>, melody: Value) -> Answer<Permissions> {
    host.permissions(melody).map_err(wire)
}

/// `trustMelody`: asks the person in a native dialog this process shows, listing what the
/// melody would do, and records the trust only if they say yes. The webview can ask for the
/// question, never answer it: only a person grants trust.
#[tauri::command]
async fn trustMelody(
    app: tauri::AppHandle,
    host: State<'_, Host>,
    melody: Value,
) -> Answer<Trusted> {
    let permissions = host.permissions(melody.clone()).map_err(wire)?;
    if !permissions.needs_trust {
        return Ok(Trusted { trusted: true });
    }
    let name = melody
        .get("melody")
        .and_then(|m| m.get("name"))
        .and_then(Value::as_str)
        .unwrap_or("this melody")
        .to_owned();
    let facts: Vec<String> = permissions
        .facts
        .iter()
        .map(|f| format!("• {}", f.text))
        .collect();
    let text = format!(
        "“{name}” would do this on your machine:\n\n{}\n\nTrust it only if you know where it came from. Changing any of this asks again.",
        facts.join("\n")
    );
    use tauri_plugin_dialog::{MessageDialogButtons, MessageDialogKind};
    let yes = tauri::async_runtime::spawn_blocking(move || {
        app.dialog()
            .message(text)
            .title("Trust this melody?")
            .kind(MessageDialogKind::Warning)
            .buttons(MessageDialogButtons::OkCancelCustom(
                "Trust it".into(),
                "Not now".into(),
            ))
            .blocking_show()
    })
    .await
    .map_err(|e| dialog_failed(&e))?;
    if !yes {
        return Ok(Trusted { trusted: false });
    }
    host.trust_melody(melody).map_err(wire)
}

/// `startRun`
#[tauri::command(rename_all = "camelCase")]
async fn startRun(
    host: State<'_, Host>,
    melody: Value,
    path: Option<String>,
    inputs: Option<Map<String, Value>>,
) -> Answer<RunStarted> {
    let args = StartRunArgs {
        melody,
        path,
        inputs: inputs.unwrap_or_default(),
    };
    host.start_run(args).await.map_err(wire)
}

/// `pauseRun`
#[tauri::command(rename_all = "camelCase")]
async fn pauseRun(host: State<'_, Host>, run_id: String) -> Answer<Done> {
    host.pause_run(&run_id).map_err(wire)
}

/// `resumeRun`
#[tauri::command(rename_all = "camelCase")]
async fn resumeRun(host: State<'_, Host>, run_id: String) -> Answer<Done> {
    host.resume_run(&run_id).map_err(wire)
}

/// `stopRun`
#[tauri::command(rename_all = "camelCase")]
async fn stopRun(host: State<'_, Host>, run_id: String) -> Answer<Done> {
    host.stop_run(&run_id).map_err(wire)
}

/// `continueRun`
#[tauri::command(rename_all = "camelCase")]
async fn continueRun(host: State<'_, Host>, run_id: String) -> Answer<RunStarted> {
    host.continue_run(&run_id).await.map_err(wire)
}

/// `listRuns`
#[tauri::command(rename_all = "camelCase")]
async fn listRuns(
    host: State<'_, Host>,
    melody_id: Option<String>,
    limit: Option<u32>,
) -> Answer<Vec<RunEntry>> {
    host.list_runs(melody_id.as_deref(), limit)
        .await
        .map_err(wire)
}

/// `openRun`
#[tauri::command(rename_all = "camelCase")]
async fn openRun(
    host: State<'_, Host>,
    run_id: String,
    after_seq: Option<i64>,
) -> Answer<RunRecord> {
    host.open_run(&run_id, after_seq).await.map_err(wire)
}

/// `runFile`
#[tauri::command(rename_all = "camelCase")]
async fn runFile(host: State<'_, Host>, run_id: String, path: String) -> Answer<RunFileContent> {
    host.run_file(&run_id, &path).await.map_err(wire)
}

/// `forkRun`
#[tauri::command(rename_all = "camelCase")]
async fn forkRun(
    host: State<'_, Host>,
    run_id: String,
    from_step: String,
    fresh: Option<bool>,
    inputs: Option<Map<String, Value>>,
    melody: Option<Value>,
    output: Option<Map<String, Value>>,
) -> Answer<RunStarted> {
    let args = ForkRunArgs {
        run_id,
        from_step,
        fresh,
        inputs,
        melody,
        output,
    };
    host.fork_run(args).await.map_err(wire)
}

/// `pinStep`
#[tauri::command(rename_all = "camelCase")]
async fn pinStep(host: State<'_, Host>, run_id: String, step: String) -> Answer<PinInfo> {
    host.pin_step(&run_id, &step).await.map_err(wire)
}

/// `testProvider`
#[tauri::command]
async fn testProvider(
    host: State<'_, Host>,
    api: String,
    base_url: String,
    key: Option<String>,
) -> Answer<ProviderTest> {
    host.test_provider(TestProviderArgs { api, base_url, key })
        .await
        .map_err(wire)
}

/// `setCredential`
#[tauri::command]
async fn setCredential(
    host: State<'_, Host>,
    name: String,
    value: String,
) -> Answer<CredentialSaved> {
    host.set_credential(SetCredentialArgs { name, value })
        .await
        .map_err(wire)
}

/// `listPins`
#[tauri::command]
async fn listPins(host: State<'_, Host>, melody_id: String) -> Answer<Vec<PinInfo>> {
    host.list_pins(&melody_id).await.map_err(wire)
}

/// `unpinStep`
#[tauri::command(rename_all = "camelCase")]
async fn unpinStep(host: State<'_, Host>, melody_id: String, step: String) -> Answer<Done> {
    host.unpin_step(&melody_id, &step).await.map_err(wire)
}

/// `compareRuns`
#[tauri::command]
async fn compareRuns(host: State<'_, Host>, a: String, b: String) -> Answer<Vec<StepComparison>> {
    host.compare_runs(&a, &b).await.map_err(wire)
}

/// `storeInfo`
#[tauri::command]
async fn storeInfo(host: State<'_, Host>) -> Answer<StoreInfo> {
    host.store_info().await.map_err(wire)
}

/// `setRetention`
#[tauri::command(rename_all = "camelCase")]
async fn setRetention(host: State<'_, Host>, keep_runs: u32) -> Answer<StoreInfo> {
    host.set_retention(keep_runs).await.map_err(wire)
}

/// The project folder: `--project DIR`, else the nearest folder with `melodies/` above the
/// current folder or the executable, else the current folder.
fn project_root() -> PathBuf {
    let args: Vec<String> = std::env::args().collect();
    if let Some(i) = args.iter().position(|a| a == "--project") {
        if let Some(dir) = args.get(i + 1) {
            return PathBuf::from(dir);
        }
    }
    if let Some(dir) = args.iter().find_map(|a| a.strip_prefix("--project=")) {
        return PathBuf::from(dir);
    }
    let cwd = std::env::current_dir().unwrap_or_else(|_| PathBuf::from("."));
    let exe = std::env::current_exe().ok();
    let with_melodies = |start: &Path| {
        start
            .ancestors()
            .find(|d| d.join("melodies").is_dir())
            .map(Path::to_owned)
    };
    with_melodies(&cwd)
        .or_else(|| {
            exe.as_deref()
                .and_then(Path::parent)
                .and_then(with_melodies)
        })
        .unwrap_or(cwd)
}

fn main() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .try_init();
    let root = project_root();
    let result = tauri::Builder::default()
        .plugin(tauri_plugin_dialog::init())
        .setup(move |app| {
            let handle = app.handle().clone();
            // Events go to every window on their channel; an emit fails only while the app
            // is closing, when nobody is listening.
            let sink = move |event: HostEvent| {
                let _ = handle.emit(event.channel(), event.payload());
            };
            let host = Host::new(&root, HostOptions::default(), Arc::new(sink))?;
            app.manage(host);
            Ok(())
        })
        .invoke_handler(tauri::generate_handler![
            projectInfo,
            listMelodies,
            openMelody,
            saveMelody,
            validateMelody,
            stepTypes,
            importSuperoptix,
            importMelody,
            compareMelodies,
            committedMelody,
            exportMelody,
            permissions,
            trustMelody,
            startRun,
            pauseRun,
            resumeRun,
            stopRun,
            continueRun,
            listRuns,
            openRun,
            runFile,
            forkRun,
            pinStep,
            unpinStep,
            listPins,
            testProvider,
            setCredential,
            compareRuns,
            storeInfo,
            setRetention,
            pickMelodyToOpen,
            pickMelodySaveLocation,
        ])
        .run(tauri::generate_context!());
    if let Err(e) = result {
        eprintln!("error: Symphony could not start: {e}");
        std::process::exit(1);
    }
}
