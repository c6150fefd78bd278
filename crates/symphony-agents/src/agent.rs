//! `instrument.agent`: a coding-agent CLI played as an instrument.
//!
//! One attempt: pick the working folder (the workspace's `files/`, or a fresh git worktree on
//! a branch of the step's own), take a baseline of it, run the agent with a clean environment
//! in a process group of its own while streaming its output as progress, then record what it
//! changed. See the crate docs for the config and the decisions behind it.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use serde_json::{Map, Value};
use symphony_conductor::{
    BoxFuture, ErrorKind, Outputs, Played, StepContext, StepError, StepOutput, StepType, Usage,
};
use symphony_credentials::{Credentials, Secret};
use symphony_melody::{
    Capability, ConfigField, FieldType, PortSpec, PortType, Problem, Step, StepKind, TypeSpec,
};

use crate::capture::{self, Baseline};
use crate::preset::{self, ArgvInput, Autonomy, Preset, PromptVia};
use crate::process::{self, scrub, Spec, Stopped, Stream};

/// The default SIGTERM-to-SIGKILL grace period.
const DEFAULT_GRACE: Duration = Duration::from_secs(2);

/// Prompts longer than this go to a preset's CLI on stdin (or in a file), not as an argument:
/// Linux refuses a single argument over 128 KiB.
const LONG_PROMPT: usize = 100_000;

/// Variables copied from Symphony's own environment into the agent's, when set. Everything
/// else the agent gets is named in the step's config.
const INHERITED_ENV: [&str; 7] = [
    "PATH", "HOME", "USER", "LOGNAME", "LANG", "LC_ALL", "TMPDIR",
];

/// The `instrument.agent` step type.
pub struct Agent {
    /// Where a step's `credential` is looked up. Held here, not in the melody: a melody names
    /// a credential, the machine supplies it.
    credentials: Arc<dyn Credentials>,
}

impl Agent {
    /// The step type, reading credentials from `credentials`.
    pub fn new(credentials: Arc<dyn Credentials>) -> Self {
        Agent { credentials }
    }
}

/// Where the agent works, once prepared.
struct Workdir {
    /// The folder.
    path: PathBuf,
    /// The branch, in worktree mode.
    branch: Option<String>,
    /// What changes are measured against.
    baseline: Baseline,
}

/// The most lines of an agent's output (stdout and stderr together) kept in the step's log per
/// attempt: a chatty agent prints tens of thousands; the log is for reading, the output port
/// and the diff keep the work.
const LOG_LINES: u32 = 2000;

/// A log line longer than this many bytes is cut (a progress bar redrawn without newlines).
const LOG_LINE_MAX: usize = 4096;

/// Turns the agent's output (whole lines, already scrubbed) into the step's log lines: at most
/// [`LOG_LINES`] per attempt, then one `info` line saying how many were left out, also when the
/// attempt is dropped (timeout, cancel).
struct LineLog<'a> {
    cx: &'a StepContext,
    kept: u32,
    left_out: u32,
}

impl LineLog<'_> {
    fn push(&mut self, stream: Stream, text: &str) {
        let name = match stream {
            Stream::Out => "stdout",
            Stream::Err => "stderr",
        };
        for line in text.split_terminator('\n') {
            if self.kept >= LOG_LINES {
                self.left_out += 1;
                continue;
            }
            self.kept += 1;
            let line = line.strip_suffix('\r').unwrap_or(line);
            let line = if line.len() > LOG_LINE_MAX {
                let mut cut = LOG_LINE_MAX;
                while !line.is_char_boundary(cut) {
                    cut -= 1;
                }
                format!("{}… [{} more bytes]", &line[..cut], line.len() - cut)
            } else {
                line.to_owned()
            };
            self.cx.log(name, line);
        }
    }
}

impl Drop for LineLog<'_> {
    fn drop(&mut self) {
        if self.left_out > 0 {
            self.cx.log(
                "info",
                format!(
                    "{} more line{} of output left out of the log (it keeps the first {LOG_LINES} of each attempt)",
                    self.left_out,
                    if self.left_out == 1 { "" } else { "s" }
                ),
            );
        }
    }
}

