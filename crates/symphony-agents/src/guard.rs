//! The command-line check: an agent's argv is refused when text Symphony does not control (the
//! prompt, a `{{placeholder}}`, the prompt on standard input) would be read as code by a shell
//! or an interpreter.
//!
//! A melody is someone else's file, and its prompt carries text from models, web pages and
//! earlier steps. Putting that text in an argv element is safe only where the program reads
//! data: `["echo", "{{prompt}}"]`, `["python3", "script.py", "{{prompt}}"]`,
//! `["my-agent", "--message", "{{prompt}}"]`. It is not where a shell or interpreter reads
//! code: after `sh -c`, `bash -lc`, `python -c`, `node -e`, `perl -e`, `ruby -e`, `php -r`,
//! `pwsh -Command`, `cmd /c`, `osascript -e`, `deno eval`, as the script file itself
//! (`python3 {{prompt}}`), or as the program read from standard input (`sh`, `python3 -` with
//! `stdin: true`).
//!
//! [`check`] runs on the argv that is executed, exactly as the process gets it (after `program`
//! replaced argv\[0\] and `args` were added), and it is the same function at validation time
//! (with `{{placeholders}}` unfilled) and at play, right before the process is spawned. Every
//! decision it makes depends only on the literal elements and on which elements were filled
//! from a placeholder, never on the filled text, so both times see the same answer.
//!
//! How it reads an argv:
//!
//! - **Wrappers** are seen through to the program they run: `env` (with `VAR=value`, its
//!   options, and `-S` whose string is split and read again), `nice`, `ionice`, `nohup`,
//!   `timeout`, `stdbuf`, `time`, `command`, `exec`, `sudo`, `doas`, `xargs`, `busybox`,
//!   `flatpak-spawn`, `chrt`, `taskset`, `setsid`, `npx` and others. An option a wrapper does
//!   not list might take an argument, so both readings are checked. `xargs` with the prompt on
//!   stdin hands the prompt to the command as arguments, and is checked that way. `sudo -s`,
//!   `su`, `watch`, `ssh`, `parallel` hand their whole command line to a shell: no filled
//!   element may follow them.
//! - **Shells and interpreters** (sh, bash, zsh, dash, fish, python, node, deno, bun, perl,
//!   ruby, php, lua, Rscript, julia, awk, sed, osascript, pwsh, cmd, …) are read option by
//!   option: a filled element among their options is refused (a prompt starting with `-e`
//!   would be read as an option), as is one in a code position (the argument of a code option,
//!   combined short flags containing one, such as `-ec` or `-xce`, the first operand after a
//!   shell's `-c`), or as the script file. What follows the script, or the code where that
//!   ends the options (`sh -c 'code' name {{prompt}}`, `python3 -c 'code' {{prompt}}`), is
//!   data. Where options go on after the code (`perl -e`, `node -e`), put `--` before the data.
//! - Program names are matched by their base name, ignoring case, a `.exe` and a version
//!   suffix (`python3.12`, `node20`). A filled element is never a program.
//!
//! What it cannot see: what a program does with data (a script that `eval`s its argument, a
//! `git -c` or `make VAR=` that reaches a shell, `find -exec`). It keeps a prompt out of the
//! places where the usual programs read code; a melody is still trusted or not as a whole.

use std::fmt;

/// One element of the argv, with where it came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Arg {
    /// The text the program gets.
    pub text: String,
    /// The config field it comes from, e.g. `config.command[2]`, `config.program`.
    pub field: String,
    /// What filled it, when it holds text Symphony does not control: "`{{prompt}}`",
    /// "the prompt", "`{{model}}`", …; `None` for text written in the melody.
    pub filled: Option<&'static str>,
}

impl Arg {
    /// An element written in the melody (or by the preset).
    pub fn literal(text: impl Into<String>, field: impl Into<String>) -> Arg {
        Arg {
            text: text.into(),
            field: field.into(),
            filled: None,
        }
    }

    /// An element holding text from `what` (a placeholder, the prompt).
    pub fn filled(text: impl Into<String>, field: impl Into<String>, what: &'static str) -> Arg {
        Arg {
            text: text.into(),
            field: field.into(),
            filled: Some(what),
        }
    }
}

/// Why a command line cannot be built or run: the config field at fault and what to do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ArgvError {
    /// The config field, e.g. `config.command[2]`.
    pub field: String,
    /// What is wrong, where in the argv, and what to do instead.
    pub message: String,
}

impl fmt::Display for ArgvError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.field, self.message)
    }
}

impl std::error::Error for ArgvError {}

/// What to do instead, said in every refusal.
pub const SAFE_WAY: &str = "pass `{{prompt}}` on stdin (`stdin: true`) or in a file (`{{promptFile}}`), and make the program read it; never put it where a shell or interpreter reads code";

/// Checks the argv about to be run. `stdin_carries_prompt`: the prompt is written to the
/// program's standard input. Refuses, naming the field and argv index, when text Symphony does
/// not control would be run as code (see the module docs).
pub fn check(argv: &[Arg], stdin_carries_prompt: bool) -> Result<(), ArgvError> {
    let items: Vec<Item> = argv
        .iter()
        .enumerate()
        .map(|(index, a)| Item {
            text: a.text.clone(),
            field: a.field.clone(),
            filled: a.filled,
            index,
            from_xargs: None,
        })
        .collect();
    let stdin = stdin_carries_prompt.then_some(Stdin::Prompt);
    scan(&items, 0, stdin, 0)
}

/// An argv element under analysis: an [`Arg`] with its index in the real argv.
#[derive(Debug, Clone)]
struct Item {
    text: String,
    field: String,
    filled: Option<&'static str>,
    /// Its index in the argv the process gets (elements split from `env -S` share theirs).
    index: usize,
    /// Set when `xargs` (at this argv index) makes it from what it reads on stdin.
    from_xargs: Option<usize>,
}

