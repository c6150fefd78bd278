/**
 * Ports and the rules for joining them, mirroring `symphony-melody` (catalog.rs, validate.rs):
 * a step's ports are its type's fixed ones (refined by the step's declarations) plus the extra
 * ones the step declares; an edge joins an output port to an input port whose type accepts it;
 * an input takes one edge unless it is a list; the graph stays acyclic.
 */
import { edgesOf } from "./layout";
import type { EdgeDoc, Json, MelodyFile, PortType, StepDoc, StepTypeInfo } from "../backend/types";

export interface ResolvedPort {
  name: string;
  ty: PortType;
  required: boolean;
  hasDefault: boolean;
  /** Declared by the step rather than by its type (so it can be removed). */
  extra: boolean;
  description: string;
}

/** The handle id of the "new input" handle on steps whose type takes extra inputs. */
export const NEW_INPUT = "+";

export function accepts(to: PortType, from: PortType): boolean {
  if (to === "any" || from === "any") return true;
  if (to === "list") return true;
  if (to === from) return true;
  if (to === "text" && (from === "number" || from === "boolean" || from === "file")) return true;
  if (to === "json" && (from === "text" || from === "number" || from === "boolean" || from === "list")) return true;
  return false;
}

export function inputsOf(step: StepDoc, type: StepTypeInfo | undefined): ResolvedPort[] {
  return resolve(type?.inputs ?? [], step.inputs ?? {}, true);
}

export function outputsOf(step: StepDoc, type: StepTypeInfo | undefined): ResolvedPort[] {
  return resolve(type?.outputs ?? [], step.outputs ?? {}, false);
}

function resolve(
  fixed: StepTypeInfo["inputs"],
  declared: Record<string, { type: PortType; default?: Json }>,
  inputs: boolean,
): ResolvedPort[] {
  const out: ResolvedPort[] = fixed.map((p) => {
    const decl = declared[p.name];
    const hasDefault = decl !== undefined && "default" in decl;
    return {
      name: p.name,
      ty: decl?.type ?? p.ty,
      required: inputs && p.required && !hasDefault,
      hasDefault,
      extra: false,
      description: p.description,
    };
  });
  for (const name of Object.keys(declared).sort()) {
    if (fixed.some((p) => p.name === name)) continue;
    const decl = declared[name]!;
    const hasDefault = "default" in decl;
    out.push({ name, ty: decl.type, required: inputs && !hasDefault, hasDefault, extra: true, description: "" });
  }
  return out;
}

export interface PortRef {
  step: string;
  port: string;
}

export function parseRef(ref: string): PortRef {
  const dot = ref.indexOf(".");
  return dot < 0 ? { step: ref, port: "" } : { step: ref.slice(0, dot), port: ref.slice(dot + 1) };
}

export function formatRef(r: PortRef): string {
  return `${r.step}.${r.port}`;
}

export type ConnectResult =
  /** `replaces`: the edge now into a single-edge input, which this one takes the place of. */
  | { ok: true; edge: EdgeDoc; newPort?: { name: string; ty: PortType }; replaces?: EdgeDoc }
  | { ok: false; reason: string };

/** Whether `to` can be reached from `from` along edges (so an edge to → from would close a cycle). */
export function reaches(edges: EdgeDoc[], from: string, to: string): boolean {
  const next = new Map<string, string[]>();
  for (const e of edges) {
    const a = parseRef(e.from).step;
    const b = parseRef(e.to).step;
    let list = next.get(a);
    if (!list) next.set(a, (list = []));
    list.push(b);
  }
  const seen = new Set<string>([from]);
  const stack = [from];
  while (stack.length > 0) {
    const s = stack.pop()!;
    if (s === to) return true;
    for (const n of next.get(s) ?? []) {
      if (!seen.has(n)) {
        seen.add(n);
        stack.push(n);
      }
    }
  }
  return false;
}

