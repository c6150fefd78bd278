/**
 * The open melody's past runs, newest first. Clicking one opens it on the board (replayed, or
 * followed live when it is still playing); A and B checkboxes pick two runs to compare. A run
 * a gate holds says it waits for approval.
 */
import { useCallback, useEffect, useRef, useState } from "react";
import { errorMessage } from "../backend";
import type { RunEntry, StoreInfo } from "../backend/types";
import { api } from "../app/actions";
import { useApp } from "../store/app";
import { useDoc } from "../store/doc";
import { useRun } from "../store/run";
import { openRun } from "./actions";
import { useDock } from "./dock";
import { countOf, formatCost, formatCount } from "./format";
import { formatBytes, formatMs } from "./model";
import { runBadge } from "./runs";
import "./board.css";

export function History() {
  const docMelodyId = useDoc((s) => s.melody?.melody.id ?? null);
  const recordMelodyId = useRun((s) => s.record?.run.melodyId ?? null);
  const melodyId = docMelodyId ?? recordMelodyId;
  const currentRun = useRun((s) => s.runId);
  const [runs, setRuns] = useState<RunEntry[] | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [pick, setPick] = useState<{ a: string | null; b: string | null }>({ a: null, b: null });
  const request = useRef(0);

  const load = useCallback(async () => {
    if (!melodyId) return;
    const n = ++request.current;
    try {
      const list = await api().listRuns(melodyId);
      if (n !== request.current) return;
      setRuns(list);
      setError(null);
    } catch (e) {
      if (n === request.current) setError(errorMessage(e));
    }
  }, [melodyId]);

  // When the tab opens, when another run comes on the board, when a gate starts or stops
  // waiting (the run's badge says it waits for approval), and when the run finishes.
  useEffect(() => {
    void load();
  }, [load, currentRun]);
  useEffect(
    () =>
      useRun.subscribe((s, prev) => {
        if (s.latest.phase === "finished" && prev.latest.phase !== "finished") void load();
        else if (s.latest.waiting !== prev.latest.waiting) void load();
      }),
    [load],
  );

  if (!melodyId) return <p className="dock-empty muted">Open a melody to see its runs.</p>;
  const canCompare = pick.a !== null && pick.b !== null && pick.a !== pick.b;
  return (
    <div className="history">
      <div className="history-bar">
        <button type="button" onClick={() => void load()}>
          Refresh
        </button>
        <button type="button" className="primary" disabled={!canCompare} onClick={() => canCompare && useDock.getState().compareRuns(pick.a!, pick.b!)}>
          Compare
        </button>
        <span className="muted small">Tick A and B on two runs to compare them step by step.</span>
        {error ? <span className="bad small">Could not list the runs: {error}</span> : null}
      </div>
      {runs === null ? (
        <p className="dock-empty muted">Loading…</p>
      ) : runs.length === 0 ? (
        <p className="dock-empty muted" data-testid="history">
          No runs of this melody yet.
        </p>
      ) : (
        <table className="board-table" data-testid="history">
          <thead>
            <tr>
              <th title="Compare as A (left)">A</th>
              <th title="Compare as B (right)">B</th>
              <th>Started</th>
              <th>Status</th>
              <th>Inputs</th>
              <th>Duration</th>
              <th>Cost</th>
              <th>Tokens</th>
              <th>Not played</th>
              <th>Fork</th>
            </tr>
          </thead>
          <tbody>
            {runs.map((r) => (
              <tr
                key={r.id}
                className={`history-row${r.id === currentRun ? " current" : ""}`}
                data-run={r.id}
                title={`Open run ${r.id} on the board`}
                onClick={() => void openRun(r.id)}
              >
                <td onClick={(e) => e.stopPropagation()}>
                  <input
                    type="checkbox"
                    aria-label={`Compare as A: ${r.id}`}
                    checked={pick.a === r.id}
                    onChange={(e) => setPick((p) => ({ ...p, a: e.target.checked ? r.id : null }))}
                  />
                </td>
                <td onClick={(e) => e.stopPropagation()}>
                  <input
                    type="checkbox"
                    aria-label={`Compare as B: ${r.id}`}
                    checked={pick.b === r.id}
                    onChange={(e) => setPick((p) => ({ ...p, b: e.target.checked ? r.id : null }))}
                  />
                </td>
                <td title={r.id}>{new Date(r.startedAt).toLocaleString()}</td>
                <td>
                  <RunBadge run={r} />
                  {r.failed > 0 ? <span className="bad small"> {r.failed} failed</span> : null}
                </td>
                <td className="small history-inputs" title={inputsText(r.inputs, Infinity)} data-testid="run-inputs">
                  {inputsText(r.inputs, 60) || <span className="muted">none</span>}
                </td>
                <td>{r.durationMs === null ? "—" : formatMs(r.durationMs)}</td>
                <td>{formatCost(r.costUsd)}</td>
                <td>{r.tokens === null ? "—" : formatCount(r.tokens)}</td>
                <td>
                  {formatCount(r.reused)} of {formatCount(r.steps)}
                </td>
                <td className="small">
                  {r.parentId ? (
                    <>
                      fork of <span className="mono">{r.parentId}</span>
                      {r.forkStep ? (
                        <>
                          {" "}
                          from <span className="mono">{r.forkStep}</span>
                        </>
                      ) : null}
                    </>
                  ) : null}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      <StoreLine refresh={runs} />
    </div>
  );
}

function RunBadge({ run }: { run: RunEntry }) {
  const badge = runBadge(run);
  return (
    <span className={`badge ${badge.className}`} title={badge.title}>
      {badge.label}
    </span>
  );
}

/**
 * Where the runs are kept, how big the store is and how many runs it keeps: the store never
 * grows without bound unseen, and its retention can be changed here (as `symphony runs
 * retention --keep N` does).
 */
function StoreLine({ refresh }: { refresh: unknown }) {
  const [info, setInfo] = useState<StoreInfo | null>(null);
  const [keep, setKeep] = useState("");
  const [error, setError] = useState<string | null>(null);
  useEffect(() => {
    let live = true;
    api()
      .storeInfo()
      .then((i) => {
        if (!live) return;
        setInfo(i);
        setKeep(String(i.keepRuns));
        setError(null);
      })
      .catch((e: unknown) => live && setError(errorMessage(e)));
    return () => {
      live = false;
    };
  }, [refresh]);
  if (error) return <p className="store-line bad small">Could not read the run store: {error}</p>;
  if (!info) return null;
  const wanted = Number(keep);
  const valid = Number.isInteger(wanted) && wanted >= 1;
  const apply = async () => {
    try {
      const after = await api().setRetention(wanted);
      const removed = info.runs - after.runs;
      setInfo(after);
      const keeps = wanted === 1 ? "the newest run" : `the newest ${countOf(wanted, "run")}`;
      useApp.getState().notify(removed > 0 ? `The store keeps ${keeps}: ${countOf(removed, "older run")} removed.` : `The store keeps ${keeps}.`);
    } catch (e) {
      useApp.getState().notify(`Could not change the retention: ${errorMessage(e)}`, "error");
    }
  };
  return (
    <form
      className="store-line small muted"
      data-testid="store-line"
      onSubmit={(e) => {
        e.preventDefault();
        if (valid && wanted !== info.keepRuns) void apply();
      }}
    >
      <span title={info.location}>
        Runs are kept in <span className="mono">{info.location}</span>: {formatBytes(info.bytes)}, {countOf(info.runs, "run")}.
      </span>
      <label>
        Keep the newest{" "}
        <input type="number" min={1} className="keep-runs" aria-label="Runs to keep" value={keep} onChange={(e) => setKeep(e.target.value)} /> runs
      </label>
      <button type="submit" disabled={!valid || wanted === info.keepRuns}>
        Apply
      </button>
    </form>
  );
}

/** A run's inputs in one line, `name: value` each, cut at `max` characters. */
export function inputsText(inputs: Readonly<Record<string, unknown>> | null | undefined, max: number): string {
  const text = Object.entries(inputs ?? {})
    .map(([k, v]) => `${k}: ${typeof v === "string" ? v : JSON.stringify(v)}`)
    .join(" · ")
    .replace(/\s+/g, " ");
  return text.length > max ? `${text.slice(0, max - 1)}…` : text;
}
