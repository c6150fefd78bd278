/** The first view: the project's melodies, a new one, import, and the offline notice. */
import { useApp } from "../store/app";
import { canPickFiles, createMelody, openFromDisk, openMelody } from "../app/actions";

export function Welcome() {
  const project = useApp((s) => s.project);
  const melodies = useApp((s) => s.melodies);
  const open = useApp((s) => s.open);
  return (
    <main className="welcome">
      <header>
        <h1>Symphony</h1>
        <p className="muted">Compose AI steps into melodies, and watch them play.</p>
      </header>
      {project?.offline ? (
        <section className="notice offline-notice" role="status" data-testid="offline-notice">
          <strong>Offline mode</strong>
          <p>
            {project.notice ??
              "No model is configured: instruments answer with the offline instrument, which calls no model. To use a real model, add a key (symphony credential set openai) or start a local server such as Ollama on localhost:11434."}
          </p>
        </section>
      ) : null}
      <div className="welcome-actions">
        <button type="button" className="primary" onClick={() => void createMelody()}>
          New melody
        </button>
        {canPickFiles() ? (
          <button type="button" onClick={() => void openFromDisk()}>
            Open a file…
          </button>
        ) : null}
        <button type="button" onClick={() => open({ kind: "import" })}>
          Import SuperOptiX YAML…
        </button>
      </div>
      <h2>Melodies in {project?.melodiesDir ?? "melodies/"}</h2>
      {melodies.length === 0 ? <p className="muted">No melodies yet. Start a new one.</p> : null}
      <ul className="melody-list">
        {melodies.map((m) => (
          <li key={m.path}>
            <button type="button" className="melody-card" onClick={() => void openMelody(m.path)} data-path={m.path}>
              <strong>{m.name}</strong>
              <span className="muted small">{m.path}</span>
              <span className="desc">{m.description}</span>
            </button>
          </li>
        ))}
      </ul>
      {project ? <footer className="muted small">Project: {project.root}</footer> : null}
    </main>
  );
}
