//! Running an agent CLI as a child process whose whole process tree can be stopped.
//!
//! The child starts in a process group of its own (its pid is the group's id), so one signal
//! to the group reaches everything the agent started: shells, test runners, language servers.
//! A [`GroupGuard`] stops the group (SIGTERM, then SIGKILL after a grace period) when the step
//! is cancelled, when the conductor drops the step's future (timeout, cancel), and after the
//! agent exits (anything it left running in its group goes with it).
//!
//! What it cannot catch: a process that leaves the group on purpose (`setsid`, `setpgid`, a
//! daemon that double-forks into a new session). Containing those needs cgroups or a sandbox,
//! which is the agent's own sandbox's job (`codex --sandbox`, `gemini --sandbox`).
//!
//! **Architecture Invariant:** this module never blocks the runtime: reading, waiting and the
//! grace period are async, except in `Drop`, where a short-lived thread waits out the grace
//! period so the dropping task does not.

use std::path::Path;
use std::process::{ExitStatus, Stdio};
use std::time::Duration;

use nix::errno::Errno;
use nix::sys::signal::{killpg, Signal};
use nix::unistd::Pid;
use symphony_credentials::Secret;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWriteExt};
use tokio::process::{Child, Command};
use tokio_util::sync::CancellationToken;

/// How much of stderr is kept for an error message.
const STDERR_TAIL: usize = 2000;
/// How much of stdout is kept as the step's output; beyond it the output says it was cut.
const STDOUT_MAX: usize = 4 << 20;
/// A line longer than this is streamed before its end arrives.
const LONG_LINE: usize = 16 << 10;

/// Signals the child's process group when dropped, unless it is known to be gone.
pub struct GroupGuard {
    pgid: Option<Pid>,
    grace: Duration,
}

impl GroupGuard {
    /// Guards the group whose leader has this pid.
    pub fn new(pid: u32, grace: Duration) -> Self {
        GroupGuard {
            pgid: i32::try_from(pid).ok().map(Pid::from_raw),
            grace,
        }
    }

    /// Whether any process of the group is still alive (zombies count until reaped).
    fn alive(pgid: Pid) -> bool {
        !matches!(killpg(pgid, None), Err(Errno::ESRCH))
    }

    /// Sends SIGTERM to the group now and SIGKILL after the grace period if anything is left.
    /// The wait happens on a thread of its own, so this returns at once; calling it again does
    /// nothing.
    pub fn stop(&mut self) {
        let Some(pgid) = self.pgid.take() else {
            return;
        };
        if !Self::alive(pgid) {
            return;
        }
        let _ = killpg(pgid, Signal::SIGTERM);
        let grace = self.grace;
        // A plain thread, not a task: `stop` runs from `Drop`, possibly while the runtime is
        // shutting down, and the wait must still happen.
        let spawned = std::thread::Builder::new()
            .name("symphony-agent-reaper".into())
            .spawn(move || {
                let step = Duration::from_millis(20);
                let mut waited = Duration::ZERO;
                while waited < grace {
                    if !Self::alive(pgid) {
                        return;
                    }
                    std::thread::sleep(step);
                    waited += step;
                }
                let _ = killpg(pgid, Signal::SIGKILL);
            });
        if spawned.is_err() {
            // No thread to wait with: do not leave the group running.
            let _ = killpg(pgid, Signal::SIGKILL);
        }
    }
}

impl Drop for GroupGuard {
    fn drop(&mut self) {
        self.stop();
    }
}

/// What to run.
pub struct Spec<'a> {
    /// Program and arguments.
    pub argv: &'a [String],
    /// The working folder.
    pub cwd: &'a Path,
    /// The whole environment of the child (nothing is inherited).
    pub env: &'a [(String, String)],
    /// Written to the child's stdin, which is then closed; `None` gives it an empty stdin.
    pub stdin: Option<&'a str>,
    /// SIGTERM-to-SIGKILL grace period.
    pub grace: Duration,
    /// Hidden from everything streamed or kept.
    pub secret: Option<&'a Secret>,
}

/// What a finished child left.
pub struct Finished {
    /// How it ended.
    pub status: ExitStatus,
    /// Its stdout, scrubbed of the secret.
    pub stdout: String,
    /// The end of its stderr, scrubbed.
    pub stderr_tail: String,
}

