/**
 * The Tauri transport: every host command through the app's one generic command,
 * `invoke("call", { command, args })`; the desktop app's own commands (native dialogs) by their
 * names; events through `listen("<channel>")`. The only module in the UI that imports
 * `@tauri-apps/api`.
 */
import { invoke } from "@tauri-apps/api/core";
import { listen as tauriListen } from "@tauri-apps/api/event";
import { makeBackend, toBackendError, type Backend, type Call, type Listen } from "./backend";
import { desktopCommands, type DesktopCommands } from "./generated/commands";

export function tauriBackend(): Backend & DesktopCommands {
  const invoked = async <T,>(command: string, args: Record<string, unknown>) => {
    try {
      return await invoke<T>(command, args);
    } catch (e) {
      throw toBackendError(e);
    }
  };
  const call: Call = <T,>(command: string, args: Record<string, unknown>) => invoked<T>("call", { command, args });
  const listen: Listen = <T,>(channel: string, handler: (payload: T) => void) => {
    let stop: (() => void) | null = null;
    let cancelled = false;
    void tauriListen<T>(channel, (event) => handler(event.payload)).then((unlisten) => {
      if (cancelled) unlisten();
      else stop = unlisten;
    });
    return () => {
      cancelled = true;
      stop?.();
    };
  };
  return { ...makeBackend("tauri", call, listen), ...desktopCommands(invoked) };
}
