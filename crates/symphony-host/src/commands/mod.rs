//! Every command the app's UI can send, declared once: its name, its arguments struct (in
//! [`crate::wire`]), its result type, what it does (the `///` lines), and the one host call that
//! answers it.
//!
//! From this list come [`crate::Host::call`]'s dispatch (which `symphony serve`'s
//! `POST /api/<command>` and the desktop app's one generic `call` command both use), the typed
//! TypeScript client `ui/src/backend/generated/commands.ts` and the command table of
//! `docs/app-api.md` ([`render`]; tests fail when either is stale, `SYMPHONY_BLESS=1` rewrites
//! them). A command added here needs no code in an adapter or the UI's backend folder.
//!
//! The form of a declaration:
//!
//! ```text
//! /// What it does (a sentence or more: the doc table's text).
//! name(host, args: ArgsStruct) -> ResultType { /* a Result<ResultType, HostError> */ }
//! ```
//!
//! The UI's method takes the struct's fields as parameters in their order
//! (`openRun(runId, afterSeq?)`); `ArgsStruct as object` makes it take the object whole
//! (`forkRun(args)`). Commands that take nothing take [`NoArgs`]. Desktop-only commands (a
//! native dialog a person answers) are declared in `desktop { }` with the refusal
//! `Host::call` gives them: the desktop app writes those by hand, and only there may a person
//! grant trust or pick a file outside the project.

mod declare;
pub mod render;

use serde_json::Value;

use crate::error::HostError;
use crate::wire::*;
use crate::Host;
use declare::{commands, parse_args, to_json};
pub use declare::{Command, Place, TsType, UiArgs, WireType};

