/**
 * A step on the canvas: its kind, name, type, typed ports as handles, validation problems and
 * live run state. Memoised; it subscribes only to its own run entry and problem list, so a run
 * event or a validation pass re-renders only the steps it concerns.
 */
import { memo, useEffect, useState } from "react";
import { Handle, Position, type NodeProps } from "@xyflow/react";
import type { StepNode as StepNodeType } from "../model/graph";
import { NEW_INPUT } from "../model/ports";
import { useRun, type StepRun, type StepState } from "../store/run";
import { formatBytes, formatMs } from "../board/model";
import { useDoc } from "../store/doc";

const STATE_LABEL: Record<StepState, string> = {
  queued: "queued",
  running: "running",
  retrying: "retrying",
  succeeded: "succeeded",
  cached: "cached",
  failed: "failed",
  skipped: "skipped",
  cancelled: "cancelled",
};

const WORKING: ReadonlySet<StepState> = new Set(["running", "retrying"]);

/**
 * How long the step has been at it: its measured time once done; while it works, the time since
 * its first start, ticking between batches (from the newest event's time plus the wall time
 * since that batch arrived). Scrubbing a stored run freezes it at the scrubbed moment.
 */
function useElapsed(run: StepRun | undefined): number | undefined {
  const working = run !== undefined && WORKING.has(run.state) && run.startedAt !== undefined;
  const live = useRun((s) => s.scrubMs === null && s.source === "live" && s.phase === "running");
  const [, tick] = useState(0);
  useEffect(() => {
    if (!working || !live) return;
    const t = setInterval(() => tick((n) => n + 1), 250);
    return () => clearInterval(t);
  }, [working, live]);
  if (!run) return undefined;
  if (!working) return run.elapsedMs;
  const { board, receivedAt } = useRun.getState();
  const now = board.atMs + (live ? performance.now() - receivedAt : 0);
  return Math.max(0, now - (run.startedAt ?? now));
}

/** The step's work as a bar: map items done, tokens against maxTokens, or an indeterminate stripe. */
function Progress({ run, maxTokens }: { run: StepRun; maxTokens: number | undefined }) {
  if (!WORKING.has(run.state)) return null;
  let fraction: number | null = null;
  if (run.items && run.items.total > 0) fraction = run.items.done / run.items.total;
  else if (maxTokens && run.tokens > 0) fraction = Math.min(1, run.tokens / maxTokens);
  return (
    <div className={`step-progress${fraction === null ? " indeterminate" : ""}`} role="progressbar" aria-valuenow={fraction === null ? undefined : Math.round(fraction * 100)}>
      <div style={fraction === null ? undefined : { width: `${Math.round(fraction * 100)}%` }} />
    </div>
  );
}

function StepNodeView({ id, data, selected }: NodeProps<StepNodeType>) {
  const run = useRun((s) => s.steps[id]);
  const elapsed = useElapsed(run);
  const problems = useDoc((s) => s.problemsByStep[id]);
  const { step, type, ins, outs, extraIn } = data;
  const title = step.name || step.id;
  const classes = ["step-node", `kind-${step.kind}`];
  if (selected) classes.push("selected");
  if (run) classes.push(`state-${run.state}`);
  if (problems) classes.push("has-problems");
  return (
    <div className={classes.join(" ")} data-step={id} data-state={run?.state ?? "idle"}>
      <div className="step-head">
        <span className="step-kind">{step.kind}</span>
        <span className="step-title" title={title}>
          {title}
        </span>
        {problems ? (
          <span className="step-problems" title={problems.map((p) => p.message).join("\n")}>
            ⚠ {problems.length}
          </span>
        ) : null}
      </div>
      <div className="step-type" title={type?.description ?? `Unknown step type ${step.type}`}>
        {step.id !== title ? <span className="step-id">{step.id} · </span> : null}
        {type ? type.title : <span className="unknown">unknown type {step.type}</span>}
      </div>
      <div className="step-ports">
        <div className="ports-in">
          {ins.map((p) => (
            <div className="port port-in" key={p.name} title={`${p.name}: ${p.ty}${p.required ? " (required)" : ""}`}>
              <Handle type="target" position={Position.Left} id={p.name} className={`handle ty-${p.ty}`} />
              <span className="port-name">{p.name}</span>
              <span className="port-ty">{p.ty}</span>
            </div>
          ))}
          {extraIn ? (
            <div className="port port-in port-new" title="Drop an edge here to add an input port">
              <Handle type="target" position={Position.Left} id={NEW_INPUT} className="handle handle-new" />
              <span className="port-name">+ input</span>
            </div>
          ) : null}
        </div>
        <div className="ports-out">
          {outs.map((p) => (
            <div className="port port-out" key={p.name} title={`${p.name}: ${p.ty}`}>
              <span className="port-ty">{p.ty}</span>
              <span className="port-name">{p.name}</span>
              <Handle type="source" position={Position.Right} id={p.name} className={`handle ty-${p.ty}`} />
            </div>
          ))}
        </div>
      </div>
      {run ? (
        <div className={`step-state state-${run.state}`} title={run.detail ?? ""}>
          <span className="dot" />
          <span className="state-label">{STATE_LABEL[run.state]}</span>
          {run.attempt > 1 ? <span data-testid="attempt"> · attempt {run.attempt}</span> : null}
          {run.items ? ` · ${run.items.done}/${run.items.total}` : ""}
          {elapsed !== undefined ? <span className="elapsed"> · {formatMs(elapsed)}</span> : null}
          {run.tokens > 0 ? <span className="streamed" title={`${formatBytes(run.bytes)} streamed`}> · {run.tokens} tok</span> : null}
          {run.warnings > 0 ? (
            <span className="step-warning" title="Bottleneck warnings: see the board's Warnings tab" data-testid="step-warning">
              ⚑ {run.warnings}
            </span>
          ) : null}
        </div>
      ) : null}
      {run ? <Progress run={run} maxTokens={typeof step.config?.maxTokens === "number" ? step.config.maxTokens : undefined} /> : null}
    </div>
  );
}

export const StepNode = memo(StepNodeView);
