/** The "Fork with edits" form: the run inputs, and the step's prompt and system prompt when it has them. */
import { useEffect, useState } from "react";
import type { JsonObject, MelodyFile } from "../../backend/types";
import { api } from "../../app/actions";
import { useDoc } from "../../store/doc";
import { useRun } from "../../store/run";
import { useApp } from "../../store/app";
import { setConfig } from "../../model/edits";
import { initialDrafts, parseDrafts, RunInputsForm, type Drafts } from "../../panels/RunInputs";
import { forkFrom } from "../actions";

interface ForkBase {
  inputs: JsonObject;
  melody: MelodyFile | null;
}

/** Edits for a fork: the run inputs as JSON, and the step's prompt (and system prompt) when it has one. */
export function ForkForm({ runId, step, onDone }: { runId: string; step: string; onDone: () => void }) {
  const [base, setBase] = useState<ForkBase | null>(null);
  const [inputsText, setInputsText] = useState("");
  const [drafts, setDrafts] = useState<Drafts>({});
  const [prompt, setPrompt] = useState<string | null>(null);
  const [system, setSystem] = useState<string | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);

  useEffect(() => {
    let live = true;
    const use = (b: ForkBase) => {
      if (!live) return;
      const own = b.melody?.steps.find((s) => s.id === step);
      setBase(b);
      setInputsText(JSON.stringify(b.inputs, null, 2));
      setDrafts(initialDrafts(b.melody?.inputs ?? {}, b.inputs));
      const p = own?.config?.prompt;
      const sys = own?.config?.system;
      setPrompt(typeof p === "string" ? p : null);
      setSystem(typeof sys === "string" ? sys : null);
    };
    const record = useRun.getState().record;
    const editorMelody = () => {
      const m = useDoc.getState().melody;
      return m && m.steps.some((s) => s.id === step) ? m : null;
    };
    if (record && record.run.id === runId) use({ inputs: record.inputs, melody: record.melody });
    else
      api()
        .openRun(runId)
        .then((r) => use({ inputs: r.inputs, melody: r.melody }))
        .catch(() => use({ inputs: {}, melody: editorMelody() }));
    return () => {
      live = false;
    };
  }, [runId, step]);

  if (!base) return <p className="muted small">Reading the run's inputs…</p>;
  const own = base.melody?.steps.find((s) => s.id === step);

  // With the run's melody, its inputs are a form; without it (an unreadable record), JSON.
  const declared = base.melody?.inputs;
  const edited = (): { prompt?: string; system?: string } => ({
    ...(prompt !== null && prompt !== own?.config?.prompt ? { prompt } : {}),
    ...(system !== null && system !== own?.config?.system ? { system } : {}),
  });
  /** Puts the edited prompt (and system prompt) into the melody being edited: one undoable edit. */
  const applyToMelody = () => {
    const changes = edited();
    useDoc.getState().edit((m) => {
      let next = m;
      for (const [k, v] of Object.entries(changes)) next = setConfig(next, step, k, v);
      return next;
    });
    useApp.getState().notify(`The edited ${Object.keys(changes).join(" and ")} of ${step} is in the melody now (unsaved).`);
  };
  const inEditor = useDoc.getState().melody?.steps.some((s) => s.id === step) ?? false;
  const submit = async () => {
    let inputs: JsonObject;
    if (declared) {
      const parsed = parseDrafts(declared, drafts);
      if ("error" in parsed) {
        setError(`Run inputs: ${parsed.error}`);
        return;
      }
      inputs = parsed.values;
    } else {
      try {
        const parsed: unknown = inputsText.trim() ? JSON.parse(inputsText) : {};
        if (parsed === null || typeof parsed !== "object" || Array.isArray(parsed)) throw new Error("the run inputs must be a JSON object");
        inputs = parsed as JsonObject;
      } catch (e) {
        setError(`Run inputs: ${e instanceof Error ? e.message : String(e)}`);
        return;
      }
    }
    const changedInputs: JsonObject = {};
    for (const [k, v] of Object.entries(inputs)) if (JSON.stringify(v) !== JSON.stringify(base.inputs[k])) changedInputs[k] = v;
    const promptChanged = own !== undefined && ((prompt !== null && prompt !== own.config?.prompt) || (system !== null && system !== own.config?.system));
    let melody: MelodyFile | undefined;
    if (promptChanged && base.melody && own) {
      const config = { ...own.config, ...(prompt !== null ? { prompt } : {}), ...(system !== null ? { system } : {}) };
      melody = { ...base.melody, steps: base.melody.steps.map((s) => (s.id === step ? { ...s, config } : s)) };
    }
    setError(null);
    setBusy(true);
    const hasInputs = Object.keys(changedInputs).length > 0;
    const id = await forkFrom({ runId, fromStep: step, ...(hasInputs ? { inputs: changedInputs } : {}), ...(melody ? { melody } : {}) });
    setBusy(false);
    if (id) onDone();
  };

  return (
    <form
      className="dbg-fork"
      aria-label="Fork with edits"
      onSubmit={(e) => {
        e.preventDefault();
        void submit();
      }}
    >
      {declared ? (
        <RunInputsForm inputs={declared} drafts={drafts} onChange={setDrafts} />
      ) : (
        <label className="field">
          <span className="field-label">Run inputs (JSON)</span>
          <textarea className="mono" rows={Math.min(10, Math.max(3, inputsText.split("\n").length))} value={inputsText} onChange={(e) => setInputsText(e.target.value)} aria-label="run inputs" spellCheck={false} />
        </label>
      )}
      {system !== null ? (
        <label className="field">
          <span className="field-label">System prompt of {step}</span>
          <textarea className="mono" rows={3} value={system} onChange={(e) => setSystem(e.target.value)} aria-label="system prompt" />
        </label>
      ) : null}
      {prompt !== null ? (
        <label className="field">
          <span className="field-label">Prompt of {step}</span>
          <textarea className="mono" rows={6} value={prompt} onChange={(e) => setPrompt(e.target.value)} aria-label="prompt" />
        </label>
      ) : (
        <p className="muted small">{own ? "This step has no prompt to edit." : "The run's melody is not available: only the inputs can be changed."}</p>
      )}
      {error ? <p className="bad small">{error}</p> : null}
      <div className="row">
        <button type="submit" className="primary" disabled={busy}>
          Fork and run
        </button>
        {inEditor && Object.keys(edited()).length > 0 ? (
          <button type="button" onClick={applyToMelody} title="Put the edited prompt into the melody in the editor (undoable), so the next run uses it too">
            Apply the prompt to the melody
          </button>
        ) : null}
        <button type="button" onClick={onDone}>
          Cancel
        </button>
      </div>
    </form>
  );
}