impl Item {
    fn what(&self) -> String {
        match (self.from_xargs, self.filled) {
            (Some(x), _) => format!(
                "the prompt, which `xargs` (argv[{x}]) reads from standard input and hands to the command as arguments,"
            ),
            (None, Some(what)) => format!("argv[{}], which holds {what},", self.index),
            (None, None) => format!("argv[{}]", self.index),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Stdin {
    /// The prompt is on standard input.
    Prompt,
}

/// How deep wrappers may nest before the line is refused as too tangled to read.
const MAX_DEPTH: u8 = 16;

fn refuse(item: &Item, why: String) -> ArgvError {
    let field = if item.from_xargs.is_some() {
        "config.stdin".to_owned()
    } else {
        item.field.clone()
    };
    ArgvError {
        field,
        message: format!("refused: {} {why}; {SAFE_WAY}", item.what()),
    }
}

/// The name a program is matched by: its base name, lower case, without `.exe` and a version
/// suffix (`/usr/bin/Python3.12.exe` is `python`).
pub fn program_name(text: &str) -> String {
    let base = text.rsplit(['/', '\\']).next().unwrap_or(text);
    let lower = base.to_ascii_lowercase();
    let lower = lower.strip_suffix(".exe").unwrap_or(&lower);
    let trimmed =
        lower.trim_end_matches(|c: char| c.is_ascii_digit() || matches!(c, '.' | '-' | '_'));
    if trimmed.is_empty() {
        lower.to_owned()
    } else {
        trimmed.to_owned()
    }
}

/// Checks the command starting at `at`.
fn scan(items: &[Item], at: usize, stdin: Option<Stdin>, depth: u8) -> Result<(), ArgvError> {
    let Some(program) = items.get(at) else {
        return Ok(());
    };
    if program.filled.is_some() {
        return Err(refuse(
            program,
            "is the program to run: text Symphony does not control would choose what runs (name the program literally in the melody)".into(),
        ));
    }
    if depth > MAX_DEPTH {
        return Err(refuse(
            program,
            format!("starts a command nested more than {MAX_DEPTH} wrappers deep, too tangled to check (run the program directly)")
        ));
    }
    let name = program_name(&program.text);
    if let Some(w) = WRAPPERS.iter().find(|w| w.names.contains(&name.as_str())) {
        return wrapper(items, at, stdin, depth, w);
    }
    if ALL_CODE.contains(&name.as_str()) {
        return all_code(items, at, &name, stdin);
    }
    if matches!(name.as_str(), "pwsh" | "powershell") {
        return powershell(items, at, &name, stdin);
    }
    if name == "cmd" {
        return cmd(items, at, stdin);
    }
    if let Some(i) = INTERPRETERS
        .iter()
        .find(|i| i.names.contains(&name.as_str()))
    {
        return interpreter(items, at, stdin, depth, i);
    }
    Ok(())
}

/// Which options a program knows. Short options are letters after one `-` and may be combined
/// (`-xc`); long ones follow `--` and take a value as `--name=value` or as the next element.
struct Opts {
    /// Short letters taking an argument (the rest of the cluster, or the next element).
    arg: &'static str,
    /// Short letters taking an optional argument, only as the rest of the cluster.
    optional: &'static str,
    /// Short letters taking none.
    flag: &'static str,
    /// Long options taking an argument.
    arg_long: &'static [&'static str],
    /// Long options taking none (or a value only after `=`).
    flag_long: &'static [&'static str],
}

/// One option read from an element.
#[derive(Debug)]
struct Hit<'t> {
    /// The short letter, or the long name.
    name: Name<'t>,
    /// A value in the same element (`-n5`, `--adjustment=5`).
    value: Option<&'t str>,
    /// Its argument is the next element.
    takes_next: bool,
    /// Not in the program's list: it may or may not take the next element.
    unknown: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Name<'t> {
    Short(char),
    Long(&'t str),
}

/// Reads the options in one element that starts with `-` (or `+`).
fn parse_options<'t>(
    text: &'t str,
    opts: &Opts,
    extra_arg: &str,
    extra_flag: &str,
) -> Vec<Hit<'t>> {
    if let Some(long) = text.strip_prefix("--") {
        let (name, value) = match long.split_once('=') {
            Some((n, v)) => (n, Some(v)),
            None => (long, None),
        };
        let known_arg = opts.arg_long.contains(&name);
        let known_flag = opts.flag_long.contains(&name);
        return vec![Hit {
            name: Name::Long(name),
            value,
            takes_next: known_arg && value.is_none(),
            unknown: !known_arg && !known_flag,
        }];
    }
    let cluster = &text[1..];
    let mut hits = Vec::new();
    for (pos, c) in cluster.char_indices() {
        let rest = &cluster[pos + c.len_utf8()..];
        let rest = (!rest.is_empty()).then_some(rest);
        if opts.arg.contains(c) || extra_arg.contains(c) {
            hits.push(Hit {
                name: Name::Short(c),
                value: rest,
                takes_next: rest.is_none(),
                unknown: false,
            });
            break;
        }
        if opts.optional.contains(c) {
            hits.push(Hit {
                name: Name::Short(c),
                value: rest,
                takes_next: false,
                unknown: false,
            });
            break;
        }
        let known = opts.flag.contains(c) || extra_flag.contains(c);
        hits.push(Hit {
            name: Name::Short(c),
            value: None,
            takes_next: false,
            unknown: !known,
        });
        if !known {
            // What follows an unknown letter may be its value: stop reading the cluster.
            break;
        }
    }
    hits
}

fn is_option(text: &str) -> bool {
    text.len() > 1 && text.starts_with('-')
}

