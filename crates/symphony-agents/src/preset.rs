//! The agent CLIs Symphony knows how to drive, and how each one's command line is built.
//!
//! Every preset builds an argv list: the prompt is always one element of it, never part of a
//! shell string, so nothing in the prompt (quotes, `;`, `$(…)`, a leading `-`) is interpreted
//! by anyone but the agent. Where a CLI takes the prompt as a positional argument it comes
//! after `--`, and where it takes it as an option value it is joined as `--flag=<prompt>`, so a
//! prompt that starts with `-` cannot be read as an option.
//!
//! The flags below are each CLI's documented non-interactive mode (checked against their docs
//! in November 2026):
//!
//! - **Claude Code**: `claude -p` (`--print`) runs one prompt and exits, printing the final
//!   answer; `--output-format json` makes that answer one JSON object whose `result` is the
//!   text and which reports `usage` (tokens) and `total_cost_usd`, so the step reports the run's
//!   real tokens and cost (text mode prints nothing until the end either, so no streaming is
//!   lost); `--permission-mode acceptEdits` lets it
//!   edit files without asking (commands it would need approval for are refused, since nobody
//!   is there to approve), `bypassPermissions` lets it do anything. `--model` picks the model.
//!   Its key comes from `ANTHROPIC_API_KEY` (or the user's own `claude` login under `HOME`).
//! - **Codex CLI**: `codex exec` runs one task without the TUI, streaming progress to stderr
//!   and printing only the final message on stdout. It is read-only unless given
//!   `--sandbox workspace-write` (or `danger-full-access`); it refuses to run outside a git
//!   repository unless given `--skip-git-repo-check` (Symphony keeps its own record of the
//!   changes, see the crate docs, so the check is skipped). `--color never` keeps output plain,
//!   `--model` picks the model; `CODEX_API_KEY` carries a key for `exec`.
//! - **Aider**: `aider --message <text>` sends one message, applies the edits and exits;
//!   `--yes-always` answers every confirmation; `--no-pretty` and `--no-check-update` keep it
//!   quiet; `--no-gitignore` stops it adding `.aider*` to the repository's `.gitignore`. In a
//!   worktree Aider commits its edits on the step's branch (its default); in the workspace,
//!   which is usually not a repository, `--no-git` stops it from creating one. Its chat history
//!   files (`.aider*`) are left out of the captured changes.
//! - **Gemini CLI**: `gemini --prompt <text>` (`-p`) runs headless and exits;
//!   `--approval-mode auto_edit` approves edits, `yolo` approves everything; `--model` picks
//!   the model; `GEMINI_API_KEY` carries the key.
//! - A prompt longer than one argument may be (Linux caps one at 128 KiB), or any prompt when
//!   the step sets `stdin`, is handed over on standard input instead: `claude -p` with no
//!   prompt argument and `codex exec -` read it there, Gemini CLI runs headless on piped input,
//!   and Aider, which cannot read a message from stdin, gets `--message-file`.
//! - **command**: any program, as an argv list with `{{prompt}}`, `{{workdir}}` and `{{model}}`
//!   placeholders replaced inside each element.

use std::path::Path;

use serde_json::{Map, Value};
use symphony_melody::Problem;

use crate::guard;
pub use crate::guard::{Arg, ArgvError};

/// A supported agent CLI.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Preset {
    /// Claude Code (`claude -p`).
    Claude,
    /// OpenAI's Codex CLI (`codex exec`).
    Codex,
    /// Aider (`aider --message`).
    Aider,
    /// Google's Gemini CLI (`gemini --prompt`).
    Gemini,
    /// A command line given in the step's config.
    Command,
}

/// How much the agent may do without a person approving it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Autonomy {
    /// Edit files in its working folder; nothing else that needs approval.
    Edit,
    /// Everything the CLI can be allowed to do (commands, network): only in a folder and on a
    /// machine you are ready to lose.
    Full,
}

/// The placeholders an argv element of the `command` preset may hold.
pub const PLACEHOLDERS: [&str; 4] = ["prompt", "workdir", "model", "promptFile"];

