/**
 * Every validation problem; clicking one selects and centres its step. With none, the list
 * folds into a small "valid" badge over the canvas, so the canvas keeps the room.
 */
import { edgeOfProblem, useDoc } from "../store/doc";

export function Problems() {
  const problems = useDoc((s) => s.problems);
  const focusStep = useDoc((s) => s.focusStep);
  const focusEdge = useDoc((s) => s.focusEdge);
  const melody = useDoc((s) => s.melody);
  if (problems.length === 0) {
    return (
      <section className="problems empty" aria-label="Problems">
        <span className="problems-badge" title="The melody is valid: no problems">
          ✓ valid <span className="count">0</span>
        </span>
      </section>
    );
  }
  return (
    <section className="problems" aria-label="Problems">
      <h3>
        Problems <span className={`count${problems.length ? " bad" : ""}`}>{problems.length}</span>
      </h3>
      {(
        <ul>
          {problems.map((p, i) => {
            const step = p.step ?? /^steps\.([^.[\]]+)/.exec(p.path)?.[1];
            const edge = step ? null : edgeOfProblem(p, melody);
            return (
              <li key={`${p.path}-${i}`}>
                <button
                  type="button"
                  className="problem"
                  disabled={!step && !edge}
                  onClick={() => (step ? focusStep(step) : edge ? focusEdge(edge) : undefined)}
                  title={edge ? `The edge ${edge.replace("->", " → ")}: click to select it` : undefined}
                >
                  <span className="problem-path">{edge ? `edge ${edge.replace("->", " → ")}` : p.path}</span>
                  <span className="problem-msg">{p.message}</span>
                </button>
              </li>
            );
          })}
        </ul>
      )}
    </section>
  );
}
