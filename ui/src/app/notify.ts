/**
 * Desktop notifications for gates (`cue.gate`): when a gate of the run on the board starts to
 * wait and the person is not looking at the window, the system shows "approve-plan waits for your
 * approval"; clicking it brings the window back with the gate open. In the desktop app Tauri's
 * notification plugin stands behind the web `Notification` API (a native notification); in a
 * browser over `symphony serve`, the browser's. Permission is asked when a person starts a run
 * of a melody that has a gate (a click, which browsers require), never on its own.
 */
import type { MelodyFile } from "../backend/types";
import { focusStep } from "../board/actions";
import { useRun } from "../store/run";

/** The web Notification API where the page has one. */
function api(): typeof Notification | null {
  return typeof window !== "undefined" && "Notification" in window ? window.Notification : null;
}

/** Whether the melody has a gate, which may ask for the person while they look elsewhere. */
export function hasGate(melody: Pick<MelodyFile, "steps"> | null): boolean {
  return melody?.steps.some((s) => s.type === "cue.gate") ?? false;
}

/** Asks for permission to notify, once, if it was never asked; call from a person's click. */
export function askToNotify(): void {
  const N = api();
  if (!N || N.permission !== "default") return;
  void Promise.resolve(N.requestPermission()).catch(() => undefined);
}

/** Gates that start waiting, from one board to the next of the same run. */
export function newlyWaiting(before: readonly string[], after: readonly string[]): string[] {
  return after.filter((step) => !before.includes(step));
}

/** Shows the notification for a gate that waits, unless the person is looking at the window. */
export function notifyGate(runId: string, step: string, title: string | undefined): boolean {
  const N = api();
  if (!N || N.permission !== "granted") return false;
  if (!document.hidden && document.hasFocus()) return false;
  const note = new N(`${step} waits for your approval`, { body: title ?? "A gate of the run waits for your answer.", tag: `${runId}/${step}` });
  note.onclick = () => {
    window.focus();
    if (useRun.getState().runId === runId) focusStep(step);
    note.close();
  };
  return true;
}

/** Watches the board's run for gates that start waiting; returns the unsubscribe. */
export function watchGates(): () => void {
  return useRun.subscribe((s, prev) => {
    if (!s.runId || s.runId !== prev.runId || s.latest.waiting === prev.latest.waiting) return;
    for (const step of newlyWaiting(prev.latest.waiting, s.latest.waiting)) {
      notifyGate(s.runId, step, s.latest.steps[step]?.gate?.ask?.title);
    }
  });
}
