/**
 * Picks the transport at startup: Tauri when the page runs inside the app's webview, else HTTP
 * against the server that served the page, with the token from the page URL (`?token=`).
 */
import type { Backend } from "./backend";
import { httpBackend } from "./http";
import { tauriBackend } from "./tauri";

export type { Backend, Unsubscribe } from "./backend";
export { errorMessage, toBackendError } from "./backend";
export type * from "./types";

export { httpBackend } from "./http";

/**
 * The conductor named in the page URL (`?server=`), when the window was connected to one that
 * is not its own (the app's "Connect to a conductor"); null otherwise.
 */
export function connectedServer(): string | null {
  return new URLSearchParams(window.location.search).get("server");
}

export function connectBackend(): Backend {
  const params = new URLSearchParams(window.location.search);
  const token = params.get("token") ?? "";
  const server = params.get("server");
  if (server) return httpBackend(server, token);
  if ("__TAURI_INTERNALS__" in window) return tauriBackend();
  return httpBackend(window.location.origin, token);
}
