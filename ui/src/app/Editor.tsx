/**
 * The editor: toolbar, palette, canvas, inspector and problems, and the keyboard shortcuts. With
 * a run on the board, the Harmony Board's dock sits under the canvas, and a selected step's
 * panel has two tabs: its settings and its last run (the step debugger).
 */
import { useCallback, useEffect, type ReactNode } from "react";
import { ReactFlowProvider, useReactFlow } from "@xyflow/react";
import type { StepTypeInfo } from "../backend/types";
import { Canvas } from "../canvas/Canvas";
import { Palette } from "../panels/Palette";
import { Problems } from "../panels/Problems";
import { ComparePanel } from "../panels/ComparePanel";
import { ConflictsPanel } from "../panels/ConflictsPanel";
import { Toolbar } from "../panels/Toolbar";
import { Inspector } from "../inspector/Inspector";
import { Dialogs } from "../panels/Dialogs";
import { useDoc } from "../store/doc";
import { useRun } from "../store/run";
import { usePins } from "../store/pins";
import { stateWord } from "../board/model";
import { BoardDock } from "../board/BoardDock";
import { StepDebugger } from "../board/debugger/StepDebugger";
import { backToEditing } from "../board/actions";
import { useApp } from "../store/app";
import { addStep } from "../model/edits";
import { freeSpot } from "../model/layout";
import { addNote, canPickFiles, copySelection, duplicateSelection, groupSelection, openFromDisk, pasteClipboard, save, saveAs } from "./actions";
import type { FlowEdge, FlowNode } from "../model/graph";

function isTyping(target: EventTarget | null): boolean {
  return target instanceof HTMLInputElement || target instanceof HTMLTextAreaElement || target instanceof HTMLSelectElement;
}

/** The one step selected, if exactly one step is. */
function selectedStep(selection: ReadonlySet<string>, steps: readonly { id: string }[] | undefined): string | null {
  if (selection.size !== 1) return null;
  const [id] = selection;
  return id && steps?.some((st) => st.id === id) ? id : null;
}

/**
 * With a run on the board, the debugger follows the selected step (so the board's lists mark
 * it), whichever tab is shown. Only a change of the selected step counts: an edit makes a new
 * selection set with the same step, and must not move anything.
 */
function useDebuggerFollowsSelection() {
  useEffect(
    () =>
      useDoc.subscribe((s, prev) => {
        if (s.selection === prev.selection) return;
        const now = selectedStep(s.selection, s.melody?.steps);
        if (now === selectedStep(prev.selection, prev.melody?.steps)) return;
        const run = useRun.getState();
        if (run.source !== "none" && now && run.focusStep !== now) run.focus(now);
      }),
    [],
  );
}

/**
 * The right column. A selected step shows its settings, with its last run one tab away (the
 * tab is kept as the user left it); nothing selected shows the melody's settings, or the
 * debugger of a step picked on the board that the editor's melody no longer has.
 */
function RightColumn() {
  const step = useDoc((s) => selectedStep(s.selection, s.melody?.steps));
  const onBoard = useRun((s) => s.source !== "none");
  const focused = useRun((s) => s.focusStep);
  const side = useApp((s) => s.side);
  if (!step) return onBoard && side === "run" && focused ? <StepDebugger step={focused} /> : <Inspector />;
  if (!onBoard) return <Inspector />;
  return (
    <div className="side" data-side={side}>
      <div className="side-tabs" role="tablist" aria-label="Step panel">
        <SideTab side="settings" label="Settings" />
        <SideTab side="run" label={<LastRunLabel step={step} />} />
      </div>
      {side === "settings" ? <Inspector /> : <LastRun step={step} />}
    </div>
  );
}

function SideTab({ side, label }: { side: "settings" | "run"; label: ReactNode }) {
  const active = useApp((s) => s.side === side);
  return (
    <button type="button" role="tab" aria-selected={active} className={active ? "active" : ""} onClick={() => useApp.getState().setSide(side)}>
      {label}
    </button>
  );
}

/** "Last run", with the step's state in that run as a dot (its word as the dot's title). */
function LastRunLabel({ step }: { step: string }) {
  const state = useRun((s) => s.board.steps[step]?.state);
  const origin = useRun((s) => s.board.steps[step]?.origin);
  const pinned = usePins((s) => s.pinned[step] !== undefined);
  return (
    <>
      Last run{state ? <span className={`side-state state-${state}`} title={stateWord(state, origin, pinned)} /> : null}
    </>
  );
}