fn is_assignment(text: &str) -> bool {
    text.split_once('=').is_some_and(|(name, _)| {
        !name.is_empty()
            && !name.starts_with(|c: char| c.is_ascii_digit())
            && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
    })
}

/// What a wrapper does beyond running the command after its options.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Special {
    None,
    /// `env -S STRING` splits the string into more arguments.
    Env,
    /// `sudo -s` / `-i` hands the command line to a shell.
    Sudo,
    /// `xargs` reads stdin and hands it to the command as arguments.
    Xargs,
}

/// A program that runs another one: its options, and how many operands come before the
/// command (`timeout`'s duration).
struct Wrapper {
    names: &'static [&'static str],
    opts: Opts,
    /// `NAME=value` elements before the command are settings (env, sudo).
    assignments: bool,
    /// Operands before the command.
    leading: usize,
    special: Special,
}

const fn opts(arg: &'static str, flag: &'static str) -> Opts {
    Opts {
        arg,
        optional: "",
        flag,
        arg_long: &[],
        flag_long: &[],
    }
}

const WRAPPERS: &[Wrapper] = &[
    Wrapper {
        names: &["env"],
        opts: Opts {
            arg: "uCS",
            optional: "",
            flag: "i0v",
            arg_long: &["unset", "chdir", "split-string"],
            flag_long: &[
                "ignore-environment",
                "null",
                "debug",
                "default-signal",
                "ignore-signal",
                "block-signal",
                "list-signal-handling",
            ],
        },
        assignments: true,
        leading: 0,
        special: Special::Env,
    },
    Wrapper {
        names: &["nice"],
        opts: Opts {
            arg: "n",
            optional: "",
            flag: "0123456789",
            arg_long: &["adjustment"],
            flag_long: &[],
        },
        assignments: false,
        leading: 0,
        special: Special::None,
    },
    Wrapper {
        names: &["ionice"],
        opts: opts("cnpPu", "t"),
        assignments: false,
        leading: 0,
        special: Special::None,
    },
    Wrapper {
        names: &[
            "nohup",
            "busybox",
            "toybox",
            "unbuffer",
            "command",
            "builtin",
            "doas-keepenv",
        ],
        opts: opts("", "pvV"),
        assignments: false,
        leading: 0,
        special: Special::None,
    },
    Wrapper {
        names: &["exec"],
        opts: opts("a", "cl"),
        assignments: false,
        leading: 0,
        special: Special::None,
    },
    Wrapper {
        names: &["timeout"],
        opts: Opts {
            arg: "sk",
            optional: "",
            flag: "v",
            arg_long: &["signal", "kill-after"],
            flag_long: &["preserve-status", "foreground", "verbose"],
        },
        assignments: false,
        leading: 1,
        special: Special::None,
    },
    Wrapper {
        names: &["stdbuf"],
        opts: Opts {
            arg: "ioe",
            optional: "",
            flag: "",
            arg_long: &["input", "output", "error"],
            flag_long: &[],
        },
        assignments: false,
        leading: 0,
        special: Special::None,
    },
    Wrapper {
        names: &["time"],
        opts: Opts {
            arg: "fo",
            optional: "",
            flag: "apqv",
            arg_long: &["format", "output"],
            flag_long: &["append", "portability", "quiet", "verbose"],
        },
        assignments: false,
        leading: 0,
        special: Special::None,
    },
    Wrapper {
        names: &["sudo"],
        opts: Opts {
            arg: "CDghpRrtTUu",
            optional: "",
            flag: "AbEeHiKklNnPSsVv",
            arg_long: &[
                "close-from",
                "chdir",
                "group",
                "host",
                "prompt",
                "chroot",
                "role",
                "type",
                "command-timeout",
                "other-user",
                "user",
            ],
            flag_long: &[
                "askpass",
                "background",
                "preserve-env",
                "edit",
                "set-home",
                "login",
                "remove-timestamp",
                "reset-timestamp",
                "non-interactive",
                "preserve-groups",
                "stdin",
                "shell",
            ],
        },
        assignments: true,
        leading: 0,
        special: Special::Sudo,
    },
    Wrapper {
        names: &["doas"],
        opts: opts("uC", "nsL"),
        assignments: false,
        leading: 0,
        special: Special::None,
    },
    Wrapper {
        names: &["xargs"],
        opts: Opts {
            arg: "EIdLnPsa",
            optional: "eil",
            flag: "0prtxo",
            arg_long: &[
                "arg-file",
                "delimiter",
                "max-args",
                "max-procs",
                "max-chars",
                "process-slot-var",
            ],
            flag_long: &[
                "null",
                "no-run-if-empty",
                "interactive",
                "verbose",
                "exit",
                "open-tty",
                "show-limits",
                "eof",
                "replace",
                "max-lines",
            ],
        },
        assignments: false,
        leading: 0,
        special: Special::Xargs,
    },
    Wrapper {
        names: &["flatpak-spawn"],
        opts: Opts {
            arg: "",
            optional: "",
            flag: "",
            arg_long: &[],
            flag_long: &[
                "host",
                "watch-bus",
                "expose-pids",
                "share-pids",
                "clear-env",
                "latest-version",
                "no-network",
                "sandbox",
                "verbose",
            ],
        },
        assignments: false,
        leading: 0,
        special: Special::None,
    },
    Wrapper {
        names: &["chrt"],
        opts: opts("T", "abdefimoprRv"),
        assignments: false,
        leading: 1,
        special: Special::None,
    },
    Wrapper {
        names: &["taskset"],
        opts: opts("", "acp"),
        assignments: false,
        leading: 1,
        special: Special::None,
    },
    Wrapper {
        names: &["setsid", "caffeinate"],
        opts: opts("tw", "cfdimsu"),
        assignments: false,
        leading: 0,
        special: Special::None,
    },
    Wrapper {
        names: &["npx", "bunx", "pnpx", "uvx", "pipx"],
        opts: Opts {
            arg: "p",
            optional: "",
            flag: "qy",
            arg_long: &["package", "from", "with", "python"],
            flag_long: &["yes", "no", "quiet"],
        },
        assignments: false,
        leading: 0,
        special: Special::None,
    },
];

