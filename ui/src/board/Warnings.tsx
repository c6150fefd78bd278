/**
 * The conductor's bottleneck warnings on the board's run, newest first: which step, what kind,
 * what is happening and what could be done. Clicking a step shows it in the debugger.
 */
import { memo } from "react";
import { useRun } from "../store/run";
import { focusStep } from "./actions";
import { warningLabel } from "./warningLabels";
import { formatMs, type Warning } from "./model";
import "./board.css";

export function Warnings() {
  const warnings = useRun((s) => s.board.warnings);
  const focused = useRun((s) => s.focusStep);
  if (warnings.length === 0) {
    return (
      <p className="dock-empty muted" data-testid="warnings">
        No warnings: nothing is holding this run up.
      </p>
    );
  }
  const rows: Warning[] = [];
  for (let i = warnings.length - 1; i >= 0; i--) rows.push(warnings[i]!);
  return (
    <ul className="warnings" data-testid="warnings">
      {rows.map((w, i) => (
        <WarningRow key={warnings.length - i} warning={w} focused={w.step === focused} />
      ))}
    </ul>
  );
}

const WarningRow = memo(function WarningRow({ warning: w, focused }: { warning: Warning; focused: boolean }) {
  return (
    <li className={`warning-row kind-${w.kind}${focused ? " focused" : ""}`} data-step={w.step} data-kind={w.kind}>
      <span className="warning-time mono">{formatMs(w.atMs)}</span>
      <button type="button" className="step-link mono" onClick={() => focusStep(w.step)} title={`Show ${w.step} in the step debugger`}>
        {w.step}
      </button>
      <span className="warning-kind">{warningLabel(w.kind)}</span>
      <span className="warning-message">{w.message}</span>
      {w.advice ? <span className="warning-advice">→ {w.advice}</span> : null}
    </li>
  );
});
