/**
 * Dropping a step onto an edge puts it in the middle of that edge (as n8n and ComfyUI do): the
 * edge `a.out → b.in` becomes `a.out → step.<input>` and `step.<output> → b.in`, when the
 * step's ports can carry both and the step is not connected yet. Pure: geometry in, melody out.
 */
import type { MelodyFile, Point, StepTypeInfo } from "../backend/types";
import { addEdge } from "./edits";
import { edgesOf } from "./layout";
import { canConnect, inputsOf, NEW_INPUT, outputsOf, parseRef } from "./ports";

export interface Box {
  x: number;
  y: number;
  width: number;
  height: number;
}

/** How near (in flow units) a dropped step's centre must be to an edge to go into it. */
export const INSERT_DISTANCE = 40;

/** Distance from `p` to the segment `a`–`b`. */
function toSegment(p: Point, a: Point, b: Point): number {
  const dx = b.x - a.x;
  const dy = b.y - a.y;
  const len = dx * dx + dy * dy;
  const t = len === 0 ? 0 : Math.max(0, Math.min(1, ((p.x - a.x) * dx + (p.y - a.y) * dy) / len));
  return Math.hypot(p.x - (a.x + t * dx), p.y - (a.y + t * dy));
}

/**
 * The melody with `stepId` inserted into the edge its box was dropped on, and a sentence saying
 * so; null when it was not dropped on an edge, is connected already, or its ports do not fit.
 */
export function insertOnEdge(
  melody: MelodyFile,
  types: ReadonlyMap<string, StepTypeInfo>,
  stepId: string,
  boxes: ReadonlyMap<string, Box>,
): { melody: MelodyFile; said: string } | null {
  const edges = edgesOf(melody);
  if (edges.some((e) => parseRef(e.from).step === stepId || parseRef(e.to).step === stepId)) return null;
  const box = boxes.get(stepId);
  const step = melody.steps.find((s) => s.id === stepId);
  if (!box || !step) return null;
  const centre = { x: box.x + box.width / 2, y: box.y + box.height / 2 };
  let best: { edge: (typeof edges)[number]; d: number } | null = null;
  for (const edge of edges) {
    const from = boxes.get(parseRef(edge.from).step);
    const to = boxes.get(parseRef(edge.to).step);
    if (!from || !to) continue;
    const a = { x: from.x + from.width, y: from.y + from.height / 2 };
    const b = { x: to.x, y: to.y + to.height / 2 };
    const d = toSegment(centre, a, b);
    if (d <= INSERT_DISTANCE && (!best || d < best.d)) best = { edge, d };
  }
  if (!best) return null;
  const { edge } = best;
  const without: MelodyFile = { ...melody, edges: edges.filter((e) => e !== edge) };
  const type = types.get(step.type);
  // Its first input that takes what the edge carries (or a new one), then its first output
  // that the edge's end takes.
  const tryInputs = [...inputsOf(step, type).map((p) => p.name), ...(type?.extraInputs ? [NEW_INPUT] : [])];
  for (const port of tryInputs) {
    const first = canConnect(without, types, parseRef(edge.from), { step: stepId, port });
    if (!first.ok) continue;
    const withFirst = addEdge(without, first.edge, first.newPort);
    const typeNow = types.get(step.type);
    const stepNow = withFirst.steps.find((s) => s.id === stepId)!;
    for (const out of outputsOf(stepNow, typeNow)) {
      const second = canConnect(withFirst, types, { step: stepId, port: out.name }, parseRef(edge.to));
      if (!second.ok || second.replaces) continue;
      return {
        melody: addEdge(withFirst, second.edge),
        said: `Inserted ${stepId} into ${edge.from} → ${edge.to}.`,
      };
    }
  }
  return null;
}
