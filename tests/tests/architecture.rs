//! ARCHITECTURE.md names only what exists: every repository path it puts in backticks exists,
//! and every item it places in a file occurs in that file. A rename or a move that forgets the
//! map fails here, naming each stale mention and its line.
//!
//! The rules, kept simple so a writer can predict them:
//!
//! - Text inside fenced code blocks is not read.
//! - A **path** is backticked text with no whitespace, `*`, `::`, `=`, `$`, `{` or `(` that starts with
//!   a top-level folder of the repository (`crates/`, `ui/`, `src-tauri/`, `docs/`, `scripts/`,
//!   `tests/`, `fuzz/`, `melodies/`, `templates/`), or ends with a file extension (`.rs`, `.ts`,
//!   `.tsx`, `.md`, `.toml`, `.json`, `.sql`, `.mjs`, `.sh`). A rooted path exists from the
//!   repository root. A bare one (`writer.rs`, `scheduler/flow.rs`) is the end of the path of some
//!   file under a folder that the nearest heading above it names (under the whole repository
//!   when that heading names none). A `<placeholder>` part stands for a name still to be chosen:
//!   such a path is written from the root, and the folder up to the placeholder exists.
//! - An **item** is backticked text shaped like a Rust or TypeScript name that starts with a
//!   capital letter or holds `::` (`Host::call`, `FORMATS`, `BottleneckKind`). An item written
//!   as `` `Item` in `path/file.rs` `` is looked up in that file; any other item in the last path
//!   to a file before it in the same paragraph or list item (none: not checked). It occurs there
//!   as a whole word (its last `::` part, without `()`).

#![allow(clippy::unwrap_used)] // Tests unwrap: a panic is the failure report.

use std::path::{Path, PathBuf};

use symphony_tests::repo_root;

/// What the text may name before it exists (a change landing in parts), as [`Stale::key`]
/// spells it; empty when the map and the code agree. An entry that is no longer stale fails the
/// test, so none outlives its reason.
const PENDING: &[&str] = &[];

/// The top-level folders a rooted path starts with.
const ROOTS: &[&str] = &[
    "crates/",
    "ui/",
    "src-tauri/",
    "docs/",
    "scripts/",
    "tests/",
    "fuzz/",
    "melodies/",
    "templates/",
];

/// The endings that make bare backticked text a file name.
const EXTENSIONS: &[&str] = &[
    ".rs", ".ts", ".tsx", ".md", ".toml", ".json", ".sql", ".mjs", ".sh",
];

/// Folders never searched for bare file names: build output and dependencies.
const SKIPPED_DIRS: &[&str] = &[".git", "target", "node_modules", "dist"];

/// One mention that no longer matches the repository.
#[derive(Debug)]
struct Stale {
    /// The line of the document (from 1).
    line: usize,
    /// The path, or `file: Item`, independent of the line (what [`PENDING`] lists).
    key: String,
    /// What is wrong, for a person.
    why: &'static str,
}

/// Every file under the repository, as `/`-separated paths relative to its root.
fn repo_files(root: &Path) -> Vec<String> {
    fn walk(root: &Path, dir: &Path, out: &mut Vec<String>) {
        let Ok(entries) = std::fs::read_dir(dir) else {
            return;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            let name = entry.file_name();
            if path.is_dir() {
                if !SKIPPED_DIRS.iter().any(|s| name == *s) {
                    walk(root, &path, out);
                }
            } else if let Ok(rel) = path.strip_prefix(root) {
                out.push(rel.to_string_lossy().replace('\\', "/"));
            }
        }
    }
    let mut out = Vec::new();
    walk(root, root, &mut out);
    out
}

fn is_rooted(span: &str) -> bool {
    ROOTS.iter().any(|r| span.starts_with(r))
}

fn is_path(span: &str) -> bool {
    let plain = !span.is_empty()
        && !span.contains(|c: char| c.is_whitespace() || "*=${(".contains(c))
        && !span.contains("::");
    plain && (is_rooted(span) || EXTENSIONS.iter().any(|e| span.ends_with(e)))
}

