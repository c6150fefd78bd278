/**
 * What the user's commands do: open, save, import, export, run. The one place that combines the
 * backend with the stores, so components stay thin and every button and shortcut calls the same
 * function.
 */
import { connectBackend, connectedServer, errorMessage, httpBackend, type Backend } from "../backend";
import type { EventRecord, Json, MelodyDocument, MelodyFile } from "../backend/types";
import { useDoc } from "../store/doc";
import { useRun } from "../store/run";
import { ask, useApp } from "../store/app";
import { autoLayout } from "../model/autolayout";
import { addComment, addGroup, moveItems, newMelody } from "../model/edits";
import { isClip, type Clip } from "../model/clipboard";
import { idStem, uniqueMelodyId } from "../model/ids";
import { runStanding } from "../board/runs";
import { forgetDraft, keptDraft } from "../store/draft";
import { refreshPins } from "../board/actions";
import { followEdits } from "./compare";
import type { Point } from "../backend/types";

let backend: Backend | null = null;

/** The parsed melody of a document, or an error that lists why the file is not one. */
function melodyOf(doc: MelodyDocument): MelodyFile {
  if (doc.melody) return doc.melody;
  const why = doc.problems.map((p) => `${p.path}: ${p.message}`).join("; ");
  throw { message: `${doc.path || "The file"} is not a melody Symphony can read${why ? `: ${why}` : "."}` };
}

export function api(): Backend {
  if (!backend) backend = connectBackend();
  return backend;
}

/** Loads the project, step types and example melodies, and starts listening for events. */
export async function startup(): Promise<void> {
  const b = api();
  try {
    const [project, types, melodies] = await Promise.all([b.projectInfo(), b.stepTypes(), b.listMelodies()]);
    useApp.getState().setProject(project, types, melodies);
    useDoc.getState().setTypes(types);
  } catch (e) {
    useApp.getState().setStartupError(errorMessage(e));
    return;
  }
  b.onRunEvents(({ runId, events }) => receiveRunEvents(runId, events));
  void noticeInterruptedRuns();
  void offerKeptDraft();
  b.onFileChanged(({ path, hash, deleted }) => {
    fileEvents = fileEvents.then(() => fileChanged(path, hash, deleted)).catch(() => undefined);
  });
  startValidation();
  followEdits();
  // The pins of the open melody: read again when another melody (or id) is open.
  useDoc.subscribe((s, prev) => {
    const id = s.melody?.melody.id ?? null;
    if (id !== (prev.melody?.melody.id ?? null)) void refreshPins(id);
  });
}

/** After a UI fault kept unsaved work in this browser (`ErrorBoundary`), offers it back once. */
async function offerKeptDraft(): Promise<void> {
  const draft = keptDraft();
  if (!draft) return;
  const when = draft.at ? new Date(draft.at).toLocaleString() : "earlier";
  const restore = await ask(
    "Restore unsaved work?",
    `Symphony kept unsaved edits to “${draft.melody.melody.name}”${draft.path ? ` (${draft.path})` : ""} when the editor failed (${when}). Open them now?`,
    "Restore",
    "Discard",
  );
  forgetDraft();
  if (!restore) return;
  useDoc.getState().load(draft.melody, draft.path, "");
  useDoc.setState({ saved: null, dirty: true });
  useRun.getState().clear();
  useApp.getState().setView("editor");
}

/**
 * Asks the backend again which models this machine can play (after a key was kept, say), so
 * the offline notice and the model pickers change without reopening the project.
 */
export async function refreshProject(): Promise<void> {
  try {
    const project = await api().projectInfo();
    const { types, melodies } = useApp.getState();
    useApp.getState().setProject(project, types, melodies);
  } catch (e) {
    useApp.getState().notify(errorMessage(e), "error");
  }
}

// ----- Runs -----

/**
 * On startup: runs the store holds as running that no process plays were interrupted (the app or
 * the machine stopped mid-run). Say so once; the welcome view lists them with a Resume button.
 * Runs another process plays into the same store are not mentioned: they are not stopped.
 */
