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
