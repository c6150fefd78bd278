import { describe, expect, it } from "vitest";
import type { MelodyFile } from "../backend/types";
import { TYPES } from "../test/fixtures";
import { insertOnEdge } from "./insert";

const pass = (id: string) => ({ id, kind: "operator" as const, type: "operator.pass" });
const melody: MelodyFile = {
  formatVersion: 1,
  melody: { id: "m", name: "M" },
  steps: [pass("a"), pass("b"), pass("c")],
  edges: [{ from: "a.output", to: "c.input" }],
};
const box = (x: number, y: number) => ({ x, y, width: 220, height: 80 });

describe("dropping a step onto an edge", () => {
  it("puts it in the middle of the edge", () => {
    const boxes = new Map([["a", box(0, 0)], ["c", box(700, 0)], ["b", box(350, 10)]]);
    const r = insertOnEdge(melody, TYPES, "b", boxes);
    expect(r?.melody.edges).toEqual([
      { from: "a.output", to: "b.input" },
      { from: "b.output", to: "c.input" },
    ]);
    expect(r?.said).toBe("Inserted b into a.output → c.input.");
  });
  it("leaves it alone when it lands away from every edge, or is connected already", () => {
    expect(insertOnEdge(melody, TYPES, "b", new Map([["a", box(0, 0)], ["c", box(700, 0)], ["b", box(350, 300)]]))).toBeNull();
    const connected = { ...melody, edges: [...melody.edges!, { from: "b.output", to: "c.input" }] };
    expect(insertOnEdge(connected, TYPES, "b", new Map([["a", box(0, 0)], ["c", box(700, 0)], ["b", box(350, 10)]]))).toBeNull();
  });
});
