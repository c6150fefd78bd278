/**
 * The run store: the live state of the run started from the editor, per step. Events arrive in
 * coalesced batches; a batch updates only the steps it mentions, and each step node subscribes
 * to its own entry, so a batch re-renders only the nodes whose state changed.
 */
import { create } from "zustand";
import type { EventRecord, RunStatus, Totals } from "../backend/types";

export type StepState = "queued" | "running" | "retrying" | "succeeded" | "cached" | "failed" | "skipped" | "cancelled";

export interface StepRun {
  state: StepState;
  attempt: number;
  /** Why it failed, was skipped or is retrying. */
  detail?: string;
  elapsedMs?: number;
  items?: { done: number; total: number };
}

export type RunPhase = "idle" | "starting" | "running" | "paused" | "finished";

export interface RunState {
  runId: string | null;
  phase: RunPhase;
  offline: boolean;
  status: RunStatus | null;
  totals: Totals | null;
  steps: Readonly<Record<string, StepRun>>;
  error: string | null;
  begin(): void;
  started(runId: string): void;
  failedToStart(message: string): void;
  apply(events: readonly EventRecord[]): void;
  clear(): void;
}

/** Folds a batch of events into per-step state; returns only the entries that changed. */
export function reduceSteps(
  steps: Readonly<Record<string, StepRun>>,
  events: readonly EventRecord[],
): Record<string, StepRun> {
  const changed: Record<string, StepRun> = {};
  const get = (id: string): StepRun | undefined => changed[id] ?? steps[id];
  for (const e of events) {
    switch (e.type) {
      case "stepQueued":
        if (e.item === null) changed[e.step] = { state: "queued", attempt: 0 };
        break;
      case "stepStarted": {
        const prev = get(e.step);
        changed[e.step] = { ...prev, state: "running", attempt: Math.max(e.attempt, prev?.attempt ?? 0), detail: undefined };
        break;
      }
      case "stepRetrying": {
        const prev = get(e.step);
        changed[e.step] = { ...prev, state: "retrying", attempt: prev?.attempt ?? 1, detail: e.error };
        break;
      }
      case "stepItemFinished": {
        const prev = get(e.step);
        changed[e.step] = { ...(prev ?? { attempt: 1 }), state: prev?.state ?? "running", items: { done: e.done, total: e.total } };
        break;
      }
      case "stepSucceeded": {
        const prev = get(e.step);
        changed[e.step] = {
          ...prev,
          state: e.origin === "played" ? "succeeded" : "cached",
          attempt: e.attempts,
          elapsedMs: e.elapsedMs,
          detail: e.origin === "given" ? "output given, not played" : e.origin === "cached" ? "output reused from an earlier run" : undefined,
        };
        break;
      }
      case "stepFailed":
        changed[e.step] = { ...get(e.step), attempt: get(e.step)?.attempt ?? 1, state: "failed", detail: e.error };
        break;
      case "stepSkipped":
        changed[e.step] = { attempt: 0, state: "skipped", detail: e.reason };
        break;
      case "stepCancelled":
        changed[e.step] = { ...get(e.step), attempt: get(e.step)?.attempt ?? 0, state: "cancelled" };
        break;
      default:
        break;
    }
  }
  return changed;
}

export const useRun = create<RunState>()((set, get) => ({
  runId: null,
  phase: "idle",
  offline: false,
  status: null,
  totals: null,
  steps: {},
  error: null,
  begin() {
    set({ runId: null, phase: "starting", status: null, totals: null, steps: {}, error: null });
  },
  started(runId) {
    set({ runId, phase: get().phase === "starting" ? "running" : get().phase });
  },
  failedToStart(message) {
    set({ phase: "idle", error: message });
  },
  apply(events) {
    const s = get();
    const changed = reduceSteps(s.steps, events);
    const patch: Partial<RunState> = {};
    if (Object.keys(changed).length > 0) patch.steps = { ...s.steps, ...changed };
    for (const e of events) {
      if (e.type === "runStarted") {
        patch.offline = e.offline;
        if (s.phase !== "finished") patch.phase = "running";
      } else if (e.type === "runPaused") patch.phase = "paused";
      else if (e.type === "runResumed") patch.phase = "running";
      else if (e.type === "runFinished") {
        patch.phase = "finished";
        patch.status = e.status;
        patch.totals = e.totals;
      }
    }
    set(patch);
  },
  clear() {
    set({ runId: null, phase: "idle", status: null, totals: null, steps: {}, error: null });
  },
}));
