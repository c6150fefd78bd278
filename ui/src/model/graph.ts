/**
 * The melody ↔ canvas conversion. The melody document is the truth; canvas nodes and edges are
 * derived from it, reusing the previous objects for whatever did not change so memoised node
 * components do not re-render. Comments and groups live in `layout`, which the conductor never
 * reads, so moving or editing them never changes what runs.
 */
import type { Edge, Node } from "@xyflow/react";
import type { CommentDoc, EdgeDoc, GroupDoc, MelodyFile, Point, StepDoc, StepTypeInfo } from "../backend/types";
import { inputsOf, outputsOf, parseRef, type ResolvedPort } from "./ports";
import { commentsOf, edgesOf, groupsOf, positionsOf, withLayout } from "./layout";

export type StepNodeData = {
  step: StepDoc;
  type: StepTypeInfo | undefined;
  ins: ResolvedPort[];
  outs: ResolvedPort[];
  /** The type takes extra input ports: the node shows a "new input" handle. */
  extraIn: boolean;
  /** The step's key setting in one line (its prompt, path, URL…), shown under its type; "" when unset. */
  preview: string;
};
export type CommentNodeData = { comment: CommentDoc };
export type GroupNodeData = { group: GroupDoc };

export type StepNode = Node<StepNodeData, "step">;
export type CommentNode = Node<CommentNodeData, "comment">;
export type GroupNode = Node<GroupNodeData, "group">;
export type FlowNode = StepNode | CommentNode | GroupNode;
export type FlowEdge = Edge<{ doc: EdgeDoc }>;

export const COMMENT_PREFIX = "comment:";
export const GROUP_PREFIX = "group:";

export const NODE_WIDTH = 220;

/** Height of a step node, for layout before the DOM has measured it. */
export function stepHeight(data: StepNodeData): number {
  return 58 + (data.preview ? 16 : 0) + 22 * Math.max(data.ins.length + (data.extraIn ? 1 : 0), data.outs.length);
}

/** The settings that say most about a step, in the order a preview looks for them. */
const KEY_SETTINGS = ["path", "url", "prompt", "template", "command", "ms", "model", "default"];

/**
 * One line that says what a step does: its first key setting that is set (a path, a URL, the
 * first line of its prompt, a map's or a loop's body type), without line breaks, cut at 60 characters.
 */
export function keySetting(step: StepDoc): string {
  const config = step.config ?? {};
  let text = "";
  for (const key of KEY_SETTINGS) {
    const v = config[key];
    if (v === undefined || v === null || v === "") continue;
    text = key === "ms" ? `${String(v)} ms` : typeof v === "string" ? v : Array.isArray(v) ? v.map((x) => (typeof x === "string" ? x : JSON.stringify(x))).join(" ") : JSON.stringify(v);
    break;
  }
  if (!text) {
    const body = config.body;
    if (body && typeof body === "object" && !Array.isArray(body) && typeof body.type === "string") text = `${step.type === "cue.loop" ? "each round" : "each item"}: ${body.type}`;
  }
  const line = text.split("\n").find((l) => l.trim() !== "")?.trim() ?? "";
  return line.length > 60 ? `${line.slice(0, 59)}…` : line;
}

const dataCache = new WeakMap<StepDoc, { types: ReadonlyMap<string, StepTypeInfo>; data: StepNodeData }>();

/** One step's node data, memoised on the step object (edits replace it, so identity means unchanged). */
export function stepData(step: StepDoc, types: ReadonlyMap<string, StepTypeInfo>): StepNodeData {
  const hit = dataCache.get(step);
  if (hit && hit.types === types) return hit.data;
  const type = types.get(step.type);
  const data: StepNodeData = {
    step,
    type,
    ins: inputsOf(step, type),
    outs: outputsOf(step, type),
    extraIn: Boolean(type?.extraInputs),
    preview: keySetting(step),
  };
  dataCache.set(step, { types, data });
  return data;
}

export function edgeId(e: EdgeDoc): string {
  return `${e.from}->${e.to}`;
}

function defaultPosition(index: number): Point {
  return { x: (index % 6) * 280, y: Math.floor(index / 6) * 200 };
}

function samePoint(a: { x: number; y: number }, b: { x: number; y: number }): boolean {
  return a.x === b.x && a.y === b.y;
}

