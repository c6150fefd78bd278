//! The command-line check, as a table: each case is a step's command line (or a preset with
//! its `program` and `args`), whether the prompt goes on stdin, and whether the argv Symphony
//! would run is allowed or refused (and at which config field). Built and checked by
//! `preset::argv`, the function both validation and play call.

#![allow(clippy::unwrap_used)] // Tests unwrap: a panic is the failure report.

use std::path::Path;

use serde_json::{json, Value};
use symphony_agents::preset::{self, ArgvError, ArgvInput, Autonomy, Preset, PromptVia};

/// What a case expects.
#[derive(Debug)]
enum Expect {
    Allowed,
    /// Refused, naming this config field.
    Refused(&'static str),
}
use Expect::{Allowed, Refused};

/// A command line: the preset (with `program` and `args`), and whether the prompt is on stdin.
struct Line {
    preset: Preset,
    command: Vec<&'static str>,
    program: Option<&'static str>,
    args: Vec<&'static str>,
    stdin: bool,
}

fn cmd(command: &[&'static str]) -> Line {
    Line {
        preset: Preset::Command,
        command: command.to_vec(),
        program: None,
        args: Vec::new(),
        stdin: false,
    }
}

fn on_stdin(mut line: Line) -> Line {
    line.stdin = true;
    line
}

fn preset(preset: Preset, program: Option<&'static str>, args: &[&'static str]) -> Line {
    Line {
        preset,
        command: Vec::new(),
        program,
        args: args.to_vec(),
        stdin: false,
    }
}

fn build(line: &Line) -> Result<Vec<String>, ArgvError> {
    let command: Vec<Value> = line.command.iter().map(|c| json!(c)).collect();
    let args: Vec<String> = line.args.iter().map(|a| (*a).to_owned()).collect();
    let via = match (line.stdin, line.preset.reads_stdin()) {
        (false, _) => PromptVia::Argument,
        (true, true) => PromptVia::Stdin,
        (true, false) => PromptVia::File(Path::new("/tmp/prompt.md")),
    };
    preset::argv(&ArgvInput {
        preset: line.preset,
        program: line.program,
        command: (line.preset == Preset::Command).then_some(command.as_slice()),
        // A prompt that tries its luck: were it code, it would run.
        prompt: "-e x; $(touch pwned) `id` && rm -rf ~",
        model: Some("sonnet"),
        autonomy: Autonomy::Edit,
        args: &args,
        workdir: Path::new("/work/dir"),
        in_worktree: false,
        via,
        prompt_file: Some(Path::new("/tmp/prompt.md")),
    })
}

/// Runs the table; every failure is reported at once.
fn check(cases: Vec<(Line, Expect)>) {
    let mut failures = Vec::new();
    for (line, expect) in &cases {
        let got = build(line);
        let ok = match (expect, &got) {
            (Allowed, Ok(_)) => true,
            (Refused(field), Err(e)) => e.field == *field,
            _ => false,
        };
        if !ok {
            failures.push(format!(
                "{:?} (program {:?}, args {:?}, stdin {}): expected {expect:?}, got {got:?}",
                if line.preset == Preset::Command {
                    format!("{:?}", line.command)
                } else {
                    line.preset.name().to_owned()
                },
                line.program,
                line.args,
                line.stdin
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} cases wrong:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );
}

#[test]
fn placeholders_in_code_positions_are_refused_and_data_is_allowed() {
    let c =
        |i: usize| -> &'static str { Box::leak(format!("config.command[{i}]").into_boxed_str()) };
    check(vec![
        // Shells: the code after -c, combined flags holding c, the script, stdin.
        (cmd(&["sh", "-c", "{{prompt}}"]), Refused(c(2))),
        (cmd(&["bash", "-ec", "agent {{prompt}}"]), Refused(c(2))),
        (cmd(&["bash", "-lc", "{{prompt}}"]), Refused(c(2))),
        (cmd(&["sh", "-xce", "echo {{prompt}}"]), Refused(c(2))),
        (
            cmd(&["/bin/bash", "-o", "pipefail", "-c", "{{model}}"]),
            Refused(c(4)),
        ),
        (cmd(&["zsh", "-c", "--", "{{prompt}}"]), Refused(c(3))),
        (cmd(&["bash", "{{prompt}}"]), Refused(c(1))),
        (cmd(&["bash", "-s", "{{prompt}}"]), Refused(c(2))),
        (on_stdin(cmd(&["sh"])), Refused("config.stdin")),
        (
            on_stdin(cmd(&["bash", "-s", "--", "x"])),
            Refused("config.stdin"),
        ),
        (cmd(&["{{prompt}}"]), Refused(c(0))),
        (cmd(&["{{workdir}}/agent", "x"]), Refused(c(0))),
        // Wrappers are seen through.
        (cmd(&["env", "sh", "-c", "{{prompt}}"]), Refused(c(3))),
        (
            cmd(&["env", "-i", "A=1", "-u", "B", "bash", "-c", "{{prompt}}"]),
            Refused(c(7)),
        ),
        (cmd(&["env", "-S", "sh -c", "{{prompt}}"]), Refused(c(3))),
        (cmd(&["env", "{{prompt}}"]), Refused(c(1))),
        (cmd(&["busybox", "sh", "-c", "{{prompt}}"]), Refused(c(3))),
        (
            cmd(&["nice", "-n", "5", "sh", "-c", "{{prompt}}"]),
            Refused(c(5)),
        ),
        (
            cmd(&["timeout", "5", "sh", "-c", "{{prompt}}"]),
            Refused(c(4)),
        ),
        (
            cmd(&["timeout", "-s", "KILL", "5", "bash", "-c", "{{prompt}}"]),
            Refused(c(6)),
        ),
        (
            cmd(&[
                "stdbuf",
                "-oL",
                "nohup",
                "ionice",
                "-c3",
                "sh",
                "-c",
                "{{prompt}}",
            ]),
            Refused(c(7)),
        ),
        (
            cmd(&["sudo", "-u", "bob", "sh", "-c", "{{prompt}}"]),
            Refused(c(5)),
        ),
        (cmd(&["sudo", "-s", "echo", "{{prompt}}"]), Refused(c(3))),
        (cmd(&["doas", "bash", "-c", "{{prompt}}"]), Refused(c(3))),
        (
            cmd(&["nice", "--mystery", "sh", "-c", "{{prompt}}"]),
            Refused(c(4)),
        ),
        (
            cmd(&["flatpak-spawn", "--host", "sh", "-c", "{{prompt}}"]),
            Refused(c(4)),
        ),
        (
            on_stdin(cmd(&["xargs", "sh", "-c"])),
            Refused("config.stdin"),
        ),
        (
            on_stdin(cmd(&["xargs", "-I{}", "sh", "-c", "echo {}"])),
            Refused("config.stdin"),
        ),
        (cmd(&["ssh", "host", "{{prompt}}"]), Refused(c(2))),
        (cmd(&["watch", "echo", "{{prompt}}"]), Refused(c(2))),
        (cmd(&["su", "-", "bob", "{{prompt}}"]), Refused(c(3))),
        // Interpreters: code options, the script, stdin; names by base name and version.
        (cmd(&["python3", "-c", "{{prompt}}"]), Refused(c(2))),
        (
            cmd(&["/usr/bin/python3.12", "-Bc", "{{prompt}}"]),
            Refused(c(2)),
        ),
        (cmd(&["python3", "-m", "{{prompt}}"]), Refused(c(2))),
        (cmd(&["python3", "{{prompt}}"]), Refused(c(1))),
        (on_stdin(cmd(&["python3", "-"])), Refused("config.stdin")),
        (on_stdin(cmd(&["python3"])), Refused("config.stdin")),
        (cmd(&["node", "-e", "{{prompt}}"]), Refused(c(2))),
        (cmd(&["node20", "--eval={{prompt}}"]), Refused(c(1))),
        (cmd(&["node", "-p", "{{prompt}}"]), Refused(c(2))),
        (cmd(&["deno", "eval", "{{prompt}}"]), Refused(c(2))),
        (cmd(&["bun", "-e", "{{prompt}}"]), Refused(c(2))),
        (cmd(&["perl", "-e", "{{prompt}}"]), Refused(c(2))),
        (cmd(&["perl", "-ne", "print", "{{prompt}}"]), Refused(c(3))),
        (cmd(&["ruby", "-e", "{{prompt}}"]), Refused(c(2))),
        (cmd(&["php", "-r", "{{prompt}}"]), Refused(c(2))),
        (cmd(&["lua5.4", "-e", "{{prompt}}"]), Refused(c(2))),
        (cmd(&["Rscript", "-e", "{{prompt}}"]), Refused(c(2))),
        (cmd(&["awk", "{{prompt}}"]), Refused(c(1))),
        (cmd(&["sed", "-n", "{{prompt}}", "file"]), Refused(c(2))),
        (cmd(&["osascript", "-e", "{{prompt}}"]), Refused(c(2))),
        (cmd(&["pwsh", "-Command", "{{prompt}}"]), Refused(c(2))),
        (
            cmd(&["pwsh", "-NoProfile", "-c", "Write-Output", "{{prompt}}"]),
            Refused(c(4)),
        ),
        (
            cmd(&["powershell.exe", "Write-Output", "{{prompt}}"]),
            Refused(c(2)),
        ),
        (cmd(&["cmd.exe", "/c", "echo {{prompt}}"]), Refused(c(2))),
        (
            cmd(&["timeout", "5", "python3", "-c", "{{prompt}}"]),
            Refused(c(4)),
        ),
        // `program` replaces argv[0] and `args` are added before the check.
        (
            Line {
                program: Some("/bin/sh"),
                ..cmd(&["my-agent", "{{prompt}}"])
            },
            Refused(c(1)),
        ),
        (
            Line {
                args: vec!["-c", "true"],
                ..cmd(&["bash", "-o", "{{prompt}}"])
            },
            Refused(c(2)),
        ),
        (
            preset(Preset::Claude, Some("sh"), &["-c"]),
            Refused("config.prompt"),
        ),
        (
            preset(Preset::Claude, Some("python3"), &[]),
            Refused("config.prompt"),
        ),
        (
            on_stdin(preset(Preset::Gemini, Some("python3"), &[])),
            Refused("config.stdin"),
        ),
        // Allowed: the presets, data arguments, code that reads the prompt as data.
        (preset(Preset::Claude, None, &[]), Allowed),
        (preset(Preset::Codex, None, &["--full-auto"]), Allowed),
        (preset(Preset::Aider, None, &[]), Allowed),
        (preset(Preset::Gemini, None, &[]), Allowed),
        (on_stdin(preset(Preset::Claude, None, &[])), Allowed),
        (on_stdin(preset(Preset::Codex, None, &[])), Allowed),
        (on_stdin(preset(Preset::Aider, None, &[])), Allowed),
        (on_stdin(preset(Preset::Gemini, None, &[])), Allowed),
        (
            preset(
                Preset::Claude,
                Some("/opt/claude/bin/claude"),
                &["--verbose"],
            ),
            Allowed,
        ),
        (cmd(&["echo", "{{prompt}}"]), Allowed),
        (cmd(&["python3", "script.py", "{{prompt}}"]), Allowed),
        (
            cmd(&["python3", "-u", "agent.py", "--task", "{{prompt}}"]),
            Allowed,
        ),
        (on_stdin(cmd(&["sh", "-c", "cat"])), Allowed),
        (on_stdin(cmd(&["python3", "agent.py"])), Allowed),
        (on_stdin(cmd(&["sh", "agent.sh"])), Allowed),
        (cmd(&["my-agent", "--message", "{{prompt}}"]), Allowed),
        (
            cmd(&["my-agent", "--model", "{{model}}", "--dir", "{{workdir}}"]),
            Allowed,
        ),
        (
            cmd(&["bash", "-c", "my-agent \"$1\"", "agent", "{{prompt}}"]),
            Allowed,
        ),
        (
            cmd(&[
                "python3",
                "-c",
                "import sys; print(sys.argv[1])",
                "{{prompt}}",
            ]),
            Allowed,
        ),
        (
            cmd(&["perl", "-e", "print @ARGV", "--", "{{prompt}}"]),
            Allowed,
        ),
        (cmd(&["node", "agent.js", "{{prompt}}"]), Allowed),
        (
            cmd(&["deno", "run", "-A", "agent.ts", "{{prompt}}"]),
            Allowed,
        ),
        (
            cmd(&["pwsh", "-NoProfile", "-File", "agent.ps1", "{{prompt}}"]),
            Allowed,
        ),
        (
            cmd(&["bash", "agent.sh", "{{prompt}}", "{{workdir}}"]),
            Allowed,
        ),
        (cmd(&["env", "FOO=1", "my-agent", "{{prompt}}"]), Allowed),
        (
            cmd(&["timeout", "600", "nice", "my-agent", "--task={{prompt}}"]),
            Allowed,
        ),
        (
            cmd(&["nice", "-n", "10", "python3", "agent.py", "{{prompt}}"]),
            Allowed,
        ),
        (on_stdin(cmd(&["xargs", "-0", "my-agent"])), Allowed),
        (
            cmd(&["python3", "agent.py", "--task-file", "{{promptFile}}"]),
            Allowed,
        ),
        (
            cmd(&["sh", "-c", "my-agent < \"$1\"", "sh", "{{promptFile}}"]),
            Allowed,
        ),
        (cmd(&["sh", "{{promptFile}}"]), Refused(c(1))),
        // Option values and odd spellings.
        (cmd(&["bash", "--rcfile", "{{prompt}}"]), Refused(c(2))),
        (
            cmd(&["node", "--require", "{{prompt}}", "agent.js"]),
            Refused(c(2)),
        ),
        (cmd(&["node", "--title", "x", "{{prompt}}"]), Refused(c(3))),
        (cmd(&["env", "-Ssh -c", "{{prompt}}"]), Refused(c(2))),
        (
            cmd(&["env", "--split-string=bash -c", "{{prompt}}"]),
            Refused(c(2)),
        ),
        (
            cmd(&[
                "time",
                "-p",
                "command",
                "-p",
                "exec",
                "-a",
                "x",
                "sh",
                "-c",
                "{{prompt}}",
            ]),
            Refused(c(9)),
        ),
        (
            cmd(&["taskset", "-c", "0-3", "sh", "-c", "{{prompt}}"]),
            Refused(c(5)),
        ),
        (cmd(&["npx", "{{prompt}}"]), Refused(c(1))),
        (cmd(&["npx", "-c", "{{prompt}}"]), Refused(c(2))),
        (cmd(&["php", "-f", "{{prompt}}"]), Refused(c(2))),
        (
            cmd(&["pwsh", "-EncodedCommand", "{{prompt}}"]),
            Refused(c(2)),
        ),
        (
            cmd(&["cmd", "/s", "/c", "agent.bat", "{{prompt}}"]),
            Refused(c(4)),
        ),
        (
            cmd(&["sudo", "-E", "VAR=1", "python3", "-c", "{{prompt}}"]),
            Refused(c(5)),
        ),
        (cmd(&["sh", "-", "{{prompt}}"]), Refused(c(2))),
        (cmd(&["sh", "-s", "--", "{{prompt}}"]), Allowed),
        (cmd(&["php", "agent.php", "{{prompt}}"]), Allowed),
        (
            cmd(&[
                "pwsh",
                "-ExecutionPolicy",
                "Bypass",
                "-File",
                "a.ps1",
                "{{prompt}}",
            ]),
            Allowed,
        ),
        (cmd(&["sh", "-c", "agent", "{{prompt}}"]), Allowed),
    ]);
}

#[test]
fn a_refusal_says_what_where_and_what_to_do() {
    let err = build(&cmd(&["env", "-i", "bash", "-lc", "agent {{prompt}}"])).unwrap_err();
    assert_eq!(err.field, "config.command[4]");
    let text = err.to_string();
    for part in [
        "config.command[4]: refused",
        "argv[4]",
        "`{{prompt}}`",
        "`bash` (argv[2])",
        "`-c`",
        "shell code",
        "pass `{{prompt}}` on stdin (`stdin: true`)",
        "never put it where a shell or interpreter reads code",
    ] {
        assert!(text.contains(part), "missing {part:?} in: {text}");
    }
    // What is refused is not the prompt's text: it never appears in the message.
    assert!(!text.contains("pwned"), "{text}");

    // With `program`, the message names the program that would read the code.
    let err = build(&Line {
        program: Some("python3"),
        ..cmd(&["agent", "-c", "{{prompt}}"])
    })
    .unwrap_err();
    assert_eq!(err.field, "config.command[2]");
    assert!(err.message.contains("`python3` (argv[0])"), "{err}");

    let err = build(&on_stdin(cmd(&["python3", "-"]))).unwrap_err();
    assert!(
        err.message.contains("standard input") && err.message.contains("`python3` (argv[0]"),
        "{err}"
    );
}

#[test]
fn allowed_lines_are_built_as_given() {
    assert_eq!(
        build(&cmd(&["python3", "script.py", "{{prompt}}"])).unwrap(),
        [
            "python3",
            "script.py",
            "-e x; $(touch pwned) `id` && rm -rf ~"
        ]
    );
    assert_eq!(
        build(&cmd(&["my-agent", "--task-file", "{{promptFile}}"])).unwrap(),
        ["my-agent", "--task-file", "/tmp/prompt.md"]
    );
}
