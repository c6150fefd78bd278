/** A step's extra input and output ports: their types, removing one, adding one where its type allows. */
import { useState } from "react";
import type { PortType, StepDoc, StepTypeInfo } from "../backend/types";
import { useDoc } from "../store/doc";
import { useApp } from "../store/app";
import { removePort, updateStep } from "../model/edits";
import { ID_PATTERN } from "../model/ids";
import { edit, withOptional } from "./edit";

const PORT_TYPES: PortType[] = ["text", "number", "boolean", "json", "list", "file", "any"];

export function PortsEditor({ step, type }: { step: StepDoc; type: StepTypeInfo | undefined }) {
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