/**
 * Canvas nodes for a melody. `prev` nodes are reused when their data, position and selection
 * are unchanged; `transient` positions (a drag in progress) override the layout.
 */
export function melodyToNodes(
  melody: MelodyFile,
  types: ReadonlyMap<string, StepTypeInfo>,
  selection: ReadonlySet<string>,
  prev: readonly FlowNode[] = [],
): FlowNode[] {
  const prevById = new Map<string, FlowNode>();
  for (const n of prev) prevById.set(n.id, n);
  const out: FlowNode[] = [];
  const positions = positionsOf(melody);
  for (const g of groupsOf(melody)) {
    const id = GROUP_PREFIX + g.id;
    const old = prevById.get(id);
    const selected = selection.has(id);
    if (old && old.type === "group" && old.data.group === g && old.selected === selected) {
      out.push(old);
      continue;
    }
    out.push({
      id,
      type: "group",
      position: { x: g.x, y: g.y },
      data: { group: g },
      width: g.width,
      height: g.height,
      // Below every step even when selected (React Flow lifts a selected node by 1000), so the
      // steps inside a selected group stay visible and clickable.
      zIndex: -1001,
      selected,
      dragHandle: ".group-label",
    });
  }
  melody.steps.forEach((step, i) => {
    const data = stepData(step, types);
    const position = positions[step.id] ?? defaultPosition(i);
    const selected = selection.has(step.id);
    const old = prevById.get(step.id);
    if (old && old.type === "step" && old.data === data && samePoint(old.position, position) && old.selected === selected) {
      out.push(old);
      return;
    }
    out.push({ id: step.id, type: "step", position: { x: position.x, y: position.y }, data, selected });
  });
  for (const c of commentsOf(melody)) {
    const id = COMMENT_PREFIX + c.id;
    const old = prevById.get(id);
    const selected = selection.has(id);
    if (old && old.type === "comment" && old.data.comment === c && old.selected === selected) {
      out.push(old);
      continue;
    }
    out.push({
      id,
      type: "comment",
      position: { x: c.x, y: c.y },
      data: { comment: c },
      width: c.width,
      height: c.height,
      selected,
      dragHandle: ".comment-grip",
    });
  }
  return out;
}

export function melodyToEdges(
  melody: MelodyFile,
  selection: ReadonlySet<string>,
  prev: readonly FlowEdge[] = [],
): FlowEdge[] {
  const prevById = new Map<string, FlowEdge>();
  for (const e of prev) prevById.set(e.id, e);
  return edgesOf(melody).map((doc) => {
    const id = edgeId(doc);
    const selected = selection.has(id);
    const old = prevById.get(id);
    if (old && old.data?.doc === doc && old.selected === selected) return old;
    const from = parseRef(doc.from);
    const to = parseRef(doc.to);
    return {
      id,
      type: "flow",
      source: from.step,
      sourceHandle: from.port,
      target: to.step,
      targetHandle: to.port,
      data: { doc },
      selected,
    };
  });
}

/**
 * Rebuilds a melody from canvas nodes and edges over `base`: steps in node order, edges in edge
 * order, positions into `layout.steps`, comments and groups into `layout`; every other field of
 * `base` and of its `layout` is kept as is.
 */
export function graphToMelody(base: MelodyFile, nodes: readonly FlowNode[], edges: readonly FlowEdge[]): MelodyFile {
  const steps: StepDoc[] = [];
  const positions: Record<string, Point> = {};
  const comments: CommentDoc[] = [];
  const groups: GroupDoc[] = [];
  for (const n of nodes) {
    if (n.type === "step") {
      steps.push(n.data.step);
      positions[n.id] = { x: n.position.x, y: n.position.y };
    } else if (n.type === "comment") {
      comments.push({ ...n.data.comment, x: n.position.x, y: n.position.y });
    } else {
      groups.push({ ...n.data.group, x: n.position.x, y: n.position.y });
    }
  }
  return withLayout(
    {
      ...base,
      steps,
      edges: edges.map((e) => e.data?.doc ?? { from: `${e.source}.${e.sourceHandle ?? ""}`, to: `${e.target}.${e.targetHandle ?? ""}` }),
    },
    { steps: positions, comments, groups },
  );
}
