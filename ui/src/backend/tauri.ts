/**
 * The Tauri transport: `invoke("<command>", args)` and `listen("<channel>")`. The only module
 * in the UI that imports `@tauri-apps/api`.
 */
import { invoke } from "@tauri-apps/api/core";
import { listen as tauriListen } from "@tauri-apps/api/event";
import { makeBackend, toBackendError, type Backend, type Call, type Listen } from "./backend";

export function tauriBackend(): Backend {
  const call: Call = async <T,>(command: string, args: Record<string, unknown>) => {
    try {
      return await invoke<T>(command, args);
    } catch (e) {
      throw toBackendError(e);
    }
  };
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
  return {
    ...makeBackend("tauri", call, listen),
    pickMelodyToOpen: () => call<string | null>("pickMelodyToOpen", {}),
    trustMelody: (melody) => call<{ trusted: boolean }>("trustMelody", { melody }),
    pickMelodySaveLocation: (suggestedName) => call<string | null>("pickMelodySaveLocation", { suggestedName }),
  };
}
