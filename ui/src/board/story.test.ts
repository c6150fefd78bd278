import { describe, expect, it } from "vitest";
import type { EventRecord } from "../backend/types";
import { StepEventIndex, stepStory } from "./story";

const ev = (atMs: number, e: Record<string, unknown>) => ({ atMs, ...e }) as EventRecord;

/** Step a: a failed attempt, a retry, a fallback, success; step b beside it. */
const LOG: EventRecord[] = [
  ev(0, { type: "runStarted", runId: "r", melodyId: "m", steps: 2, maxParallel: 2, offline: false }),
  ev(0, { type: "stepQueued", step: "a", item: null, inputs: { topic: "owls" } }),
  ev(5, { type: "stepQueued", step: "b", item: null, inputs: {} }),
  ev(100, { type: "stepStarted", step: "a", item: null, attempt: 1, typeName: "instrument.chat", offline: false }),
  ev(101, { type: "stepPrompt", step: "a", item: null, attempt: 1, system: "be brief", prompt: "write about owls" }),
  ev(150, { type: "stepProgress", step: "a", text: "Ow", tokens: 1, bytes: 2 }),
  ev(200, { type: "stepExchange", step: "a", item: null, attempt: 1, url: "https://api.example/v1/chat", status: 503, request: { model: "m" }, response: "busy", truncated: false }),
  ev(200, { type: "stepRetrying", step: "a", item: null, nextAttempt: 2, delayMs: 100, error: "HTTP 503" }),
  ev(300, { type: "stepStarted", step: "a", item: null, attempt: 2, typeName: "instrument.chat", offline: false }),
  ev(301, { type: "stepPrompt", step: "a", item: null, attempt: 2, system: "be brief", prompt: "write about owls" }),
  ev(400, { type: "stepFellBack", step: "a", item: null, fallback: 0, typeName: "instrument.other", error: "HTTP 500" }),
  ev(400, { type: "bottleneck", step: "a", kind: "fallbackTaken", message: "gave up", advice: "check the key" }),
  ev(400, { type: "stepStarted", step: "a", item: null, attempt: 3, typeName: "instrument.other", offline: false }),
  ev(450, { type: "stepLog", step: "a", item: null, stream: "info", line: "POST … → 200 in 50 ms" }),
  ev(500, { type: "fileWritten", step: "a", path: "owls.md", bytes: 12, sha256: "ab" }),
  ev(500, { type: "stepOutput", step: "a", outputs: { output: "Owls hoot." } }),
  ev(500, { type: "stepSucceeded", step: "a", elapsedMs: 400, attempts: 3, usage: null, origin: "played", cacheKey: null }),
  ev(510, { type: "stepStarted", step: "b", item: null, attempt: 1, typeName: "agent.shell", offline: true }),
  ev(520, { type: "stepFailed", step: "b", error: "exit 1", optional: false }),
  ev(520, { type: "runFinished", status: "failed", totals: { steps: 2, succeeded: 1, failed: 1, skipped: 0, cancelled: 0, attempts: 4, elapsedMs: 520, inputTokens: 0, outputTokens: 0, tokensEstimated: false, costUsd: 0 } }),
];

