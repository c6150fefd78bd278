/**
 * "Set up a provider": pick a kind of model server (each wire format the backend speaks, at its
 * own address, a local Ollama, or another server and the format it speaks), test it with a key
 * typed here, keep the key in the user's credential store, and, when opened from a chat step,
 * use the server and one of its models for that step. Afterwards the app asks the backend
 * again which models it can play, so nothing needs reopening.
 */
import { useMemo, useState } from "react";
import type { JsonObject, ProviderTest, WireFormatInfo } from "../backend/types";
import { errorMessage } from "../backend";
import { api, refreshProject } from "../app/actions";
import { useApp } from "../store/app";
import { useDoc } from "../store/doc";
import { setConfig } from "../model/edits";
import { chatSettings, presets, type Preset } from "../model/providers";
import { Modal } from "./Dialogs";

export function ProviderDialog({ step, onClose }: { step?: string; onClose: () => void }) {
  // The wire formats come from the backend (`projectInfo.formats`): none is named here.
  const formats = useApp((s) => s.project?.formats);
  if (!formats?.length) {
    return (
      <Modal title="Set up a provider" onClose={onClose}>
        <p className="muted small">The backend has not said which model servers it can speak to yet: close this and try again in a moment.</p>
      </Modal>
    );
  }
  return <ProviderForm formats={formats} step={step} onClose={onClose} />;
}

