/**
 * Bottleneck warnings as people read them. The map is typed over the generated `BottleneckKind`,
 * so a kind the conductor gains does not compile here until it has a label; a kind from a newer
 * conductor this UI was connected to still shows, under its own name.
 */
import type { BottleneckKind } from "../backend/types";

/** Bottleneck kinds as people read them; kinds this UI does not know yet fall back to their name. */
export const WARNING_LABELS: Record<BottleneckKind, string> = {
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
  return (WARNING_LABELS as Readonly<Record<string, string | undefined>>)[kind] ?? kind.replace(/([a-z])([A-Z])/g, "$1 $2").replace(/^./, (c) => c.toUpperCase());
}
