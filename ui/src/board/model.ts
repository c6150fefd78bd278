/**
 * The Harmony Board's model: a run's event log folded into what the board shows — each step's
 * live state, the timeline's spans (waiting, working, backing off), the data that went along
 * each edge, the conductor's bottleneck warnings, streamed text, and what each gate asked and
 * how it was answered.
 *
 * `applyEvents` is pure and works batch by batch: the objects of steps and edges a batch does
 * not mention stay the same objects, so a canvas node that subscribes to its own entry is not
 * re-rendered. Replaying a stored run to any moment is the same fold over a prefix of its log
 * (`boardAt`).
 */
import type { JsonValue } from "../backend/generated/serde_json/JsonValue";
import type { BottleneckKind, Decision, EventRecord, LoopExit, OutputOrigin, ReviewFormat, RunStatus, Totals } from "../backend/types";

/** `waiting`: a gate (`cue.gate`) waits for a person's answer; it holds no slot meanwhile. */
export type StepState = "queued" | "running" | "retrying" | "waiting" | "succeeded" | "cached" | "failed" | "skipped" | "cancelled";

export interface Usage {
  inputTokens: number;
  outputTokens: number;
  estimated: boolean;
  costUsd: number | null;
}

export interface StepLive {
  state: StepState;
  /** The attempt playing now, or the number made when done. */
  attempt: number;
  /** Why it failed, was skipped or is retrying; where a reused output came from. */
  detail?: string;
  /** When it was first queued, first started and ended (ms since the run started). */
  queuedAt?: number;
  startedAt?: number;
  endedAt?: number;
  /** From its first start to its end, as the conductor measured it. */
  elapsedMs?: number;
  /** Streamed so far (all attempts). */
  tokens: number;
  bytes: number;
  /** Map items done and in all. */
  items?: { done: number; total: number };
  /** A loop's rounds played so far, in order. */
  rounds?: LoopRound[];
  /** A gate's question and, once given, its answer. */
  gate?: GateLive;
  /** The step type playing it (differs after a fallback). */
  typeName?: string;
  usage?: Usage | null;
  origin?: OutputOrigin;
  /** Bottleneck warnings raised on it. */
  warnings: number;
}

/** One round of a loop (`cue.loop`), as its `stepRound` event told it. */
export interface LoopRound {
  round: number;
  score: number | null;
  /** Why the loop stopped after this round; null when another round followed. */
  exit: LoopExit | null;
  note: string | null;
  outputs: { [port: string]: JsonValue };
}

/** What a gate (`cue.gate`) asked, as its newest `gateWaiting` event told it. */
export interface GateAsk {
  title: string;
  /** Markdown text, or JSON text (`format`). */
  review: string;
  format: ReviewFormat;
  /** The value that goes on when approved unedited. */
  value: JsonValue;
  /** How long it waits in all; null waits until answered. */
  timeoutMs: number | null;
  /** How long it had waited in earlier sessions when it asked (again). */
  waitedMs: number;
  onTimeout: Decision;
  /** When it asked, in this session (ms since the run started). */
  since: number;
}

/** How a gate was answered (`gateAnswered`). */
export interface GateAnswer {
  decision: Decision;
  reason: string | null;
  /** Where the answer came from: `app` (the board), `cli` (`symphony runs approve`/`reject`), `terminal` (typed where `symphony run` plays) or `timeout`. */
  by: string;
  /** The value the person edited, which went on instead; null when approved as it was. */
  value: JsonValue | null;
  atMs: number;
}

/** A gate's question and answer. `ask` is null when a resumed run took an answer recorded earlier. */
export interface GateLive {
  ask: GateAsk | null;
  answer: GateAnswer | null;
}

/**
 * `waiting` for a slot, `working`, `backoff` between attempts, and `asking`: a gate waiting for
 * a person's answer (it holds no slot meanwhile).
 */
export type SpanPhase = "waiting" | "working" | "backoff" | "asking";