/** The step's last run, or why there is none. */
function LastRun({ step }: { step: string }) {
  const played = useRun((s) => s.board.steps[step] !== undefined || (s.record?.melody.steps.some((st) => st.id === step) ?? false));
  const active = useRun((s) => s.latest.phase === "running" || s.latest.phase === "starting" || s.latest.phase === "paused");
  if (played || active) return <StepDebugger step={step} />;
  return (
    <aside className="debugger" aria-label="Step debugger" data-step={step}>
      <p className="muted">
        <code>{step}</code> is not in the run on the board: it was added after that run. Run the melody again to see it play.
      </p>
      <div className="row">
        <button type="button" className="primary" onClick={() => useApp.getState().open({ kind: "run" })}>
          ▶ Run
        </button>
        <button type="button" onClick={() => useApp.getState().setSide("settings")}>
          Settings
        </button>
      </div>
    </aside>
  );
}

function EditorInner() {
  useDebuggerFollowsSelection();
  const runId = useRun((s) => s.runId);
  const flow = useReactFlow<FlowNode, FlowEdge>();
  const centre = useCallback(() => {
    const box = document.querySelector(".canvas")?.getBoundingClientRect();
    if (!box) return { x: 0, y: 0 };
    return flow.screenToFlowPosition({ x: box.left + box.width / 2, y: box.top + box.height / 2 });
  }, [flow]);
  const addStepInView = useCallback(
    (t: StepTypeInfo) => {
      const at = centre();
      let id = "";
      useDoc.getState().edit((m) => {
        // In view, and never on top of another step.
        const r = addStep(m, t, freeSpot(m, { x: Math.round(at.x - 110), y: Math.round(at.y - 40) }));
        id = r.id;
        return r.melody;
      });
      if (id) useDoc.getState().select([id]);
    },
    [centre],
  );

  useEffect(() => {
    const onKey = (e: KeyboardEvent) => {
      const mod = e.ctrlKey || e.metaKey;
      const key = e.key.toLowerCase();
      if (mod && key === "s") {
        e.preventDefault();
        void (e.shiftKey ? saveAs() : save());
        return;
      }
      if (mod && key === "o" && canPickFiles()) {
        e.preventDefault();
        void openFromDisk();
        return;
      }
      if (mod && key === "k") {
        e.preventDefault();
        useApp.getState().open({ kind: "palette" });
        return;
      }
      if (useApp.getState().dialog || isTyping(e.target)) return;
      if (e.key === "?" && !mod) {
        e.preventDefault();
        useApp.getState().open({ kind: "shortcuts" });
        return;
      }
      const doc = useDoc.getState();
      if (mod && key === "z" && e.shiftKey) {
        e.preventDefault();
        doc.redo();
      } else if (mod && key === "z") {
        e.preventDefault();
        doc.undo();
      } else if (mod && key === "y") {
        e.preventDefault();
        doc.redo();
      } else if (mod && key === "c") {
        e.preventDefault();
        void copySelection();
      } else if (mod && key === "v") {
        e.preventDefault();
        void pasteClipboard();
      } else if (mod && key === "d") {
        e.preventDefault();
        duplicateSelection();
      } else if (mod && key === "a") {
        e.preventDefault();
        doc.select(doc.nodes.map((n) => n.id));
      } else if (e.key === "Delete" || e.key === "Backspace") {
        e.preventDefault();
        doc.deleteSelection();
      } else if (e.key === "Escape") {
        backToEditing();
      }
    };
    window.addEventListener("keydown", onKey);
    return () => window.removeEventListener("keydown", onKey);
  }, []);

  return (
    <div className="editor" data-run-id={runId ?? undefined}>
      <Toolbar onNote={() => addNote(centre())} onGroup={() => groupSelection(centre())} />
      <div className="editor-body">
        <Palette onAdd={addStepInView} />
        <div className="centre">
          <Canvas />
          <ComparePanel />
          <ConflictsPanel />
          <Problems />
          <BoardDock />
        </div>
        <RightColumn />
      </div>
      <Dialogs addStepInView={addStepInView} />
    </div>
  );
}

export function Editor() {
  return (
    <ReactFlowProvider>
      <EditorInner />
    </ReactFlowProvider>
  );
}
