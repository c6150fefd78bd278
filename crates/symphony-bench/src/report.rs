//! The parent side: runs each scenario in a child process, one at a time, and writes
//! `docs/benchmarks.md` with the table, the verdicts against the targets, the machine
//! and the reference figures of a popular Python engine.

use std::fmt::Write as _;
use std::path::Path;
use std::process::Command;

use anyhow::{bail, Context, Result};
use serde_json::Value;

use crate::scenario::{Scenario, Shape, Target, ALL};

/// A chain's per-step overhead may grow this much from 1,000 to 100,000 steps and still count
/// as linear (timer noise and cache effects, not a growing algorithm).
const LINEAR_SLACK: f64 = 1.5;

/// The figures of one scenario, read from its child.
struct Result1 {
    scenario: &'static Scenario,
    runs: usize,
    best_ms: f64,
    median_ms: f64,
    start_median_ms: f64,
    events: u64,
    peak_mb: f64,
    rss_after_build_mb: f64,
    build_ms: f64,
    /// A stored scenario: the store's bytes per step played.
    stored_bytes_per_step: Option<f64>,
    /// A stored scenario: the median overhead per step of the same melody unstored; a loop: of
    /// the static chain of as many steps (`Scenario::peer_shape`).
    unstored_overhead_us: Option<f64>,
}

impl Result1 {
    fn overhead_us(&self, wall_ms: f64) -> f64 {
        (wall_ms - self.scenario.ideal_ms()) * 1000.0 / self.scenario.steps() as f64
    }

    /// The targets for this scenario, each checked against the median run.
    fn checks(&self) -> Vec<Check> {
        let over = self.overhead_us(self.median_ms);
        let overhead = |us: f64| Check {
            target: format!("< {us} µs/step"),
            measured: format!("{over:.2} µs/step of overhead"),
            met: over < us,
        };
        match self.scenario.target {
            Target::OverheadPerStepUs(us) => vec![overhead(us)],
            Target::OverheadAndPeakMb(us, mb) => vec![
                overhead(us),
                Check {
                    target: format!("< {mb} MB peak"),
                    measured: format!("{:.1} MB peak RSS", self.peak_mb),
                    met: self.peak_mb < mb,
                },
            ],
            Target::WallMs(ms) => vec![Check {
                target: format!("< {ms} ms"),
                measured: format!(
                    "{} median wall (best {})",
                    fmt_ms(self.median_ms),
                    fmt_ms(self.best_ms)
                ),
                met: self.median_ms < ms,
            }],
            Target::StoredAddedUs(us) => match self.added_us() {
                Some(added) => vec![Check {
                    target: format!("< {us} µs/step added by the store"),
                    measured: format!("{added:.2} µs/step added"),
                    met: added < us,
                }],
                None => vec![Check {
                    target: format!("< {us} µs/step added by the store"),
                    measured: "no unstored run of the same melody to compare with".into(),
                    met: false,
                }],
            },
            Target::WithinOfChain(factor) => vec![match self.unstored_overhead_us {
                Some(chain) => Check {
                    target: format!("< {factor}× a static chain's overhead/step"),
                    measured: format!(
                        "{over:.2} µs/round against {chain:.2} µs/step ({:.2}×)",
                        over / chain
                    ),
                    met: over < factor * chain,
                },
                None => Check {
                    target: format!("< {factor}× a static chain's overhead/step"),
                    measured: "no chain of as many steps to compare with".into(),
                    met: false,
                },
            }],
            Target::None => Vec::new(),
        }
    }

    /// What persisting every event adds per step (median against median).
    fn added_us(&self) -> Option<f64> {
        self.unstored_overhead_us
            .map(|base| self.overhead_us(self.median_ms) - base)
    }
}

/// One target of the issue, checked.
struct Check {
    target: String,
    measured: String,
    met: bool,
}