/** One bar of the timeline. `to` is null while it lasts. */
export interface Span {
  step: string;
  item: number | null;
  attempt: number;
  phase: SpanPhase;
  from: number;
  to: number | null;
  end?: "ok" | "failed" | "retry" | "cancelled" | "fallback";
}

export interface Warning {
  step: string;
  kind: BottleneckKind;
  message: string;
  advice: string;
  atMs: number;
}

/** What went along one edge. */
export interface Flow {
  bytes: number;
  sends: number;
  lastAt: number;
}

export type Phase = "idle" | "starting" | "running" | "paused" | "finished";

export interface Board {
  phase: Phase;
  offline: boolean;
  maxParallel: number;
  stepCount: number;
  status: RunStatus | null;
  totals: Totals | null;
  steps: Readonly<Record<string, StepLive>>;
  /** By `fromStep.fromPort->toStep.toPort` (see `flowKey`). */
  flows: Readonly<Record<string, Flow>>;
  spans: readonly Span[];
  warnings: readonly Warning[];
  /** Streamed text per step, the newest `STREAM_KEEP` characters. */
  streams: Readonly<Record<string, string>>;
  /** The gates waiting for a person now, in the order they asked. */
  waiting: readonly string[];
  /** The time of the newest event (ms since the run started). */
  atMs: number;
}

/** How much streamed text the board keeps per step (the stored output has all of it). */
export const STREAM_KEEP = 64 * 1024;

export const emptyBoard: Board = {
  phase: "idle",
  offline: false,
  maxParallel: 0,
  stepCount: 0,
  status: null,
  totals: null,
  steps: {},
  flows: {},
  spans: [],
  warnings: [],
  streams: {},
  waiting: [],
  atMs: 0,
};

export function flowKey(fromStep: string, fromPort: string, toStep: string, toPort: string): string {
  return `${fromStep}.${fromPort}->${toStep}.${toPort}`;
}

const blank = (): StepLive => ({ state: "queued", attempt: 0, tokens: 0, bytes: 0, warnings: 0 });

/**
 * The version of the events' JSON this board reads: `symphony_conductor::EVENT_FORMAT`. The
 * golden files of every version (`crates/symphony-conductor/tests/golden/events-v*.jsonl`) are
 * replayed through `applyEvents` by `eventFormat.test.ts`, which also fails when the engine has a
 * newer version than this.
 */
export const EVENT_FORMAT = 1;

