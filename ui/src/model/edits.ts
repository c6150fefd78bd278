/**
 * Every change to a melody as a pure function `(melody, …) → melody`. The document store runs
 * them through one history, so each is undoable; none mutates its argument, and unchanged steps
 * keep their identity (the canvas relies on it to skip re-rendering them).
 */
import type {
  CommentDoc,
  EdgeDoc,
  GroupDoc,
  JsonObject,
  MelodyFile,
  Point,
  PortType,
  StepDoc,
  StepTypeInfo,
} from "../backend/types";
import { uniqueId } from "./ids";
import { parseRef } from "./ports";
import { commentsOf, edgesOf, groupsOf, positionsOf, withLayout } from "./layout";

export function stepIds(m: MelodyFile): Set<string> {
  return new Set(m.steps.map((s) => s.id));
}


/** A new step of `type` at `at`, with an id made from the type's title. */
export function addStep(m: MelodyFile, type: StepTypeInfo, at: Point): { melody: MelodyFile; id: string } {
  const id = uniqueId(type.title || type.name.split(".").pop() || "step", stepIds(m));
  const step: StepDoc = { id, kind: type.kind, type: type.name };
  if (type.capabilities.length > 0) step.capabilities = [...type.capabilities];
  // Routers must declare their output ports; start with one so the step can be connected.
  if (type.outputs.length === 0 && type.extraOutputs) step.outputs = { out: { type: type.extraOutputs } };
  const melody = withLayout({ ...m, steps: [...m.steps, step] }, {
    steps: { ...positionsOf(m), [id]: { x: Math.round(at.x), y: Math.round(at.y) } },
  });
  return { melody, id };
}

/** Removes steps (with their edges and positions), edges, comments and groups by canvas id. */
export function removeItems(
  m: MelodyFile,
  ids: { steps: ReadonlySet<string>; edges: ReadonlySet<string>; comments: ReadonlySet<string>; groups: ReadonlySet<string> },
): MelodyFile {
  const steps = m.steps.filter((s) => !ids.steps.has(s.id));
  const edges = edgesOf(m).filter(
    (e) => !ids.edges.has(`${e.from}->${e.to}`) && !ids.steps.has(parseRef(e.from).step) && !ids.steps.has(parseRef(e.to).step),
  );
  const pos = { ...positionsOf(m) };
  for (const id of ids.steps) delete pos[id];
  return withLayout(
    { ...m, steps, edges },
    {
      steps: pos,
      comments: commentsOf(m).filter((c) => !ids.comments.has(c.id)),
      groups: groupsOf(m).filter((g) => !ids.groups.has(g.id)),
    },
  );
}

export function addEdge(m: MelodyFile, edge: EdgeDoc, newPort?: { name: string; ty: PortType }, replaces?: EdgeDoc): MelodyFile {
  let steps = m.steps;
  if (newPort) {
    const target = parseRef(edge.to).step;
    steps = m.steps.map((s) =>
      s.id === target ? { ...s, inputs: { ...(s.inputs ?? {}), [newPort.name]: { type: newPort.ty } } } : s,
    );
  }
  const kept = replaces ? edgesOf(m).filter((e) => !(e.from === replaces.from && e.to === replaces.to)) : edgesOf(m);
  return { ...m, steps, edges: [...kept, edge] };
}

/** Sets positions (rounded to whole pixels) of steps, comments and groups by canvas id. */
export function moveItems(
  m: MelodyFile,
  steps: ReadonlyMap<string, Point>,
  comments: ReadonlyMap<string, Point> = new Map(),
  groups: ReadonlyMap<string, Point> = new Map(),
): MelodyFile {
  const patch: Parameters<typeof withLayout>[1] = {};
  if (steps.size > 0) {
    const pos = { ...positionsOf(m) };
    for (const [id, p] of steps) pos[id] = { x: Math.round(p.x), y: Math.round(p.y) };
    patch.steps = pos;
  }
  if (comments.size > 0) {
    patch.comments = commentsOf(m).map((c) => {
      const p = comments.get(c.id);
      return p ? { ...c, x: Math.round(p.x), y: Math.round(p.y) } : c;
    });
  }
  if (groups.size > 0) {
    patch.groups = groupsOf(m).map((g) => {
      const p = groups.get(g.id);
      return p ? { ...g, x: Math.round(p.x), y: Math.round(p.y) } : g;
    });
  }
  return withLayout(m, patch);
}

