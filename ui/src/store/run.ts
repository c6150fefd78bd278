/**
 * The run on the board: the run started from the editor (live), a stored run opened from the
 * history (replayed, and scrubbed to any moment), or a run followed from another process.
 *
 * Events arrive in coalesced batches and are folded into a `Board` (board/model.ts); each step
 * node and edge subscribes to its own entry, so a batch re-renders only what it changed. Every
 * event is also kept in `log`, in order, for the step debugger and for scrubbing.
 */
import { create } from "zustand";
import type { EventRecord, RunRecord, RunStatus, Totals } from "../backend/types";
import { applyEvents, boardAt, emptyBoard, type Board, type Phase } from "../board/model";

export type { StepLive as StepRun, StepState } from "../board/model";
export type RunPhase = Phase;

/** Where the board's run comes from. */
export type RunSource = "none" | "live" | "stored";

export interface RunState {
  runId: string | null;
  source: RunSource;
  /** The stored record of a run opened from the history (its melody, inputs, files). */
  record: RunRecord | null;
  /** Every event so far, in order. Append-only; `logLength` changes when it grows. */
  log: EventRecord[];
  logLength: number;
  /** The board now, or at `scrubMs` when scrubbing. */
  board: Board;
  /** The board at the newest event (equal to `board` unless scrubbing). */
  latest: Board;
  scrubMs: number | null;
  /** The step the debugger shows. */
  focusStep: string | null;
  /** Mirrors of `board` for the toolbar. */
  phase: RunPhase;
  offline: boolean;
  status: RunStatus | null;
  totals: Totals | null;
  steps: Board["steps"];
  error: string | null;
  /** Wall-clock time (performance.now) when the newest batch arrived: live elapsed times tick from it. */
  receivedAt: number;
  begin(): void;
  started(runId: string): void;
  failedToStart(message: string): void;
  apply(events: readonly EventRecord[]): void;
  /** Shows a stored run (replayed to its end); `live` when this process is still playing it. */
  openRecord(record: RunRecord, live: boolean): void;
  scrub(atMs: number | null): void;
  focus(step: string | null): void;
  clear(): void;
}

function mirror(board: Board) {
  return { board, phase: board.phase, offline: board.offline, status: board.status, totals: board.totals, steps: board.steps };
}

const idle = {
  runId: null,
  source: "none" as RunSource,
  record: null,
  log: [] as EventRecord[],
  logLength: 0,
  latest: emptyBoard,
  scrubMs: null,
  focusStep: null,
  error: null,
  receivedAt: 0,
  ...mirror(emptyBoard),
};

export const useRun = create<RunState>()((set, get) => ({
  ...idle,
  begin() {
    const board = { ...emptyBoard, phase: "starting" as const };
    set({ ...idle, log: [], source: "live", latest: board, ...mirror(board) });
  },
  started(runId) {
    set({ runId });
  },
  failedToStart(message) {
    set({ ...idle, log: [], error: message });
  },
  apply(events) {
    if (events.length === 0) return;
    const s = get();
    for (const e of events) s.log.push(e); // not push(...events): a huge batch would overflow the stack
    const latest = applyEvents(s.latest, events);
    const patch: Partial<RunState> = { latest, logLength: s.log.length, receivedAt: performance.now() };
    if (s.scrubMs === null) Object.assign(patch, mirror(latest));
    set(patch);
  },
  openRecord(record, live) {
    const log = [...record.events];
    const latest = applyEvents({ ...emptyBoard, phase: "running" }, log);
    // An interrupted run has no runFinished: it is not running any more unless it is live.
    const board = !live && latest.phase !== "finished" ? { ...latest, phase: "finished" as const } : latest;
    set({
      ...idle,
      runId: record.run.id,
      source: live ? "live" : "stored",
      record,
      log,
      logLength: log.length,
      latest: board,
      receivedAt: performance.now(),
      ...mirror(board),
    });
  },
  scrub(atMs) {
    const s = get();
    if (atMs === null || atMs >= s.latest.atMs) {
      set({ scrubMs: null, ...mirror(s.latest) });
      return;
    }
    const board = boardAt(s.log, atMs);
    set({ scrubMs: atMs, ...mirror({ ...board, phase: board.phase === "finished" ? "finished" : "paused" }) });
  },
  focus(step) {
    set({ focusStep: step });
  },
  clear() {
    set({ ...idle, log: [] });
  },
}));
