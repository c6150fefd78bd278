/**
 * Numbers for people, as the board shows them. Fixed to en-US grouping so the board reads the
 * same everywhere (and tests can match it).
 */

const INT = new Intl.NumberFormat("en-US", { maximumFractionDigits: 0 });

/** 1,234 */
export function formatCount(n: number): string {
  return INT.format(n);
}

/** 1,234 tokens, with "~" when any count was estimated. */
export function formatTokens(n: number, estimated = false): string {
  return `${estimated ? "~" : ""}${INT.format(n)} tokens`;
}

/** $0.0123 below a dollar, $12.34 above; "—" when unknown. */
export function formatCost(usd: number | null | undefined): string {
  if (usd === null || usd === undefined || !Number.isFinite(usd)) return "—";
  if (usd === 0) return "$0";
  if (usd < 0.0001) return "<$0.0001";
  if (usd < 1) return `$${usd.toFixed(4)}`;
  return `$${usd.toFixed(2)}`;
}

/** A signed duration difference: +1.2 s, −300 ms, ±0. */
export function formatDelta(ms: number, format: (ms: number) => string): string {
  if (ms === 0) return "±0";
  return `${ms > 0 ? "+" : "−"}${format(Math.abs(ms))}`;
}

/** A moment of the run: 0:01.250 (minutes:seconds.millis since it started). */
export function formatAt(ms: number): string {
  const m = Math.floor(ms / 60_000);
  const s = Math.floor((ms % 60_000) / 1000);
  const milli = Math.floor(ms % 1000);
  return `${m}:${String(s).padStart(2, "0")}.${String(milli).padStart(3, "0")}`;
}

/** A count with its noun, singular or plural: "1 run", "3 runs", "1,000 runs". */
export function countOf(n: number, noun: string, plural = `${noun}s`): string {
  return `${formatCount(n)} ${n === 1 ? noun : plural}`;
}
