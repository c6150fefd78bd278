/**
 * The inspector: a form for the selected step generated from its type's config fields and
 * ports, its policy, and its problems; or the melody's own details when nothing is selected.
 */
import { useMemo, useState } from "react";
import type {
  Capability,
  Condition,
  ConfigField,
  InputDecl,
  Json,
  MelodyFile,
  Policy,
  Retry,
  PortType,
  StepDoc,
  StepTypeInfo,
} from "../backend/types";
import { useDoc, splitIds } from "../store/doc";
import { useApp } from "../store/app";
import { usePins } from "../store/pins";
import { useRun } from "../store/run";
import { unpinOutput } from "../board/actions";
import { changeType, removePort, renameStep, setConfig, updateStep } from "../model/edits";
import { ID_PATTERN, idFollowsName, melodyIdFrom, uniqueMelodyId } from "../model/ids";
import { scopeOf } from "../model/templates";
import { Field, JsonInput, NumberInput, TextInput } from "./fields";
import { PromptEditor } from "./PromptEditor";
import { duplicateSelection, groupSelection, takenMelodyIds } from "../app/actions";

const PORT_TYPES: PortType[] = ["text", "number", "boolean", "json", "list", "file", "any"];
const CAPABILITIES: Capability[] = ["network", "files", "command", "secrets"];
const CONDITION_OPS = ["eq", "ne", "contains", "gt", "lt", "empty", "notEmpty"];

export function Inspector() {
  const selection = useDoc((s) => s.selection);
  const edges = useDoc((s) => s.edges);
  const ids = useMemo(() => splitIds(selection, edges), [selection, edges]);
  if (selection.size === 0) return <MelodyInspector />;
  if (selection.size === 1 && ids.steps.size === 1) {
    const [id] = ids.steps;
    return <StepInspector key={id} id={id!} />;
  }
  return (
    <aside className="inspector">
      <h2>{selection.size} selected</h2>
      <p className="muted small">
        {ids.steps.size} steps, {ids.edges.size} edges, {ids.comments.size} notes, {ids.groups.size} groups.
      </p>
      <div className="row">
        <button type="button" onClick={() => useDoc.getState().deleteSelection()}>
          Delete
        </button>
        <button type="button" onClick={() => duplicateSelection()} disabled={ids.steps.size === 0}>
          Duplicate
        </button>
        <button type="button" onClick={() => groupSelection({ x: 0, y: 0 })} disabled={ids.steps.size === 0}>
          Group
        </button>
      </div>
    </aside>
  );
}

function edit(fn: (m: MelodyFile) => MelodyFile) {
  useDoc.getState().edit(fn);
}

function StepInspector({ id }: { id: string }) {
  const step = useDoc((s) => s.melody?.steps.find((x) => x.id === id));
  const melody = useDoc((s) => s.melody);
  const types = useDoc((s) => s.types);
  const problems = useDoc((s) => s.problemsByStep[id]);
  const providers = useApp((s) => s.project?.providers);
  const offline = useApp((s) => s.project?.offline ?? false);
  const type = step ? types.get(step.type) : undefined;
  const scope = useMemo(() => (melody && step ? scopeOf(melody, step, type, [], types) : null), [melody, step, type, types]);
  if (!step || !melody || !scope) return null;
  const taken = new Set(melody.steps.map((s) => s.id));
  const problemFor = (prefix: string) =>
    problems
      ?.filter((p) => p.path.includes(prefix))
      .map((p) => p.message)
      .join("; ") || null;
  const models = (providers ?? []).flatMap((p) => p.models.map((m) => ({ provider: p.provider, model: m })));
  const unknownKeys = Object.keys(step.config ?? {}).filter((k) => !type?.config.some((f) => f.name === k));
  return (
    <aside className="inspector" aria-label="Inspector">
      <div className={`insp-kind kind-${step.kind}`}>{step.kind}</div>
      <h2>{step.name || step.id}</h2>
      <p className="muted small">{type ? `${type.title} (${type.name}) — ${type.description}` : `Unknown step type ${step.type}`}</p>
      {step.kind === "instrument" ? <ChangeType step={step} /> : null}
      <PinNotice step={step.id} />
      {problems && problems.length > 0 ? (
        <ul className="insp-problems">
          {problems.map((p, i) => (
            <li key={i}>
              <code>{p.path}</code> {p.message}
            </li>
          ))}
        </ul>
      ) : null}

      <h3>Step</h3>
      <Field label="Id" hint="Letters, digits, _ and -; edges and references follow a rename.">
        <TextInput
          ariaLabel="Step id"
          value={step.id}
          validate={(v) =>
            !ID_PATTERN.test(v) ? "Letters, digits, _ and - only." : v === "input" ? "\"input\" is reserved." : taken.has(v) ? `${v} is taken.` : null
          }
          onCommit={(v) => {
            useDoc.getState().edit((m) => renameStep(m, step.id, v), [v]);
          }}
        />
      </Field>
      <Field label="Name">
        <TextInput
          ariaLabel="Step name"
          value={step.name ?? ""}
          placeholder={step.id}
          onCommit={(v) => edit((m) => updateStep(m, id, (s) => withOptional(s, "name", v || undefined)))}
        />
      </Field>
      <Field label="Description">
        <TextInput
          ariaLabel="Step description"
          value={step.description ?? ""}
          onCommit={(v) => edit((m) => updateStep(m, id, (s) => withOptional(s, "description", v || undefined)))}
        />
      </Field>

      {type && type.config.length > 0 ? <h3>Configuration</h3> : null}
      {type?.config.map((f) => (
        <ConfigFieldEditor
          key={f.name}
          field={f}
          step={step}
          scope={scope}
          models={models}
          offline={offline}
          error={problemFor(`config.${f.name}`)}
        />
      ))}
      {unknownKeys.map((k) => (
        <Field key={k} label={k} error={`"${k}" is not a setting of ${step.type}.`}>
          <JsonInput value={step.config?.[k]} onCommit={(v) => edit((m) => setConfig(m, id, k, v))} />
        </Field>
      ))}

      <PortsEditor step={step} type={type} />
      <PolicyEditor step={step} error={problemFor("policy")} />
      <CapabilitiesEditor step={step} type={type} />
    </aside>
  );
}

