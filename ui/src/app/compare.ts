/**
 * What the comparison's commands do: compare the open melody with another version, keep the
 * comparison current while the melody is edited, and take the other version's side of one
 * difference (each one undoable edit).
 */
import { errorMessage } from "../backend";
import type { FieldChange, Json, JsonObject, MelodyFile, StepDoc } from "../backend/types";
import { useApp } from "../store/app";
import { useCompare } from "../store/compare";
import { useDoc } from "../store/doc";
import { api } from "./actions";

/** Where to compare from: the committed version, the file as last saved, or another melody file. */
export type CompareWith = { kind: "committed" } | { kind: "saved" } | { kind: "file"; path: string };

export async function compareWith(what: CompareWith): Promise<void> {
  const { melody, path, saved } = useDoc.getState();
  if (!melody) return;
  try {
    let base: MelodyFile;
    let label: string;
    if (what.kind === "committed") {
      if (!path) throw { message: "The melody is not saved in the project yet: save it, then compare it with its committed version." };
      const doc = await api().committedMelody(path);
      if (!doc.melody) throw { message: `${doc.path} is not a melody Symphony can read.` };
      base = doc.melody;
      label = doc.path;
    } else if (what.kind === "saved") {
      if (!saved) throw { message: "The melody was never saved: there is no file to compare with." };
      base = saved;
      label = `${path || "the file"} as last saved`;
    } else {
      const doc = await api().openMelody(what.path);
      if (!doc.melody) throw { message: `${what.path} is not a melody Symphony can read.` };
      base = doc.melody;
      label = what.path;
    }
    const result = await api().compareMelodies(base, melody);
    useCompare.getState().show(label, base, result);
  } catch (e) {
    useApp.getState().notify(`Could not compare: ${errorMessage(e)}`, "error");
  }
}

/** Keeps an open comparison current as the melody is edited (after a short pause). */
export function followEdits(): void {
  let timer: ReturnType<typeof setTimeout> | null = null;
  useDoc.subscribe((s, prev) => {
    if (s.melody === prev.melody) return;
    const { base } = useCompare.getState();
    if (!base) return;
    if (!s.melody) {
      useCompare.getState().close();
      return;
    }
    if (timer) clearTimeout(timer);
    const melody = s.melody;
    timer = setTimeout(() => {
      void api()
        .compareMelodies(base, melody)
        .then((r) => {
          if (useCompare.getState().base === base && useDoc.getState().melody === melody) useCompare.getState().update(r);
        })
        .catch(() => undefined);
    }, 250);
  });
}

/** `obj` with the dotted `path` set to `value` (or removed when `undefined`); nothing mutated. */
export function setPath(obj: JsonObject, path: string, value: Json | undefined): JsonObject {
  const [head, ...rest] = path.split(".");
  if (!head) return obj;
  const next: JsonObject = { ...obj };
  if (rest.length === 0) {
    if (value === undefined) delete next[head];
    else next[head] = value;
    return next;
  }
  const inner = obj[head];
  const child = inner && typeof inner === "object" && !Array.isArray(inner) ? (inner as JsonObject) : {};
  const updated = setPath(child, rest.join("."), value);
  if (Object.keys(updated).length === 0) delete next[head];
  else next[head] = updated;
  return next;
}

/** Takes the other version's value of one field of a step. */
export function takeStepField(step: string, change: FieldChange): void {
  useDoc.getState().edit((m) => ({
    ...m,
    steps: m.steps.map((s) => (s.id === step ? (setPath(s as unknown as JsonObject, change.path, change.before as Json | undefined) as unknown as StepDoc) : s)),
  }));
}

/** Takes the other version's value of a field of the melody, its run inputs or its settings. */
export function takeMelodyField(change: FieldChange): void {
  useDoc.getState().edit((m) => setPath(m as unknown as JsonObject, change.path, change.before as Json | undefined) as unknown as MelodyFile);
}

/** Brings back a step the other version has (and the edges it had that can be made again). */
export function restoreStep(step: StepDoc): void {
  const { base } = useCompare.getState();
  useDoc.getState().edit((m) => {
    if (m.steps.some((s) => s.id === step.id)) return m;
    const ids = new Set([...m.steps.map((s) => s.id), step.id]);
    const edges = (base?.edges ?? []).filter(
      (e) => (e.from.split(".")[0] === step.id || e.to.split(".")[0] === step.id) && ids.has(e.from.split(".")[0]!) && ids.has(e.to.split(".")[0]!),
    );
    const position = base?.layout?.steps?.[step.id];
    return {
      ...m,
      steps: [...m.steps, step],
      edges: [...(m.edges ?? []), ...edges.filter((e) => !(m.edges ?? []).some((x) => x.from === e.from && x.to === e.to))],
      ...(position ? { layout: { ...(m.layout ?? {}), steps: { ...(m.layout?.steps ?? {}), [step.id]: position } } } : {}),
    };
  });
}

/** Removes a step the other version does not have (with its edges). */
export function dropStep(id: string): void {
  useDoc.getState().edit((m) => ({
    ...m,
    steps: m.steps.filter((s) => s.id !== id),
    edges: (m.edges ?? []).filter((e) => e.from.split(".")[0] !== id && e.to.split(".")[0] !== id),
  }));
}

/** Adds back an edge the other version has ("a.output → b.input"). */
export function restoreEdge(text: string): void {
  const [from, to] = text.split(" → ");
  if (!from || !to) return;
  useDoc.getState().edit((m) => ({ ...m, edges: [...(m.edges ?? []), { from, to }] }));
}
