//! `symphony diff A B`: what changed between two melodies, step by step and field by field.
//!
//! Both files go through the loader (so an older format version is migrated, and a broken file
//! gets the usual problems, exit 3); they are not checked against this build's step types, so
//! a melody using a type this build lacks can still be compared. One of them may be `-`
//! (stdin), e.g. `git show HEAD~1:m.melody.json | symphony diff - m.melody.json`. The
//! comparison is [`symphony_melody::diff`]; this module only prints it:
//!
//! ```text
//! ~ melody.name: "Idea to code" → "Idea to code, reviewed"
//! ~ step spec: config.prompt: "Turn this idea into a clear…" → "Turn this idea into a short…"
//! ~ step spec: policy.retry.max: 2 → 3
//! + step review (instrument.offline)
//! + edge spec.output → review.text
//! layout only (changes nothing that runs): 2 steps moved
//! ```
//!
//! `--json` prints the diff as one JSON object (its shape is in docs/diff-and-merge.md);
//! `--no-layout` leaves the layout out. Exit codes, like `diff`: 0 the same, 1 different,
//! 2 usage, 3 a file is not a valid melody, 4 a file cannot be read.

use std::io::Read as _;
use std::path::{Path, PathBuf};

use serde::Serialize;
use serde_json::Value;
use symphony_melody::diff::{Change, MelodyDiff, StepChangeKind};
use symphony_melody::Melody;

use super::plural;
use crate::exit::{Exit, Failure, Outcome};

/// Arguments of `symphony diff`.
#[derive(clap::Args)]
pub struct Args {
    /// The old melody file (`-` reads it from stdin).
    #[arg(value_name = "A")]
    pub a: PathBuf,
    /// The new melody file (`-` reads it from stdin).
    #[arg(value_name = "B")]
    pub b: PathBuf,
    /// Print the diff as JSON (see docs/diff-and-merge.md for its shape).
    #[arg(long)]
    pub json: bool,
    /// Leave canvas changes (positions, notes, groups) out; they never change what runs.
    #[arg(long)]
    pub no_layout: bool,
}

/// Runs `symphony diff`: exit 0 when the melodies are the same, 1 when they differ.
pub fn run(args: Args) -> Outcome {
    let stdin = PathBuf::from("-");
    if args.a == stdin && args.b == stdin {
        return Err(Failure::new(
            Exit::Usage,
            "only one of the two files can be `-` (stdin)",
        ));
    }
    let a = load(&args.a)?;
    let b = load(&args.b)?;
    let mut diff = symphony_melody::diff(&a, &b);
    if args.no_layout {
        diff.layout = Default::default();
    }
    if args.json {
        let report = Report {
            a: args.a.display().to_string(),
            b: args.b.display().to_string(),
            same: diff.is_empty(),
            changes_what_runs: diff.changes_what_runs(),
            diff: &diff,
        };
        let text = serde_json::to_string_pretty(&report)
            .map_err(|e| Failure::new(Exit::Internal, format!("cannot write the diff: {e}")))?;
        outln!("{text}");
    } else {
        for line in lines(&diff) {
            outln!("{line}");
        }
    }
    Ok(if diff.is_empty() {
        Exit::Success
    } else {
        Exit::Failed
    })
}

/// What `--json` prints: the two files, two verdicts, then the diff's sections.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Report<'a> {
    a: String,
    b: String,
    same: bool,
    changes_what_runs: bool,
    #[serde(flatten)]
    diff: &'a MelodyDiff,
}

/// Reads and loads one side (`-` is stdin): exit 4 if it cannot be read, 3 if it is no melody.
fn load(path: &Path) -> Result<Melody, Failure> {
    let (bytes, name) = if path.as_os_str() == "-" {
        let mut bytes = Vec::new();
        std::io::stdin()
            .read_to_end(&mut bytes)
            .map_err(|e| Failure::new(Exit::Io, format!("cannot read stdin: {e}")))?;
        (bytes, "<stdin>".to_owned())
    } else {
        (super::read(path)?, path.display().to_string())
    };
    symphony_melody::load(&bytes, &name).map_err(Failure::problems)
}

