/**
 * Catches a fault while drawing the UI, so a bug shows a message instead of a blank page and the
 * user's work is not lost. The melody being edited lives in the document store, outside React, so
 * it survives the fault: "Back to the editor" draws it again, "Download" saves a copy, and it is
 * also kept in this browser's storage (`draft.ts`) so that a reload offers to restore it.
 */
import { Component, type ErrorInfo, type ReactNode } from "react";
import { useApp } from "../store/app";
import { useDoc } from "../store/doc";
import { keepDraft } from "../store/draft";

interface State {
  error: Error | null;
  kept: boolean;
}

export class ErrorBoundary extends Component<{ children: ReactNode }, State> {
  override state: State = { error: null, kept: false };

  static getDerivedStateFromError(error: Error): Partial<State> {
    return { error };
  }

  override componentDidCatch(error: Error, info: ErrorInfo) {
    const kept = keepDraft();
    this.setState({ kept });
    console.error("Symphony UI fault:", error, info.componentStack);
  }

  private recover = () => {
    // A dialog is the likeliest place of the fault: close it before drawing again.
    useApp.getState().open(null);
    this.setState({ error: null, kept: false });
  };

  private download = () => {
    const { melody } = useDoc.getState();
    if (!melody) return;
    const url = URL.createObjectURL(new Blob([`${JSON.stringify(melody, null, 2)}\n`], { type: "application/json" }));
    const a = document.createElement("a");
    a.href = url;
    a.download = `${melody.melody.id || "melody"}.melody.json`;
    a.click();
    setTimeout(() => URL.revokeObjectURL(url), 1000);
  };

  override render() {
    const { error, kept } = this.state;
    if (!error) return this.props.children;
    const { melody, dirty } = useDoc.getState();
    return (
      <main className="welcome" role="alert" data-testid="ui-fault">
        <h1>Symphony</h1>
        <section className="notice error-notice">
          <strong>Something went wrong while drawing this view.</strong>
          <p className="mono small">{error.message}</p>
          <p>
            {melody
              ? dirty
                ? `Your unsaved edits to “${melody.melody.name}” are kept${kept ? " (also in this browser, so a reload offers them back)" : ""}.`
                : `“${melody.melody.name}” has no unsaved edits.`
              : "No melody was open."}
          </p>
          <div className="row">
            <button type="button" className="primary" onClick={this.recover}>
              Back to the editor
            </button>
            {melody ? (
              <button type="button" onClick={this.download}>
                Download the melody
              </button>
            ) : null}
            <button type="button" onClick={() => window.location.reload()}>
              Reload
            </button>
          </div>
          <p className="small muted">This is a bug in Symphony; the message above helps to find it.</p>
        </section>
      </main>
    );
  }
}
