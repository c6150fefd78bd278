/**
 * Picks the transport at startup: Tauri when the page runs inside the app's webview, else HTTP
 * against the server that served the page, with the token from the page URL (`#token=`).
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

/**
 * The API token `symphony serve` gave the page: in the URL's fragment (`#token=`, which the
 * browser never sends to a server nor puts in a Referer header), or `?token=` as older builds
 * printed. It is moved out of the address bar and history at once (kept for reloads in this
 * tab's sessionStorage), so it is not left on screen or in the history.
 */
export function takeToken(): string {
  const KEY = "symphony.token";
  const url = new URL(window.location.href);
  const fromHash = new URLSearchParams(url.hash.replace(/^#/, "")).get("token");
  const fromQuery = url.searchParams.get("token");
  const token = fromHash ?? fromQuery;
  if (token !== null) {
    try {
      window.sessionStorage.setItem(KEY, token);
    } catch {
      // Storage refused (private mode): the token lives for this page only.
    }
    url.searchParams.delete("token");
    if (fromHash !== null) url.hash = "";
    window.history.replaceState(window.history.state, "", url.toString());
    return token;
  }
  try {
    return window.sessionStorage.getItem(KEY) ?? "";
  } catch {
    return "";
  }
}

/**
 * The printed URL opened again in a tab that runs the app only changes the fragment, which does
 * not reload the page: a token there (a restarted server's new one) is taken and the app starts
 * again with it.
 */
function followNewTokens(): void {
  window.addEventListener("hashchange", () => {
    if (new URLSearchParams(window.location.hash.replace(/^#/, "")).get("token") !== null) {
      takeToken();
      window.location.reload();
    }
  });
}

export function connectBackend(): Backend {
  const params = new URLSearchParams(window.location.search);
  const server = params.get("server");
  if ("__TAURI_INTERNALS__" in window && !server) return tauriBackend();
  const token = takeToken();
  followNewTokens();
  if (server) return httpBackend(server, token);
  return httpBackend(window.location.origin, token);
}