impl Preset {
    /// Every preset name, as written in `config.preset`.
    pub const NAMES: [&'static str; 5] = ["claude", "codex", "aider", "gemini", "command"];

    /// The preset of a config name.
    pub fn from_name(name: &str) -> Option<Preset> {
        Some(match name {
            "claude" => Preset::Claude,
            "codex" => Preset::Codex,
            "aider" => Preset::Aider,
            "gemini" => Preset::Gemini,
            "command" => Preset::Command,
            _ => return None,
        })
    }

    /// The name written in `config.preset`.
    pub fn name(self) -> &'static str {
        match self {
            Preset::Claude => "claude",
            Preset::Codex => "codex",
            Preset::Aider => "aider",
            Preset::Gemini => "gemini",
            Preset::Command => "command",
        }
    }

    /// The program run when `config.program` does not name another.
    pub fn default_program(self) -> Option<&'static str> {
        match self {
            Preset::Claude => Some("claude"),
            Preset::Codex => Some("codex"),
            Preset::Aider => Some("aider"),
            Preset::Gemini => Some("gemini"),
            Preset::Command => None,
        }
    }

    /// The environment variable a credential is put in when `config.credentialEnv` does not
    /// name one.
    pub fn default_credential_env(self) -> Option<&'static str> {
        match self {
            Preset::Claude => Some("ANTHROPIC_API_KEY"),
            Preset::Codex => Some("CODEX_API_KEY"),
            Preset::Gemini => Some("GEMINI_API_KEY"),
            // Aider reads the key of whichever provider its model uses; a command, anything.
            Preset::Aider | Preset::Command => None,
        }
    }

    /// Whether its stdout is one JSON result object (see [`parse_result`]) rather than text.
    pub fn json_result(self) -> bool {
        matches!(self, Preset::Claude)
    }

    /// Paths (git pathspecs, relative to the working folder) whose changes are the agent's own
    /// bookkeeping, not its work: left out of the captured diff and file list.
    pub fn bookkeeping(self) -> &'static [&'static str] {
        match self {
            Preset::Aider => &[".aider*"],
            _ => &[],
        }
    }
}

/// Everything an argv is built from.
pub struct ArgvInput<'a> {
    /// The preset.
    pub preset: Preset,
    /// `config.program`, if set.
    pub program: Option<&'a str>,
    /// `config.command`, for the `command` preset.
    pub command: Option<&'a [Value]>,
    /// The rendered prompt.
    pub prompt: &'a str,
    /// `config.model`, if set.
    pub model: Option<&'a str>,
    /// `config.autonomy`.
    pub autonomy: Autonomy,
    /// `config.args`: appended before the prompt.
    pub args: &'a [String],
    /// The folder the agent works in.
    pub workdir: &'a Path,
    /// Whether the working folder is a git worktree made for this step.
    pub in_worktree: bool,
    /// How a preset hands over the prompt.
    pub via: PromptVia<'a>,
    /// The file holding the prompt, for the `command` preset's `{{promptFile}}`.
    pub prompt_file: Option<&'a Path>,
}

/// How a preset hands the prompt to its CLI.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PromptVia<'a> {
    /// As an argument (the default).
    Argument,
    /// On standard input: `claude -p` and `codex exec -` read it there, and Gemini CLI runs
    /// headless on piped input. For prompts longer than one argument may be (128 KiB on Linux).
    Stdin,
    /// In a file (Aider's `--message-file`, as it cannot read a message from stdin).
    File(&'a Path),
}

impl Preset {
    /// Whether this preset's CLI can read its prompt from stdin (Aider cannot: it gets a file).
    pub fn reads_stdin(self) -> bool {
        !matches!(self, Preset::Aider)
    }
}

/// Builds the program and its arguments, checked: the argv the process gets, refused (with the
/// config field and argv index) when text Symphony does not control would be run as code. The
/// one function both validation (with `{{placeholders}}` unfilled) and play (right before the
/// process is spawned) call, so they cannot disagree; see [`crate::guard`].
pub fn argv(input: &ArgvInput<'_>) -> Result<Vec<String>, ArgvError> {
    let line = command_line(input)?;
    guard::check(&line, input.via == PromptVia::Stdin)?;
    Ok(line.into_iter().map(|a| a.text).collect())
}

