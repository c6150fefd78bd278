/**
 * One step's story in a run, derived from the run's event log for the step debugger: its
 * inputs, the prompts it sent, its outputs, files, attempts, raw exchanges, log lines and
 * warnings. Pure (`stepStory`); `StepEventIndex` keeps a step's events of a growing log so a
 * live batch costs only its own new events.
 */
import type { BottleneckKind, EventRecord, Json, JsonObject } from "../backend/types";
import { formatMs, originWord } from "./model";

/** The events that name a step (`step` field), the streamed-progress ones aside. */
export type StepEvent = Extract<EventRecord, { step: string }>;

type Of<T extends EventRecord["type"]> = Extract<EventRecord, { type: T }>;

export type AttemptOutcome = "running" | "retried" | "fell back" | "succeeded" | "failed" | "cancelled";

export interface AttemptRow {
  /** 1 for the first; counts on across fallbacks. */
  attempt: number;
  item: number | null;
  typeName: string;
  startMs: number;
  endMs: number | null;
  outcome: AttemptOutcome;
  error: string | null;
}

export interface PromptRecord {
  attempt: number;
  item: number | null;
  system: string | null;
  prompt: string;
  atMs: number;
}

export interface FileRecord {
  path: string;
  bytes: number;
  sha256: string;
  atMs: number;
}

export interface Exchange {
  attempt: number;
  item: number | null;
  url: string;
  status: number | null;
  request: Json;
  response: string;
  truncated: boolean;
  atMs: number;
}

/** `stdout`, `stderr`, `info` from the step itself; the others are the conductor's events. */
export type LogStream = string;

export interface LogLine {
  atMs: number;
  item: number | null;
  stream: LogStream;
  text: string;
}

export interface StepWarning {
  kind: BottleneckKind;
  message: string;
  advice: string;
  atMs: number;
}

export interface StepEnd {
  kind: "succeeded" | "failed" | "skipped" | "cancelled";
  atMs: number;
  /** Why it failed or was skipped. */
  detail: string | null;
}

export interface StepStory {
  /** The step's inputs by port (its own `stepQueued`, not a map item's). */
  inputs: JsonObject | null;
  queuedAt: number | null;
  /** Map items queued. */
  items: number;
  /** Newest first. */
  prompts: PromptRecord[];
  outputs: JsonObject | null;
  files: FileRecord[];
  attempts: AttemptRow[];
  exchanges: Exchange[];
  log: LogLine[];
  warnings: StepWarning[];
  end: StepEnd | null;
  /** How many of the step's events went into it. */
  events: number;
}

/** Whether an event is about `step` (streamed progress aside: the board keeps its text). */
export function isStepEvent(e: EventRecord, step: string): e is StepEvent {
  return e.type !== "stepProgress" && "step" in e && e.step === step;
}

function isType<T extends EventRecord["type"]>(e: EventRecord, type: T): e is Of<T> {
  return e.type === type;
}