fn config_error(message: impl Into<String>) -> StepError {
    StepError::fatal(ErrorKind::Config, message)
}

fn io_error(message: impl Into<String>) -> StepError {
    StepError::fatal(ErrorKind::Io, message)
}

impl StepType for Agent {
    fn spec(&self) -> TypeSpec {
        let mut s = TypeSpec::new(
            "instrument.agent",
            StepKind::Instrument,
            "Coding agent",
            "Runs a coding-agent CLI (Claude Code, Codex, Aider, Gemini or a command) on the workspace or a git worktree, and records what it changed.",
        );
        s.extra_inputs = Some(PortType::Any);
        s.outputs = vec![
            PortSpec::required("output", PortType::Text, "What the agent printed on stdout (its final answer)."),
            PortSpec::required(
                "diff",
                PortType::Text,
                "The changes the agent made, as a unified git diff (new, edited and deleted files).",
            ),
            PortSpec::required(
                "files",
                PortType::List,
                "The paths the agent changed, relative to its working folder, sorted.",
            ),
            PortSpec::required("workdir", PortType::Text, "The absolute path of the folder the agent worked in."),
            PortSpec::optional(
                "branch",
                PortType::Text,
                "The branch the agent worked on (worktree mode only).",
            ),
        ];
        s.config = vec![
            ConfigField::required(
                "preset",
                FieldType::Choice {
                    options: Preset::NAMES.iter().map(|n| (*n).to_owned()).collect(),
                },
                "Which agent CLI: claude, codex, aider, gemini, or command (a command line of your own).",
            ),
            ConfigField::required("prompt", FieldType::Template, "The task, with {{references}}."),
            ConfigField::optional(
                "program",
                FieldType::String,
                "The agent's binary, when it is not the usual name on PATH (e.g. /opt/claude/bin/claude).",
            ).single_line(),
            ConfigField::optional(
                "command",
                FieldType::List,
                "For the command preset: the program and its arguments, with {{prompt}}, {{workdir}} and {{model}} placeholders. Never a shell string.",
            ),
            ConfigField::optional("args", FieldType::List, "Extra arguments, added before the prompt."),
            ConfigField::optional("model", FieldType::String, "The model, passed as --model (or {{model}}).").single_line(),
            ConfigField::optional(
                "autonomy",
                FieldType::Choice {
                    options: vec!["edit".into(), "full".into()],
                },
                "edit (default): the agent may edit files; full: anything the CLI allows (commands, network).",
            ),
            ConfigField::optional(
                "workdir",
                FieldType::Choice {
                    options: vec!["workspace".into(), "worktree".into()],
                },
                "workspace (default): the run workspace's files/ folder; worktree: a git worktree on a branch of the step's own.",
            ),
            ConfigField::optional(
                "repo",
                FieldType::Template,
                "Worktree mode: the repository to branch from (default: the workspace's files/, if it is a repository).",
            ).single_line(),
            ConfigField::optional("base", FieldType::String, "Worktree mode: the commit or branch to start from (default HEAD).").single_line(),
            ConfigField::optional(
                "credential",
                FieldType::String,
                "A credential name the machine supplies (e.g. anthropic); needs the secrets capability.",
            ).single_line(),
            ConfigField::optional(
                "credentialEnv",
                FieldType::String,
                "The environment variable the credential is put in (default: the preset's usual one).",
            ).single_line(),
            ConfigField::optional("env", FieldType::Object, "More environment variables for the agent (not secrets)."),
            ConfigField::optional("stdin", FieldType::Boolean, "Also write the prompt to the agent's standard input."),
            ConfigField::optional(
                "graceMs",
                FieldType::Integer,
                "How long the agent gets to stop after SIGTERM before SIGKILL (default 2000).",
            ),
        ];
        s.capabilities = vec![Capability::Command, Capability::Files];
        s.estimate_ms = 120_000;
        s
    }