/** Folds a batch of events into the board. Entries the batch does not touch keep their identity. */
export function applyEvents(board: Board, events: readonly EventRecord[]): Board {
  if (events.length === 0) return board;
  const next: Board = { ...board };
  let steps: Record<string, StepLive> | null = null;
  let flows: Record<string, Flow> | null = null;
  let spans: Span[] | null = null;
  let warnings: Warning[] | null = null;
  let streams: Record<string, string> | null = null;
  let waiting: string[] | null = null;
  /** Open spans by `step#item`, as indexes into `spans` (rebuilt for the batch). */
  let open: Map<string, number> | null = null;

  const getStep = (id: string): StepLive => (steps?.[id] ?? board.steps[id]) ?? blank();
  const setStep = (id: string, s: StepLive) => {
    steps ??= { ...board.steps };
    steps[id] = s;
  };
  const spanList = (): Span[] => {
    if (!spans) {
      spans = [...board.spans];
      open = new Map();
      spans.forEach((s, i) => {
        if (s.to === null) open!.set(`${s.step}#${s.item ?? ""}`, i);
      });
    }
    return spans;
  };
  const close = (step: string, item: number | null, at: number, end: Span["end"]) => {
    const list = spanList();
    const key = `${step}#${item ?? ""}`;
    const i = open!.get(key);
    if (i === undefined) return;
    list[i] = { ...list[i]!, to: at, end: list[i]!.phase === "working" ? end : list[i]!.end };
    open!.delete(key);
  };
  /** Closes every open span of a step (its items' too). */
  const closeAll = (step: string, at: number, end: Span["end"]) => {
    spanList();
    for (const key of [...open!.keys()]) {
      if (key.slice(0, key.lastIndexOf("#")) === step) {
        const i = open!.get(key)!;
        spans![i] = { ...spans![i]!, to: at, end: spans![i]!.phase === "working" ? end : spans![i]!.end };
        open!.delete(key);
      }
    }
  };
  /** A gate stops waiting: answered, or its step ended. */
  const stopWaiting = (step: string) => {
    if (!(waiting ?? board.waiting).includes(step)) return;
    waiting = (waiting ?? board.waiting).filter((s) => s !== step);
  };
  const openSpan = (span: Span) => {
    const list = spanList();
    close(span.step, span.item, span.from, undefined);
    open!.set(`${span.step}#${span.item ?? ""}`, list.length);
    list.push(span);
  };

  for (const e of events) {
    const at = e.atMs;
    if (at > next.atMs) next.atMs = at;
    switch (e.type) {
      case "runStarted":
        next.offline = e.offline;
        next.maxParallel = e.maxParallel;
        next.stepCount = e.steps;
        if (next.phase !== "finished") next.phase = "running";
        break;
      case "runPaused":
        next.phase = "paused";
        break;
      case "runResumed":
        next.phase = "running";
        break;
      case "runFinished":
        next.phase = "finished";
        next.status = e.status;
        next.totals = e.totals;
        for (const span of spanList()) if (span.to === null) closeAll(span.step, at, "cancelled");
        // A finished run has no gate waiting any more.
        for (const step of waiting ?? board.waiting) {
          const prev = getStep(step);
          if (prev.state === "waiting") setStep(step, { ...prev, state: "cancelled", endedAt: at });
        }
        if ((waiting ?? board.waiting).length > 0) waiting = [];
        break;
      case "stepQueued":
        openSpan({ step: e.step, item: e.item, attempt: 0, phase: "waiting", from: at, to: null });
        if (e.item === null) setStep(e.step, { ...getStep(e.step), state: "queued", queuedAt: getStep(e.step).queuedAt ?? at });
        break;
      case "stepStarted": {
        openSpan({ step: e.step, item: e.item, attempt: e.attempt, phase: "working", from: at, to: null });
        const prev = getStep(e.step);
        setStep(e.step, {
          ...prev,
          state: "running",
          attempt: Math.max(e.attempt, prev.attempt),
          detail: undefined,
          startedAt: prev.startedAt ?? at,
          // A map's item or a loop's round plays the body's type: the step's type stays its own.
          typeName: e.item === null ? e.typeName : prev.typeName,
        });
        break;
      }
      case "stepProgress": {
        const prev = getStep(e.step);
        setStep(e.step, { ...prev, tokens: prev.tokens + e.tokens, bytes: prev.bytes + e.bytes });
        if (e.text) {
          streams ??= { ...board.streams };
          const text = (streams[e.step] ?? "") + e.text;
          streams[e.step] = text.length > STREAM_KEEP ? text.slice(text.length - STREAM_KEEP) : text;
        }
        break;
      }
      case "stepRetrying": {
        close(e.step, e.item, at, "retry");
        openSpan({ step: e.step, item: e.item, attempt: e.nextAttempt - 1, phase: "backoff", from: at, to: null });
        const prev = getStep(e.step);
        setStep(e.step, { ...prev, state: "retrying", attempt: Math.max(prev.attempt, 1), detail: e.error });
        break;
      }
      case "stepFellBack":
        close(e.step, e.item, at, "fallback");
        setStep(e.step, { ...getStep(e.step), detail: `fell back to ${e.typeName}: ${e.error}` });
        break;
      case "stepItemFinished": {
        close(e.step, e.item, at, e.ok ? "ok" : "failed");
        const prev = getStep(e.step);
        setStep(e.step, { ...prev, state: prev.state === "queued" ? "running" : prev.state, items: { done: e.done, total: e.total } });
        break;
      }
      case "stepRound": {
        close(e.step, e.round - 1, at, "ok");
        const prev = getStep(e.step);
        const round: LoopRound = { round: e.round, score: e.score, exit: e.exit, note: e.note, outputs: e.outputs };
        setStep(e.step, { ...prev, state: prev.state === "queued" ? "running" : prev.state, rounds: [...(prev.rounds ?? []), round] });
        break;
      }
      case "stepSucceeded": {
        closeAll(e.step, at, "ok");
        stopWaiting(e.step);
        const prev = getStep(e.step);
        setStep(e.step, {
          ...prev,
          state: e.origin === "played" ? "succeeded" : "cached",
          attempt: e.attempts,
          elapsedMs: e.elapsedMs,
          endedAt: at,
          usage: e.usage,
          origin: e.origin,
          detail: e.origin === "given" ? "not played: its output was kept (pinned, or from the run this one continues or forks)" : e.origin === "cached" ? "not played: its output was reused from an earlier identical play" : undefined,
        });
        break;
      }
      case "stepFailed": {
        closeAll(e.step, at, "failed");
        stopWaiting(e.step);
        const prev = getStep(e.step);
        setStep(e.step, { ...prev, attempt: prev.attempt || 1, state: "failed", detail: e.error, endedAt: at, elapsedMs: prev.startedAt === undefined ? undefined : at - prev.startedAt });
        break;
      }
      case "stepSkipped":
        closeAll(e.step, at, "cancelled");
        stopWaiting(e.step);
        setStep(e.step, { ...getStep(e.step), attempt: 0, state: "skipped", detail: e.reason, endedAt: at });
        break;
      case "stepCancelled":
        closeAll(e.step, at, "cancelled");
        stopWaiting(e.step);
        setStep(e.step, { ...getStep(e.step), state: "cancelled", endedAt: at });
        break;
      case "gateWaiting": {
        const ask: GateAsk = { title: e.title, review: e.review, format: e.format, value: e.value, timeoutMs: e.timeoutMs, waitedMs: e.waitedMs, onTimeout: e.onTimeout, since: at };
        const prev = getStep(e.step);
        // Its play rendered the question; the wait for the answer is a span of its own.
        close(e.step, null, at, "ok");
        openSpan({ step: e.step, item: null, attempt: Math.max(prev.attempt, 1), phase: "asking", from: at, to: null });
        setStep(e.step, { ...prev, state: "waiting", gate: { ask, answer: null } });
        if (!(waiting ?? board.waiting).includes(e.step)) waiting = [...(waiting ?? board.waiting), e.step];
        break;
      }
      case "gateAnswered": {
        close(e.step, null, at, "ok");
        const prev = getStep(e.step);
        const answer: GateAnswer = { decision: e.decision, reason: e.reason, by: e.by, value: e.value, atMs: at };
        // The step ends with its next event (succeeded, or failed on a rejection).
        setStep(e.step, { ...prev, state: prev.state === "waiting" ? "running" : prev.state, gate: { ask: prev.gate?.ask ?? null, answer } });
        stopWaiting(e.step);
        break;
      }
      case "dataSent": {
        flows ??= { ...board.flows };
        const key = flowKey(e.fromStep, e.fromPort, e.toStep, e.toPort);
        const prev = flows[key];
        flows[key] = { bytes: (prev?.bytes ?? 0) + e.bytes, sends: (prev?.sends ?? 0) + 1, lastAt: at };
        break;
      }
      case "bottleneck": {
        warnings ??= [...board.warnings];
        warnings.push({ step: e.step, kind: e.kind, message: e.message, advice: e.advice, atMs: at });
        const prev = getStep(e.step);
        setStep(e.step, { ...prev, warnings: prev.warnings + 1 });
        break;
      }
      default:
        break;
    }
  }
  if (steps) next.steps = steps;
  if (flows) next.flows = flows;
  if (spans) next.spans = spans;
  if (warnings) next.warnings = warnings;
  if (streams) next.streams = streams;
  if (waiting) next.waiting = waiting;
  return next;
}