/** The step's story from a log (the whole run's, or only the step's events), up to `untilMs`. */
export function stepStory(log: readonly EventRecord[], step: string, untilMs = Infinity): StepStory {
  const story: StepStory = {
    inputs: null,
    queuedAt: null,
    items: 0,
    prompts: [],
    outputs: null,
    files: [],
    attempts: [],
    exchanges: [],
    log: [],
    warnings: [],
    end: null,
    events: 0,
  };
  /** The open attempt of each item ("" for the step itself), as an index into `attempts`. */
  const open = new Map<string, number>();
  const key = (item: number | null) => (item === null ? "" : String(item));
  const close = (item: number | null, at: number, outcome: AttemptOutcome, error: string | null) => {
    const i = open.get(key(item));
    if (i === undefined) return;
    const row = story.attempts[i]!;
    story.attempts[i] = { ...row, endMs: at, outcome, error: row.error ?? error };
    open.delete(key(item));
  };
  const closeAll = (at: number, outcome: AttemptOutcome, error: string | null) => {
    for (const k of [...open.keys()]) close(k === "" ? null : Number(k), at, outcome, error);
  };
  const line = (e: { atMs: number }, stream: LogStream, text: string, item: number | null = null) =>
    story.log.push({ atMs: e.atMs, item, stream, text });

  for (const e of log) {
    if (e.atMs > untilMs) break;
    if (!isStepEvent(e, step)) continue;
    story.events += 1;
    const at = e.atMs;
    if (isType(e, "stepQueued")) {
      if (e.item === null) {
        story.inputs = e.inputs;
        story.queuedAt ??= at;
      } else story.items += 1;
    } else if (isType(e, "stepStarted")) {
      close(e.item, at, "retried", null);
      open.set(key(e.item), story.attempts.length);
      story.attempts.push({ attempt: e.attempt, item: e.item, typeName: e.typeName, startMs: at, endMs: null, outcome: "running", error: null });
      line(e, "event", `attempt ${e.attempt} started (${e.typeName})`, e.item);
    } else if (isType(e, "stepRetrying")) {
      close(e.item, at, "retried", e.error);
      line(e, "retry", `attempt ${e.nextAttempt - 1} failed: ${e.error}; retrying in ${formatMs(e.delayMs)}`, e.item);
    } else if (isType(e, "stepFellBack")) {
      close(e.item, at, "fell back", e.error);
      line(e, "fallback", `falling back to ${e.typeName} (fallback ${e.fallback}): ${e.error}`, e.item);
    } else if (isType(e, "stepItemFinished")) {
      close(e.item, at, e.ok ? "succeeded" : "failed", e.error);
      if (!e.ok) line(e, "error", `item ${e.item} failed: ${e.error ?? "no reason given"}`, e.item);
    } else if (isType(e, "stepOutput")) {
      story.outputs = e.outputs;
    } else if (isType(e, "stepSucceeded")) {
      closeAll(at, "succeeded", null);
      story.end = { kind: "succeeded", atMs: at, detail: null };
      line(e, "event", e.origin === "played" ? `succeeded in ${formatMs(e.elapsedMs)}` : `output ${originWord(e.origin)}${e.origin === "cached" ? " from an earlier identical play" : ""}, not played`);
    } else if (isType(e, "stepFailed")) {
      closeAll(at, "failed", e.error);
      story.end = { kind: "failed", atMs: at, detail: e.error };
      line(e, "error", `failed${e.optional ? " (optional: the run goes on)" : ""}: ${e.error}`);
    } else if (isType(e, "stepSkipped")) {
      closeAll(at, "cancelled", null);
      story.end = { kind: "skipped", atMs: at, detail: e.reason };
      line(e, "event", `skipped: ${e.reason}`);
    } else if (isType(e, "stepCancelled")) {
      closeAll(at, "cancelled", null);
      story.end = { kind: "cancelled", atMs: at, detail: null };
      line(e, "event", "cancelled");
    } else if (isType(e, "stepPrompt")) {
      story.prompts.unshift({ attempt: e.attempt, item: e.item, system: e.system, prompt: e.prompt, atMs: at });
    } else if (isType(e, "fileWritten")) {
      story.files.push({ path: e.path, bytes: e.bytes, sha256: e.sha256, atMs: at });
    } else if (isType(e, "stepExchange")) {
      story.exchanges.push({ attempt: e.attempt, item: e.item, url: e.url, status: e.status, request: e.request, response: e.response, truncated: e.truncated, atMs: at });
    } else if (isType(e, "stepLog")) {
      line(e, e.stream, e.line, e.item);
    } else if (isType(e, "bottleneck")) {
      story.warnings.push({ kind: e.kind, message: e.message, advice: e.advice, atMs: at });
      line(e, "warning", `${e.message} → ${e.advice}`);
    }
  }
  return story;
}

/**
 * The events of one step in a growing run log. The run store appends to its `log` array in
 * place, so each call scans only what was appended since the previous one; a new log (another
 * run) or another step starts over. The answer is a new array only when it grew.
 */
export class StepEventIndex {
  private log: readonly EventRecord[] | null = null;
  private step: string | null = null;
  private scanned = 0;
  private list: StepEvent[] = [];

  of(log: readonly EventRecord[], step: string): readonly StepEvent[] {
    if (log !== this.log || step !== this.step || log.length < this.scanned) {
      this.log = log;
      this.step = step;
      this.scanned = 0;
      this.list = [];
    }
    if (log.length > this.scanned) {
      const found: StepEvent[] = [];
      for (let i = this.scanned; i < log.length; i++) {
        const e = log[i]!;
        if (isStepEvent(e, step)) found.push(e);
      }
      this.scanned = log.length;
      if (found.length) this.list = this.list.concat(found);
    }
    return this.list;
  }
}