/// Builds the program and its arguments, each with the config field it comes from and whether
/// it holds text Symphony does not control, in the order the process gets them: `program`
/// has replaced argv\[0\], `args` are in. Unchecked: [`argv`] checks it.
pub fn command_line(input: &ArgvInput<'_>) -> Result<Vec<Arg>, ArgvError> {
    let preset_field = "config.preset";
    let program = |default: &str| match input.program {
        Some(p) => Arg::literal(p, "config.program"),
        None => Arg::literal(default, preset_field),
    };
    let fixed = |flags: &[&str]| -> Vec<Arg> {
        flags
            .iter()
            .map(|f| Arg::literal(*f, preset_field))
            .collect()
    };
    let args = || {
        input
            .args
            .iter()
            .enumerate()
            .map(|(i, a)| Arg::literal(a.clone(), format!("config.args[{i}]")))
    };
    let prompt = |text: String| Arg::filled(text, "config.prompt", "the prompt");
    let mut argv = Vec::new();
    match input.preset {
        Preset::Claude => {
            argv.push(program("claude"));
            argv.extend(fixed(&[
                "-p",
                "--output-format",
                "json",
                "--permission-mode",
            ]));
            argv.extend(fixed(&[match input.autonomy {
                Autonomy::Edit => "acceptEdits",
                Autonomy::Full => "bypassPermissions",
            }]));
            push_model(&mut argv, input.model);
            argv.extend(args());
            if input.via == PromptVia::Argument {
                argv.extend(fixed(&["--"]));
                argv.push(prompt(input.prompt.to_owned()));
            }
        }
        Preset::Codex => {
            argv.push(program("codex"));
            argv.extend(fixed(&[
                "exec",
                "--skip-git-repo-check",
                "--color",
                "never",
                "--sandbox",
            ]));
            argv.extend(fixed(&[match input.autonomy {
                Autonomy::Edit => "workspace-write",
                Autonomy::Full => "danger-full-access",
            }]));
            push_model(&mut argv, input.model);
            argv.extend(args());
            // `-` tells `codex exec` to read the prompt from stdin.
            argv.extend(fixed(&["--"]));
            argv.push(match input.via {
                PromptVia::Argument => prompt(input.prompt.to_owned()),
                _ => Arg::literal("-", preset_field),
            });
        }
        Preset::Aider => {
            argv.push(program("aider"));
            argv.extend(fixed(&[
                "--yes-always",
                "--no-pretty",
                "--no-check-update",
                "--no-gitignore",
            ]));
            if !input.in_worktree {
                argv.extend(fixed(&["--no-git"]));
            }
            push_model(&mut argv, input.model);
            argv.extend(args());
            argv.push(match input.via {
                PromptVia::File(path) => Arg::filled(
                    format!("--message-file={}", path.display()),
                    "config.prompt",
                    "the prompt file",
                ),
                _ => prompt(format!("--message={}", input.prompt)),
            });
        }
        Preset::Gemini => {
            argv.push(program("gemini"));
            argv.extend(fixed(&["--approval-mode"]));
            argv.extend(fixed(&[match input.autonomy {
                Autonomy::Edit => "auto_edit",
                Autonomy::Full => "yolo",
            }]));
            push_model(&mut argv, input.model);
            argv.extend(args());
            if input.via == PromptVia::Argument {
                argv.push(prompt(format!("--prompt={}", input.prompt)));
            }
        }
        Preset::Command => {
            let error = |field: String, message: &str| ArgvError {
                field,
                message: message.to_owned(),
            };
            let Some(command) = input.command else {
                return Err(error(
                    "config.command".into(),
                    "the `command` preset needs a command line, e.g. [\"my-agent\", \"--task\", \"{{prompt}}\"]",
                ));
            };
            if command.is_empty() {
                return Err(error(
                    "config.command".into(),
                    "the command line is empty; give the program and its arguments",
                ));
            }
            let workdir = input.workdir.to_string_lossy();
            let prompt_file = input.prompt_file.map(|p| p.to_string_lossy());
            for (i, element) in command.iter().enumerate() {
                let field = format!("config.command[{i}]");
                let Some(text) = element.as_str() else {
                    return Err(error(field, "expected a string"));
                };
                let filled = holes(text).into_iter().find_map(|name| match name {
                    "prompt" => Some("`{{prompt}}`"),
                    "workdir" => Some("`{{workdir}}`"),
                    "model" => Some("`{{model}}`"),
                    "promptFile" => Some("`{{promptFile}}`"),
                    _ => None,
                });
                let value = substitute(text, |name| match name {
                    "prompt" => Some(input.prompt),
                    "workdir" => Some(&*workdir),
                    "model" => Some(input.model.unwrap_or("")),
                    "promptFile" => prompt_file.as_deref(),
                    _ => None,
                });
                if prompt_file.is_none() && holes(text).contains(&"promptFile") {
                    return Err(error(
                        field,
                        "`{{promptFile}}` has no file here (the prompt is written to one only when a step plays)",
                    ));
                }
                argv.push(Arg {
                    text: value,
                    field,
                    filled,
                });
            }
            if let Some(program) = input.program {
                argv[0] = Arg::literal(program, "config.program");
            }
            argv.extend(args());
        }
    }
    Ok(argv)
}