    fn check(&self, step: &Step, problems: &mut Vec<Problem>) {
        preset::check(
            &step.config,
            step.capabilities.contains(&Capability::Secrets),
            problems,
            |path, message| Problem::in_step(&step.id, path, message),
        );
    }

    fn concurrency_key(&self, config: &Map<String, Value>) -> Option<String> {
        let preset = config
            .get("preset")
            .and_then(Value::as_str)
            .unwrap_or("command");
        Some(format!("agent:{preset}"))
    }

    fn play<'a>(&'a self, cx: &'a StepContext) -> BoxFuture<'a, Result<Played, StepError>> {
        Box::pin(self.play_once(cx))
    }
}

impl Agent {
    async fn play_once(&self, cx: &StepContext) -> Result<Played, StepError> {
        let preset = cx
            .config_str("preset")
            .and_then(Preset::from_name)
            .ok_or_else(|| {
                config_error(format!(
                    "config.preset: expected one of {}",
                    Preset::NAMES.join(", ")
                ))
            })?;
        let secret = match cx.config_str("credential") {
            Some(name) => {
                // A source may block (an OS keychain asks a daemon): keep it off the runtime.
                let credentials = self.credentials.clone();
                let name = name.to_owned();
                let got = tokio::task::spawn_blocking(move || credentials.get(&name))
                    .await
                    .map_err(|e| {
                        config_error(format!("config.credential: the lookup failed: {e}"))
                    })?;
                Some(got.map_err(|e| config_error(format!("config.credential: {e}")))?)
            }
            None => None,
        };
        let secret = secret.as_ref();
        let prompt = cx.render("prompt")?.unwrap_or_default();
        cx.report_prompt(None, &scrub(secret, &prompt));

        let workdir = self.prepare_workdir(cx, preset).await?;
        let args = string_list(cx.config.get("args"), "args")?;
        let off_line = cx.config.get("stdin") == Some(&Value::Bool(true))
            || (preset != Preset::Command && prompt.len() > LONG_PROMPT);
        // Aider reads a long message from a file, kept outside the working folder so it is not
        // recorded as the agent's change; removed when the attempt ends.
        // The command preset's `{{promptFile}}` is the same file: the prompt as data the
        // program reads, never as an argument a shell could parse.
        let wants_file = preset == Preset::Command && mentions_prompt_file(&cx.config);
        let message_dir = if (off_line && !preset.reads_stdin()) || wants_file {
            Some(write_message_file(&prompt).await?)
        } else {
            None
        };
        let message_file = message_dir.as_ref().map(|d| d.path().join("prompt.md"));
        let via = match (&message_file, off_line) {
            (Some(file), true) if !preset.reads_stdin() => PromptVia::File(file),
            (_, true) => PromptVia::Stdin,
            (_, false) => PromptVia::Argument,
        };
        let argv = preset::argv(&ArgvInput {
            preset,
            program: cx.config_str("program"),
            command: cx
                .config
                .get("command")
                .and_then(Value::as_array)
                .map(Vec::as_slice),
            prompt: &prompt,
            model: cx.config_str("model"),
            autonomy: match cx.config_str("autonomy") {
                Some("full") => Autonomy::Full,
                _ => Autonomy::Edit,
            },
            args: &args,
            workdir: &workdir.path,
            in_worktree: workdir.branch.is_some(),
            via,
            prompt_file: message_file.as_deref(),
        })
        // Checked here, right before the spawn, by the same function validation calls.
        .map_err(|e| config_error(scrub(secret, &e.to_string())))?;
        let env = environment(cx, preset, secret)?;
        let grace = cx
            .config_u64("graceMs")
            .map_or(DEFAULT_GRACE, Duration::from_millis);
        let program = argv[0].clone();
        tracing::debug!(
            step = %cx.step,
            attempt = cx.attempt,
            %program,
            workdir = %workdir.path.display(),
            "starting the agent"
        );

        // Stdout is shown as progress unless it is a JSON result, not text for people; every
        // line of both streams goes to the step's log.
        let stream_stdout = !preset.json_result();
        let mut log = LineLog {
            cx,
            kept: 0,
            left_out: 0,
        };
        let finished = process::run(
            Spec {
                argv: &argv,
                cwd: &workdir.path,
                env: &env,
                stdin: (via == PromptVia::Stdin).then_some(prompt.as_str()),
                grace,
                secret,
            },
            &cx.cancel,
            |stream, text| {
                if stream == Stream::Err || stream_stdout {
                    cx.progress(text, 0);
                }
                log.push(stream, text);
            },
        )
        .await;
        drop(log);
        let finished = finished.map_err(|stopped| match stopped {
            Stopped::Cancelled => StepError::fatal(
                ErrorKind::Cancelled,
                "cancelled; the agent and everything it started were stopped",
            ),
            Stopped::Spawn(e) => spawn_error(&program, preset, &e),
            Stopped::Wait(e) => StepError::retryable(
                ErrorKind::Instrument,
                format!("lost track of the agent `{program}`: {e}"),
            ),
        })?;

        // A JSON-speaking CLI's answer and costs; its answer is shown as progress now, as the
        // JSON itself was not streamed.
        let result = preset
            .json_result()
            .then(|| preset::parse_result(&finished.stdout))
            .flatten();
        if let Some(r) = &result {
            cx.progress(&scrub(secret, &r.text), r.output_tokens.unwrap_or(0));
        } else if preset.json_result() {
            cx.progress(&finished.stdout, 0);
        }
        if !finished.status.success() || result.as_ref().is_some_and(|r| r.is_error) {
            let answer = match &result {
                Some(r) if !r.text.trim().is_empty() => {
                    format!("; it answered: {}", process::tail(&r.text, 1000))
                }
                _ => String::new(),
            };
            let how = match (finished.status.code(), signal_of(&finished.status)) {
                (Some(0), _) => "reported an error".to_owned(),
                (Some(code), _) => format!("exited with code {code}"),
                (None, Some(sig)) => format!("was killed by signal {sig}"),
                (None, None) => "failed".to_owned(),
            };
            let stderr = if finished.stderr_tail.is_empty() {
                "(it printed nothing on stderr)".to_owned()
            } else {
                format!("stderr:\n{}", finished.stderr_tail)
            };
            if matches!(finished.status.code(), Some(126 | 127)) {
                // The shell convention for "cannot execute" and "command not found": a wrapper
                // could not start the real agent, which another attempt will not change.
                return Err(config_error(scrub(
                    secret,
                    &format!(
                        "the agent `{program}` {how}: a command it runs could not be found or executed; {stderr}"
                    ),
                )));
            }
            // Retryable: agents fail for passing reasons (the provider's 5xx, rate limits, a
            // dropped connection) as often as lasting ones, and whether to retry is the step's
            // policy's call (`policy.retry`); without one, nothing is retried.
            return Err(StepError::retryable(
                ErrorKind::Instrument,
                scrub(
                    secret,
                    &format!("the agent `{program}` {how}{answer}; {stderr}"),
                ),
            ));
        }

        let changes = workdir.baseline.changes().await.map_err(|e| {
            io_error(format!(
                "the agent finished, but what it changed could not be recorded: {e}"
            ))
        })?;
        let usage = result.as_ref().and_then(|r| {
            (r.input_tokens.is_some() || r.output_tokens.is_some() || r.cost_usd.is_some()).then(
                || Usage {
                    input_tokens: r.input_tokens.unwrap_or(0),
                    output_tokens: r.output_tokens.unwrap_or(0),
                    estimated: false,
                    cost_usd: r.cost_usd,
                },
            )
        });
        let output = match result {
            Some(r) => scrub(secret, &r.text),
            None => finished.stdout,
        };
        let mut out = Map::new();
        out.insert("output".into(), Value::String(output));
        out.insert("diff".into(), Value::String(scrub(secret, &changes.diff)));
        out.insert(
            "files".into(),
            Value::Array(
                changes
                    .files
                    .iter()
                    .map(|f| Value::String(scrub(secret, f)))
                    .collect(),
            ),
        );
        out.insert(
            "workdir".into(),
            Value::String(workdir.path.to_string_lossy().into_owned()),
        );
        if let Some(branch) = workdir.branch {
            out.insert("branch".into(), Value::String(branch));
        }
        Ok(Played::Done(StepOutput {
            outputs: Outputs(out),
            usage,
        }))
    }