function ProviderForm({ formats, step, onClose }: { formats: WireFormatInfo[]; step?: string; onClose: () => void }) {
  const choices = useMemo(() => presets(formats), [formats]);
  const [preset, setPreset] = useState<Preset>(choices[0]!);
  const [format, setFormat] = useState(preset.api);
  const [baseUrl, setBaseUrl] = useState(preset.baseUrl);
  const [key, setKey] = useState("");
  const [credential, setCredential] = useState(preset.credential);
  const [test, setTest] = useState<ProviderTest | null>(null);
  const [model, setModel] = useState("");
  const [busy, setBusy] = useState(false);
  const [saved, setSaved] = useState<string | null>(null);
  const chatStep = useDoc((s) => (step ? s.melody?.steps.find((x) => x.id === step && x.type === "instrument.chat")?.id ?? null : null));

  const choose = (p: Preset) => {
    setPreset(p);
    setFormat(p.api);
    setBaseUrl(p.baseUrl);
    setCredential(p.credential);
    setTest(null);
    setModel("");
  };
  const runTest = async () => {
    setBusy(true);
    try {
      const answer = await api().testProvider({ api: format, baseUrl: baseUrl.trim(), ...(key.trim() ? { key: key.trim() } : {}) });
      setTest(answer);
      if (answer.ok && !model && answer.models[0]) setModel(answer.models[0]);
    } catch (e) {
      setTest({ ok: false, models: [], message: errorMessage(e) });
    } finally {
      setBusy(false);
    }
  };
  /** Keeps the key (if one was typed); true when there is nothing to keep or it was kept. */
  const keepKey = async (): Promise<boolean> => {
    if (!key.trim()) return true;
    if (!credential.trim()) {
      useApp.getState().notify("Name the credential the key is kept under (steps name it, never the key).", "error");
      return false;
    }
    try {
      const kept = await api().setCredential(credential.trim(), key.trim());
      setSaved(`Kept as “${kept.name}” in ${kept.place}.`);
      useApp.getState().notify(`The key is kept as “${kept.name}” in ${kept.place}${kept.encrypted ? "" : " (a private file, not encrypted)"}.`);
      setKey("");
      return true;
    } catch (e) {
      useApp.getState().notify(`Could not keep the key: ${errorMessage(e)}`, "error");
      return false;
    }
  };
  const save = async () => {
    setBusy(true);
    const ok = await keepKey();
    if (ok) await refreshProject();
    setBusy(false);
    return ok;
  };
  const useForStep = async () => {
    if (!chatStep) return;
    if (!(await save())) return;
    const url = baseUrl.trim().replace(/\/+$/, "");
    const reach = chatSettings(formats, format, url);
    const values: JsonObject = {
      model: model.trim(),
      provider: reach.provider ?? null,
      baseUrl: reach.baseUrl ?? null,
      credential: preset.credential || key.trim() || saved ? credential.trim() || null : null,
    };
    useDoc.getState().edit((m) => {
      let next = m;
      for (const [k, v] of Object.entries(values)) next = setConfig(next, chatStep, k, v === null || v === "" ? undefined : v);
      return next;
    });
    useApp.getState().notify(`${chatStep} now uses ${model.trim() || "its model"} at ${url}.`);
    onClose();
  };

  return (
    <Modal title="Set up a provider" onClose={onClose} wide>
      <p className="muted small">
        Test a model server with a key typed here, then keep the key in your credential store (the system keychain when there is one).
        Melodies name the credential; the key itself never goes into a melody file.
      </p>
      <div className="row wrap" role="radiogroup" aria-label="Provider">
        {choices.map((p) => (
          <button key={p.id} type="button" role="radio" aria-checked={preset.id === p.id} className={preset.id === p.id ? "primary" : ""} onClick={() => choose(p)}>
            {p.label}
          </button>
        ))}
      </div>
      <p className="muted small">{preset.hint}</p>
      {preset.anyFormat ? (
        <label className="field">
          <span className="field-label">Speaks</span>
          <select
            aria-label="Wire format"
            value={format}
            onChange={(e) => {
              setFormat(e.target.value);
              setTest(null);
            }}
          >
            {formats.map((f) => (
              <option key={f.name} value={f.name}>
                {f.about}
              </option>
            ))}
          </select>
        </label>
      ) : null}
      <label className="field">
        <span className="field-label">Base URL</span>
        <input aria-label="Base URL" value={baseUrl} spellCheck={false} onChange={(e) => setBaseUrl(e.target.value)} />
      </label>
      <div className="grid2">
        <label className="field">
          <span className="field-label">Key {preset.credential ? "" : "(none needed)"}</span>
          <input aria-label="API key" type="password" autoComplete="off" value={key} placeholder={preset.credential ? "sk-…" : "no key"} onChange={(e) => setKey(e.target.value)} />
        </label>
        <label className="field">
          <span className="field-label">Kept as</span>
          <input aria-label="Credential name" value={credential} spellCheck={false} placeholder="a credential name" onChange={(e) => setCredential(e.target.value)} />
        </label>
      </div>
      <div className="row">
        <button type="button" onClick={() => void runTest()} disabled={busy || !baseUrl.trim()}>
          {busy ? "Working…" : "Test"}
        </button>
        {test ? (
          <span className={test.ok ? "ok-text" : "field-problem"} role="status" data-testid="provider-test">
            {test.ok ? "✓ " : "✗ "}
            {test.message}
          </span>
        ) : null}
      </div>
      {test?.ok && test.models.length > 0 ? (
        <label className="field">
          <span className="field-label">Model</span>
          <select aria-label="Model to use" value={model} onChange={(e) => setModel(e.target.value)}>
            {test.models.map((m) => (
              <option key={m}>{m}</option>
            ))}
          </select>
        </label>
      ) : test?.ok ? (
        <label className="field">
          <span className="field-label">Model</span>
          <input aria-label="Model to use" value={model} onChange={(e) => setModel(e.target.value)} placeholder="the model's name" />
        </label>
      ) : null}
      {saved ? <p className="small ok-text">{saved}</p> : null}
      <div className="modal-actions">
        <button type="button" onClick={onClose}>
          Close
        </button>
        <button type="button" disabled={busy || !key.trim()} onClick={() => void save()}>
          Keep the key
        </button>
        {chatStep ? (
          <button type="button" className="primary" disabled={busy || !test?.ok || !model.trim()} onClick={() => void useForStep()}>
            Use for {chatStep}
          </button>
        ) : null}
      </div>
    </Modal>
  );
}