/** Replaces one step through `fn`; other steps keep their identity. */
export function updateStep(m: MelodyFile, id: string, fn: (s: StepDoc) => StepDoc): MelodyFile {
  return { ...m, steps: m.steps.map((s) => (s.id === id ? fn(s) : s)) };
}

/** Sets (or, with `undefined`, removes) one config key of a step. */
export function setConfig(m: MelodyFile, id: string, key: string, value: JsonObject[string] | undefined): MelodyFile {
  return updateStep(m, id, (s) => {
    const config: JsonObject = { ...(s.config ?? {}) };
    if (value === undefined) delete config[key];
    else config[key] = value;
    const next: StepDoc = { ...s, config };
    if (Object.keys(config).length === 0) delete next.config;
    return next;
  });
}

/** Rewrites `{{old.` and `{{old}}` references in every string of a JSON value. */
export function renameRefs<T>(value: T, renames: ReadonlyMap<string, string>): T {
  if (renames.size === 0) return value;
  if (typeof value === "string") {
    return value.replace(/\{\{(\s*)([A-Za-z0-9_-]+)(?=[.\s}])/g, (all, ws: string, root: string) => {
      const to = renames.get(root);
      return to ? `{{${ws}${to}` : all;
    }) as T;
  }
  if (Array.isArray(value)) return value.map((v: unknown) => renameRefs(v, renames)) as T;
  if (value && typeof value === "object") {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) out[k] = renameRefs(v, renames);
    return out as T;
  }
  return value;
}

/** Renames a step: its edges, its position and references to it in other steps follow. */
export function renameStep(m: MelodyFile, from: string, to: string): MelodyFile {
  const renames = new Map([[from, to]]);
  const fix = (ref: string) => {
    const r = parseRef(ref);
    return r.step === from ? `${to}.${r.port}` : ref;
  };
  const steps = m.steps.map((s) => {
    const renamed = s.id === from ? { ...s, id: to } : s;
    if (!renamed.config) return renamed;
    const config = renameRefs(renamed.config, renames);
    return JSON.stringify(config) === JSON.stringify(renamed.config) ? renamed : { ...renamed, config };
  });
  const edges = edgesOf(m).map((e) => (parseRef(e.from).step === from || parseRef(e.to).step === from ? { from: fix(e.from), to: fix(e.to) } : e));
  const pos = { ...positionsOf(m) };
  if (pos[from]) {
    pos[to] = pos[from];
    delete pos[from];
  }
  return withLayout({ ...m, steps, edges }, { steps: pos });
}

function layoutIds(items: readonly { id: string }[] | undefined): Set<string> {
  return new Set((items ?? []).map((i) => i.id));
}

export function addComment(m: MelodyFile, at: Point, text = ""): { melody: MelodyFile; id: string } {
  const id = uniqueId("note", layoutIds(commentsOf(m)));
  const comment: CommentDoc = { id, x: Math.round(at.x), y: Math.round(at.y), width: 220, height: 120, text };
  return { melody: withLayout(m, { comments: [...commentsOf(m), comment] }), id };
}

export function updateComment(m: MelodyFile, id: string, patch: Partial<CommentDoc>): MelodyFile {
  return withLayout(m, { comments: commentsOf(m).map((c) => (c.id === id ? { ...c, ...patch } : c)) });
}

export function addGroup(m: MelodyFile, box: { x: number; y: number; width: number; height: number }, label: string): { melody: MelodyFile; id: string } {
  const id = uniqueId("group", layoutIds(groupsOf(m)));
  const group: GroupDoc = { id, label, ...box };
  return { melody: withLayout(m, { groups: [...groupsOf(m), group] }), id };
}