/**
 * "Change type…" for an instrument: the same step played by another kind of instrument (an
 * offline stand-in by a real model, a model by a coding agent). Its prompt, ports and edges
 * stay; what the new type cannot take is listed in a notice.
 */
function ChangeType({ step }: { step: StepDoc }) {
  const types = useApp((s) => s.types);
  const instruments = useMemo(() => types.filter((t) => t.kind === "instrument"), [types]);
  return (
    <label className="field change-type">
      <span className="field-label">Played by</span>
      <select
        aria-label="Change type"
        value={step.type}
        onChange={(e) => {
          const to = instruments.find((t) => t.name === e.target.value);
          if (!to) return;
          let dropped: string[] = [];
          useDoc.getState().edit((m) => {
            const r = changeType(m, step.id, to);
            dropped = r.dropped;
            return r.melody;
          });
          useApp
            .getState()
            .notify(`${step.id} is now ${to.title}${dropped.length ? `; not kept: ${dropped.join(", ")}` : "; its prompt, ports and edges are kept"}.`);
        }}
      >
        {instruments.map((t) => (
          <option key={t.name} value={t.name}>
            {t.title}
          </option>
        ))}
      </select>
    </label>
  );
}

/**
 * The models the backend found (hosted providers whose key is kept, a local Ollama), to pick
 * one with the provider settings it needs; free text stays possible in the field above. A chat
 * step also offers "Set up a provider…".
 */
function ModelPicker({ step }: { step: StepDoc }) {
  const providers = useApp((s) => s.project?.providers);
  const chat = step.type === "instrument.chat";
  const offers = providers ?? [];
  const pick = (value: string) => {
    const [index, model] = [Number(value.slice(0, value.indexOf(":"))), value.slice(value.indexOf(":") + 1)];
    const offer = offers[index];
    if (!offer || !model) return;
    edit((m) => {
      let next = setConfig(m, step.id, "model", model);
      if (chat) {
        const defaultUrl = offer.provider === "anthropic" ? "https://api.anthropic.com" : "https://api.openai.com/v1";
        next = setConfig(next, step.id, "provider", offer.provider === "anthropic" ? "anthropic" : undefined);
        next = setConfig(next, step.id, "baseUrl", offer.baseUrl.replace(/\/+$/, "") === defaultUrl ? undefined : offer.baseUrl);
        next = setConfig(next, step.id, "credential", offer.credential ?? undefined);
      }
      return next;
    });
  };
  return (
    <div className="row model-picker">
      {offers.some((o) => o.models.length > 0) ? (
        <select aria-label="Pick a model" value="" onChange={(e) => pick(e.target.value)}>
          <option value="">Pick a model found on this machine…</option>
          {offers.map((o, i) =>
            o.models.length > 0 ? (
              <optgroup key={`${o.provider}-${o.baseUrl}`} label={`${o.provider} (${o.baseUrl})`}>
                {o.models.map((m) => (
                  <option key={m} value={`${i}:${m}`}>
                    {m}
                  </option>
                ))}
              </optgroup>
            ) : null,
          )}
        </select>
      ) : (
        <span className="muted small">No model found on this machine.</span>
      )}
      {chat ? (
        <button type="button" className="link" onClick={() => useApp.getState().open({ kind: "provider", step: step.id })}>
          Set up a provider…
        </button>
      ) : null}
    </div>
  );
}

