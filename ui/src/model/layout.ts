/**
 * Typed access to the editor's own parts of a melody's `layout` (the wire type keeps them as
 * plain JSON under their own keys): notes in `layout.comments`, groups in `layout.groups`.
 * Malformed entries (a hand-edited file) are skipped rather than trusted.
 */
import type { CommentDoc, EdgeDoc, GroupDoc, LayoutDoc, MelodyFile, Point } from "../backend/types";

export function edgesOf(m: MelodyFile): EdgeDoc[] {
  return m.edges ?? [];
}

function isObj(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

function boxOk(v: Record<string, unknown>): boolean {
  return typeof v.id === "string" && ["x", "y", "width", "height"].every((k) => typeof v[k] === "number");
}

export function commentsOf(m: MelodyFile): CommentDoc[] {
  const raw = m.layout?.comments;
  if (!Array.isArray(raw)) return [];
  return raw.filter((c): c is CommentDoc => isObj(c) && boxOk(c) && typeof c.text === "string");
}

export function groupsOf(m: MelodyFile): GroupDoc[] {
  const raw = m.layout?.groups;
  if (!Array.isArray(raw)) return [];
  return raw.filter((g): g is GroupDoc => isObj(g) && boxOk(g) && typeof g.label === "string");
}

export function positionsOf(m: MelodyFile): Record<string, Point> {
  return m.layout?.steps ?? {};
}

/** A copy of the layout with notes, groups or positions replaced (empty lists are left out). */
export function withLayout(
  m: MelodyFile,
  patch: { steps?: Record<string, Point>; comments?: CommentDoc[]; groups?: GroupDoc[] },
): MelodyFile {
  const layout: LayoutDoc = { ...(m.layout ?? {}) };
  if (patch.steps) layout.steps = patch.steps;
  if (patch.comments) {
    if (patch.comments.length > 0) layout.comments = patch.comments;
    else delete layout.comments;
  }
  if (patch.groups) {
    if (patch.groups.length > 0) layout.groups = patch.groups;
    else delete layout.groups;
  }
  return { ...m, layout };
}

/** The room a step is given when the editor places it: a node's width and a typical height, with a margin. */
const SLOT = { width: 240, height: 150 };

/**
 * Where to put a new step near `at` (its top-left corner) without covering another: `at`
 * itself when it is free, else the nearest free place on a grid around it, ring by ring.
 * Positions are the layout's top-left corners; steps are taken as `SLOT`-sized boxes.
 */
export function freeSpot(m: MelodyFile, at: Point): Point {
  const taken = Object.values(positionsOf(m));
  const free = (p: Point) => taken.every((q) => Math.abs(q.x - p.x) >= SLOT.width || Math.abs(q.y - p.y) >= SLOT.height);
  if (free(at)) return at;
  for (let ring = 1; ring <= 12; ring++) {
    for (let dy = -ring; dy <= ring; dy++) {
      for (let dx = -ring; dx <= ring; dx++) {
        if (Math.max(Math.abs(dx), Math.abs(dy)) !== ring) continue;
        const p = { x: at.x + dx * SLOT.width, y: at.y + dy * SLOT.height };
        if (free(p)) return p;
      }
    }
  }
  return at;
}
