import { beforeEach, describe, expect, it } from "vitest";
import type { MelodyFile } from "../backend/types";
import { useDoc } from "../store/doc";
import { conflictPlace, conflictsOf, settleAll, settleConflict, withValue } from "./conflicts";

const merged = (): MelodyFile =>
  ({
    formatVersion: 1,
    melody: { id: "m", name: "M" },
    inputs: { goal: { type: "string", default: "ours" } },
    stepTypes: { "operator.template": 1 },
    steps: [
      { id: "spec", kind: "instrument", type: "instrument.offline", config: { prompt: "ours" } },
      { id: "doc", kind: "operator", type: "operator.template", config: { template: "x" } },
    ],
    edges: [{ from: "spec.output", to: "doc.text" }],
    layout: {
      steps: {},
      mergeConflicts: [
        { path: "steps.spec.config.prompt", base: "base", ours: "ours", theirs: "theirs" },
        { path: "steps.doc", base: { id: "doc" }, ours: { id: "doc" } },
        { path: "inputs.goal.default", ours: "ours", theirs: "theirs" },
        { path: "stepTypes.operator.template", base: 1, ours: 1, theirs: 2 },
        { path: "edges[spec.output → doc.extra]", theirs: { from: "spec.output", to: "doc.extra" } },
      ],
    },
  }) as unknown as MelodyFile;

describe("merge conflicts", () => {
  beforeEach(() => {
    useDoc.setState({ melody: merged() } as never);
  });

  it("reads and places every recorded conflict", () => {
    const list = conflictsOf(merged());
    expect(list.map((c) => conflictPlace(c))).toEqual([
      { where: "step spec", field: "config.prompt" },
      { where: "step doc", field: "the whole step" },
      { where: "inputs", field: "goal.default" },
      { where: "step type version", field: "operator.template" },
      { where: "edge", field: "spec.output → doc.extra" },
    ]);
  });

  it("takes their value at each kind of path", () => {
    let m = merged();
    for (const c of conflictsOf(m)) m = withValue(m, c.path, c.theirs);
    expect(m.steps.map((s) => s.id)).toEqual(["spec"]); // theirs removed doc
    expect(m.steps[0]!.config).toEqual({ prompt: "theirs" });
    // doc's edge went with it, and their added edge to doc is not made to a missing step.
    expect(m.edges).toEqual([]);
    // With doc kept, their edge comes back.
    const kept = withValue(merged(), "edges[spec.output → doc.extra]", { from: "spec.output", to: "doc.extra" });
    expect(kept.edges).toContainEqual({ from: "spec.output", to: "doc.extra" });
    expect(m.inputs!.goal!.default).toBe("theirs");
    expect(m.stepTypes).toEqual({ "operator.template": 2 });
  });

  it("settles one at a time and drops the record with the last", () => {
    const first = conflictsOf(useDoc.getState().melody)[0]!;
    settleConflict(first, "theirs");
    let m = useDoc.getState().melody!;
    expect(m.steps[0]!.config).toEqual({ prompt: "theirs" });
    expect(conflictsOf(m)).toHaveLength(4);
    const second = conflictsOf(m)[0]!;
    settleConflict(second, "ours");
    m = useDoc.getState().melody!;
    expect(m.steps.map((s) => s.id)).toEqual(["spec", "doc"]);
    settleAll("ours");
    m = useDoc.getState().melody!;
    expect(conflictsOf(m)).toEqual([]);
    expect(m.layout).not.toHaveProperty("mergeConflicts");
    expect(m.inputs!.goal!.default).toBe("ours");
  });
});
