/**
 * Types that cross the backend boundary, shaped like docs/app-api.md.
 *
 * These are hand-written only until the Rust side exports them with ts-rs into
 * `./generated/`; then this file re-exports the generated ones and keeps only the
 * editor's own helper types. Nothing outside `src/backend/` declares a wire type.
 */

/** The type of data a port carries (docs/melody-format.md, "Steps"). */
export type PortType = "text" | "number" | "boolean" | "json" | "list" | "file" | "any";

/** A step's family. */
export type StepKind = "instrument" | "operator" | "addon" | "cue";

/** What a step may touch. */
export type Capability = "network" | "files" | "command" | "secrets";

/** Any JSON value: melodies travel as JSON in the file format. */
export type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
export type JsonObject = { [key: string]: Json };

/** A validation problem: `{ path: "steps.plan.config.model", step?: "plan", message }`. */
export interface Problem {
  path: string;
  step?: string;
  message: string;
}

/** How every failed call rejects. */
export interface BackendError {
  message: string;
  problems?: Problem[];
}

/** A model provider the machine can reach (from provider discovery). */
export interface ProviderInfo {
  provider: string;
  baseUrl: string;
  credential: string | null;
  models: string[];
  note: string | null;
}

export interface ProjectInfo {
  root: string;
  melodiesDir: string;
  offline: boolean;
  providers: ProviderInfo[];
  notice?: string;
}

export interface MelodyEntry {
  path: string;
  id: string;
  name: string;
  description: string;
}

/** A melody file as the backend read or wrote it. `melody` is the parsed JSON document. */
export interface MelodyDocument {
  path: string;
  text: string;
  /** Null when the file could not be read as a melody; `problems` then says why. */
  melody: MelodyFile | null;
  hash: string;
  problems: Problem[];
}

/** A port of a step type. */
export interface PortSpec {
  name: string;
  ty: PortType;
  required: boolean;
  description: string;
}

/** The type of a config field (serde `tag = "kind"`). */
export type FieldType =
  | { kind: "string" }
  | { kind: "template" }
  | { kind: "integer" }
  | { kind: "number" }
  | { kind: "boolean" }
  | { kind: "choice"; options: string[] }
  | { kind: "list" }
  | { kind: "object" }
  | { kind: "condition" }
  | { kind: "routes" }
  | { kind: "step"; scope: string[] }
  | { kind: "any" };

export interface ConfigField {
  name: string;
  ty: FieldType;
  required: boolean;
  description: string;
}

/** A step type from the conductor's registry. */
export interface StepTypeInfo {
  name: string;
  kind: StepKind;
  group: string;
  title: string;
  description: string;
  inputs: PortSpec[];
  outputs: PortSpec[];
  /** When set, a step may declare further input ports of types this accepts. */
  extraInputs?: PortType | null;
  /** When set, a step may (and must, without fixed outputs) declare its output ports. */
  extraOutputs?: PortType | null;
  config: ConfigField[];
  capabilities: Capability[];
  /** An instrument that calls no model (shown as "offline" everywhere). */
  offline?: boolean;
  version?: number;
}

export interface Permissions {
  network: string[];
  files: string[];
  commands: string[];
  secrets?: string[];
  trusted: boolean;
}

// ----- The melody file (docs/melody-format.md). Unknown keys survive a round trip. -----

export interface PortDecl {
  type: PortType;
  default?: Json;
  [extra: string]: Json | undefined;
}

export interface Condition {
  op: string;
  ref?: string;
  value?: Json;
  of?: Condition | Condition[];
  [extra: string]: Json | Condition | Condition[] | undefined;
}

export interface RetryPolicy {
  max?: number;
  backoffMs?: number;
  factor?: number;
  maxBackoffMs?: number;
  jitter?: boolean;
}

export interface Fallback {
  type: string;
  config?: JsonObject;
}

export interface Policy {
  timeoutMs?: number;
  retry?: RetryPolicy;
  fallbacks?: Fallback[];
  skipIf?: Condition;
  optional?: boolean;
  priority?: number;
  estimateMs?: number;
  [extra: string]: Json | RetryPolicy | Fallback[] | Condition | undefined;
}

