/**
 * The comparison over the canvas: what the open melody changes from another version of it.
 * Changed, added and renamed steps are marked on their nodes; this panel lists every
 * difference, field by field, and lets the person take the other version's side of each.
 */
import type { FieldChange, Json, StepDoc } from "../backend/types";
import { dropStep, restoreEdge, restoreStep, takeMelodyField, takeStepField } from "../app/compare";
import { useCompare } from "../store/compare";
import { useDoc } from "../store/doc";

/** A value in one line, cut. */
function shown(v: Json | undefined): string {
  if (v === undefined) return "—";
  const text = typeof v === "string" ? JSON.stringify(v) : JSON.stringify(v);
  return text.length > 80 ? `${text.slice(0, 79)}…` : text;
}

function Field({ change, onTake }: { change: FieldChange; onTake: () => void }) {
  return (
    <li className="cmp-field" data-path={change.path}>
      <code>{change.path}</code>
      <div className="cmp-values">
        <span className="cmp-before" title="The other version">
          {shown(change.before as Json | undefined)}
        </span>
        <span className="muted"> → </span>
        <span className="cmp-after" title="The open melody">
          {shown(change.after as Json | undefined)}
        </span>
      </div>
      <button type="button" className="link" onClick={onTake} title="Use the other version's value here (undoable)">
        Take theirs
      </button>
    </li>
  );
}

export function ComparePanel() {
  const label = useCompare((s) => s.label);
  const result = useCompare((s) => s.result);
  const focusStep = useDoc((s) => s.focusStep);
  if (!label || !result) return null;
  const changed = result.steps.filter((s) => s.change === "changed");
  const added = result.steps.filter((s) => s.change === "added");
  const removed = result.steps.filter((s) => s.change === "removed");
  const renamed = result.steps.filter((s) => s.change === "renamed");
  return (
    <section className="compare-panel" aria-label="Comparison" data-testid="compare-panel">
      <header className="row">
        <strong>Compared with</strong> <code title={label}>{label}</code>
        <button type="button" className="ghost cmp-close" aria-label="Close the comparison" onClick={() => useCompare.getState().close()}>
          ✕
        </button>
      </header>
      {result.same ? (
        <p className="muted small" data-testid="compare-same">
          The same, layout included.
        </p>
      ) : result.layoutOnly ? (
        <p className="muted small">Only the layout differs: {result.moved.length} step(s) moved. Nothing that runs changed.</p>
      ) : null}
      {result.melody.length > 0 ? (
        <>
          <h4>Melody, inputs and settings</h4>
          <ul>
            {result.melody.map((c) => (
              <Field key={c.path} change={c} onTake={() => takeMelodyField(c)} />
            ))}
          </ul>
        </>
      ) : null}
      {changed.map((s) => (
        <div key={s.id} className="cmp-step" data-step={s.id}>
          <h4>
            <button type="button" className="link" onClick={() => focusStep(s.id)}>
              {s.id}
            </button>{" "}
            <span className="cmp-tag changed">changed</span>
          </h4>
          <ul>
            {s.fields.map((c) => (
              <Field key={c.path} change={c} onTake={() => takeStepField(s.id, c)} />
            ))}
          </ul>
        </div>
      ))}
      {renamed.map((s) => (
        <p key={s.id} className="small">
          <span className="cmp-tag renamed">renamed</span> <code>{s.renamedFrom}</code> → <code>{s.id}</code>
        </p>
      ))}
      {added.length > 0 ? (
        <>
          <h4>Only here</h4>
          <ul>
            {added.map((s) => (
              <li key={s.id} className="cmp-field">
                <code>{s.id}</code> <span className="muted small">{s.type}</span>
                <button type="button" className="link" onClick={() => dropStep(s.id)} title="Remove it, as the other version has it (undoable)">
                  Remove
                </button>
              </li>
            ))}
          </ul>
        </>
      ) : null}
      {removed.length > 0 ? (
        <>
          <h4>Only in the other version</h4>
          <ul>
            {removed.map((s) => (
              <li key={s.id} className="cmp-field" data-removed={s.id}>
                <code>{s.id}</code> <span className="muted small">{s.type}</span>
                {s.step ? (
                  <button type="button" className="link" onClick={() => restoreStep(s.step as unknown as StepDoc)} title="Bring it back (undoable)">
                    Restore
                  </button>
                ) : null}
              </li>
            ))}
          </ul>
        </>
      ) : null}
      {result.edgesRemoved.length + result.edgesAdded.length > 0 ? (
        <>
          <h4>Edges</h4>
          <ul>
            {result.edgesRemoved.map((e) => (
              <li key={`r${e}`} className="cmp-field">
                <span className="cmp-tag removed">only there</span> <code>{e}</code>
                <button type="button" className="link" onClick={() => restoreEdge(e)}>
                  Restore
                </button>
              </li>
            ))}
            {result.edgesAdded.map((e) => (
              <li key={`a${e}`} className="cmp-field">
                <span className="cmp-tag added">only here</span> <code>{e}</code>
              </li>
            ))}
          </ul>
        </>
      ) : null}
    </section>
  );
}