export function updateGroup(m: MelodyFile, id: string, patch: Partial<GroupDoc>): MelodyFile {
  return withLayout(m, { groups: groupsOf(m).map((g) => (g.id === id ? { ...g, ...patch } : g)) });
}

/** A new, empty melody. */
export function newMelody(id: string, name: string): MelodyFile {
  return {
    formatVersion: 1,
    melody: { id, name },
    inputs: { goal: { type: "string", description: "What this melody should work on", default: "" } },
    steps: [],
    edges: [],
    layout: { steps: {} },
  };
}

/** Removes a declared input or output port of a step, with the edges that used it. */
export function removePort(m: MelodyFile, stepId: string, side: "in" | "out", name: string): MelodyFile {
  const ref = `${stepId}.${name}`;
  const next = { ...m, edges: edgesOf(m).filter((e) => (side === "in" ? e.to : e.from) !== ref) };
  const key = side === "in" ? "inputs" : "outputs";
  return updateStep(next, stepId, (s) => {
    const ports = { ...(s[key] ?? {}) };
    delete ports[name];
    const rest = { ...s };
    if (Object.keys(ports).length > 0) rest[key] = ports;
    else delete rest[key];
    return rest;
  });
}

/** What `changeType` could not carry over, for the user to be told. */
export interface TypeChange {
  melody: MelodyFile;
  /** Settings the new type does not have (`shape`), and edges from ports it does not have. */
  dropped: string[];
}

/**
 * Changes a step's type in place (an offline stand-in into a real model, a model into a coding
 * agent…), keeping its id, name, position, policy, input ports and every edge the new type can
 * still carry. Settings the new type shares (prompt, system, model) are kept; a system prompt
 * going to a type without one leads the prompt. Capabilities become what the new type needs.
 */
export function changeType(m: MelodyFile, stepId: string, type: StepTypeInfo): TypeChange {
  const step = m.steps.find((s) => s.id === stepId);
  if (!step || step.type === type.name) return { melody: m, dropped: [] };
  const dropped: string[] = [];
  const has = (name: string) => type.config.some((f) => f.name === name);
  const config: JsonObject = {};
  let system: string | null = null;
  for (const [key, value] of Object.entries(step.config ?? {})) {
    if (has(key)) config[key] = value;
    else if (key === "system" && typeof value === "string") system = value.trim();
    else dropped.push(`setting ${key}`);
  }
  if (system && has("prompt")) {
    const prompt = typeof config.prompt === "string" ? config.prompt : "";
    config.prompt = `${system}\n\n${prompt}`.trim();
  } else if (system) dropped.push("setting system");
  const next: StepDoc = { ...step, type: type.name, kind: type.kind };
  if (Object.keys(config).length > 0) next.config = config;
  else delete next.config;
  if (type.capabilities.length > 0) next.capabilities = [...type.capabilities];
  else delete next.capabilities;
  // Input ports the step declared stay when the new type takes extra inputs (every
  // instrument does); declared outputs stay only where the new type lets steps declare them.
  const fixedIn = new Set(type.inputs.map((p) => p.name));
  if (next.inputs && !type.extraInputs) {
    const kept = Object.fromEntries(Object.entries(next.inputs).filter(([name]) => fixedIn.has(name)));
    if (Object.keys(kept).length > 0) next.inputs = kept;
    else delete next.inputs;
  }
  if (next.outputs && !type.extraOutputs) delete next.outputs;
  const outs = new Set([...type.outputs.map((p) => p.name), ...Object.keys(next.outputs ?? {})]);
  const ins = new Set([...fixedIn, ...Object.keys(next.inputs ?? {})]);
  const edges = edgesOf(m).filter((e) => {
    const from = parseRef(e.from);
    const to = parseRef(e.to);
    const ok = (from.step !== stepId || outs.has(from.port)) && (to.step !== stepId || ins.has(to.port));
    if (!ok) dropped.push(`edge ${e.from} → ${e.to}`);
    return ok;
  });
  const melody = updateStep({ ...m, edges }, stepId, () => next);
  return { melody, dropped };
}
