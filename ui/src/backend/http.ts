/**
 * The HTTP transport for `symphony serve`: `POST /api/<command>` with a bearer token, and one
 * WebSocket (`/api/events?token=`) carrying `{channel, payload}` messages for every channel.
 * The only module in the UI that calls `fetch` or opens a WebSocket.
 */
import { makeBackend, toBackendError, type Backend, type Call, type Listen } from "./backend";

interface Envelope {
  channel: string;
  payload: unknown;
}

export function httpBackend(baseUrl: string, token: string): Backend {
  const call: Call = async <T,>(command: string, args: Record<string, unknown>) => {
    let response: Response;
    try {
      response = await fetch(`${baseUrl}/api/${command}`, {
        method: "POST",
        headers: { "Content-Type": "application/json", Authorization: `Bearer ${token}` },
        body: JSON.stringify(args),
      });
    } catch (e) {
      throw { message: `Cannot reach the Symphony server (${command}): ${String(e)}` };
    }
    const text = await response.text();
    let body: unknown = null;
    if (text) {
      try {
        body = JSON.parse(text);
      } catch {
        body = { message: text };
      }
    }
    if (!response.ok) {
      const err = toBackendError(body);
      throw err.message ? err : { message: `${command} failed with HTTP ${response.status}` };
    }
    return body as T;
  };

  // One socket for all channels, opened on the first subscription and reopened if it drops.
  const handlers = new Map<string, Set<(payload: unknown) => void>>();
  let socket: WebSocket | null = null;
  let retry = 500;
  const open = () => {
    const wsUrl = `${baseUrl.replace(/^http/, "ws")}/api/events?token=${encodeURIComponent(token)}`;
    const ws = new WebSocket(wsUrl);
    socket = ws;
    ws.onopen = () => {
      retry = 500;
    };
    ws.onmessage = (message) => {
      if (typeof message.data !== "string") return;
      let envelope: Envelope;
      try {
        envelope = JSON.parse(message.data) as Envelope;
      } catch {
        return;
      }
      handlers.get(envelope.channel)?.forEach((h) => h(envelope.payload));
    };
    ws.onclose = () => {
      if (socket !== ws) return;
      socket = null;
      if ([...handlers.values()].some((s) => s.size > 0)) {
        setTimeout(open, retry);
        retry = Math.min(retry * 2, 8000);
      }
    };
  };
  const listen: Listen = <T,>(channel: string, handler: (payload: T) => void) => {
    const h = handler as (payload: unknown) => void;
    let set = handlers.get(channel);
    if (!set) handlers.set(channel, (set = new Set()));
    set.add(h);
    if (!socket) open();
    return () => {
      set.delete(h);
    };
  };
  return makeBackend("http", call, listen);
}
