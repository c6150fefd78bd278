/**
 * The document store: the melody being edited, its file, one undo history for every edit, the
 * selection, validation problems, and the canvas nodes/edges derived from the melody.
 *
 * Every change to the melody goes through `edit`, which pushes the previous melody on the
 * history (melodies are immutable, so a snapshot costs one pointer). A drag moves nodes on the
 * canvas only; its end commits the positions as one edit. Components read narrow slices
 * (`useDoc(s => s.problemsByStep[id])`), never the whole store.
 */
import { create } from "zustand";
import { applyEdgeChanges, applyNodeChanges, type EdgeChange, type NodeChange } from "@xyflow/react";
import type { MelodyFile, Permissions, Point, Problem, StepTypeInfo } from "../backend/types";
import {
  COMMENT_PREFIX,
  GROUP_PREFIX,
  melodyToEdges,
  melodyToNodes,
  NODE_WIDTH,
  stepHeight,
  type FlowEdge,
  type FlowNode,
} from "../model/graph";
import { moveItems, removeItems } from "../model/edits";
import { commentsOf, edgesOf, groupsOf, withLayout } from "../model/layout";
import { copy, paste, type Clip } from "../model/clipboard";
import { shifted, stepsInGroup } from "../model/groups";

const HISTORY_LIMIT = 300;

/** A group drag in progress: where the group started and the steps inside it, with theirs. */
const groupDrags = new Map<string, { origin: Point; steps: Map<string, Point> }>();

/**
 * React Flow drags only the group's own node; the steps inside it follow here. Adds a position
 * change for every contained step (unless the drag already moves it, being selected too), with
 * the same `dragging` flag, so the drag's end commits the group and its steps as one edit.
 */
function withGroupedSteps(changes: NodeChange<FlowNode>[], nodes: readonly FlowNode[]): NodeChange<FlowNode>[] {
  const out = [...changes];
  const movedByDrag = new Set(changes.filter((c) => c.type === "position").map((c) => c.id));
  for (const c of changes) {
    if (c.type !== "position" || !c.id.startsWith(GROUP_PREFIX) || !c.position || c.dragging === undefined) continue;
    let drag = groupDrags.get(c.id);
    if (!drag) {
      const group = nodes.find((n) => n.id === c.id);
      if (!group || group.type !== "group") continue;
      const box = { x: group.position.x, y: group.position.y, width: group.width ?? group.data.group.width, height: group.height ?? group.data.group.height };
      const steps = nodes.flatMap((n) =>
        n.type === "step"
          ? [{ id: n.id, box: { x: n.position.x, y: n.position.y, width: n.measured?.width ?? NODE_WIDTH, height: n.measured?.height ?? stepHeight(n.data) } }]
          : [],
      );
      const inside = stepsInGroup(box, steps);
      drag = { origin: { ...group.position }, steps: new Map(inside.map((id) => [id, { ...nodes.find((n) => n.id === id)!.position }])) };
      groupDrags.set(c.id, drag);
    }
    const moved = shifted(drag.steps, { x: c.position.x - drag.origin.x, y: c.position.y - drag.origin.y });
    for (const [id, position] of moved) {
      if (!movedByDrag.has(id)) out.push({ type: "position", id, position, dragging: c.dragging });
    }
    if (c.dragging === false) groupDrags.delete(c.id);
  }
  return out;
}

export interface DocState {
  melody: MelodyFile | null;
  /** Where the melody is saved, relative to the project root; "" until first saved. */
  path: string;
  /** The file's hash as last opened or saved (to recognise our own writes in `file-changed`). */
  hash: string;
  /** The melody as last opened or saved, to tell whether there are unsaved edits. */
  saved: MelodyFile | null;
  dirty: boolean;
  past: MelodyFile[];
  future: MelodyFile[];
  types: ReadonlyMap<string, StepTypeInfo>;
  nodes: FlowNode[];
  edges: FlowEdge[];
  selection: ReadonlySet<string>;
  problems: Problem[];
  problemsByStep: Readonly<Record<string, Problem[]>>;
  /** Problems of an edge (`edges[3]…`), by canvas edge id: the edge is drawn red. */
  problemsByEdge: Readonly<Record<string, Problem[]>>;
  /** What the melody may do and whether the user trusts it (the backend's `permissions`), refreshed after edits. */
  permissions: Permissions | null;
  /** Bumped when the user asks to look at a step (from the problems list), for the canvas to centre it. */
  focus: { id: string; seq: number } | null;
  /** Bumped by every load, so the canvas fits the new melody into view once. */
  loads: number;

