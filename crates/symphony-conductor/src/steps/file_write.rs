//! `operator.file.write`: writes a file into the run workspace's `files/` folder. Paths are
//! confined there (see `workspace.rs`): `..`, absolute paths and symbolic links are refused.

use serde_json::Value;
use symphony_melody::{Capability, ConfigField, FieldType, PortSpec, PortType, StepKind, TypeSpec};

use crate::step::{BoxFuture, ErrorKind, Outputs, Played, StepContext, StepError, StepType};

/// Writes `content` to `files/<path>`.
pub struct FileWrite;

impl StepType for FileWrite {
    fn spec(&self) -> TypeSpec {
        let mut s = super::spec(
            "operator.file.write",
            StepKind::Operator,
            "Write file",
            "Writes a file into the run workspace.",
        );
        s.inputs = vec![PortSpec::optional(
            "content",
            PortType::Any,
            "What to write, when config.content is not set (text as is, anything else as JSON).",
        )];
        s.extra_inputs = Some(PortType::Any);
        s.outputs = vec![PortSpec::required(
            "path",
            PortType::File,
            "The path written, relative to files/.",
        )];
        s.config = vec![
            ConfigField::required(
                "path",
                FieldType::Template,
                "Where to write, relative to the workspace's files/ folder.",
            )
            .single_line(),
            ConfigField::optional(
                "content",
                FieldType::Template,
                "What to write; defaults to the `content` input.",
            ),
        ];
        s.capabilities = vec![Capability::Files];
        s
    }

    fn play<'a>(&'a self, cx: &'a StepContext) -> BoxFuture<'a, Result<Played, StepError>> {
        Box::pin(async move {
            let path = cx.render("path")?.unwrap_or_default();
            let content =
                match cx.render("content")? {
                    Some(text) => text,
                    None => match cx.input("content") {
                        Some(Value::String(s)) => s.clone(),
                        Some(other) => serde_json::to_string_pretty(other)
                            .expect("a serde_json::Value always serializes"),
                        None => return Err(StepError::fatal(
                            ErrorKind::Config,
                            "nothing to write: set config.content or connect the `content` input",
                        )),
                    },
                };
            let ws = cx.workspace()?.clone();
            // Confinement checks and the write itself touch the disk: keep them off the runtime.
            let (written, content) = tokio::task::spawn_blocking(move || {
                ws.write_file(&path, content.as_bytes())
                    .map(|written| (written, content))
            })
            .await
            .map_err(|e| {
                StepError::fatal(ErrorKind::Io, format!("the write task failed: {e}"))
            })??;
            cx.report_file(&written, content.as_bytes());
            let mut out = serde_json::Map::new();
            out.insert("path".into(), Value::String(written));
            Ok(Played::Done(Outputs(out).into()))
        })
    }
}
