/**
 * A gate's words, as the node, the debugger and the board say them, and the checks an answer
 * passes before it is sent: a rejection needs a reason, an edited value must be JSON.
 */
import type { Decision, Json } from "../backend/types";
import type { GateAnswer, GateAsk } from "./model";

/** "approved", "rejected". */
export function decisionWord(decision: Decision): "approved" | "rejected" {
  return decision === "approve" ? "approved" : "rejected";
}

/** The answer in a few words, as the node shows it: "approved · cli". */
export function answerWord(answer: Pick<GateAnswer, "decision" | "by">): string {
  return `${decisionWord(answer.decision)} · ${answer.by}`;
}

/** A wait for people, coarse: 45 s, 12 m 05 s, 23 h 59 m, 3 d 4 h. */
export function formatWait(ms: number): string {
  const s = Math.max(0, Math.floor(ms / 1000));
  if (s < 60) return `${s} s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m} m ${String(s % 60).padStart(2, "0")} s`;
  const h = Math.floor(m / 60);
  if (h < 48) return `${h} h ${String(m % 60).padStart(2, "0")} m`;
  return `${Math.floor(h / 24)} d ${h % 24} h`;
}

/** How long the gate has left before its timeout decides, at `now` (ms since the run started). */
export function timeLeft(ask: GateAsk, now: number): number | null {
  if (ask.timeoutMs === null) return null;
  return Math.max(0, ask.timeoutMs - ask.waitedMs - Math.max(0, now - ask.since));
}

/** What happens if nobody answers: "rejected automatically in 23 h 59 m if nobody answers". */
export function timeoutText(ask: GateAsk, now: number): string {
  const left = timeLeft(ask, now);
  if (left === null) return "It waits until someone answers: it has no timeout.";
  return `${decisionWord(ask.onTimeout)} automatically in ${formatWait(left)} if nobody answers`;
}

/**
 * What happens if nobody answers a gate of a run that is not playing: its time counts on while
 * the run is stopped (from when it first asked), so a board that has not heard from the run
 * cannot say how much is left.
 */
export function stoppedTimeoutText(ask: GateAsk): string {
  if (ask.timeoutMs === null) return "It waits until someone answers: it has no timeout.";
  const word = decisionWord(ask.onTimeout);
  return `${word} automatically ${formatWait(ask.timeoutMs)} after it first asked if nobody answers; the time counts while the run is stopped too (continued later than that, it is ${word} at once)`;
}

/** Why an answer cannot be sent as it is, or null when it can. */
export function answerProblem(decision: Decision, reason: string): string | null {
  if (decision === "reject" && reason.trim() === "") return "Say why you reject it: the reason goes with the rejection, and the run's failure shows it.";
  return null;
}

/** The edited value as JSON text, for the editor. */
export function valueText(value: Json): string {
  return JSON.stringify(value, null, 2);
}

/**
 * Reads an edited value: the value when it is JSON (`edited` false when it is the gate's own
 * value unchanged), or what is wrong with it.
 */
export function parseEdited(text: string, original: Json): { ok: true; value: Json; edited: boolean } | { ok: false; error: string } {
  let value: Json;
  try {
    value = JSON.parse(text) as Json;
  } catch (e) {
    const why = e instanceof Error ? e.message : String(e);
    return { ok: false, error: `The edited value is not JSON (${why}): fix it, or cancel the edit to approve the value as it is.` };
  }
  return { ok: true, value, edited: JSON.stringify(value) !== JSON.stringify(original) };
}
