/** What the step logged (an agent's stdout and stderr, an instrument's info lines), the latest lines first shown. */
import { memo, useState } from "react";
import { formatAt, formatCount } from "../format";
import type { LogLine } from "../story";

const LOG_SHOWN = 500;

export const Log = memo(function Log({ lines }: { lines: LogLine[] }) {
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