  setTypes(types: StepTypeInfo[]): void;
  load(melody: MelodyFile, path: string, hash: string, problems?: Problem[]): void;
  /** `sent` was written; the backend answered with its canonical form `melody`. */
  markSaved(sent: MelodyFile, melody: MelodyFile, path: string, hash: string): void;
  close(): void;
  /** Applies one undoable change. */
  edit(fn: (m: MelodyFile) => MelodyFile, select?: Iterable<string>): void;
  undo(): void;
  redo(): void;
  select(ids: Iterable<string>): void;
  focusStep(id: string): void;
  /** Selects an edge and centres the step it leads into (the problems list's edge rows). */
  focusEdge(edgeId: string): void;
  onNodesChange(changes: NodeChange<FlowNode>[]): void;
  onEdgesChange(changes: EdgeChange<FlowEdge>[]): void;
  deleteSelection(): void;
  copySelection(): Clip | null;
  pasteClip(clip: Clip, offset: Point): void;
  setProblems(problems: Problem[]): void;
  setPermissions(permissions: Permissions | null): void;
}

function sameJson(a: MelodyFile | null, b: MelodyFile | null): boolean {
  if (a === b) return true;
  if (!a || !b) return false;
  return JSON.stringify(a) === JSON.stringify(b);
}

/** The canvas edge a problem is about (its path starts `edges[i]`), if any. */
export function edgeOfProblem(p: Problem, melody: MelodyFile | null): string | null {
  const m = /^edges\[(\d+)\]/.exec(p.path);
  const edge = m && melody ? edgesOf(melody)[Number(m[1])] : undefined;
  return edge ? `${edge.from}->${edge.to}` : null;
}

function byEdge(problems: Problem[], melody: MelodyFile | null): Record<string, Problem[]> {
  const out: Record<string, Problem[]> = {};
  for (const p of problems) {
    const id = edgeOfProblem(p, melody);
    if (id) (out[id] ??= []).push(p);
  }
  return out;
}

function byStep(problems: Problem[]): Record<string, Problem[]> {
  const out: Record<string, Problem[]> = {};
  for (const p of problems) {
    const step = p.step ?? /^steps\.([^.[\]]+)/.exec(p.path)?.[1];
    if (!step) continue;
    (out[step] ??= []).push(p);
  }
  return out;
}

/** Splits canvas ids into steps, comments, groups and edges. */
export function splitIds(ids: Iterable<string>, edges: readonly FlowEdge[]) {
  const edgeIds = new Set(edges.map((e) => e.id));
  const steps = new Set<string>();
  const comments = new Set<string>();
  const groups = new Set<string>();
  const edgeSel = new Set<string>();
  for (const id of ids) {
    if (id.startsWith(COMMENT_PREFIX)) comments.add(id.slice(COMMENT_PREFIX.length));
    else if (id.startsWith(GROUP_PREFIX)) groups.add(id.slice(GROUP_PREFIX.length));
    else if (edgeIds.has(id)) edgeSel.add(id);
    else steps.add(id);
  }
  return { steps, comments, groups, edges: edgeSel };
}