/// Runs every scenario and writes the report to `out`.
pub fn run_all(out: &Path) -> Result<()> {
    let exe = std::env::current_exe().context("cannot find this program's path")?;
    let speed_before = speed_check();
    let mut results = Vec::new();
    for scenario in ALL {
        eprintln!("running {} ({} steps)…", scenario.name, scenario.steps());
        let output = Command::new(&exe)
            .args(["--scenario", scenario.name])
            .output()
            .with_context(|| format!("cannot start the child for {}", scenario.name))?;
        if !output.status.success() {
            bail!(
                "{} failed ({}): {}",
                scenario.name,
                output.status,
                String::from_utf8_lossy(&output.stderr)
            );
        }
        let stdout = String::from_utf8_lossy(&output.stdout);
        let line = stdout
            .lines()
            .last()
            .with_context(|| format!("{} printed nothing", scenario.name))?;
        eprint!("{}", String::from_utf8_lossy(&output.stderr));
        println!("{line}");
        let v: Value = serde_json::from_str(line)
            .with_context(|| format!("{} printed no JSON: {line}", scenario.name))?;
        results.push(read(scenario, &v)?);
    }
    // A stored scenario is judged against the unstored scenario of the same shape, a loop
    // against the chain of as many steps.
    let unstored: Vec<(Shape, f64)> = results
        .iter()
        .filter(|r| !r.scenario.stored)
        .map(|r| (r.scenario.shape, r.overhead_us(r.median_ms)))
        .collect();
    for r in results.iter_mut() {
        if let Some(peer) = r.scenario.peer_shape() {
            r.unstored_overhead_us = unstored
                .iter()
                .find(|(shape, _)| *shape == peer)
                .map(|(_, us)| *us);
        }
    }
    let speed = (speed_before, speed_check());
    let before = std::fs::read_to_string(out).unwrap_or_default();
    let markdown = with_notes(render(&results, &machine(), speed), &before);
    if let Some(dir) = out.parent() {
        std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    }
    std::fs::write(out, markdown).with_context(|| format!("cannot write {}", out.display()))?;
    eprintln!("wrote {}", out.display());
    Ok(())
}

/// The heading under which people add notes to the report (spot checks, comparisons run by
/// hand). A full run rewrites everything above it and keeps it and what follows.
const NOTES: &str = "## Notes";

/// `fresh`, the new report, with the notes section of `before` (the file as it was) kept at
/// its end.
fn with_notes(fresh: String, before: &str) -> String {
    let notes = before
        .lines()
        .position(|l| l.starts_with(NOTES))
        .map(|i| before.lines().skip(i).collect::<Vec<_>>().join("\n"));
    match notes {
        Some(notes) => format!("{}\n\n{}\n", fresh.trim_end(), notes.trim_end()),
        None => fresh,
    }
}

fn read(scenario: &'static Scenario, v: &Value) -> Result<Result1> {
    let num = |key: &str| {
        v[key]
            .as_f64()
            .with_context(|| format!("{}: `{key}` is missing", scenario.name))
    };
    let list = |key: &str| -> Result<Vec<f64>> {
        let mut xs: Vec<f64> = v[key]
            .as_array()
            .with_context(|| format!("{}: `{key}` is missing", scenario.name))?
            .iter()
            .filter_map(Value::as_f64)
            .collect();
        if xs.is_empty() {
            bail!("{}: `{key}` is empty", scenario.name);
        }
        xs.sort_by(f64::total_cmp);
        Ok(xs)
    };
    let walls = list("wall_ms")?;
    let starts = list("start_ms")?;
    Ok(Result1 {
        scenario,
        runs: walls.len(),
        best_ms: walls[0],
        median_ms: median(&walls),
        start_median_ms: median(&starts),
        events: num("events")? as u64,
        peak_mb: num("peak_rss_mb")?,
        rss_after_build_mb: num("rss_after_build_mb")?,
        build_ms: num("build_ms")? + num("load_ms")? + num("validate_ms")? + num("compile_ms")?,
        stored_bytes_per_step: v["stored_bytes_per_step"].as_f64(),
        unstored_overhead_us: None,
    })
}