async function noticeInterruptedRuns(): Promise<void> {
  try {
    const runs = await api().listRuns(undefined, 50);
    const stopped = runs.filter((r) => runStanding(r) === "interrupted");
    if (stopped.length === 0) return;
    const one = stopped[0]!;
    useApp.getState().notify(
      stopped.length > 1
        ? `${stopped.length} runs were interrupted before they finished: resume them from Latest runs.`
        : one.waiting.length > 0
          ? `Run ${one.id} was interrupted while it waited for your approval at ${one.waiting.join(", ")}: open it from Latest runs to answer, then continue it.`
          : `Run ${one.id} was interrupted before it finished: resume it from Latest runs.`,
    );
  } catch {
    // The history is advisory here; the welcome view says if the store cannot be read.
  }
}

/** Events for runs whose id `startRun` has not returned yet (the first batch can beat the reply). */
const early = new Map<string, EventRecord[]>();

/**
 * Batches of the board's run not applied yet. They are applied once per animation frame: a page
 * that falls behind (a huge melody zoomed out, a busy machine) catches up in one render with
 * everything that arrived, instead of queueing one render per batch.
 */
let pending: { runId: string; events: EventRecord[] } | null = null;
let frame = 0;

function flushRunEvents() {
  frame = 0;
  const batch = pending;
  pending = null;
  const run = useRun.getState();
  if (batch && run.runId === batch.runId && run.source === "live") run.apply(batch.events);
}

function receiveRunEvents(runId: string, events: EventRecord[]) {
  const run = useRun.getState();
  if (run.runId === runId && run.source === "live") {
    if (!pending || pending.runId !== runId) pending = { runId, events: [] };
    for (const e of events) pending.events.push(e);
    frame ||= requestAnimationFrame(flushRunEvents);
  } else if (run.phase === "starting") {
    const list = early.get(runId);
    if (list) for (const e of events) list.push(e);
    else early.set(runId, [...events]);
  }
}

// ----- Conductors -----

/** The conductor this window is connected to over HTTP, when it is not its own backend. */
export function remoteConductor(): string | null {
  return connectedServer();
}

/**
 * Connects this window to a conductor that `symphony serve` hosts (on this machine or through
 * an SSH tunnel): checks the address and token answer, then reloads the UI against it.
 */
export async function connectToConductor(address: string, token: string): Promise<string | null> {
  const url = address.trim().replace(/\/+$/, "");
  if (!/^https?:\/\/[^/]+$/.test(url)) return "The address looks like http://127.0.0.1:7878 (scheme, host and port only).";
  try {
    const info = await httpBackend(url, token.trim()).projectInfo();
    if (!info.root) return "That server did not answer like a Symphony conductor.";
  } catch (e) {
    return errorMessage(e);
  }
  const params = new URLSearchParams({ server: url, token: token.trim() });
  window.location.search = `?${params.toString()}`;
  return null;
}

/** Back to this app's own conductor. */
export function disconnectConductor(): void {
  window.location.search = "";
}

/** Asks the backend what the open melody may do and whether it is trusted, for the toolbar. */
export async function refreshPermissions(): Promise<void> {
  const melody = useDoc.getState().melody;
  if (!melody) return;
  try {
    const perms = await api().permissions(melody);
    if (useDoc.getState().melody === melody) useDoc.getState().setPermissions(perms);
  } catch {
    // An unreadable melody has no permissions to show; validation reports why.
    if (useDoc.getState().melody === melody) useDoc.getState().setPermissions(null);
  }
}

/**
 * Shows what the melody may do. An import always shows it; a run only when the melody needs
 * trust the person has not given. True when it may run (it needs no trust, or is trusted).
 *
 * Only a person grants trust: in the desktop app, "Trust…" makes the app process ask in a
 * native dialog; over `symphony serve` the page cannot, so it says to run `symphony trust FILE`
 * in a terminal and then checks again.
 */
async function ensureTrusted(melody: MelodyFile, reason: "import" | "run" | "review"): Promise<boolean> {
  const perms = await api().permissions(melody);
  if (useDoc.getState().melody === melody) useDoc.getState().setPermissions(perms);
  if (reason === "run" && perms.trusted) return true;
  const wanted = await new Promise<boolean>((resolve) =>
    useApp.getState().open({ kind: "permissions", permissions: perms, reason, resolve }),
  );
  useApp.getState().open(null);
  if (!perms.needsTrust) return true;
  if (!wanted) return perms.trusted;
  const ask = api().trustMelody;
  if (ask) {
    const { trusted } = await ask(melody);
    await refreshPermissions();
    if (trusted) useApp.getState().notify(`Trusted: ${perms.facts.length} thing${perms.facts.length === 1 ? "" : "s"} it does that needed your trust.`);
    return trusted;
  }
  // Over HTTP the person trusted it in a terminal (or not): ask the backend again.
  const again = await api().permissions(melody);
  if (useDoc.getState().melody === melody) useDoc.getState().setPermissions(again);
  if (again.trusted) useApp.getState().notify("Trusted: it may run now.");
  return again.trusted;
}

