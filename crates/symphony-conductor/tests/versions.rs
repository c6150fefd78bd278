//! Step-type versions: a melody records the version of each step type it uses, and a melody
//! made for an older version is moved to the new one by the type's migration when it is loaded,
//! or refused with a message that names the step, the type and both versions.
//!
//! Shown with a pretend version 2 of the built-in `operator.template`, whose config field
//! `template` is renamed `text`.

#![allow(clippy::unwrap_used)] // Tests unwrap: a panic is the failure report.

use std::sync::Arc;

use serde_json::{json, Map, Value};
use symphony_conductor::steps::template::TemplateOp;
use symphony_conductor::{
    BoxFuture, Conductor, ErrorKind, Outputs, Played, Registry, RunOptions, RunStatus, StepContext,
    StepError, StepType,
};
use symphony_melody::{versions, FieldType, Melody, TypeSpec};

/// `operator.template` version 2: the text is in `config.text`.
struct TemplateV2 {
    /// Whether version 1 configs can be moved (a type may drop a migration it no longer keeps).
    migrates: bool,
}

impl StepType for TemplateV2 {
    fn spec(&self) -> TypeSpec {
        let mut s = TemplateOp.spec();
        s.config_version = 2;
        s.version = 2;
        s.config[0].name = "text".into();
        assert!(matches!(s.config[0].ty, FieldType::Template));
        s
    }

    fn migrate(&self, from: u32, config: &mut Map<String, Value>) -> Result<(), String> {
        if !self.migrates {
            return Err(format!("there is no migration from version {from}"));
        }
        match from {
            1 => {
                if config.contains_key("text") {
                    return Err("it has both `template` and `text`; keep one".into());
                }
                if let Some(t) = config.remove("template") {
                    config.insert("text".into(), t);
                }
                Ok(())
            }
            _ => Err(format!("unknown version {from}")),
        }
    }

    fn play<'a>(&'a self, cx: &'a StepContext) -> BoxFuture<'a, Result<Played, StepError>> {
        Box::pin(async move {
            let text = cx
                .render("text")?
                .ok_or_else(|| StepError::fatal(ErrorKind::Config, "config.text is missing"))?;
            Ok(Played::Done(Outputs::single(Value::String(text)).into()))
        })
    }
}

fn v2(migrates: bool) -> Registry {
    let mut r = Registry::standard();
    r.replace(Arc::new(TemplateV2 { migrates }));
    r
}

/// A melody as written by a build with version 1: a template step and a map whose body is a
/// template step. `pins` is its `stepTypes`, or nothing (files from before pins existed).
fn file(pins: Option<Value>) -> Vec<u8> {
    let mut doc = json!({
        "formatVersion": 1,
        "melody": {"id": "greet", "name": "Greet"},
        "inputs": {"who": {"type": "string", "default": "Ada"}},
        "steps": [
            {"id": "hello", "kind": "operator", "type": "operator.template",
             "config": {"template": "Hello {{who}}"}},
            {"id": "names", "kind": "operator", "type": "operator.json.extract",
             "config": {"path": "names"}},
            {"id": "each", "kind": "cue", "type": "cue.map",
             "config": {"body": {"type": "operator.template",
                                 "config": {"template": "hi {{item}}"}}}}
        ],
        "edges": [
            {"from": "hello.output", "to": "names.input"},
            {"from": "names.output", "to": "each.items"}
        ]
    });
    if let Some(p) = pins {
        doc["stepTypes"] = p;
    }
    serde_json::to_vec(&doc).unwrap()
}

fn load(bytes: &[u8], registry: &Registry) -> Result<Melody, String> {
    symphony_melody::load_and_validate(bytes, "greet.melody.json", registry)
        .map_err(|p| p.to_string())
}

