/**
 * A store selector must return the same value while the state it reads is unchanged. One that
 * builds a fresh object or array (`s.melody?.inputs ?? {}`, `s.steps.map(…)`) makes React render
 * again and again until it gives up (error #185): pressing Run on a melody without inputs once
 * blanked the app that way. This test reads every component and hook and fails on such a selector.
 */
import { readdirSync, readFileSync, statSync } from "node:fs";
import { join, relative } from "node:path";
import { describe, expect, it } from "vitest";

const root = join(__dirname, "..");

function sources(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) return name === "generated" ? [] : sources(p);
    return /\.(ts|tsx)$/.test(name) && !/\.test\.ts$/.test(name) ? [p] : [];
  });
}

/** The body of each `useDoc((s) => …)`-style selector, with where it is. */
export function selectors(text: string): { line: number; body: string }[] {
  const out: { line: number; body: string }[] = [];
  const start = /\buse(Doc|Run|App|Store)\(\s*\(\s*s\s*\)\s*=>/g;
  for (let m = start.exec(text); m; m = start.exec(text)) {
    // The selector runs to the parenthesis that closes `useX(`.
    let depth = 1;
    let i = text.indexOf("(", m.index) + 1;
    const from = m.index + m[0].length;
    for (; i < text.length && depth > 0; i++) {
      if (text[i] === "(") depth++;
      else if (text[i] === ")") depth--;
    }
    out.push({ line: text.slice(0, m.index).split("\n").length, body: text.slice(from, i - 1) });
  }
  return out;
}

/** What makes a new object or array each time the selector runs. */
const FRESH = [/\?\?\s*\[\s*\]/, /\?\?\s*\{\s*\}/, /\|\|\s*\[\s*\]/, /\|\|\s*\{\s*\}/, /\.(map|filter|slice|concat|flatMap)\(/, /\[\s*\.\.\./, /\{\s*\.\.\./, /Object\.(keys|values|entries|fromEntries)\(/, /new (Set|Map)\(/];

describe("store selectors", () => {
  it("finds selectors, and flags one that builds a value", () => {
    const found = selectors("const a = useDoc((s) => s.melody?.inputs ?? {});\nconst b = useRun((s) => s.board.steps[id]);");
    expect(found.map((f) => f.body.trim())).toEqual(["s.melody?.inputs ?? {}", "s.board.steps[id]"]);
    expect(FRESH.some((re) => re.test(found[0]!.body))).toBe(true);
    expect(FRESH.some((re) => re.test(found[1]!.body))).toBe(false);
  });

  it("never build a new object or array", () => {
    const files = sources(root);
    expect(files.length).toBeGreaterThan(20);
    const bad: string[] = [];
    let seen = 0;
    for (const file of files) {
      for (const { line, body } of selectors(readFileSync(file, "utf8"))) {
        seen += 1;
        if (FRESH.some((re) => re.test(body))) bad.push(`${relative(root, file)}:${line}: ${body.trim()}`);
      }
    }
    expect(seen).toBeGreaterThan(50);
    expect(bad).toEqual([]);
  });
});
