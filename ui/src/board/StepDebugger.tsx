/**
 * The step debugger: everything about the focused step in the board's run, live or stored —
 * its state and usage, inputs, rendered prompts, outputs (streamed text while it plays), files
 * (with a diff against the parent run), attempts, raw exchanges, timing, log and warnings —
 * and what can be done from it: rerun, take again, fork with edits, pin its output.
 *
 * The step's events come from the run's log through an incremental index, so a live batch
 * costs only its new events; the story is derived again only when the step's own events grow.
 */
import { memo, useEffect, useMemo, useRef, useState, type ReactNode } from "react";
import { errorMessage } from "../backend";
import type { Json, JsonObject, MelodyFile, RunFileContent, StepDoc } from "../backend/types";
import { api } from "../app/actions";
import { useDoc } from "../store/doc";
import { useRun } from "../store/run";
import { usePins } from "../store/pins";
import { useApp } from "../store/app";
import { setConfig } from "../model/edits";
import { initialDrafts, parseDrafts, RunInputsForm, type Drafts } from "../panels/RunInputs";
import { backToEditing, boardMelodyId, forkFrom, pinOutput, unpinOutput } from "./actions";
import { warningLabel } from "./warningLabels";
import { diffLines, foldUnchanged } from "./diff";
import { formatAt, formatCost, formatCount } from "./format";
import { boardNow, useLive, useTicker } from "./hooks";
import { JsonTree } from "./JsonTree";
import { Markdown } from "./Markdown";
import { formatBytes, formatMs, originWord, type StepLive } from "./model";
import { StepEventIndex, stepStory, type AttemptRow, type Exchange, type FileRecord, type LogLine, type PromptRecord, type StepStory, type StepWarning } from "./story";
import "./board.css";

/** The debugger for `step`, or for the board's focused step when none is given. */
export function StepDebugger({ step: chosen }: { step?: string }) {
  const focused = useRun((s) => s.focusStep);
  const runId = useRun((s) => s.runId);
  const step = chosen ?? focused;
  if (!step) return null;
  return <DebuggerFor key={`${runId ?? ""}\u0000${step}`} step={step} />;
}

/** The step's story, derived again only when its own events (or the scrubbed moment) change. */
function useStory(step: string): StepStory {
  const log = useRun((s) => s.log);
  useRun((s) => s.logLength); // re-read the index when the log grows
  const scrubMs = useRun((s) => s.scrubMs);
  const index = useRef<StepEventIndex | null>(null);
  index.current ??= new StepEventIndex();
  const events = index.current.of(log, step);
  return useMemo(() => stepStory(events, step, scrubMs ?? Infinity), [events, step, scrubMs]);
}

/** The step as the melody declares it: the run's melody, else the editor's. */
function useStepDoc(step: string): StepDoc | undefined {
  const fromRecord = useRun((s) => s.record?.melody.steps.find((st) => st.id === step));
  const fromDoc = useDoc((s) => s.melody?.steps.find((st) => st.id === step));
  return fromRecord ?? fromDoc;
}

function DebuggerFor({ step }: { step: string }) {
  const live = useRun((s) => s.board.steps[step]);
  const story = useStory(step);
  const doc = useStepDoc(step);
  return (
    <aside className="debugger" aria-label="Step debugger" data-step={step}>
      <DebuggerHeader step={step} live={live} doc={doc} />
      <Section title="Actions" label="step actions">
        <Actions step={step} live={live} />
      </Section>
      <Section title="Output" label="output section">
        <Output step={step} live={live} outputs={story.outputs} />
      </Section>
      <Section title="Inputs" label="step inputs">
        {story.inputs ? (
          <JsonTree value={story.inputs} expandDepth={2} label="inputs" />
        ) : (
          <p className="muted small">{live ? "No inputs recorded." : "Not queued yet."}</p>
        )}
        {story.items ? <p className="muted small">{formatCount(story.items)} map items queued (each with its item and index).</p> : null}
      </Section>
      <Section title="Prompt" count={story.prompts.length} label="prompts">
        <Prompts prompts={story.prompts} />
      </Section>
      <Section title="Files" count={story.files.length} label="files">
        <Files files={story.files} />
      </Section>
      <Section title="Attempts" count={story.attempts.length} label="attempts">
        <Attempts attempts={story.attempts} origin={live?.origin} />
      </Section>
      <Section title="Timing" label="timing">
        <Timing step={step} live={live} />
      </Section>
      <Section title="Warnings" count={story.warnings.length} label="step warnings">
        <StepWarnings warnings={story.warnings} />
      </Section>
      <Section title="Log" count={story.log.length} label="step log">
        <Log lines={story.log} />
      </Section>
      <Section title="Raw" count={story.exchanges.length || undefined} label="raw exchanges" defaultOpen={false}>
        <RawOf step={step} fromLog={story.exchanges} attempts={story.attempts.length} done={story.end !== null} />
      </Section>
    </aside>
  );
}

