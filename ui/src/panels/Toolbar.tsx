/** The editor's top bar: file, edit, layout and run commands, and the offline label. */
import { useDoc } from "../store/doc";
import { useRun } from "../store/run";
import { useApp } from "../store/app";
import { keys } from "../app/shortcuts";
import { exportMelody, goHome, layoutAll, pauseOrResume, reviewPermissions, save, stopRun } from "../app/actions";

export function Toolbar({ onNote, onGroup }: { onNote: () => void; onGroup: () => void }) {
  const name = useDoc((s) => s.melody?.melody.name ?? "");
  const path = useDoc((s) => s.path);
  const dirty = useDoc((s) => s.dirty);
  const canUndo = useDoc((s) => s.past.length > 0);
  const canRedo = useDoc((s) => s.future.length > 0);
  const hasSteps = useDoc((s) => (s.melody?.steps.length ?? 0) > 0);
  const live = useRun((s) => s.source === "live" && s.scrubMs === null);
  const stored = useRun((s) => (s.source === "stored" ? s.runId : null));
  const scrubbing = useRun((s) => s.scrubMs !== null);
  // The run's own phase: scrubbing a replay to a moment changes the board, not the run.
  const phase = useRun((s) => s.latest.phase);
  const status = useRun((s) => s.latest.status);
  const asking = useRun((s) => s.latest.waiting.length > 0);
  // With a run on the board, whether that run calls no model (a melody may point its chat steps
  // at a server even when no provider is configured); otherwise, whether any model is configured.
  const runOffline = useRun((s) => (s.source !== "none" && s.log.length > 0 ? s.latest.offline : null));
  const projectOffline = useApp((s) => s.project?.offline ?? false);
  const offline = runOffline ?? projectOffline;
  const open = useApp((s) => s.open);
  const trust = useDoc((s) => (!s.permissions ? null : !s.permissions.needsTrust ? "none" : s.permissions.trusted ? "trusted" : "untrusted"));
  const active = phase === "running" || phase === "paused" || phase === "starting";
  return (
    <header className="toolbar">
      <button type="button" className="ghost" onClick={() => void goHome()} title="Back to the melody list">
        ◂ Melodies
      </button>
      <div className="doc-title" title={path || "not saved yet"}>
        <strong>{name}</strong>
        <span className="muted small">{path || "not saved yet"}</span>
        {dirty ? (
          <span className="dirty" title="Unsaved changes" data-testid="dirty">
            ●
          </span>
        ) : null}
      </div>
      <div className="tool-group">
        <button type="button" onClick={() => void save()} title={`Save (${keys("Mod+S")})`}>
          Save
        </button>
        <button type="button" onClick={() => open({ kind: "import" })} title="Import a shared melody file or a SuperOptiX orchestra">
          Import
        </button>
        <button type="button" onClick={() => void exportMelody()} title="Export a shareable copy">
          Export
        </button>
        <button type="button" onClick={() => open({ kind: "compare" })} title="Compare with its committed version, the saved file or another melody">
          Compare
        </button>
      </div>
      <div className="tool-group">
        <button type="button" disabled={!canUndo} onClick={() => useDoc.getState().undo()} title={`Undo (${keys("Mod+Z")})`} aria-label="Undo">
          ↶
        </button>
        <button type="button" disabled={!canRedo} onClick={() => useDoc.getState().redo()} title={`Redo (${keys("Mod+Shift+Z")})`} aria-label="Redo">
          ↷
        </button>
        <button type="button" disabled={!hasSteps} onClick={layoutAll} title="Arrange the steps left to right">
          Auto-layout
        </button>
        <button type="button" onClick={onNote} title="Add a note">
          Note
        </button>
        <button type="button" onClick={onGroup} title="Draw a group around the selected steps">
          Group
        </button>
        <button type="button" onClick={() => open({ kind: "palette" })} title={`Command palette (${keys("Mod+K")}); ? lists every shortcut`} aria-label="Command palette">
          {keys("Mod+K")}
        </button>
      </div>
      <div className="tool-group run-group">
        {offline ? (
          <button
            type="button"
            className="badge offline"
            title={runOffline ? "This run calls no model: its instruments play offline. Set up a provider…" : "No model is configured: instruments play offline. Set up a provider…"}
            onClick={() => open({ kind: "provider" })}
          >
            offline
          </button>
        ) : null}
        {trust ? (
          <button
            type="button"
            className={`trust trust-${trust}`}
            data-trust={trust}
            onClick={() => void reviewPermissions()}
            title={
              trust === "none"
                ? "What this melody may do (nothing that needs your trust)"
                : trust === "trusted"
                  ? "You trust this melody as it is"
                  : "This melody does what needs your trust (programs, credentials sent away, addresses of its own) and is not trusted: it will not run until you trust it"
            }
          >
            {trust === "untrusted" ? "⚠ Untrusted" : trust === "trusted" ? "✓ Trusted" : "Permissions"}
          </button>
        ) : null}
        {stored ? (
          <span className="badge run-stored" title={`A stored run: ${stored}`}>
            {scrubbing ? "replay" : "past run"}
          </span>
        ) : null}
        {phase === "finished" && status ? <span className={`badge run-${status}`}>run {status}</span> : null}
        {(phase === "running" || phase === "starting") && !asking ? <span className="badge run-running">running…</span> : null}
        {phase === "running" && asking ? (
          <span className="badge run-waiting" title="A gate waits for a person's answer: see the board">
            waiting for approval
          </span>
        ) : null}
        {phase === "paused" ? <span className="badge run-paused">paused</span> : null}
        <button type="button" className="primary" disabled={active || !hasSteps} onClick={() => open({ kind: "run" })} title="Run this melody">
          ▶ Run
        </button>
        <button type="button" disabled={!live || !(phase === "running" || phase === "paused")} onClick={() => void pauseOrResume()}>
          {phase === "paused" ? "Resume" : "Pause"}
        </button>
        <button type="button" disabled={!live || !(phase === "running" || phase === "paused")} onClick={() => void stopRun()}>
          Stop
        </button>
      </div>
    </header>
  );
}
