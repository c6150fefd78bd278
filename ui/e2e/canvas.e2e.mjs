// End to end: canvas selection and layout editing — box-select, delete, undo; groups that carry
// their steps; the problems list that jumps to a step.
import fs from "node:fs";
import path from "node:path";
import { check, mouseDrag, outDir } from "./lib.mjs";

const stepCount = (page) => page.locator(".react-flow__node-step").count();
const edgeCount = (page) => page.locator(".react-flow__edge").count();

/** The screen box around the given step nodes, grown by `pad` pixels. */
async function boxAround(page, ids, pad = 24) {
  let x1 = Infinity, y1 = Infinity, x2 = -Infinity, y2 = -Infinity;
  for (const id of ids) {
    const b = await page.locator(`.react-flow__node[data-id="${id}"]`).boundingBox();
    if (!b) throw new Error(`step ${id} is not on screen`);
    x1 = Math.min(x1, b.x);
    y1 = Math.min(y1, b.y);
    x2 = Math.max(x2, b.x + b.width);
    y2 = Math.max(y2, b.y + b.height);
  }
  return { x1: x1 - pad, y1: y1 - pad, x2: x2 + pad, y2: y2 + pad };
}

export async function boxSelectScenario(page, server) {
  await page.goto(server.url);
  await page.click('[data-path="melodies/research-fanout.melody.json"]');
  await page.waitForSelector('.step-node[data-step="intro"]');
  check((await stepCount(page)) === 5 && (await edgeCount(page)) === 5, "research-fanout opens with 5 steps and 5 edges");

  // Shift+drag a rectangle over "research" and "intro" (one above the other) on empty canvas.
  const r = await boxAround(page, ["research", "intro"]);
  await page.keyboard.down("Shift");
  await mouseDrag(page, { x: r.x1, y: r.y1 }, { x: r.x2, y: r.y2 });
  await page.keyboard.up("Shift");
  const selected = await page.$$eval(".react-flow__node-step.selected", (els) => els.map((e) => e.getAttribute("data-id")).sort());
  check(JSON.stringify(selected) === JSON.stringify(["intro", "research"]), `Shift+drag selects exactly the two boxed steps: ${selected.join(", ")}`);
  await page.screenshot({ path: path.join(outDir, "e2e-box-select.png") });

  await page.keyboard.press("Delete");
  await page.waitForSelector('.step-node[data-step="intro"]', { state: "detached" });
  check((await page.locator('.step-node[data-step="research"]').count()) === 0, "Delete removes both selected steps");
  check((await stepCount(page)) === 3, "three steps are left");
  check((await edgeCount(page)) === 1, "their four edges went with them (only join → save is left)");

  await page.keyboard.press("Control+z");
  await page.waitForSelector('.step-node[data-step="intro"]');
  check((await page.locator('.step-node[data-step="research"]').count()) === 1, "one Ctrl+Z brings both steps back");
  check((await edgeCount(page)) === 5, "and all five edges");
  for (const e of ["questions.output->research.items", "questions.output->intro.questions", "intro.output->join.intro", "research.results->join.items"]) {
    check((await page.locator(`.react-flow__edge[data-id="${e}"]`).count()) === 1, `edge ${e} is back`);
  }
}