// ----- Layout -----

/** Which sections are folded, kept across steps. */
const folded = new Map<string, boolean>();

function Section({ title, label, count, defaultOpen = true, children }: { title: string; label: string; count?: number; defaultOpen?: boolean; children: ReactNode }) {
  const [open, setOpen] = useState(() => !(folded.get(title) ?? !defaultOpen));
  const toggle = () => {
    folded.set(title, open);
    setOpen(!open);
  };
  return (
    <section className={`dbg-section${open ? "" : " folded"}`} aria-label={label}>
      <h3>
        <button type="button" className="dbg-toggle" aria-expanded={open} onClick={toggle}>
          <span className="dbg-caret">{open ? "▾" : "▸"}</span> {title}
          {count !== undefined ? <span className="count"> {formatCount(count)}</span> : null}
        </button>
      </h3>
      {open ? <div className="dbg-body">{children}</div> : null}
    </section>
  );
}

const STATE_LABEL: Record<string, string> = {
  queued: "queued",
  running: "running",
  retrying: "retrying",
  succeeded: "succeeded",
  cached: "reused",
  failed: "failed",
  skipped: "skipped",
  cancelled: "cancelled",
};

function DebuggerHeader({ step, live, doc }: { step: string; live: StepLive | undefined; doc: StepDoc | undefined }) {
  const usage = live?.usage;
  const pinnedNow = usePins((s) => s.pinned[step] !== undefined);
  return (
    <header className="dbg-head">
      <div className="row">
        <h2 className="mono dbg-title" title={step}>
          {step}
        </h2>
        <button type="button" className="ghost dbg-close" aria-label="Close the step debugger" title="Back to editing (Esc)" onClick={backToEditing}>
          ✕
        </button>
      </div>
      {doc?.name && doc.name !== step ? <div className="muted small">{doc.name}</div> : null}
      <div className="row wrap small">
        <span className="mono muted" title="Step type">
          {live?.typeName ?? doc?.type ?? "—"}
          {live?.typeName && doc?.type && live.typeName !== doc.type ? ` (fallback of ${doc.type})` : ""}
        </span>
      </div>
      <div className="row wrap small dbg-facts">
        <span className={`dbg-state state-${live?.state ?? "idle"}`} data-testid="debugger-state">
          <span className="dot" /> {live ? (live.state === "cached" ? originWord(live.origin, pinnedNow) : STATE_LABEL[live.state] ?? live.state) : "not reached"}
        </span>
        {live && live.attempt > 0 ? <span>attempt {live.attempt}</span> : null}
        {live?.items ? (
          <span>
            {formatCount(live.items.done)}/{formatCount(live.items.total)} items
          </span>
        ) : null}
        <StepElapsed live={live} />
        {live && live.tokens > 0 ? (
          <span title="Streamed">
            {formatCount(live.tokens)} tok · {formatBytes(live.bytes)} streamed
          </span>
        ) : null}
        {usage ? (
          <span title="Usage reported by the instrument">
            {usage.estimated ? "~" : ""}
            {formatCount(usage.inputTokens)} in · {usage.estimated ? "~" : ""}
            {formatCount(usage.outputTokens)} out · {formatCost(usage.costUsd)}
          </span>
        ) : null}
        {live?.origin ? <span className={`origin origin-${live.origin}`}>{originWord(live.origin, pinnedNow)}</span> : null}
      </div>
      {live?.detail ? <div className={`dbg-detail small${live.state === "failed" ? " bad" : ""}`}>{live.detail}</div> : null}
    </header>
  );
}

