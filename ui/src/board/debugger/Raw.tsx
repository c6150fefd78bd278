/** The step's raw exchanges: each request as sent and the response as received. */
import { memo, useEffect, useState } from "react";
import { errorMessage } from "../../backend";
import { api } from "../../app/actions";
import { useRun } from "../../store/run";
import { JsonTree } from "../JsonTree";
import { stepStory, type Exchange } from "../story";

/**
 * The raw exchanges of the step. A live run's events reach the board without them (they are
 * most of its bytes, and only this section reads them), so for a live run they are read from
 * the run store when the section is open, again as the step's attempts change.
 */
export function RawOf({ step, fromLog, attempts, done }: { step: string; fromLog: Exchange[]; attempts: number; done: boolean }) {
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
