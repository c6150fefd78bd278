/**
 * When the step was queued, started and ended, and its time split into waiting, working and
 * backing off (and, for a gate, waiting for a person).
 */
import { useMemo } from "react";
import { useRun } from "../../store/run";
import { formatAt } from "../format";
import { formatMs, type StepLive } from "../model";

export function Timing({ step, live }: { step: string; live: StepLive | undefined }) {
  const spans = useRun((s) => s.board.spans);
  const atMs = useRun((s) => s.board.atMs);
  const t = useMemo(() => {
    const out = { waiting: 0, working: 0, backoff: 0, asking: 0 };
    for (const s of spans) if (s.step === step) out[s.phase] += Math.max(0, (s.to ?? atMs) - s.from);
    return out;
  }, [spans, step, atMs]);
  const sum = t.waiting + t.working + t.backoff + t.asking;
  const at = (ms: number | undefined) => (ms === undefined ? "—" : formatAt(ms));
  return (
    <div className="dbg-timing">
      <dl className="dbg-dl">
        <dt>Queued at</dt>
        <dd className="mono">{at(live?.queuedAt)}</dd>
        <dt>Started at</dt>
        <dd className="mono">{at(live?.startedAt)}</dd>
        <dt>Ended at</dt>
        <dd className="mono">{at(live?.endedAt)}</dd>
        <dt>Waiting</dt>
        <dd>{formatMs(t.waiting)}</dd>
        <dt>Working</dt>
        <dd>{formatMs(t.working)}</dd>
        <dt>Backing off</dt>
        <dd>{formatMs(t.backoff)}</dd>
        {t.asking > 0 ? (
          <>
            <dt>Waiting for a person</dt>
            <dd>{formatMs(t.asking)}</dd>
          </>
        ) : null}
      </dl>
      {sum > 0 ? (
        <div className="dbg-split" aria-hidden title="waiting · working · backing off">
          <span className="phase-waiting" style={{ width: `${(t.waiting / sum) * 100}%` }} />
          <span className="phase-working" style={{ width: `${(t.working / sum) * 100}%` }} />
          <span className="phase-backoff" style={{ width: `${(t.backoff / sum) * 100}%` }} />
          <span className="phase-asking" style={{ width: `${(t.asking / sum) * 100}%` }} />
        </div>
      ) : null}
    </div>
  );
}