/// Programs that hand their command line (or their arguments) to a shell: nothing filled may
/// follow them. `su user ARGS` passes ARGS to the user's shell; `watch`, `ssh host`,
/// `parallel` join theirs into a shell command.
const ALL_CODE: &[&str] = &[
    "su", "runuser", "sg", "watch", "ssh", "parallel", "script", "eval", "source", ".",
];

fn wrapper(
    items: &[Item],
    at: usize,
    stdin: Option<Stdin>,
    depth: u8,
    w: &Wrapper,
) -> Result<(), ArgvError> {
    let shown = format!("`{}` (argv[{}])", items[at].text, items[at].index);
    // Where the command may start: after the options and operands before it, and right after
    // an unknown option (which may or may not take the next element as its value).
    let mut starts = Vec::new();
    let mut operands_left = w.leading;
    let mut in_options = true;
    let mut to_shell = false;
    let mut replace: Option<String> = None;
    let mut i = at + 1;
    while i < items.len() {
        let item = &items[i];
        if item.filled.is_some() {
            return Err(refuse(
                item,
                format!("is among the options of {shown}, before the command it runs: it could choose the command, or an option"),
            ));
        }
        let text = item.text.as_str();
        if w.assignments && operands_left == w.leading && is_assignment(text) {
            i += 1;
            continue;
        }
        if in_options {
            if text == "--" {
                in_options = false;
                i += 1;
                continue;
            }
            if w.special == Special::Env && text == "-" {
                i += 1;
                continue;
            }
            if is_option(text) {
                let hits = parse_options(text, &w.opts, "", "");
                let mut skip_next = false;
                for hit in &hits {
                    let next = items.get(i + 1);
                    if hit.takes_next || (hit.unknown && hit.value.is_none()) {
                        if let Some(next) = next.filter(|n| n.filled.is_some()) {
                            return Err(refuse(
                                next,
                                format!(
                                    "is the value of an option of {shown}, or the command it runs"
                                ),
                            ));
                        }
                        skip_next = true;
                    }
                    if hit.unknown && hit.value.is_none() {
                        starts.push(i + 1);
                    }
                    let value = if hit.takes_next {
                        next.map(|n| n.text.as_str())
                    } else {
                        hit.value
                    };
                    match (w.special, hit.name) {
                        (Special::Env, Name::Short('S') | Name::Long("split-string")) => {
                            // `env -S 'a b c'`: the string is split into arguments, read again.
                            let Some(value) = value else { continue };
                            let after = if hit.takes_next { i + 2 } else { i + 1 };
                            let mut again: Vec<Item> = vec![items[at].clone()];
                            again.extend(value.split_whitespace().map(|part| Item {
                                text: part.to_owned(),
                                ..item.clone()
                            }));
                            again.extend(items[after.min(items.len())..].iter().cloned());
                            return scan(&again, 0, stdin, depth + 1);
                        }
                        (Special::Sudo, Name::Short('s' | 'i') | Name::Long("shell" | "login")) => {
                            to_shell = true;
                        }
                        (Special::Xargs, Name::Short('I') | Name::Long("replace")) => {
                            replace = Some(value.unwrap_or("{}").to_owned());
                        }
                        (Special::Xargs, Name::Short('i')) => {
                            replace = Some(hit.value.unwrap_or("{}").to_owned());
                        }
                        _ => {}
                    }
                }
                i += if skip_next { 2 } else { 1 };
                continue;
            }
            in_options = false;
        }
        if operands_left > 0 {
            operands_left -= 1;
            i += 1;
            continue;
        }
        break;
    }
    starts.push(i);
    starts.sort_unstable();
    starts.dedup();
    for start in starts.into_iter().filter(|s| *s < items.len()) {
        if to_shell {
            if let Some(item) = items[start..].iter().find(|i| i.filled.is_some()) {
                return Err(refuse(
                    item,
                    format!("is part of the command line {shown} hands to a shell (`-s`, `-i`): it would be run as shell code"),
                ));
            }
            continue;
        }
        if w.special == Special::Xargs {
            let mut inner: Vec<Item> = items[start..].to_vec();
            if stdin == Some(Stdin::Prompt) {
                let from = Some(items[at].index);
                match &replace {
                    Some(r) => {
                        for item in inner.iter_mut().skip(1) {
                            if item.text.contains(r.as_str()) {
                                item.filled = Some("the prompt");
                                item.from_xargs = from;
                            }
                        }
                    }
                    None => inner.push(Item {
                        text: String::new(),
                        field: "config.stdin".into(),
                        filled: Some("the prompt"),
                        index: items.len(),
                        from_xargs: from,
                    }),
                }
            }
            // xargs reads stdin itself; the command gets none of it.
            scan(&inner, 0, None, depth + 1)?;
            continue;
        }
        scan(items, start, stdin, depth + 1)?;
    }
    Ok(())
}

fn all_code(items: &[Item], at: usize, name: &str, stdin: Option<Stdin>) -> Result<(), ArgvError> {
    let shown = &items[at].text;
    if let Some(item) = items[at + 1..].iter().find(|i| i.filled.is_some()) {
        return Err(refuse(
            item,
            format!("is an argument of `{shown}` (argv[{}]), which hands its arguments to a shell: it would be run as shell code", items[at].index),
        ));
    }
    if stdin == Some(Stdin::Prompt)
        && matches!(name, "su" | "runuser" | "sg" | "eval" | "source" | ".")
    {
        return Err(stdin_refusal(&items[at], "hands standard input to a shell"));
    }
    Ok(())
}

