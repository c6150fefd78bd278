import { describe, expect, it } from "vitest";
import type { WireFormatInfo } from "../backend/types";
import { chatSettings, hostOf, presets } from "./providers";

const format = (name: string, defaultBaseUrl: string, label = name): WireFormatInfo => ({
  name,
  label,
  about: `"${name}"`,
  defaultBaseUrl,
  credential: name,
  maxTemperature: 1,
});
const FORMATS = [format("openai", "https://api.openai.com/v1", "the OpenAI-compatible server"), format("anthropic", "https://api.anthropic.com", "Anthropic")];

describe("providers from the backend's formats", () => {
  it("offers each format at its own address, then Ollama and any other server", () => {
    const list = presets(FORMATS);
    expect(list.map((p) => [p.label, p.api, p.baseUrl, p.credential])).toEqual([
      ["api.openai.com", "openai", "https://api.openai.com/v1", "openai"],
      ["api.anthropic.com", "anthropic", "https://api.anthropic.com", "anthropic"],
      ["Ollama (this machine)", "openai", "http://localhost:11434/v1", ""],
      ["Another server", "openai", "http://localhost:8000/v1", "my-server"],
    ]);
    expect(list[1]!.hint).toBe("A key for Anthropic (https://api.anthropic.com).");
    expect(list.filter((p) => p.anyFormat).map((p) => p.id)).toEqual(["other"]);
  });

  it("takes a new format with no code of its own", () => {
    const list = presets([...FORMATS, format("gemini", "https://generativelanguage.googleapis.com/v1beta")]);
    expect(list.map((p) => p.label)).toContain("generativelanguage.googleapis.com");
    expect(chatSettings([...FORMATS, format("gemini", "https://g.example/v1")], "gemini", "https://g.example/v1/")).toEqual({ provider: "gemini", baseUrl: undefined });
  });

  it("names the provider only off the default, and the base URL only off the format's own", () => {
    expect(chatSettings(FORMATS, "openai", "https://api.openai.com/v1")).toEqual({ provider: undefined, baseUrl: undefined });
    expect(chatSettings(FORMATS, "anthropic", "https://api.anthropic.com/")).toEqual({ provider: "anthropic", baseUrl: undefined });
    expect(chatSettings(FORMATS, "anthropic", "https://api.openai.com/v1")).toEqual({ provider: "anthropic", baseUrl: "https://api.openai.com/v1" });
    expect(chatSettings(FORMATS, "openai", " http://localhost:11434/v1 ")).toEqual({ provider: undefined, baseUrl: "http://localhost:11434/v1" });
    // Discovery's Ollama is not a format: it speaks the default one.
    expect(chatSettings(FORMATS, "ollama", "http://localhost:11434/v1")).toEqual({ provider: undefined, baseUrl: "http://localhost:11434/v1" });
  });

  it("offers nothing without formats, and reads a host out of a URL", () => {
    expect(presets([])).toEqual([]);
    expect(hostOf("http://localhost:8000/v1")).toBe("localhost:8000");
    expect(hostOf("not a url")).toBe("not a url");
  });
});
