import { describe, expect, it } from "vitest";
import { answerProblem, answerWord, formatWait, parseEdited, stoppedTimeoutText, timeoutText } from "./gate";
import type { GateAsk } from "./model";

const ask: GateAsk = { title: "Go on?", review: "## Plan", format: "markdown", value: { estimate: "2 days" }, timeoutMs: 86_400_000, waitedMs: 0, onTimeout: "reject", since: 100 };

describe("a gate's words", () => {
  it("says the answer and the wait", () => {
    expect(answerWord({ decision: "approve", by: "cli" })).toBe("approved · cli");
    expect(answerWord({ decision: "reject", by: "timeout" })).toBe("rejected · timeout");
    expect([formatWait(800), formatWait(45_000), formatWait(725_000), formatWait(86_340_000), formatWait(3 * 86_400_000 + 4 * 3_600_000)]).toEqual(["0 s", "45 s", "12 m 05 s", "23 h 59 m", "3 d 4 h"]);
  });

  it("counts the timeout down from the ask, with the time waited in earlier sessions", () => {
    expect(timeoutText(ask, 60_100)).toBe("rejected automatically in 23 h 59 m if nobody answers");
    expect(timeoutText({ ...ask, onTimeout: "approve", waitedMs: 86_340_000 }, 100)).toBe("approved automatically in 1 m 00 s if nobody answers");
    // A stopped run's gate: the time counts on, so no remaining time is claimed.
    expect(stoppedTimeoutText(ask)).toContain("rejected automatically 24 h 00 m after it first asked");
    expect(stoppedTimeoutText({ ...ask, timeoutMs: null })).toContain("no timeout");
    expect(timeoutText({ ...ask, timeoutMs: null }, 100)).toMatch(/no timeout/);
  });
});

describe("an answer's checks", () => {
  it("refuses a rejection without a reason", () => {
    expect(answerProblem("reject", "  ")).toMatch(/Say why/);
    expect(answerProblem("reject", "too slow")).toBeNull();
    expect(answerProblem("approve", "")).toBeNull();
  });

  it("reads an edited value, and says what is wrong with one that is not JSON", () => {
    expect(parseEdited('{"estimate": "3 days"}', { estimate: "2 days" })).toEqual({ ok: true, value: { estimate: "3 days" }, edited: true });
    expect(parseEdited('{ "estimate":"2 days" }', { estimate: "2 days" })).toEqual({ ok: true, value: { estimate: "2 days" }, edited: false });
    const bad = parseEdited('{"estimate": 3 days}', { estimate: "2 days" });
    expect(bad.ok).toBe(false);
    expect(!bad.ok && bad.error).toMatch(/not JSON/);
  });
});
