/** A line diff of two texts with unchanged runs folded: the file view's, and Compare's. */
import { useMemo } from "react";
import { diffLines, foldUnchanged } from "../diff";
import { formatCount } from "../format";

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