/// What a JSON-speaking CLI reported: its answer, and what it cost.
#[derive(Debug, Clone, PartialEq)]
pub struct JsonResult {
    /// The answer text (`result`).
    pub text: String,
    /// Whether the CLI says the run failed (`is_error`).
    pub is_error: bool,
    /// Tokens sent: plain, cache-writing and cache-reading input tokens together.
    pub input_tokens: Option<u64>,
    /// Tokens produced.
    pub output_tokens: Option<u64>,
    /// The cost the CLI computed, in US dollars.
    pub cost_usd: Option<f64>,
}

/// Reads Claude Code's `--output-format json` result:
/// `{"type": "result", "result": "...", "is_error": false, "total_cost_usd": 0.01,
/// "usage": {"input_tokens": 4, "cache_creation_input_tokens": 10, "cache_read_input_tokens": 20,
/// "output_tokens": 5}}`. `None` when stdout is not such an object (an older CLI, a wrapper
/// that prints text): the caller then keeps stdout as it is.
pub fn parse_result(stdout: &str) -> Option<JsonResult> {
    let value: Value = serde_json::from_str(stdout.trim()).ok()?;
    let text = value.get("result")?.as_str()?.to_owned();
    let usage = value.get("usage");
    let count = |key: &str| usage.and_then(|u| u.get(key)).and_then(Value::as_u64);
    let input = [
        "input_tokens",
        "cache_creation_input_tokens",
        "cache_read_input_tokens",
    ]
    .iter()
    .filter_map(|k| count(k))
    .reduce(|a, b| a + b);
    Some(JsonResult {
        text,
        is_error: value
            .get("is_error")
            .and_then(Value::as_bool)
            .unwrap_or(false),
        input_tokens: input,
        output_tokens: count("output_tokens"),
        cost_usd: value.get("total_cost_usd").and_then(Value::as_f64),
    })
}

fn push_model(argv: &mut Vec<Arg>, model: Option<&str>) {
    if let Some(model) = model {
        argv.push(Arg::literal("--model", "config.preset"));
        // The melody's own text, like `args` (a `command` line's `{{model}}` is a placeholder).
        argv.push(Arg::literal(model, "config.model"));
    }
}

/// Replaces `{{name}}` holes whose name `value` knows; leaves other text as it is. The result
/// is one argv element, so the value is never re-split or interpreted.
pub fn substitute<'v>(text: &str, value: impl Fn(&str) -> Option<&'v str>) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(start) = rest.find("{{") {
        let Some(len) = rest[start + 2..].find("}}") else {
            break;
        };
        let name = rest[start + 2..start + 2 + len].trim();
        out.push_str(&rest[..start]);
        match value(name) {
            Some(v) => out.push_str(v),
            None => out.push_str(&rest[start..start + 2 + len + 2]),
        }
        rest = &rest[start + 2 + len + 2..];
    }
    out.push_str(rest);
    out
}

/// The placeholder names used in a text.
fn holes(text: &str) -> Vec<&str> {
    let mut names = Vec::new();
    let mut rest = text;
    while let Some(start) = rest.find("{{") {
        let Some(len) = rest[start + 2..].find("}}") else {
            break;
        };
        names.push(rest[start + 2..start + 2 + len].trim());
        rest = &rest[start + 2 + len + 2..];
    }
    names
}