fn stdin_refusal(program: &Item, why: &str) -> ArgvError {
    ArgvError {
        field: "config.stdin".into(),
        message: format!(
            "refused: the prompt goes to standard input (`stdin: true`), and `{}` (argv[{}], {}) {why}, so the prompt would be run as code; give it a script file, or code that reads standard input as data (`[\"sh\", \"-c\", \"my-agent < /dev/stdin\"]`), or put the prompt in a file (`{{{{promptFile}}}}`); never where a shell or interpreter reads code",
            program.text, program.index, program.field
        ),
    }
}

/// What a subcommand of an interpreter does (`deno eval`, `bun x`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Sub {
    /// Its operand is code.
    Code,
    /// Its operand is a script file (as with no subcommand).
    Script,
    /// It runs a package or command named by its operand: read that as a command.
    Runs,
}

/// A shell or an interpreter: where it reads code.
struct Interp {
    names: &'static [&'static str],
    /// "shell" or the language, for messages.
    language: &'static str,
    /// Options that are not code (their values are still refused when filled).
    opts: Opts,
    /// Short letters whose value is code (`python -c`, `perl -e`; for shells, `c`).
    code: &'static str,
    /// Long options whose value is code (`--eval`).
    code_long: &'static [&'static str],
    /// Shell style: the code letter is a flag, and the code is the first operand.
    code_is_operand: bool,
    /// Code ends the options (`python -c`, shells): what follows is data.
    code_ends_options: bool,
    /// Short letters after which the program is read from stdin and operands are data (`sh -s`).
    stdin_letters: &'static str,
    /// `-` alone: the program is read from stdin (python, node), not the end of options (sh).
    dash_is_stdin: bool,
    /// Shells also take `+o`-style options.
    plus: bool,
    /// Unknown long options without `=` take no argument (clap with `require_equals`).
    long_unknown_is_flag: bool,
    subcommands: &'static [(&'static str, Sub)],
}

const SHELL: Interp = Interp {
    names: &[
        "sh", "bash", "rbash", "zsh", "dash", "ash", "ksh", "mksh", "pdksh", "yash", "posh", "csh",
        "tcsh", "fish", "elvish", "nu", "xonsh", "oil", "osh", "ysh",
    ],
    language: "shell",
    opts: Opts {
        arg: "oOC",
        optional: "",
        flag: "abefhiklmnprtuvxBDEHIPTV",
        arg_long: &["rcfile", "init-file"],
        flag_long: &[
            "debugger",
            "dump-po-strings",
            "dump-strings",
            "help",
            "login",
            "noediting",
            "noprofile",
            "norc",
            "posix",
            "pretty-print",
            "restricted",
            "verbose",
            "version",
            "no-config",
            "private",
            "interactive",
            "no-execute",
        ],
    },
    code: "c",
    code_long: &["command", "init-command", "commands"],
    code_is_operand: true,
    code_ends_options: true,
    stdin_letters: "s",
    dash_is_stdin: false,
    plus: true,
    long_unknown_is_flag: false,
    subcommands: &[],
};