/** The board as it was `atMs` into the run: the fold of every event up to that moment. */
export function boardAt(events: readonly EventRecord[], atMs: number): Board {
  let end = events.length;
  // Events are in time order; find the first one after `atMs`.
  let lo = 0;
  let hi = events.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (events[mid]!.atMs <= atMs) lo = mid + 1;
    else hi = mid;
  }
  end = lo;
  const board = applyEvents({ ...emptyBoard, phase: "running" }, events.slice(0, end));
  return end < events.length ? { ...board, atMs } : board;
}

/** Steps working, waiting for a slot, gates waiting for a person, and steps done. */
export function counts(board: Board): { active: number; queued: number; asking: number; done: number } {
  let active = 0;
  let queued = 0;
  let asking = 0;
  let done = 0;
  for (const s of Object.values(board.steps)) {
    if (s.state === "running" || s.state === "retrying") active += 1;
    else if (s.state === "queued") queued += 1;
    else if (s.state === "waiting") asking += 1;
    else done += 1;
  }
  return { active, queued, asking, done };
}

/** Per step: time waiting for a slot, working, backing off and asking a person, from the spans (open spans up to `now`). */
export function waitVsWork(board: Board, now = board.atMs): Map<string, Record<SpanPhase, number>> {
  const out = new Map<string, Record<SpanPhase, number>>();
  for (const s of board.spans) {
    const t = out.get(s.step) ?? { waiting: 0, working: 0, backoff: 0, asking: 0 };
    t[s.phase] += Math.max(0, (s.to ?? now) - s.from);
    out.set(s.step, t);
  }
  return out;
}

