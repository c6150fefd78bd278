/**
 * A standalone preview of the board's components, fed by a fixture run and a fake backend (a
 * `fetch` stand-in answering the board's commands). Development only: index.html here is not
 * an entry of the production build. `?live=1` plays the fixture as a live run, batch by batch.
 */
import { StrictMode } from "react";
import { createRoot } from "react-dom/client";
import "../../styles.css";
import type { EventRecord, MelodyFile, RunEntry, RunFileContent, RunRecord, StepComparison } from "../../backend/types";
import { useRun } from "../../store/run";
import { BoardDock } from "../BoardDock";
import { StepDebugger } from "../debugger/StepDebugger";
import { useDock, type DockTab } from "../dock";

const ev = (atMs: number, e: Record<string, unknown>) => ({ atMs, ...e }) as EventRecord;

const OUTLINE_MD = "# Owls\n\nAn outline in **three** parts:\n\n1. Where owls live\n2. What they *eat*\n   - mice\n   - insects\n3. Why they `hoot`\n\n> Owls are birds of prey.\n\n```\nhoot();\n```\n\n<script>alert('not run')</script> [a link](https://example.com) and [a bad one](javascript:alert(1))";

function fixture(bulk: number): EventRecord[] {
  const log: EventRecord[] = [
    ev(0, { type: "runStarted", runId: "preview-run", melodyId: "board-demo", steps: 5 + bulk, maxParallel: 2, offline: false }),
    ev(0, { type: "stepQueued", step: "outline", item: null, inputs: { topic: "owls", words: 300, style: { tone: "friendly", audience: ["children", "parents"] } } }),
    ev(0, { type: "stepQueued", step: "title", item: null, inputs: { topic: "owls" } }),
    ev(5, { type: "stepStarted", step: "title", item: null, attempt: 1, typeName: "instrument.chat", offline: false }),
    ev(6, { type: "stepOutput", step: "title", outputs: { output: "All about owls" } }),
    ev(6, { type: "stepSucceeded", step: "title", elapsedMs: 1, attempts: 0, usage: null, origin: "cached", cacheKey: "k1" }),
    ev(10, { type: "stepStarted", step: "outline", item: null, attempt: 1, typeName: "instrument.chat", offline: false }),
    ev(11, { type: "stepPrompt", step: "outline", item: null, attempt: 1, system: "You write outlines.", prompt: "Write an outline about owls in 300 words." }),
    ev(400, { type: "stepProgress", step: "outline", text: OUTLINE_MD, tokens: 80, bytes: OUTLINE_MD.length }),
    ev(900, { type: "stepExchange", step: "outline", item: null, attempt: 1, url: "http://127.0.0.1:9999/v1/chat/completions", status: 200, request: { model: "small", stream: true, messages: [{ role: "system", content: "You write outlines." }, { role: "user", content: "Write an outline about owls in 300 words." }] }, response: 'data: {"choices":[{"delta":{"content":"# Owls"}}]}\n\ndata: [DONE]', truncated: false }),
    ev(900, { type: "stepLog", step: "outline", item: null, stream: "info", line: "POST http://127.0.0.1:9999/v1/chat/completions → 200 in 890 ms" }),
    ev(900, { type: "stepOutput", step: "outline", outputs: { output: OUTLINE_MD, meta: { model: "small", finish: "stop" } } }),
    ev(900, { type: "stepSucceeded", step: "outline", elapsedMs: 890, attempts: 1, usage: { inputTokens: 120, outputTokens: 80, estimated: false, costUsd: 0.0123 }, origin: "played", cacheKey: "k2" }),
    ev(900, { type: "dataSent", fromStep: "outline", fromPort: "output", toStep: "draft", toPort: "outline", bytes: OUTLINE_MD.length }),
    ev(900, { type: "stepQueued", step: "draft", item: null, inputs: { outline: OUTLINE_MD } }),
    ev(950, { type: "bottleneck", step: "draft", kind: "waitingForSlot", message: "waited 300 ms for one of 2 slots", advice: "raise maxParallel" }),
    ev(1200, { type: "stepStarted", step: "draft", item: null, attempt: 1, typeName: "instrument.chat", offline: false }),
    ev(1201, { type: "stepPrompt", step: "draft", item: null, attempt: 1, system: null, prompt: `[slow] Write a draft from this outline: ${OUTLINE_MD}` }),
    ev(1500, { type: "stepExchange", step: "draft", item: null, attempt: 1, url: "http://127.0.0.1:9999/v1/chat/completions", status: 503, request: { model: "small" }, response: "Service unavailable", truncated: false }),
    ev(1500, { type: "stepRetrying", step: "draft", item: null, nextAttempt: 2, delayMs: 400, error: "HTTP 503: Service unavailable" }),
    ev(1900, { type: "stepStarted", step: "draft", item: null, attempt: 2, typeName: "instrument.chat", offline: false }),
    ev(1901, { type: "stepPrompt", step: "draft", item: null, attempt: 2, system: null, prompt: `[slow] Write a draft from this outline: ${OUTLINE_MD}` }),
    ev(2300, { type: "stepFellBack", step: "draft", item: null, fallback: 0, typeName: "instrument.other", error: "HTTP 500" }),
    ev(2300, { type: "bottleneck", step: "draft", kind: "fallbackTaken", message: "the step's own instrument gave up (HTTP 500); playing fallback 0", advice: "check the primary instrument (key, quota, health)" }),
    ev(2300, { type: "stepStarted", step: "draft", item: null, attempt: 3, typeName: "instrument.other", offline: false }),
  ];
  for (let i = 0; i < 30; i++) log.push(ev(2400 + i * 100, { type: "stepProgress", step: "draft", text: `w${i} `, tokens: 1, bytes: 4 }));
  log.push(
    ev(3000, { type: "bottleneck", step: "draft", kind: "onCriticalPath", message: "the run waits on draft: 2.1 s of its 4.6 s", advice: "a faster model for draft shortens the whole run" }),
    ev(3100, { type: "stepLog", step: "draft", item: null, stream: "stderr", line: "warning: slow upstream" }),
    ev(5400, { type: "fileWritten", step: "draft", path: "draft.md", bytes: 120, sha256: "ab12" }),
    ev(5400, { type: "stepOutput", step: "draft", outputs: { output: Array.from({ length: 51 }, (_, i) => `w${i}`).join(" ") } }),
    ev(5400, { type: "stepSucceeded", step: "draft", elapsedMs: 4200, attempts: 3, usage: { inputTokens: 1400, outputTokens: 600, estimated: true, costUsd: 0.0456 }, origin: "played", cacheKey: "k3" }),
    ev(5400, { type: "stepQueued", step: "fanout", item: null, inputs: { list: ["a", "b", "c"] } }),
  );
  for (let i = 0; i < 3; i++) {
    log.push(ev(5410 + i, { type: "stepQueued", step: "fanout", item: i, inputs: { item: "abc"[i]!, index: i } }));
    log.push(ev(5420 + i * 10, { type: "stepStarted", step: "fanout", item: i, attempt: 1, typeName: "operator.upper", offline: true }));
  }
  log.push(
    ev(5600, { type: "stepItemFinished", step: "fanout", item: 0, ok: true, error: null, done: 1, total: 3 }),
    ev(5700, { type: "stepItemFinished", step: "fanout", item: 1, ok: false, error: "not a letter", done: 2, total: 3 }),
    ev(5800, { type: "stepItemFinished", step: "fanout", item: 2, ok: true, error: null, done: 3, total: 3 }),
    ev(5800, { type: "stepFailed", step: "fanout", error: "1 of 3 items failed", optional: true }),
    ev(5800, { type: "stepQueued", step: "final", item: null, inputs: { draft: "w0 w1 …", title: "All about owls" } }),
    ev(5810, { type: "stepStarted", step: "final", item: null, attempt: 1, typeName: "agent.shell", offline: true }),
  );
  for (let i = 0; i < 12; i++) log.push(ev(5820 + i * 10, { type: "stepLog", step: "final", item: null, stream: i % 4 === 3 ? "stderr" : "stdout", line: `line ${i} of the agent's output` }));
  log.push(ev(6000, { type: "stepFailed", step: "final", error: "exit status 1: command not found: pandoc", optional: false }));
  for (let i = 0; i < bulk; i++) {
    const at = 100 + ((i * 37) % 5000);
    log.push(
      ev(at, { type: "stepQueued", step: `bulk-${String(i).padStart(4, "0")}`, item: null, inputs: {} }),
      ev(at + 50, { type: "stepStarted", step: `bulk-${String(i).padStart(4, "0")}`, item: null, attempt: 1, typeName: "operator.pass", offline: true }),
      ev(at + 120 + (i % 7) * 40, { type: "stepSucceeded", step: `bulk-${String(i).padStart(4, "0")}`, elapsedMs: 70, attempts: 1, usage: i % 3 === 0 ? { inputTokens: i, outputTokens: 10, estimated: false, costUsd: i / 100000 } : null, origin: "played", cacheKey: null }),
    );
  }
  log.sort((a, b) => a.atMs - b.atMs);
  log.push(ev(6000, { type: "runFinished", status: "failed", totals: { steps: 5 + bulk, succeeded: 3 + bulk, failed: 2, skipped: 0, cancelled: 0, attempts: 9 + bulk, elapsedMs: 6000, inputTokens: 1520, outputTokens: 680, tokensEstimated: true, costUsd: 0.0579 } }));
  return log;
}

