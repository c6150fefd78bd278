//! The Symphony desktop app: the composition root of the host, the UI and the window.
//!
//! Every host command (`symphony_host::commands::COMMANDS`) reaches the host through one
//! adapter, [`call`]: the UI sends `invoke("call", { command, args })` and it makes one
//! [`Host::call`], answering the result or the host's error body (`{ message, problems? }`).
//! A command added to the host needs no code here. The desktop app's own commands, declared
//! with the others but answered only here because they show a native dialog to a person
//! (`trustMelody`, `pickMelodyToOpen`, `pickMelodySaveLocation`), are written by hand, named as
//! in `docs/app-api.md` (hence camelCase function names); a host test checks that
//! `generate_handler!` lists exactly `call` and those. Host events are forwarded with `emit` on
//! their channel (`run-events`, `file-changed`).
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

use serde_json::Value;
use symphony_host::wire::{ErrorBody, Trusted};
use symphony_host::{Host, HostError, HostEvent, HostOptions};
use tauri::{Emitter, Manager, State};
use tauri_plugin_dialog::DialogExt;

/// What every command returns: its result, or the error body the UI shows.
type Answer<T> = Result<T, ErrorBody>;

fn wire(e: HostError) -> ErrorBody {
    e.to_wire()
}

/// Every host command: `invoke("call", { command, args })` runs `command` (a name of
/// `docs/app-api.md`) with `args`, its arguments object, through [`Host::call`]. The desktop
/// app's own commands are refused there (`HostError::NeedsPerson`): the webview reaches them
/// only by their own names below, where a person answers a native dialog.
#[tauri::command]
async fn call(host: State<'_, Host>, command: String, args: Value) -> Answer<Value> {
    host.call(&command, args).await.map_err(wire)
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
        // Stands behind the page's web `Notification` API, so a gate waiting while the window
        // is in the background is a native notification (ui/src/app/notify.ts).
        .plugin(tauri_plugin_notification::init())
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
            call,
            trustMelody,
            pickMelodyToOpen,
            pickMelodySaveLocation,
        ])
        .run(tauri::generate_context!());
    if let Err(e) = result {
        eprintln!("error: Symphony could not start: {e}");
        std::process::exit(1);
    }
}
