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

export function connectBackend(): Backend {
  if ("__TAURI_INTERNALS__" in window) return tauriBackend();
  const params = new URLSearchParams(window.location.search);
  const token = params.get("token") ?? "";
  const server = params.get("server") ?? window.location.origin;
  return httpBackend(server, token);
}
