import { describe, expect, it } from "vitest";
import type { EventRecord } from "../backend/types";
import { applyEvents, emptyBoard, formatMs, type StepLive } from "./model";
import { attemptsSoFar, costRows, differs, niceTicks, runBadge, runStanding, spanTitle, timelineRows, unseenEvents, visibleSlice, warningLabel } from "./derive";
import { countOf, formatAt, formatCost, formatDelta, formatTokens } from "./format";

const ev = (atMs: number, e: Record<string, unknown>) => ({ atMs, ...e }) as EventRecord;
const step = (s: Partial<StepLive>): StepLive => ({ state: "succeeded", attempt: 1, tokens: 0, bytes: 0, warnings: 0, ...s });

describe("board helpers", () => {
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

  it("ranks steps by cost, then tokens", () => {
    const rows = costRows({
      cheap: step({ usage: { inputTokens: 900, outputTokens: 100, estimated: false, costUsd: 0.001 } }),
      dear: step({ usage: { inputTokens: 10, outputTokens: 10, estimated: true, costUsd: 0.05 } }),
      streaming: step({ state: "running", tokens: 40 }),
      free: step({ usage: null }),
    });
    expect(rows.map((r) => [r.step, r.tokens, r.estimated, r.streaming])).toEqual([
      ["dear", 20, true, false],
      ["cheap", 1000, false, false],
      ["streaming", 40, false, true],
    ]);
  });

  it("counts attempts", () => {
    expect(attemptsSoFar({ ...emptyBoard, steps: { a: step({ attempt: 2 }), b: step({ attempt: 1 }) } })).toBe(3);
  });

  it("labels warnings, known or not", () => {
    expect(warningLabel("waitingForBudget")).toBe("Waiting for rate limit");
    expect(warningLabel("onCriticalPath")).toBe("Holding up the run (critical path)");
    expect(warningLabel("someNewKind")).toBe("Some New Kind");
  });

  it("formats figures", () => {
    expect(formatTokens(1234)).toBe("1,234 tokens");
    expect(formatTokens(1234, true)).toBe("~1,234 tokens");
    expect(formatCost(0.0123)).toBe("$0.0123");
    expect(formatCost(12.345)).toBe("$12.35");
    expect(formatCost(null)).toBe("—");
    expect(formatCost(0)).toBe("$0");
    expect(formatDelta(1200, formatMs)).toBe("+1.2 s");
    expect(formatDelta(-300, formatMs)).toBe("−300 ms");
    expect(formatAt(61_250)).toBe("1:01.250");
  });

  it("keeps only the live events a stored log does not hold", () => {
    const a = ev(10, { type: "stepQueued", step: "a", item: null, inputs: {} });
    const b = ev(20, { type: "stepQueued", step: "b", item: null, inputs: {} });
    const c = ev(20, { type: "stepQueued", step: "c", item: null, inputs: {} });
    const d = ev(30, { type: "stepQueued", step: "d", item: null, inputs: {} });
    expect(unseenEvents([a, b], [a, b, c, d])).toEqual([c, d]);
    expect(unseenEvents([a, b], [c])).toEqual([c]);
    expect(unseenEvents([], [a])).toEqual([a]);
    expect(unseenEvents([a, b, c, d], [c, d])).toEqual([]);
  });

  it("tells which compared steps differ", () => {
    const same = { step: "a", outcomeA: "succeeded", outcomeB: "succeeded", sameOutput: true, sameInputs: true, elapsedMsA: 1, elapsedMsB: 2, costUsdA: null, costUsdB: null };
    expect(differs(same)).toBe(false);
    expect(differs({ ...same, sameInputs: null })).toBe(false);
    expect(differs({ ...same, sameOutput: false })).toBe(true);
    expect(differs({ ...same, sameInputs: false })).toBe(true);
    expect(differs({ ...same, outcomeB: "-" })).toBe(true);
  });
});

describe("runStanding and runBadge", () => {
  const run = (status: string, live = false, playedElsewhere: string | null = null) => ({ status, live, playedElsewhere });
  it("tells a run played here, one played elsewhere, one interrupted and one ended apart", () => {
    expect(runStanding(run("running", true))).toBe("playing");
    expect(runStanding(run("running", false, "process 42 on this machine, heard from 1 s ago"))).toBe("elsewhere");
    expect(runStanding(run("running"))).toBe("interrupted");
    expect(runStanding(run("failed"))).toBe("failed");
  });
  it("names the process that plays a run elsewhere, and offers resuming only an interrupted one", () => {
    const elsewhere = runBadge(run("running", false, "process 42 on build-7, heard from 2 s ago"));
    expect(elsewhere).toEqual({ label: "playing elsewhere", className: "run-running", title: "Played by process 42 on build-7, heard from 2 s ago: open it to watch" });
    expect(runBadge(run("running")).label).toBe("not finished");
    expect(runBadge(run("succeeded")).className).toBe("run-succeeded");
  });
});

describe("countOf", () => {
  it("says one thing in the singular and others in the plural", () => {
    expect(countOf(1, "run")).toBe("1 run");
    expect(countOf(0, "run")).toBe("0 runs");
    expect(countOf(1000, "older run")).toBe("1,000 older runs");
  });
});
