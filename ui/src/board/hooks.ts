/** Small hooks the board's components share: a ticking clock for live elapsed times. */
import { useEffect, useState } from "react";
import { useRun } from "../store/run";

/** Re-renders the caller every `ms` while `active`. */
export function useTicker(active: boolean, ms = 250): void {
  const [, setTick] = useState(0);
  useEffect(() => {
    if (!active) return;
    const t = setInterval(() => setTick((n) => n + 1), ms);
    return () => clearInterval(t);
  }, [active, ms]);
}

/** True while the board shows a live run that is playing now (times tick between batches). */
export function useLive(): boolean {
  return useRun((s) => s.scrubMs === null && s.source === "live" && s.phase === "running");
}

/**
 * The board's "now" in ms since the run started: the newest event's time plus, while a live run
 * plays, the wall time since that batch arrived.
 */
export function boardNow(): number {
  const s = useRun.getState();
  const live = s.scrubMs === null && s.source === "live" && s.phase === "running" && s.receivedAt > 0;
  return s.board.atMs + (live ? Math.max(0, performance.now() - s.receivedAt) : 0);
}
