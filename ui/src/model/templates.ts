/**
 * `{{reference}}` holes in templates, and what a step can see (docs/melody-format.md,
 * "References, templates and conditions"): its own input ports, the run inputs (`goal` or
 * `input.goal`), and outputs of steps upstream of it (`plan.output`), plus any names a
 * surrounding cue adds (a map body's `item` and `index`).
 */
import { edgesOf } from "./layout";
import type { MelodyFile, StepDoc, StepTypeInfo } from "../backend/types";
import { inputsOf, outputsOf, upstreamOf } from "./ports";

export interface Hole {
  /** Offset of `{{` in the text. */
  start: number;
  /** Offset just after `}}`. */
  end: number;
  ref: string;
}

const HOLE = /\{\{\s*([^{}]*?)\s*\}\}/g;

export function holes(text: string): Hole[] {
  const out: Hole[] = [];
  for (const m of text.matchAll(HOLE)) {
    out.push({ start: m.index, end: m.index + m[0].length, ref: m[1] ?? "" });
  }
  return out;
}

export interface Scope {
  ports: Set<string>;
  runInputs: Set<string>;
  upstream: Set<string>;
  extra: Set<string>;
  /** The output ports of every step whose type is known, by step id. */
  outputs: ReadonlyMap<string, readonly string[]>;
}

export function scopeOf(
  melody: MelodyFile,
  step: StepDoc,
  type: StepTypeInfo | undefined,
  extra: readonly string[] = [],
  types: ReadonlyMap<string, StepTypeInfo> = new Map(),
): Scope {
  const outputs = new Map<string, string[]>();
  for (const s of melody.steps) {
    const t = types.get(s.type);
    if (t) outputs.set(s.id, outputsOf(s, t).map((p) => p.name));
  }
  return {
    ports: new Set(inputsOf(step, type).map((p) => p.name)),
    runInputs: new Set(Object.keys(melody.inputs ?? {})),
    upstream: upstreamOf(edgesOf(melody), step.id),
    extra: new Set(extra),
    outputs,
  };
}

/** Edits (insert, delete, replace) that turn `a` into `b`. */
function distance(a: string, b: string): number {
  let row = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const next = [i];
    for (let j = 1; j <= b.length; j++) {
      next[j] = Math.min(row[j]! + 1, next[j - 1]! + 1, row[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
    }
    row = next;
  }
  return row[b.length]!;
}

/** The candidate `word` was most likely meant to be (as the validator's "did you mean"), or null. */
export function closest(word: string, candidates: readonly string[]): string | null {
  let best: string | null = null;
  let bestD = Infinity;
  for (const c of candidates) {
    const d = distance(word.toLowerCase(), c.toLowerCase());
    if (d < bestD) [best, bestD] = [c, d];
  }
  return best !== null && bestD <= Math.max(1, Math.floor(word.length / 3)) ? best : null;
}

/** Why `ref` is not visible in `scope`, or null when it is. */
export function checkRef(ref: string, scope: Scope): string | null {
  if (!ref) return "An empty {{}} hole names nothing.";
  const parts = ref.split(".");
  const root = parts[0]!;
  if (!/^[A-Za-z0-9_-]+$/.test(root) || parts.some((p) => p === "")) {
    return `"${ref}" is not a reference: holes hold one dotted name, no expressions.`;
  }
  if (scope.ports.has(root) && parts.length > 1) {
    // An input port named after a step hides it: `spec.output` reads a field inside what the
    // port received (the validator says the same, in the same cases).
    const outs = scope.outputs.get(root);
    const field = parts[1]!;
    const meant = outs ? (outs.includes(field) ? field : closest(field, outs)) : null;
    if (meant) {
      return `"${root}" here is this step's input port (named after the step ${root}), so this reads a field "${field}" inside what it received, not the step's output "${meant}". Write {{${root}}} for the value the port received.`;
    }
    return null;
  }
  if (scope.ports.has(root) || scope.extra.has(root)) return null;
  if (root === "input") {
    const name = parts[1];
    if (name && scope.runInputs.has(name)) return null;
    return `input.${name ?? ""} is not a run input of this melody.`;
  }
  if (scope.runInputs.has(root)) return null;
  if (scope.upstream.has(root)) {
    if (parts.length < 2) return `"${root}" is a step; name one of its outputs, e.g. {{${root}.output}}.`;
    const outs = scope.outputs.get(root);
    const port = parts[1]!;
    if (outs && !outs.includes(port)) {
      const meant = closest(port, outs);
      return `step ${root} has no output "${port}"${meant ? `; did you mean {{${[root, meant, ...parts.slice(2)].join(".")}}}?` : ` (it has ${outs.map((o) => `"${o}"`).join(", ") || "none"}).`}`;
    }
    return null;
  }
  return `"${root}" is not visible here: not an input port, a run input or an upstream step.`;
}

export interface TemplateIssue {
  hole: Hole;
  message: string;
}

export function checkTemplate(text: string, scope: Scope): TemplateIssue[] {
  const issues: TemplateIssue[] = [];
  for (const hole of holes(text)) {
    const message = checkRef(hole.ref, scope);
    if (message) issues.push({ hole, message });
  }
  return issues;
}
