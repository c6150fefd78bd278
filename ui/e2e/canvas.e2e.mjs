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

export async function problemsScenario(page, server) {
  await page.goto(server.url);
  await page.click('[data-path="melodies/research-fanout.melody.json"]');
  await page.waitForSelector('.step-node[data-step="save"]');
  check((await page.locator(".problems .count").textContent()) === "0", "research-fanout opens valid: the problems list shows 0");

  // Clear the save step's required `path` in the inspector; the field commits when it loses focus.
  await page.click('.step-node[data-step="save"] .step-title');
  const field = page.getByLabel("path template");
  check((await field.inputValue()) === "report.md", "the inspector shows the save step's path");
  await field.fill("");
  await page.getByLabel("Step description").focus();

  // The debounced validation (the real backend's validateMelody) reports the missing field.
  const item = page.locator(".problems button.problem", { hasText: "steps.save" });
  await item.first().waitFor({ timeout: 5000 });
  const listed = (await item.first().textContent()) ?? "";
  check(/path/.test(listed), `the problems list names the missing field: "${listed}"`);
  check((await page.locator(".problems .count.bad").textContent()) !== "0", "the problems count turns red and is not 0");
  const badge = page.locator('.step-node[data-step="save"] .step-problems');
  check((await badge.count()) === 1 && /⚠ \d/.test((await badge.textContent()) ?? ""), `the save step's node shows a warning badge: "${await badge.textContent()}"`);
  check((await page.locator('.step-node[data-step="save"]').getAttribute("class"))?.includes("has-problems") ?? false, "the save step's node is marked as having problems");
  check((await page.locator(".inspector .insp-problems", { hasText: "config.path" }).count()) === 1, "the inspector lists the problem at the top of the step's form");
  check((await page.locator(".inspector .field", { has: page.getByLabel("path template") }).locator(".field-problem").count()) === 1, "the inspector shows the error under the path field");
  await page.screenshot({ path: path.join(outDir, "e2e-problems.png") });

  // Deselect and pan the save step out of view; then click the problem.
  await page.locator(".react-flow__pane").click({ position: { x: 30, y: 30 } });
  const canvas = await page.locator(".react-flow__pane").boundingBox();
  await mouseDrag(page, { x: canvas.x + canvas.width - 40, y: canvas.y + 60 }, { x: canvas.x + 40, y: canvas.y + 60 });
  await mouseDrag(page, { x: canvas.x + canvas.width - 40, y: canvas.y + 60 }, { x: canvas.x + 40, y: canvas.y + 60 });
  const inView = async () => {
    const b = await page.locator('.react-flow__node[data-id="save"]').boundingBox().catch(() => null);
    return Boolean(b && b.x >= canvas.x && b.y >= canvas.y && b.x + b.width <= canvas.x + canvas.width && b.y + b.height <= canvas.y + canvas.height);
  };
  check(!(await inView()), "after panning, the save step is out of view");
  check((await page.locator(".react-flow__node-step.selected").count()) === 0, "no step is selected");

  await item.first().click();
  await page.waitForSelector('.react-flow__node[data-id="save"].selected');
  check(true, "clicking the problem selects the save step");
  await page.waitForFunction(
    (c) => {
      const el = document.querySelector('.react-flow__node[data-id="save"]');
      const b = el?.getBoundingClientRect();
      return b && b.left >= c.x && b.top >= c.y && b.right <= c.x + c.width && b.bottom <= c.y + c.height;
    },
    canvas,
    { timeout: 3000 },
  );
  check(await inView(), "and brings it into view");
  check((await page.locator(".inspector h2").textContent()) === "Write report.md", "the inspector shows the save step");
  await page.screenshot({ path: path.join(outDir, "e2e-problems-jump.png") });
}

export async function groupScenario(page, server) {
  const file = path.join(server.project, "melodies/research-fanout.melody.json");
  const read = () => JSON.parse(fs.readFileSync(file, "utf8"));
  const saveNow = async () => {
    await page.keyboard.press("Control+s");
    await page.waitForSelector('[data-testid="dirty"]', { state: "detached" });
  };
  await page.goto(server.url);
  await page.click('[data-path="melodies/research-fanout.melody.json"]');
  await page.waitForSelector('.step-node[data-step="intro"]');

  // Draw a group around "research" and "intro": box-select them, then the toolbar's Group.
  const r = await boxAround(page, ["research", "intro"]);
  await page.keyboard.down("Shift");
  await mouseDrag(page, { x: r.x1, y: r.y1 }, { x: r.x2, y: r.y2 });
  await page.keyboard.up("Shift");
  await page.locator(".toolbar").getByRole("button", { name: "Group", exact: true }).click();
  await page.waitForSelector(".react-flow__node-group");
  await page.locator(".react-flow__pane").click({ position: { x: 30, y: 30 } });
  await saveNow();
  const start = read();
  check(start.layout.groups?.length === 1, `the saved file has the group: ${JSON.stringify(start.layout.groups[0])}`);

  // Drag the group by its label bar (right of the label's text field).
  const label = await page.locator(".react-flow__node-group .group-label").boundingBox();
  const from = { x: label.x + label.width - 15, y: label.y + label.height / 2 };
  await mouseDrag(page, from, { x: from.x + 180, y: from.y + 120 });
  await page.screenshot({ path: path.join(outDir, "e2e-group-moved.png") });
  await page.click('.step-node[data-step="intro"] .step-title');
  await page.waitForSelector('.react-flow__node[data-id="intro"].selected');
  check(true, "a step inside the (just selected) group can still be clicked and selected");
  await saveNow();
  const moved = read();
  const g0 = start.layout.groups[0];
  const g1 = moved.layout.groups[0];
  const delta = { x: g1.x - g0.x, y: g1.y - g0.y };
  check(delta.x > 50 && delta.y > 30, `the group moved by (${delta.x}, ${delta.y})`);
  for (const id of ["research", "intro"]) {
    const a = start.layout.steps[id];
    const b = moved.layout.steps[id];
    check(b.x - a.x === delta.x && b.y - a.y === delta.y, `${id}, inside the group, moved by the same delta: (${a.x}, ${a.y}) → (${b.x}, ${b.y})`);
  }
  for (const id of ["questions", "join", "save"]) {
    check(JSON.stringify(moved.layout.steps[id]) === JSON.stringify(start.layout.steps[id]), `${id}, outside the group, did not move`);
  }

  // One Ctrl+Z puts the group and both steps back.
  await page.keyboard.press("Control+z");
  await saveNow();
  const undone = read();
  check(JSON.stringify(undone.layout.groups) === JSON.stringify(start.layout.groups), "Ctrl+Z puts the group back");
  check(JSON.stringify(undone.layout.steps) === JSON.stringify(start.layout.steps), "and the steps inside it, in the same one undo");
}
