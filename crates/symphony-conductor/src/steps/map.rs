//! `cue.map`: plays its body step once per item of a list made at run time, in parallel, and
//! gathers the results in item order. The conductor schedules the items like steps (they share
//! the run's slots and limits); the body sees `{{item}}`, `{{index}}` and the map's own inputs.

use serde_json::Value;
use symphony_melody::catalog::describe;
use symphony_melody::{ConfigField, FieldType, PortSpec, PortType, StepKind, TypeSpec};

use crate::step::{BoxFuture, ErrorKind, Played, StepContext, StepError, StepType};

/// Fans a body step out over a list.
pub struct MapCue;

impl StepType for MapCue {
    fn spec(&self) -> TypeSpec {
        let mut s = super::spec(
            "cue.map",
            StepKind::Cue,
            "Map",
            "Plays a step once per item of a list, in parallel; results keep the list's order.",
        );
        s.inputs = vec![PortSpec::required(
            "items",
            PortType::List,
            "The list to map over.",
        )];
        s.extra_inputs = Some(PortType::Any);
        s.outputs = vec![PortSpec::required(
            "results",
            PortType::List,
            "The body's `output` for each item, in order.",
        )];
        s.config = vec![ConfigField::required(
            "body",
            FieldType::Step {
                scope: vec!["item".into(), "index".into()],
            },
            "The step played per item: {\"type\", \"config\", \"policy\"}.",
        )];
        s
    }

    fn play<'a>(&'a self, cx: &'a StepContext) -> BoxFuture<'a, Result<Played, StepError>> {
        Box::pin(async move {
            match cx.input("items") {
                Some(Value::Array(items)) => {
                    // A list made at run time (a model's answer, say) decides the fan-out:
                    // capped, so it cannot queue millions of units.
                    let max = cx.limits().map_items;
                    if items.len() as u64 > max {
                        return Err(StepError::fatal(
                            ErrorKind::Refused,
                            format!(
                                "{} ({} arrived)",
                                symphony_melody::limits::MAP_ITEMS.exceeded(&cx.step, max),
                                items.len()
                            ),
                        ));
                    }
                    Ok(Played::FanOut(items.clone()))
                }
                Some(other) => Err(StepError::fatal(
                    ErrorKind::Input,
                    format!(
                        "a map needs a list of items, but its input is {}",
                        describe(other)
                    ),
                )),
                None => Err(StepError::fatal(
                    ErrorKind::Input,
                    "a map needs a list of items, but none arrived",
                )),
            }
        })
    }
}