/// A fixed single-threaded workload (sorting 2^20 pseudo-random numbers, best of 3), timed
/// before and after the scenarios: on a shared machine it shows whether the machine itself was
/// slow, or changed speed during the benchmark.
fn speed_check() -> f64 {
    (0..3)
        .map(|_| {
            let t = std::time::Instant::now();
            let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
            let mut v: Vec<u64> = (0..1u32 << 20)
                .map(|_| {
                    x = x
                        .wrapping_mul(6_364_136_223_846_793_005)
                        .wrapping_add(1_442_695_040_888_963_407);
                    x >> 11
                })
                .collect();
            v.sort_unstable();
            std::hint::black_box(&v);
            t.elapsed().as_secs_f64() * 1000.0
        })
        .fold(f64::INFINITY, f64::min)
}

fn median(sorted: &[f64]) -> f64 {
    let n = sorted.len();
    if n % 2 == 1 {
        sorted[n / 2]
    } else {
        (sorted[n / 2 - 1] + sorted[n / 2]) / 2.0
    }
}

/// Machine facts for the report.
struct Machine {
    nproc: String,
    cpu: String,
    date: String,
    rustc: String,
    commit: String,
}

fn machine() -> Machine {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("model name")?.split_once(':'))
                .map(|(_, m)| m.trim().to_owned())
        })
        .unwrap_or_else(|| "unknown".into());
    Machine {
        nproc: command("nproc", &[]).unwrap_or_else(|| {
            std::thread::available_parallelism()
                .map_or_else(|_| "unknown".into(), |n| n.to_string())
        }),
        cpu,
        date: command("date", &["-u", "+%Y-%m-%d %H:%M UTC"]).unwrap_or_else(|| "unknown".into()),
        rustc: command("rustc", &["--version"]).unwrap_or_else(|| "unknown".into()),
        commit: match command("git", &["rev-parse", "--short", "HEAD"]) {
            Some(c) => match command("git", &["status", "--porcelain", "--untracked-files=no"]) {
                Some(s) if !s.is_empty() => format!("{c} with uncommitted changes"),
                _ => c,
            },
            None => "unknown".into(),
        },
    }
}

fn command(program: &str, args: &[&str]) -> Option<String> {
    let out = Command::new(program).args(args).output().ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).trim().to_owned())
}

fn fmt_ms(ms: f64) -> String {
    if ms >= 100.0 {
        format!("{ms:.0} ms")
    } else if ms >= 10.0 {
        format!("{ms:.1} ms")
    } else {
        format!("{ms:.2} ms")
    }
}