    /// Makes the working folder ready and takes its baseline.
    async fn prepare_workdir(
        &self,
        cx: &StepContext,
        preset: Preset,
    ) -> Result<Workdir, StepError> {
        let ws = cx.workspace()?.clone();
        let files = ws.files_dir().to_owned();
        tokio::fs::create_dir_all(&files).await.map_err(|e| {
            io_error(format!(
                "cannot create the workspace folder {}: {e}",
                files.display()
            ))
        })?;
        let excludes = preset.bookkeeping();
        if cx.config_str("workdir") != Some("worktree") {
            let baseline = Baseline::of_folder(&files, excludes).await.map_err(|e| {
                io_error(format!(
                    "cannot snapshot the workspace before the agent runs: {e}"
                ))
            })?;
            return Ok(Workdir {
                path: files,
                branch: None,
                baseline,
            });
        }
        let repo = match cx.render("repo")? {
            Some(repo) => tokio::fs::canonicalize(&repo).await.map_err(|e| {
                config_error(format!(
                    "config.repo: cannot open the repository `{repo}`: {e}"
                ))
            })?,
            None => {
                let files = tokio::fs::canonicalize(&files)
                    .await
                    .unwrap_or(files.clone());
                match capture::toplevel(&files).await {
                    Some(top) if same_dir(&top, &files).await => files,
                    _ => {
                        return Err(config_error(format!(
                            "config.repo: worktree mode needs a git repository; set `repo`, or make the workspace's files folder ({}) a repository first",
                            files.display()
                        )))
                    }
                }
            }
        };
        let run = run_id(ws.root()).await;
        let mut name = capture::branch_part(&cx.step);
        if let Some(item) = cx.item {
            name.push_str(&format!("-item-{item}"));
        }
        let branch = format!("symphony/{}/{name}", capture::branch_part(&run));
        let path = ws.root().join("worktrees").join(&name);
        let base = cx.config_str("base").unwrap_or("HEAD");
        let commit = capture::add_worktree(&repo, base, &path, &branch)
            .await
            .map_err(|e| {
                config_error(format!("cannot make a worktree of {}: {e}", repo.display()))
            })?;
        Ok(Workdir {
            baseline: Baseline::of_commit(&path, &commit, excludes),
            path,
            branch: Some(branch),
        })
    }
}

