/** The step's attempts: type played, start, duration and outcome of each. */
import { memo } from "react";
import { useRun } from "../../store/run";
import { formatAt } from "../format";
import { formatMs, type StepLive } from "../model";
import type { AttemptRow } from "../story";

export const Attempts = memo(function Attempts({ attempts, origin }: { attempts: AttemptRow[]; origin: StepLive["origin"] }) {
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