const melody: MelodyFile = {
  formatVersion: 1,
  melody: { id: "board-demo", name: "Board demo" },
  inputs: { topic: { type: "string", default: "owls" } },
  steps: [
    { id: "outline", kind: "instrument", type: "instrument.chat", config: { prompt: "Write an outline about {{inputs.topic}}.", system: "You write outlines." } },
    { id: "title", kind: "instrument", type: "instrument.chat", config: { prompt: "A title for {{inputs.topic}}" } },
    { id: "draft", kind: "instrument", type: "instrument.chat", config: { prompt: "[slow] Write a draft from this outline: {{steps.outline.output}}" } },
    { id: "fanout", kind: "operator", type: "operator.map" },
    { id: "final", kind: "addon", type: "agent.shell" },
  ],
};

const entry = (id: string, patch: Partial<RunEntry>): RunEntry => ({
  id,
  melodyId: "board-demo",
  melodyName: "Board demo",
  status: "succeeded",
  startedAt: Date.UTC(2025, 0, 2, 10, 0, 0),
  finishedAt: null,
  durationMs: 6000,
  costUsd: 0.0579,
  tokens: 2200,
  steps: 5,
  reused: 1,
  failed: 0,
  parentId: null,
  forkStep: null,
  live: false,
  playedElsewhere: null,
  inputs: { goal: "a notes app" },
  waiting: [],
  ...patch,
});

