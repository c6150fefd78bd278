/** Joining a stored run's event log with the live batches that arrived while it was read. */
import type { EventRecord } from "../backend/types";

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
