/**
 * An edge on the canvas. During a run it animates while data flows along it (its source is
 * working, or its target is working on what it sent) and shows the volume that passed: bytes
 * sent, or tokens its source is streaming. Memoised; it subscribes only to its own flow and its
 * two ends, so a run batch re-renders only the edges it concerns.
 */
import { memo } from "react";
import { BaseEdge, EdgeLabelRenderer, getBezierPath, type EdgeProps } from "@xyflow/react";
import type { FlowEdge } from "../model/graph";
import { useRun } from "../store/run";
import { useDoc } from "../store/doc";
import { flowKey, formatBytes, type StepState } from "../board/model";

const WORKING: ReadonlySet<StepState | undefined> = new Set(["running", "retrying"]);

function FlowEdgeView(props: EdgeProps<FlowEdge>) {
  const { id, source, target, sourceHandleId, targetHandleId, sourceX, sourceY, targetX, targetY, sourcePosition, targetPosition, markerEnd, style, selected } = props;
  const key = flowKey(source, sourceHandleId ?? "output", target, targetHandleId ?? "input");
  const flow = useRun((s) => s.board.flows[key]);
  const from = useRun((s) => s.board.steps[source]?.state);
  const streamed = useRun((s) => (WORKING.has(s.board.steps[source]?.state) ? s.board.steps[source]?.tokens ?? 0 : 0));
  const to = useRun((s) => s.board.steps[target]?.state);
  const problems = useDoc((s) => s.problemsByEdge[id]);
  const flowing = WORKING.has(from) || (flow !== undefined && WORKING.has(to));
  const [path, labelX, labelY] = getBezierPath({ sourceX, sourceY, targetX, targetY, sourcePosition, targetPosition });
  const label = flow ? formatBytes(flow.bytes) : streamed > 0 ? `${streamed} tok…` : null;
  const classes = ["flow-edge"];
  if (flowing) classes.push("flowing");
  if (flow) classes.push("carried");
  if (selected) classes.push("selected");
  if (problems) classes.push("has-problems");
  return (
    <>
      <BaseEdge id={id} path={path} markerEnd={markerEnd} style={style} className={classes.join(" ")} />
      {problems ? (
        <EdgeLabelRenderer>
          <div
            className="edge-problem"
            data-edge={id}
            style={{ transform: `translate(-50%, -50%) translate(${labelX}px, ${labelY + (label ? 16 : 0)}px)` }}
            title={problems.map((p) => p.message).join("\n")}
          >
            ⚠ {problems[0]!.message}
          </div>
        </EdgeLabelRenderer>
      ) : null}
      {label ? (
        <EdgeLabelRenderer>
          <div
            className={`edge-volume${flowing ? " flowing" : ""}`}
            data-edge={id}
            style={{ transform: `translate(-50%, -50%) translate(${labelX}px, ${labelY}px)` }}
            title={flow ? `${formatBytes(flow.bytes)} sent in ${flow.sends} value${flow.sends === 1 ? "" : "s"}` : `${streamed} tokens streamed so far`}
          >
            {label}
          </div>
        </EdgeLabelRenderer>
      ) : null}
    </>
  );
}

export const FlowEdgeComponent = memo(FlowEdgeView);