/** The step's elapsed time, ticking while it works in a live run. */
function StepElapsed({ live }: { live: StepLive | undefined }) {
  const working = live !== undefined && (live.state === "running" || live.state === "retrying") && live.startedAt !== undefined;
  const playing = useLive();
  useTicker(working && playing);
  if (!live) return null;
  const ms = working ? Math.max(0, boardNow() - (live.startedAt ?? 0)) : live.elapsedMs;
  if (ms === undefined) return null;
  return (
    <span className="mono" data-testid="debugger-elapsed" title="Elapsed">
      {formatMs(ms)}
    </span>
  );
}

// ----- Output -----

const Output = memo(function Output({ step, live, outputs }: { step: string; live: StepLive | undefined; outputs: JsonObject | null }) {
  const stream = useRun((s) => s.board.streams[step]);
  const working = live?.state === "running" || live?.state === "retrying";
  if (!outputs) {
    if (stream) {
      return (
        <div className="dbg-output" aria-label="step output">
          <div className="muted small">{working ? "Streaming…" : "Streamed before it ended (no output was recorded):"}</div>
          <pre className="dbg-pre dbg-stream">
            {stream}
            {working ? <span className="caret" aria-hidden /> : null}
          </pre>
        </div>
      );
    }
    return (
      <p className="muted small dbg-output" aria-label="step output">
        {working ? "Working: no output yet." : live?.state === "failed" ? "No output: the step failed." : live?.state === "skipped" ? "No output: the step was skipped." : "No output yet."}
      </p>
    );
  }
  // The main port first, the others as recorded.
  const ports = Object.entries(outputs).sort(([a], [b]) => Number(b === "output") - Number(a === "output"));
  return (
    <div className="dbg-output" aria-label="step output">
      {ports.length === 0 ? <p className="muted small">The step has no outputs.</p> : null}
      {ports.map(([port, value]) => (
        <OutputPort key={port} port={port} value={value} />
      ))}
    </div>
  );
});

function OutputPort({ port, value }: { port: string; value: Json }) {
  const [mode, setMode] = useState<"text" | "markdown">("text");
  const isText = typeof value === "string";
  return (
    <div className="dbg-port" data-port={port}>
      <div className="dbg-port-head">
        <span className="mono">{port}</span>
        {isText ? (
          <span className="seg" role="radiogroup" aria-label={`Show ${port} as`}>
            <button type="button" role="radio" aria-checked={mode === "text"} className={mode === "text" ? "active" : ""} onClick={() => setMode("text")}>
              Text
            </button>
            <button type="button" role="radio" aria-checked={mode === "markdown"} className={mode === "markdown" ? "active" : ""} onClick={() => setMode("markdown")}>
              Markdown
            </button>
          </span>
        ) : null}
        {isText ? <span className="muted small">{formatCount(value.length)} chars</span> : null}
      </div>
      {typeof value === "string" ? (
        mode === "markdown" ? (
          <Markdown text={value} />
        ) : (
          <pre className="dbg-pre">{value}</pre>
        )
      ) : value !== null && typeof value === "object" ? (
        <JsonTree value={value} expandDepth={2} label={`output ${port}`} />
      ) : (
        <code className="dbg-scalar">{JSON.stringify(value)}</code>
      )}
    </div>
  );
}

// ----- Prompts -----

const PROMPTS_SHOWN = 10;

const Prompts = memo(function Prompts({ prompts }: { prompts: PromptRecord[] }) {
  const [all, setAll] = useState(false);
  if (prompts.length === 0) return <p className="muted small">No prompt: only instruments send one, once per attempt.</p>;
  const shown = all ? prompts : prompts.slice(0, PROMPTS_SHOWN);
  return (
    <div className="dbg-prompts">
      {shown.map((p, i) => (
        <div key={`${p.atMs}-${p.attempt}-${p.item ?? ""}-${i}`} className="dbg-prompt" role="group" aria-label="rendered prompt">
          <div className="muted small">
            attempt {p.attempt}
            {p.item !== null ? ` · item ${p.item}` : ""} · at {formatAt(p.atMs)}
          </div>
          {p.system ? (
            <>
              <div className="dbg-label">System</div>
              <pre className="dbg-pre">{p.system}</pre>
            </>
          ) : null}
          <div className="dbg-label">Prompt</div>
          <pre className="dbg-pre">{p.prompt}</pre>
        </div>
      ))}
      {!all && prompts.length > PROMPTS_SHOWN ? (
        <button type="button" className="link small" onClick={() => setAll(true)}>
          show all {formatCount(prompts.length)} prompts
        </button>
      ) : null}
    </div>
  );
});