fn is_item(span: &str) -> bool {
    let name = span.strip_suffix("()").unwrap_or(span);
    let shaped = !name.is_empty()
        && name.split("::").all(|part| {
            part.chars()
                .next()
                .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
                && part.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
        });
    shaped && (name.contains("::") || name.starts_with(|c: char| c.is_ascii_uppercase()))
}

/// Whether `word` occurs in `text` with no identifier character on either side.
fn has_word(text: &str, word: &str) -> bool {
    let ident = |c: char| c.is_ascii_alphanumeric() || c == '_';
    text.match_indices(word)
        .any(|(at, _)| !text[..at].ends_with(ident) && !text[at + word.len()..].starts_with(ident))
}

/// The path up to its first `<placeholder>` part, or the whole path.
fn before_placeholder(path: &str) -> &str {
    path.find('<').map_or(path, |at| &path[..at])
}

/// Where a path mention leads: the file or folder it names, or `None` when there is none.
fn resolve(span: &str, root: &Path, files: &[String], folders: &[String]) -> Option<PathBuf> {
    if is_rooted(span) {
        let known = before_placeholder(span);
        let path = root.join(known);
        let exists = if known.ends_with('/') || known.len() < span.len() {
            path.is_dir()
        } else {
            path.exists()
        };
        return exists.then_some(path);
    }
    if span.contains('<') {
        return None;
    }
    let tail = format!("/{span}");
    files
        .iter()
        .find(|f| {
            if folders.is_empty() {
                f.as_str() == span || f.ends_with(&tail)
            } else {
                folders
                    .iter()
                    .any(|d| f.starts_with(&format!("{d}/")) && f.ends_with(&tail))
            }
        })
        .map(|f| root.join(f))
}

/// The document cut into blocks (a heading, a paragraph, a list item), outside fenced code,
/// each with the number of its first line.
fn blocks(doc: &str) -> Vec<(usize, String)> {
    let mut out: Vec<(usize, String)> = Vec::new();
    let mut open = false;
    let mut fenced = false;
    for (index, line) in doc.lines().enumerate() {
        let trimmed = line.trim_start();
        if trimmed.starts_with("```") {
            fenced = !fenced;
            open = false;
            continue;
        }
        if fenced || trimmed.is_empty() {
            open = false;
            continue;
        }
        let item = trimmed.starts_with("- ")
            || trimmed
                .split_once(". ")
                .is_some_and(|(n, _)| !n.is_empty() && n.chars().all(|c| c.is_ascii_digit()));
        if line.starts_with('#') || item || !open {
            out.push((index + 1, String::new()));
        }
        let block = &mut out.last_mut().expect("a block was just opened").1;
        block.push_str(line);
        block.push('\n');
        open = !line.starts_with('#');
    }
    out
}