/// Writes the prompt to `prompt.md` in a new temporary folder.
async fn write_message_file(prompt: &str) -> Result<tempfile::TempDir, StepError> {
    let prompt = prompt.to_owned();
    tokio::task::spawn_blocking(move || {
        let dir = tempfile::Builder::new()
            .prefix("symphony-prompt-")
            .tempdir()?;
        std::fs::write(dir.path().join("prompt.md"), prompt)?;
        Ok::<_, std::io::Error>(dir)
    })
    .await
    .map_err(|e| io_error(format!("the prompt file task failed: {e}")))?
    .map_err(|e| io_error(format!("cannot write the prompt to a temporary file: {e}")))
}

/// Whether the `command` preset's command line uses `{{promptFile}}`.
fn mentions_prompt_file(config: &Map<String, Value>) -> bool {
    config
        .get("command")
        .and_then(Value::as_array)
        .is_some_and(|list| {
            list.iter().filter_map(Value::as_str).any(|t| {
                preset::substitute(t, |n| (n == "promptFile").then_some("\0")).contains('\0')
            })
        })
}

/// Whether two paths name the same folder.
async fn same_dir(a: &Path, b: &Path) -> bool {
    match (
        tokio::fs::canonicalize(a).await,
        tokio::fs::canonicalize(b).await,
    ) {
        (Ok(a), Ok(b)) => a == b,
        _ => false,
    }
}

