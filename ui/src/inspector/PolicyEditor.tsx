/** A step's policy: timeout, retries, priority, optional, fallbacks and its skip condition. */
import type { Condition, Json, Policy, Retry, StepDoc } from "../backend/types";
import { updateStep } from "../model/edits";
import { Field, JsonInput, NumberInput, TextInput } from "./fields";
import { edit, withOptional } from "./edit";

const CONDITION_OPS = ["eq", "ne", "contains", "gt", "lt", "empty", "notEmpty"];

export function PolicyEditor({ step, error }: { step: StepDoc; error: string | null }) {
  const policy = step.policy ?? {};
  const setPolicy = (fn: (p: Policy) => Policy) =>
    edit((m) =>
      updateStep(m, step.id, (s) => {
        const next = fn({ ...(s.policy ?? {}) });
        return withOptional(s, "policy", Object.keys(next).length > 0 ? next : undefined);
      }),
    );
  const setRetry = (key: "max" | "backoffMs", v: number | undefined) =>
    setPolicy((p) => {
      // The wire type spells out every retry field; these are the format's defaults.
      const retry: Retry = { max: 0, backoffMs: 500, factor: 2, maxBackoffMs: 30000, jitter: true, ...(p.retry ?? {}) };
      if (key === "max" && v === undefined) return withOptional(p, "retry", undefined);
      retry[key] = v ?? (key === "max" ? 0 : 500);
      return { ...p, retry };
    });
  const skip = asCondition(policy.skipIf);
  const simpleSkip = policy.skipIf === undefined || policy.skipIf === null || (skip !== null && CONDITION_OPS.includes(skip.op));
  const setSkip = (fn: (c: Condition) => Condition | undefined) =>
    setPolicy((p) => withOptional(p, "skipIf", fn(asCondition(p.skipIf) ?? { op: "eq" }) as Json | undefined));
  return (
    <>
      <h3>Policy</h3>
      {error ? <p className="field-problem">{error}</p> : null}
      <div className="grid2">
        <Field label="Timeout (ms)">
          <NumberInput ariaLabel="Timeout" integer value={policy.timeoutMs ?? undefined} onCommit={(v) => setPolicy((p) => withOptional(p, "timeoutMs", v))} />
        </Field>
        <Field label="Retries">
          <NumberInput ariaLabel="Retries" integer value={policy.retry?.max} onCommit={(v) => setRetry("max", v)} placeholder="0" />
        </Field>
        <Field label="Backoff (ms)">
          <NumberInput ariaLabel="Backoff" integer value={policy.retry?.backoffMs} onCommit={(v) => setRetry("backoffMs", v)} />
        </Field>
        <Field label="Priority">
          <NumberInput ariaLabel="Priority" integer value={policy.priority} onCommit={(v) => setPolicy((p) => withOptional(p, "priority", v))} placeholder="0" />
        </Field>
      </div>
      <label className="check">
        <input
          type="checkbox"
          checked={policy.optional === true}
          onChange={(e) => setPolicy((p) => withOptional(p, "optional", e.target.checked ? true : undefined))}
        />
        Optional: a failure does not fail the run
      </label>
      <Field label="Fallbacks" hint='Tried in order once retries are exhausted: [{"type": "instrument.chat", "config": {"model": "…"}}]'>
        <JsonInput
          value={policy.fallbacks as Json | undefined}
          onCommit={(v) => setPolicy((p) => withOptional(p, "fallbacks", Array.isArray(v) && v.length > 0 ? (v as unknown as Policy["fallbacks"]) : undefined))}
          placeholder="[]"
          rows={3}
        />
      </Field>
      <Field label="Skip if" hint="The step is skipped when this condition holds.">
        {simpleSkip ? (
          <div className="row">
            <select
              aria-label="Skip condition operator"
              value={skip?.op ?? ""}
              onChange={(e) => {
                const op = e.target.value;
                setSkip((c) => (op ? { ...c, op } : undefined));
              }}
            >
              <option value="">never</option>
              {CONDITION_OPS.map((o) => (
                <option key={o}>{o}</option>
              ))}
            </select>
            {skip ? (
              <TextInput
                ariaLabel="Skip condition reference"
                placeholder="reference, e.g. mode"
                value={skip.ref ?? ""}
                onCommit={(v) => setSkip((c) => ({ ...c, ref: v }))}
              />
            ) : null}
            {skip && skip.op !== "empty" && skip.op !== "notEmpty" ? (
              <TextInput
                ariaLabel="Skip condition value"
                placeholder="value"
                value={skip.value === undefined ? "" : typeof skip.value === "string" ? skip.value : JSON.stringify(skip.value)}
                onCommit={(v) => setSkip((c) => ({ ...c, value: parseLoose(v) }))}
              />
            ) : null}
          </div>
        ) : (
          <JsonInput value={policy.skipIf ?? undefined} onCommit={(v) => setPolicy((p) => withOptional(p, "skipIf", v ?? undefined))} />
        )}
      </Field>
    </>
  );
}

/** Reads a skip condition the inspector can edit field by field, or null. */
function asCondition(v: Json | null | undefined): Condition | null {
  if (!v || typeof v !== "object" || Array.isArray(v) || typeof v.op !== "string") return null;
  const c: Condition = { op: v.op };
  if (typeof v.ref === "string") c.ref = v.ref;
  if (v.value !== undefined) c.value = v.value;
  if (v.of !== undefined) c.of = v.of;
  return c;
}

/** Numbers and booleans typed into a text box keep their type; anything else is text. */
function parseLoose(v: string): Json {
  if (v === "true") return true;
  if (v === "false") return false;
  if (v.trim() !== "" && Number.isFinite(Number(v))) return Number(v);
  return v;
}