// ----- Files -----

const Files = memo(function Files({ files }: { files: FileRecord[] }) {
  const runId = useRun((s) => s.runId);
  const [open, setOpen] = useState<string | null>(null);
  if (files.length === 0) return <p className="muted small">No files written.</p>;
  // The newest write of each path.
  const byPath = new Map<string, FileRecord>();
  for (const f of files) byPath.set(f.path, f);
  return (
    <div className="dbg-files">
      <ul className="dbg-file-list">
        {[...byPath.values()].map((f) => (
          <li key={f.path}>
            <button type="button" className={`link mono${open === f.path ? " active" : ""}`} onClick={() => setOpen(open === f.path ? null : f.path)}>
              {f.path}
            </button>
            <span className="muted small"> {formatBytes(f.bytes)}</span>
          </li>
        ))}
      </ul>
      {open && runId ? <FileView key={open} runId={runId} path={open} /> : null}
    </div>
  );
});

function FileView({ runId, path }: { runId: string; path: string }) {
  const [file, setFile] = useState<RunFileContent | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [mode, setMode] = useState<"diff" | "text">("diff");
  useEffect(() => {
    let live = true;
    api()
      .runFile(runId, path)
      .then((f) => live && setFile(f))
      .catch((e: unknown) => live && setError(errorMessage(e)));
    return () => {
      live = false;
    };
  }, [runId, path]);
  if (error) return <p className="bad small">Could not read {path}: {error}</p>;
  if (!file) return <p className="muted small">Reading {path}…</p>;
  if (file.text === null) return <p className="muted small">{file.note ?? "The file is not text."} ({formatBytes(file.bytes)})</p>;
  const hasPrevious = file.previous !== null;
  return (
    <div className="dbg-file" data-path={path}>
      {hasPrevious ? (
        <span className="seg" role="radiogroup" aria-label="Show the file as">
          <button type="button" role="radio" aria-checked={mode === "diff"} className={mode === "diff" ? "active" : ""} onClick={() => setMode("diff")}>
            Changes from the parent run
          </button>
          <button type="button" role="radio" aria-checked={mode === "text"} className={mode === "text" ? "active" : ""} onClick={() => setMode("text")}>
            Text
          </button>
        </span>
      ) : null}
      {hasPrevious && mode === "diff" ? <FileDiff previous={file.previous ?? ""} text={file.text} /> : <pre className="dbg-pre" aria-label="file text">{file.text}</pre>}
    </div>
  );
}

/** A line diff of two texts, unchanged runs folded (the file view's, and Compare's). */
export function FileDiff({ previous, text, label = "file diff", same = "Unchanged from the parent run." }: { previous: string; text: string; label?: string; same?: string }) {
  const diff = useMemo(() => diffLines(previous, text), [previous, text]);
  const lines = useMemo(() => foldUnchanged(diff.lines, 3), [diff]);
  if (diff.added === 0 && diff.removed === 0) return <p className="muted small">{same}</p>;
  return (
    <div className="diff mono" aria-label={label}>
      <div className="muted small">
        <span className="diff-add-count">+{formatCount(diff.added)}</span> <span className="diff-del-count">−{formatCount(diff.removed)}</span> lines
        {diff.approximate ? " (too many changes for a line-by-line match: shown as replaced)" : ""}
      </div>
      {lines.map((l, i) =>
        l.kind === "skip" ? (
          <div key={i} className="diff-skip">
            ⋯ {formatCount(l.count)} unchanged lines
          </div>
        ) : (
          <div key={i} className={`diff-line diff-${l.kind}`}>
            <span className="diff-no">{l.a ?? ""}</span>
            <span className="diff-no">{l.b ?? ""}</span>
            <span className="diff-mark">{l.kind === "add" ? "+" : l.kind === "del" ? "−" : " "}</span>
            <span className="diff-text">{l.text}</span>
          </div>
        ),
      )}
    </div>
  );
}

