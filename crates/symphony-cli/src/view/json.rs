//! Newline-delimited JSON for scripts: every event as one line, then the report.
//!
//! Nothing else goes to stdout; messages for people (the workspace, Ctrl-C) go to stderr.

use symphony_conductor::{EventRecord, RunReport};

use super::{RunContext, View};

/// Newline-delimited JSON on stdout; nothing else goes there.
pub struct Json {
    context: RunContext,
}

impl Json {
    /// A view that prints JSON lines to stdout.
    pub fn new(context: RunContext) -> Self {
        Json { context }
    }
}

impl View for Json {
    fn event(&mut self, record: &EventRecord) {
        match serde_json::to_string(record) {
            Ok(line) => outln!("{line}"),
            Err(e) => errln!("warning: an event could not be written as JSON: {e}"),
        }
    }

    fn note(&mut self, text: &str) {
        errln!("{text}");
    }

    fn finish(&mut self, report: &RunReport) {
        let mut doc = match serde_json::to_value(report) {
            Ok(serde_json::Value::Object(map)) => map,
            Ok(_) | Err(_) => {
                errln!("warning: the run report could not be written as JSON");
                return;
            }
        };
        doc.insert("type".into(), "report".into());
        outln!("{}", serde_json::Value::Object(doc));
        errln!(
            "workspace: {}\nresult: {}",
            self.context.workspace.display(),
            self.context.workspace.join("result.json").display()
        );
    }
}
