/**
 * The board's call to a person while a gate waits: a line under the dock's header, shown even
 * with the dock folded and whichever step is selected, that names the gate and what it asks,
 * and opens its Last run (where it is answered). Once this window answered a gate of a run that
 * is not playing, it offers to continue the run, which is when the run takes the answer.
 * Screen readers hear it as a status.
 */
import { useState } from "react";
import { gateKey, useGates } from "../store/gates";
import { useRun } from "../store/run";
import { continueAnswered, focusStep } from "./actions";
import "./board.css";

export function GateCall() {
  const runId = useRun((s) => s.runId);
  const waiting = useRun((s) => s.latest.waiting);
  const sent = useGates((s) => s.sent);
  const [busy, setBusy] = useState(false);
  if (!runId) return null;
  const unanswered = waiting.filter((step) => !sent[gateKey(runId, step)]);
  const first = unanswered[0];
  if (first === undefined) {
    // Every waiting gate was answered here: a stopped run takes the answers when continued.
    const stopped = waiting.find((step) => sent[gateKey(runId, step)]?.next === "stopped");
    if (stopped === undefined) return null;
    return (
      <div className="gate-call" role="status" data-testid="gate-call">
        <span>
          <strong className="mono">{stopped}</strong> is answered: the run takes the answer when it is continued.
        </span>
        <button
          type="button"
          className="small primary"
          disabled={busy}
          onClick={async () => {
            setBusy(true);
            await continueAnswered(runId, stopped);
            setBusy(false);
          }}
        >
          Continue the run
        </button>
      </div>
    );
  }
  const more = unanswered.length - 1;
  return <Waiting step={first} more={more} />;
}

/** "approve-plan waits for you: Go on with this plan? [Review]". */
function Waiting({ step, more }: { step: string; more: number }) {
  const title = useRun((s) => s.latest.steps[step]?.gate?.ask?.title);
  return (
    <div className="gate-call" role="status" data-testid="gate-call">
      <span className="gate-call-mark" aria-hidden="true">
        ●
      </span>
      <span>
        <strong className="mono">{step}</strong> waits for you{more > 0 ? ` (and ${more} more gate${more === 1 ? "" : "s"})` : ""}
        {title ? <span className="muted">: {title}</span> : null}
      </span>
      <button type="button" className="small primary" onClick={() => focusStep(step)} title={`Select ${step} and open its Last run to approve or reject it`}>
        Review
      </button>
    </div>
  );
}
