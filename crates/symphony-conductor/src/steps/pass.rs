//! `operator.pass`: forwards its input unchanged. A relay or join point on the canvas, and the
//! no-op step the engine benchmarks are made of.

use symphony_melody::{PortSpec, PortType, StepKind, TypeSpec};

use crate::step::{BoxFuture, Outputs, Played, StepContext, StepError, StepType};

/// Forwards `input` to `output`.
pub struct Pass;

impl StepType for Pass {
    fn spec(&self) -> TypeSpec {
        let mut s = super::spec(
            "operator.pass",
            StepKind::Operator,
            "Pass",
            "Forwards its input unchanged.",
        );
        s.inputs = vec![PortSpec::optional("input", PortType::Any, "Any value.")];
        s.outputs = vec![PortSpec::required(
            "output",
            PortType::Any,
            "The same value.",
        )];
        s
    }

    fn play<'a>(&'a self, cx: &'a StepContext) -> BoxFuture<'a, Result<Played, StepError>> {
        Box::pin(async move {
            let value = cx.input("input").cloned().unwrap_or_default();
            Ok(Played::Done(Outputs::single(value).into()))
        })
    }
}
