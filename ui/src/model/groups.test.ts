import { describe, expect, it } from "vitest";
import { inside, shifted, stepsInGroup } from "./groups";

describe("which steps a group holds", () => {
  const group = { x: 0, y: 0, width: 500, height: 300 };
  it("holds a step whose whole box lies within it, edges included", () => {
    expect(inside({ x: 10, y: 10, width: 220, height: 100 }, group)).toBe(true);
    expect(inside({ x: 0, y: 0, width: 500, height: 300 }, group)).toBe(true);
  });
  it("does not hold a step that only overlaps it, or lies outside", () => {
    expect(inside({ x: 400, y: 10, width: 220, height: 100 }, group)).toBe(false);
    expect(inside({ x: -1, y: 10, width: 220, height: 100 }, group)).toBe(false);
    expect(inside({ x: 10, y: 250, width: 220, height: 100 }, group)).toBe(false);
    expect(inside({ x: 600, y: 600, width: 10, height: 10 }, group)).toBe(false);
  });
  it("lists the held steps in the order given", () => {
    const steps = [
      { id: "b", box: { x: 260, y: 20, width: 220, height: 100 } },
      { id: "out", box: { x: 520, y: 20, width: 220, height: 100 } },
      { id: "a", box: { x: 20, y: 20, width: 220, height: 100 } },
      { id: "half", box: { x: 20, y: 250, width: 220, height: 100 } },
    ];
    expect(stepsInGroup(group, steps)).toEqual(["b", "a"]);
    expect(stepsInGroup(group, [])).toEqual([]);
  });
  it("shifts every start position by the same delta", () => {
    const starts = new Map([["a", { x: 1, y: 2 }], ["b", { x: -5, y: 10 }]]);
    expect([...shifted(starts, { x: 10, y: -2 })]).toEqual([["a", { x: 11, y: 0 }], ["b", { x: 5, y: 8 }]]);
  });
});