const INTERPRETERS: &[Interp] = &[
    SHELL,
    Interp {
        names: &["python", "pypy", "ipython", "jython", "micropython", "py"],
        language: "Python",
        opts: Opts {
            arg: "WXQ",
            optional: "",
            flag: "bBdEhiIOPqRsSuvVx",
            arg_long: &["check-hash-based-pycs"],
            flag_long: &["help", "version", "help-env", "help-xoptions", "help-all"],
        },
        code: "cm",
        code_long: &[],
        code_is_operand: false,
        code_ends_options: true,
        stdin_letters: "",
        dash_is_stdin: true,
        plus: false,
        long_unknown_is_flag: false,
        subcommands: &[],
    },
    Interp {
        names: &["node", "nodejs", "ts-node", "tsx"],
        language: "JavaScript",
        opts: Opts {
            arg: "",
            optional: "",
            flag: "chiv",
            arg_long: &[
                "title",
                "stack-size",
                "max-old-space-size",
                "conditions",
                "env-file",
                "input-type",
            ],
            flag_long: &[
                "check",
                "interactive",
                "version",
                "help",
                "no-warnings",
                "trace-warnings",
                "enable-source-maps",
                "experimental-strip-types",
                "watch",
                "test",
                "no-deprecation",
                "inspect",
                "inspect-brk",
                "abort-on-uncaught-exception",
                "preserve-symlinks",
            ],
        },
        code: "epr",
        code_long: &[
            "eval",
            "print",
            "require",
            "import",
            "loader",
            "experimental-loader",
        ],
        code_is_operand: false,
        code_ends_options: false,
        stdin_letters: "",
        dash_is_stdin: true,
        plus: false,
        long_unknown_is_flag: false,
        subcommands: &[],
    },
    Interp {
        names: &["deno"],
        language: "JavaScript",
        opts: Opts {
            arg: "cL",
            optional: "r",
            flag: "Aq",
            arg_long: &[
                "config",
                "log-level",
                "import-map",
                "location",
                "seed",
                "v8-flags",
                "env-file",
                "ext",
            ],
            flag_long: &[],
        },
        code: "e",
        code_long: &["eval"],
        code_is_operand: false,
        code_ends_options: false,
        stdin_letters: "",
        dash_is_stdin: true,
        plus: false,
        long_unknown_is_flag: true,
        subcommands: &[
            ("eval", Sub::Code),
            ("run", Sub::Script),
            ("serve", Sub::Script),
            ("test", Sub::Script),
            ("repl", Sub::Script),
            ("x", Sub::Runs),
            ("task", Sub::Code),
        ],
    },
    Interp {
        names: &["bun"],
        language: "JavaScript",
        opts: Opts {
            arg: "",
            optional: "",
            flag: "h",
            arg_long: &["cwd", "env-file", "config", "preload", "tsconfig-override"],
            flag_long: &["hot", "watch", "smol", "silent", "bun", "help", "version"],
        },
        code: "epr",
        code_long: &["eval", "print", "preload", "require", "import"],
        code_is_operand: false,
        code_ends_options: false,
        stdin_letters: "",
        dash_is_stdin: true,
        plus: false,
        long_unknown_is_flag: false,
        subcommands: &[
            ("run", Sub::Script),
            ("test", Sub::Script),
            ("x", Sub::Runs),
            ("exec", Sub::Code),
        ],
    },
    Interp {
        names: &["perl"],
        language: "Perl",
        opts: Opts {
            arg: "Ix",
            optional: "0dDilC",
            flag: "acfnpsStTuUvwWX",
            arg_long: &[],
            flag_long: &["help", "version"],
        },
        code: "eEmM",
        code_long: &[],
        code_is_operand: false,
        code_ends_options: false,
        stdin_letters: "",
        dash_is_stdin: true,
        plus: false,
        long_unknown_is_flag: false,
        subcommands: &[],
    },
    Interp {
        names: &["ruby", "jruby", "truffleruby", "irb"],
        language: "Ruby",
        opts: Opts {
            arg: "ICEFx",
            optional: "0lTKW",
            flag: "acdhnpsSvwy",
            arg_long: &[
                "encoding",
                "external-encoding",
                "internal-encoding",
                "backtrace-limit",
            ],
            flag_long: &[
                "copyright",
                "version",
                "verbose",
                "help",
                "disable-gems",
                "jit",
                "yjit",
            ],
        },
        code: "er",
        code_long: &["require"],
        code_is_operand: false,
        code_ends_options: false,
        stdin_letters: "",
        dash_is_stdin: true,
        plus: false,
        long_unknown_is_flag: false,
        subcommands: &[],
    },
    Interp {
        names: &["php", "php-cgi", "hhvm"],
        language: "PHP",
        opts: Opts {
            arg: "cdtzS",
            optional: "",
            flag: "ahilmnqsvwHe",
            arg_long: &["rf", "rc", "re", "rz", "ri"],
            flag_long: &["help", "version", "info", "ini", "no-php-ini"],
        },
        code: "rBREfF",
        code_long: &[
            "run",
            "process-begin",
            "process-code",
            "process-end",
            "file",
            "process-file",
        ],
        code_is_operand: false,
        code_ends_options: false,
        stdin_letters: "",
        dash_is_stdin: true,
        plus: false,
        long_unknown_is_flag: false,
        subcommands: &[],
    },
    Interp {
        names: &["lua", "luajit", "texlua"],
        language: "Lua",
        opts: opts("", "iEvW"),
        code: "el",
        code_long: &[],
        code_is_operand: false,
        code_ends_options: false,
        stdin_letters: "",
        dash_is_stdin: true,
        plus: false,
        long_unknown_is_flag: false,
        subcommands: &[],
    },
    Interp {
        names: &[
            "r", "rscript", "julia", "groovy", "kotlin", "scala", "elixir", "erl", "escript",
            "clojure", "racket", "guile", "sbcl", "gdb", "vim", "nvim", "emacs",
        ],
        language: "program",
        opts: opts("", "qsv"),
        code: "eEcx",
        code_long: &[
            "eval", "print", "expr", "file", "cmd", "command", "load", "script",
        ],
        code_is_operand: false,
        code_ends_options: false,
        stdin_letters: "",
        dash_is_stdin: true,
        plus: false,
        long_unknown_is_flag: false,
        subcommands: &[],
    },
    Interp {
        names: &["osascript"],
        language: "AppleScript",
        opts: opts("ls", "i"),
        code: "e",
        code_long: &[],
        code_is_operand: false,
        code_ends_options: false,
        stdin_letters: "",
        dash_is_stdin: true,
        plus: false,
        long_unknown_is_flag: false,
        subcommands: &[],
    },
    Interp {
        names: &[
            "awk", "gawk", "mawk", "nawk", "sed", "gsed", "jq", "tclsh", "wish", "expect",
        ],
        language: "program",
        opts: Opts {
            arg: "vFlL",
            optional: "",
            flag: "bnrsuzEiPS",
            arg_long: &["assign", "field-separator", "line-length", "load"],
            flag_long: &[
                "posix",
                "sandbox",
                "quiet",
                "silent",
                "regexp-extended",
                "null-data",
                "separate",
                "debug",
                "in-place",
            ],
        },
        code: "efc",
        code_long: &["source", "expression", "file", "include", "exec"],
        code_is_operand: false,
        code_ends_options: false,
        stdin_letters: "",
        dash_is_stdin: false,
        plus: false,
        long_unknown_is_flag: false,
        subcommands: &[],
    },
];