/**
 * Sums the board's usage so far (tokens from the run's totals once it has finished). The cost
 * is `null` when steps used tokens but none of them had a known price (a model missing from the
 * price table, a local server): "unknown", not "$0".
 */
/**
 * The board's words for where a finished step's output came from, used everywhere the UI says
 * it: **played** (in this run), **reused** (an earlier identical play's, from the cache),
 * **kept** (given: the run it continues or forks had it) and **pinned** (given: the user
 * pinned it).
 */
export function originWord(origin: StepLive["origin"] | undefined, pinned = false): "played" | "reused" | "kept" | "pinned" {
  if (origin === "cached") return "reused";
  if (origin === "given") return pinned ? "pinned" : "kept";
  return "played";
}

/**
 * A step's state as the board says it: a step not played says how it got its output, and a
 * waiting gate says whom it waits for.
 */
export function stateWord(state: StepState, origin: StepLive["origin"] | undefined, pinned = false): string {
  if (state === "waiting") return "waiting for you";
  return state === "cached" ? originWord(origin, pinned) : state;
}

export function liveTotals(board: Board): { tokens: number; costUsd: number | null; estimated: boolean; reused: number } {
  let tokens = 0;
  let costUsd = 0;
  let priced = false;
  let unpriced = false;
  let estimated = false;
  let reused = 0;
  for (const s of Object.values(board.steps)) {
    if (s.usage) {
      tokens += s.usage.inputTokens + s.usage.outputTokens;
      if (s.usage.costUsd === null) unpriced = true;
      else {
        costUsd += s.usage.costUsd;
        priced = true;
      }
      estimated ||= s.usage.estimated;
    } else tokens += s.tokens;
    if (s.state === "cached") reused += 1;
  }
  if (board.totals) {
    tokens = board.totals.inputTokens + board.totals.outputTokens;
    costUsd = board.totals.costUsd;
    estimated = board.totals.tokensEstimated;
  }
  return { tokens, costUsd: unpriced && !priced ? null : costUsd, estimated, reused };
}

/** A duration for people: 840 ms, 12.4 s, 3 min 05 s. */
export function formatMs(ms: number): string {
  if (ms < 1000) return `${Math.round(ms)} ms`;
  if (ms < 60_000) return `${(ms / 1000).toFixed(1)} s`;
  const m = Math.floor(ms / 60_000);
  const s = Math.round((ms % 60_000) / 1000);
  return `${m} min ${String(s).padStart(2, "0")} s`;
}

/** A size for people: 512 B, 12.3 KB, 4.1 MB. */
export function formatBytes(n: number): string {
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} KB`;
  return `${(n / 1024 / 1024).toFixed(1)} MB`;
}