// ----- Attempts, timing, warnings, log, raw -----

const Attempts = memo(function Attempts({ attempts, origin }: { attempts: AttemptRow[]; origin: StepLive["origin"] }) {
  const finished = useRun((s) => s.latest.phase === "finished" && s.source !== "live");
  if (attempts.length === 0) {
    return (
      <p className="muted small">
        {origin === "cached"
          ? "Not played: its output was reused from an earlier identical play."
          : origin === "given"
            ? "Not played: its output was kept (pinned, or from the run this one continues or forks)."
            : "No attempt yet."}
      </p>
    );
  }
  return (
    <table className="board-table dbg-attempts">
      <thead>
        <tr>
          <th>#</th>
          <th>Type</th>
          <th>Start</th>
          <th>Took</th>
          <th>Outcome</th>
        </tr>
      </thead>
      <tbody>
        {attempts.map((a, i) => (
          <tr key={i} className={`attempt-row outcome-${a.outcome.replace(" ", "-")}`}>
            <td>
              {a.attempt}
              {a.item !== null ? <span className="muted small"> item {a.item}</span> : null}
            </td>
            <td className="mono small">{a.typeName}</td>
            <td className="mono small">{formatAt(a.startMs)}</td>
            <td className="nowrap">{a.endMs === null ? "…" : formatMs(a.endMs - a.startMs)}</td>
            <td>
              {a.outcome === "running" && finished ? "interrupted" : a.outcome}
              {a.error ? <div className="bad small">{a.error}</div> : null}
            </td>
          </tr>
        ))}
      </tbody>
    </table>
  );
});

function Timing({ step, live }: { step: string; live: StepLive | undefined }) {
  const spans = useRun((s) => s.board.spans);
  const atMs = useRun((s) => s.board.atMs);
  const t = useMemo(() => {
    const out = { waiting: 0, working: 0, backoff: 0 };
    for (const s of spans) if (s.step === step) out[s.phase] += Math.max(0, (s.to ?? atMs) - s.from);
    return out;
  }, [spans, step, atMs]);
  const sum = t.waiting + t.working + t.backoff;
  const at = (ms: number | undefined) => (ms === undefined ? "—" : formatAt(ms));
  return (
    <div className="dbg-timing">
      <dl className="dbg-dl">
        <dt>Queued at</dt>
        <dd className="mono">{at(live?.queuedAt)}</dd>
        <dt>Started at</dt>
        <dd className="mono">{at(live?.startedAt)}</dd>
        <dt>Ended at</dt>
        <dd className="mono">{at(live?.endedAt)}</dd>
        <dt>Waiting</dt>
        <dd>{formatMs(t.waiting)}</dd>
        <dt>Working</dt>
        <dd>{formatMs(t.working)}</dd>
        <dt>Backing off</dt>
        <dd>{formatMs(t.backoff)}</dd>
      </dl>
      {sum > 0 ? (
        <div className="dbg-split" aria-hidden title="waiting · working · backing off">
          <span className="phase-waiting" style={{ width: `${(t.waiting / sum) * 100}%` }} />
          <span className="phase-working" style={{ width: `${(t.working / sum) * 100}%` }} />
          <span className="phase-backoff" style={{ width: `${(t.backoff / sum) * 100}%` }} />
        </div>
      ) : null}
    </div>
  );
}

const StepWarnings = memo(function StepWarnings({ warnings }: { warnings: StepWarning[] }) {
  if (warnings.length === 0) return <p className="muted small">No warnings on this step.</p>;
  return (
    <ul className="warnings">
      {warnings.map((w, i) => (
        <li key={i} className="step-warning-row" data-kind={w.kind}>
          <span className="warning-time mono">{formatAt(w.atMs)}</span>
          <span className="warning-kind">{warningLabel(w.kind)}</span>
          <span className="warning-message">{w.message}</span>
          {w.advice ? <span className="warning-advice">→ {w.advice}</span> : null}
        </li>
      ))}
    </ul>
  );
});

