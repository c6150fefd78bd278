/**
 * Which steps a group box holds. A group is only a box drawn in `layout.groups`; it owns no
 * steps. The editor treats a step as inside a group when the step's whole box lies within the
 * group's box, so dragging the group carries those steps with it.
 */
import type { Point } from "../backend/types";

export interface Box {
  x: number;
  y: number;
  width: number;
  height: number;
}

/** True when `inner` lies wholly within `outer` (touching edges count as inside). */
export function inside(inner: Box, outer: Box): boolean {
  return inner.x >= outer.x && inner.y >= outer.y && inner.x + inner.width <= outer.x + outer.width && inner.y + inner.height <= outer.y + outer.height;
}

/** The ids of the steps whose boxes lie wholly within `group`, in the order given. */
export function stepsInGroup(group: Box, steps: readonly { id: string; box: Box }[]): string[] {
  return steps.filter((s) => inside(s.box, group)).map((s) => s.id);
}

/** Each start position shifted by the same delta. */
export function shifted(starts: ReadonlyMap<string, Point>, delta: Point): Map<string, Point> {
  const out = new Map<string, Point>();
  for (const [id, p] of starts) out.set(id, { x: p.x + delta.x, y: p.y + delta.y });
  return out;
}