/** The toolbar's permissions button: see what the melody may do, and trust it. */
export async function reviewPermissions(): Promise<void> {
  const { melody } = useDoc.getState();
  if (!melody) return;
  try {
    await ensureTrusted(melody, "review");
  } catch (e) {
    useApp.getState().notify(errorMessage(e), "error");
  }
}

export async function startRun(inputs: Record<string, Json>): Promise<void> {
  const { melody, path } = useDoc.getState();
  if (!melody) return;
  const run = useRun.getState();
  try {
    if (!(await ensureTrusted(melody, "run"))) {
      const facts = useDoc.getState().permissions?.facts ?? [];
      useApp.getState().notify(
        `Not run: it is not trusted, and ${facts.map((f) => f.text).join("; ") || "it does what needs your trust"}. Review and trust it with the toolbar's "⚠ Untrusted" button.`,
        "error",
      );
      return;
    }
    run.begin();
    early.clear();
    const { runId } = await api().startRun(melody, path || undefined, inputs);
    useRun.getState().started(runId);
    const buffered = early.get(runId);
    early.clear();
    if (buffered) useRun.getState().apply(buffered);
  } catch (e) {
    useRun.getState().failedToStart(errorMessage(e));
    useApp.getState().notify(`Could not start the run: ${errorMessage(e)}`, "error");
  }
}

export async function pauseOrResume(): Promise<void> {
  const { runId, phase } = useRun.getState();
  if (!runId) return;
  try {
    if (phase === "paused") await api().resumeRun(runId);
    else await api().pauseRun(runId);
  } catch (e) {
    useApp.getState().notify(errorMessage(e), "error");
  }
}

export async function stopRun(): Promise<void> {
  const { runId } = useRun.getState();
  if (!runId) return;
  try {
    await api().stopRun(runId);
  } catch (e) {
    useApp.getState().notify(errorMessage(e), "error");
  }
}

// ----- Files -----

/** Asks before throwing away unsaved edits; true when it is fine to go on. */
export async function guardUnsaved(what: string): Promise<boolean> {
  if (!useDoc.getState().dirty) return true;
  return ask("Unsaved changes", `This melody has edits that are not saved. ${what} anyway and lose them?`, "Discard edits", "Keep editing");
}

export async function openMelody(path: string): Promise<void> {
  if (!(await guardUnsaved("Open another melody"))) return;
  await openMelodyUnguarded(path);
}

async function openMelodyUnguarded(path: string): Promise<void> {
  try {
    const doc = await api().openMelody(path);
    useDoc.getState().load(melodyOf(doc), doc.path, doc.hash, doc.problems);
    useRun.getState().clear();
    useApp.getState().setView("editor");
  } catch (e) {
    useApp.getState().notify(`Could not open ${path}: ${errorMessage(e)}`, "error");
  }
}

/** Whether melodies can be opened and saved outside the project (the desktop app's dialogs). */
export function canPickFiles(): boolean {
  return api().pickMelodyToOpen !== undefined;
}

/** Opens a melody from anywhere on disk, chosen in the system's file dialog (desktop only). */
export async function openFromDisk(): Promise<void> {
  const pick = api().pickMelodyToOpen;
  if (!pick) return;
  if (!(await guardUnsaved("Open another melody"))) return;
  try {
    const path = await pick();
    if (path) await openMelodyUnguarded(path);
  } catch (e) {
    useApp.getState().notify(`Could not open the file: ${errorMessage(e)}`, "error");
  }
}

/** Saves the melody under a new name: anywhere on disk in the desktop app, else in the project. */
export async function saveAs(): Promise<boolean> {
  const { melody } = useDoc.getState();
  if (!melody) return false;
  const chosen = await choosePlace(melody);
  if (!chosen) return false;
  return save(chosen);
}

