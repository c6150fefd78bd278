/** One config field of a step, edited as its type says (text, number, template, model, JSON…). */
import type { ConfigField, Json, StepDoc } from "../backend/types";
import { useApp } from "../store/app";
import { setConfig } from "../model/edits";
import { chatSettings } from "../model/providers";
import { scopeOf } from "../model/templates";
import { Field, JsonInput, NumberInput, TextInput } from "./fields";
import { PromptEditor } from "./PromptEditor";
import { edit } from "./edit";

export function ConfigFieldEditor({
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

/**
 * The models the backend found (hosted providers whose key is kept, a local Ollama), to pick
 * one with the provider settings it needs; free text stays possible in the field above. A chat
 * step also offers "Set up a provider…".
 */
function ModelPicker({ step }: { step: StepDoc }) {
  const providers = useApp((s) => s.project?.providers);
  const formats = useApp((s) => s.project?.formats);
  const chat = step.type === "instrument.chat";
  const offers = providers ?? [];
  const pick = (value: string) => {
    const [index, model] = [Number(value.slice(0, value.indexOf(":"))), value.slice(value.indexOf(":") + 1)];
    const offer = offers[index];
    if (!offer || !model) return;
    edit((m) => {
      let next = setConfig(m, step.id, "model", model);
      if (chat) {
        // The offer's provider is a wire format's name, or a server (Ollama) that speaks the default one.
        const reach = chatSettings(formats ?? [], offer.provider, offer.baseUrl);
        next = setConfig(next, step.id, "provider", reach.provider);
        next = setConfig(next, step.id, "baseUrl", reach.baseUrl);
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
