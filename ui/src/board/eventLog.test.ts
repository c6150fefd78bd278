import { describe, expect, it } from "vitest";
import type { EventRecord } from "../backend/types";
import { unseenEvents } from "./eventLog";

const ev = (atMs: number, e: Record<string, unknown>) => ({ atMs, ...e }) as EventRecord;

describe("unseenEvents", () => {
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
});
