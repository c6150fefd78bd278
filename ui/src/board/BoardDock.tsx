/**
 * The Harmony Board's dock under the canvas: a header that always shows the run (id, status,
 * live elapsed time, step counts, tokens and cost, and a scrubber for finished runs), a call
 * to review while a gate waits for a person, and tabs for warnings, the timeline, cost and
 * tokens, the melody's history, and a comparison of two runs.
 */
import { useEffect, useMemo, useRef } from "react";
import { useRun } from "../store/run";
import { CostChart } from "./CostChart";
import { Compare } from "./Compare";
import { useDock, type DockTab } from "./dock";
import { clearBoard, focusStep } from "./actions";
import { formatCost, formatCount, formatTokens } from "./format";
import { GateCall } from "./GateCall";
import { History } from "./History";
import { boardNow, useLive, useTicker } from "./hooks";
import { counts, emptyBoard, formatMs, liveTotals } from "./model";
import { Timeline } from "./Timeline";
import { Warnings } from "./Warnings";
import "./board.css";

export function BoardDock() {
  const tab = useDock((s) => s.tab);
  const folded = useDock((s) => s.folded);
  // With no run on the board, the run's own tabs have nothing to show: the dock is its one
  // header line (with a way to the history), and the canvas gets the room. History and
  // Compare, once asked for, keep their height.
  const idle = useRun((s) => s.source === "none") && tab !== "history" && tab !== "compare";
  return (
    <section className={`board-dock${folded ? " folded" : ""}${idle ? " idle" : ""}`} aria-label="Run board" data-testid="board-dock">
      <header className="dock-head">
        <button
          type="button"
          className="ghost dock-fold"
          aria-label={folded ? "Show the board" : "Fold the board"}
          aria-expanded={!folded}
          onClick={() => useDock.getState().fold(!folded)}
        >
          {folded ? "▸" : "▾"}
        </button>
        <RunTitle />
        <StatusBadge />
        <Elapsed />
        <Counts />
        <Totals />
        <Scrub />
        <ClearBoard />
        <Failure />
      </header>
      <GateCall />
      {folded || idle ? null : (
        <>
          <Tabs tab={tab} />
          <div className="dock-body" role="tabpanel" id={`dock-panel-${tab}`} aria-labelledby={`dock-tab-${tab}`}>
            {tab === "warnings" ? <Warnings /> : null}
            {tab === "timeline" ? <Timeline /> : null}
            {tab === "cost" ? <CostChart /> : null}
            {tab === "history" ? <History /> : null}
            {tab === "compare" ? <Compare /> : null}
          </div>
        </>
      )}
    </section>
  );
}

function Tabs({ tab }: { tab: DockTab }) {
  const warnings = useRun((s) => s.board.warnings.length);
  const tabs: [DockTab, string][] = [
    ["warnings", `Warnings (${warnings})`],
    ["timeline", "Timeline"],
    ["cost", "Cost & tokens"],
    ["history", "History"],
    ["compare", "Compare"],
  ];
  return (
    <div className="dock-tabs" role="tablist" aria-label="Board views">
      {tabs.map(([id, label]) => (
        <button
          key={id}
          type="button"
          role="tab"
          id={`dock-tab-${id}`}
          aria-selected={tab === id}
          aria-controls={`dock-panel-${id}`}
          className={`dock-tab${tab === id ? " active" : ""}${id === "warnings" && warnings > 0 ? " has-warnings" : ""}`}
          onClick={() => useDock.getState().show(id)}
        >
          {label}
        </button>
      ))}
    </div>
  );
}

function RunTitle() {
  const runId = useRun((s) => s.runId);
  const source = useRun((s) => s.source);
  const parent = useRun((s) => (s.record?.run.parentId ? `fork of ${s.record.run.parentId}${s.record.run.forkStep ? ` from ${s.record.run.forkStep}` : ""}` : null));
  if (source === "none")
    return (
      <span className="muted">
        No run on the board: run the melody, or open one from{" "}
        <button type="button" className="link" onClick={() => useDock.getState().show("history")}>
          History
        </button>
        .
      </span>
    );
  return (
    <span className="dock-run mono" data-testid="dock-run" title={parent ?? runId ?? ""}>
      {runId ?? "starting…"}
    </span>
  );
}

function StatusBadge() {
  const source = useRun((s) => s.source);
  const status = useRun((s) => s.board.status);
  const phase = useRun((s) => s.board.phase);
  const scrubbing = useRun((s) => s.scrubMs !== null);
  // A run that has not ended while a gate waits (live, or stopped there) waits for a person.
  const asking = useRun((s) => s.board.waiting.length > 0);
  if (source === "none") return null;
  if (asking && !scrubbing && status === null)
    return (
      <span className="badge run-waiting" data-testid="dock-status" title="A gate waits for a person's answer: the run goes on when it is approved or rejected">
        waiting for approval
      </span>
    );
  const label = scrubbing ? "replay" : (status ?? phase);
  const tone = scrubbing ? "paused" : (status ?? (phase === "finished" ? "cancelled" : "running"));
  return (
    <span className={`badge run-${tone}`} data-testid="dock-status">
      {label}
    </span>
  );
}

