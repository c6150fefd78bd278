/**
 * Two runs side by side, step by step (`compareRuns`): outcomes, whether outputs and inputs are
 * the same, times and costs; rows that differ stand out.
 */
import { useEffect, useState } from "react";
import { errorMessage } from "../backend";
import type { StepComparison } from "../backend/types";
import { api } from "../app/actions";
import { openRun } from "./actions";
import { differs } from "./derive";
import { useDock } from "./dock";
import { formatCost, formatDelta } from "./format";
import { formatMs } from "./model";
import "./board.css";

export function Compare() {
  const pair = useDock((s) => s.compare);
  const [rows, setRows] = useState<StepComparison[] | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [onlyDiff, setOnlyDiff] = useState(false);

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
              <tr key={c.step} className={`compare-row${differs(c) ? " differs" : ""}`} data-step={c.step}>
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
            ))}
          </tbody>
        </table>
      ) : null}
    </div>
  );
}
