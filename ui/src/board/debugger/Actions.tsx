/** What can be done from the step: rerun from here, take again, fork with edits, pin or unpin its output. */
import { useEffect, useState } from "react";
import { useRun } from "../../store/run";
import { usePins } from "../../store/pins";
import { boardMelodyId, forkFrom, pinOutput, unpinOutput } from "../actions";
import type { StepLive } from "../model";
import { ForkForm } from "./ForkForm";

export function Actions({ step, live }: { step: string; live: StepLive | undefined }) {
  const runId = useRun((s) => s.runId);
  const playing = useRun((s) => s.latest.phase !== "finished");
  const pinnedInRecord = useRun((s) => s.record?.pinned.includes(step) ?? false);
  const pinnedNow = usePins((s) => s.pinned[step] !== undefined);
  const [pinned, setPinned] = useState(pinnedInRecord || pinnedNow);
  useEffect(() => setPinned(pinnedInRecord || pinnedNow), [pinnedInRecord, pinnedNow]);
  const [busy, setBusy] = useState(false);
  const [editing, setEditing] = useState(false);
  const done = live?.state === "succeeded" || live?.state === "cached";
  const forkable = !!runId && !playing && !busy;
  const why = playing ? "The run is still playing: wait for it to finish." : !runId ? "No run." : undefined;

  const fork = async (fresh: boolean) => {
    if (!runId) return;
    setBusy(true);
    await forkFrom(fresh ? { runId, fromStep: step, fresh: true } : { runId, fromStep: step });
    setBusy(false);
  };
  const togglePin = async () => {
    if (!runId) return;
    setBusy(true);
    if (pinned) {
      const melodyId = boardMelodyId();
      if (melodyId && (await unpinOutput(melodyId, step))) setPinned(false);
    } else if (await pinOutput(runId, step)) setPinned(true);
    setBusy(false);
  };
  return (
    <div className="dbg-actions">
      <div className="row wrap">
        <button type="button" aria-label="Rerun from here" title={why ?? "A new run that reuses everything before this step and plays it and what follows again"} disabled={!forkable} onClick={() => void fork(false)}>
          ↻ Rerun from here
        </button>
        <button type="button" aria-label="Take again" title={why ?? "A new run that plays this step again rather than reusing its output, and reuses everything else it can"} disabled={!forkable} onClick={() => void fork(true)}>
          ⟳ Take again
        </button>
        <button type="button" aria-label="Fork with edits…" aria-expanded={editing} title={why ?? "Change the run inputs or this step's prompt, then rerun from here"} disabled={!forkable} onClick={() => setEditing(!editing)}>
          ✎ Fork with edits…
        </button>
        {pinned ? (
          <button type="button" aria-label="Unpin" disabled={!runId || busy} title="New runs play this step again" onClick={() => void togglePin()}>
            Unpin
          </button>
        ) : (
          <button type="button" aria-label="Pin this output" disabled={!runId || busy || !done} title={done ? "New runs reuse this output until unpinned" : "Only a finished step's output can be pinned"} onClick={() => void togglePin()}>
            Pin this output
          </button>
        )}
      </div>
      {editing && runId && !playing ? <ForkForm runId={runId} step={step} onDone={() => setEditing(false)} /> : null}
    </div>
  );
}