fn interpreter(
    items: &[Item],
    at: usize,
    stdin: Option<Stdin>,
    depth: u8,
    interp: &Interp,
) -> Result<(), ArgvError> {
    let program = &items[at];
    let shown = format!("`{}` (argv[{}])", program.text, program.index);
    let language = interp.language;
    let code_refusal = |item: &Item, option: &str| {
        refuse(
            item,
            format!("is the code {shown} runs after `{option}`: it would be run as {language} code, so a prompt could run any command"),
        )
    };
    // A shell's `-c`: its code is the first operand.
    let mut code_flag: Option<String> = None;
    // Code given as an option's value (`perl -e CODE`).
    let mut has_code = false;
    // `sh -s`: the program comes from stdin, operands are data.
    let mut reads_stdin = false;
    // The next element is an option's value: code, or not.
    let mut pending_code: Option<String> = None;
    let mut pending_value = false;
    // An unknown option came last: the next operand may be its value.
    let mut ambiguous = false;
    let mut in_options = true;
    let mut subcommand_open = !interp.subcommands.is_empty();
    let (extra_arg, extra_flag) = if interp.code_is_operand {
        ("", interp.code)
    } else {
        (interp.code, "")
    };
    let mut i = at + 1;
    while i < items.len() {
        let item = &items[i];
        let text = item.text.as_str();
        i += 1;
        if let Some(option) = pending_code.take() {
            if item.filled.is_some() {
                return Err(code_refusal(item, &option));
            }
            has_code = true;
            if interp.code_ends_options {
                return Ok(());
            }
            continue;
        }
        if std::mem::take(&mut pending_value) {
            if item.filled.is_some() {
                return Err(refuse(
                    item,
                    format!("is the value of an option of {shown}, read before its script or code (such values can name files or modules it loads)"),
                ));
            }
            continue;
        }
        if in_options {
            if item.filled.is_some() {
                let why = if let Some(option) = &code_flag {
                    return Err(code_refusal(item, option));
                } else if has_code {
                    format!("is where {shown} still reads options (it reads them after its code too): a prompt starting with `-` would be an option, which can run code; put `--` before it")
                } else if ambiguous {
                    format!("may be the script or code {shown} runs (the option before it is not one Symphony knows, so it may or may not take a value): it would be run as {language} code")
                } else if reads_stdin {
                    format!("is where {shown} still reads options: a prompt starting with `-` would be an option, which can run code; put `--` before it")
                } else {
                    format!("is the script {shown} runs, or one of its options: it would be run as {language} code")
                };
                return Err(refuse(item, why));
            }
            if text == "--" {
                in_options = false;
                continue;
            }
            if text == "-" {
                if interp.dash_is_stdin && !has_code && code_flag.is_none() && !reads_stdin {
                    // The script is read from stdin; what follows is data.
                    if stdin == Some(Stdin::Prompt) {
                        return Err(stdin_refusal(
                            program,
                            "reads its program from standard input (`-`)",
                        ));
                    }
                    return Ok(());
                }
                if !interp.dash_is_stdin {
                    in_options = false;
                    continue;
                }
            }
            let plus = interp.plus && text.len() > 1 && text.starts_with('+');
            if is_option(text) || plus {
                if let Some(long) = text.strip_prefix("--") {
                    let (name, value) = match long.split_once('=') {
                        Some((n, v)) => (n, Some(v)),
                        None => (long, None),
                    };
                    if interp.code_long.contains(&name) {
                        match value {
                            Some(_) => {
                                has_code = true;
                                if interp.code_ends_options {
                                    return Ok(());
                                }
                            }
                            None => pending_code = Some(text.to_owned()),
                        }
                    } else if interp.opts.arg_long.contains(&name) {
                        pending_value = value.is_none();
                    } else if !interp.opts.flag_long.contains(&name)
                        && value.is_none()
                        && !interp.long_unknown_is_flag
                    {
                        ambiguous = true;
                    }
                    continue;
                }
                let text = if plus {
                    text.replacen('+', "-", 1)
                } else {
                    text.to_owned()
                };
                for hit in parse_options(&text, &interp.opts, extra_arg, extra_flag) {
                    let Name::Short(letter) = hit.name else {
                        continue;
                    };
                    if interp.stdin_letters.contains(letter) {
                        reads_stdin = true;
                    }
                    if interp.code.contains(letter) {
                        if interp.code_is_operand {
                            code_flag = Some(format!("-{letter}"));
                            continue;
                        }
                        match hit.value {
                            Some(_) => {
                                has_code = true;
                                if interp.code_ends_options {
                                    return Ok(());
                                }
                            }
                            None => pending_code = Some(format!("-{letter}")),
                        }
                    } else if hit.unknown {
                        ambiguous = true;
                    } else if hit.takes_next {
                        pending_value = true;
                    }
                }
                continue;
            }
        }
        // An operand.
        if subcommand_open {
            subcommand_open = false;
            if let Some((_, sub)) = interp.subcommands.iter().find(|(n, _)| *n == text) {
                match sub {
                    Sub::Code => pending_code = Some(text.to_owned()),
                    Sub::Script => {}
                    Sub::Runs => return scan(items, next_operand(items, i), stdin, depth + 1),
                }
                continue;
            }
        }
        if let Some(option) = &code_flag {
            // A shell's code; what follows is `$0`, `$1`, …: data.
            if item.filled.is_some() {
                return Err(code_refusal(item, option));
            }
            return Ok(());
        }
        if has_code || reads_stdin {
            // Data for the code (or for the program read from stdin).
            return stdin_check(program, stdin, has_code, reads_stdin);
        }
        if item.filled.is_some() {
            return Err(refuse(
                item,
                format!("is the script {shown} runs: it would choose the program, or be it"),
            ));
        }
        if std::mem::take(&mut ambiguous) && in_options {
            // Perhaps the unknown option's value: the script may be the next operand.
            continue;
        }
        // The script file: what follows is data.
        return Ok(());
    }
    stdin_check(program, stdin, has_code || code_flag.is_some(), reads_stdin)
}

/// Refuses when the program reads its code from stdin and the prompt is there.
fn stdin_check(
    program: &Item,
    stdin: Option<Stdin>,
    has_program: bool,
    reads_stdin: bool,
) -> Result<(), ArgvError> {
    if stdin != Some(Stdin::Prompt) {
        return Ok(());
    }
    if reads_stdin {
        return Err(stdin_refusal(
            program,
            "reads its program from standard input (`-s`)",
        ));
    }
    if !has_program {
        return Err(stdin_refusal(
            program,
            "is given no script or code, so it reads its program from standard input",
        ));
    }
    Ok(())
}

