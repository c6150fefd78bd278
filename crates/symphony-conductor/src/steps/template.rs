//! `operator.template`: renders text from `{{references}}` to run inputs, its own input ports
//! and upstream outputs. The usual way to build a prompt from several pieces.

use serde_json::Value;
use symphony_melody::{ConfigField, FieldType, PortSpec, PortType, StepKind, TypeSpec};

use crate::step::{BoxFuture, ErrorKind, Outputs, Played, StepContext, StepError, StepType};

/// Renders `config.template`.
pub struct TemplateOp;

impl StepType for TemplateOp {
    fn spec(&self) -> TypeSpec {
        let mut s = super::spec(
            "operator.template",
            StepKind::Operator,
            "Template",
            "Renders text with {{references}} to inputs and upstream outputs.",
        );
        s.extra_inputs = Some(PortType::Any);
        s.outputs = vec![PortSpec::required(
            "output",
            PortType::Text,
            "The rendered text.",
        )];
        s.config = vec![ConfigField::required(
            "template",
            FieldType::Template,
            "The text, with {{references}}.",
        )];
        s
    }

    fn play<'a>(&'a self, cx: &'a StepContext) -> BoxFuture<'a, Result<Played, StepError>> {
        Box::pin(async move {
            let text = cx
                .render("template")?
                .ok_or_else(|| StepError::fatal(ErrorKind::Config, "config.template is missing"))?;
            Ok(Played::Done(Outputs::single(Value::String(text)).into()))
        })
    }
}
