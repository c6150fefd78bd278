/**
 * The one interface the UI uses to reach the backend (docs/app-api.md). Two implementations
 * behave the same: Tauri IPC (`tauri.ts`) and HTTP/WebSocket against `symphony serve`
 * (`http.ts`). Only this folder knows which one is in use.
 *
 * The commands' typed methods are generated from the host's one command list
 * (`generated/commands.ts`, from crates/symphony-host/src/commands/mod.rs), so a command the
 * host has cannot be missing here; only the event channels are written by hand.
 */
import { hostCommands, type Call, type Commands, type DesktopCommands } from "./generated/commands";
import type { BackendError, FileChangedPayload, Problem, RunEventsPayload } from "./types";

export type { Call } from "./generated/commands";
export type Unsubscribe = () => void;

/**
 * Every host command, the event channels, and, in the desktop app only, its native dialogs
 * (`trustMelody`, `pickMelodyToOpen`, `pickMelodySaveLocation`: absent over HTTP, where a page
 * cannot grant trust and a browser stays inside the project folder).
 */
export interface Backend extends Commands, Partial<DesktopCommands> {
  /** Which transport this is, for the status bar. */
  readonly transport: "tauri" | "http";
  onRunEvents(handler: (payload: RunEventsPayload) => void): Unsubscribe;
  onFileChanged(handler: (payload: FileChangedPayload) => void): Unsubscribe;
}

export type Listen = <T>(channel: string, handler: (payload: T) => void) => Unsubscribe;

/** Builds a Backend from a transport's `call` and `listen`: the commands are the same for both. */
export function makeBackend(transport: Backend["transport"], call: Call, listen: Listen): Backend {
  return {
    transport,
    ...hostCommands(call),
    onRunEvents: (handler) => listen<RunEventsPayload>("run-events", handler),
    onFileChanged: (handler) => listen<FileChangedPayload>("file-changed", handler),
  };
}

/** Turns whatever a transport rejected with into the contract's `{ message, problems? }`. */
export function toBackendError(raw: unknown): BackendError {
  if (typeof raw === "string") return { message: raw };
  if (raw && typeof raw === "object") {
    const r = raw as { message?: unknown; problems?: unknown };
    if (typeof r.message === "string") {
      return Array.isArray(r.problems)
        ? { message: r.message, problems: r.problems as Problem[] }
        : { message: r.message };
    }
  }
  if (raw instanceof Error) return { message: raw.message };
  return { message: "The backend failed without saying why." };
}

/** Reads a rejection's message for display. */
export function errorMessage(raw: unknown): string {
  return toBackendError(raw).message;
}
