/**
 * The inspector: a form for the selected step generated from its type's config fields and
 * ports, its policy, and its problems; or the melody's own details when nothing is selected.
 *
 * The parts of the form are files of their own here: config fields (`ConfigFieldEditor`), ports,
 * policy, capabilities, and the melody's details (`MelodyInspector`).
 */
import { useMemo } from "react";
import type { StepDoc } from "../backend/types";
import { useDoc, splitIds } from "../store/doc";
import { useApp } from "../store/app";
import { usePins } from "../store/pins";
import { useRun } from "../store/run";
import { unpinOutput } from "../board/actions";
import { changeType, renameStep, setConfig, updateStep } from "../model/edits";
import { ID_PATTERN } from "../model/ids";
import { scopeOf } from "../model/templates";
import { Field, JsonInput, TextInput } from "./fields";
import { duplicateSelection, groupSelection } from "../app/actions";
import { edit, withOptional } from "./edit";
import { ConfigFieldEditor } from "./ConfigFieldEditor";
import { PortsEditor } from "./PortsEditor";
import { PolicyEditor } from "./PolicyEditor";
import { CapabilitiesEditor } from "./CapabilitiesEditor";
import { MelodyInspector } from "./MelodyInspector";

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
