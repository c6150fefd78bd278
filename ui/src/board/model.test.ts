import { describe, expect, it } from "vitest";
import type { EventRecord } from "../backend/types";
import { applyEvents, boardAt, counts, emptyBoard, flowKey, liveTotals, stateWord, waitVsWork } from "./model";

const ev = (atMs: number, e: Record<string, unknown>) => ({ atMs, ...e }) as EventRecord;

/** a (queued 0, waits until 100, works until 300, retries, works 400–600) → b reads a. */
const LOG: EventRecord[] = [
  ev(0, { type: "runStarted", runId: "r", melodyId: "m", steps: 2, maxParallel: 1, offline: true }),
  ev(0, { type: "stepQueued", step: "a", item: null, inputs: {} }),
  ev(100, { type: "stepStarted", step: "a", item: null, attempt: 1, typeName: "instrument.chat", offline: false }),
  ev(150, { type: "stepProgress", step: "a", text: "Hel", tokens: 1, bytes: 3 }),
  ev(300, { type: "stepRetrying", step: "a", item: null, nextAttempt: 2, delayMs: 100, error: "HTTP 503" }),
  ev(400, { type: "stepStarted", step: "a", item: null, attempt: 2, typeName: "instrument.chat", offline: false }),
  ev(450, { type: "bottleneck", step: "a", kind: "repeatedRetries", message: "2 attempts", advice: "add a fallback" }),
  ev(500, { type: "stepProgress", step: "a", text: "lo", tokens: 2, bytes: 2 }),
  ev(600, { type: "stepOutput", step: "a", outputs: { output: "Hello" } }),
  ev(600, { type: "stepSucceeded", step: "a", elapsedMs: 500, attempts: 2, usage: { inputTokens: 10, outputTokens: 3, estimated: false, costUsd: 0.002 }, origin: "played", cacheKey: null }),
  ev(600, { type: "dataSent", fromStep: "a", fromPort: "output", toStep: "b", toPort: "input", bytes: 7 }),
  ev(600, { type: "stepQueued", step: "b", item: null, inputs: { input: "Hello" } }),
  ev(610, { type: "stepStarted", step: "b", item: null, attempt: 1, typeName: "operator.pass", offline: true }),
  ev(620, { type: "stepSucceeded", step: "b", elapsedMs: 10, attempts: 1, usage: null, origin: "cached", cacheKey: "k" }),
  ev(620, { type: "runFinished", status: "succeeded", totals: { steps: 2, succeeded: 2, failed: 0, skipped: 0, cancelled: 0, attempts: 3, elapsedMs: 620, inputTokens: 10, outputTokens: 3, tokensEstimated: false, costUsd: 0.002 } }),
];

describe("board model", () => {
  it("follows a run to its end", () => {
    const b = applyEvents(emptyBoard, LOG);
    expect(b.phase).toBe("finished");
    expect(b.status).toBe("succeeded");
    expect(b.steps.a).toMatchObject({ state: "succeeded", attempt: 2, tokens: 3, bytes: 5, queuedAt: 0, startedAt: 100, endedAt: 600, warnings: 1 });
    expect(b.steps.b).toMatchObject({ state: "cached", origin: "cached" });
    expect(b.streams.a).toBe("Hello");
    expect(b.flows[flowKey("a", "output", "b", "input")]).toEqual({ bytes: 7, sends: 1, lastAt: 600 });
    expect(b.warnings).toEqual([{ step: "a", kind: "repeatedRetries", message: "2 attempts", advice: "add a fallback", atMs: 450 }]);
    expect(liveTotals(b)).toEqual({ tokens: 13, costUsd: 0.002, estimated: false, reused: 1 });
    const unpriced = applyEvents(emptyBoard, LOG.map((e) => (e.type === "stepSucceeded" && e.usage ? { ...e, usage: { ...e.usage, costUsd: null } } : e)).slice(0, -1));
    expect(liveTotals(unpriced).costUsd).toBeNull();
  });

  it("draws waiting, working and backing off as spans", () => {
    const b = applyEvents(emptyBoard, LOG);
    const a = b.spans.filter((s) => s.step === "a").map((s) => [s.phase, s.from, s.to, s.end ?? null]);
    expect(a).toEqual([
      ["waiting", 0, 100, null],
      ["working", 100, 300, "retry"],
      ["backoff", 300, 400, null],
      ["working", 400, 600, "ok"],
    ]);
    expect(b.spans.every((s) => s.to !== null)).toBe(true);
    expect(waitVsWork(b).get("a")).toEqual({ waiting: 100, working: 400, backoff: 100, asking: 0 });
  });

  it("replays to any moment", () => {
    const mid = boardAt(LOG, 350);
    expect(mid.steps.a?.state).toBe("retrying");
    expect(mid.steps.b).toBeUndefined();
    expect(mid.atMs).toBe(350);
    expect(counts(mid)).toEqual({ active: 1, queued: 0, asking: 0, done: 0 });
    expect(mid.spans.find((s) => s.phase === "backoff")?.to).toBeNull();
    expect(boardAt(LOG, 10_000).status).toBe("succeeded");
  });

  it("keeps the entries a batch does not touch", () => {
    const one = applyEvents(emptyBoard, LOG.slice(0, 10));
    const two = applyEvents(one, LOG.slice(10, 12));
    expect(two.steps.a).toBe(one.steps.a);
    expect(two.steps.b).toBeDefined();
    expect(two.warnings).toBe(one.warnings);
  });
});