/// Checks the parts of a config the declarative spec cannot: the preset's own needs, the
/// command line's placeholders, a credential's environment variable and capability.
pub fn check(
    config: &Map<String, Value>,
    declares_secrets: bool,
    problems: &mut Vec<Problem>,
    at: impl Fn(&str, String) -> Problem,
) {
    let preset = config
        .get("preset")
        .and_then(Value::as_str)
        .and_then(Preset::from_name);
    let command = config.get("command").and_then(Value::as_array);
    match (preset, command) {
        (Some(Preset::Command), None) => problems.push(at(
            "config.command",
            "the `command` preset needs a command line: a list like [\"my-agent\", \"--task\", \"{{prompt}}\"]".into(),
        )),
        (Some(Preset::Command), Some(list)) => {
            let buildable = check_command(list, problems, &at);
            if buildable {
                check_command_line(config, Preset::Command, problems, &at);
            }
        }
        (Some(p), None) => check_command_line(config, p, problems, &at),
        (Some(p), Some(_)) => problems.push(at(
            "config.command",
            format!(
                "`command` is only read by the `command` preset; the `{}` preset builds its own command line (use `args` to add arguments, `program` to run another binary)",
                p.name()
            ),
        )),
        _ => {}
    }
    if let Some(args) = config.get("args").and_then(Value::as_array) {
        for (i, a) in args.iter().enumerate() {
            if !a.is_string() {
                problems.push(at(&format!("config.args[{i}]"), "expected a string".into()));
            }
        }
    }
    if let Some(env) = config.get("env").and_then(Value::as_object) {
        for (name, value) in env {
            if !value.is_string() {
                problems.push(at(
                    &format!("config.env.{name}"),
                    "expected a string".into(),
                ));
            }
            if !valid_env_name(name) {
                problems.push(at(
                    &format!("config.env.{name}"),
                    "not a valid environment variable name (letters, digits and `_`, not starting with a digit)".into(),
                ));
            }
        }
    }
    if config.get("credential").is_some() {
        if !declares_secrets {
            problems.push(at(
                "capabilities",
                "this step uses a credential, so it needs the `secrets` capability; add \"secrets\" to the step's capabilities so readers see what it may do".into(),
            ));
        }
        let env = config.get("credentialEnv").and_then(Value::as_str);
        match env {
            Some(name) if !valid_env_name(name) => problems.push(at(
                "config.credentialEnv",
                "not a valid environment variable name (letters, digits and `_`, not starting with a digit)".into(),
            )),
            None if preset.and_then(Preset::default_credential_env).is_none() => {
                problems.push(at(
                    "config.credentialEnv",
                    "name the environment variable the agent reads the credential from (e.g. \"OPENAI_API_KEY\"); this preset has no usual one".into(),
                ))
            }
            _ => {}
        }
    }
    if config.get("workdir").and_then(Value::as_str) != Some("worktree") {
        for key in ["repo", "base"] {
            if config.contains_key(key) {
                problems.push(at(
                    &format!("config.{key}"),
                    format!("`{key}` is only read with \"workdir\": \"worktree\""),
                ));
            }
        }
    }
}

/// Checks the command line's elements: strings, known placeholders. Returns whether the argv
/// can be built from them (an unknown placeholder stays as it is written).
fn check_command(
    list: &[Value],
    problems: &mut Vec<Problem>,
    at: &impl Fn(&str, String) -> Problem,
) -> bool {
    let mut sound = !list.is_empty();
    if list.is_empty() {
        problems.push(at(
            "config.command",
            "the command line is empty; give the program and its arguments".into(),
        ));
    }
    for (i, element) in list.iter().enumerate() {
        let path = format!("config.command[{i}]");
        let Some(text) = element.as_str() else {
            problems.push(at(&path, "expected a string".into()));
            sound = false;
            continue;
        };
        for name in holes(text) {
            if !PLACEHOLDERS.contains(&name) {
                problems.push(at(
                    &path,
                    format!(
                        "unknown placeholder `{{{{{name}}}}}`; a command line may use {{{{prompt}}}}, {{{{promptFile}}}}, {{{{workdir}}}} and {{{{model}}}}"
                    ),
                ));
            }
        }
    }
    sound
}