#[test]
fn a_file_made_for_version_1_is_moved_to_version_2_with_nested_steps_and_pinned() {
    let registry = v2(true);
    for pins in [None, Some(json!({"operator.template": 1}))] {
        let m = load(&file(pins), &registry).unwrap();
        assert_eq!(m.steps[0].config["text"], "Hello {{who}}");
        assert!(!m.steps[0].config.contains_key("template"));
        assert_eq!(m.steps[2].config["body"]["config"]["text"], "hi {{item}}");
        assert_eq!(versions::pinned_version(&m, "operator.template"), 2);
    }

    // Saving records every type the melody uses, at this build's versions; loading the saved
    // file again moves nothing.
    let mut m = load(&file(None), &registry).unwrap();
    versions::pin(&mut m, &registry);
    let saved = symphony_melody::to_bytes(&m);
    let text = String::from_utf8(saved.clone()).unwrap();
    assert!(
        text.contains(
            "\"stepTypes\": {\n    \"cue.map\": 1,\n    \"operator.json.extract\": 1,\n    \"operator.template\": 2\n  }"
        ),
        "{text}"
    );
    let mut again = symphony_melody::load(&saved, "saved").unwrap();
    assert_eq!(versions::upgrade(&mut again, &registry).unwrap(), vec![]);
    assert_eq!(again, m);
}

#[tokio::test]
async fn the_moved_melody_plays_with_version_2() {
    let registry = v2(true);
    let mut bytes = file(None);
    // Feed the map a list: the first step renders JSON the extractor reads.
    bytes = String::from_utf8(bytes)
        .unwrap()
        .replace("Hello {{who}}", r#"{\"names\": [\"{{who}}\", \"Grace\"]}"#)
        .into_bytes();
    let m = load(&bytes, &registry).unwrap();
    let run = Conductor::new(registry)
        .start(m, RunOptions::default())
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let report = run.finished().await;
    assert_eq!(report.status, RunStatus::Succeeded, "{report:?}");
    assert_eq!(
        report.result["each"]["results"],
        json!(["hi Ada", "hi Grace"])
    );
}

#[test]
fn a_file_made_for_a_newer_version_is_refused_with_both_versions() {
    let e = load(&file(Some(json!({"operator.template": 3}))), &v2(true)).unwrap_err();
    assert!(
        e.contains("greet.melody.json: stepTypes.operator.template: made for version 3 of `operator.template`; this Symphony has version 2. Update Symphony"),
        "{e}"
    );
    // The standard build (version 1) refuses a file saved by a version 2 build the same way.
    let e = load(
        &file(Some(json!({"operator.template": 2}))),
        &Registry::standard(),
    )
    .unwrap_err();
    assert!(
        e.contains("made for version 2 of `operator.template`; this Symphony has version 1"),
        "{e}"
    );
}

#[test]
fn a_config_that_cannot_be_moved_names_the_step_the_field_and_why() {
    // No migration kept from version 1.
    let e = load(&file(None), &v2(false)).unwrap_err();
    assert!(
        e.contains("steps.hello.config: made for version 1 of `operator.template`, and this Symphony has version 2: moving it from version 1 to 2 failed: there is no migration from version 1"),
        "{e}"
    );
    assert!(
        e.contains("steps.each.config.body.config: made for version 1"),
        "{e}"
    );

    // A migration that refuses one config says why; nothing of the melody is half-moved.
    let bytes = String::from_utf8(file(None))
        .unwrap()
        .replace(r#""template":"Hello"#, r#""text":"x","template":"Hello"#)
        .into_bytes();
    let mut m = symphony_melody::load(&bytes, "f").unwrap();
    let before = m.clone();
    let problems = versions::upgrade(&mut m, &v2(true)).unwrap_err();
    assert_eq!(problems.len(), 1, "{problems:?}");
    assert_eq!(problems[0].step.as_deref(), Some("hello"));
    assert!(
        problems[0]
            .message
            .contains("it has both `template` and `text`"),
        "{problems:?}"
    );
    assert_eq!(m, before);
}

#[test]
fn version_pins_that_were_not_upgraded_are_problems_for_the_validator() {
    // A host that validates without upgrading first is told so, not left to play v1 config
    // with a v2 type.
    let m = symphony_melody::load(&file(Some(json!({"operator.template": 1}))), "f").unwrap();
    let problems = symphony_melody::validate(&m, &v2(true));
    assert!(
        problems
            .iter()
            .any(|p| p.path == "stepTypes.operator.template"
                && p.message.contains("it is upgraded when it is opened")),
        "{problems:?}"
    );
}