/** plan → approve (a gate: asks at 100, answered at 5000) → build. */
const GATE: EventRecord[] = [
  ev(0, { type: "runStarted", runId: "r", melodyId: "m", steps: 2, maxParallel: 2, offline: true }),
  ev(0, { type: "stepQueued", step: "approve", item: null, inputs: { input: { estimate: "2 days" } } }),
  ev(90, { type: "stepStarted", step: "approve", item: null, attempt: 1, typeName: "cue.gate", offline: true }),
  ev(100, { type: "gateWaiting", step: "approve", title: "Go on?", review: "## Plan", format: "markdown", value: { estimate: "2 days" }, timeoutMs: 86_400_000, waitedMs: 0, onTimeout: "reject" }),
  ev(5000, { type: "gateAnswered", step: "approve", decision: "approve", reason: "fine", value: { estimate: "3 days" }, by: "app" }),
  ev(5000, { type: "stepSucceeded", step: "approve", elapsedMs: 4910, attempts: 1, usage: null, origin: "played", cacheKey: null }),
];

describe("gates on the board", () => {
  it("waits for a person from the ask to the answer, and keeps both", () => {
    const asking = applyEvents(emptyBoard, GATE.slice(0, 4));
    expect(asking.steps.approve?.state).toBe("waiting");
    expect(asking.waiting).toEqual(["approve"]);
    expect(asking.steps.approve?.gate).toEqual({
      ask: { title: "Go on?", review: "## Plan", format: "markdown", value: { estimate: "2 days" }, timeoutMs: 86_400_000, waitedMs: 0, onTimeout: "reject", since: 100 },
      answer: null,
    });
    expect(counts(asking)).toEqual({ active: 0, queued: 0, asking: 1, done: 0 });
    expect(stateWord("waiting", undefined)).toBe("waiting for you");

    const answered = applyEvents(asking, GATE.slice(4, 5));
    expect(answered.steps.approve?.state).toBe("running");
    expect(answered.waiting).toEqual([]);
    expect(answered.steps.approve?.gate?.answer).toEqual({ decision: "approve", reason: "fine", by: "app", value: { estimate: "3 days" }, atMs: 5000 });
    expect(answered.steps.approve?.gate?.ask?.title).toBe("Go on?");

    const done = applyEvents(answered, GATE.slice(5));
    expect(done.steps.approve?.state).toBe("succeeded");
    expect(done.steps.approve?.gate?.answer?.by).toBe("app");
    // The wait for the person is its own span, not work.
    expect(done.spans.map((s) => [s.phase, s.from, s.to])).toEqual([
      ["waiting", 0, 90],
      ["working", 90, 100],
      ["asking", 100, 5000],
    ]);
    expect(waitVsWork(done).get("approve")).toEqual({ waiting: 90, working: 10, backoff: 0, asking: 4900 });
  });

  it("keeps the waiting list while other steps move, and empties it when the run ends", () => {
    const asking = applyEvents(emptyBoard, GATE.slice(0, 4));
    const other = applyEvents(asking, [ev(200, { type: "stepQueued", step: "build", item: null, inputs: {} })]);
    expect(other.waiting).toBe(asking.waiting);
    const stopped = applyEvents(asking, [ev(300, { type: "runFinished", status: "cancelled", totals: { steps: 2, succeeded: 0, failed: 0, skipped: 0, cancelled: 1, attempts: 1, elapsedMs: 300, inputTokens: 0, outputTokens: 0, tokensEstimated: false, costUsd: 0 } })]);
    expect(stopped.waiting).toEqual([]);
    expect(stopped.steps.approve?.state).toBe("cancelled");
  });

  it("takes a rejection, and an answer a resumed run found recorded", () => {
    const rejected = applyEvents(emptyBoard, [
      ...GATE.slice(0, 4),
      ev(700, { type: "gateAnswered", step: "approve", decision: "reject", reason: "too slow", value: null, by: "cli" }),
      ev(700, { type: "stepFailed", step: "approve", error: "gate `approve` was rejected by cli: too slow", optional: false }),
    ]);
    expect(rejected.steps.approve).toMatchObject({ state: "failed", gate: { answer: { decision: "reject", reason: "too slow", by: "cli", value: null } } });
    const resumed = applyEvents(emptyBoard, [ev(10, { type: "gateAnswered", step: "approve", decision: "approve", reason: null, value: null, by: "cli" })]);
    expect(resumed.steps.approve?.gate).toMatchObject({ ask: null, answer: { decision: "approve" } });
    expect(resumed.waiting).toEqual([]);
  });

  it("replays to a moment the gate was waiting", () => {
    expect(boardAt(GATE, 1000).waiting).toEqual(["approve"]);
    expect(boardAt(GATE, 6000).waiting).toEqual([]);
  });
});