fn render(results: &[Result1], m: &Machine, speed: (f64, f64)) -> String {
    let mut s = String::new();
    let w = &mut s;
    // Writing to a String cannot fail.
    let _ = writeln!(w, "# Engine benchmarks\n");
    let _ = writeln!(
        w,
        "No-op melodies of many shapes, played by the conductor with no workspace on a multi-thread \
         tokio runtime, with a listener task draining every event. Written by `symphony-bench`; \
         do not edit by hand.\n"
    );
    let _ = writeln!(
        w,
        "**How to rerun:** `cargo run --release -p symphony-bench` (all scenarios, rewrites this \
         file); `cargo run --release -p symphony-bench -- --scenario chain-1k` (one scenario, \
         prints a JSON line).\n"
    );
    let _ = writeln!(
        w,
        "**Why a target is missed, and what was done about it:** see \
         [performance.md](performance.md) (written by hand, with the profiles).\n"
    );
    let _ = writeln!(w, "## Machine\n");
    let _ = writeln!(w, "- Date: {}", m.date);
    let _ = writeln!(w, "- CPU: {} (`nproc` = {})", m.cpu, m.nproc);
    let _ = writeln!(w, "- Compiler: {} (release profile)", m.rustc);
    let _ = writeln!(w, "- Code: commit {}", m.commit);
    let _ = writeln!(
        w,
        "- Runtime: tokio multi-thread, default worker count (one per core)"
    );
    let drift = (speed.1 - speed.0).abs() / speed.0.min(speed.1);
    let _ = writeln!(
        w,
        "- Speed check (sorting 2^20 numbers on one thread, best of 3; compare across reruns): \
         {:.1} ms before the scenarios, {:.1} ms after{}\n",
        speed.0,
        speed.1,
        if drift > 0.2 {
            format!(
                " (the machine's speed changed by {:.0}% during the benchmark: treat the figures with care)",
                drift * 100.0
            )
        } else {
            String::new()
        }
    );

    let _ = writeln!(w, "## Results\n");
    let _ = writeln!(
        w,
        "| scenario | steps | runs | wall best | wall median | overhead/step (median) | events | peak RSS | prepare (once per melody) | target | met? |"
    );
    let _ = writeln!(w, "|---|---:|---:|---:|---:|---:|---:|---:|---:|---|---|");
    for r in results {
        let checks = r.checks();
        let (target, met) = if checks.is_empty() {
            ("—".to_owned(), "—".to_owned())
        } else {
            (
                checks
                    .iter()
                    .map(|c| c.target.as_str())
                    .collect::<Vec<_>>()
                    .join("; "),
                checks
                    .iter()
                    .map(|c| if c.met { "yes" } else { "**no**" })
                    .collect::<Vec<_>>()
                    .join("; "),
            )
        };
        let _ = writeln!(
            w,
            "| {} | {} | {} | {} | {} | {:.2} µs | {} | {:.1} MB | {} ({:.2} µs/step) | {} | {} |",
            r.scenario.name,
            r.scenario.steps(),
            r.runs,
            fmt_ms(r.best_ms),
            fmt_ms(r.median_ms),
            r.overhead_us(r.median_ms),
            r.events,
            r.peak_mb,
            fmt_ms(r.build_ms),
            r.build_ms * 1000.0 / r.scenario.steps() as f64,
            target,
            met
        );
    }
    let _ = writeln!(w);
    let _ = writeln!(
        w,
        "- *Wall* runs from `Conductor::start_prepared` until the run's report is in and every \
         event has been read by a listener task. *Overhead per step* is (wall − ideal) / steps, \
         where ideal is 0 for no-op scenarios and 10 ms (one wait; all waits run at once) for \
         the wait scenarios. This is the engine's cost of playing a run, the figure the targets \
         are about.\n\
         - *Prepare* is what a host does once per melody, not once per run, outside the timed \
         runs: building the JSON, `load_value`, `validate` and `Conductor::prepare_checked` \
         (compiling to indexes). `Conductor::start` does validate + compile + start in one call; \
         a host that plays a melody once pays both figures.\n\
         - *Peak RSS* is the child process's `VmHWM`: the whole process, including the melody the \
         benchmark holds, the tokio runtime and the events in flight. RSS right after building \
         the melody, before any run: {}.\n\
         - Each scenario runs in its own child process, one at a time. The machine is shared \
         (other agents may have been compiling), so medians can carry noise; best-of-runs is \
         the least disturbed figure.\n",
        results
            .iter()
            .map(|r| format!("{} {:.1} MB", r.scenario.name, r.rss_after_build_mb))
            .collect::<Vec<_>>()
            .join(", ")
    );

    let _ = writeln!(w, "### Scenarios\n");
    for r in results {
        let _ = writeln!(
            w,
            "- **{}**: {}. `Conductor::start_prepared` (run inputs, run state, spawning the scheduler): {} (median).",
            r.scenario.name,
            r.scenario.describe(),
            fmt_ms(r.start_median_ms)
        );
    }
    let _ = writeln!(w);

    let _ = writeln!(w, "## Against the targets\n");
    let by = |name: &str| results.iter().find(|r| r.scenario.name == name);
    for r in results {
        for c in r.checks() {
            let _ = writeln!(
                w,
                "- {}: target {}; measured {}: {}.",
                r.scenario.name,
                c.target,
                c.measured,
                if c.met { "met" } else { "**missed**" }
            );
        }
    }
    if let (Some(small), Some(big)) = (by("chain-1k"), by("chain-100k")) {
        // Judged on the best runs: the least disturbed by a shared machine.
        let (a, b) = (
            small.overhead_us(small.best_ms),
            big.overhead_us(big.best_ms),
        );
        let ratio = b / a;
        let median_ratio = big.overhead_us(big.median_ms) / small.overhead_us(small.median_ms);
        let _ = writeln!(
            w,
            "- Linear up to 100,000 steps: in the best runs chain-1k costs {a:.2} µs/step and \
             chain-100k {b:.2} µs/step ({ratio:.2}×; {median_ratio:.2}× between medians). {}",
            if ratio <= LINEAR_SLACK {
                format!("The time per step does not grow by more than {LINEAR_SLACK}×: **linear**.")
            } else {
                format!("The time per step **grows** by more than {LINEAR_SLACK}×: not linear.")
            }
        );
    }

    let _ = writeln!(w);

    let stored: Vec<&Result1> = results.iter().filter(|r| r.scenario.stored).collect();
    if !stored.is_empty() {
        let _ = writeln!(w, "## Persisted runs\n");
        let _ = writeln!(
            w,
            "The same chains with every event written to a SQLite run store (`symphony-store`: \
             one writer task, batched transactions, WAL, outputs stored once by content hash), \
             the clock stopping only when the store has committed the last event. The Python \
             engine's SQLite checkpointer, for reference (from the issue): 1.25 s for the \
             1,000-step chain and ~71 KB stored per step at 1,000 steps, growing with the graph.\n"
        );
        let _ = writeln!(
            w,
            "| scenario | wall median | overhead/step | unstored overhead/step | added by the store | bytes stored per step |"
        );
        let _ = writeln!(w, "|---|---:|---:|---:|---:|---:|");
        for r in &stored {
            let _ = writeln!(
                w,
                "| {} | {} | {:.2} µs | {} | {} | {} |",
                r.scenario.name,
                fmt_ms(r.median_ms),
                r.overhead_us(r.median_ms),
                r.unstored_overhead_us
                    .map_or_else(|| "—".into(), |us| format!("{us:.2} µs")),
                r.added_us()
                    .map_or_else(|| "—".into(), |us| format!("{us:.2} µs")),
                r.stored_bytes_per_step
                    .map_or_else(|| "—".into(), |b| format!("{b:.0} B")),
            );
        }
        let per_step: Vec<f64> = stored
            .iter()
            .filter_map(|r| r.stored_bytes_per_step)
            .collect();
        if let (Some(lo), Some(hi)) = (
            per_step.iter().copied().reduce(f64::min),
            per_step.iter().copied().reduce(f64::max),
        ) {
            let _ = writeln!(
                w,
                "\nBytes per step vary by {:.1}% between the smallest and the largest melody: {}.\n",
                (hi - lo) / lo * 100.0,
                if hi / lo <= 1.1 {
                    "constant as the melody grows"
                } else {
                    "**growing** with the melody"
                }
            );
        }
    }

    let _ = writeln!(w, "## Compared with a popular Python engine\n");
    let _ = writeln!(
        w,
        "Reference figures from the issue (not measured here, and on another machine):\n"
    );
    let _ = writeln!(
        w,
        "| workload | Python engine | Symphony (median, this machine) |"
    );
    let _ = writeln!(w, "|---|---:|---:|");
    let rows: [(&str, &str, Option<&str>); 4] = [
        ("1,000-step chain", "219 ms", Some("chain-1k")),
        ("5,000-step chain (grows quadratically)", "2.7 s", None),
        ("1,000-way fan-out", "242 ms", Some("fanout-1k")),
        ("1,000 parallel 10 ms waits", "254 ms", Some("wait-1k")),
    ];
    for (what, python, ours) in rows {
        let ours = match ours.and_then(by) {
            Some(r) => fmt_ms(r.median_ms),
            None => match (by("chain-1k"), by("chain-10k")) {
                (Some(_), Some(ten)) => format!("not run (chain-10k: {})", fmt_ms(ten.median_ms)),
                _ => "not run".into(),
            },
        };
        let _ = writeln!(w, "| {what} | {python} | {ours} |");
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_full_run_rewrites_the_report_and_keeps_the_notes_people_added() {
        let before = "# Benchmarks\n\nold table\n\n## Notes\n\n### Spot check\n\nby hand\n";
        assert_eq!(
            with_notes("# Benchmarks\n\nnew table\n".into(), before),
            "# Benchmarks\n\nnew table\n\n## Notes\n\n### Spot check\n\nby hand\n"
        );
        // No notes, or no file yet: the new report as it is.
        assert_eq!(with_notes("new\n".into(), "# old\n"), "new\n");
        assert_eq!(with_notes("new\n".into(), ""), "new\n");
    }
}
