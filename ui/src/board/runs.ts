/**
 * Stored runs as the history, the welcome view and the comparison show them: where a run stands,
 * its badge, and whether a step differs between two compared runs.
 */
import type { RunEntry, StepComparison } from "../backend/types";

/**
 * Where a stored run stands, as the history and the welcome view show it: played by this window
 * (`playing`), by another process into the same store (`elsewhere`: watch it, do not resume it),
 * interrupted (`interrupted`: it can be resumed), or ended (its status).
 */
export type RunStanding = "playing" | "elsewhere" | "interrupted" | "succeeded" | "failed" | "cancelled";

export function runStanding(r: Pick<RunEntry, "status" | "live" | "playedElsewhere">): RunStanding {
  if (r.live) return "playing";
  if (r.status === "running") return r.playedElsewhere ? "elsewhere" : "interrupted";
  return r.status as RunStanding;
}

/**
 * The badge of a run: its label, its CSS class and what hovering it says. An unfinished run
 * with a gate waiting says so first: it goes on when a person answers.
 */
export function runBadge(r: Pick<RunEntry, "status" | "live" | "playedElsewhere"> & Partial<Pick<RunEntry, "waiting">>): { label: string; className: string; title: string } {
  const standing = runStanding(r);
  if (r.waiting?.length && r.status === "running") {
    const gates = r.waiting.join(", ");
    const then = standing === "interrupted" ? "; answer it, then resume the run" : "";
    return { label: "waiting for approval", className: "run-waiting", title: `Waiting for a person at ${gates}: open the run to review${then}` };
  }
  switch (standing) {
    case "playing":
      return { label: "playing", className: "run-running", title: "Playing in this window" };
    case "elsewhere":
      return { label: "playing elsewhere", className: "run-running", title: `Played by ${r.playedElsewhere}: open it to watch` };
    case "interrupted":
      return { label: "not finished", className: "run-interrupted", title: "Interrupted mid-run: resume it to play the rest" };
    default:
      return { label: standing, className: `run-${standing}`, title: standing };
  }
}

/** Whether a step differs between two compared runs (outcome, output or inputs). */
export function differs(c: StepComparison): boolean {
  return c.outcomeA !== c.outcomeB || !c.sameOutput || c.sameInputs === false;
}