/** A pinned step says so where it is edited, with Unpin: its settings do not play until then. */
function PinNotice({ step }: { step: string }) {
  const pin = usePins((s) => s.pinned[step]);
  const stale = useRun((s) => pin !== undefined && s.board.warnings.some((w) => w.step === step && w.kind === "pinnedStale"));
  if (!pin) return null;
  return (
    <div className={`notice pin-notice${stale ? " warn" : ""}`} data-testid="pin-notice">
      <p>
        <strong>Pinned</strong>: runs reuse its output{pin.runId ? <> from run <code>{pin.runId}</code></> : null} instead of playing it, so edits
        here change nothing until it is unpinned.
        {stale ? " In the run on the board it got other inputs than that output was made from: the output is stale." : ""}
      </p>
      <button type="button" onClick={() => void unpinOutput(pin.melodyId, step)}>
        Unpin
      </button>
    </div>
  );
}

function withOptional<T extends object, K extends keyof T>(obj: T, key: K, value: T[K] | undefined): T {
  const next = { ...obj };
  if (value === undefined) delete next[key];
  else next[key] = value;
  return next;
}

function ConfigFieldEditor({
  field,
  step,
  scope,
  models,
  offline,
  error,
}: {
  field: ConfigField;
  step: StepDoc;
  scope: ReturnType<typeof scopeOf>;
  models: { provider: string; model: string }[];
  offline: boolean;
  error: string | null;
}) {
  const value = step.config?.[field.name];
  const commit = (v: Json | undefined) => edit((m) => setConfig(m, step.id, field.name, v));
  const label = `${field.name}${field.required ? " *" : ""}`;
  const ty = field.ty;
  switch (ty.kind) {
    case "template":
      return (
        <Field label={label} hint={field.description} error={error}>
          <PromptEditor
            ariaLabel={`${field.name} template`}
            value={typeof value === "string" ? value : ""}
            scope={scope}
            singleLine={field.singleLine === true}
            onCommit={(v) => commit(v === "" ? undefined : v)}
          />
        </Field>
      );
    case "string": {
      const isModel = field.name === "model";
      const listId = isModel ? `models-${step.id}` : undefined;
      return (
        <Field
          label={label}
          hint={isModel && offline ? `${field.description} No model provider is configured: the step plays offline until one is.` : field.description}
          error={error}
        >
          <TextInput ariaLabel={field.name} value={typeof value === "string" ? value : ""} list={listId} onCommit={(v) => commit(v === "" ? undefined : v)} />
          {isModel ? (
            <>
              <datalist id={listId}>
                {models.map((m) => (
                  <option key={`${m.provider}/${m.model}`} value={m.model}>
                    {m.provider}
                  </option>
                ))}
              </datalist>
              <ModelPicker step={step} />
            </>
          ) : null}
        </Field>
      );
    }
    case "integer":
    case "number":
      return (
        <Field label={label} hint={field.description} error={error}>
          <NumberInput ariaLabel={field.name} integer={ty.kind === "integer"} value={typeof value === "number" ? value : undefined} onCommit={commit} />
        </Field>
      );
    case "boolean":
      return (
        <Field label={label} hint={field.description} error={error}>
          <select
            aria-label={field.name}
            value={value === true ? "true" : value === false ? "false" : ""}
            onChange={(e) => commit(e.target.value === "" ? undefined : e.target.value === "true")}
          >
            <option value="">default</option>
            <option value="true">true</option>
            <option value="false">false</option>
          </select>
        </Field>
      );
    case "choice":
      return (
        <Field label={label} hint={field.description} error={error}>
          <select aria-label={field.name} value={typeof value === "string" ? value : ""} onChange={(e) => commit(e.target.value || undefined)}>
            <option value="">default</option>
            {ty.options.map((o) => (
              <option key={o} value={o}>
                {o}
              </option>
            ))}
          </select>
        </Field>
      );
    default:
      return (
        <Field label={label} hint={`${field.description} (JSON${ty.kind === "step" ? `; the body also sees ${ty.scope.map((s) => `{{${s}}}`).join(", ")}` : ""})`} error={error}>
          <JsonInput ariaLabel={field.name} value={value} onCommit={commit} rows={ty.kind === "step" || ty.kind === "routes" ? 6 : 3} />
        </Field>
      );
  }
}

