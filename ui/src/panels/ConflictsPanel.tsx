/**
 * The merge conflicts a git merge left in the open melody (`layout.mergeConflicts`, written by
 * `symphony merge-driver`): one row per field both branches changed differently, with the
 * common ancestor's, our and their value, and buttons to keep ours or take theirs. The steps
 * concerned are outlined on the canvas. Gone once every conflict is settled.
 */
import type { Json } from "../backend/types";
import { conflictPlace, conflictStep, conflictsOf, settleAll, settleConflict, type MergeConflict } from "../app/conflicts";
import { useDoc } from "../store/doc";

/** A value in one line, cut; "—" where a side has none (the step or field is absent there). */
function shown(v: Json | undefined): string {
  if (v === undefined) return "— (none)";
  const text = JSON.stringify(v);
  return text.length > 90 ? `${text.slice(0, 89)}…` : text;
}

function Row({ c }: { c: MergeConflict }) {
  const focusStep = useDoc((s) => s.focusStep);
  const { where, field } = conflictPlace(c);
  const step = conflictStep(c);
  return (
    <li className="cmp-field conflict" data-path={c.path}>
      <div>
        {step ? (
          <button type="button" className="link" onClick={() => focusStep(step)} title="Show the step">
            {where}
          </button>
        ) : (
          <span>{where}</span>
        )}
        {field ? <code> {field}</code> : null}
      </div>
      <dl className="cmp-values conflict-sides">
        <dt>base</dt>
        <dd className="muted">{shown(c.base)}</dd>
        <dt>ours</dt>
        <dd className="cmp-after" data-side="ours">
          {shown(c.ours)}
        </dd>
        <dt>theirs</dt>
        <dd className="cmp-before" data-side="theirs">
          {shown(c.theirs)}
        </dd>
      </dl>
      <div className="row conflict-actions">
        <button type="button" className="link" onClick={() => settleConflict(c, "ours")} title="Keep the value in the melody now (ours) and mark the conflict settled (undoable)">
          Keep ours
        </button>
        <button type="button" className="link" onClick={() => settleConflict(c, "theirs")} title="Use the other branch's value and mark the conflict settled (undoable)">
          Take theirs
        </button>
      </div>
    </li>
  );
}

export function ConflictsPanel() {
  const melody = useDoc((s) => s.melody);
  const conflicts = conflictsOf(melody);
  if (conflicts.length === 0) return null;
  return (
    <section className="compare-panel conflicts-panel" aria-label="Merge conflicts" data-testid="conflicts-panel">
      <header className="row">
        <strong>
          {conflicts.length} merge conflict{conflicts.length === 1 ? "" : "s"}
        </strong>
        <span className="muted small">both branches changed these; ours is in the melody now</span>
      </header>
      <ul>
        {conflicts.map((c) => (
          <Row key={c.path} c={c} />
        ))}
      </ul>
      <div className="row conflict-actions">
        <button type="button" onClick={() => settleAll("ours")}>
          Keep ours for all
        </button>
        <button type="button" onClick={() => settleAll("theirs")}>
          Take theirs for all
        </button>
      </div>
      <p className="muted small">Settled conflicts leave the file when it is saved; commit it to finish the merge.</p>
    </section>
  );
}
