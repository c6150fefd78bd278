//! `operator.delay`: waits, then forwards its input. Spaces out calls to a slow service, and
//! lets a melody rehearse timing (the benchmarks use it for simulated I/O).

use std::time::Duration;

use symphony_melody::{ConfigField, FieldType, PortSpec, PortType, StepKind, TypeSpec};

use crate::step::{BoxFuture, ErrorKind, Outputs, Played, StepContext, StepError, StepType};

/// Waits `config.ms`, then forwards `input`.
pub struct Delay;

impl StepType for Delay {
    fn spec(&self) -> TypeSpec {
        let mut s = super::spec(
            "operator.delay",
            StepKind::Operator,
            "Delay",
            "Waits a fixed time, then forwards its input.",
        );
        s.inputs = vec![PortSpec::optional("input", PortType::Any, "Any value.")];
        s.outputs = vec![PortSpec::required(
            "output",
            PortType::Any,
            "The same value.",
        )];
        s.config = vec![ConfigField::required(
            "ms",
            FieldType::Integer,
            "How long to wait, in milliseconds.",
        )];
        s
    }

    /// It takes what it is told to wait: the plan's critical path and the board's "slower than
    /// its estimate" warning should know a 5 s delay is meant to take 5 s.
    fn estimate_ms(&self, config: &serde_json::Map<String, serde_json::Value>) -> Option<u64> {
        config.get("ms").and_then(serde_json::Value::as_u64)
    }

    fn play<'a>(&'a self, cx: &'a StepContext) -> BoxFuture<'a, Result<Played, StepError>> {
        Box::pin(async move {
            let ms = cx.config_u64("ms").ok_or_else(|| {
                StepError::fatal(ErrorKind::Config, "config.ms must be a whole number")
            })?;
            tokio::time::sleep(Duration::from_millis(ms)).await;
            let value = cx.input("input").cloned().unwrap_or_default();
            Ok(Played::Done(Outputs::single(value).into()))
        })
    }
}
