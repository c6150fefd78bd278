/** The cost chart's rows: steps with tokens or cost, the dearest first. */
import type { StepLive } from "./model";

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