fn next_operand(items: &[Item], from: usize) -> usize {
    let mut i = from;
    while items
        .get(i)
        .is_some_and(|item| item.filled.is_none() && is_option(&item.text))
    {
        i += 1;
    }
    i
}

/// PowerShell: `-Command` (and, for Windows PowerShell, a bare operand) takes the rest of the
/// line as code; `-File` takes a script, and what follows it is data. Parameters are read
/// ignoring case, by any prefix.
fn powershell(
    items: &[Item],
    at: usize,
    name: &str,
    stdin: Option<Stdin>,
) -> Result<(), ArgvError> {
    let program = &items[at];
    let shown = format!("`{}` (argv[{}])", program.text, program.index);
    const WITH_VALUE: &[&str] = &[
        "executionpolicy",
        "ep",
        "ex",
        "inputformat",
        "if",
        "inp",
        "outputformat",
        "of",
        "o",
        "workingdirectory",
        "wd",
        "windowstyle",
        "w",
        "settingsfile",
        "settings",
        "configurationname",
        "custompipename",
        "configurationfile",
        "psconsolefile",
    ];
    const FLAGS: &[&str] = &[
        "noprofile",
        "nop",
        "noninteractive",
        "noni",
        "nologo",
        "nol",
        "noexit",
        "noe",
        "mta",
        "sta",
        "login",
        "l",
        "interactive",
        "i",
        "version",
        "v",
        "help",
        "?",
        "h",
    ];
    let mut i = at + 1;
    while i < items.len() {
        let item = &items[i];
        if item.filled.is_some() {
            return Err(refuse(
                item,
                format!("is among the parameters of {shown}, before any `-File` script: it would be read as a parameter or as PowerShell code"),
            ));
        }
        let text = item.text.as_str();
        let param = text
            .strip_prefix('-')
            .or_else(|| text.strip_prefix('/'))
            .map(|p| p.trim_start_matches('-').to_ascii_lowercase());
        let Some(param) = param else {
            // A bare operand: Windows PowerShell reads it as -Command, pwsh as -File.
            if name == "powershell" {
                return rest_is_code(items, i, &shown, "PowerShell");
            }
            return Ok(());
        };
        let param = param.split(':').next().unwrap_or_default().to_owned();
        if param.starts_with('c') && !WITH_VALUE.contains(&param.as_str()) {
            if items.get(i + 1).is_some_and(|n| n.text == "-") && stdin == Some(Stdin::Prompt) {
                return Err(stdin_refusal(
                    program,
                    "reads its commands from standard input (`-Command -`)",
                ));
            }
            return rest_is_code(items, i + 1, &shown, "PowerShell");
        }
        if param.starts_with('e') && !WITH_VALUE.contains(&param.as_str()) {
            return rest_is_code(items, i + 1, &shown, "PowerShell");
        }
        if param == "f" || (param.len() > 1 && "file".starts_with(param.as_str())) {
            if let Some(script) = items.get(i + 1) {
                if script.filled.is_some() {
                    return Err(refuse(
                        script,
                        format!(
                            "is the script {shown} runs (`-File`): it would choose the program"
                        ),
                    ));
                }
                if script.text == "-" && stdin == Some(Stdin::Prompt) {
                    return Err(stdin_refusal(
                        program,
                        "reads its script from standard input (`-File -`)",
                    ));
                }
            }
            return Ok(());
        }
        if WITH_VALUE.contains(&param.as_str()) {
            if let Some(value) = items.get(i + 1) {
                if value.filled.is_some() {
                    return Err(refuse(
                        value,
                        format!("is the value of a parameter of {shown}"),
                    ));
                }
            }
            i += 2;
            continue;
        }
        if !FLAGS.contains(&param.as_str()) {
            // Unknown: its value, if it takes one, is checked as a parameter above.
        }
        i += 1;
    }
    if stdin == Some(Stdin::Prompt) {
        return Err(stdin_refusal(
            program,
            "is given no -Command or -File, so it reads commands from standard input",
        ));
    }
    Ok(())
}

/// Every filled element from `from` on is code.
fn rest_is_code(items: &[Item], from: usize, shown: &str, language: &str) -> Result<(), ArgvError> {
    match items.get(from..).and_then(|rest| rest.iter().find(|i| i.filled.is_some())) {
        Some(item) => Err(refuse(
            item,
            format!("is part of the command {shown} runs: it would be run as {language} code, so a prompt could run any command"),
        )),
        None => Ok(()),
    }
}

/// `cmd.exe`: `/c`, `/k` and `/r` take the rest of the line as a command; anything filled is
/// refused, and without them it reads commands from stdin.
fn cmd(items: &[Item], at: usize, stdin: Option<Stdin>) -> Result<(), ArgvError> {
    let program = &items[at];
    let shown = format!("`{}` (argv[{}])", program.text, program.index);
    rest_is_code(items, at + 1, &shown, "cmd")?;
    let runs = items[at + 1..].iter().any(|i| {
        let t = i.text.to_ascii_lowercase();
        t.starts_with("/c") || t.starts_with("/k") || t.starts_with("/r")
    });
    if !runs && stdin == Some(Stdin::Prompt) {
        return Err(stdin_refusal(
            program,
            "is given no /c command, so it reads commands from standard input",
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn program_names_ignore_paths_case_versions_and_exe() {
        assert_eq!(program_name("/usr/bin/python3.12"), "python");
        assert_eq!(program_name("node20"), "node");
        assert_eq!(program_name("C:\\Python\\Python3.EXE"), "python");
        assert_eq!(program_name("sh"), "sh");
        assert_eq!(program_name("flatpak-spawn"), "flatpak-spawn");
        assert_eq!(program_name("123"), "123");
    }
}