const params = new URLSearchParams(window.location.search);
const bulk = Number(params.get("bulk") ?? "300");
const LOG = fixture(bulk);
const RECORD: RunRecord = {
  run: entry("preview-run", { status: "failed", failed: 2, parentId: "board-demo-20250102-0900-aa", forkStep: "draft" }),
  melody,
  inputs: { topic: "owls", words: 300 },
  events: LOG,
  lastSeq: LOG.length,
  eventFormat: 1,
  files: [{ path: "draft.md", step: "draft", bytes: 120, sha256: "ab12" }],
  pinned: [],
};

const RUNS: RunEntry[] = [
  RECORD.run,
  entry("board-demo-20250102-0900-aa", { startedAt: Date.UTC(2025, 0, 2, 9, 0, 0), durationMs: 7200, costUsd: 0.07, tokens: 2600, reused: 0 }),
  entry("board-demo-20250101-1700-bb", { startedAt: Date.UTC(2025, 0, 1, 17, 0, 0), status: "cancelled", durationMs: 1200, costUsd: null, tokens: null }),
];

const COMPARE: StepComparison[] = [
  { step: "outline", outcomeA: "succeeded", outcomeB: "succeeded", sameOutput: true, sameInputs: true, elapsedMsA: 890, elapsedMsB: 880, costUsdA: 0.0123, costUsdB: 0.0123 },
  { step: "draft", outcomeA: "succeeded", outcomeB: "succeeded", sameOutput: false, sameInputs: true, elapsedMsA: 4200, elapsedMsB: 3100, costUsdA: 0.0456, costUsdB: 0.04 },
  { step: "final", outcomeA: "failed", outcomeB: "succeeded", sameOutput: false, sameInputs: true, elapsedMsA: 190, elapsedMsB: 300, costUsdA: null, costUsdB: null },
  { step: "new-step", outcomeA: "-", outcomeB: "succeeded", sameOutput: false, sameInputs: null, elapsedMsA: 0, elapsedMsB: 10, costUsdA: null, costUsdB: null },
];