/// The diff as lines for a person, in the order of [`MelodyDiff`]'s sections.
pub fn lines(diff: &MelodyDiff) -> Vec<String> {
    let mut out = Vec::new();
    for change in diff
        .melody
        .iter()
        .chain(&diff.settings)
        .chain(&diff.step_types)
    {
        out.push(field("", change));
    }
    // Inputs: `inputs.NAME` is a whole input added or removed, deeper paths one of its fields.
    for change in &diff.inputs {
        let rest = change.path.strip_prefix("inputs.").unwrap_or(&change.path);
        match rest.split_once('.') {
            Some((name, field_path)) => {
                let inner = Change {
                    path: field_path.to_owned(),
                    ..change.clone()
                };
                out.push(field(&format!("input {name}: "), &inner));
            }
            None => match (&change.before, &change.after) {
                (None, Some(v)) => out.push(format!("+ input {rest}{}", input_type(v))),
                (Some(v), None) => out.push(format!("- input {rest}{}", input_type(v))),
                _ => out.push(field("input ", change)),
            },
        }
    }
    for step in &diff.steps {
        match step.change {
            StepChangeKind::Added => out.push(format!("+ step {} ({})", step.id, step.type_name)),
            StepChangeKind::Removed => out.push(format!("- step {} ({})", step.id, step.type_name)),
            StepChangeKind::Renamed => out.push(format!(
                "R step {} → {} (renamed; nothing else changed)",
                step.renamed_from.as_deref().unwrap_or("?"),
                step.id
            )),
            StepChangeKind::Changed => {
                let prefix = format!("step {}: ", step.id);
                out.extend(step.fields.iter().map(|c| field(&prefix, c)));
            }
        }
    }
    if let Some(order) = &diff.order {
        out.push(format!(
            "~ step order: {} → {}",
            order.before.join(", "),
            order.after.join(", ")
        ));
    }
    for e in &diff.edges.added {
        out.push(format!("+ edge {} → {}", e.from, e.to));
    }
    for e in &diff.edges.removed {
        out.push(format!("- edge {} → {}", e.from, e.to));
    }
    let layout = &diff.layout;
    if !layout.is_empty() {
        let mut parts = Vec::new();
        for (n, what) in [
            (layout.moved.len(), "moved"),
            (layout.placed.len(), "placed"),
            (layout.unplaced.len(), "no longer placed"),
        ] {
            if n > 0 {
                parts.push(format!("{n} step{} {what}", plural(n)));
            }
        }
        if !layout.other.is_empty() {
            let n = layout.other.len();
            parts.push(format!("{n} other change{}", plural(n)));
        }
        let label = if diff.changes_what_runs() {
            "layout"
        } else {
            "layout only"
        };
        out.push(format!(
            "{label} (changes nothing that runs): {}",
            parts.join(", ")
        ));
        for (ids, what) in [
            (&layout.moved, "moved"),
            (&layout.placed, "placed"),
            (&layout.unplaced, "no longer placed"),
        ] {
            if !ids.is_empty() {
                out.push(format!("  {what}: {}", ids.join(", ")));
            }
        }
        out.extend(layout.other.iter().map(|c| format!("  {}", field("", c))));
    }
    out
}

/// ` (string)` for a run input's JSON, or nothing.
fn input_type(v: &Value) -> String {
    v.get("type")
        .and_then(Value::as_str)
        .map(|t| format!(" ({t})"))
        .unwrap_or_default()
}

/// One changed field: `~ PREFIXpath: before → after`, or added / removed.
fn field(prefix: &str, change: &Change) -> String {
    let path = &change.path;
    match (&change.before, &change.after) {
        (Some(a), Some(b)) => {
            let (a, b) = pair(a, b);
            format!("~ {prefix}{path}: {a} → {b}")
        }
        (None, Some(b)) => format!("~ {prefix}{path} added: {}", show(b)),
        (Some(a), None) => format!("~ {prefix}{path} removed (was {})", show(a)),
        (None, None) => format!("~ {prefix}{path}"),
    }
}

/// How much of a value a line shows.
const WIDTH: usize = 60;

/// A value on one line, shortened with `…`.
fn show(v: &Value) -> String {
    match v {
        Value::String(s) => clip(&s.chars().collect::<Vec<_>>(), 0),
        other => {
            let text = other.to_string();
            if text.chars().count() > WIDTH + 20 {
                format!("{}…", text.chars().take(WIDTH + 20).collect::<String>())
            } else {
                text
            }
        }
    }
}

/// Two values; two long strings are both shown from a little before where they first differ.
fn pair(a: &Value, b: &Value) -> (String, String) {
    match (a, b) {
        (Value::String(x), Value::String(y)) => {
            let (x, y): (Vec<char>, Vec<char>) = (x.chars().collect(), y.chars().collect());
            let same = x.iter().zip(&y).take_while(|(p, q)| p == q).count();
            let mut start = if same > 40 { same - 30 } else { 0 };
            // Start at a word when one begins a little earlier.
            let word = x[..start].iter().rposition(|c| c.is_whitespace());
            if let Some(space) = word.filter(|s| start - s <= 15) {
                start = space + 1;
            }
            (clip(&x, start), clip(&y, start))
        }
        _ => (show(a), show(b)),
    }
}

/// `chars[start..]` as a JSON string of at most [`WIDTH`] characters, `…` marking cuts.
fn clip(chars: &[char], start: usize) -> String {
    let start = start.min(chars.len());
    let end = (start + WIDTH).min(chars.len());
    let body: String = chars[start..end].iter().collect();
    let quoted = Value::String(body).to_string();
    let inner = &quoted[1..quoted.len() - 1];
    format!(
        "\"{}{inner}{}\"",
        if start > 0 { "…" } else { "" },
        if end < chars.len() { "…" } else { "" }
    )
}
