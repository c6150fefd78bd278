/**
 * App-level state: the backend connection's answers (project, step types), which view is shown,
 * the open dialog, and short notices. Dialogs are data here so any component (or shortcut) can
 * open one and the answer comes back as a promise.
 */
import { create } from "zustand";
import type { MelodyEntry, Permissions, ProjectInfo, StepTypeInfo } from "../backend/types";

export type Dialog =
  | { kind: "confirm"; title: string; body: string; ok: string; cancel: string; resolve: (ok: boolean) => void }
  | { kind: "run" }
  | { kind: "permissions"; permissions: Permissions; reason: "import" | "run" | "review"; resolve: (trusted: boolean) => void }
  | { kind: "export"; text: string; fileName: string }
  | { kind: "saveAs"; resolve: (path: string | null) => void }
  | { kind: "import" }
  | { kind: "palette" }
  | { kind: "connect" }
  /** "Set up a provider": test a model server, keep its key; with `step`, use it for that chat step. */
  | { kind: "provider"; step?: string }
  | { kind: "shortcuts" }
  /** Compare the open melody with its committed version, the saved file or another melody. */
  | { kind: "compare" };

export interface Notice {
  id: number;
  tone: "info" | "error";
  text: string;
}

export interface AppState {
  project: ProjectInfo | null;
  types: StepTypeInfo[];
  melodies: MelodyEntry[];
  view: "welcome" | "editor";
  dialog: Dialog | null;
  notices: Notice[];
  startupError: string | null;
  /**
   * The right column's tab for a selected step: its settings (editing) or its last run (the
   * step debugger). Kept as the user left it, so moving from step to step stays on one tab.
   */
  side: "settings" | "run";
  setSide(side: AppState["side"]): void;
  setProject(p: ProjectInfo, types: StepTypeInfo[], melodies: MelodyEntry[]): void;
  setMelodies(m: MelodyEntry[]): void;
  setView(v: AppState["view"]): void;
  open(d: Dialog | null): void;
  notify(text: string, tone?: Notice["tone"]): void;
  dismiss(id: number): void;
  setStartupError(message: string): void;
}

let nextNotice = 1;

export const useApp = create<AppState>()((set, get) => ({
  project: null,
  types: [],
  melodies: [],
  view: "welcome",
  dialog: null,
  notices: [],
  startupError: null,
  side: "settings",
  setSide(side) {
    set({ side });
  },
  setProject(project, types, melodies) {
    set({ project, types, melodies });
  },
  setMelodies(melodies) {
    set({ melodies });
  },
  setView(view) {
    set({ view });
  },
  open(dialog) {
    set({ dialog });
  },
  notify(text, tone = "info") {
    const id = nextNotice++;
    set({ notices: [...get().notices.slice(-3), { id, tone, text }] });
    setTimeout(() => get().dismiss(id), tone === "error" ? 8000 : 4000);
  },
  dismiss(id) {
    set({ notices: get().notices.filter((n) => n.id !== id) });
  },
  setStartupError(message) {
    set({ startupError: message });
  },
}));

/** Asks a yes/no question in an in-app dialog. */
export function ask(title: string, body: string, ok = "OK", cancel = "Cancel"): Promise<boolean> {
  return new Promise((resolve) => {
    useApp.getState().open({ kind: "confirm", title, body, ok, cancel, resolve: (v) => { useApp.getState().open(null); resolve(v); } });
  });
}
