import { beforeEach, describe, expect, it } from "vitest";
import { ideaToCodeMelody, type, TYPE_LIST } from "../test/fixtures";
import { useDoc } from "./doc";
import { useRun } from "./run";
import { applyEvents, emptyBoard, type Board } from "../board/model";
import { addEdge, addGroup, addStep, setConfig } from "../model/edits";
import type { EventRecord } from "../backend/types";

beforeEach(() => {
  useDoc.getState().setTypes(TYPE_LIST);
  useDoc.getState().load(ideaToCodeMelody(), "melodies/idea-to-code.melody.json", "h1");
});

describe("document history", () => {
  it("undoes and redoes every kind of edit, in one history", () => {
    const d = useDoc.getState;
    const original = d().melody;
    d().edit((m) => addStep(m, type("operator.template"), { x: 10, y: 10 }).melody);
    d().edit((m) => setConfig(m, "spec", "prompt", "new prompt"));
    d().onNodesChange([{ type: "position", id: "spec", position: { x: 999, y: 5 }, dragging: false }]);
    expect(d().melody?.layout?.steps?.spec).toEqual({ x: 999, y: 5 });
    expect(d().dirty).toBe(true);
    d().undo();
    expect(d().melody?.layout?.steps?.spec).not.toEqual({ x: 999, y: 5 });
    expect(d().melody?.steps.find((s) => s.id === "spec")?.config?.prompt).toBe("new prompt");
    d().undo();
    d().undo();
    expect(d().melody).toBe(original);
    expect(d().dirty).toBe(false);
    d().redo();
    expect(d().melody?.steps.some((s) => s.id === "template")).toBe(true);
    expect(d().future).toHaveLength(2);
    d().edit((m) => setConfig(m, "spec", "model", "x"));
    expect(d().future).toHaveLength(0);
  });
  it("a drag in progress moves the node but records nothing until it ends", () => {
    const d = useDoc.getState;
    d().onNodesChange([{ type: "position", id: "spec", position: { x: 50, y: 50 }, dragging: true }]);
    expect(d().nodes.find((n) => n.id === "spec")?.position).toEqual({ x: 50, y: 50 });
    expect(d().past).toHaveLength(0);
    d().onNodesChange([{ type: "position", id: "spec", position: { x: 60, y: 60 }, dragging: false }]);
    expect(d().past).toHaveLength(1);
  });
  it("dragging a group carries the steps inside it, as one undoable edit", () => {
    const d = useDoc.getState;
    // spec sits at (0, 120); features (280, 40) and write_spec (280, 240) are outside this box.
    d().edit((m) => addGroup(m, { x: -20, y: 100, width: 260, height: 200 }, "Spec").melody);
    const before = d().melody!;
    const pos = (id: string) => d().nodes.find((n) => n.id === id)?.position;
    d().onNodesChange([{ type: "position", id: "group:group", position: { x: 0, y: 150 }, dragging: true }]);
    expect(pos("spec")).toEqual({ x: 20, y: 170 });
    expect(d().melody).toBe(before);
    d().onNodesChange([{ type: "position", id: "group:group", position: { x: 80, y: 160 }, dragging: false }]);
    const after = d().melody!;
    expect(after.layout?.steps?.spec).toEqual({ x: 100, y: 180 });
    expect(after.layout?.steps?.features).toEqual(before.layout?.steps?.features);
    expect(after.layout?.steps?.write_spec).toEqual(before.layout?.steps?.write_spec);
    expect((after.layout?.groups as { x: number; y: number }[])[0]).toMatchObject({ x: 80, y: 160 });
    expect(d().past[d().past.length - 1]).toBe(before);
    d().undo();
    expect(d().melody).toBe(before);
    expect(pos("spec")).toEqual({ x: 0, y: 120 });
    // A second drag starts afresh from where the group is now.
    d().onNodesChange([{ type: "position", id: "group:group", position: { x: -10, y: 100 }, dragging: false }]);
    expect(d().melody?.layout?.steps?.spec).toEqual({ x: 10, y: 120 });
  });
  it("resizing a group from its top-left corner keeps its new place and size, and moves no step", () => {
    const d = useDoc.getState;
    d().edit((m) => addGroup(m, { x: -20, y: 100, width: 260, height: 200 }, "Spec").melody);
    const spec = d().melody!.layout?.steps?.spec;
    // What React Flow's resizer sends: the box moves (no drag) while it resizes, then the end.
    d().onNodesChange([{ type: "position", id: "group:group", position: { x: -60, y: 70 } }]);
    d().onNodesChange([{ type: "dimensions", id: "group:group", dimensions: { width: 300, height: 230 }, resizing: true }]);
    d().onNodesChange([{ type: "dimensions", id: "group:group", dimensions: { width: 300, height: 230 }, resizing: false }]);
    const group = (d().melody!.layout?.groups as { x: number; y: number; width: number; height: number }[])[0];
    expect(group).toMatchObject({ x: -60, y: 70, width: 300, height: 230 });
    expect(d().melody!.layout?.steps?.spec).toEqual(spec);
    d().undo();
    expect((d().melody!.layout?.groups as { x: number }[])[0]).toMatchObject({ x: -20 });
  });
  it("deletes a selected step with its edges, and undo brings both back", () => {
    const d = useDoc.getState;
    const edges = d().melody!.edges!.length;
    d().select(["spec"]);
    d().deleteSelection();
    expect(d().melody?.steps.some((s) => s.id === "spec")).toBe(false);
    expect(d().melody!.edges!.length).toBe(edges - 3);
    d().undo();
    expect(d().melody!.edges!.length).toBe(edges);
  });
  it("copy and paste selects the renamed copies", () => {
    const d = useDoc.getState;
    d().select(["spec", "features"]);
    const clip = d().copySelection();
    expect(clip?.steps).toHaveLength(2);
    d().pasteClip(clip!, { x: 30, y: 30 });
    expect([...d().selection].sort()).toEqual(["features_2", "spec_2"]);
    expect(d().nodes.filter((n) => n.selected).map((n) => n.id).sort()).toEqual(["features_2", "spec_2"]);
  });
  it("an edit re-creates only the nodes it touched", () => {
    const d = useDoc.getState;
    const before = d().nodes;
    d().edit((m) => addEdge(m, { from: "spec.output", to: "write_code.items" }));
    expect(d().nodes.every((n, i) => n === before[i])).toBe(true);
    expect(d().edges).toHaveLength(ideaToCodeMelody().edges!.length + 1);
  });
  it("files problems under their step", () => {
    useDoc.getState().setProblems([
      { path: "steps.spec.config.model", message: "expected a string" },
      { path: "edges[0]", step: "features", message: "x" },
      { path: "melody.id", message: "y" },
    ]);
    expect(Object.keys(useDoc.getState().problemsByStep).sort()).toEqual(["features", "spec"]);
  });
});

