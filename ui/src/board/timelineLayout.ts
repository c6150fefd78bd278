/**
 * The timeline's layout, kept out of the component so it is tested without a DOM: rows in the
 * order steps first appeared, the rows a scroll container shows, axis ticks, a bar's hover text,
 * and the attempts counted in its header.
 */
import type { Board, Span } from "./model";

/** The timeline's rows: steps in the order their first span appeared, with their spans. */
export interface TimelineRows {
  order: string[];
  byStep: Map<string, Span[]>;
}

export function timelineRows(spans: readonly Span[]): TimelineRows {
  const byStep = new Map<string, Span[]>();
  const order: string[] = [];
  for (const s of spans) {
    let list = byStep.get(s.step);
    if (!list) {
      byStep.set(s.step, (list = []));
      order.push(s.step);
    }
    list.push(s);
  }
  return { order, byStep };
}

/** The rows a scroll container shows (with `overscan` rows either side), as [first, end). */
export function visibleSlice(scrollTop: number, viewport: number, rowHeight: number, count: number, overscan = 6): [number, number] {
  const first = Math.max(0, Math.floor(scrollTop / rowHeight) - overscan);
  const end = Math.min(count, Math.ceil((scrollTop + viewport) / rowHeight) + overscan);
  return [first, Math.max(first, end)];
}

/** Round tick positions (ms) for an axis of `duration`, about `target` of them, 0 included. */
export function niceTicks(duration: number, target = 5): number[] {
  if (!(duration > 0)) return [0];
  const raw = duration / target;
  const pow = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 5, 10].map((m) => m * pow).find((s) => s >= raw) ?? 10 * pow;
  const ticks: number[] = [];
  for (let t = 0; t <= duration + 1e-9; t += step) ticks.push(Math.round(t * 1000) / 1000);
  return ticks;
}

/** A bar's hover text: "attempt 2 · working 1.2 s". */
export function spanTitle(s: Span, now: number, format: (ms: number) => string): string {
  const parts: string[] = [];
  if (s.item !== null) parts.push(`item ${s.item}`);
  if (s.attempt > 0) parts.push(`attempt ${s.attempt}`);
  const phase = s.phase === "backoff" ? "backing off" : s.phase === "asking" ? "waiting for a person" : s.phase;
  parts.push(`${phase} ${format(Math.max(0, (s.to ?? now) - s.from))}${s.to === null ? " so far" : ""}`);
  if (s.end && s.end !== "ok") parts.push(s.end === "retry" ? "failed, retried" : s.end === "fallback" ? "failed, fell back" : s.end);
  return parts.join(" · ");
}

/** Attempts made so far (the run's totals once it has finished). */
export function attemptsSoFar(board: Board): number {
  if (board.totals) return board.totals.attempts;
  let n = 0;
  for (const s of Object.values(board.steps)) n += s.attempt;
  return n;
}