export interface StepDoc {
  id: string;
  kind: StepKind;
  type: string;
  name?: string;
  description?: string;
  inputs?: Record<string, PortDecl>;
  outputs?: Record<string, PortDecl>;
  config?: JsonObject;
  policy?: Policy;
  capabilities?: Capability[];
}

export interface EdgeDoc {
  from: string;
  to: string;
}

export interface InputDecl {
  type: "string" | "number" | "boolean" | "list" | "json";
  description?: string;
  default?: Json;
}

export interface Point {
  x: number;
  y: number;
}

/** A sticky note on the canvas. Kept in `layout`, never read by the conductor. */
export interface CommentDoc {
  id: string;
  x: number;
  y: number;
  width: number;
  height: number;
  text: string;
}

/** A labelled box around steps. Kept in `layout`, never read by the conductor. */
export interface GroupDoc {
  id: string;
  x: number;
  y: number;
  width: number;
  height: number;
  label: string;
}

export interface LayoutDoc {
  steps?: Record<string, Point>;
  comments?: CommentDoc[];
  groups?: GroupDoc[];
  [extra: string]: unknown;
}

export interface MelodyFile {
  formatVersion: number;
  melody: { id: string; name: string; description?: string; version?: string; author?: string; tags?: string[] };
  inputs?: Record<string, InputDecl>;
  settings?: JsonObject;
  steps: StepDoc[];
  edges: EdgeDoc[];
  layout?: LayoutDoc;
  [extra: string]: unknown;
}

// ----- Runs -----

export interface Usage {
  inputTokens: number;
  outputTokens: number;
  estimated: boolean;
  costUsd?: number | null;
}

export type RunStatus = "succeeded" | "failed" | "cancelled";
export type OutputOrigin = "played" | "cached" | "given";

export interface Totals {
  steps: number;
  succeeded: number;
  failed: number;
  skipped: number;
  cancelled: number;
  attempts: number;
  elapsedMs: number;
  inputTokens: number;
  outputTokens: number;
  tokensEstimated: boolean;
  costUsd: number;
}

/** The conductor's closed event enum, as JSON (`{"type": "stepStarted", ...}`). */
export type RunEvent =
  | { type: "runStarted"; runId: string; melodyId: string; steps: number; maxParallel: number; offline: boolean }
  | { type: "runPaused" }
  | { type: "runResumed" }
  | { type: "runFinished"; status: RunStatus; totals: Totals }
  | { type: "stepQueued"; step: string; item: number | null; inputs: JsonObject }
  | { type: "stepStarted"; step: string; item: number | null; attempt: number; typeName: string; offline: boolean }
  | { type: "stepProgress"; step: string; text: string; tokens: number; bytes: number }
  | { type: "stepItemFinished"; step: string; item: number; ok: boolean; error: string | null; done: number; total: number }
  | { type: "stepOutput"; step: string; outputs: JsonObject }
  | { type: "stepRetrying"; step: string; item: number | null; nextAttempt: number; delayMs: number; error: string }
  | { type: "stepFellBack"; step: string; item: number | null; fallback: number; typeName: string; error: string }
  | { type: "stepSkipped"; step: string; reason: string }
  | { type: "stepFailed"; step: string; error: string; optional: boolean }
  | { type: "stepCancelled"; step: string }
  | {
      type: "stepSucceeded";
      step: string;
      elapsedMs: number;
      attempts: number;
      usage: Usage | null;
      origin: OutputOrigin;
      cacheKey: string | null;
    }
  | { type: "stepPrompt"; step: string; item: number | null; attempt: number; system: string | null; prompt: string }
  | { type: "dataSent"; fromStep: string; fromPort: string; toStep: string; toPort: string; bytes: number }
  | { type: "bottleneck"; step: string; kind: string; message: string; advice: string };

/** One event with its time since the run started. */
export type EventRecord = RunEvent & { atMs: number };

export interface RunEventsPayload {
  runId: string;
  events: EventRecord[];
}

export interface FileChangedPayload {
  path: string;
  hash: string;
}
