/** Edits the inspector makes: one undoable edit of the melody, and setting or removing an optional field. */
import type { MelodyFile } from "../backend/types";
import { useDoc } from "../store/doc";

export function edit(fn: (m: MelodyFile) => MelodyFile) {
  useDoc.getState().edit(fn);
}

export function withOptional<T extends object, K extends keyof T>(obj: T, key: K, value: T[K] | undefined): T {
  const next = { ...obj };
  if (value === undefined) delete next[key];
  else next[key] = value;
  return next;
}
