/**
 * Merge conflicts a git merge left in the open melody. `symphony merge-driver` merges melodies
 * by step id and field; where both branches changed one field differently it keeps ours and
 * records the conflict under `layout.mergeConflicts` as `{path, base, ours, theirs}` (a side is
 * absent where it has no value). The melody loads and runs meanwhile; these commands let the
 * person settle each conflict (keep ours, or take theirs), each one undoable edit, and drop the
 * record when the last one is settled.
 */
import type { Json, JsonObject, MelodyFile, StepDoc } from "../backend/types";
import { useDoc } from "../store/doc";
import { setPath } from "./compare";

/** The layout key (`symphony_melody::merge::CONFLICTS_KEY`). */
export const CONFLICTS_KEY = "mergeConflicts";

export interface MergeConflict {
  path: string;
  base?: Json;
  ours?: Json;
  theirs?: Json;
}

/** The conflicts recorded in a melody; entries that are not conflicts are ignored. */
export function conflictsOf(melody: MelodyFile | null): MergeConflict[] {
  const list = melody?.layout?.[CONFLICTS_KEY];
  if (!Array.isArray(list)) return [];
  return list.filter((c): c is MergeConflict & JsonObject => !!c && typeof c === "object" && !Array.isArray(c) && typeof (c as JsonObject).path === "string") as MergeConflict[];
}

/** The step a conflict is about (`steps.ID…`), if any. */
export function conflictStep(c: MergeConflict): string | null {
  const m = /^steps\.([^.]+)/.exec(c.path);
  return m ? m[1]! : null;
}

/** Where a conflict is, for a person: "step spec: config.prompt", "input goal: default", … */
export function conflictPlace(c: MergeConflict): { where: string; field: string } {
  const step = conflictStep(c);
  if (step) return { where: `step ${step}`, field: c.path.slice(`steps.${step}`.length + 1) || "the whole step" };
  if (c.path.startsWith("edges[")) return { where: "edge", field: c.path.slice(6, -1) };
  if (c.path.startsWith("stepTypes.")) return { where: "step type version", field: c.path.slice(10) };
  const [head, ...rest] = c.path.split(".");
  return { where: head ?? c.path, field: rest.join(".") };
}

/** `melody` with `value` at a conflict's path (or removed where `undefined`). */
export function withValue(melody: MelodyFile, path: string, value: Json | undefined): MelodyFile {
  const step = /^steps\.([^.]+)(?:\.(.+))?$/.exec(path);
  if (step) {
    const [, id, field] = step;
    if (!field) {
      // The whole step: one side removed it, the other changed it.
      if (value === undefined) {
        return {
          ...melody,
          steps: melody.steps.filter((s) => s.id !== id),
          edges: (melody.edges ?? []).filter((e) => e.from.split(".")[0] !== id && e.to.split(".")[0] !== id),
        };
      }
      const exists = melody.steps.some((s) => s.id === id);
      return {
        ...melody,
        steps: exists ? melody.steps.map((s) => (s.id === id ? (value as unknown as StepDoc) : s)) : [...melody.steps, value as unknown as StepDoc],
      };
    }
    return {
      ...melody,
      steps: melody.steps.map((s) => (s.id === id ? (setPath(s as unknown as JsonObject, field, value) as unknown as StepDoc) : s)),
    };
  }
  const edge = /^edges\[(.+) → (.+)\]$/.exec(path);
  if (edge) {
    const [, from, to] = edge as unknown as [string, string, string];
    const others = (melody.edges ?? []).filter((e) => !(e.from === from && e.to === to));
    // An edge comes back only between steps the melody has: never a dangling one.
    const has = (ref: string) => melody.steps.some((s) => s.id === ref.split(".")[0]);
    return { ...melody, edges: value === undefined || !has(from) || !has(to) ? others : [...others, { from, to }] };
  }
  if (path.startsWith("stepTypes.")) {
    // Type names hold dots: the rest of the path is one key.
    const name = path.slice("stepTypes.".length);
    const pins = { ...(melody.stepTypes ?? {}) };
    if (value === undefined) delete pins[name];
    else pins[name] = value as number;
    return { ...melody, stepTypes: pins };
  }
  return setPath(melody as unknown as JsonObject, path, value) as unknown as MelodyFile;
}

/** `melody` without the record of the conflict at `path` (and without the key once empty). */
function settled(melody: MelodyFile, path: string): MelodyFile {
  const rest = conflictsOf(melody).filter((c) => c.path !== path);
  const layout = { ...(melody.layout ?? {}) };
  if (rest.length === 0) delete layout[CONFLICTS_KEY];
  else layout[CONFLICTS_KEY] = rest as unknown as Json[];
  return { ...melody, layout };
}

/** Settles one conflict: keeps our value (already in the melody) or takes theirs. */
export function settleConflict(c: MergeConflict, side: "ours" | "theirs"): void {
  useDoc.getState().edit((m) => settled(side === "theirs" ? withValue(m, c.path, c.theirs) : m, c.path));
}

/** Settles every conflict the same way. */
export function settleAll(side: "ours" | "theirs"): void {
  useDoc.getState().edit((m) => {
    let next = m;
    for (const c of conflictsOf(m)) next = settled(side === "theirs" ? withValue(next, c.path, c.theirs) : next, c.path);
    return next;
  });
}
