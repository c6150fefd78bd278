import { describe, expect, it } from "vitest";
import { differs, runBadge, runStanding } from "./runs";

describe("differs", () => {
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
  it("says a run waits for approval while a gate waits", () => {
    expect(runBadge({ ...run("running", true), waiting: ["approve-plan"] })).toMatchObject({ label: "waiting for approval", className: "run-waiting" });
    expect(runBadge({ ...run("running"), waiting: ["approve-plan"] }).title).toMatch(/approve-plan.*resume/);
    expect(runBadge({ ...run("running", true), waiting: [] }).label).toBe("playing");
  });
});