async function choosePlace(melody: MelodyFile): Promise<string | null> {
  const pickSave = api().pickMelodySaveLocation;
  if (pickSave) {
    const name = suggestedPath(melody).split("/").pop() ?? "melody.melody.json";
    try {
      return await pickSave(name);
    } catch (e) {
      useApp.getState().notify(`Could not choose where to save: ${errorMessage(e)}`, "error");
      return null;
    }
  }
  const chosen = await new Promise<string | null>((resolve) => useApp.getState().open({ kind: "saveAs", resolve }));
  useApp.getState().open(null);
  return chosen;
}

/** Whether a listed melody is a template (under `templates/`), to start new melodies from. */
export function isTemplate(path: string): boolean {
  return path.startsWith("templates/");
}

/** Melody ids the project's melodies use (besides the file at `except`): runs and pins are keyed by id. */
export function takenMelodyIds(except = ""): Set<string> {
  return new Set(
    useApp
      .getState()
      .melodies.filter((m) => !isTemplate(m.path) && !samePath(m.path, except))
      .map((m) => m.id),
  );
}

/**
 * A new melody from a template: the template's steps, under an id of its own (so its runs are
 * its own), unsaved, so saving asks where. The template file is left as it is.
 */
export async function startFromTemplate(path: string): Promise<void> {
  if (!(await guardUnsaved("Start a new melody"))) return;
  try {
    const doc = await api().openMelody(path);
    const template = melodyOf(doc);
    const id = uniqueMelodyId(template.melody.id, takenMelodyIds());
    const melody = { ...template, melody: { ...template.melody, id } };
    useDoc.getState().load(melody, "", "", doc.problems);
    useDoc.setState({ saved: null, dirty: true });
    useRun.getState().clear();
    useApp.getState().setView("editor");
  } catch (e) {
    useApp.getState().notify(`Could not start from ${path}: ${errorMessage(e)}`, "error");
  }
}

export async function createMelody(): Promise<void> {
  if (!(await guardUnsaved("Start a new melody"))) return;
  // Never "untitled" twice: a new melody must not show another one's runs in its history.
  useDoc.getState().load(newMelody(uniqueMelodyId("untitled", takenMelodyIds()), "Untitled melody"), "", "");
  useRun.getState().clear();
  useApp.getState().setView("editor");
}

export async function goHome(): Promise<void> {
  if (!(await guardUnsaved("Close this melody"))) return;
  useDoc.getState().close();
  useRun.getState().clear();
  useApp.getState().setView("welcome");
  try {
    useApp.getState().setMelodies(await api().listMelodies());
  } catch (e) {
    useApp.getState().notify(errorMessage(e), "error");
  }
}

function commitFocusedField() {
  const el = document.activeElement;
  if (el instanceof HTMLInputElement || el instanceof HTMLTextAreaElement || el instanceof HTMLSelectElement) el.blur();
}

/** The save in flight, if any: a `file-changed` for our own write must wait for its new hash. */
let saving: Promise<boolean> | null = null;

/** Saves the melody, to `to` if given (a place chosen with Save as), else where it came from. */
export function save(to?: string): Promise<boolean> {
  if (saving) return saving;
  saving = doSave(to).finally(() => {
    saving = null;
  });
  return saving;
}

async function doSave(to?: string): Promise<boolean> {
  commitFocusedField();
  let { melody } = useDoc.getState();
  let path = to ?? useDoc.getState().path;
  if (!melody) return false;
  if (!path) {
    const chosen = await choosePlace(melody);
    if (!chosen) return false;
    path = chosen;
  }
  // Runs, history and pins are keyed by the melody's id: a file saved beside another melody
  // with the same id (an import, a copy) takes a free one rather than share theirs.
  const taken = takenMelodyIds(path);
  if (taken.has(melody.melody.id)) {
    const was = melody.melody.id;
    const id = uniqueMelodyId(was, taken);
    useDoc.getState().edit((m) => ({ ...m, melody: { ...m.melody, id } }));
    melody = useDoc.getState().melody!;
    useApp.getState().notify(`Another melody in this project has the id ${was}: this one is saved as ${id}, so their runs and pins stay apart.`);
  }
  try {
    const doc = await api().saveMelody(path, melody);
    useDoc.getState().markSaved(melody, doc.melody ?? melody, doc.path, doc.hash);
    useDoc.getState().setProblems(doc.problems);
    useApp.getState().notify(`Saved ${doc.path}`);
    void api()
      .listMelodies()
      .then((list) => useApp.getState().setMelodies(list))
      .catch(() => undefined);
    return true;
  } catch (e) {
    useApp.getState().notify(`Could not save: ${errorMessage(e)}`, "error");
    return false;
  }
}