const LOG_SHOWN = 500;

const Log = memo(function Log({ lines }: { lines: LogLine[] }) {
  const [all, setAll] = useState(false);
  if (lines.length === 0) return <p className="muted small">Nothing logged.</p>;
  const shown = all || lines.length <= LOG_SHOWN ? lines : lines.slice(lines.length - LOG_SHOWN);
  return (
    <div className="dbg-log mono" aria-label="step log lines">
      {shown.length < lines.length ? (
        <button type="button" className="link small" onClick={() => setAll(true)}>
          show the {formatCount(lines.length - shown.length)} earlier lines
        </button>
      ) : null}
      {shown.map((l, i) => (
        <div key={i} className={`log-line stream-${l.stream}`}>
          <span className="log-at">{formatAt(l.atMs)}</span>
          <span className="log-stream">{l.stream}</span>
          <span className="log-text">
            {l.item !== null ? `[item ${l.item}] ` : ""}
            {l.text}
          </span>
        </div>
      ))}
    </div>
  );
});

/**
 * The raw exchanges of the step. A live run's events reach the board without them (they are
 * most of its bytes, and only this section reads them), so for a live run they are read from
 * the run store when the section is open, again as the step's attempts change.
 */
function RawOf({ step, fromLog, attempts, done }: { step: string; fromLog: Exchange[]; attempts: number; done: boolean }) {
  const runId = useRun((s) => s.runId);
  const live = useRun((s) => s.source === "live");
  const [fetched, setFetched] = useState<Exchange[] | null>(null);
  const [error, setError] = useState<string | null>(null);
  useEffect(() => {
    if (!live || !runId || fromLog.length > 0) return;
    let current = true;
    api()
      .openRun(runId)
      .then((record) => {
        if (current) setFetched(stepStory(record.events, step).exchanges);
      })
      .catch((e: unknown) => current && setError(errorMessage(e)));
    return () => {
      current = false;
    };
  }, [live, runId, step, fromLog.length, attempts, done]);
  if (error) return <p className="muted small">Could not read the exchanges from the run store: {error}</p>;
  return <Raw exchanges={fromLog.length > 0 || !live ? fromLog : (fetched ?? [])} />;
}

const Raw = memo(function Raw({ exchanges }: { exchanges: Exchange[] }) {
  return (
    <div className="dbg-raw">
      <p className="muted small">Credentials are never recorded: the key travels in a header that is not kept, and error text is scrubbed.</p>
      {exchanges.length === 0 ? <p className="muted small">No exchange recorded: only instruments that call a model record one, once per attempt.</p> : null}
      {exchanges.map((x, i) => (
        <div key={i} className="dbg-exchange">
          <div className="small">
            attempt {x.attempt}
            {x.item !== null ? ` · item ${x.item}` : ""} · <span className="mono">{x.url}</span> →{" "}
            <span className={x.status !== null && x.status < 400 ? "ok" : "bad"}>{x.status ?? "no response"}</span>
          </div>
          <div className="dbg-label">Request</div>
          <JsonTree value={x.request} expandDepth={1} label="request" />
          <div className="dbg-label">Response</div>
          <pre className="dbg-pre" aria-label="raw response">
            {x.response}
          </pre>
          {x.truncated ? <p className="muted small">The response was cut at 256 KiB.</p> : null}
        </div>
      ))}
    </div>
  );
});

// ----- Actions -----

