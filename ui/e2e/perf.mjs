// Measures how the editor copes with a large melody (500 steps, 600 edges) in headless Chromium:
// the time from clicking it in the welcome view to the canvas showing every step, and frame
// times while panning the canvas and dragging a step. Writes the figures into ui/PERFORMANCE.md.
//
//   npm run perf        (builds ui/dist first)
import fs from "node:fs";
import path from "node:path";
import { centreOf, launch, startServer, uiDir } from "./lib.mjs";

const STEPS = 500;
const EDGES = 600;
const LAYERS = 25;

/** A layered, acyclic melody: every step after the first layer reads 1–2 steps of the layer before. */
function bigMelody() {
  const perLayer = STEPS / LAYERS;
  const steps = [];
  const edges = [];
  const positions = {};
  let seed = 7;
  const rand = (n) => ((seed = (seed * 1103515245 + 12345) % 2147483648), seed % n);
  for (let i = 0; i < STEPS; i++) {
    const layer = Math.floor(i / perLayer);
    const row = i % perLayer;
    const id = `s${i}`;
    steps.push({ id, kind: "instrument", type: "instrument.offline", name: `Step ${i}`, config: { prompt: `Work on {{goal}} (step ${i})`, latencyMs: 0 }, inputs: {} });
    positions[id] = { x: layer * 300, y: row * 140 };
  }
  const link = (from, to) => {
    const port = `in_${from}`;
    if (steps[to].inputs[port]) return false;
    steps[to].inputs[port] = { type: "any" };
    edges.push({ from: `s${from}.output`, to: `s${to}.${port}` });
    return true;
  };
  for (let i = perLayer; i < STEPS; i++) link(i - perLayer, i);
  while (edges.length < EDGES) {
    const to = perLayer + rand(STEPS - perLayer);
    const layer = Math.floor(to / perLayer);
    link((layer - 1) * perLayer + rand(perLayer), to);
  }
  for (const s of steps) if (Object.keys(s.inputs).length === 0) delete s.inputs;
  return {
    formatVersion: 1,
    melody: { id: "big", name: "Big (500 steps)", description: "Generated for the performance measurement." },
    inputs: { goal: { type: "string", default: "measure" } },
    steps,
    edges,
    layout: { steps: positions },
  };
}

/** Records requestAnimationFrame intervals while `action` runs; returns stats in ms. */
async function frames(page, action) {
  await page.evaluate(() => {
    window.__frames = [];
    let last = performance.now();
    window.__framing = true;
    const tick = (t) => {
      window.__frames.push(t - last);
      last = t;
      if (window.__framing) requestAnimationFrame(tick);
    };
    requestAnimationFrame(tick);
  });
  await action();
  const list = await page.evaluate(() => {
    window.__framing = false;
    return window.__frames.slice(1);
  });
  const sorted = [...list].sort((a, b) => a - b);
  const pct = (p) => sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))];
  const total = list.reduce((a, b) => a + b, 0);
  return { count: list.length, median: pct(0.5), p95: pct(0.95), max: sorted[sorted.length - 1], fps: (list.length * 1000) / total, over50: list.filter((f) => f > 50).length };
}

async function pan(page, from, dx, dy, moves) {
  await page.mouse.move(from.x, from.y);
  await page.mouse.down();
  for (let i = 1; i <= moves; i++) await page.mouse.move(from.x + (dx * i) / moves, from.y + (dy * i) / moves);
  await page.mouse.up();
}