/// Why the child did not finish.
pub enum Stopped {
    /// It could not be started.
    Spawn(std::io::Error),
    /// The cancellation token fired; the group was told to stop.
    Cancelled,
    /// Waiting for it failed.
    Wait(std::io::Error),
}

/// Which stream a chunk came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stream {
    /// The child's stdout.
    Out,
    /// The child's stderr.
    Err,
}

/// Collects the child's streams: reports complete lines as they come, with the stream they
/// came from (so a secret, which holds no newline, is never split between two reports and
/// always scrubbed), keeps stdout and the tail of stderr.
struct Collector<'a, F: FnMut(Stream, &str)> {
    secret: Option<&'a Secret>,
    report: F,
    pending: [Vec<u8>; 2],
    stdout: Vec<u8>,
    stdout_cut: bool,
    stderr_tail: Vec<u8>,
}

impl<'a, F: FnMut(Stream, &str)> Collector<'a, F> {
    fn push(&mut self, stream: Stream, bytes: &[u8]) {
        match stream {
            Stream::Out => {
                let room = STDOUT_MAX.saturating_sub(self.stdout.len());
                self.stdout
                    .extend_from_slice(&bytes[..bytes.len().min(room)]);
                self.stdout_cut |= bytes.len() > room;
            }
            Stream::Err => {
                self.stderr_tail.extend_from_slice(bytes);
                // Keep a generous margin; scrub before cutting, so the cut never leaves part
                // of a secret at the start of what is kept.
                let keep = STDERR_TAIL * 4;
                if self.stderr_tail.len() > keep * 2 {
                    scrub_bytes(self.secret, &mut self.stderr_tail);
                    let cut = self.stderr_tail.len().saturating_sub(keep);
                    self.stderr_tail.drain(..cut);
                }
            }
        }
        let secret = self.secret;
        let pending = &mut self.pending[stream as usize];
        pending.extend_from_slice(bytes);
        let upto = match pending.iter().rposition(|&b| b == b'\n') {
            Some(i) => i + 1,
            None if pending.len() > LONG_LINE => {
                // A long line without an end (a progress bar): hide every whole secret in it,
                // then report all but a tail that could hold the start of one still arriving,
                // cut at a character boundary.
                scrub_bytes(secret, pending);
                let margin = secret.map_or(0, |s| s.expose().len().saturating_sub(1));
                char_cut(pending, pending.len().saturating_sub(margin))
            }
            None => 0,
        };
        if upto > 0 {
            let chunk: Vec<u8> = pending.drain(..upto).collect();
            self.emit(stream, &chunk);
        }
    }

    fn emit(&mut self, stream: Stream, bytes: &[u8]) {
        let text = String::from_utf8_lossy(bytes);
        (self.report)(stream, &scrub(self.secret, &text));
    }

    fn finish(mut self) -> (String, String) {
        for stream in [Stream::Out, Stream::Err] {
            let rest = std::mem::take(&mut self.pending[stream as usize]);
            if !rest.is_empty() {
                self.emit(stream, &rest);
            }
        }
        let mut stdout = scrub(self.secret, &String::from_utf8_lossy(&self.stdout));
        if self.stdout_cut {
            stdout.push_str(&format!(
                "\n[symphony: output cut at {} MiB]\n",
                STDOUT_MAX >> 20
            ));
        }
        let err = scrub(self.secret, &String::from_utf8_lossy(&self.stderr_tail));
        (stdout, tail(&err, STDERR_TAIL))
    }
}

/// The largest cut at or before `at` that splits no UTF-8 character: not inside one, and not
/// after the first bytes of one still arriving.
fn char_cut(bytes: &[u8], at: usize) -> usize {
    let continuation = |b: u8| (b & 0b1100_0000) == 0b1000_0000;
    let mut cut = at.min(bytes.len());
    while cut > 0 && cut < bytes.len() && continuation(bytes[cut]) {
        cut -= 1;
    }
    // The character that starts last before the cut must end before it too.
    if let Some(start) = (cut.saturating_sub(4)..cut)
        .rev()
        .find(|&i| !continuation(bytes[i]))
    {
        let len = match bytes[start] {
            0xF0.. => 4,
            0xE0.. => 3,
            0xC0.. => 2,
            _ => 1,
        };
        if start + len > cut {
            cut = start;
        }
    }
    cut
}

