/**
 * A melody's run inputs as a form, one field per declared input in the widget its type wants
 * (text, a number, a checkbox for a boolean, JSON for a list or an object), used by the Run
 * dialog and by "Fork with edits". The Run dialog remembers the last values per melody.
 */
import type { InputDecl, Json, JsonObject } from "../backend/types";

/** What the user typed, per input: text for every type but booleans. */
export type Drafts = Record<string, string | boolean>;

/** The draft a value shows as. */
function draftOf(decl: InputDecl, value: Json | undefined): string | boolean {
  if (decl.type === "boolean") return value === true;
  if (value === undefined || value === null) return "";
  return typeof value === "string" && decl.type === "string" ? value : typeof value === "string" ? value : JSON.stringify(value);
}

/** The form's first drafts: `values` where given, else the declared defaults. */
export function initialDrafts(inputs: Readonly<Record<string, InputDecl>>, values: Readonly<JsonObject> = {}): Drafts {
  return Object.fromEntries(Object.entries(inputs).map(([k, d]) => [k, draftOf(d, values[k] !== undefined ? values[k] : (d.default ?? undefined))]));
}

/** The drafts as run input values, or the first problem (naming the input). */
export function parseDrafts(inputs: Readonly<Record<string, InputDecl>>, drafts: Drafts): { values: JsonObject } | { error: string } {
  const values: JsonObject = {};
  for (const [name, decl] of Object.entries(inputs)) {
    const raw = drafts[name];
    if (decl.type === "boolean") {
      values[name] = raw === true;
      continue;
    }
    const text = typeof raw === "string" ? raw : "";
    if (text === "") {
      if (decl.default === undefined) return { error: `${name} is required.` };
      continue;
    }
    if (decl.type === "string") {
      values[name] = text;
      continue;
    }
    let parsed: Json;
    try {
      parsed = JSON.parse(text) as Json;
    } catch {
      return { error: `${name} must be ${decl.type === "number" ? "a number" : decl.type === "list" ? "a JSON list, like [\"a\", \"b\"]" : "JSON"}.` };
    }
    if (decl.type === "number" && typeof parsed !== "number") return { error: `${name} must be a number.` };
    if (decl.type === "list" && !Array.isArray(parsed)) return { error: `${name} must be a JSON list, like ["a", "b"].` };
    values[name] = parsed;
  }
  return { values };
}

export function RunInputsForm({
  inputs,
  drafts,
  onChange,
}: {
  inputs: Readonly<Record<string, InputDecl>>;
  drafts: Drafts;
  onChange: (drafts: Drafts) => void;
}) {
  const entries = Object.entries(inputs);
  if (entries.length === 0) return <p className="muted">This melody takes no inputs.</p>;
  return (
    <>
      {entries.map(([name, decl]) => {
        const set = (v: string | boolean) => onChange({ ...drafts, [name]: v });
        const label = `run input ${name}`;
        const text = typeof drafts[name] === "string" ? (drafts[name] as string) : "";
        return (
          <label key={name} className={`field${decl.type === "boolean" ? " check" : ""}`}>
            {decl.type === "boolean" ? (
              <>
                <input type="checkbox" aria-label={label} checked={drafts[name] === true} onChange={(e) => set(e.target.checked)} />
                <span className="field-label">
                  {name} <span className="muted small">(yes or no)</span>
                </span>
              </>
            ) : (
              <>
                <span className="field-label">
                  {name} <span className="muted small">({decl.type === "json" ? "JSON" : decl.type === "list" ? "a JSON list" : decl.type})</span>
                </span>
                {decl.type === "string" ? (
                  <textarea aria-label={label} rows={2} value={text} onChange={(e) => set(e.target.value)} />
                ) : decl.type === "number" ? (
                  <input aria-label={label} inputMode="decimal" value={text} onChange={(e) => set(e.target.value)} placeholder={decl.default === undefined ? "a number" : String(decl.default)} />
                ) : (
                  <textarea className="mono" aria-label={label} rows={3} value={text} spellCheck={false} onChange={(e) => set(e.target.value)} />
                )}
              </>
            )}
            {decl.description ? <span className="field-hint">{decl.description}</span> : null}
          </label>
        );
      })}
    </>
  );
}

const remembered = new Map<string, JsonObject>();
const KEY = (melodyId: string) => `symphony.lastInputs.${melodyId}`;

/** The inputs the last run of this melody from this app was started with, if any. */
export function lastInputs(melodyId: string): JsonObject {
  const inMemory = remembered.get(melodyId);
  if (inMemory) return inMemory;
  try {
    const text = localStorage.getItem(KEY(melodyId));
    const parsed: unknown = text ? JSON.parse(text) : null;
    return parsed && typeof parsed === "object" && !Array.isArray(parsed) ? (parsed as JsonObject) : {};
  } catch {
    return {};
  }
}

/** Remembers the inputs a run of this melody was started with, for the next Run dialog. */
export function rememberInputs(melodyId: string, values: JsonObject): void {
  remembered.set(melodyId, values);
  try {
    localStorage.setItem(KEY(melodyId), JSON.stringify(values));
  } catch {
    // Storage may be full or off: the in-memory copy still serves this session.
  }
}
