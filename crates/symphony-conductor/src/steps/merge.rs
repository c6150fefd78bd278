//! `operator.merge`: joins several inputs into one value: an object by port name, a list, or
//! one text. Inputs whose upstream was skipped (declared with a `null` default) are left out,
//! so a merge can join the branches of a router.

use serde_json::{Map, Value};
use symphony_melody::{ConfigField, FieldType, PortSpec, PortType, StepKind, TypeSpec};

use crate::step::{BoxFuture, Outputs, Played, StepContext, StepError, StepType};

/// Joins its inputs.
pub struct Merge;

impl StepType for Merge {
    fn spec(&self) -> TypeSpec {
        let mut s = super::spec(
            "operator.merge",
            StepKind::Operator,
            "Merge",
            "Joins several inputs into an object, a list or one text.",
        );
        s.inputs = vec![PortSpec::optional(
            "items",
            PortType::List,
            "Collects any number of edges, in edge order.",
        )];
        s.extra_inputs = Some(PortType::Any);
        s.outputs = vec![PortSpec::required(
            "output",
            PortType::Any,
            "The merged value.",
        )];
        s.config = vec![
            ConfigField::optional(
                "mode",
                FieldType::Choice {
                    options: vec!["object".into(), "list".into(), "text".into()],
                },
                "object (by port name, the default), list (in port order, `items` flattened) or text.",
            ),
            ConfigField::optional(
                "separator",
                FieldType::String,
                "Between pieces in text mode (default: a blank line).",
            ),
        ];
        s
    }

    fn play<'a>(&'a self, cx: &'a StepContext) -> BoxFuture<'a, Result<Played, StepError>> {
        Box::pin(async move {
            let present = cx.inputs.iter().filter(|(_, v)| !v.is_null());
            let merged = match cx.config_str("mode").unwrap_or("object") {
                "list" | "text" => {
                    let mut items = Vec::new();
                    for (port, v) in present {
                        match (port.as_str(), v) {
                            ("items", Value::Array(list)) => items.extend(list.iter().cloned()),
                            _ => items.push(v.clone()),
                        }
                    }
                    if cx.config_str("mode") == Some("text") {
                        let sep = cx.config_str("separator").unwrap_or("\n\n");
                        let parts: Vec<String> = items
                            .iter()
                            .map(|v| {
                                let mut s = String::new();
                                symphony_melody::template::push_value(&mut s, v);
                                s
                            })
                            .collect();
                        Value::String(parts.join(sep))
                    } else {
                        Value::Array(items)
                    }
                }
                _ => Value::Object(
                    present
                        .map(|(k, v)| (k.clone(), v.clone()))
                        .collect::<Map<_, _>>(),
                ),
            };
            Ok(Played::Done(Outputs::single(merged).into()))
        })
    }
}
