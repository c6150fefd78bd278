/** The melody's own details when nothing is selected: name, id, description, run inputs, settings. */
import { useState } from "react";
import type { InputDecl } from "../backend/types";
import { useDoc } from "../store/doc";
import { ID_PATTERN, idFollowsName, melodyIdFrom, uniqueMelodyId } from "../model/ids";
import { Field, TextInput } from "./fields";
import { takenMelodyIds } from "../app/actions";
import { edit, withOptional } from "./edit";

export function MelodyInspector() {
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