/**
 * Why a failed run failed, in its header: the first step that failed and its error, and how
 * many steps were skipped (a step whose input never arrived is skipped). Click to open the
 * failed step's last run.
 */
function Failure() {
  const steps = useRun((s) => s.board.steps);
  const status = useRun((s) => s.board.status);
  const failure = useMemo(() => {
    if (status !== "failed") return null;
    const failed = Object.entries(steps)
      .filter(([, st]) => st.state === "failed")
      .sort((a, b) => (a[1].endedAt ?? 0) - (b[1].endedAt ?? 0));
    const first = failed[0];
    if (!first) return null;
    const skipped = Object.values(steps).filter((st) => st.state === "skipped").length;
    return { step: first[0], error: first[1].detail ?? "no reason recorded", others: failed.length - 1, skipped };
  }, [steps, status]);
  if (!failure) return null;
  return (
    <button type="button" className="dock-failure" data-testid="dock-failure" onClick={() => focusStep(failure.step)} title="Open the failed step's last run">
      <strong>{failure.step}</strong> failed: {failure.error}
      {failure.others > 0 ? ` (and ${failure.others} more step${failure.others === 1 ? "" : "s"})` : ""}
      {failure.skipped > 0 ? ` · ${failure.skipped} step${failure.skipped === 1 ? " was" : "s were"} skipped (a step whose input never arrived is skipped; each says why in its last run)` : ""}
    </button>
  );
}

/** Takes a finished run off the board (it stays in History): the canvas is the editor again. */
function ClearBoard() {
  const shown = useRun((s) => s.source !== "none" && !(s.source === "live" && s.latest.phase !== "finished"));
  if (!shown) return null;
  return (
    <button type="button" className="ghost dock-clear" onClick={clearBoard} title="Take the run off the board and go back to editing (it stays in History)">
      Clear board
    </button>
  );
}

function Elapsed() {
  const source = useRun((s) => s.source);
  const atMs = useRun((s) => s.board.atMs);
  const elapsed = useRun((s) => s.board.totals?.elapsedMs ?? null);
  const live = useLive();
  useTicker(live);
  if (source === "none") return null;
  // The board's clock, not only the last session's: a resumed run's time runs across sessions.
  const ms = live ? boardNow() : Math.max(elapsed ?? 0, atMs);
  return (
    <span className="dock-elapsed mono" data-testid="dock-elapsed" title="Elapsed">
      {formatMs(ms)}
    </span>
  );
}

function Counts() {
  const steps = useRun((s) => s.board.steps);
  const of = useRun((s) => s.board.stepCount);
  const source = useRun((s) => s.source);
  const c = useMemo(() => counts({ ...emptyBoard, steps }), [steps]);
  if (source === "none") return null;
  return (
    <span className="dock-counts" data-testid="dock-counts">
      {c.active} running · {c.queued} queued{c.asking > 0 ? ` · ${c.asking} waiting for you` : ""} · {c.done} done{of ? ` of ${of}` : ""}
    </span>
  );
}

function Totals() {
  const steps = useRun((s) => s.board.steps);
  const totals = useRun((s) => s.board.totals);
  const source = useRun((s) => s.source);
  const t = useMemo(() => liveTotals({ ...emptyBoard, steps, totals }), [steps, totals]);
  if (source === "none") return null;
  return (
    <span className="dock-totals" data-testid="dock-totals">
      {formatTokens(t.tokens, t.estimated)} · {formatCost(t.costUsd)} · {formatCount(t.reused)} not played (reused, kept or pinned)
    </span>
  );
}

/** Replays a finished (or stored) run to any moment. Moves are applied once per frame. */
function Scrub() {
  const shown = useRun((s) => s.source === "stored" || (s.source === "live" && s.latest.phase === "finished"));
  const end = useRun((s) => s.latest.atMs);
  const scrubMs = useRun((s) => s.scrubMs);
  const stored = useRun((s) => s.source === "stored");
  const pending = useRef<number | null>(null);
  const frame = useRef(0);
  useEffect(() => () => cancelAnimationFrame(frame.current), []);
  if (!shown) return null;
  const move = (ms: number) => {
    pending.current = ms;
    if (frame.current) return;
    frame.current = requestAnimationFrame(() => {
      frame.current = 0;
      const at = pending.current;
      pending.current = null;
      if (at !== null) useRun.getState().scrub(at >= end ? null : at);
    });
  };
  const value = scrubMs ?? end;
  return (
    <span className="dock-scrub">
      <input
        type="range"
        min={0}
        max={Math.max(end, 1)}
        step={1}
        value={value}
        data-testid="scrub"
        aria-label="Replay the run to a moment"
        aria-valuetext={formatMs(value)}
        onChange={(e) => move(Number(e.target.value))}
      />
      <span className="mono small dock-scrub-at">{formatMs(value)}</span>
      <button type="button" className="small" data-testid="scrub-end" disabled={scrubMs === null} onClick={() => useRun.getState().scrub(null)}>
        {stored ? "End" : "Live"}
      </button>
    </span>
  );
}
