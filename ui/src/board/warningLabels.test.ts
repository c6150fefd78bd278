import { describe, expect, it } from "vitest";
import { warningLabel } from "./warningLabels";

describe("warningLabel", () => {
  it("labels warnings, known or not", () => {
    expect(warningLabel("waitingForBudget")).toBe("Waiting for rate limit");
    expect(warningLabel("onCriticalPath")).toBe("Holding up the run (critical path)");
    expect(warningLabel("someNewKind")).toBe("Some New Kind");
  });
});