/// The run's id, from the workspace's `run.json`; the workspace folder's name when it has none.
async fn run_id(root: &Path) -> String {
    let from_record = tokio::fs::read(root.join("run.json"))
        .await
        .ok()
        .and_then(|bytes| serde_json::from_slice::<Value>(&bytes).ok())
        .and_then(|v| v.get("runId").and_then(Value::as_str).map(str::to_owned))
        .filter(|id| !id.is_empty());
    from_record.unwrap_or_else(|| {
        root.file_name()
            .map_or_else(|| "run".to_owned(), |n| n.to_string_lossy().into_owned())
    })
}

/// A config list of strings.
fn string_list(value: Option<&Value>, key: &str) -> Result<Vec<String>, StepError> {
    let Some(value) = value else {
        return Ok(Vec::new());
    };
    let list = value
        .as_array()
        .ok_or_else(|| config_error(format!("config.{key}: expected a list of strings")))?;
    list.iter()
        .enumerate()
        .map(|(i, v)| {
            v.as_str()
                .map(str::to_owned)
                .ok_or_else(|| config_error(format!("config.{key}[{i}]: expected a string")))
        })
        .collect()
}

/// The agent's whole environment: a few variables of Symphony's own, plain text so output is
/// easy to read, the step's `env`, and the credential last (so nothing can shadow it).
fn environment(
    cx: &StepContext,
    preset: Preset,
    secret: Option<&Secret>,
) -> Result<Vec<(String, String)>, StepError> {
    let mut env: Vec<(String, String)> = INHERITED_ENV
        .iter()
        .filter_map(|k| std::env::var(k).ok().map(|v| ((*k).to_owned(), v)))
        .collect();
    env.push(("TERM".into(), "dumb".into()));
    env.push(("NO_COLOR".into(), "1".into()));
    if let Some(extra) = cx.config.get("env") {
        let extra = extra
            .as_object()
            .ok_or_else(|| config_error("config.env: expected an object of NAME: value"))?;
        for (k, v) in extra {
            let v = v
                .as_str()
                .ok_or_else(|| config_error(format!("config.env.{k}: expected a string")))?;
            set(&mut env, k, v);
        }
    }
    if let Some(secret) = secret {
        let var = cx
            .config_str("credentialEnv")
            .or(preset.default_credential_env())
            .ok_or_else(|| {
                config_error("config.credentialEnv: name the environment variable the agent reads the credential from")
            })?;
        set(&mut env, var, secret.expose());
    }
    Ok(env)
}

fn set(env: &mut Vec<(String, String)>, key: &str, value: &str) {
    env.retain(|(k, _)| k != key);
    env.push((key.to_owned(), value.to_owned()));
}

fn spawn_error(program: &str, preset: Preset, e: &std::io::Error) -> StepError {
    const E2BIG: i32 = 7;
    let message = match e.kind() {
        std::io::ErrorKind::NotFound => format!(
            "the agent `{program}` (preset `{}`) was not found: is it installed and on PATH? Install it, or set config.program to its path",
            preset.name()
        ),
        std::io::ErrorKind::PermissionDenied => format!("the agent `{program}` cannot be run (permission denied); make it executable"),
        _ if e.raw_os_error() == Some(E2BIG) => format!(
            "the prompt is too long to pass to `{program}` as an argument; use the command preset with \"stdin\": true and read the prompt from standard input"
        ),
        _ => format!("cannot start the agent `{program}`: {e}"),
    };
    config_error(message)
}

#[cfg(unix)]
fn signal_of(status: &std::process::ExitStatus) -> Option<i32> {
    std::os::unix::process::ExitStatusExt::signal(status)
}
