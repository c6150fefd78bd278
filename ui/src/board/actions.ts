/**
 * What the board's buttons do: focus a step, open a stored run, fork a run from a step, pin a
 * step's output. The board's one place that combines the backend with the stores.
 */
import { errorMessage } from "../backend";
import type { EventRecord, ForkRunArgs, PinInfo, RunRecord } from "../backend/types";
import { api, guardUnsaved } from "../app/actions";
import { useApp } from "../store/app";
import { useDoc } from "../store/doc";
import { useRun } from "../store/run";
import { usePins } from "../store/pins";
import { unseenEvents } from "./eventLog";
import { EVENT_FORMAT } from "./model";

/** Shows a step's last run (the debugger's tab) and selects it on the canvas. */
export function focusStep(step: string): void {
  useRun.getState().focus(step);
  useDoc.getState().select([step]);
  useApp.getState().setSide("run");
}

/**
 * Back to editing: no step selected, none in the debugger, the melody's own settings shown.
 * Esc does this when no field has the keyboard.
 */
export function backToEditing(): void {
  useDoc.getState().select([]);
  useRun.getState().focus(null);
  useApp.getState().setSide("settings");
}

/** Takes the run off the board (it stays in the history): the canvas is the editor again. */
export function clearBoard(): void {
  useRun.getState().clear();
  useApp.getState().setSide("settings");
}

/**
 * Collects the `run-events` batches of every run while `work` is in flight, for a run whose
 * id is not known yet (its first batches can arrive before the command answers).
 */
async function catching<T>(work: () => Promise<T>): Promise<{ result: T; caught: Map<string, EventRecord[]> }> {
  const caught = new Map<string, EventRecord[]>();
  const stop = api().onRunEvents(({ runId, events }) => {
    const list = caught.get(runId);
    if (list) list.push(...events);
    else caught.set(runId, [...events]);
  });
  try {
    return { result: await work(), caught };
  } finally {
    stop();
  }
}

/**
 * Opens a run from the history on the board: replayed to its end, or followed live when this
 * process is still playing it (the batches that arrived while it loaded are added).
 */
export async function openRun(runId: string): Promise<RunRecord | null> {
  try {
    const { result: record, caught } = await catching(() => api().openRun(runId));
    const run = useRun.getState();
    if (record.eventFormat > EVENT_FORMAT) {
      useApp
        .getState()
        .notify(
          `Run ${runId} was recorded by a newer Symphony (event format ${record.eventFormat}; this board reads ${EVENT_FORMAT}): what it does not know is left out. Update Symphony to see all of it.`,
          "error",
        );
    }
    run.openRecord(record, record.run.live);
    const late = unseenEvents(record.events, caught.get(runId) ?? []);
    if (record.run.live && late.length) useRun.getState().apply(late);
    return record;
  } catch (e) {
    useApp.getState().notify(`Could not open run ${runId}: ${errorMessage(e)}`, "error");
    return null;
  }
}

/** How often the board asks the store for news of a run another process is playing. */
const FOLLOW_EVERY_MS = 500;
let following: ReturnType<typeof setTimeout> | null = null;

/**
 * Opens a stored run from anywhere (the welcome view's latest runs): the melody it played goes
 * on the canvas (not tied to a file: it may differ from any file now), and the run on the
 * board. A run this process plays goes on live; a run another process plays into the same
 * store (a headless `symphony run` watched through `symphony serve`) is followed by asking for
 * the events after the last one seen, until it ends.
 */
export async function openStoredRun(runId: string): Promise<void> {
  if (following) clearTimeout(following);
  following = null;
  let melodyId: string;
  try {
    melodyId = (await api().openRun(runId, Number.MAX_SAFE_INTEGER)).melody.melody.id;
  } catch (e) {
    useApp.getState().notify(`Could not open run ${runId}: ${errorMessage(e)}`, "error");
    return;
  }
  if (useDoc.getState().melody?.melody.id !== melodyId && !(await guardUnsaved("Open this run's melody"))) return;
  const record = await openRun(runId);
  if (!record) return;
  if (useDoc.getState().melody?.melody.id !== record.melody.melody.id) {
    useDoc.getState().load(record.melody, "", "");
    useApp.getState().setView("editor");
  } else if (useApp.getState().view !== "editor") useApp.getState().setView("editor");
  if (!record.run.live && record.run.status === "running") follow(runId, record.lastSeq);
}

