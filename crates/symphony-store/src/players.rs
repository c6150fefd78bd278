//! Who plays a run. A run marked `running` in the store is either being played by some process
//! (this one, another on this machine, one on another machine sharing a Postgres store) or was
//! interrupted (the process was killed, the machine lost power). The recorder names its process
//! (`host:pid`) when the run starts or resumes and beats every [`BEAT`] while it plays; a run is
//! taken as played elsewhere while its player is heard from and, on this machine, its process
//! is still there. Only an interrupted run may be resumed: two processes playing one run would
//! both write its steps.

use std::sync::OnceLock;
use std::time::Duration;

/// How often a playing run's recorder says it is still there.
pub(crate) const BEAT: Duration = Duration::from_secs(5);

/// A player not heard from for this long is taken as gone (four beats missed), wherever it ran.
pub const SILENT_AFTER_MS: i64 = 20_000;

/// This process, as the store names it: `host:pid`.
pub(crate) fn this_player() -> &'static str {
    static PLAYER: OnceLock<String> = OnceLock::new();
    PLAYER.get_or_init(|| format!("{}:{}", host(), std::process::id()))
}

fn host() -> String {
    whoami::fallible::hostname().unwrap_or_else(|_| "unknown-host".into())
}

/// Whether a process other than this one plays the run now: the run is `running`, its player
/// was heard from within [`SILENT_AFTER_MS`] and, when it ran on this machine, its process is
/// still alive. A run this process plays is not "elsewhere" (its host knows it as live).
pub fn played_elsewhere(
    status: &str,
    player: Option<&str>,
    heard_at: Option<i64>,
    now_ms: i64,
) -> bool {
    let (Some(player), Some(heard_at)) = (player, heard_at) else {
        return false;
    };
    if status != "running" || player == this_player() || now_ms - heard_at > SILENT_AFTER_MS {
        return false;
    }
    match player.rsplit_once(':') {
        Some((host_name, pid)) if host_name == host() => pid.parse().is_ok_and(process_alive),
        _ => true,
    }
}

/// Whether a process of this machine is alive: signal 0 asks the kernel without sending
/// anything (no such process: gone; not ours to signal: alive). Where that cannot be asked
/// (Windows), it is assumed alive, and the heartbeat alone decides.
fn process_alive(pid: u32) -> bool {
    // A process that has ended but is not reaped yet (a zombie) still answers signal 0; it
    // plays nothing. Linux says so in /proc: "1234 (symphony) Z …".
    #[cfg(target_os = "linux")]
    if let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        let state = stat
            .rsplit_once(") ")
            .and_then(|(_, rest)| rest.chars().next());
        if matches!(state, Some('Z' | 'X')) {
            return false;
        }
    }
    #[cfg(unix)]
    {
        let Ok(pid) = i32::try_from(pid) else {
            return false;
        };
        !matches!(
            nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), None),
            Err(nix::errno::Errno::ESRCH)
        )
    }
    #[cfg(not(unix))]
    {
        let _ = pid;
        true
    }
}

/// How a person is told who plays a run: "process 4242 on build-7, heard from 3 s ago".
pub(crate) fn describe(player: &str, heard_at: i64, now_ms: i64) -> String {
    let ago = ((now_ms - heard_at).max(0) as f64 / 1000.0).round();
    format!("{}, heard from {ago} s ago", describe_player(player))
}

/// A player for a person: "process 4242 on build-7" (or "on this machine").
pub(crate) fn describe_player(player: &str) -> String {
    let (host_name, pid) = player.rsplit_once(':').unwrap_or((player, "?"));
    let place = if host_name == host() {
        "on this machine".to_owned()
    } else {
        format!("on {host_name}")
    };
    format!("process {pid} {place}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_live_process_of_this_machine_recently_heard_plays_the_run() {
        // Process 1 (init) is alive on any Linux machine; this process is not "elsewhere".
        let now = 1_000_000;
        let init = format!("{}:1", host());
        if cfg!(target_os = "linux") {
            assert!(played_elsewhere(
                "running",
                Some(&init),
                Some(now - 3000),
                now
            ));
        }
        assert!(!played_elsewhere(
            "running",
            Some(this_player()),
            Some(now),
            now
        ));
        // Quiet too long, finished, or never named: not played.
        assert!(!played_elsewhere(
            "running",
            Some(&init),
            Some(now - SILENT_AFTER_MS - 1),
            now
        ));
        assert!(!played_elsewhere("succeeded", Some(&init), Some(now), now));
        assert!(!played_elsewhere("running", None, None, now));
    }

    #[test]
    fn a_gone_process_of_this_machine_has_interrupted_its_run_at_once() {
        let now = 1_000_000;
        // Above the largest pid Linux (4,194,304) or macOS (99,999) gives: no such process.
        let gone = format!("{}:4999999", host());
        assert!(
            !played_elsewhere("running", Some(&gone), Some(now), now) || !cfg!(target_os = "linux")
        );
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn a_process_that_ended_and_is_not_reaped_yet_plays_nothing() {
        let mut child = std::process::Command::new("true").spawn().unwrap();
        let pid = child.id();
        // Not waited for: once it exits it stays a zombie until `wait` below.
        let mut alive = true;
        for _ in 0..100 {
            alive = process_alive(pid);
            if !alive {
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        assert!(!alive, "an ended process is not playing");
        child.wait().unwrap();
        assert!(process_alive(std::process::id()));
    }

    #[test]
    fn another_machine_is_believed_while_it_beats() {
        let now = 1_000_000;
        assert!(played_elsewhere(
            "running",
            Some("elsewhere.example:12"),
            Some(now - 1000),
            now
        ));
        assert!(!played_elsewhere(
            "running",
            Some("elsewhere.example:12"),
            Some(now - 60_000),
            now
        ));
        assert_eq!(
            describe("elsewhere.example:12", now - 3000, now),
            "process 12 on elsewhere.example, heard from 3 s ago"
        );
    }
}
