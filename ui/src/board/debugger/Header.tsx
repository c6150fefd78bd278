/** The debugger's header: the step's id, name and type, its state, attempt, time, tokens, cost and origin. */
import { usePins } from "../../store/pins";
import type { StepDoc } from "../../backend/types";
import { backToEditing } from "../actions";
import { formatCost, formatCount } from "../format";
import { boardNow, useLive, useTicker } from "../hooks";
import { formatBytes, formatMs, originWord, stateWord, type StepLive } from "../model";

export function DebuggerHeader({ step, live, doc }: { step: string; live: StepLive | undefined; doc: StepDoc | undefined }) {
  const usage = live?.usage;
  const pinnedNow = usePins((s) => s.pinned[step] !== undefined);
  return (
    <header className="dbg-head">
      <div className="row">
        <h2 className="mono dbg-title" title={step}>
          {step}
        </h2>
        <button type="button" className="ghost dbg-close" aria-label="Close the step debugger" title="Back to editing (Esc)" onClick={backToEditing}>
          ✕
        </button>
      </div>
      {doc?.name && doc.name !== step ? <div className="muted small">{doc.name}</div> : null}
      <div className="row wrap small">
        <span className="mono muted" title="Step type">
          {live?.typeName ?? doc?.type ?? "—"}
          {live?.typeName && doc?.type && live.typeName !== doc.type ? ` (fallback of ${doc.type})` : ""}
        </span>
      </div>
      <div className="row wrap small dbg-facts">
        <span className={`dbg-state state-${live?.state ?? "idle"}`} data-testid="debugger-state">
          <span className="dot" /> {live ? stateWord(live.state, live.origin, pinnedNow) : "not reached"}
        </span>
        {live && live.attempt > 0 ? <span>attempt {live.attempt}</span> : null}
        {live?.items ? (
          <span>
            {formatCount(live.items.done)}/{formatCount(live.items.total)} items
          </span>
        ) : null}
        <StepElapsed live={live} />
        {live && live.tokens > 0 ? (
          <span title="Streamed">
            {formatCount(live.tokens)} tok · {formatBytes(live.bytes)} streamed
          </span>
        ) : null}
        {usage ? (
          <span title="Usage reported by the instrument">
            {usage.estimated ? "~" : ""}
            {formatCount(usage.inputTokens)} in · {usage.estimated ? "~" : ""}
            {formatCount(usage.outputTokens)} out · {formatCost(usage.costUsd)}
          </span>
        ) : null}
        {live?.origin ? <span className={`origin origin-${live.origin}`}>{originWord(live.origin, pinnedNow)}</span> : null}
      </div>
      {live?.detail ? <div className={`dbg-detail small${live.state === "failed" ? " bad" : ""}`}>{live.detail}</div> : null}
    </header>
  );
}

/** The step's elapsed time, ticking while it works in a live run. */
function StepElapsed({ live }: { live: StepLive | undefined }) {
  const working = live !== undefined && (live.state === "running" || live.state === "retrying") && live.startedAt !== undefined;
  const playing = useLive();
  useTicker(working && playing);
  if (!live) return null;
  const ms = working ? Math.max(0, boardNow() - (live.startedAt ?? 0)) : live.elapsedMs;
  if (ms === undefined) return null;
  return (
    <span className="mono" data-testid="debugger-elapsed" title="Elapsed">
      {formatMs(ms)}
    </span>
  );
}
