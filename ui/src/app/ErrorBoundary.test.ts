// @vitest-environment jsdom
/**
 * A fault while drawing shows a message, not a blank page, and the unsaved melody survives: in
 * the document store (so "Back to the editor" draws it again) and in the browser's storage (so
 * a reload offers it back). Rendered with React into jsdom.
 */
import { createElement, act } from "react";
import { createRoot } from "react-dom/client";
import { afterEach, describe, expect, it } from "vitest";
import { ErrorBoundary } from "./ErrorBoundary";
import { useDoc } from "../store/doc";
import { forgetDraft, keptDraft } from "../store/draft";
import { ideaToCodeMelody } from "../test/fixtures";

(globalThis as { IS_REACT_ACT_ENVIRONMENT?: boolean }).IS_REACT_ACT_ENVIRONMENT = true;

let broken = true;
function Bomb() {
  if (broken) throw new Error("a component fell over");
  return createElement("p", { id: "drawn" }, "the editor");
}

afterEach(() => {
  forgetDraft();
  useDoc.getState().close();
  document.body.innerHTML = "";
});

describe("the error boundary", () => {
  it("shows the fault, keeps the unsaved melody, and draws again on request", async () => {
    const melody = ideaToCodeMelody();
    useDoc.getState().load(melody, "melodies/idea-to-code.melody.json", "h");
    useDoc.getState().edit((m) => ({ ...m, melody: { ...m.melody, name: "Edited, not saved" } }));
    const host = document.createElement("div");
    document.body.append(host);
    const root = createRoot(host);
    const quiet = console.error;
    console.error = () => undefined; // React reports the caught error; the test expects it.
    broken = true;
    try {
      await act(async () => root.render(createElement(ErrorBoundary, null, createElement(Bomb))));
    } finally {
      console.error = quiet;
    }
    const alert = host.querySelector('[data-testid="ui-fault"]');
    expect(alert?.textContent).toContain("Something went wrong while drawing this view.");
    expect(alert?.textContent).toContain("a component fell over");
    expect(alert?.textContent).toContain("Your unsaved edits to “Edited, not saved” are kept");
    const draft = keptDraft();
    expect(draft?.melody.melody.name).toBe("Edited, not saved");
    expect(draft?.path).toBe("melodies/idea-to-code.melody.json");
    expect(useDoc.getState().melody?.melody.name).toBe("Edited, not saved");

    broken = false;
    const back = [...host.querySelectorAll("button")].find((b) => b.textContent === "Back to the editor");
    await act(async () => back?.click());
    expect(host.querySelector("#drawn")?.textContent).toBe("the editor");
    await act(async () => root.unmount());
  });

  it("keeps no draft when nothing is unsaved", async () => {
    useDoc.getState().load(ideaToCodeMelody(), "melodies/idea-to-code.melody.json", "h");
    const host = document.createElement("div");
    document.body.append(host);
    const root = createRoot(host);
    const quiet = console.error;
    console.error = () => undefined;
    broken = true;
    try {
      await act(async () => root.render(createElement(ErrorBoundary, null, createElement(Bomb))));
    } finally {
      console.error = quiet;
    }
    expect(host.textContent).toContain("has no unsaved edits");
    expect(keptDraft()).toBeNull();
    await act(async () => root.unmount());
  });
});
