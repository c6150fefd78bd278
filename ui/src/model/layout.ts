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