function follow(runId: string, afterSeq: number) {
  following = setTimeout(async () => {
    following = null;
    if (useRun.getState().runId !== runId) return;
    try {
      const next = await api().openRun(runId, afterSeq);
      if (useRun.getState().runId !== runId) return;
      useRun.getState().apply(next.events);
      const ended = next.events.some((e) => e.type === "runFinished") || next.run.status !== "running";
      if (!ended) follow(runId, next.lastSeq);
    } catch (e) {
      useApp.getState().notify(`Stopped following run ${runId}: ${errorMessage(e)}`, "error");
    }
  }, FOLLOW_EVERY_MS);
}

/**
 * Plays on a run that was interrupted (the app or the machine stopped mid-run): its finished
 * steps are kept, the rest played, and the board follows it live from where its log stopped.
 */
export async function continueInterrupted(runId: string): Promise<void> {
  try {
    const { caught } = await catching(() => api().continueRun(runId));
    await openStoredRun(runId);
    const record = useRun.getState().record;
    const late = record ? unseenEvents(record.events, caught.get(runId) ?? []) : [];
    if (late.length) useRun.getState().apply(late);
    useApp.getState().notify(`Resuming ${runId}: finished steps are kept, the rest plays now`);
  } catch (e) {
    useApp.getState().notify(`Could not resume run ${runId}: ${errorMessage(e)}`, "error");
  }
}

/** Continues a stopped run whose gate `step` was answered, keeping the gate in the debugger. */
export async function continueAnswered(runId: string, step: string): Promise<void> {
  await continueInterrupted(runId);
  if (useRun.getState().runId === runId) focusStep(step);
}

/**
 * Forks a run from a step (rerun, take again, or with edits) and follows the new run on the
 * board live, keeping the step in the debugger. Answers the new run's id (null if refused).
 */
export async function forkFrom(args: ForkRunArgs): Promise<string | null> {
  try {
    const { result, caught } = await catching(() => api().forkRun(args));
    const run = useRun.getState();
    run.begin();
    run.started(result.runId);
    // Batches that arrived before the answer; the app's subscription applies the later ones.
    const early = caught.get(result.runId);
    if (early?.length) useRun.getState().apply(early);
    focusStep(args.fromStep);
    const how = args.fresh ? "Taking it again" : args.melody || args.inputs ? "Forked with edits" : "Rerunning";
    useApp.getState().notify(`${how} from ${args.fromStep}: run ${result.runId}`);
    return result.runId;
  } catch (e) {
    useApp.getState().notify(`Could not fork the run: ${errorMessage(e)}`, "error");
    return null;
  }
}

/** Reads the pins of the melody `melodyId` (the editor's, by default) into the pins store. */
export async function refreshPins(melodyId = useDoc.getState().melody?.melody.id ?? null): Promise<void> {
  if (!melodyId) {
    usePins.getState().set(null, []);
    return;
  }
  try {
    const pins = await api().listPins(melodyId);
    usePins.getState().set(melodyId, pins);
  } catch {
    // No run store (or it cannot be read): nothing is pinned that this app can show.
    usePins.getState().set(melodyId, []);
  }
}

/** Pins a step to its output in a run: new runs of the melody reuse it until unpinned. */
export async function pinOutput(runId: string, step: string): Promise<PinInfo | null> {
  try {
    const pin = await api().pinStep(runId, step);
    useApp.getState().notify(`Pinned: new runs reuse this output of ${step} until unpinned`);
    await refreshPins(pin.melodyId);
    return pin;
  } catch (e) {
    useApp.getState().notify(`Could not pin ${step}: ${errorMessage(e)}`, "error");
    return null;
  }
}

export async function unpinOutput(melodyId: string, step: string): Promise<boolean> {
  try {
    await api().unpinStep(melodyId, step);
    useApp.getState().notify(`Unpinned ${step}: new runs play it again`);
    await refreshPins(melodyId);
    return true;
  } catch (e) {
    useApp.getState().notify(`Could not unpin ${step}: ${errorMessage(e)}`, "error");
    return false;
  }
}

/** The melody id of the board's run: its record's, its runStarted event's, or the editor's. */
export function boardMelodyId(): string | null {
  const { record, log } = useRun.getState();
  if (record) return record.run.melodyId;
  const started = log.find((e) => e.type === "runStarted");
  if (started && started.type === "runStarted") return started.melodyId;
  return useDoc.getState().melody?.melody.id ?? null;
}
