/**
 * Two runs side by side, step by step (`compareRuns`): outcomes, whether outputs and inputs are
 * the same, times and costs; rows that differ stand out. Clicking a row shows that step's
 * prompt and output in both runs, side by side, with a line diff of each.
 */
import { Fragment, useEffect, useMemo, useState } from "react";
import { errorMessage } from "../backend";
import type { Json, RunRecord, StepComparison } from "../backend/types";
import { FileDiff } from "./debugger/FileDiff";
import { stepStory } from "./story";
import { api } from "../app/actions";
import { openRun } from "./actions";
import { differs } from "./runs";
import { useDock } from "./dock";
import { formatCost, formatDelta } from "./format";
import { formatMs } from "./model";
import "./board.css";

export function Compare() {
  const pair = useDock((s) => s.compare);
  const [rows, setRows] = useState<StepComparison[] | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [onlyDiff, setOnlyDiff] = useState(false);
  const [detail, setDetail] = useState<string | null>(null);
  const [records, setRecords] = useState<{ a: RunRecord; b: RunRecord } | null>(null);
  const [recordError, setRecordError] = useState<string | null>(null);
  useEffect(() => {
    setRecords(null);
    setDetail(null);
    setRecordError(null);
  }, [pair]);
  // The two runs' logs, read once, when a row is first opened.
  useEffect(() => {
    if (!pair || !detail || records) return;
    let live = true;
    Promise.all([api().openRun(pair.a), api().openRun(pair.b)])
      .then(([a, b]) => live && setRecords({ a, b }))
      .catch((e: unknown) => live && setRecordError(errorMessage(e)));
    return () => {
      live = false;
    };
  }, [pair, detail, records]);

  useEffect(() => {
    if (!pair) return;
    let live = true;
    setRows(null);
    setError(null);
    api()
      .compareRuns(pair.a, pair.b)
      .then((r) => live && setRows(r))
      .catch((e: unknown) => live && setError(errorMessage(e)));
    return () => {
      live = false;
    };
  }, [pair]);

  if (!pair) return <p className="dock-empty muted">Pick two runs in History (A and B) to compare them.</p>;
  const differing = rows?.filter(differs).length ?? 0;
  const shown = rows ? (onlyDiff ? rows.filter(differs) : rows) : [];
  return (
    <div className="compare">
      <div className="history-bar">
        <button type="button" aria-label="Open run A" onClick={() => void openRun(pair.a)}>
          Open A <span className="mono small">{pair.a}</span>
        </button>
        <button type="button" aria-label="Open run B" onClick={() => void openRun(pair.b)}>
          Open B <span className="mono small">{pair.b}</span>
        </button>
        <label className="check">
          <input type="checkbox" checked={onlyDiff} onChange={(e) => setOnlyDiff(e.target.checked)} /> only differences
        </label>
        {rows ? (
          <span className="muted small" data-testid="compare-summary">
            {differing} of {rows.length} steps differ
          </span>
        ) : null}
        {error ? <span className="bad small">Could not compare: {error}</span> : null}
      </div>
      {rows === null && !error ? <p className="dock-empty muted">Comparing…</p> : null}
      {rows ? (
        <table className="board-table" data-testid="compare">
          <thead>
            <tr>
              <th>Step</th>
              <th>Outcome A</th>
              <th>Outcome B</th>
              <th>Same output?</th>
              <th>Same inputs?</th>
              <th>Time A</th>
              <th>Time B</th>
              <th>Δ</th>
              <th>Cost A</th>
              <th>Cost B</th>
            </tr>
          </thead>
          <tbody>
            {shown.map((c) => (
              <Fragment key={c.step}>
              <tr
                className={`compare-row${differs(c) ? " differs" : ""}${detail === c.step ? " open" : ""}`}
                data-step={c.step}
                title="Show this step's prompt and output in both runs"
                onClick={() => setDetail(detail === c.step ? null : c.step)}
              >
                <td className="mono">{c.step}</td>
                <td className={`outcome-${c.outcomeA}`}>{c.outcomeA}</td>
                <td className={`outcome-${c.outcomeB}`}>{c.outcomeB}</td>
                <td className={c.sameOutput ? "same" : "diff"}>{c.sameOutput ? "same" : "differs"}</td>
                <td className={c.sameInputs === false ? "diff" : "same"}>{c.sameInputs === null ? "—" : c.sameInputs ? "same" : "differ"}</td>
                <td>{formatMs(c.elapsedMsA)}</td>
                <td>{formatMs(c.elapsedMsB)}</td>
                <td className={c.elapsedMsB > c.elapsedMsA ? "slower" : c.elapsedMsB < c.elapsedMsA ? "faster" : ""}>
                  {formatDelta(c.elapsedMsB - c.elapsedMsA, formatMs)}
                </td>
                <td>{formatCost(c.costUsdA)}</td>
                <td>{formatCost(c.costUsdB)}</td>
              </tr>
              {detail === c.step ? (
                <tr className="compare-detail-row">
                  <td colSpan={10}>
                    {records ? (
                      <CompareStep step={c.step} a={records.a} b={records.b} />
                    ) : recordError ? (
                      <span className="bad small">Could not read the runs: {recordError}</span>
                    ) : (
                      <span className="muted small">Reading both runs…</span>
                    )}
                  </td>
                </tr>
              ) : null}
              </Fragment>
            ))}
          </tbody>
        </table>
      ) : null}
    </div>
  );
}

/** A value as text to read and diff: text as is, anything else as indented JSON. */
function asText(value: Json | undefined): string {
  if (value === undefined || value === null) return "";
  return typeof value === "string" ? value : JSON.stringify(value, null, 2);
}

/** One step in both runs: its last prompt and its output, side by side, with line diffs. */
function CompareStep({ step, a, b }: { step: string; a: RunRecord; b: RunRecord }) {
  const [storyA, storyB] = useMemo(() => [stepStory(a.events, step), stepStory(b.events, step)], [a, b, step]);
  const promptOf = (p: (typeof storyA.prompts)[number] | undefined) => (p ? `${p.system ? `${p.system}\n\n` : ""}${p.prompt}` : "");
  const side = (story: typeof storyA) => ({
    prompt: promptOf(story.prompts[0]),
    output: asText(story.outputs?.output ?? (story.outputs as Json | null) ?? undefined),
  });
  const [sa, sb] = [side(storyA), side(storyB)];
  return (
    <div className="compare-step" data-testid="compare-step">
      <div className="compare-sides">
        <section aria-label={`${step} in run A`}>
          <h4>A · {a.run.id}</h4>
          <div className="muted small">Prompt</div>
          <pre className="dbg-pre">{sa.prompt || "— (no prompt)"}</pre>
          <div className="muted small">Output</div>
          <pre className="dbg-pre">{sa.output || "— (no output)"}</pre>
        </section>
        <section aria-label={`${step} in run B`}>
          <h4>B · {b.run.id}</h4>
          <div className="muted small">Prompt</div>
          <pre className="dbg-pre">{sb.prompt || "— (no prompt)"}</pre>
          <div className="muted small">Output</div>
          <pre className="dbg-pre">{sb.output || "— (no output)"}</pre>
        </section>
      </div>
      <div className="muted small">Prompt, A → B</div>
      <FileDiff previous={sa.prompt} text={sb.prompt} label="prompt diff" same="The same prompt in both runs." />
      <div className="muted small">Output, A → B</div>
      <FileDiff previous={sa.output} text={sb.output} label="output diff" same="The same output in both runs." />
    </div>
  );
}
