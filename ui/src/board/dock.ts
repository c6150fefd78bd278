/**
 * The board dock's own state: which tab is open, whether it is folded, and the two runs the
 * Compare tab shows. A store (not component state) so anything can open a tab, say the
 * warnings from a step's badge: `useDock.getState().show("warnings")`.
 */
import { create } from "zustand";

export type DockTab = "warnings" | "timeline" | "cost" | "history" | "compare";

export interface DockState {
  tab: DockTab;
  folded: boolean;
  /** The runs Compare shows: a (left) and b (right). */
  compare: { a: string; b: string } | null;
  show(tab: DockTab): void;
  fold(folded: boolean): void;
  compareRuns(a: string, b: string): void;
}

export const useDock = create<DockState>()((set) => ({
  tab: "timeline",
  folded: false,
  compare: null,
  show(tab) {
    set({ tab, folded: false });
  },
  fold(folded) {
    set({ folded });
  },
  compareRuns(a, b) {
    set({ compare: { a, b }, tab: "compare", folded: false });
  },
}));
