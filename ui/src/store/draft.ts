/**
 * Unsaved work kept in this browser's storage when the UI faults (`ErrorBoundary`), so that a
 * reload can offer it back. One draft at a time; restoring or declining it removes it.
 */
import type { MelodyFile } from "../backend/types";
import { useDoc } from "./doc";

const KEY = "symphony.draft";

export interface Draft {
  melody: MelodyFile;
  /** Where it was saved in the project, "" when never saved. */
  path: string;
  /** When it was kept (ms since the epoch). */
  at: number;
}

/** Keeps the open melody when it has unsaved edits. True when a draft was written. */
export function keepDraft(): boolean {
  const { melody, path, dirty } = useDoc.getState();
  if (!melody || !dirty) return false;
  try {
    const draft: Draft = { melody, path, at: Date.now() };
    localStorage.setItem(KEY, JSON.stringify(draft));
    return true;
  } catch {
    // Storage may be full or disabled: the in-memory copy is still there for "Back to the editor".
    return false;
  }
}

/** The kept draft, if any (and readable). */
export function keptDraft(): Draft | null {
  try {
    const text = localStorage.getItem(KEY);
    if (!text) return null;
    const d = JSON.parse(text) as Partial<Draft>;
    if (!d.melody || typeof d.melody !== "object" || !Array.isArray(d.melody.steps) || typeof d.path !== "string") return null;
    return { melody: d.melody, path: d.path, at: typeof d.at === "number" ? d.at : 0 };
  } catch {
    return null;
  }
}

export function forgetDraft(): void {
  try {
    localStorage.removeItem(KEY);
  } catch {
    // Nothing to forget.
  }
}
