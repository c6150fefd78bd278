/** Left-to-right auto-layout of the steps with dagre; comments and groups stay where they are. */
import { edgesOf } from "./layout";
import dagre from "@dagrejs/dagre";
import type { MelodyFile, Point, StepTypeInfo } from "../backend/types";
import { NODE_WIDTH, stepData, stepHeight } from "./graph";
import { parseRef } from "./ports";

export function autoLayout(m: MelodyFile, types: ReadonlyMap<string, StepTypeInfo>): Map<string, Point> {
  const g = new dagre.graphlib.Graph();
  g.setGraph({ rankdir: "LR", nodesep: 40, ranksep: 90, marginx: 20, marginy: 20 });
  g.setDefaultEdgeLabel(() => ({}));
  for (const s of m.steps) g.setNode(s.id, { width: NODE_WIDTH, height: stepHeight(stepData(s, types)) });
  for (const e of edgesOf(m)) g.setEdge(parseRef(e.from).step, parseRef(e.to).step);
  dagre.layout(g);
  const out = new Map<string, Point>();
  for (const s of m.steps) {
    const n = g.node(s.id);
    out.set(s.id, { x: Math.round(n.x - n.width / 2), y: Math.round(n.y - n.height / 2) });
  }
  return out;
}
