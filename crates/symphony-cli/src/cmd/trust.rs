//! `symphony trust FILE`, and the trust gate every command that plays a melody passes first.
//!
//! A melody is code from someone else: what it would do that needs a person's consent (programs
//! it runs, credentials it sends away from their provider, addresses it sends data to, a wider
//! `settings.network`) is listed, and it plays only once a person trusts it. On a terminal the
//! person is asked; a script passes `--trust` to say it on their behalf; with neither, the run
//! is refused with exit code 6. Trust is kept where the app keeps it (beside the run store), so
//! trust given in one is seen by the others.

use std::io::{BufRead, IsTerminal, Write};
use std::path::PathBuf;

use symphony_conductor::Registry;
use symphony_host::launch::Trusted;
use symphony_host::trust::{assess, trust_file_for, TrustStore};
use symphony_melody::Melody;
use symphony_store::Store;

use super::load_melody;
use super::run::StoreArgs;
use crate::exit::{Exit, Failure, Outcome};

/// Arguments of `symphony trust`.
#[derive(clap::Args)]
pub struct Args {
    /// The melody file to trust as it is now.
    #[arg(value_name = "FILE")]
    pub file: PathBuf,
    /// Do not ask: trust it (for scripts; say it only for melodies you know).
    #[arg(long)]
    pub yes: bool,
    #[command(flatten)]
    pub store: StoreArgs,
}

/// Runs `symphony trust FILE`: shows what the melody would do and, once the person agrees (or
/// with `--yes`), records the trust.
pub fn run(args: Args) -> Outcome {
    let registry = crate::registry::registry();
    let melody = load_melody(&args.file, &registry)?;
    let assessment = assess(&melody, &registry);
    let Some(fingerprint) = assessment.fingerprint.clone() else {
        outln!("{} needs no trust: it runs no program, sends no credential away from its provider, and reaches no address of its own choosing", args.file.display());
        return Ok(Exit::Success);
    };
    let store = trust_store(&args.store);
    if store
        .contains(&fingerprint)
        .map_err(|e| Failure::new(Exit::Io, e.to_string()))?
    {
        outln!("{} is trusted as it is already", args.file.display());
        return Ok(Exit::Success);
    }
    let facts: Vec<String> = assessment.facts.iter().map(ToString::to_string).collect();
    if !args.yes && !ask(&melody, &facts)? {
        return Err(untrusted(&melody, &facts, &args.file.display().to_string()));
    }
    record(&store, &melody, &assessment, &fingerprint)?;
    outln!(
        "trusted {} ({} fact{}); changing any of them asks again",
        args.file.display(),
        facts.len(),
        super::plural(facts.len())
    );
    Ok(Exit::Success)
}

/// Lets `melody` play only if it needs no trust or a person trusts it: already, now on the
/// terminal, or by `--trust`. `file` names it in the refusal ("symphony trust FILE"). The
/// decision is what the launcher takes to play it.
pub fn gate(
    melody: &Melody,
    registry: &Registry,
    store: &StoreArgs,
    trust_flag: bool,
    file: &str,
) -> Result<Trusted, Failure> {
    let assessment = assess(melody, registry);
    let Some(fingerprint) = assessment.fingerprint.clone() else {
        return Ok(Trusted::granted(&assessment));
    };
    let trust = trust_store(store);
    if trust
        .contains(&fingerprint)
        .map_err(|e| Failure::new(Exit::Io, e.to_string()))?
    {
        return Ok(Trusted::granted(&assessment));
    }
    let facts: Vec<String> = assessment.facts.iter().map(ToString::to_string).collect();
    if trust_flag {
        errln!(
            "trusting {} (--trust): {}",
            melody.melody.id,
            facts.join("; ")
        );
    } else if !ask(melody, &facts)? {
        return Err(untrusted(melody, &facts, file));
    }
    record(&trust, melody, &assessment, &fingerprint)?;
    Ok(Trusted::granted(&assessment))
}

/// The trust file of the user whose store `store` names (as the app finds it).
fn trust_store(store: &StoreArgs) -> TrustStore {
    let location = store.path.clone().unwrap_or_else(Store::default_path);
    TrustStore::new(trust_file_for(&location))
}

fn record(
    store: &TrustStore,
    melody: &Melody,
    assessment: &symphony_host::trust::Assessment,
    fingerprint: &str,
) -> Result<(), Failure> {
    let steps = assessment
        .facts
        .iter()
        .filter_map(|f| f.step())
        .map(str::to_owned)
        .collect();
    store
        .add(fingerprint.to_owned(), &melody.melody.id, steps)
        .map_err(|e| Failure::new(Exit::Io, e.to_string()))
}

/// Asks on the terminal; `false` without one (a script must pass `--trust`).
fn ask(melody: &Melody, facts: &[String]) -> Result<bool, Failure> {
    if !std::io::stdin().is_terminal() || !std::io::stderr().is_terminal() {
        return Ok(false);
    }
    let mut err = std::io::stderr().lock();
    let _ = writeln!(
        err,
        "“{}” would do this on your machine:",
        melody.melody.name
    );
    for f in facts {
        let _ = writeln!(err, "  • {f}");
    }
    let _ = write!(err, "Trust it? Only if you know where it came from. [y/N] ");
    let _ = err.flush();
    let mut answer = String::new();
    std::io::stdin()
        .lock()
        .read_line(&mut answer)
        .map_err(|e| Failure::new(Exit::Io, format!("reading the answer: {e}")))?;
    Ok(matches!(
        answer.trim().to_ascii_lowercase().as_str(),
        "y" | "yes"
    ))
}

fn untrusted(melody: &Melody, facts: &[String], file: &str) -> Failure {
    Failure::new(
        Exit::Untrusted,
        format!(
            "{} is not trusted, and it would:\n{}\nTrust it only if you know where it came from: answer yes when asked on a terminal, run `symphony trust {file}` first, or pass --trust",
            melody.melody.id,
            facts.iter().map(|f| format!("  • {f}")).collect::<Vec<_>>().join("\n")
        ),
    )
}