/// Every stale mention in `doc`, checked against the repository at `root`.
fn stale_mentions(doc: &str, root: &Path) -> Vec<Stale> {
    let files = repo_files(root);
    let mut stale = Vec::new();
    // The folders the nearest heading names; empty means the whole repository.
    let mut folders: Vec<String> = Vec::new();
    for (first_line, block) in blocks(doc) {
        let pieces: Vec<&str> = block.split('`').collect();
        // Each span with the text up to the next one and its line.
        let spans: Vec<(&str, &str, usize)> = (1..pieces.len())
            .step_by(2)
            .map(|i| {
                let before: usize = pieces[..i].iter().map(|p| p.matches('\n').count()).sum();
                (
                    pieces[i],
                    pieces.get(i + 1).copied().unwrap_or(""),
                    first_line + before,
                )
            })
            .collect();
        if block.starts_with('#') {
            folders = spans
                .iter()
                .filter(|(s, _, _)| is_rooted(s))
                .map(|(s, _, _)| s.trim_end_matches('/').to_owned())
                .collect();
        }
        // Each span's path, for the spans that are paths.
        let mut paths: Vec<Option<Option<PathBuf>>> = Vec::new();
        for (span, _, line) in &spans {
            if !is_path(span) {
                paths.push(None);
                continue;
            }
            let found = resolve(span, root, &files, &folders);
            if found.is_none() {
                stale.push(Stale {
                    line: *line,
                    key: (*span).to_owned(),
                    why: if is_rooted(span) {
                        "does not exist"
                    } else {
                        "is no file under the folders its heading names"
                    },
                });
            }
            paths.push(Some(found));
        }
        let file_at = |i: usize| match paths.get(i) {
            Some(Some(Some(p))) if p.is_file() => Some(p.clone()),
            _ => None,
        };
        for (i, (span, gap, line)) in spans.iter().enumerate() {
            if !is_item(span) {
                continue;
            }
            let home = if gap.trim() == "in" && paths.get(i + 1).is_some_and(Option::is_some) {
                file_at(i + 1)
            } else {
                (0..i).rev().find(|&j| paths[j].is_some()).and_then(file_at)
            };
            let Some(path) = home else { continue };
            let name = span.strip_suffix("()").unwrap_or(span);
            let last = name.rsplit("::").next().unwrap_or(name);
            let text = std::fs::read_to_string(&path).unwrap_or_default();
            if !has_word(&text, last) {
                let rel = path.strip_prefix(root).unwrap_or(&path);
                stale.push(Stale {
                    line: *line,
                    key: format!("{}: {span}", rel.display()),
                    why: "is not in that file",
                });
            }
        }
    }
    stale.sort_by_key(|s| s.line);
    stale
}

#[test]
fn architecture_names_only_paths_and_items_that_exist() {
    let root = repo_root();
    let doc = std::fs::read_to_string(root.join("ARCHITECTURE.md")).unwrap();
    let stale = stale_mentions(&doc, &root);
    let mut report: Vec<String> = stale
        .iter()
        .filter(|s| !PENDING.contains(&s.key.as_str()))
        .map(|s| format!("ARCHITECTURE.md:{}: `{}` {}", s.line, s.key, s.why))
        .collect();
    for pending in PENDING {
        if !stale.iter().any(|s| s.key == *pending) {
            report.push(format!(
                "`{pending}` exists now: remove it from PENDING in tests/tests/architecture.rs"
            ));
        }
    }
    assert!(
        report.is_empty(),
        "ARCHITECTURE.md is out of date with the code:\n{}",
        report.join("\n")
    );
}

/// The checker itself: against the real repository, a moved file, a bare name under the wrong
/// heading and a renamed item are each reported once, and what exists is not.
#[test]
fn a_stale_path_a_misplaced_file_and_a_renamed_item_are_reported() {
    let doc = "\
# Map
### `crates/symphony-store` — the store
`writer.rs` holds the `Recorder`; `crates/symphony-store/src/writer.rs` has no `Recordr`.
`crates/symphony-store/src/gone.rs`, `steps/<name>.rs`, `crates/symphony-conductor/src/steps/<name>.rs`.
```
`crates/inside/a/fence.rs` is not read.
```
### `crates/symphony-melody`
`writer.rs` is not under this heading's folder; `Host::call` follows no path.
`Problem` in `problem.rs`, but `Nowhere` in `problem.rs`; `validate.rs` then `Catalog`, `Problme`.
";
    let stale = stale_mentions(doc, &repo_root());
    let keys: Vec<(usize, &str)> = stale.iter().map(|s| (s.line, s.key.as_str())).collect();
    assert_eq!(
        keys,
        [
            (3, "crates/symphony-store/src/writer.rs: Recordr"),
            (4, "crates/symphony-store/src/gone.rs"),
            (4, "steps/<name>.rs"),
            (9, "writer.rs"),
            (10, "crates/symphony-melody/src/problem.rs: Nowhere"),
            (10, "crates/symphony-melody/src/validate.rs: Problme"),
        ]
    );
}