/// Builds the argv from the config, with its placeholders unfilled, for each way play may hand
/// over the prompt, and checks it with the same [`argv`] play calls before it spawns.
fn check_command_line(
    config: &Map<String, Value>,
    preset: Preset,
    problems: &mut Vec<Problem>,
    at: &impl Fn(&str, String) -> Problem,
) {
    let args: Vec<String> = config
        .get("args")
        .and_then(Value::as_array)
        .map(|list| {
            list.iter()
                .filter_map(Value::as_str)
                .map(str::to_owned)
                .collect()
        })
        .unwrap_or_default();
    let prompt_file = Path::new("{{promptFile}}");
    let off_line = if preset.reads_stdin() {
        PromptVia::Stdin
    } else {
        PromptVia::File(prompt_file)
    };
    // `stdin: true` always takes the prompt off the command line; a preset also does so for a
    // long prompt, which validation cannot foresee.
    let vias: &[PromptVia<'_>] = if config.get("stdin") == Some(&Value::Bool(true)) {
        &[off_line]
    } else if preset == Preset::Command {
        &[PromptVia::Argument]
    } else {
        &[PromptVia::Argument, off_line]
    };
    let mut seen: Vec<ArgvError> = Vec::new();
    for via in vias {
        let input = ArgvInput {
            preset,
            program: config.get("program").and_then(Value::as_str),
            command: config
                .get("command")
                .and_then(Value::as_array)
                .map(Vec::as_slice),
            prompt: "{{prompt}}",
            model: config.get("model").and_then(Value::as_str),
            autonomy: match config.get("autonomy").and_then(Value::as_str) {
                Some("full") => Autonomy::Full,
                _ => Autonomy::Edit,
            },
            args: &args,
            workdir: Path::new("{{workdir}}"),
            in_worktree: config.get("workdir").and_then(Value::as_str) == Some("worktree"),
            via: *via,
            prompt_file: Some(prompt_file),
        };
        if let Err(e) = argv(&input) {
            if !seen.contains(&e) {
                problems.push(at(&e.field, e.message.clone()));
                seen.push(e);
            }
        }
    }
}

