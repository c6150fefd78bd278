/**
 * The comparison drawn on the canvas: the open melody against another version of it (its
 * committed version, the file on disk, another melody). Steps are marked added, changed or
 * renamed; removed steps, edges and fields are listed in the comparison panel, where the person
 * can take the other side of any of them. Recomputed as the melody is edited.
 */
import { create } from "zustand";
import type { MelodyComparison, MelodyFile } from "../backend/types";

export type StepMark = "added" | "changed" | "renamed";

export interface CompareState {
  /** What the open melody is compared with, for the panel's title ("HEAD:melodies/x…"). */
  label: string | null;
  base: MelodyFile | null;
  result: MelodyComparison | null;
  /** Marks by step id, for the canvas. */
  marks: Readonly<Record<string, StepMark>>;
  show(label: string, base: MelodyFile, result: MelodyComparison): void;
  update(result: MelodyComparison): void;
  close(): void;
}

function marksOf(result: MelodyComparison): Record<string, StepMark> {
  const out: Record<string, StepMark> = {};
  for (const s of result.steps) if (s.change !== "removed") out[s.id] = s.change as StepMark;
  return out;
}

export const useCompare = create<CompareState>()((set) => ({
  label: null,
  base: null,
  result: null,
  marks: {},
  show(label, base, result) {
    set({ label, base, result, marks: marksOf(result) });
  },
  update(result) {
    set({ result, marks: marksOf(result) });
  },
  close() {
    set({ label: null, base: null, result: null, marks: {} });
  },
}));
