/**
 * The first view: the project's melodies, a new one, import, the offline notice, the latest runs
 * (open one on the board), and the conductor this window is connected to.
 */
import { useEffect, useMemo, useState } from "react";
import { useApp } from "../store/app";
import type { RunEntry } from "../backend/types";
import { api, canPickFiles, createMelody, disconnectConductor, isTemplate, openFromDisk, openMelody, remoteConductor, startFromTemplate } from "../app/actions";
import { continueInterrupted, openStoredRun } from "../board/actions";
import { formatMs } from "../board/model";
import { runBadge, runStanding } from "../board/runs";

function RecentRuns() {
  const [runs, setRuns] = useState<RunEntry[] | null>(null);
  useEffect(() => {
    let live = true;
    const load = () =>
      api()
        .listRuns(undefined, 12)
        .then((r) => live && setRuns(r))
        .catch(() => live && setRuns([]));
    void load();
    // Runs started elsewhere (a headless `symphony run` on a shared store) appear by themselves.
    const t = setInterval(() => void load(), 3000);
    return () => {
      live = false;
      clearInterval(t);
    };
  }, []);
  if (!runs || runs.length === 0) return null;
  return (
    <>
      <h2>Latest runs</h2>
      <ul className="run-list" data-testid="recent-runs">
        {runs.map((r) => {
          // Running in the store and played by no process (the app or the machine stopped
          // mid-run): it can be resumed. One another process plays is opened to be watched.
          const interrupted = runStanding(r) === "interrupted";
          const badge = runBadge(r);
          return (
          <li key={r.id} className="run-item">
            <button type="button" className="run-card" data-run={r.id} onClick={() => void openStoredRun(r.id)}>
              <span className={`badge ${badge.className}`} title={badge.title}>{badge.label}</span>
              <strong>{r.melodyName || r.melodyId}</strong>
              <span className="muted small">{new Date(r.startedAt).toLocaleString()}</span>
              <span className="muted small">
                {r.durationMs !== null ? formatMs(r.durationMs) : "…"}
                {r.costUsd ? ` · $${r.costUsd.toFixed(4)}` : ""}
                {r.parentId ? ` · fork of ${r.parentId}${r.forkStep ? ` from ${r.forkStep}` : ""}` : ""}
              </span>
            </button>
            {interrupted ? (
              <button
                type="button"
                className="resume-run"
                title="Play on from where it stopped: finished steps are kept"
                aria-label={`Resume ${r.id}`}
                onClick={() => void continueInterrupted(r.id)}
              >
                Resume
              </button>
            ) : null}
          </li>
          );
        })}
      </ul>
    </>
  );
}

export function Welcome() {
  const project = useApp((s) => s.project);
  const melodies = useApp((s) => s.melodies);
  const own = useMemo(() => melodies.filter((m) => !isTemplate(m.path)), [melodies]);
  const templates = useMemo(() => melodies.filter((m) => isTemplate(m.path)), [melodies]);
  const open = useApp((s) => s.open);
  return (
    <main className="welcome">
      <header>
        <h1>Symphony</h1>
        <p className="muted">Compose AI steps into melodies, and watch them play.</p>
      </header>
      {remoteConductor() ? (
        <section className="notice remote-notice" role="status" data-testid="remote-notice">
          <strong>Connected to the conductor at {remoteConductor()}</strong>
          <p>Melodies, runs and events here are that conductor's. <button type="button" className="link" onClick={disconnectConductor}>Disconnect</button></p>
        </section>
      ) : null}
      {project?.offline ? (
        <section className="notice offline-notice" role="status" data-testid="offline-notice">
          <strong>Offline mode</strong>
          <p>
            {project.notice ??
              "No model is configured: instruments answer with the offline instrument, which calls no model. To use a real model, keep a key or point at a local server:"}{" "}
            <button type="button" className="link" onClick={() => open({ kind: "provider" })}>
              Set up a provider…
            </button>
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
          Import a melody…
        </button>
        <button type="button" onClick={() => open({ kind: "connect" })}>
          Connect to a conductor…
        </button>
      </div>
      <h2>
        Your melodies <span className="muted small">in {project?.melodiesDir ?? "melodies"}/</span>
      </h2>
      {own.length === 0 ? <p className="muted">No melodies yet. Start a new one, or from a template below.</p> : null}
      <ul className="melody-list">
        {own.map((m) => (
          <li key={m.path}>
            <button type="button" className="melody-card" onClick={() => void openMelody(m.path)} data-path={m.path}>
              <strong>{m.name}</strong>
              <span className="muted small">{m.path}</span>
              <span className="desc">{m.description}</span>
            </button>
          </li>
        ))}
      </ul>
      {templates.length > 0 ? (
        <>
          <h2>
            Start from a template <span className="muted small">in templates/</span>
          </h2>
          <ul className="melody-list" data-testid="templates">
            {templates.map((m) => (
              <li key={m.path}>
                <button type="button" className="melody-card template-card" onClick={() => void startFromTemplate(m.path)} data-path={m.path}>
                  <strong>{m.name}</strong>
                  <span className="muted small">copy of {m.path}</span>
                  <span className="desc">{m.description}</span>
                </button>
              </li>
            ))}
          </ul>
        </>
      ) : null}
      <RecentRuns />
      {project ? <footer className="muted small">Project: {project.root}</footer> : null}
    </main>
  );
}
