/**
 * Answers this window gave to gates (`answerGate`) and what became of each, by run and step.
 * A run that is not playing records an answer but says nothing on its event stream until it is
 * continued, so the board would still call for one: the debugger and the dock's call read
 * these to say it was answered and offer to continue the run instead.
 */
import { create } from "zustand";
import type { GateAnswerTaken } from "../backend/types";

export interface GatesState {
  /** By `gateKey(runId, step)`. */
  sent: Readonly<Record<string, GateAnswerTaken>>;
  record(runId: string, step: string, taken: GateAnswerTaken): void;
}

export function gateKey(runId: string, step: string): string {
  return `${runId}\u0000${step}`;
}

export const useGates = create<GatesState>()((set) => ({
  sent: {},
  record(runId, step, taken) {
    set((s) => ({ sent: { ...s.sent, [gateKey(runId, step)]: taken } }));
  },
}));