/// Replaces every whole occurrence of the secret in raw bytes with `***` (as [`Secret::scrub`]
/// does for text, and like it ignoring values under four characters).
fn scrub_bytes(secret: Option<&Secret>, bytes: &mut Vec<u8>) {
    let Some(needle) = secret.map(|s| s.expose().as_bytes()) else {
        return;
    };
    if needle.len() < 4 || bytes.len() < needle.len() {
        return;
    }
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i..].starts_with(needle) {
            out.extend_from_slice(b"***");
            i += needle.len();
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    *bytes = out;
}

/// Hides the secret in text, if there is one.
pub fn scrub(secret: Option<&Secret>, text: &str) -> String {
    match secret {
        Some(s) => s.scrub(text),
        None => text.to_owned(),
    }
}

/// The last `max` bytes of a text (at a character boundary), trimmed.
pub fn tail(text: &str, max: usize) -> String {
    let text = text.trim_end();
    if text.len() <= max {
        return text.trim_start().to_owned();
    }
    let mut start = text.len() - max;
    while !text.is_char_boundary(start) {
        start += 1;
    }
    format!("…{}", &text[start..])
}

/// Runs the child to its end, streaming its output through `report` (whole lines, scrubbed,
/// with the stream they came from). Stops the whole group when `cancel` fires or when the
/// returned future is dropped.
pub async fn run(
    spec: Spec<'_>,
    cancel: &CancellationToken,
    report: impl FnMut(Stream, &str),
) -> Result<Finished, Stopped> {
    let (program, args) = spec
        .argv
        .split_first()
        .expect("argv is checked to be non-empty when it is built");
    let mut command = Command::new(program);
    command
        .args(args)
        .current_dir(spec.cwd)
        .env_clear()
        .envs(spec.env.iter().map(|(k, v)| (k, v)))
        .stdin(if spec.stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        // Its own process group: one signal reaches everything it starts.
        .process_group(0);
    let mut child: Child = command.spawn().map_err(Stopped::Spawn)?;
    // Declared after `child`, so it is dropped first: the group is signalled while the leader
    // is still unreaped, which keeps the group id from being reused under us.
    let mut guard = match child.id() {
        Some(pid) => GroupGuard::new(pid, spec.grace),
        None => GroupGuard {
            pgid: None,
            grace: spec.grace,
        },
    };
    // Written by a future polled alongside the reads, so a child that does not read its stdin
    // cannot stall us.
    let text = spec.stdin.map(str::to_owned);
    let stdin = child.stdin.take();
    let write = async move {
        if let (Some(text), Some(mut stdin)) = (text, stdin) {
            let _ = stdin.write_all(text.as_bytes()).await;
            let _ = stdin.shutdown().await;
        }
    };
    drive(
        &mut child,
        &mut guard,
        spec.grace,
        spec.secret,
        cancel,
        report,
        write,
    )
    .await
}

async fn drive(
    child: &mut Child,
    guard: &mut GroupGuard,
    grace: Duration,
    secret: Option<&Secret>,
    cancel: &CancellationToken,
    report: impl FnMut(Stream, &str),
    write_stdin: impl std::future::Future<Output = ()>,
) -> Result<Finished, Stopped> {
    let mut stdout = child.stdout.take();
    let mut stderr = child.stderr.take();
    let mut collector = Collector {
        secret,
        report,
        pending: [Vec::new(), Vec::new()],
        stdout: Vec::new(),
        stdout_cut: false,
        stderr_tail: Vec::new(),
    };
    let mut out_buf = vec![0u8; 8192];
    let mut err_buf = vec![0u8; 8192];
    let mut status: Option<ExitStatus> = None;
    // After the agent exits, its streams get `grace` to reach their end: something it left
    // running in the background may hold them open forever.
    let mut drain_until: Option<tokio::time::Instant> = None;
    tokio::pin!(write_stdin);
    let mut stdin_done = false;
    loop {
        if status.is_some() && stdout.is_none() && stderr.is_none() {
            break;
        }
        tokio::select! {
            () = &mut write_stdin, if !stdin_done => stdin_done = true,
            n = read(&mut stdout, &mut out_buf), if stdout.is_some() => match n {
                Some(n) => collector.push(Stream::Out, &out_buf[..n]),
                None => stdout = None,
            },
            n = read(&mut stderr, &mut err_buf), if stderr.is_some() => match n {
                Some(n) => collector.push(Stream::Err, &err_buf[..n]),
                None => stderr = None,
            },
            s = child.wait(), if status.is_none() => {
                status = Some(s.map_err(Stopped::Wait)?);
                drain_until = Some(tokio::time::Instant::now() + grace);
            }
            () = sleep_until(drain_until) => break,
            () = cancel.cancelled() => {
                guard.stop();
                return Err(Stopped::Cancelled);
            }
        }
    }
    // Whatever the agent left behind in its group goes now.
    guard.stop();
    let (stdout, stderr_tail) = collector.finish();
    Ok(Finished {
        status: status.expect("the loop ends only after the child was waited for"),
        stdout,
        stderr_tail,
    })
}

async fn read<R: AsyncRead + Unpin>(stream: &mut Option<R>, buf: &mut [u8]) -> Option<usize> {
    let s = stream.as_mut()?;
    match s.read(buf).await {
        Ok(0) | Err(_) => None,
        Ok(n) => Some(n),
    }
}

async fn sleep_until(deadline: Option<tokio::time::Instant>) {
    match deadline {
        Some(d) => tokio::time::sleep_until(d).await,
        None => std::future::pending().await,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn collect(secret: Option<&Secret>, chunks: &[&[u8]]) -> (Vec<String>, String, String) {
        let mut reports = Vec::new();
        let mut c = Collector {
            secret,
            report: |_: Stream, t: &str| reports.push(t.to_owned()),
            pending: [Vec::new(), Vec::new()],
            stdout: Vec::new(),
            stdout_cut: false,
            stderr_tail: Vec::new(),
        };
        for chunk in chunks {
            c.push(Stream::Out, chunk);
            c.push(Stream::Err, chunk);
        }
        let (out, err) = c.finish();
        (reports, out, err)
    }

    #[test]
    fn lines_are_reported_whole_and_scrubbed_across_chunk_boundaries() {
        let secret = Secret::new("sk-secret-value");
        let (reports, out, err) = collect(
            Some(&secret),
            &[b"key sk-sec", b"ret-value here\nnext", b" line\n"],
        );
        let all: String = reports.concat();
        assert!(
            !all.contains("sk-secret-value") && !all.contains("ret-value"),
            "{all}"
        );
        assert!(reports.iter().all(|r| r.ends_with('\n')), "{reports:?}");
        assert_eq!(out, "key *** here\nnext line\n");
        assert_eq!(err, "key *** here\nnext line");
    }

    #[test]
    fn a_long_line_without_an_end_is_reported_without_splitting_a_secret() {
        let secret = Secret::new("sk-secret-value");
        let mut long = vec![b'.'; LONG_LINE + 5];
        // The secret straddles the point where the long line is first reported.
        long.extend_from_slice(b"sk-secr");
        let (reports, out, _) = collect(Some(&secret), &[&long, "et-value é\n".as_bytes()]);
        let all: String = reports.concat();
        assert!(!all.contains("sk-secret-value"), "leaked");
        assert!(
            reports.len() >= 3,
            "the long line was reported before its end: {}",
            reports.len()
        );
        assert!(
            all.ends_with("***-value é\n") || all.ends_with("*** é\n"),
            "{}",
            &all[all.len() - 20..]
        );
        assert!(out.ends_with("*** é\n"));
        // No secret: the whole pending text is reported, and a split character survives.
        let mut long = vec![b'.'; LONG_LINE];
        long.extend_from_slice("é".as_bytes());
        let (reports, _, _) = collect(None, &[&long[..LONG_LINE + 1], &long[LONG_LINE + 1..]]);
        assert_eq!(reports.concat().chars().filter(|&c| c == 'é').count(), 2);
    }
}