function Actions({ step, live }: { step: string; live: StepLive | undefined }) {
  const runId = useRun((s) => s.runId);
  const playing = useRun((s) => s.latest.phase !== "finished");
  const pinnedInRecord = useRun((s) => s.record?.pinned.includes(step) ?? false);
  const pinnedNow = usePins((s) => s.pinned[step] !== undefined);
  const [pinned, setPinned] = useState(pinnedInRecord || pinnedNow);
  useEffect(() => setPinned(pinnedInRecord || pinnedNow), [pinnedInRecord, pinnedNow]);
  const [busy, setBusy] = useState(false);
  const [editing, setEditing] = useState(false);
  const done = live?.state === "succeeded" || live?.state === "cached";
  const forkable = !!runId && !playing && !busy;
  const why = playing ? "The run is still playing: wait for it to finish." : !runId ? "No run." : undefined;

  const fork = async (fresh: boolean) => {
    if (!runId) return;
    setBusy(true);
    await forkFrom(fresh ? { runId, fromStep: step, fresh: true } : { runId, fromStep: step });
    setBusy(false);
  };
  const togglePin = async () => {
    if (!runId) return;
    setBusy(true);
    if (pinned) {
      const melodyId = boardMelodyId();
      if (melodyId && (await unpinOutput(melodyId, step))) setPinned(false);
    } else if (await pinOutput(runId, step)) setPinned(true);
    setBusy(false);
  };
  return (
    <div className="dbg-actions">
      <div className="row wrap">
        <button type="button" aria-label="Rerun from here" title={why ?? "A new run that reuses everything before this step and plays it and what follows again"} disabled={!forkable} onClick={() => void fork(false)}>
          ↻ Rerun from here
        </button>
        <button type="button" aria-label="Take again" title={why ?? "Play this step again even if its output is cached"} disabled={!forkable} onClick={() => void fork(true)}>
          ⟳ Take again
        </button>
        <button type="button" aria-label="Fork with edits…" aria-expanded={editing} title={why ?? "Change the run inputs or this step's prompt, then rerun from here"} disabled={!forkable} onClick={() => setEditing(!editing)}>
          ✎ Fork with edits…
        </button>
        {pinned ? (
          <button type="button" aria-label="Unpin" disabled={!runId || busy} title="New runs play this step again" onClick={() => void togglePin()}>
            Unpin
          </button>
        ) : (
          <button type="button" aria-label="Pin this output" disabled={!runId || busy || !done} title={done ? "New runs reuse this output until unpinned" : "Only a finished step's output can be pinned"} onClick={() => void togglePin()}>
            Pin this output
          </button>
        )}
      </div>
      {editing && runId && !playing ? <ForkForm runId={runId} step={step} onDone={() => setEditing(false)} /> : null}
    </div>
  );
}

interface ForkBase {
  inputs: JsonObject;
  melody: MelodyFile | null;
}

