import { describe, expect, it } from "vitest";
import type { StepLive } from "./model";
import { costRows } from "./costRows";

const step = (s: Partial<StepLive>): StepLive => ({ state: "succeeded", attempt: 1, tokens: 0, bytes: 0, warnings: 0, ...s });

describe("costRows", () => {
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
});
