/** Step ids: letters, digits, `_`, `-`; unique; `input` is reserved (docs/melody-format.md). */

export const ID_PATTERN = /^[A-Za-z0-9_-]+$/;

/** Turns any text into a valid id stem. */
export function idStem(text: string): string {
  const stem = text
    .toLowerCase()
    .replace(/[^a-z0-9_-]+/g, "_")
    .replace(/^_+|_+$/g, "");
  return stem || "step";
}

/** The first of `stem`, `stem_2`, `stem_3`, … not in `taken` (and never `input`). */
export function uniqueId(stem: string, taken: ReadonlySet<string>): string {
  const base = idStem(stem);
  if (!taken.has(base) && base !== "input") return base;
  const m = /^(.*)_(\d+)$/.exec(base);
  const root = m ? m[1]! : base;
  for (let i = m ? Number(m[2]) + 1 : 2; ; i++) {
    const id = `${root}_${i}`;
    if (!taken.has(id)) return id;
  }
}

/** A melody id from its name: "Plan & review" → "plan-review"; "untitled" when nothing is left. */
export function melodyIdFrom(name: string): string {
  const id = name
    .toLowerCase()
    .replace(/[^a-z0-9_-]+/g, "-")
    .replace(/-{2,}/g, "-")
    .replace(/^[-_]+|[-_]+$/g, "")
    .slice(0, 64)
    .replace(/[-_]+$/, "");
  return id || "untitled";
}

/** The first of `base`, `base-2`, `base-3`, … not in `taken`. */
export function uniqueMelodyId(base: string, taken: ReadonlySet<string>): string {
  if (!taken.has(base)) return base;
  for (let i = 2; ; i++) {
    const id = `${base}-${i}`;
    if (!taken.has(id)) return id;
  }
}

/**
 * Whether a melody's id still follows its name: it was never saved (no path) and its id is the
 * one its name gives (or a placeholder `untitled…`), so the user never chose one. Runs, history
 * and pins are keyed by the id, so a saved melody's id changes only when the user changes it.
 */
export function idFollowsName(id: string, name: string, path: string): boolean {
  if (/^untitled(-\d+)?$/.test(id)) return true;
  if (path) return false;
  const derived = melodyIdFrom(name);
  return id === derived || new RegExp(`^${derived.replace(/[-_]/g, "[-_]")}-\\d+$`).test(id);
}
