/** The bottleneck warnings raised about the step, with their advice. */
import { memo } from "react";
import { formatAt } from "../format";
import type { StepWarning } from "../story";
import { warningLabel } from "../warningLabels";

export const StepWarnings = memo(function StepWarnings({ warnings }: { warnings: StepWarning[] }) {
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
