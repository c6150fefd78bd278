/** Every validation problem; clicking one selects and centres its step. */
import { useDoc } from "../store/doc";

export function Problems() {
  const problems = useDoc((s) => s.problems);
  const focusStep = useDoc((s) => s.focusStep);
  return (
    <section className="problems" aria-label="Problems">
      <h3>
        Problems <span className={`count${problems.length ? " bad" : ""}`}>{problems.length}</span>
      </h3>
      {problems.length === 0 ? (
        <p className="muted small">The melody is valid.</p>
      ) : (
        <ul>
          {problems.map((p, i) => {
            const step = p.step ?? /^steps\.([^.[\]]+)/.exec(p.path)?.[1];
            return (
              <li key={`${p.path}-${i}`}>
                <button type="button" className="problem" disabled={!step} onClick={() => step && focusStep(step)}>
                  <span className="problem-path">{p.path}</span>
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
