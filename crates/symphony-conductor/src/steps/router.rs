//! `cue.router`: sends its input out on the port of the first route whose condition holds (or on
//! `default`). The other ports produce nothing, so the steps behind them are skipped.

use serde_json::Map;
use symphony_melody::{
    ConfigField, FieldType, PortSpec, PortType, Problem, Route, Step, StepKind, TypeSpec,
};

use crate::step::{BoxFuture, ErrorKind, Outputs, Played, StepContext, StepError, StepType};

/// Picks one branch.
pub struct Router;

impl StepType for Router {
    fn spec(&self) -> TypeSpec {
        let mut s = super::spec(
            "cue.router",
            StepKind::Cue,
            "Router",
            "Sends its input down the first branch whose condition holds; the others are skipped.",
        );
        s.inputs = vec![PortSpec::required("input", PortType::Any, "What to route.")];
        s.extra_inputs = Some(PortType::Any);
        s.extra_outputs = Some(PortType::Any);
        s.config = vec![
            ConfigField::required(
                "routes",
                FieldType::Routes,
                "In order: {\"when\": condition, \"port\": output port}.",
            ),
            ConfigField::optional(
                "default",
                FieldType::String,
                "The output port used when no route matches; without it, every branch is skipped.",
            )
            .single_line(),
        ];
        s
    }

    fn check(&self, step: &Step, problems: &mut Vec<Problem>) {
        if let Some(port) = step.config.get("default").and_then(|v| v.as_str()) {
            if !step.outputs.contains_key(port) {
                problems.push(Problem::at(
                    "config.default",
                    format!("no output port `{port}`; declare it under the step's outputs"),
                ));
            }
        }
    }

    fn play<'a>(&'a self, cx: &'a StepContext) -> BoxFuture<'a, Result<Played, StepError>> {
        Box::pin(async move {
            let routes: Vec<Route> =
                serde_json::from_value(cx.config.get("routes").cloned().unwrap_or_default())
                    .map_err(|e| {
                        StepError::fatal(ErrorKind::Config, format!("config.routes: {e}"))
                    })?;
            let chosen = routes
                .iter()
                .find(|r| r.when.evaluate(&mut |reference| cx.lookup(reference)))
                .map(|r| r.port.as_str())
                .or_else(|| cx.config_str("default"));
            let mut out = Map::new();
            if let Some(port) = chosen {
                out.insert(
                    port.to_owned(),
                    cx.input("input").cloned().unwrap_or_default(),
                );
            }
            Ok(Played::Done(Outputs(out).into()))
        })
    }
}