describe("step story", () => {
  it("says where an output not played came from in the board's words", () => {
    const done = (origin: string) => [ev(0, { type: "stepSucceeded", step: "c", elapsedMs: 0, attempts: 0, usage: null, origin, cacheKey: null })];
    expect(stepStory(done("cached"), "c").log.map((l) => l.text)).toEqual(["output reused from an earlier identical play, not played"]);
    expect(stepStory(done("given"), "c").log.map((l) => l.text)).toEqual(["output kept, not played"]);
  });

  it("tells a step's attempts, retries and fallback", () => {
    const s = stepStory(LOG, "a");
    expect(s.inputs).toEqual({ topic: "owls" });
    expect(s.queuedAt).toBe(0);
    expect(s.attempts).toEqual([
      { attempt: 1, item: null, typeName: "instrument.chat", startMs: 100, endMs: 200, outcome: "retried", error: "HTTP 503" },
      { attempt: 2, item: null, typeName: "instrument.chat", startMs: 300, endMs: 400, outcome: "fell back", error: "HTTP 500" },
      { attempt: 3, item: null, typeName: "instrument.other", startMs: 400, endMs: 500, outcome: "succeeded", error: null },
    ]);
    expect(s.prompts.map((p) => p.attempt)).toEqual([2, 1]);
    expect(s.outputs).toEqual({ output: "Owls hoot." });
    expect(s.files).toEqual([{ path: "owls.md", bytes: 12, sha256: "ab", atMs: 500 }]);
    expect(s.exchanges).toHaveLength(1);
    expect(s.exchanges[0]).toMatchObject({ status: 503, response: "busy", request: { model: "m" } });
    expect(s.warnings).toEqual([{ kind: "fallbackTaken", message: "gave up", advice: "check the key", atMs: 400 }]);
    expect(s.end).toEqual({ kind: "succeeded", atMs: 500, detail: null });
    expect(s.log.map((l) => l.stream)).toEqual(["event", "retry", "event", "fallback", "warning", "event", "info", "event"]);
    expect(s.log[1]?.text).toBe("attempt 1 failed: HTTP 503; retrying in 100 ms");
  });

  it("puts a final failure's error on the open attempt", () => {
    const s = stepStory(LOG, "b");
    expect(s.attempts).toEqual([{ attempt: 1, item: null, typeName: "agent.shell", startMs: 510, endMs: 520, outcome: "failed", error: "exit 1" }]);
    expect(s.end).toEqual({ kind: "failed", atMs: 520, detail: "exit 1" });
  });

  it("stops at a moment (scrubbing)", () => {
    const s = stepStory(LOG, "a", 350);
    expect(s.attempts.map((a) => [a.attempt, a.outcome])).toEqual([
      [1, "retried"],
      [2, "running"],
    ]);
    expect(s.outputs).toBeNull();
    expect(s.end).toBeNull();
  });

  it("tells map items apart", () => {
    const log = [
      ev(0, { type: "stepQueued", step: "m", item: null, inputs: { list: [1, 2] } }),
      ev(1, { type: "stepQueued", step: "m", item: 0, inputs: { item: 1, index: 0 } }),
      ev(1, { type: "stepQueued", step: "m", item: 1, inputs: { item: 2, index: 1 } }),
      ev(2, { type: "stepStarted", step: "m", item: 0, attempt: 1, typeName: "t", offline: true }),
      ev(3, { type: "stepStarted", step: "m", item: 1, attempt: 1, typeName: "t", offline: true }),
      ev(4, { type: "stepItemFinished", step: "m", item: 1, ok: false, error: "bad", done: 1, total: 2 }),
      ev(5, { type: "stepItemFinished", step: "m", item: 0, ok: true, error: null, done: 2, total: 2 }),
    ];
    const s = stepStory(log, "m");
    expect(s.inputs).toEqual({ list: [1, 2] });
    expect(s.items).toBe(2);
    expect(s.attempts.map((a) => [a.item, a.outcome, a.endMs, a.error])).toEqual([
      [0, "succeeded", 5, null],
      [1, "failed", 4, "bad"],
    ]);
  });

  it("indexes a growing log incrementally", () => {
    const index = new StepEventIndex();
    const log = LOG.slice(0, 4);
    const first = index.of(log, "a");
    expect(first.map((e) => e.type)).toEqual(["stepQueued", "stepStarted"]);
    expect(index.of(log, "a")).toBe(first);
    log.push(...LOG.slice(4, 6)); // a prompt and a progress event
    const second = index.of(log, "a");
    expect(second).not.toBe(first);
    expect(second.map((e) => e.type)).toEqual(["stepQueued", "stepStarted", "stepPrompt"]);
    log.push(LOG[2]!); // b only: nothing new for a
    expect(index.of(log, "a")).toBe(second);
    expect(index.of(log, "b").map((e) => e.type)).toEqual(["stepQueued", "stepQueued"]);
    expect(index.of(LOG, "a")).toHaveLength(stepStory(LOG, "a").events);
  });
});
