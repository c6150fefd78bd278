// Screenshots of the views a styling change can alter, for a person to compare before and after
// it (with ImageMagick: `compare -metric AE before/x.png after/x.png diff.png`): the welcome view,
// the editor with a melody, a step's settings, the provider dialog, the board after an offline
// run, the step debugger, the run history, and the canvas zoomed far out. The run's times and
// dates differ from one run to the next; nothing else should.
//
//   node e2e/looks.mjs [outDir]      (default e2e/out/looks; ui/dist and symphony built first)
import fs from "node:fs";
import path from "node:path";
import { fitView, launch, outDir, startServer } from "./lib.mjs";

const out = path.resolve(process.argv[2] ?? path.join(outDir, "looks"));
fs.mkdirSync(out, { recursive: true });
const server = await startServer();
const browser = await launch();
try {
  const page = await browser.newPage({ viewport: { width: 1400, height: 860 } });
  page.on("pageerror", (e) => console.log(`page error: ${e.message}`));
  const shot = async (name) => {
    // The caret blinks and the pointer hovers: park both before each picture.
    await page.mouse.move(1, 1);
    await page.evaluate(() => document.activeElement instanceof HTMLElement && document.activeElement.blur());
    await page.waitForTimeout(300);
    await page.screenshot({ path: path.join(out, `${name}.png`) });
    console.log(`  ${name}.png`);
  };

  await page.goto(server.url);
  await page.waitForSelector(".melody-card");
  await shot("welcome");

  await page.click('[data-path="melodies/idea-to-code.melody.json"]');
  await page.waitForSelector(".step-node");
  await shot("editor");
  await page.click('.step-node[data-step="architecture"]');
  await shot("inspector");

  await page.locator("button.badge.offline").click();
  await page.getByRole("dialog", { name: "Set up a provider" }).waitFor();
  await shot("provider");
  await page.keyboard.press("Escape");
  await page.getByRole("dialog", { name: "Set up a provider" }).waitFor({ state: "detached" });

  await page.getByRole("button", { name: "▶ Run" }).click();
  await page.getByRole("dialog", { name: "Run this melody" }).getByRole("button", { name: "Start run" }).click();
  await page.waitForSelector(".badge.run-succeeded", { timeout: 30000 });
  await page.click(".react-flow__pane", { position: { x: 5, y: 5 } });
  await shot("board");

  await page.click('.step-node[data-step="features"]');
  await page.getByRole("tablist", { name: "Step panel" }).getByRole("tab", { name: /Last run/ }).click();
  await page.getByRole("complementary", { name: "Step debugger" }).waitFor();
  await shot("debugger");

  await page.getByRole("tab", { name: /History/ }).click();
  await shot("history");

  await page.getByRole("button", { name: "Close the step debugger" }).click();
  await fitView(page);
  for (let i = 0; i < 5; i++) await page.locator(".react-flow__controls-zoomout").click();
  await shot("far");
} finally {
  await browser.close();
  await server.stop();
}
