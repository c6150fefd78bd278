import { describe, expect, it } from "vitest";
import type { EventRecord } from "../backend/types";
import { applyEvents, emptyBoard, formatMs, type StepLive } from "./model";
import { attemptsSoFar, niceTicks, spanTitle, timelineRows, visibleSlice } from "./timelineLayout";

const ev = (atMs: number, e: Record<string, unknown>) => ({ atMs, ...e }) as EventRecord;
const step = (s: Partial<StepLive>): StepLive => ({ state: "succeeded", attempt: 1, tokens: 0, bytes: 0, warnings: 0, ...s });

describe("timeline layout", () => {
  it("orders timeline rows by first appearance", () => {
    const b = applyEvents(emptyBoard, [
      ev(0, { type: "stepQueued", step: "b", item: null, inputs: {} }),
      ev(1, { type: "stepQueued", step: "a", item: null, inputs: {} }),
      ev(2, { type: "stepStarted", step: "b", item: null, attempt: 1, typeName: "t", offline: true }),
    ]);
    const rows = timelineRows(b.spans);
    expect(rows.order).toEqual(["b", "a"]);
    expect(rows.byStep.get("b")?.map((s) => s.phase)).toEqual(["waiting", "working"]);
  });

  it("slices the visible rows", () => {
    expect(visibleSlice(0, 180, 18, 1000, 0)).toEqual([0, 10]);
    expect(visibleSlice(1800, 180, 18, 1000, 2)).toEqual([98, 112]);
    expect(visibleSlice(0, 180, 18, 3)).toEqual([0, 3]);
    expect(visibleSlice(17990, 180, 18, 1000, 6)).toEqual([993, 1000]);
  });

  it("picks round ticks", () => {
    expect(niceTicks(620)).toEqual([0, 200, 400, 600]);
    expect(niceTicks(10_000)).toEqual([0, 2000, 4000, 6000, 8000, 10000]);
    expect(niceTicks(0)).toEqual([0]);
  });

  it("describes a bar", () => {
    expect(spanTitle({ step: "a", item: null, attempt: 2, phase: "working", from: 100, to: 1300, end: "ok" }, 0, formatMs)).toBe("attempt 2 · working 1.2 s");
    expect(spanTitle({ step: "a", item: 3, attempt: 1, phase: "working", from: 0, to: 50, end: "retry" }, 0, formatMs)).toBe("item 3 · attempt 1 · working 50 ms · failed, retried");
    expect(spanTitle({ step: "a", item: null, attempt: 0, phase: "waiting", from: 0, to: null }, 300, formatMs)).toBe("waiting 300 ms so far");
  });

  it("counts attempts", () => {
    expect(attemptsSoFar({ ...emptyBoard, steps: { a: step({ attempt: 2 }), b: step({ attempt: 1 }) } })).toBe(3);
  });
});
