//! `symphony-bench`: engine benchmarks.
//!
//! `cargo run --release -p symphony-bench` runs every scenario, each in a child process of its
//! own (so peak memory belongs to one scenario), and writes `docs/benchmarks.md`.
//! `cargo run --release -p symphony-bench -- --scenario NAME` runs one scenario in this process
//! and prints its figures as one JSON line (`--runs N` overrides how many times, e.g. for
//! profiling). `--out PATH` writes the report elsewhere; `--list` names the scenarios.

mod measure;
mod report;
mod scenario;

use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};

fn main() -> Result<()> {
    let mut args = std::env::args().skip(1);
    let mut only = None;
    let mut runs = None;
    // crates/symphony-bench → the workspace root.
    let root = Path::new(env!("CARGO_MANIFEST_DIR"))
        .ancestors()
        .nth(2)
        .context("the bench crate sits two folders below the workspace root")?;
    let mut out = root.join("docs/benchmarks.md");
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--scenario" => only = Some(args.next().context("--scenario needs a name")?),
            "--runs" => {
                let n = args.next().context("--runs needs a number")?;
                runs = Some(n.parse::<usize>().with_context(|| format!("--runs {n}"))?);
            }
            "--out" => out = PathBuf::from(args.next().context("--out needs a path")?),
            "--list" => {
                for s in scenario::ALL {
                    println!("{}\t{}", s.name, s.describe());
                }
                return Ok(());
            }
            "-h" | "--help" => {
                println!(
                    "usage: symphony-bench [--scenario NAME [--runs N]] [--out PATH] [--list]\n\
                     Without --scenario, runs every scenario and writes docs/benchmarks.md."
                );
                return Ok(());
            }
            other => bail!("unknown argument `{other}`; try --help"),
        }
    }
    if cfg!(debug_assertions) {
        eprintln!("warning: this is a debug build; benchmark figures need --release");
    }
    match only {
        Some(name) => {
            let Some(s) = scenario::find(&name) else {
                let names: Vec<&str> = scenario::ALL.iter().map(|s| s.name).collect();
                bail!("no scenario `{name}`; there are: {}", names.join(", "));
            };
            let mut s = *s;
            if let Some(n) = runs {
                s.runs = n.max(1);
            }
            let figures = measure::run(&s)?;
            println!("{figures}");
            Ok(())
        }
        None => report::run_all(&out),
    }
}