export function suggestedPath(melody: MelodyFile): string {
  const dir = useApp.getState().project?.melodiesDir ?? "melodies";
  return `${dir.replace(/\/$/, "")}/${idStem(melody.melody.id || melody.melody.name)}.melody.json`;
}

let reloadAsked = false;

/**
 * File events are handled one at a time, in the order they came: a reload still reading the
 * file must not land after a later event (a deletion) was handled, which would leave the editor
 * believing the file is there with its old bytes.
 */
let fileEvents: Promise<void> = Promise.resolve();

async function fileChanged(path: string, hash: string, deleted: boolean): Promise<void> {
  // Our own save announces itself too; compare against the hash it returns, not the old one.
  if (saving) await saving.catch(() => false);
  const doc = useDoc.getState();
  if (!doc.melody || !doc.path || reloadAsked) return;
  if (!samePath(path, doc.path) || hash === doc.hash) return;
  // An event can be stale: the watcher may read the file between a save's write and the host
  // noting it, and deliver that after a later save of this window. What is on disk now decides:
  // when it is what this window has, there is nothing to reload (a reload would also drop the
  // undo history).
  let fresh: MelodyDocument | null = null;
  try {
    fresh = await api().openMelody(doc.path);
  } catch (e) {
    if (!deleted) {
      useApp.getState().notify(errorMessage(e), "error");
      return;
    }
  }
  const now = useDoc.getState();
  if (now.path !== doc.path || !now.melody) return;
  if (fresh && fresh.hash === now.hash) return;
  if (!fresh) {
    // Nothing to reload: keep the melody open, unsaved, so closing asks and Save writes it back.
    useDoc.setState({ saved: null, dirty: true, hash: "" });
    useApp.getState().notify(`${doc.path} was deleted on disk. It is still open here: Save writes it again.`, "error");
    return;
  }
  if (now.dirty) {
    reloadAsked = true;
    const ok = await ask(
      "The file changed on disk",
      `${doc.path} was changed outside the editor. Reload it and lose your unsaved edits?`,
      "Reload",
      "Keep my edits",
    );
    reloadAsked = false;
    if (!ok) {
      // Remember the new hash so saving overwrites knowingly and we do not ask again for it.
      useDoc.setState({ hash: fresh.hash });
      return;
    }
    try {
      // It may have changed again while the person decided.
      fresh = await api().openMelody(doc.path);
    } catch (e) {
      useApp.getState().notify(errorMessage(e), "error");
      return;
    }
  }
  useDoc.getState().load(melodyOf(fresh), fresh.path, fresh.hash, fresh.problems);
  useApp.getState().notify(`Reloaded ${fresh.path}: it changed on disk.`);
}

function samePath(a: string, b: string): boolean {
  return a === b || a.endsWith(`/${b}`) || b.endsWith(`/${a}`);
}

/** Whether pasted or picked text is a melody file (JSON) rather than a SuperOptiX orchestra (YAML). */
export function isMelodyText(text: string): boolean {
  return text.trimStart().startsWith("{");
}

/**
 * Imports what someone shared: a `*.melody.json` or a SuperOptiX orchestra YAML. It opens as a
 * new, unsaved melody (saving asks where), laid out if it has no layout, and what it may do is
 * shown before anything runs: a melody from someone else is untrusted.
 */
