/** The root: connects to the backend, then shows the welcome view or the editor. */
import { useEffect } from "react";
import { useApp } from "../store/app";
import { useDoc } from "../store/doc";
import { Welcome } from "../panels/Welcome";
import { Dialogs } from "../panels/Dialogs";
import { Editor } from "./Editor";
import { startup } from "./actions";
import { watchGates } from "./notify";
import { ErrorBoundary } from "./ErrorBoundary";

function Notices() {
  const notices = useApp((s) => s.notices);
  const dismiss = useApp((s) => s.dismiss);
  return (
    <div className="notices" aria-live="polite">
      {notices.map((n) => (
        <div key={n.id} className={`toast ${n.tone}`} role={n.tone === "error" ? "alert" : "status"}>
          <span>{n.text}</span>
          <button type="button" className="link" onClick={() => dismiss(n.id)} aria-label="Dismiss">
            ×
          </button>
        </div>
      ))}
    </div>
  );
}

export function App() {
  const view = useApp((s) => s.view);
  const project = useApp((s) => s.project);
  const startupError = useApp((s) => s.startupError);
  useEffect(() => {
    void startup();
    const unwatch = watchGates();
    const guard = (e: BeforeUnloadEvent) => {
      if (useDoc.getState().dirty) e.preventDefault();
    };
    window.addEventListener("beforeunload", guard);
    return () => {
      unwatch();
      window.removeEventListener("beforeunload", guard);
    };
  }, []);
  if (startupError) {
    return (
      <main className="welcome">
        <h1>Symphony</h1>
        <section className="notice error-notice" role="alert">
          <strong>Cannot reach the Symphony backend.</strong>
          <p>{startupError}</p>
          <p className="small">In a browser, open the address `symphony serve` printed (it carries the token).</p>
        </section>
      </main>
    );
  }
  if (!project) return <main className="welcome muted">Connecting…</main>;
  return (
    <>
      <ErrorBoundary>
        {view === "editor" ? <Editor /> : <Welcome />}
        {view === "welcome" ? <Dialogs addStepInView={() => undefined} /> : null}
      </ErrorBoundary>
      <Notices />
    </>
  );
}
