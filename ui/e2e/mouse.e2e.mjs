// End to end: build a three-step melody with the mouse (and one typed number), save it, run it
// offline and watch the steps' states change on the canvas. The middle step is a delay, so the run
// lasts long enough for "running" to reach the screen on any machine.
import fs from "node:fs";
import path from "node:path";
import { centreOf, check, mouseDrag, outDir } from "./lib.mjs";

export async function mouseScenario(page, server) {
  await page.goto(server.url);
  await page.getByRole("button", { name: "New melody" }).click();
  await page.waitForSelector(".react-flow__pane");
  const pane = page.locator(".react-flow__pane");
  const box = await pane.boundingBox();
  const drop = async (type, x, y) => page.locator(`.palette-item[data-type="${type}"]`).dragTo(pane, { targetPosition: { x, y } });
  await drop("operator.pass", 150, box.height / 2);
  await drop("operator.delay", 450, box.height / 2);
  await drop("operator.merge", 750, box.height / 2);
  await page.waitForSelector('.step-node[data-step="merge"]');
  check((await page.locator(".react-flow__node-step").count()) === 3, "three steps dropped from the palette");
  const handle = (node, port) => page.locator(`.react-flow__handle[data-nodeid="${node}"][data-handleid="${port}"]`);
  await mouseDrag(page, await centreOf(handle("pass", "output")), await centreOf(handle("delay", "input")));
  await mouseDrag(page, await centreOf(handle("delay", "output")), await centreOf(handle("merge", "items")));
  await page.waitForFunction(() => document.querySelectorAll(".react-flow__edge").length === 2);
  check(true, "two edges drawn by dragging between handles");
  await page.locator('.step-node[data-step="delay"]').click();
  await page.getByLabel("ms", { exact: true }).fill("800");
  await page.getByLabel("Step description").focus();

  // Save: the Save-as dialog proposes a path; accept it with the mouse.
  await page.getByRole("button", { name: "Save", exact: true }).click();
  await page.getByRole("dialog").getByRole("button", { name: "Save" }).click();
  await page.waitForSelector('[data-testid="dirty"]', { state: "detached" });
  const saved = path.join(server.project, "melodies/untitled.melody.json");
  check(fs.existsSync(saved), "the melody is saved as melodies/untitled.melody.json");
  const file = JSON.parse(fs.readFileSync(saved, "utf8"));
  check(file.steps.length === 3 && file.edges.length === 2, "the file holds three steps and two edges");
  check(file.steps.find((s) => s.id === "delay")?.config?.ms === 800, "the delay typed in the inspector is in the file");

  // Run it offline and watch the states.
  const states = () => page.$$eval(".step-node", (els) => els.map((e) => e.getAttribute("data-state")));
  check((await states()).every((s) => s === "idle"), "before the run no step shows a state");
  const seen = new Set();
  await page.exposeFunction("recordState", (s) => seen.add(s));
  await page.evaluate(() => {
    new MutationObserver((records) => {
      for (const r of records) {
        const el = r.target;
        if (el instanceof HTMLElement && el.dataset.state) window.recordState(el.dataset.state);
      }
    }).observe(document.querySelector(".react-flow__nodes"), { attributes: true, subtree: true, attributeFilter: ["data-state"] });
  });
  await page.getByRole("button", { name: "▶ Run" }).click();
  await page.getByRole("dialog").getByRole("button", { name: "Start run" }).click();
  await page.waitForFunction(() => [...document.querySelectorAll(".step-node")].every((e) => e.getAttribute("data-state") === "succeeded"), null, { timeout: 20000 });
  check(true, "every step ends 'succeeded'");
  check(seen.has("running"), `states changed live during the run (running was shown): ${[...seen].join(" → ")}`);
  await page.waitForSelector(".badge.run-succeeded");
  check(true, "the toolbar shows the run succeeded");
  await page.screenshot({ path: path.join(outDir, "e2e-mouse-run.png") });

  // Another editor changes the file: with no unsaved edits, the editor reloads it.
  const changed = JSON.parse(fs.readFileSync(saved, "utf8"));
  changed.melody.name = "Changed on disk";
  fs.writeFileSync(saved, JSON.stringify(changed, null, 2) + "\n");
  await page.waitForSelector(".doc-title >> text=Changed on disk", { timeout: 10000 });
  check(true, "a change on disk is reloaded into the editor");

  // Deleted on disk: the melody stays open, marked unsaved, and the editor says so.
  fs.rmSync(saved);
  await page.waitForSelector("text=was deleted on disk", { timeout: 10000 });
  await page.waitForSelector('[data-testid="dirty"]');
  check(true, "a deletion on disk is reported, and the open melody is marked unsaved");
  await page.keyboard.press("Control+s");
  await page.waitForSelector('[data-testid="dirty"]', { state: "detached", timeout: 10000 });
  check(fs.existsSync(saved) && JSON.parse(fs.readFileSync(saved, "utf8")).melody.name === "Changed on disk", "Ctrl+S writes it back");
}
