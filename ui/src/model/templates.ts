/**
 * `{{reference}}` holes in templates, and what a step can see (docs/melody-format.md,
 * "References, templates and conditions"): its own input ports, the run inputs (`goal` or
 * `input.goal`), and outputs of steps upstream of it (`plan.output`), plus any names a
 * surrounding cue adds (a map body's `item` and `index`).
 */
import { edgesOf } from "./layout";
import type { MelodyFile, StepDoc, StepTypeInfo } from "../backend/types";
import { inputsOf, upstreamOf } from "./ports";

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
}

export function scopeOf(
  melody: MelodyFile,
  step: StepDoc,
  type: StepTypeInfo | undefined,
  extra: readonly string[] = [],
): Scope {
  return {
    ports: new Set(inputsOf(step, type).map((p) => p.name)),
    runInputs: new Set(Object.keys(melody.inputs ?? {})),
    upstream: upstreamOf(edgesOf(melody), step.id),
    extra: new Set(extra),
  };
}

/** Why `ref` is not visible in `scope`, or null when it is. */
export function checkRef(ref: string, scope: Scope): string | null {
  if (!ref) return "An empty {{}} hole names nothing.";
  const parts = ref.split(".");
  const root = parts[0]!;
  if (!/^[A-Za-z0-9_-]+$/.test(root) || parts.some((p) => p === "")) {
    return `"${ref}" is not a reference: holes hold one dotted name, no expressions.`;
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
