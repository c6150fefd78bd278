/**
 * A step on the canvas: its kind, name, type, typed ports as handles, validation problems and
 * live run state. Memoised; it subscribes only to its own run entry and problem list, so a run
 * event or a validation pass re-renders only the steps it concerns.
 */
import { memo } from "react";
import { Handle, Position, type NodeProps } from "@xyflow/react";
import type { StepNode as StepNodeType } from "../model/graph";
import { NEW_INPUT } from "../model/ports";
import { useRun, type StepState } from "../store/run";
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

function StepNodeView({ id, data, selected }: NodeProps<StepNodeType>) {
  const run = useRun((s) => s.steps[id]);
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
          {STATE_LABEL[run.state]}
          {run.attempt > 1 ? ` · attempt ${run.attempt}` : ""}
          {run.items ? ` · ${run.items.done}/${run.items.total}` : ""}
          {run.elapsedMs !== undefined ? ` · ${run.elapsedMs} ms` : ""}
        </div>
      ) : null}
    </div>
  );
}

export const StepNode = memo(StepNodeView);