fn valid_env_name(name: &str) -> bool {
    !name.is_empty()
        && !name.starts_with(|c: char| c.is_ascii_digit())
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn build(preset: Preset, prompt: &str) -> Vec<String> {
        argv(&ArgvInput {
            preset,
            program: None,
            command: None,
            prompt,
            model: Some("m1"),
            autonomy: Autonomy::Edit,
            args: &["--extra".into()],
            workdir: Path::new("/w"),
            in_worktree: false,
            via: PromptVia::Argument,
            prompt_file: None,
        })
        .expect("presets build")
    }

    #[test]
    fn presets_pass_the_prompt_as_one_element_that_cannot_be_an_option() {
        let p = "-rf \"x\"; $(rm -rf /)";
        assert_eq!(
            build(Preset::Claude, p),
            [
                "claude",
                "-p",
                "--output-format",
                "json",
                "--permission-mode",
                "acceptEdits",
                "--model",
                "m1",
                "--extra",
                "--",
                p
            ]
        );
        assert_eq!(
            build(Preset::Codex, p),
            [
                "codex",
                "exec",
                "--skip-git-repo-check",
                "--color",
                "never",
                "--sandbox",
                "workspace-write",
                "--model",
                "m1",
                "--extra",
                "--",
                p
            ]
        );
        let aider = build(Preset::Aider, p);
        assert_eq!(
            aider.last().map(String::as_str),
            Some(&*format!("--message={p}"))
        );
        assert!(aider.contains(&"--yes-always".to_owned()) && aider.contains(&"--no-git".into()));
        let gemini = build(Preset::Gemini, p);
        assert_eq!(gemini[..3], ["gemini", "--approval-mode", "auto_edit"]);
        assert_eq!(
            gemini.last().map(String::as_str),
            Some(&*format!("--prompt={p}"))
        );
    }

    #[test]
    fn a_prompt_kept_off_the_command_line_goes_to_stdin_or_a_file() {
        let build = |preset, via| {
            argv(&ArgvInput {
                preset,
                program: None,
                command: None,
                prompt: "long prompt",
                model: None,
                autonomy: Autonomy::Full,
                args: &[],
                workdir: Path::new("/w"),
                in_worktree: true,
                via,
                prompt_file: None,
            })
            .expect("presets build")
        };
        let claude = build(Preset::Claude, PromptVia::Stdin);
        assert_eq!(claude.last().map(String::as_str), Some("bypassPermissions"));
        let codex = build(Preset::Codex, PromptVia::Stdin);
        assert_eq!(codex[codex.len() - 2..], ["--", "-"]);
        assert!(codex.contains(&"danger-full-access".to_owned()));
        let gemini = build(Preset::Gemini, PromptVia::Stdin);
        assert_eq!(gemini, ["gemini", "--approval-mode", "yolo"]);
        let aider = build(Preset::Aider, PromptVia::File(Path::new("/t/prompt.md")));
        assert_eq!(
            aider.last().map(String::as_str),
            Some("--message-file=/t/prompt.md")
        );
        assert!(
            !aider.contains(&"--no-git".to_owned()),
            "git stays on in a worktree"
        );
    }

    #[test]
    fn a_json_result_gives_the_answer_tokens_and_cost() {
        let r = parse_result(
            r#"{"type":"result","subtype":"success","is_error":false,"result":"Done.","total_cost_usd":0.0123,
               "usage":{"input_tokens":4,"cache_creation_input_tokens":10,"cache_read_input_tokens":20,"output_tokens":5}}"#,
        )
        .expect("a result");
        assert_eq!(
            r,
            JsonResult {
                text: "Done.".into(),
                is_error: false,
                input_tokens: Some(34),
                output_tokens: Some(5),
                cost_usd: Some(0.0123),
            }
        );
        assert_eq!(parse_result("plain text\n"), None);
        assert_eq!(parse_result(r#"{"no":"result"}"#), None);
    }

    #[test]
    fn the_command_preset_fills_placeholders_inside_elements() {
        let command = [
            json!("agent"),
            json!("--task={{prompt}}"),
            json!("{{ workdir }}"),
        ];
        let argv = argv(&ArgvInput {
            preset: Preset::Command,
            program: Some("/opt/agent"),
            command: Some(&command),
            prompt: "a b {{model}}",
            model: None,
            autonomy: Autonomy::Edit,
            args: &[],
            workdir: Path::new("/w d"),
            in_worktree: false,
            via: PromptVia::Stdin,
            prompt_file: None,
        })
        .expect("builds");
        // The prompt's own braces are not expanded again.
        assert_eq!(argv, ["/opt/agent", "--task=a b {{model}}", "/w d"]);
    }

    fn problems(config: Value, secrets: bool) -> Vec<String> {
        let mut out = Vec::new();
        check(
            config.as_object().expect("an object"),
            secrets,
            &mut out,
            |path, message| Problem::in_step("s", path, message),
        );
        out.into_iter().map(|p| p.to_string()).collect()
    }

    #[test]
    fn checks_say_what_is_wrong_and_where() {
        let p = problems(
            json!({"preset": "command", "command": ["bash", "-c", "agent {{prompt}}", "{{nope}}"]}),
            false,
        );
        assert_eq!(p.len(), 2, "{p:#?}");
        assert!(
            p[0].contains("config.command[3]") && p[0].contains("{{nope}}"),
            "{p:#?}"
        );
        assert!(
            p[1].contains("config.command[2]")
                && p[1].contains("argv[2]")
                && p[1].contains("shell code")
                && p[1].contains("`stdin: true`"),
            "{p:#?}"
        );
        let p = problems(json!({"preset": "aider", "credential": "openai"}), false);
        assert_eq!(p.len(), 2, "{p:#?}");
        assert!(p[0].contains("secrets"));
        assert!(p[1].contains("config.credentialEnv"));
        assert!(problems(json!({"preset": "claude", "credential": "anthropic"}), true).is_empty());
        let p = problems(json!({"preset": "claude", "repo": "/x"}), false);
        assert!(p[0].contains("config.repo"), "{p:#?}");
        assert_eq!(problems(json!({"preset": "command"}), false).len(), 1);
    }
}