describe("run state", () => {
  const ev = (e: Record<string, unknown>, atMs = 0) => ({ atMs, ...e }) as EventRecord;
  it("follows a step through queued, running, retrying and done", () => {
    let board: Board = emptyBoard;
    let steps: Board["steps"] = {};
    const apply = (e: Record<string, unknown>) => {
      board = applyEvents(board, [ev(e)]);
      steps = board.steps;
    };
    apply({ type: "stepQueued", step: "a", item: null, inputs: {} });
    expect(steps).toMatchObject({ a: { state: "queued", attempt: 0, queuedAt: 0 } });
    apply({ type: "stepStarted", step: "a", item: null, attempt: 1, typeName: "instrument.offline", offline: true });
    apply({ type: "stepRetrying", step: "a", item: null, nextAttempt: 2, delayMs: 10, error: "rate limited" });
    expect(steps).toMatchObject({ a: { state: "retrying", detail: "rate limited" } });
    apply({ type: "stepSucceeded", step: "a", elapsedMs: 5, attempts: 2, usage: null, origin: "cached", cacheKey: null });
    expect(steps).toMatchObject({ a: { state: "cached", attempt: 2 } });
  });
  it("a batch changes only the steps it names", () => {
    const r = useRun.getState;
    r().begin();
    r().apply([ev({ type: "stepQueued", step: "a", item: null, inputs: {} }), ev({ type: "stepQueued", step: "b", item: null, inputs: {} })]);
    const a = r().steps.a;
    r().apply([ev({ type: "stepFailed", step: "b", error: "boom", optional: false })]);
    expect(r().steps.a).toBe(a);
    expect(r().steps.b).toMatchObject({ state: "failed", detail: "boom" });
    r().apply([ev({ type: "runFinished", status: "failed", totals: { steps: 2 } })]);
    expect(r().phase).toBe("finished");
    expect(r().status).toBe("failed");
  });
});