const server = await startServer();
const melody = bigMelody();
fs.writeFileSync(path.join(server.project, "melodies", "big.melody.json"), JSON.stringify(melody, null, 2) + "\n");
const browser = await launch();
const results = {};
try {
  const page = await browser.newPage({ viewport: { width: 1400, height: 860 } });
  const opens = [];
  for (let round = 0; round < 3; round++) {
    await page.goto(server.url);
    await page.waitForSelector('[data-path="melodies/big.melody.json"]');
    const ms = await page.evaluate(async (expected) => {
      const t0 = performance.now();
      document.querySelector('[data-path="melodies/big.melody.json"]').click();
      // Opened: every step is on the canvas, fitted into view, and the layout is stable for 3 frames.
      let stable = 0;
      let lastTransform = "";
      while (stable < 3) {
        await new Promise((r) => requestAnimationFrame(r));
        const n = document.querySelectorAll(".react-flow__node-step").length;
        const tr = document.querySelector(".react-flow__viewport")?.style.transform ?? "";
        if (n === expected && tr === lastTransform && tr !== "") stable += 1;
        else stable = 0;
        lastTransform = tr;
      }
      return performance.now() - t0;
    }, STEPS);
    opens.push(ms);
  }
  results.open = opens;
  const edgesShown = await page.locator(".react-flow__edge").count();
  results.edgesShown = edgesShown;
  await page.screenshot({ path: path.join(uiDir, "e2e", "out", "perf-fit.png") });

  const paneBox = await page.locator(".react-flow__pane").boundingBox();
  const mid = { x: paneBox.x + paneBox.width / 2, y: paneBox.y + paneBox.height / 2 };
  results.panFit = await frames(page, () => pan(page, mid, 300, 150, 60));

  // Zoom to 100 % around the middle and pan there (the usual working zoom).
  for (let i = 0; i < 12; i++) await page.locator(".react-flow__controls-zoomin").click();
  await page.waitForTimeout(400);
  results.panNear = await frames(page, () => pan(page, mid, -400, -200, 60));
  await page.screenshot({ path: path.join(uiDir, "e2e", "out", "perf-near.png") });

  // Drag one step around.
  const node = page.locator(".react-flow__node-step").first();
  const at = await centreOf(node.locator(".step-title"));
  results.dragNode = await frames(page, () => pan(page, at, 250, 120, 60));
  const moved = await page.evaluate(() => document.querySelectorAll(".react-flow__node-step").length);
  results.stepsAfterDrag = moved;
} finally {
  await browser.close();
  await server.stop();
}

const f = (n) => n.toFixed(1);
const row = (name, r) => `| ${name} | ${r.count} | ${f(r.median)} | ${f(r.p95)} | ${f(r.max)} | ${f(r.fps)} | ${r.over50} |`;
const cpu = fs.readFileSync("/proc/cpuinfo", "utf8").match(/model name\s*:\s*(.*)/)?.[1] ?? "unknown CPU";
const md = `# Editor performance

Measured by \`npm run perf\` (ui/e2e/perf.mjs) in headless Chromium (software rendering:
\`--disable-gpu\`), against \`symphony serve\`, on ${cpu}
(${(await import("node:os")).cpus().length} cores${process.env.PERF_MEANWHILE ? `, shared with ${process.env.PERF_MEANWHILE}` : ""}), viewport 1400×860, ${new Date().toISOString().slice(0, 10)}.

The melody: ${STEPS} steps (offline instruments), ${melody.edges.length} edges, ${LAYERS} layers.

## Opening it

From the click in the welcome view to every step on the canvas, fitted into view and stable
for three frames (includes the backend's \`openMelody\`):

| run | ms |
|---|---|
${results.open.map((ms, i) => `| ${i + 1} | ${f(ms)} |`).join("\n")}

Edges drawn at fit-to-view: ${results.edgesShown}.

## Frame times while interacting

requestAnimationFrame intervals during 60 mouse moves each (60 Hz would be 16.7 ms):

| interaction | frames | median ms | p95 ms | max ms | fps | frames > 50 ms |
|---|---|---|---|---|---|---|
${row("pan, whole melody in view (zoom to fit)", results.panFit)}
${row("pan at working zoom", results.panNear)}
${row("drag one step", results.dragNode)}

## What keeps it fast

- Step nodes are memoised components; each subscribes only to its own run state and problems,
  so a run-event batch or a validation pass re-renders only the steps it names.
- An edit re-creates only the nodes and edges it touched (node data is cached per step object;
  melodies are immutable, so identity means unchanged).
- A drag moves nodes in the canvas state only; one undoable edit is recorded when it ends.
- React Flow renders only the nodes and edges in view (\`onlyRenderVisibleElements\`).
`;
// This script owns the file's opening sections only: the sections after them (the app at idle,
// the board under a streaming fan-out) are written by hand or by other scripts, and kept.
const file = path.join(uiDir, "PERFORMANCE.md");
const before = fs.existsSync(file) ? fs.readFileSync(file, "utf8") : "";
const rest = before.indexOf("\n## The desktop app at idle");
fs.writeFileSync(file, rest >= 0 ? md.trimEnd() + "\n" + before.slice(rest) : md);
console.log(md);