/** Edits for a fork: the run inputs as JSON, and the step's prompt (and system prompt) when it has one. */
function ForkForm({ runId, step, onDone }: { runId: string; step: string; onDone: () => void }) {
  const [base, setBase] = useState<ForkBase | null>(null);
  const [inputsText, setInputsText] = useState("");
  const [drafts, setDrafts] = useState<Drafts>({});
  const [prompt, setPrompt] = useState<string | null>(null);
  const [system, setSystem] = useState<string | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);

  useEffect(() => {
    let live = true;
    const use = (b: ForkBase) => {
      if (!live) return;
      const own = b.melody?.steps.find((s) => s.id === step);
      setBase(b);
      setInputsText(JSON.stringify(b.inputs, null, 2));
      setDrafts(initialDrafts(b.melody?.inputs ?? {}, b.inputs));
      const p = own?.config?.prompt;
      const sys = own?.config?.system;
      setPrompt(typeof p === "string" ? p : null);
      setSystem(typeof sys === "string" ? sys : null);
    };
    const record = useRun.getState().record;
    const editorMelody = () => {
      const m = useDoc.getState().melody;
      return m && m.steps.some((s) => s.id === step) ? m : null;
    };
    if (record && record.run.id === runId) use({ inputs: record.inputs, melody: record.melody });
    else
      api()
        .openRun(runId)
        .then((r) => use({ inputs: r.inputs, melody: r.melody }))
        .catch(() => use({ inputs: {}, melody: editorMelody() }));
    return () => {
      live = false;
    };
  }, [runId, step]);

  if (!base) return <p className="muted small">Reading the run's inputs…</p>;
  const own = base.melody?.steps.find((s) => s.id === step);

  // With the run's melody, its inputs are a form; without it (an unreadable record), JSON.
  const declared = base.melody?.inputs;
  const edited = (): { prompt?: string; system?: string } => ({
    ...(prompt !== null && prompt !== own?.config?.prompt ? { prompt } : {}),
    ...(system !== null && system !== own?.config?.system ? { system } : {}),
  });
  /** Puts the edited prompt (and system prompt) into the melody being edited: one undoable edit. */
  const applyToMelody = () => {
    const changes = edited();
    useDoc.getState().edit((m) => {
      let next = m;
      for (const [k, v] of Object.entries(changes)) next = setConfig(next, step, k, v);
      return next;
    });
    useApp.getState().notify(`The edited ${Object.keys(changes).join(" and ")} of ${step} is in the melody now (unsaved).`);
  };
  const inEditor = useDoc.getState().melody?.steps.some((s) => s.id === step) ?? false;
  const submit = async () => {
    let inputs: JsonObject;
    if (declared) {
      const parsed = parseDrafts(declared, drafts);
      if ("error" in parsed) {
        setError(`Run inputs: ${parsed.error}`);
        return;
      }
      inputs = parsed.values;
    } else {
      try {
        const parsed: unknown = inputsText.trim() ? JSON.parse(inputsText) : {};
        if (parsed === null || typeof parsed !== "object" || Array.isArray(parsed)) throw new Error("the run inputs must be a JSON object");
        inputs = parsed as JsonObject;
      } catch (e) {
        setError(`Run inputs: ${e instanceof Error ? e.message : String(e)}`);
        return;
      }
    }
    const changedInputs: JsonObject = {};
    for (const [k, v] of Object.entries(inputs)) if (JSON.stringify(v) !== JSON.stringify(base.inputs[k])) changedInputs[k] = v;
    const promptChanged = own !== undefined && ((prompt !== null && prompt !== own.config?.prompt) || (system !== null && system !== own.config?.system));
    let melody: MelodyFile | undefined;
    if (promptChanged && base.melody && own) {
      const config = { ...own.config, ...(prompt !== null ? { prompt } : {}), ...(system !== null ? { system } : {}) };
      melody = { ...base.melody, steps: base.melody.steps.map((s) => (s.id === step ? { ...s, config } : s)) };
    }
    setError(null);
    setBusy(true);
    const hasInputs = Object.keys(changedInputs).length > 0;
    const id = await forkFrom({ runId, fromStep: step, ...(hasInputs ? { inputs: changedInputs } : {}), ...(melody ? { melody } : {}) });
    setBusy(false);
    if (id) onDone();
  };

  return (
    <form
      className="dbg-fork"
      aria-label="Fork with edits"
      onSubmit={(e) => {
        e.preventDefault();
        void submit();
      }}
    >
      {declared ? (
        <RunInputsForm inputs={declared} drafts={drafts} onChange={setDrafts} />
      ) : (
        <label className="field">
          <span className="field-label">Run inputs (JSON)</span>
          <textarea className="mono" rows={Math.min(10, Math.max(3, inputsText.split("\n").length))} value={inputsText} onChange={(e) => setInputsText(e.target.value)} aria-label="run inputs" spellCheck={false} />
        </label>
      )}
      {system !== null ? (
        <label className="field">
          <span className="field-label">System prompt of {step}</span>
          <textarea className="mono" rows={3} value={system} onChange={(e) => setSystem(e.target.value)} aria-label="system prompt" />
        </label>
      ) : null}
      {prompt !== null ? (
        <label className="field">
          <span className="field-label">Prompt of {step}</span>
          <textarea className="mono" rows={6} value={prompt} onChange={(e) => setPrompt(e.target.value)} aria-label="prompt" />
        </label>
      ) : (
        <p className="muted small">{own ? "This step has no prompt to edit." : "The run's melody is not available: only the inputs can be changed."}</p>
      )}
      {error ? <p className="bad small">{error}</p> : null}
      <div className="row">
        <button type="submit" className="primary" disabled={busy}>
          Fork and run
        </button>
        {inEditor && Object.keys(edited()).length > 0 ? (
          <button type="button" onClick={applyToMelody} title="Put the edited prompt into the melody in the editor (undoable), so the next run uses it too">
            Apply the prompt to the melody
          </button>
        ) : null}
        <button type="button" onClick={onDone}>
          Cancel
        </button>
      </div>
    </form>
  );
}