export const useDoc = create<DocState>()((set, get) => {
  /** Rebuilds the derived canvas state for a new melody, keeping unchanged node objects. */
  const derive = (melody: MelodyFile | null, selection: ReadonlySet<string>, types = get().types) => {
    if (!melody) return { nodes: [], edges: [] };
    const s = get();
    return {
      nodes: melodyToNodes(melody, types, selection, s.nodes),
      edges: melodyToEdges(melody, selection, s.edges),
    };
  };
  const validSelection = (melody: MelodyFile, selection: Iterable<string>): Set<string> => {
    const ids = new Set<string>(melody.steps.map((s) => s.id));
    for (const e of edgesOf(melody)) ids.add(`${e.from}->${e.to}`);
    for (const c of commentsOf(melody)) ids.add(COMMENT_PREFIX + c.id);
    for (const g of groupsOf(melody)) ids.add(GROUP_PREFIX + g.id);
    return new Set([...selection].filter((id) => ids.has(id)));
  };
  const moveTo = (melody: MelodyFile, past: MelodyFile[], future: MelodyFile[], select?: Iterable<string>) => {
    const selection = validSelection(melody, select ?? get().selection);
    set({ melody, past, future, selection, dirty: !sameJson(melody, get().saved), ...derive(melody, selection) });
  };

  return {
    melody: null,
    path: "",
    hash: "",
    saved: null,
    dirty: false,
    past: [],
    future: [],
    types: new Map(),
    nodes: [],
    edges: [],
    selection: new Set(),
    problems: [],
    problemsByStep: {},
    problemsByEdge: {},
    permissions: null,
    focus: null,
    loads: 0,

    setTypes(list) {
      const types = new Map(list.map((t) => [t.name, t]));
      const { melody, selection } = get();
      set({ types, ...derive(melody, selection, types) });
    },
    load(melody, path, hash, problems = []) {
      set({ nodes: [], edges: [] });
      const selection = new Set<string>();
      set({
        melody,
        path,
        hash,
        saved: melody,
        dirty: false,
        past: [],
        future: [],
        selection,
        problems,
        problemsByStep: byStep(problems),
        problemsByEdge: byEdge(problems, melody),
        permissions: null,
        focus: null,
        loads: get().loads + 1,
        ...derive(melody, selection),
      });
    },
    markSaved(sent, melody, path, hash) {
      const current = get().melody;
      if (current !== sent) {
        // Edited while the save was on its way: what is on screen is not what was written.
        set({ saved: melody, path, hash, dirty: true });
        return;
      }
      if (sameJson(current, melody)) {
        // Keep the edited object when the canonical form is the same JSON: nothing re-renders.
        set({ saved: current, path, hash, dirty: false });
        return;
      }
      // The canonical form differs (defaults left out, keys sorted): adopt it, so the
      // editor shows exactly the file on disk and is clean.
      const { selection } = get();
      set({ melody, saved: melody, path, hash, dirty: false, ...derive(melody, selection) });
    },
    close() {
      set({ melody: null, path: "", hash: "", saved: null, dirty: false, past: [], future: [], nodes: [], edges: [], selection: new Set(), problems: [], problemsByStep: {}, problemsByEdge: {}, permissions: null });
    },
    edit(fn, select) {
      const { melody, past } = get();
      if (!melody) return;
      const next = fn(melody);
      if (next === melody) return;
      const trimmed = past.length >= HISTORY_LIMIT ? past.slice(past.length - HISTORY_LIMIT + 1) : past;
      moveTo(next, [...trimmed, melody], [], select);
    },
    undo() {
      const { melody, past, future } = get();
      const prev = past[past.length - 1];
      if (!melody || !prev) return;
      moveTo(prev, past.slice(0, -1), [melody, ...future]);
    },
    redo() {
      const { melody, past, future } = get();
      const next = future[0];
      if (!melody || !next) return;
      moveTo(next, [...past, melody], future.slice(1));
    },
    select(ids) {
      const { melody } = get();
      if (!melody) return;
      const selection = validSelection(melody, ids);
      set({ selection, ...derive(melody, selection) });
    },
    focusStep(id) {
      const seq = (get().focus?.seq ?? 0) + 1;
      get().select([id]);
      set({ focus: { id, seq } });
    },
    focusEdge(edgeId) {
      const target = get().edges.find((e) => e.id === edgeId)?.target;
      if (!target) return;
      const seq = (get().focus?.seq ?? 0) + 1;
      get().select([edgeId]);
      set({ focus: { id: target, seq } });
    },
    onNodesChange(incoming) {
      const s = get();
      if (!s.melody) return;
      const changes = withGroupedSteps(incoming, s.nodes);
      let selection: Set<string> | null = null;
      const moved = new Map<string, Point>();
      const movedComments = new Map<string, Point>();
      const movedGroups = new Map<string, Point>();
      const removed: string[] = [];
      const resized = new Map<string, { width: number; height: number }>();
      for (const c of changes) {
        if (c.type === "select") {
          selection ??= new Set(s.selection);
          if (c.selected) selection.add(c.id);
          else selection.delete(c.id);
        } else if (c.type === "position" && c.position && c.dragging === false) {
          if (c.id.startsWith(COMMENT_PREFIX)) movedComments.set(c.id.slice(COMMENT_PREFIX.length), c.position);
          else if (c.id.startsWith(GROUP_PREFIX)) movedGroups.set(c.id.slice(GROUP_PREFIX.length), c.position);
          else moved.set(c.id, c.position);
        } else if (c.type === "remove") {
          removed.push(c.id);
        } else if (c.type === "dimensions" && c.resizing === false && c.dimensions) {
          resized.set(c.id, c.dimensions);
        }
      }
      // Live changes (drags in progress, measured sizes, selection) touch only the canvas.
      const nodes = applyNodeChanges(changes.filter((c) => c.type !== "remove"), s.nodes);
      const patch: Partial<DocState> = { nodes };
      if (selection) {
        patch.selection = selection;
      }
      set(patch);
      if (moved.size + movedComments.size + movedGroups.size > 0) {
        // The drag ended: one undoable edit for every node it moved.
        const positions = new Map<string, Point>();
        for (const n of get().nodes) {
          if (n.type === "step" && moved.has(n.id)) positions.set(n.id, n.position);
        }
        s.edit((m) => moveItems(m, positions, movedComments, movedGroups));
      }
      if (resized.size > 0) {
        // A resize from the top or left edge moves the box too: keep where it is now.
        const at = new Map(get().nodes.filter((n) => resized.has(n.id)).map((n) => [n.id, n.position]));
        const size = (id: string) => {
          const d = resized.get(id);
          const p = at.get(id);
          if (!d) return null;
          const box = { width: Math.round(d.width), height: Math.round(d.height) };
          return p ? { ...box, x: Math.round(p.x), y: Math.round(p.y) } : box;
        };
        s.edit((m) =>
          withLayout(m, {
            comments: commentsOf(m).map((c) => ({ ...c, ...size(COMMENT_PREFIX + c.id) })),
            groups: groupsOf(m).map((g) => ({ ...g, ...size(GROUP_PREFIX + g.id) })),
          }),
        );
      }
      if (removed.length > 0) {
        get().select(removed);
        get().deleteSelection();
      }
    },
    onEdgesChange(changes) {
      const s = get();
      let selection: Set<string> | null = null;
      const removed: string[] = [];
      for (const c of changes) {
        if (c.type === "select") {
          selection ??= new Set(s.selection);
          if (c.selected) selection.add(c.id);
          else selection.delete(c.id);
        } else if (c.type === "remove") removed.push(c.id);
      }
      const edges = applyEdgeChanges(changes.filter((c) => c.type !== "remove"), s.edges);
      set(selection ? { edges, selection } : { edges });
      if (removed.length > 0) {
        get().select(removed);
        get().deleteSelection();
      }
    },
    deleteSelection() {
      const { selection, edges } = get();
      if (selection.size === 0) return;
      const ids = splitIds(selection, edges);
      get().edit((m) => removeItems(m, ids), []);
    },
    copySelection() {
      const { melody, selection, edges } = get();
      if (!melody || selection.size === 0) return null;
      const ids = splitIds(selection, edges);
      return copy(melody, ids.steps, ids.comments, ids.groups);
    },
    pasteClip(clip, offset) {
      const { melody } = get();
      if (!melody) return;
      const result = paste(melody, clip, offset);
      const select = [
        ...result.steps,
        ...result.comments.map((c) => COMMENT_PREFIX + c),
        ...result.groups.map((g) => GROUP_PREFIX + g),
      ];
      get().edit(() => result.melody, select);
    },
    setProblems(problems) {
      set({ problems, problemsByStep: byStep(problems), problemsByEdge: byEdge(problems, get().melody) });
    },
    setPermissions(permissions) {
      set({ permissions });
    },
  };
});
