//! The one command list and what is made from it: the doc table of `docs/app-api.md` is the
//! list's, every declared command reaches its handler through `Host::call` (and no other name
//! does), arguments are read into their declared struct with errors naming the field, and the
//! desktop app's handler lists exactly its own commands beside the generic `call`.
//! (`commands.ts`, the UI's typed client, is checked with the other generated bindings.)

#![allow(clippy::unwrap_used)] // Tests unwrap: a panic is the failure report.

mod common;

use std::path::Path;

use serde_json::{json, Value};
use symphony_host::commands::render::{self, Field};
use symphony_host::commands::{Place, COMMANDS};
use symphony_host::HostError;

fn repo() -> &'static Path {
    Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../.."))
}

/// `docs/app-api.md`'s command table is what the list says (`SYMPHONY_BLESS=1` rewrites it).
#[test]
fn generated_doc_table_is_up_to_date() {
    let cfg = ts_rs::Config::default();
    let path = repo().join(render::DOCS_FILE);
    let document = std::fs::read_to_string(&path).unwrap();
    let table = render::docs_table(&cfg).unwrap();
    let expected = render::splice(&document, &table).unwrap();
    if std::env::var_os("SYMPHONY_BLESS").is_some() {
        std::fs::write(&path, &expected).unwrap();
    }
    assert!(
        std::fs::read_to_string(&path).unwrap() == expected,
        "{} is stale: its command table differs from crates/symphony-host/src/commands/mod.rs; run `SYMPHONY_BLESS=1 cargo test -p symphony-host generated` and commit the result",
        render::DOCS_FILE
    );
    for command in COMMANDS {
        assert!(
            table.contains(&format!("| `{}` |", command.name)),
            "{}",
            command.name
        );
    }
}

/// Names are unique, and every command says what it does.
#[test]
fn every_command_is_declared_once_with_a_doc() {
    let mut names: Vec<&str> = COMMANDS.iter().map(|c| c.name).collect();
    names.sort_unstable();
    let before = names.len();
    names.dedup();
    assert_eq!(names.len(), before, "a command is declared twice");
    for command in COMMANDS {
        assert!(
            !command.doc.trim().is_empty(),
            "{} has no doc",
            command.name
        );
    }
}

/// Every declared command reaches a handler of its own: given no arguments, each either
/// answers or names what it lacks; none is unknown. Desktop-only ones are refused as needing a
/// person. A name not in the list is unknown.
#[tokio::test]
async fn every_declared_command_is_dispatched_and_only_those() {
    let f = common::fixture();
    for command in COMMANDS {
        // `projectInfo` would probe the machine's model servers; it is answered elsewhere.
        if command.name == "projectInfo" {
            continue;
        }
        let answer = f.host.call(command.name, json!({})).await;
        match (command.place, &answer) {
            (Place::Desktop, Err(HostError::NeedsPerson(_))) => {}
            (Place::Host, Ok(_)) => {}
            (
                Place::Host,
                Err(HostError::BadArguments {
                    command: named,
                    message,
                }),
            ) => {
                assert_eq!(named, command.name);
                assert!(
                    message.contains("missing field"),
                    "{}: {message}",
                    command.name
                );
            }
            (Place::Host, Err(e)) if !matches!(e, HostError::UnknownCommand(_)) => {}
            _ => panic!("{}: {answer:?}", command.name),
        }
    }
    let unknown = f.host.call("pickAnything", Value::Null).await.unwrap_err();
    assert!(matches!(unknown, HostError::UnknownCommand(_)), "{unknown}");
}

/// A mismatch names the command and the field, as serde reads it into the declared struct.
#[tokio::test]
async fn arguments_are_read_into_the_declared_struct() {
    let f = common::fixture();
    let e = f
        .host
        .call("pinStep", json!({"runId": "r"}))
        .await
        .unwrap_err();
    assert!(
        e.to_string().contains("arguments of `pinStep`") && e.to_string().contains("`step`"),
        "{e}"
    );
    let e = f
        .host
        .call("setRetention", json!({"keepRuns": "five"}))
        .await
        .unwrap_err();
    assert!(e.to_string().contains("arguments of `setRetention`"), "{e}");
    let e = f
        .host
        .call("openRun", json!({"runId": "r", "afterSequence": 3}))
        .await
        .unwrap_err();
    assert!(e.to_string().contains("afterSequence"), "{e}");
}

/// The desktop app's `generate_handler!` lists the generic `call` and exactly the
/// desktop-only commands: a host command needs no Tauri code, a desktop one cannot be missing.
#[test]
fn the_desktop_app_handles_call_and_exactly_its_own_commands() {
    let main = std::fs::read_to_string(repo().join("src-tauri/src/main.rs")).unwrap();
    let start = main
        .find("generate_handler![")
        .expect("src-tauri/src/main.rs registers its commands with generate_handler!");
    let list = &main[start + "generate_handler![".len()..];
    let list = &list[..list.find(']').unwrap()];
    let mut handled: Vec<&str> = list
        .split(',')
        .map(str::trim)
        .filter(|n| !n.is_empty())
        .collect();
    handled.sort_unstable();
    let mut expected: Vec<&str> = COMMANDS
        .iter()
        .filter(|c| c.place == Place::Desktop)
        .map(|c| c.name)
        .chain(["call"])
        .collect();
    expected.sort_unstable();
    assert_eq!(handled, expected);
}

/// The field reader behind the client's parameters and the table's `args` column.
#[test]
fn fields_are_read_from_the_typescript_of_a_struct() {
    let field = |name: &str, optional| Field {
        name: name.into(),
        optional,
    };
    assert_eq!(render::fields("Record<symbol, never>").unwrap(), vec![]);
    assert_eq!(
        render::fields("{ /** The run. */ runId: string, afterSeq?: number, }").unwrap(),
        vec![field("runId", false), field("afterSeq", true)]
    );
    assert_eq!(
        render::fields("{ inputs?: { [key in string]: JsonValue }, \"type\": Array<string>, }")
            .unwrap(),
        vec![field("inputs", true), field("type", false)]
    );
    assert!(render::fields("string").is_err());
}