/**
 * Decides whether an edge from an output port to an input port can work, and says why not.
 * `to.port === NEW_INPUT` asks for a new input port on a step whose type takes extra inputs;
 * it is named after the source step (made unique) and typed like the source port.
 */
export function canConnect(
  melody: MelodyFile,
  types: ReadonlyMap<string, StepTypeInfo>,
  from: PortRef,
  to: PortRef,
): ConnectResult {
  const src = melody.steps.find((s) => s.id === from.step);
  const dst = melody.steps.find((s) => s.id === to.step);
  if (!src || !dst) return { ok: false, reason: "Both ends must be steps on the canvas." };
  if (src.id === dst.id) return { ok: false, reason: `A step cannot feed itself (${src.id}).` };
  const srcType = types.get(src.type);
  const dstType = types.get(dst.type);
  const out = outputsOf(src, srcType).find((p) => p.name === from.port);
  if (!out) return { ok: false, reason: `${src.id} has no output port "${from.port}".` };
  if (reaches(edgesOf(melody), dst.id, src.id)) {
    return {
      ok: false,
      reason: `${src.id} → ${dst.id} would make a cycle: ${dst.id} already feeds ${src.id}. Melodies cannot loop.`,
    };
  }
  if (to.port === NEW_INPUT) {
    const extra = dstType?.extraInputs;
    if (!extra) return { ok: false, reason: `${dst.type} takes no extra inputs.` };
    if (!accepts(extra, out.ty)) {
      return { ok: false, reason: `${formatRef(from)} is ${out.ty} but ${dst.id}'s extra inputs take ${extra}.` };
    }
    const taken = new Set(inputsOf(dst, dstType).map((p) => p.name));
    const base = /^[A-Za-z0-9_-]+$/.test(src.id) ? src.id.replace(/-/g, "_") : "input";
    let name = base;
    for (let i = 2; taken.has(name) || name === "input"; i++) name = `${base}_${i}`;
    const ty: PortType = extra === "any" ? out.ty : extra;
    return { ok: true, edge: { from: formatRef(from), to: `${dst.id}.${name}` }, newPort: { name, ty } };
  }
  const inp = inputsOf(dst, dstType).find((p) => p.name === to.port);
  if (!inp) return { ok: false, reason: `${dst.id} has no input port "${to.port}".` };
  if (!accepts(inp.ty, out.ty)) {
    return { ok: false, reason: `${formatRef(from)} is ${out.ty} but ${formatRef(to)} takes ${inp.ty}.` };
  }
  const toRef = formatRef(to);
  const fromRef = formatRef(from);
  if (edgesOf(melody).some((e) => e.from === fromRef && e.to === toRef)) {
    return { ok: false, reason: `${fromRef} is already connected to ${toRef}.` };
  }
  const taken = inp.ty !== "list" ? edgesOf(melody).find((e) => e.to === toRef) : undefined;
  // A single-edge input that is fed already: the new edge replaces the old (as n8n and ComfyUI
  // do), and the caller says which it replaced.
  if (taken) return { ok: true, edge: { from: fromRef, to: toRef }, replaces: taken };
  return { ok: true, edge: { from: fromRef, to: toRef } };
}

/** The steps upstream of `stepId` (every step whose output can reach it). */
export function upstreamOf(edges: EdgeDoc[], stepId: string): Set<string> {
  const prev = new Map<string, string[]>();
  for (const e of edges) {
    const a = parseRef(e.from).step;
    const b = parseRef(e.to).step;
    let list = prev.get(b);
    if (!list) prev.set(b, (list = []));
    list.push(a);
  }
  const seen = new Set<string>();
  const stack = [stepId];
  while (stack.length > 0) {
    const s = stack.pop()!;
    for (const p of prev.get(s) ?? []) {
      if (!seen.has(p)) {
        seen.add(p);
        stack.push(p);
      }
    }
  }
  return seen;
}
