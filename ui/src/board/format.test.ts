import { describe, expect, it } from "vitest";
import { formatMs } from "./model";
import { countOf, formatAt, formatCost, formatDelta, formatTokens } from "./format";

describe("figures", () => {
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
});

describe("countOf", () => {
  it("says one thing in the singular and others in the plural", () => {
    expect(countOf(1, "run")).toBe("1 run");
    expect(countOf(0, "run")).toBe("0 runs");
    expect(countOf(1000, "older run")).toBe("1,000 older runs");
  });
});
