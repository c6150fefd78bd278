/**
 * Pure helpers behind the board's panels: timeline rows and their visible slice, axis ticks,
 * cost rows, warning labels. Kept out of the components so they are tested without a DOM.
 */
import type { EventRecord, RunEntry, StepComparison } from "../backend/types";
import type { Board, Span, StepLive } from "./model";

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
  const phase = s.phase === "backoff" ? "backing off" : s.phase;
  parts.push(`${phase} ${format(Math.max(0, (s.to ?? now) - s.from))}${s.to === null ? " so far" : ""}`);
  if (s.end && s.end !== "ok") parts.push(s.end === "retry" ? "failed, retried" : s.end === "fallback" ? "failed, fell back" : s.end);
  return parts.join(" · ");
}

export interface CostRow {
  step: string;
  tokens: number;
  costUsd: number | null;
  estimated: boolean;
  /** True while the figure is streamed tokens, not the step's final usage. */
  streaming: boolean;
}

/** Steps with tokens or cost, the dearest first (then the most tokens). */
export function costRows(steps: Readonly<Record<string, StepLive>>): CostRow[] {
  const rows: CostRow[] = [];
  for (const [step, s] of Object.entries(steps)) {
    const tokens = s.usage ? s.usage.inputTokens + s.usage.outputTokens : s.tokens;
    const costUsd = s.usage?.costUsd ?? null;
    if (tokens === 0 && !costUsd) continue;
    rows.push({ step, tokens, costUsd, estimated: s.usage?.estimated ?? false, streaming: !s.usage });
  }
  return rows.sort((a, b) => (b.costUsd ?? 0) - (a.costUsd ?? 0) || b.tokens - a.tokens || a.step.localeCompare(b.step));
}

/** Attempts made so far (the run's totals once it has finished). */
export function attemptsSoFar(board: Board): number {
  if (board.totals) return board.totals.attempts;
  let n = 0;
  for (const s of Object.values(board.steps)) n += s.attempt;
  return n;
}

/** Bottleneck kinds as people read them; kinds this UI does not know yet fall back to their name. */
export const WARNING_LABELS: Record<string, string> = {
  waitingForSlot: "Waiting for a slot",
  slowerThanEstimate: "Slower than estimated",
  repeatedRetries: "Repeated retries",
  fallbackTaken: "Fell back",
  waitingForBudget: "Waiting for rate limit",
  onCriticalPath: "Holding up the run (critical path)",
  slowerThanHistory: "Slower than its history",
  contextBloat: "Very large input",
  pinnedStale: "Pinned output is stale",
};

export function warningLabel(kind: string): string {
  return WARNING_LABELS[kind] ?? kind.replace(/([a-z])([A-Z])/g, "$1 $2").replace(/^./, (c) => c.toUpperCase());
}

/**
 * Of the batches that arrived while a stored log was being read, the events the log does not
 * hold yet. Times only grow, so an event before the log's last moment is in it; at that very
 * moment, events are matched by content.
 */
export function unseenEvents(known: readonly EventRecord[], arrived: readonly EventRecord[]): EventRecord[] {
  if (arrived.length === 0) return [];
  const last = known.length ? known[known.length - 1]!.atMs : -Infinity;
  const atLast = new Map<string, number>();
  for (let i = known.length - 1; i >= 0 && known[i]!.atMs === last; i--) {
    const key = JSON.stringify(known[i]);
    atLast.set(key, (atLast.get(key) ?? 0) + 1);
  }
  const out: EventRecord[] = [];
  for (const e of arrived) {
    if (e.atMs < last) continue;
    if (e.atMs === last) {
      const key = JSON.stringify(e);
      const n = atLast.get(key) ?? 0;
      if (n > 0) {
        atLast.set(key, n - 1);
        continue;
      }
    }
    out.push(e);
  }
  return out;
}

/** Whether a step differs between two compared runs (outcome, output or inputs). */
export function differs(c: StepComparison): boolean {
  return c.outcomeA !== c.outcomeB || !c.sameOutput || c.sameInputs === false;
}

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

/** The badge of a run: its label, its CSS class and what hovering it says. */
export function runBadge(r: Pick<RunEntry, "status" | "live" | "playedElsewhere">): { label: string; className: string; title: string } {
  const standing = runStanding(r);
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