const FILE: RunFileContent = {
  path: "draft.md",
  text: "# Owls\n\nOwls live in trees.\nThey eat mice and insects.\nThey hoot at night.\n\nThe end.\n",
  bytes: 120,
  previous: "# Owls\n\nOwls live in barns.\nThey eat mice.\nThey hoot at night.\n\nThe end.\n",
  note: null,
};

/** The fake backend: the board's commands answered from the fixture; the rest refused. */
const answers: Record<string, (args: Record<string, unknown>) => unknown> = {
  listRuns: () => RUNS,
  openRun: (a) => ({ ...RECORD, run: RUNS.find((r) => r.id === a.runId) ?? RECORD.run }),
  compareRuns: () => COMPARE,
  storeInfo: () => ({ location: "~/.local/share/symphony/runs.db", bytes: 6_800_000, runs: RUNS.length, keepRuns: 1000 }),
  setRetention: (a) => ({ location: "~/.local/share/symphony/runs.db", bytes: 6_800_000, runs: Math.min(RUNS.length, Number(a.keepRuns)), keepRuns: a.keepRuns }),
  runFile: () => FILE,
  forkRun: () => ({ runId: "preview-fork" }),
  pinStep: (a) => ({ melodyId: "board-demo", step: a.step, outputHash: "h", runId: a.runId }),
  unpinStep: () => ({}),
};
/** The calls made, for the screenshot script to check. */
const calls: { command: string; args: Record<string, unknown> }[] = [];
(window as unknown as { previewCalls: typeof calls }).previewCalls = calls;
window.fetch = async (input: RequestInfo | URL, init?: RequestInit) => {
  const command = String(input).split("/api/")[1] ?? "";
  const args = JSON.parse(typeof init?.body === "string" ? init.body : "{}") as Record<string, unknown>;
  calls.push({ command, args });
  const answer = answers[command];
  await new Promise((r) => setTimeout(r, 30));
  if (!answer) return new Response(JSON.stringify({ message: `${command} is not in the preview` }), { status: 400 });
  return new Response(JSON.stringify(answer(args)), { status: 200 });
};

function Preview() {
  return (
    <div className="editor">
      <div className="editor-body">
        <div className="centre">
          <div className="canvas" style={{ display: "grid", placeItems: "center", color: "var(--muted)" }}>
            (canvas)
          </div>
          <BoardDock />
        </div>
        <StepDebugger />
      </div>
    </div>
  );
}

const tab = params.get("tab");
if (tab) useDock.getState().show(tab as DockTab);
if (params.get("live")) {
  // Plays the fixture as a live run: a batch every 33 ms, at 1/4 speed of its own times.
  const run = useRun.getState();
  run.begin();
  run.started("preview-live");
  const events = LOG.filter((e) => e.type !== "runFinished" || params.get("live") === "end");
  const t0 = performance.now();
  let next = 0;
  const timer = setInterval(() => {
    const now = (performance.now() - t0) / 4;
    const batch: EventRecord[] = [];
    while (next < events.length && events[next]!.atMs <= now) batch.push(events[next++]!);
    if (batch.length) useRun.getState().apply(batch);
    if (next >= events.length) clearInterval(timer);
  }, 33);
} else {
  useRun.getState().openRecord(RECORD, false);
}
const focus = params.get("focus");
if (focus) useRun.getState().focus(focus);

createRoot(document.getElementById("root")!).render(
  <StrictMode>
    <Preview />
  </StrictMode>,
);
