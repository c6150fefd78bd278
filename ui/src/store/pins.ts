/**
 * The open melody's pinned steps (the backend's `listPins`): the canvas marks them "pinned", and the
 * step's settings and its last run offer Unpin. Refreshed when another melody opens and after
 * each pin or unpin (`board/actions.ts`).
 */
import { create } from "zustand";
import type { PinInfo } from "../backend/types";

export interface PinsState {
  /** The melody the pins are of. */
  melodyId: string | null;
  /** Pins by step id. */
  pinned: Readonly<Record<string, PinInfo>>;
  set(melodyId: string | null, pins: readonly PinInfo[]): void;
}

export const usePins = create<PinsState>()((set) => ({
  melodyId: null,
  pinned: {},
  set(melodyId, pins) {
    set({ melodyId, pinned: Object.fromEntries(pins.map((p) => [p.step, p])) });
  },
}));
