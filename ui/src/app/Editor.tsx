/**
 * The editor: toolbar, palette, canvas, inspector and problems, and the keyboard shortcuts. With
 * a run on the board, the Harmony Board's dock sits under the canvas, and a clicked step opens
 * the step debugger in the inspector's place.
 */
import { useCallback, useEffect } from "react";
import { ReactFlowProvider, useReactFlow } from "@xyflow/react";
import type { StepTypeInfo } from "../backend/types";
import { Canvas } from "../canvas/Canvas";
import { Palette } from "../panels/Palette";
import { Problems } from "../panels/Problems";
import { Toolbar } from "../panels/Toolbar";
import { Inspector } from "../inspector/Inspector";
import { Dialogs } from "../panels/Dialogs";
import { useDoc } from "../store/doc";
import { useRun } from "../store/run";
import { BoardDock } from "../board/BoardDock";
import { StepDebugger } from "../board/StepDebugger";
import { useApp } from "../store/app";
import { addStep } from "../model/edits";
import { freeSpot } from "../model/layout";
import { addNote, canPickFiles, copySelection, duplicateSelection, groupSelection, openFromDisk, pasteClipboard, save, saveAs } from "./actions";
import type { FlowEdge, FlowNode } from "../model/graph";

function isTyping(target: EventTarget | null): boolean {
  return target instanceof HTMLInputElement || target instanceof HTMLTextAreaElement || target instanceof HTMLSelectElement;
}

/** With a run on the board, selecting one step shows it in the debugger. */
function useDebuggerFollowsSelection() {
  useEffect(
    () =>
      useDoc.subscribe((s, prev) => {
        if (s.selection === prev.selection) return;
        const run = useRun.getState();
        if (run.source === "none" || s.selection.size !== 1) return;
        const [id] = s.selection;
        if (id && s.melody?.steps.some((st) => st.id === id) && run.focusStep !== id) run.focus(id);
      }),
    [],
  );
}

function RightColumn() {
  const debugging = useRun((s) => s.source !== "none" && s.focusStep !== null);
  return debugging ? <StepDebugger /> : <Inspector />;
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
        doc.select([]);
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