function PortsEditor({ step, type }: { step: StepDoc; type: StepTypeInfo | undefined }) {
  const data = useDoc((s) => s.nodes.find((n) => n.id === step.id));
  if (!data || data.type !== "step") return null;
  const setPorts = (side: "inputs" | "outputs", fn: (p: NonNullable<StepDoc["inputs"]>) => NonNullable<StepDoc["inputs"]>) =>
    edit((m) =>
      updateStep(m, step.id, (s) => {
        const ports = fn({ ...(s[side] ?? {}) });
        return withOptional(s, side, Object.keys(ports).length > 0 ? ports : undefined);
      }),
    );
  const addPort = (side: "inputs" | "outputs", name: string, ty: PortType) => {
    if (!ID_PATTERN.test(name)) {
      useApp.getState().notify("A port name is letters, digits, _ and -.", "error");
      return;
    }
    const taken = (side === "inputs" ? data.data.ins : data.data.outs).some((p) => p.name === name);
    if (taken) {
      useApp.getState().notify(`${step.id} already has an ${side === "inputs" ? "input" : "output"} port named ${name}.`, "error");
      return;
    }
    setPorts(side, (p) => ({ ...p, [name]: { type: ty } }));
  };
  return (
    <>
      <h3>Ports</h3>
      <table className="ports-table">
        <tbody>
          {data.data.ins.map((p) => (
            <tr key={`in-${p.name}`}>
              <td>in</td>
              <td>
                <code>{p.name}</code>
                {p.required ? " *" : ""}
              </td>
              <td>
                {p.extra ? (
                  <select
                    aria-label={`type of input ${p.name}`}
                    value={p.ty}
                    onChange={(e) => setPorts("inputs", (ports) => ({ ...ports, [p.name]: { ...ports[p.name], type: e.target.value as PortType } }))}
                  >
                    {PORT_TYPES.map((t) => (
                      <option key={t}>{t}</option>
                    ))}
                  </select>
                ) : (
                  p.ty
                )}
              </td>
              <td>
                {p.extra ? (
                  <button
                    type="button"
                    className="link"
                    onClick={() =>
edit((m) => removePort(m, step.id, "in", p.name))
                    }
                  >
                    remove
                  </button>
                ) : null}
              </td>
            </tr>
          ))}
          {data.data.outs.map((p) => (
            <tr key={`out-${p.name}`}>
              <td>out</td>
              <td>
                <code>{p.name}</code>
              </td>
              <td>{p.ty}</td>
              <td>
                {p.extra ? (
                  <button
                    type="button"
                    className="link"
                    onClick={() =>
edit((m) => removePort(m, step.id, "out", p.name))
                    }
                  >
                    remove
                  </button>
                ) : null}
              </td>
            </tr>
          ))}
        </tbody>
      </table>
      {type?.extraInputs ? <NewPortForm side="input" onAdd={(name) => addPort("inputs", name, type.extraInputs ?? "any")} /> : null}
      {type?.extraOutputs ? <NewPortForm side="output" onAdd={(name) => addPort("outputs", name, type.extraOutputs ?? "any")} /> : null}
    </>
  );
}

