/**
 * Copy and paste of steps, the edges between them, their positions, comments and groups. Pasted
 * ids that clash are renamed (`plan` → `plan_2`), and the pasted steps' edges and `{{plan.…}}`
 * references follow the rename.
 */
import type { CommentDoc, EdgeDoc, GroupDoc, MelodyFile, Point, StepDoc } from "../backend/types";
import { stepIds, renameRefs } from "./edits";
import { uniqueId } from "./ids";
import { parseRef } from "./ports";
import { commentsOf, edgesOf, groupsOf, positionsOf, withLayout } from "./layout";

export interface Clip {
  symphonyClip: 1;
  steps: StepDoc[];
  edges: EdgeDoc[];
  positions: Record<string, Point>;
  comments: CommentDoc[];
  groups: GroupDoc[];
}

export function copy(
  m: MelodyFile,
  stepSel: ReadonlySet<string>,
  commentSel: ReadonlySet<string> = new Set(),
  groupSel: ReadonlySet<string> = new Set(),
): Clip {
  const steps = m.steps.filter((s) => stepSel.has(s.id));
  const edges = edgesOf(m).filter((e) => stepSel.has(parseRef(e.from).step) && stepSel.has(parseRef(e.to).step));
  const positions: Record<string, Point> = {};
  for (const s of steps) {
    const p = positionsOf(m)[s.id];
    if (p) positions[s.id] = p;
  }
  return {
    symphonyClip: 1,
    steps,
    edges,
    positions,
    comments: commentsOf(m).filter((c) => commentSel.has(c.id)),
    groups: groupsOf(m).filter((g) => groupSel.has(g.id)),
  };
}

export function isClip(v: unknown): v is Clip {
  return Boolean(v && typeof v === "object" && (v as { symphonyClip?: unknown }).symphonyClip === 1 && Array.isArray((v as Clip).steps));
}

export interface PasteResult {
  melody: MelodyFile;
  /** Canvas ids of what was pasted (steps, then `comment:`/`group:` ids). */
  steps: string[];
  comments: string[];
  groups: string[];
}

export function paste(m: MelodyFile, clip: Clip, offset: Point): PasteResult {
  const taken = stepIds(m);
  const renames = new Map<string, string>();
  for (const s of clip.steps) {
    const id = uniqueId(s.id, taken);
    taken.add(id);
    if (id !== s.id) renames.set(s.id, id);
  }
  const newId = (id: string) => renames.get(id) ?? id;
  const steps = clip.steps.map((s) => {
    const id = newId(s.id);
    const next: StepDoc = { ...s, id };
    if (s.config) next.config = renameRefs(s.config, renames);
    return next;
  });
  const edges = clip.edges.map((e) => {
    const f = parseRef(e.from);
    const t = parseRef(e.to);
    return { from: `${newId(f.step)}.${f.port}`, to: `${newId(t.step)}.${t.port}` };
  });
  const positions = { ...positionsOf(m) };
  clip.steps.forEach((s, i) => {
    const p = clip.positions[s.id] ?? { x: i * 40, y: i * 40 };
    positions[newId(s.id)] = { x: Math.round(p.x + offset.x), y: Math.round(p.y + offset.y) };
  });
  const commentTaken = new Set(commentsOf(m).map((c) => c.id));
  const comments = clip.comments.map((c) => {
    const id = uniqueId(c.id, commentTaken);
    commentTaken.add(id);
    return { ...c, id, x: c.x + offset.x, y: c.y + offset.y };
  });
  const groupTaken = new Set(groupsOf(m).map((g) => g.id));
  const groups = clip.groups.map((g) => {
    const id = uniqueId(g.id, groupTaken);
    groupTaken.add(id);
    return { ...g, id, x: g.x + offset.x, y: g.y + offset.y };
  });
  const melody = withLayout(
    { ...m, steps: [...m.steps, ...steps], edges: [...edgesOf(m), ...edges] },
    {
      steps: positions,
      comments: comments.length > 0 ? [...commentsOf(m), ...comments] : undefined,
      groups: groups.length > 0 ? [...groupsOf(m), ...groups] : undefined,
    },
  );
  return {
    melody,
    steps: steps.map((s) => s.id),
    comments: comments.map((c) => c.id),
    groups: groups.map((g) => g.id),
  };
}