export async function importShared(text: string): Promise<void> {
  if (!(await guardUnsaved("Import"))) return;
  try {
    const doc = isMelodyText(text) ? await api().importMelody(text) : await api().importSuperoptix(text);
    const imported = melodyOf(doc);
    useDoc.getState().load(imported, "", "", doc.problems);
    // A new document: saving it must ask for a place. It is dirty until saved.
    useDoc.setState({ saved: null, dirty: true });
    useRun.getState().clear();
    useApp.getState().setView("editor");
    if (!useDoc.getState().melody?.layout?.steps || Object.keys(useDoc.getState().melody?.layout?.steps ?? {}).length === 0) {
      const positions = autoLayout(imported, useDoc.getState().types);
      useDoc.getState().load(moveItems(imported, positions), "", "", doc.problems);
      useDoc.setState({ saved: null, dirty: true });
    }
    await ensureTrusted(useDoc.getState().melody!, "import");
  } catch (e) {
    useApp.getState().notify(`Could not import: ${errorMessage(e)}`, "error");
  }
}

export async function exportMelody(): Promise<void> {
  const { melody } = useDoc.getState();
  if (!melody) return;
  try {
    const { text } = await api().exportMelody(melody);
    useApp.getState().open({ kind: "export", text, fileName: `${idStem(melody.melody.id)}.melody.json` });
  } catch (e) {
    useApp.getState().notify(`Could not export: ${errorMessage(e)}`, "error");
  }
}

// ----- Validation -----

function startValidation() {
  let timer: ReturnType<typeof setTimeout> | null = null;
  let seq = 0;
  useDoc.subscribe((s, prev) => {
    if (s.melody === prev.melody || !s.melody) return;
    if (timer) clearTimeout(timer);
    const melody = s.melody;
    timer = setTimeout(() => {
      void refreshPermissions();
      const mine = ++seq;
      api()
        .validateMelody(melody)
        .then((problems) => {
          if (mine === seq && useDoc.getState().melody === melody) useDoc.getState().setProblems(problems);
        })
        .catch((e: unknown) => useApp.getState().notify(`Validation failed: ${errorMessage(e)}`, "error"));
    }, 350);
  });
}

// ----- Canvas commands -----

export function layoutAll(): void {
  const { melody, types } = useDoc.getState();
  if (!melody) return;
  const positions = autoLayout(melody, types);
  useDoc.getState().edit((m) => moveItems(m, positions));
}

export function addNote(at: Point): void {
  let id = "";
  useDoc.getState().edit((m) => {
    const r = addComment(m, at, "A note");
    id = r.id;
    return r.melody;
  });
  if (id) useDoc.getState().select([`comment:${id}`]);
}

/** Draws a group box around the selected steps (or an empty one at `at`). */
export function groupSelection(at: Point): void {
  const { nodes, selection } = useDoc.getState();
  const chosen = nodes.filter((n) => n.type === "step" && selection.has(n.id));
  let box = { x: Math.round(at.x), y: Math.round(at.y), width: 400, height: 260 };
  if (chosen.length > 0) {
    const xs = chosen.map((n) => n.position.x);
    const ys = chosen.map((n) => n.position.y);
    const x2 = chosen.map((n) => n.position.x + (n.measured?.width ?? 220));
    const y2 = chosen.map((n) => n.position.y + (n.measured?.height ?? 120));
    const x = Math.min(...xs) - 30;
    const y = Math.min(...ys) - 50;
    box = { x, y, width: Math.max(...x2) + 30 - x, height: Math.max(...y2) + 30 - y };
  }
  useDoc.getState().edit((m) => addGroup(m, box, "Group").melody);
}

let internalClip: Clip | null = null;
let pasteCount = 0;

export async function copySelection(): Promise<void> {
  const clip = useDoc.getState().copySelection();
  if (!clip) return;
  internalClip = clip;
  pasteCount = 0;
  try {
    await navigator.clipboard.writeText(JSON.stringify(clip, null, 2));
  } catch {
    // The system clipboard may be unavailable (no permission); the editor keeps its own copy.
  }
}

export async function pasteClipboard(): Promise<void> {
  let clip = internalClip;
  try {
    const text = await navigator.clipboard.readText();
    const parsed: unknown = JSON.parse(text);
    if (isClip(parsed)) clip = parsed;
  } catch {
    // Not our JSON, or no clipboard access: paste what the editor copied last.
  }
  if (!clip) return;
  pasteCount += 1;
  useDoc.getState().pasteClip(clip, { x: 40 * pasteCount, y: 40 * pasteCount });
}

export function duplicateSelection(): void {
  const clip = useDoc.getState().copySelection();
  if (clip) useDoc.getState().pasteClip(clip, { x: 40, y: 40 });
}
