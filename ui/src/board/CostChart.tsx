/**
 * Where the tokens and money went: a bar per step of tokens (input + output, or streamed tokens
 * while it plays) and of cost, the dearest first; "~" marks estimated counts.
 */
import { useMemo } from "react";
import { useRun } from "../store/run";
import { focusStep } from "./actions";
import { costRows } from "./costRows";
import { formatCost, formatCount } from "./format";
import "./board.css";

const TOP = 30;

export function CostChart() {
  const steps = useRun((s) => s.board.steps);
  const rows = useMemo(() => costRows(steps), [steps]);
  if (rows.length === 0) {
    return (
      <p className="dock-empty muted" data-testid="cost-chart">
        No tokens or cost yet: only instrument steps use them.
      </p>
    );
  }
  const shown = rows.slice(0, TOP);
  const maxTokens = Math.max(1, ...shown.map((r) => r.tokens));
  const maxCost = Math.max(0, ...shown.map((r) => r.costUsd ?? 0));
  return (
    <div className="cost-chart" data-testid="cost-chart">
      <div className="cost-row cost-head muted small">
        <span>Step</span>
        <span>Tokens</span>
        <span>Cost</span>
      </div>
      {shown.map((r) => (
        <div key={r.step} className="cost-row" data-step={r.step}>
          <button type="button" className="step-link mono" onClick={() => focusStep(r.step)} title={r.step}>
            {r.step}
          </button>
          <span className="cost-cell">
            <span className="cost-track">
              <span className="cost-bar tokens" style={{ width: `${(r.tokens / maxTokens) * 100}%` }} />
            </span>
            <span className="cost-value">
              {r.estimated ? "~" : ""}
              {formatCount(r.tokens)}
              {r.streaming ? <span className="muted"> streamed</span> : null}
            </span>
          </span>
          <span className="cost-cell">
            <span className="cost-track">
              {r.costUsd !== null && maxCost > 0 ? <span className="cost-bar cost" style={{ width: `${(r.costUsd / maxCost) * 100}%` }} /> : null}
            </span>
            <span className="cost-value">
              {r.estimated && r.costUsd !== null ? "~" : ""}
              {formatCost(r.costUsd)}
            </span>
          </span>
        </div>
      ))}
      {rows.length > TOP ? <p className="muted small cost-more">and {formatCount(rows.length - TOP)} more</p> : null}
    </div>
  );
}
