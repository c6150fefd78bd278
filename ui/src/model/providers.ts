/**
 * Model servers as a chat step names them, from the wire formats the backend speaks
 * (`projectInfo.formats`, the instruments' one table, the default first). Nothing here names a
 * format: a new one reaches "Set up a provider" and the model picker with no UI code.
 */
import type { WireFormatInfo } from "../backend/types";

/** A choice in "Set up a provider": a server to test, and how a step reaches it. */
export interface Preset {
  id: string;
  label: string;
  /** The wire format's name (`testProvider`'s `api`, a step's `provider`). */
  api: string;
  baseUrl: string;
  /** The credential name steps use for it; "" when it needs no key. */
  credential: string;
  hint: string;
  /** A server of the person's choosing: they say which format it speaks. */
  anyFormat: boolean;
}

/** The host of a URL (`api.openai.com`), or the URL itself when it is not one. */
export function hostOf(url: string): string {
  try {
    return new URL(url).host || url;
  } catch {
    return url;
  }
}

/**
 * One preset per format, at its own address with its own credential; then a local Ollama and
 * any other server, which speak the default format (as discovery offers Ollama) unless the
 * person picks another for the latter.
 */
export function presets(formats: readonly WireFormatInfo[]): Preset[] {
  const fallback = formats[0];
  if (!fallback) return [];
  const own = formats.map<Preset>((f) => ({
    id: f.name,
    label: hostOf(f.defaultBaseUrl),
    api: f.name,
    baseUrl: f.defaultBaseUrl,
    credential: f.credential,
    hint: `A key for ${f.label} (${f.defaultBaseUrl}).`,
    anyFormat: false,
  }));
  return [
    ...own,
    {
      id: "ollama",
      label: "Ollama (this machine)",
      api: fallback.name,
      baseUrl: "http://localhost:11434/v1",
      credential: "",
      hint: "No key: start `ollama serve` and pull a model.",
      anyFormat: false,
    },
    {
      id: "other",
      label: "Another server",
      api: fallback.name,
      baseUrl: "http://localhost:8000/v1",
      credential: "my-server",
      hint: "Type its address and pick the format it speaks. For example vLLM, llama.cpp, LM Studio (http://localhost:1234/v1), OpenRouter (https://openrouter.ai/api/v1).",
      anyFormat: true,
    },
  ];
}

/**
 * What a chat step's config says to reach a server speaking `api` at `baseUrl`: `provider` only
 * when it is not the default format, `baseUrl` only when it is not that format's own address
 * (a format the backend does not list is taken as the default, as the engine does).
 */
export function chatSettings(formats: readonly WireFormatInfo[], api: string, baseUrl: string): { provider: string | undefined; baseUrl: string | undefined } {
  const format = formats.find((f) => f.name === api) ?? formats[0];
  const url = baseUrl.trim().replace(/\/+$/, "");
  return {
    provider: format && format !== formats[0] ? format.name : undefined,
    baseUrl: format && url === format.defaultBaseUrl ? undefined : url,
  };
}
