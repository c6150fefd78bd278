/**
 * A line diff (Myers' O((N+M)·D) algorithm) for the step debugger's file view: what a forked
 * run's file changed against the parent run's version.
 *
 * Common leading and trailing lines are trimmed first. When the two texts differ in more than
 * `maxEdits` lines the middle is shown as removed-then-added (`approximate`), which keeps the
 * memory of the backtracking trace bounded (about maxEdits² integers).
 */

export type DiffKind = "same" | "add" | "del";

export interface DiffLine {
  kind: DiffKind;
  text: string;
  /** 1-based line number in the old text (null for an added line). */
  a: number | null;
  /** 1-based line number in the new text (null for a removed line). */
  b: number | null;
}

export interface Diff {
  lines: DiffLine[];
  added: number;
  removed: number;
  /** True when the texts differed too much for a minimal diff. */
  approximate: boolean;
}

/** Splits text into lines; a final line ending does not make an extra empty line. */
export function splitLines(text: string): string[] {
  if (text === "") return [];
  const lines = text.split(/\r\n|\n|\r/);
  if (lines[lines.length - 1] === "") lines.pop();
  return lines;
}

/** The edit script turning `a` into `b`, as "same" / "del" / "add" steps, or null past `maxD`. */
function myers(a: Int32Array, b: Int32Array, maxD: number): DiffKind[] | null {
  const n = a.length;
  const m = b.length;
  const max = n + m;
  const offset = max + 1;
  const v = new Int32Array(2 * max + 3);
  /** v before each round d, for k in [-d, d] (index k + d). */
  const trace: Int32Array[] = [];
  let found = -1;
  outer: for (let d = 0; d <= max; d++) {
    if (d > maxD) return null;
    trace.push(v.slice(offset - d, offset + d + 1));
    for (let k = -d; k <= d; k += 2) {
      let x: number;
      if (k === -d || (k !== d && v[offset + k - 1]! < v[offset + k + 1]!)) x = v[offset + k + 1]!;
      else x = v[offset + k - 1]! + 1;
      let y = x - k;
      while (x < n && y < m && a[x] === b[y]) {
        x++;
        y++;
      }
      v[offset + k] = x;
      if (x >= n && y >= m) {
        found = d;
        break outer;
      }
    }
  }
  const out: DiffKind[] = [];
  let x = n;
  let y = m;
  for (let d = found; d >= 0; d--) {
    const row = trace[d]!;
    const at = (k: number) => row[k + d]!;
    const k = x - y;
    const prevK = k === -d || (k !== d && at(k - 1) < at(k + 1)) ? k + 1 : k - 1;
    const prevX = d === 0 ? 0 : at(prevK);
    const prevY = d === 0 ? 0 : prevX - prevK;
    while (x > prevX && y > prevY) {
      out.push("same");
      x--;
      y--;
    }
    if (d > 0) {
      if (x === prevX) out.push("add");
      else out.push("del");
    }
    x = prevX;
    y = prevY;
  }
  return out.reverse();
}

/** The line diff of two texts. */
export function diffLines(oldText: string, newText: string, maxEdits = 2000): Diff {
  const a = splitLines(oldText);
  const b = splitLines(newText);
  let start = 0;
  while (start < a.length && start < b.length && a[start] === b[start]) start++;
  let endA = a.length;
  let endB = b.length;
  while (endA > start && endB > start && a[endA - 1] === b[endB - 1]) {
    endA--;
    endB--;
  }
  // Lines as numbers, so the inner loop compares integers.
  const ids = new Map<string, number>();
  const idOf = (s: string) => {
    let id = ids.get(s);
    if (id === undefined) ids.set(s, (id = ids.size));
    return id;
  };
  const midA = Int32Array.from(a.slice(start, endA), idOf);
  const midB = Int32Array.from(b.slice(start, endB), idOf);
  let script = myers(midA, midB, maxEdits);
  const approximate = script === null;
  script ??= [...Array<DiffKind>(midA.length).fill("del"), ...Array<DiffKind>(midB.length).fill("add")];

  const lines: DiffLine[] = [];
  for (let i = 0; i < start; i++) lines.push({ kind: "same", text: a[i]!, a: i + 1, b: i + 1 });
  let i = start;
  let j = start;
  let added = 0;
  let removed = 0;
  for (const kind of script) {
    if (kind === "same") {
      lines.push({ kind, text: a[i]!, a: i + 1, b: j + 1 });
      i++;
      j++;
    } else if (kind === "del") {
      lines.push({ kind, text: a[i]!, a: i + 1, b: null });
      i++;
      removed++;
    } else {
      lines.push({ kind, text: b[j]!, a: null, b: j + 1 });
      j++;
      added++;
    }
  }
  for (; i < a.length; i++, j++) lines.push({ kind: "same", text: a[i]!, a: i + 1, b: j + 1 });
  return { lines, added, removed, approximate };
}

export type HunkLine = DiffLine | { kind: "skip"; count: number };

/** The diff with long runs of unchanged lines folded, keeping `context` lines around changes. */
export function foldUnchanged(lines: readonly DiffLine[], context = 3): HunkLine[] {
  const keep = new Uint8Array(lines.length);
  lines.forEach((l, i) => {
    if (l.kind === "same") return;
    for (let j = Math.max(0, i - context); j <= Math.min(lines.length - 1, i + context); j++) keep[j] = 1;
  });
  const out: HunkLine[] = [];
  let skipped = 0;
  lines.forEach((l, i) => {
    if (keep[i]) {
      if (skipped) out.push({ kind: "skip", count: skipped });
      skipped = 0;
      out.push(l);
    } else skipped++;
  });
  if (skipped) out.push({ kind: "skip", count: skipped });
  return out;
}
