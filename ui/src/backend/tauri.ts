/**
 * The Tauri transport: `invoke("<command>", args)` and `listen("<channel>")`, with the desktop
 * app's own commands (native dialogs) beside the host's. The only module in the UI that imports
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
  const call: Call = invoked;
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