function PolicyEditor({ step, error }: { step: StepDoc; error: string | null }) {
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

function CapabilitiesEditor({ step, type }: { step: StepDoc; type: StepTypeInfo | undefined }) {
  const have = new Set(step.capabilities ?? []);
  const needed = new Set(type?.capabilities ?? []);
  return (
    <>
      <h3>Capabilities</h3>
      <div className="row wrap">
        {CAPABILITIES.map((c) => (
          <label key={c} className="check" title={needed.has(c) ? `${step.type} needs ${c}` : ""}>
            <input
              type="checkbox"
              checked={have.has(c)}
              disabled={needed.has(c) && have.has(c)}
              onChange={(e) =>
                edit((m) =>
                  updateStep(m, step.id, (s) => {
                    const caps = new Set(s.capabilities ?? []);
                    if (e.target.checked) caps.add(c);
                    else caps.delete(c);
                    return withOptional(s, "capabilities", caps.size > 0 ? CAPABILITIES.filter((x) => caps.has(x)) : undefined);
                  }),
                )
              }
            />
            {c}
          </label>
        ))}
      </div>
    </>
  );
}

function MelodyInspector() {
  const melody = useDoc((s) => s.melody);
  const path = useDoc((s) => s.path);
  const [newInput, setNewInput] = useState("");
  if (!melody) return null;
  const meta = melody.melody;
  const setMeta = (key: "name" | "description" | "id", v: string) =>
    edit((m) => {
      const meta = withOptional({ ...m.melody }, key, v || (key === "description" ? undefined : m.melody[key]));
      // A melody whose id was never chosen takes its id from its new name (and a free one).
      if (key === "name" && v && idFollowsName(m.melody.id, m.melody.name, path)) {
        meta.id = uniqueMelodyId(melodyIdFrom(v), takenMelodyIds(path));
      }
      return { ...m, melody: meta };
    });
  const inputs = melody.inputs ?? {};
  const setInputs = (fn: (i: Record<string, InputDecl>) => Record<string, InputDecl>) =>
    edit((m) => withOptional(m, "inputs", (() => { const next = fn({ ...(m.inputs ?? {}) }); return Object.keys(next).length > 0 ? next : undefined; })()));
  return (
    <aside className="inspector" aria-label="Inspector">
      <div className="insp-kind">melody</div>
      <h2>{meta.name}</h2>
      <Field label="Name">
        <TextInput ariaLabel="Melody name" value={meta.name} onCommit={(v) => setMeta("name", v)} />
      </Field>
      <Field
        label="Id"
        hint={
          idFollowsName(meta.id, meta.name, path)
            ? "Follows the name until you set it. Runs, history and pins are kept under this id."
            : "Letters, digits, _ and -. Runs, history and pins are kept under this id."
        }
      >
        <TextInput
          ariaLabel="Melody id"
          value={meta.id}
          validate={(v) =>
            !ID_PATTERN.test(v) ? "Letters, digits, _ and - only." : takenMelodyIds(path).has(v) ? `Another melody in this project is ${v}: its runs and pins would mix with this one's.` : null
          }
          onCommit={(v) => setMeta("id", v)}
        />
      </Field>
      <Field label="Description">
        <TextInput ariaLabel="Melody description" value={meta.description ?? ""} onCommit={(v) => setMeta("description", v)} />
      </Field>
      <h3>Run inputs</h3>
      {Object.entries(inputs).map(([name, decl]) => (
        <div key={name} className="input-decl">
          <div className="row">
            <code>{name}</code>
            <select
              aria-label={`type of run input ${name}`}
              value={decl.type}
              onChange={(e) => setInputs((i) => ({ ...i, [name]: { ...decl, type: e.target.value as InputDecl["type"] } }))}
            >
              {["string", "number", "boolean", "list", "json"].map((t) => (
                <option key={t}>{t}</option>
              ))}
            </select>
            <button
              type="button"
              className="link"
              onClick={() =>
                setInputs((i) => {
                  const next = { ...i };
                  delete next[name];
                  return next;
                })
              }
            >
              remove
            </button>
          </div>
          <TextInput
            ariaLabel={`description of run input ${name}`}
            placeholder="description"
            value={decl.description ?? ""}
            onCommit={(v) => setInputs((i) => ({ ...i, [name]: withOptional({ ...decl }, "description", v || undefined) }))}
          />
        </div>
      ))}
      <form
        className="row"
        onSubmit={(e) => {
          e.preventDefault();
          if (!ID_PATTERN.test(newInput) || Object.hasOwn(inputs, newInput)) return;
          setInputs((i) => ({ ...i, [newInput]: { type: "string" } }));
          setNewInput("");
        }}
      >
        <input aria-label="New run input name" placeholder="new input name" value={newInput} onChange={(e) => setNewInput(e.target.value)} />
        <button type="submit" disabled={!ID_PATTERN.test(newInput) || Object.hasOwn(inputs, newInput)}>
          Add input
        </button>
      </form>
      {Object.hasOwn(inputs, newInput) ? (
        <p className="field-problem" role="alert">
          The melody already has a run input named {newInput}: adding it again would replace it. Pick another name.
        </p>
      ) : newInput && !ID_PATTERN.test(newInput) ? (
        <p className="field-problem">A run input's name is letters, digits, _ and -.</p>
      ) : null}
      <p className="muted small">Select a step to edit it. Drag from an output (right) to an input (left) to connect.</p>
    </aside>
  );
}

/** A name field and a button that declare a new input or output port. */
function NewPortForm({ side, onAdd }: { side: "input" | "output"; onAdd: (name: string) => void }) {
  const [name, setName] = useState("");
  return (
    <form
      className="row"
      onSubmit={(e) => {
        e.preventDefault();
        onAdd(name);
        setName("");
      }}
    >
      <input aria-label={`New ${side} port name`} placeholder={`new ${side} port`} value={name} onChange={(e) => setName(e.target.value)} />
      <button type="submit" disabled={!name}>
        Add {side}
      </button>
    </form>
  );
}
