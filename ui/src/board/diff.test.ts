import { describe, expect, it } from "vitest";
import { diffLines, foldUnchanged, splitLines, type DiffLine } from "./diff";

/** The diff in unified-diff shorthand: " same", "-removed", "+added". */
const show = (lines: readonly DiffLine[]) => lines.map((l) => (l.kind === "same" ? " " : l.kind === "add" ? "+" : "-") + l.text);

/** The length of the longest common subsequence (dynamic programming), to check minimality. */
function lcs(a: readonly string[], b: readonly string[]): number {
  let prev = new Array<number>(b.length + 1).fill(0);
  for (const x of a) {
    const row = [0];
    b.forEach((y, j) => row.push(x === y ? prev[j]! + 1 : Math.max(prev[j + 1]!, row[j]!)));
    prev = row;
  }
  return prev[b.length]!;
}

/** Applies a diff to its old text: must give the new text. */
function replay(lines: readonly DiffLine[]) {
  return {
    old: lines.filter((l) => l.kind !== "add").map((l) => l.text),
    new: lines.filter((l) => l.kind !== "del").map((l) => l.text),
  };
}

describe("line diff", () => {
  it("splits lines without a trailing empty one", () => {
    expect(splitLines("")).toEqual([]);
    expect(splitLines("a\nb\n")).toEqual(["a", "b"]);
    expect(splitLines("a\r\nb")).toEqual(["a", "b"]);
    expect(splitLines("a\n\n")).toEqual(["a", ""]);
  });

  it("finds nothing between equal texts", () => {
    const d = diffLines("a\nb\nc\n", "a\nb\nc\n");
    expect(d.added + d.removed).toBe(0);
    expect(d.lines.every((l) => l.kind === "same")).toBe(true);
  });

  it("marks added and removed lines with their line numbers", () => {
    const d = diffLines("a\nb\nc\nd\n", "a\nc\nd\ne\n");
    expect(show(d.lines)).toEqual([" a", "-b", " c", " d", "+e"]);
    expect(d.lines[1]).toEqual({ kind: "del", text: "b", a: 2, b: null });
    expect(d.lines[4]).toEqual({ kind: "add", text: "e", a: null, b: 4 });
    expect(d.lines[2]).toEqual({ kind: "same", text: "c", a: 3, b: 2 });
    expect([d.added, d.removed, d.approximate]).toEqual([1, 1, false]);
  });

  it("handles empty sides", () => {
    expect(show(diffLines("", "x\ny").lines)).toEqual(["+x", "+y"]);
    expect(show(diffLines("x\ny", "").lines)).toEqual(["-x", "-y"]);
    expect(diffLines("", "").lines).toEqual([]);
  });

  it("is minimal on the classic example", () => {
    // Myers' paper: ABCABBA → CBABAC has an edit distance of 5.
    const d = diffLines([..."ABCABBA"].join("\n"), [..."CBABAC"].join("\n"));
    expect(d.added + d.removed).toBe(5);
    expect(replay(d.lines)).toEqual({ old: [..."ABCABBA"], new: [..."CBABAC"] });
  });

  it("always replays to both texts and is minimal (random edits)", () => {
    let seed = 7;
    const rand = (n: number) => {
      seed = (seed * 1103515245 + 12345) & 0x7fffffff;
      return seed % n;
    };
    for (let round = 0; round < 200; round++) {
      const a = Array.from({ length: rand(30) }, () => String.fromCharCode(97 + rand(5)));
      const b = a.filter(() => rand(4) !== 0);
      for (let k = rand(6); k > 0; k--) b.splice(rand(b.length + 1), 0, String.fromCharCode(97 + rand(5)));
      const d = diffLines(a.join("\n"), b.join("\n"));
      expect(replay(d.lines)).toEqual({ old: a, new: b });
      expect(d.lines.filter((l) => l.kind === "same").length).toBe(a.length - d.removed);
      expect(a.length - d.removed).toBe(lcs(a, b));
    }
  });

  it("falls back to replace-all past maxEdits, still correct", () => {
    const a = Array.from({ length: 50 }, (_, i) => `a${i}`).join("\n");
    const b = Array.from({ length: 50 }, (_, i) => `b${i}`).join("\n");
    const d = diffLines(`head\n${a}\ntail`, `head\n${b}\ntail`, 10);
    expect(d.approximate).toBe(true);
    expect([d.added, d.removed]).toEqual([50, 50]);
    expect(d.lines[0]?.text).toBe("head");
    expect(d.lines[d.lines.length - 1]).toMatchObject({ kind: "same", text: "tail", a: 52, b: 52 });
  });

  it("folds long unchanged runs around the changes", () => {
    const old = Array.from({ length: 20 }, (_, i) => `l${i}`);
    const changed = [...old];
    changed[10] = "changed";
    const folded = foldUnchanged(diffLines(old.join("\n"), changed.join("\n")).lines, 2);
    expect(folded.map((l) => (l.kind === "skip" ? `…${l.count}` : l.kind === "same" ? l.text : `${l.kind}:${l.text}`))).toEqual([
      "…8",
      "l8",
      "l9",
      "del:l10",
      "add:changed",
      "l11",
      "l12",
      "…7",
    ]);
  });
});
