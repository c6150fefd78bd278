/** The step's outputs, main port first (text, Markdown or a JSON tree), or its streamed text while it plays. */
import { memo, useState } from "react";
import type { Json, JsonObject } from "../../backend/types";
import { useRun } from "../../store/run";
import { formatCount } from "../format";
import { JsonTree } from "../JsonTree";
import { Markdown } from "../Markdown";
import type { StepLive } from "../model";

export const Output = memo(function Output({ step, live, outputs }: { step: string; live: StepLive | undefined; outputs: JsonObject | null }) {
  const stream = useRun((s) => s.board.streams[step]);
  const working = live?.state === "running" || live?.state === "retrying";
  if (!outputs) {
    if (stream) {
      return (
        <div className="dbg-output" aria-label="step output">
          <div className="muted small">{working ? "Streaming…" : "Streamed before it ended (no output was recorded):"}</div>
          <pre className="dbg-pre dbg-stream">
            {stream}
            {working ? <span className="caret" aria-hidden /> : null}
          </pre>
        </div>
      );
    }
    return (
      <p className="muted small dbg-output" aria-label="step output">
        {working ? "Working: no output yet." : live?.state === "failed" ? "No output: the step failed." : live?.state === "skipped" ? "No output: the step was skipped." : "No output yet."}
      </p>
    );
  }
  // The main port first, the others as recorded.
  const ports = Object.entries(outputs).sort(([a], [b]) => Number(b === "output") - Number(a === "output"));
  return (
    <div className="dbg-output" aria-label="step output">
      {ports.length === 0 ? <p className="muted small">The step has no outputs.</p> : null}
      {ports.map(([port, value]) => (
        <OutputPort key={port} port={port} value={value} />
      ))}
    </div>
  );
});

function OutputPort({ port, value }: { port: string; value: Json }) {
  const [mode, setMode] = useState<"text" | "markdown">("text");
  const isText = typeof value === "string";
  return (
    <div className="dbg-port" data-port={port}>
      <div className="dbg-port-head">
        <span className="mono">{port}</span>
        {isText ? (
          <span className="seg" role="radiogroup" aria-label={`Show ${port} as`}>
            <button type="button" role="radio" aria-checked={mode === "text"} className={mode === "text" ? "active" : ""} onClick={() => setMode("text")}>
              Text
            </button>
            <button type="button" role="radio" aria-checked={mode === "markdown"} className={mode === "markdown" ? "active" : ""} onClick={() => setMode("markdown")}>
              Markdown
            </button>
          </span>
        ) : null}
        {isText ? <span className="muted small">{formatCount(value.length)} chars</span> : null}
      </div>
      {typeof value === "string" ? (
        mode === "markdown" ? (
          <Markdown text={value} />
        ) : (
          <pre className="dbg-pre">{value}</pre>
        )
      ) : value !== null && typeof value === "object" ? (
        <JsonTree value={value} expandDepth={2} label={`output ${port}`} />
      ) : (
        <code className="dbg-scalar">{JSON.stringify(value)}</code>
      )}
    </div>
  );
}