commands! {
    host {
        /// The project folder, which models this machine can play (`offline`, with a notice
        /// saying how to add a key or point at a local server, when no model is configured), and
        /// the wire formats a chat step can speak (`formats`, the default first).
        projectInfo(host, _: NoArgs) -> ProjectInfo { Ok(host.project_info().await) }

        /// Every `*.melody.json` under `melodies/`, then under `templates/` (melodies to start
        /// from: the welcome view lists them apart, and one opens as a new, unsaved melody).
        listMelodies(host, _: NoArgs) -> Vec<MelodyEntry> { host.list_melodies() }

        /// A melody file: `text` is the file's bytes, `melody` the parsed JSON, `problems` every
        /// validation problem.
        openMelody(host, a: OpenMelodyArgs) -> MelodyDocument { host.open_melody(&a.path) }

        /// Writes the melody in its canonical form (saving an unchanged melody changes no byte)
        /// and answers what was written.
        saveMelody(host, a: SaveMelodyArgs) -> MelodyDocument { host.save_melody(&a.path, a.melody) }

        /// Every validation problem of the melody.
        validateMelody(host, a: MelodyArgs) -> Vec<symphony_melody::Problem> {
            Ok(host.validate_melody(a.melody))
        }

        /// The step types of the conductor's registry, with their ports, config and capabilities.
        stepTypes(host, _: NoArgs) -> Vec<StepTypeInfo> { Ok(host.step_types()) }

        /// A SuperOptiX orchestra as a melody document (path empty, not saved).
        importSuperoptix(host, a: ImportSuperoptixArgs) -> MelodyDocument {
            host.import_superoptix(&a.yaml)
        }

        /// A shared `*.melody.json`'s text as a document (migrated, validated; path empty, not
        /// saved).
        importMelody(host, a: ImportMelodyArgs) -> MelodyDocument { host.import_melody(&a.text) }

        /// What the open melody changes from `base`, step by step and field by field (`symphony
        /// diff`'s engine), layout apart.
        compareMelodies(host, a: CompareMelodiesArgs) -> MelodyComparison {
            host.compare_melodies(a.base, a.melody)
        }

        /// The melody file as its git repository's HEAD has it (`path` is `HEAD:<path>`); git
        /// runs with hooks, fsmonitor, textconv and external diffs off.
        committedMelody(host, a: OpenMelodyArgs) -> MelodyDocument {
            host.committed_melody(&a.path).await
        }

        /// The shareable text: no credential values, step type versions pinned.
        exportMelody(host, a: MelodyArgs) -> ExportedMelody { host.export_melody(a.melody) }

        /// Step ids per capability; what the melody would do that needs a person's trust
        /// (`{ kind, step, text }`: programs, credentials sent away from their provider, addresses
        /// of its own, a wider network); whether it needs trust and has it (docs/security.md).
        permissions(host, a: MelodyArgs) -> Permissions { host.permissions(a.melody) }

        /// Starts a run; its events arrive on `run-events`. Refused with a message if the melody
        /// needs trust and is not trusted.
        startRun(host, a: StartRunArgs) -> RunStarted { host.start_run(a).await }

        /// Pauses a run this process plays.
        pauseRun(host, a: RunIdArgs) -> Done { host.pause_run(&a.run_id) }

        /// Resumes a paused run.
        resumeRun(host, a: RunIdArgs) -> Done { host.resume_run(&a.run_id) }

        /// Stops a run.
        stopRun(host, a: RunIdArgs) -> Done { host.stop_run(&a.run_id) }

        /// Plays on a run that was interrupted (the app or the machine stopped mid-run; the
        /// history shows it `running`, not `live` and not `playedElsewhere`), as `symphony resume`
        /// does: finished steps are given, the rest played, its events continue the same log in a
        /// new session, on `run-events`. Refused for a run that succeeded, one this process or
        /// another plays, a melody that needs trust and is not trusted, or a workspace outside
        /// the project.
        continueRun(host, a: RunIdArgs) -> RunStarted { host.continue_run(&a.run_id).await }

        /// Records a person's answer to a gate (`cue.gate`) a run waits at; the first answer
        /// wins. A run this process plays goes on at once, one another process plays takes it
        /// within a second, a stopped run when it is continued (`next` says which). Refused,
        /// saying why, for a gate that is not waiting or was answered already.
        answerGate(host, a: AnswerGateArgs) -> GateAnswerTaken { host.answer_gate(a).await }

        /// The run history, newest first (default 100, at most 1000), of one melody when
        /// `melodyId` is given. `melodyName` as the melody was run; `durationMs` (every session of
        /// a resumed run), `costUsd`, `tokens` from its totals once ended (`null` before);
        /// `reused` counts steps given or cached, `failed` failed steps; `live` while this process
        /// plays it; `playedElsewhere` names the process another process plays it in ("process
        /// 4242 on this machine, heard from 2 s ago"), `null` otherwise: a `running` run neither
        /// live nor played elsewhere was interrupted.
        listRuns(host, a: ListRunsArgs) -> Vec<RunEntry> {
            host.list_runs(a.melody_id.as_deref(), a.limit).await
        }

        /// A stored run: the melody as it was run, every event with its stored values in place (a
        /// resumed run's later sessions continue the earlier ones' `atMs`), `lastSeq` the last
        /// event's sequence number; with `afterSeq` only later events (poll with the last
        /// `lastSeq` to follow a run another process plays); `pinned` the steps of its melody
        /// pinned to an output.
        openRun(host, a: OpenRunArgs) -> RunRecord { host.open_run(&a.run_id, a.after_seq).await }

        /// A file from the run workspace's `files/` (relative path; no `..`; a link out of
        /// `files/` is refused; the workspace must be inside the project folder, a relative one
        /// taken from it); `text` when UTF-8 and at most 1 MiB, else `null` with `note` saying
        /// why; `previous` the same file's text in the parent run, for a fork.
        runFile(host, a: RunFileArgs) -> RunFileContent { host.run_file(&a.run_id, &a.path).await }

        /// A new run linked to `runId` (`parentId`, `forkStep`): the parent's outputs of every
        /// step not downstream of `fromStep` are given, pins hold except on `fromStep`,
        /// `fromStep` and what depends on it play again (the cache may serve an unchanged step:
        /// "rerun from here"); `fresh` plays `fromStep` anew ("take again"); `inputs` change run
        /// inputs (the parent's fill the rest), `melody` plays an edited melody, `output` gives
        /// `fromStep` these outputs by port (then only what follows plays). Started like
        /// `startRun` (trust, validation); events on `run-events`.
        forkRun(host, a: ForkRunArgs as object) -> RunStarted { host.fork_run(a).await }

        /// Later runs of the melody are given the output the step had in that run (origin
        /// `given`).
        pinStep(host, a: PinStepArgs) -> PinInfo { host.pin_step(&a.run_id, &a.step).await }

        /// Removes a step's pin.
        unpinStep(host, a: UnpinStepArgs) -> Done { host.unpin_step(&a.melody_id, &a.step).await }

        /// The melody's steps pinned to an output (the editor marks them 📌 and offers Unpin).
        listPins(host, a: ListPinsArgs) -> Vec<PinInfo> { host.list_pins(&a.melody_id).await }

        /// One line per step of either run, in the order of `a` (`-` as the outcome where a run
        /// lacks the step; `sameInputs` compares cache keys, `null` unless both have one).
        compareRuns(host, a: CompareRunsArgs) -> Vec<StepComparison> {
            host.compare_runs(&a.a, &a.b).await
        }

        /// The store's file (or Postgres URL without its password), its size, how many runs it
        /// holds, and its retention.
        storeInfo(host, _: NoArgs) -> StoreInfo { host.store_info().await }

        /// Removes all but the newest `keepRuns` runs (at least 1; runs playing are never
        /// removed); the setting holds for later runs, as `symphony runs retention --keep`.
        setRetention(host, a: SetRetentionArgs) -> StoreInfo { host.set_retention(a.keep_runs).await }

        /// Lists a model server's models with the key typed (never a stored one: a page cannot
        /// send a kept key to a URL it chose).
        testProvider(host, a: TestProviderArgs as object) -> ProviderTest {
            host.test_provider(a).await
        }

        /// Keeps a key in the user's store (the OS keychain, else their private file, mode 0600);
        /// the value is never echoed or logged.
        setCredential(host, a: SetCredentialArgs) -> CredentialSaved {
            host.set_credential(a).await
        }
    }

    desktop {
        /// The app process asks the person in a native dialog, listing what the melody would do,
        /// and answers what they said. A page cannot grant trust: over HTTP a person runs
        /// `symphony trust FILE`.
        trustMelody(MelodyArgs) -> Trusted,
            refused: "only a person grants trust, not a page or a script: in the desktop app, the Trust button asks you in a window of its own; with `symphony serve`, run `symphony trust FILE` in a terminal (it shows what the melody would do and asks you)";

        /// The system's file dialog, shown by the app process, for a melody to open anywhere on
        /// disk: the host admits that one file, named by the path answered in later `openMelody`
        /// and `saveMelody` calls; `null` if the person cancelled. Over HTTP a browser stays
        /// inside the project folder.
        pickMelodyToOpen(NoArgs) -> Option<String>,
            refused: "only a person picks a file outside the project, in the desktop app's own file dialog; a page stays inside the project folder";

        /// The system's save dialog, for where to save a melody anywhere on disk; admitted and
        /// answered like `pickMelodyToOpen`.
        pickMelodySaveLocation(PickSaveLocationArgs) -> Option<String>,
            refused: "only a person picks a file outside the project, in the desktop app's own file dialog; a page stays inside the project folder";
    }
}

/// The declared command `name`, if there is one.
pub fn find(name: &str) -> Option<&'static Command> {
    COMMANDS.iter().find(|c| c.name == name)
}
