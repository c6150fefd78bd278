/**
 * Colours are named once, as custom properties in the `:root` block of `styles.css`; every
 * stylesheet and component uses those tokens (`var(--ok)`, or a tint:
 * `color-mix(in srgb, var(--ok) 20%, transparent)`). This test reads every stylesheet and
 * component and fails on a raw hex colour outside that block, and on a `var(--name)` that no
 * stylesheet defines (a typo there silently drops the colour).
 */
import { readdirSync, readFileSync, statSync } from "node:fs";
import { join, relative } from "node:path";
import { describe, expect, it } from "vitest";

const root = join(__dirname, "..");

function sources(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) return name === "generated" ? [] : sources(p);
    return /\.(css|ts|tsx|html)$/.test(name) && !/\.test\.ts$/.test(name) ? [p] : [];
  });
}

/** The `:root { … }` block of a stylesheet (where tokens are defined), or "" when it has none. */
export function rootBlock(css: string): string {
  const start = css.search(/(^|\n):root\s*\{/);
  if (start < 0) return "";
  const end = css.indexOf("\n}", start);
  return css.slice(start, end < 0 ? css.length : end + 2);
}

const HEX = "#(?:[0-9a-fA-F]{8}|[0-9a-fA-F]{6}|[0-9a-fA-F]{3,4})(?![0-9a-zA-Z_-])";

/**
 * Raw hex colours in a file, with their lines. In a stylesheet: every hex value in a
 * declaration (outside comments and the `:root` block). In a script: a hex value inside a
 * string literal (so `error #185` in a comment is not taken for a colour).
 */
export function rawColours(text: string, kind: "css" | "script"): { line: number; text: string }[] {
  let body = text;
  if (kind === "css") {
    body = body.replace(/\/\*[\s\S]*?\*\//g, (c) => c.replace(/[^\n]/g, " "));
    const block = rootBlock(body);
    if (block) body = body.replace(block, block.replace(/[^\n]/g, " "));
  }
  const pattern = kind === "css" ? new RegExp(`:[^;{}]*?(${HEX})`, "g") : new RegExp(`(["'\`])[^"'\`\\n]*?(${HEX})[^"'\`\\n]*?\\1`, "g");
  const out: { line: number; text: string }[] = [];
  for (let m = pattern.exec(body); m; m = pattern.exec(body)) {
    const line = body.slice(0, m.index).split("\n").length;
    out.push({ line, text: text.split("\n")[line - 1]!.trim() });
  }
  return out;
}

/** The custom properties a stylesheet defines (`--name:`). */
export function definedTokens(css: string): Set<string> {
  return new Set([...css.matchAll(/(--[a-zA-Z0-9-]+)\s*:/g)].map((m) => m[1]!));
}

describe("colour tokens", () => {
  const files = sources(root);
  const css = files.filter((f) => f.endsWith(".css")).map((f) => readFileSync(f, "utf8"));

  it("finds no raw hex colour outside the token definitions", () => {
    const found = files.flatMap((f) =>
      rawColours(readFileSync(f, "utf8"), f.endsWith(".css") ? "css" : "script").map((c) => `${relative(root, f)}:${c.line}: ${c.text}`),
    );
    expect(found, "use a token from styles.css's :root (add one there for a new shade)").toEqual([]);
  });

  it("uses only tokens a stylesheet defines", () => {
    const defined = new Set(css.flatMap((t) => [...definedTokens(t)]));
    const used = files.flatMap((f) => [...readFileSync(f, "utf8").matchAll(/var\((--[a-zA-Z0-9-]+)/g)].map((m) => ({ f, name: m[1]! })));
    // React Flow's own properties (--xy-…) are defined by its stylesheet, not ours.
    const unknown = used.filter((u) => !u.name.startsWith("--xy-") && !defined.has(u.name)).map((u) => `${relative(root, u.f)}: ${u.name}`);
    expect(used.length).toBeGreaterThan(100);
    expect(unknown).toEqual([]);
  });

  it("tells a raw colour from a token, a comment and a selector", () => {
    expect(rawColours(":root {\n  --ok: #4fc38a;\n}\n.a { color: var(--ok); }\n/* was #4fc38a */\n", "css")).toEqual([]);
    expect(rawColours(".a { color: var(--ok); }\n.b { border: 1px solid #7a3434; }\n", "css")).toEqual([{ line: 2, text: ".b { border: 1px solid #7a3434; }" }]);
    expect(rawColours(".a:hover { background: #fff }", "css")).toHaveLength(1);
    expect(rawColours("// React error #185\nconst c = 1;", "script")).toEqual([]);
    expect(rawColours('const c = "#7c9cff";\nconst d = `1px solid #abc`;', "script").map((c) => c.line)).toEqual([1, 2]);
  });
});
