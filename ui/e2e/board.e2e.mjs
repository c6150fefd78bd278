// End to end: the Harmony Board. A melody of real `instrument.chat` steps against a loopback
// model server that streams slowly; the board shows live states and streamed tokens, the
// conductor's critical-path warning lands on the slow step (and only there), clicking the step
// shows its rendered prompt and its output, and "Take again" forks a new run that reuses the
// parent's finished steps; the file the fork wrote is diffed against the parent's. A missing or
// wrong token is refused.
import fs from "node:fs";
import path from "node:path";
import { check, fitView, outDir, tokenOf } from "./lib.mjs";
import { startModelServer } from "./loopback.mjs";

function boardMelody(baseUrl) {
  const chat = (prompt, inputs) => ({
    kind: "instrument",
    type: "instrument.chat",
    capabilities: ["network", "secrets"],
    ...(inputs ? { inputs } : {}),
    config: { baseUrl, model: "loopback-model", prompt, maxTokens: 60 },
  });
  return {
    formatVersion: 1,
    melody: { id: "board-demo", name: "Board demo", description: "Three chat steps against a loopback model; the draft is slow." },
    inputs: { goal: { type: "string", default: "a haiku about build servers" } },
    settings: { maxParallel: 4 },
    steps: [
      { id: "outline", ...chat("Outline {{goal}}") },
      { id: "title", ...chat("A title for {{goal}}") },
      { id: "draft", ...chat("[slow] Write a draft from this outline: {{outline}}", { outline: { type: "text" } }) },
      {
        id: "final",
        kind: "operator",
        type: "operator.template",
        inputs: { draft: { type: "text" }, title: { type: "text" } },
        config: { template: "# {{title}}\n\n{{draft}}" },
      },
      { id: "save", kind: "operator", type: "operator.file.write", capabilities: ["files"], config: { path: "draft.md" } },
    ],
    edges: [
      { from: "outline.output", to: "draft.outline" },
      { from: "draft.output", to: "final.draft" },
      { from: "title.output", to: "final.title" },
      { from: "draft.output", to: "save.content" },
    ],
    layout: {
      steps: { outline: { x: 0, y: 0 }, title: { x: 0, y: 260 }, draft: { x: 320, y: 0 }, final: { x: 640, y: 120 }, save: { x: 640, y: 320 } },
    },
  };
}

const stateOf = (page, step) => page.locator(`.step-node[data-step="${step}"]`).getAttribute("data-state");

export async function boardScenario(page, server) {
  const model = await startModelServer();
  try {
    await run(page, server, model);
  } finally {
    await model.stop();
  }
}

async function run(page, server, model) {
  // The token guards every API call and the event socket.
  const origin = new URL(server.url).origin;
  const token = tokenOf(server.url);
  const none = await fetch(`${origin}/api/listRuns`, { method: "POST", headers: { "Content-Type": "application/json" }, body: "{}" });
  check(none.status === 401, `a call without a token is refused: HTTP ${none.status}`);
  const wrong = await fetch(`${origin}/api/listRuns`, { method: "POST", headers: { "Content-Type": "application/json", Authorization: "Bearer not-the-token" }, body: "{}" });
  check(wrong.status === 401, `a call with a wrong token is refused: HTTP ${wrong.status}`);
  const right = await fetch(`${origin}/api/listRuns`, { method: "POST", headers: { "Content-Type": "application/json", Authorization: `Bearer ${token}` }, body: "{}" });
  check(right.ok, `the right token is accepted: HTTP ${right.status}`);
  await page.goto(`${origin}/?token=wrong`);
  await page.waitForSelector("text=Cannot reach the Symphony backend", { timeout: 10000 });
  check(true, "the UI opened with a wrong token says it cannot reach the backend");

  fs.writeFileSync(path.join(server.project, "melodies/board-demo.melody.json"), JSON.stringify(boardMelody(model.baseUrl), null, 2));
  await page.goto(server.url);
  await page.locator('.melody-card[data-path="melodies/board-demo.melody.json"]').click();
  check(!page.url().includes("token") && server.url.includes("#token="), `the token came in the URL's fragment and left the address bar: ${page.url()}`);
  await page.waitForSelector('.step-node[data-step="draft"]');
  await page.getByRole("button", { name: "▶ Run" }).click();
  await page.getByRole("dialog").getByRole("button", { name: "Start run" }).click();

  // Live: the draft runs and streams tokens while final waits for it.
  await page.waitForFunction(() => document.querySelector('.step-node[data-step="draft"]')?.getAttribute("data-state") === "running", null, { timeout: 15000 });
  check(true, "the draft step shows 'running' live");
  await page.waitForFunction(() => /\d+ tok/.test(document.querySelector('.step-node[data-step="draft"] .streamed')?.textContent ?? ""), null, { timeout: 10000 });
  const t1 = await page.locator('.step-node[data-step="draft"] .streamed').textContent();
  await page.waitForTimeout(600);
  const t2 = await page.locator('.step-node[data-step="draft"] .streamed').textContent();
  check(parseInt(t2.replace(/\D/g, ""), 10) > parseInt(t1.replace(/\D/g, ""), 10), `streamed tokens grow on the node: ${t1.trim()} → ${t2.trim()}`);
  check(["succeeded"].includes(await stateOf(page, "outline")), "outline has finished while the draft streams");
  check((await stateOf(page, "final")) === "idle" || (await stateOf(page, "final")) === null, "final has not started: it waits for the draft");
  check((await page.locator(".edge-volume.flowing").count()) >= 1, "an edge out of the streaming step animates with its volume");

  // The conductor's warning: the draft holds the run up (critical path), and nothing else does.
  await page.waitForSelector('.step-node[data-step="draft"] [data-testid="step-warning"]', { timeout: 10000 });
  check(true, "a bottleneck warning appears on the draft step");
  await page.getByRole("tab", { name: /Warnings/ }).click();
  const rows = await page.$$eval(".warning-row", (els) => els.map((e) => ({ step: e.getAttribute("data-step"), kind: e.getAttribute("data-kind"), text: e.textContent })));
  check(rows.some((r) => r.step === "draft" && r.kind === "onCriticalPath"), `the warnings list says the draft holds up the run: ${JSON.stringify(rows.map((r) => [r.step, r.kind]))}`);
  check(rows.every((r) => r.step === "draft"), "no other step is blamed");
  await page.screenshot({ path: path.join(outDir, "e2e-board-live.png") });

  await page.waitForFunction(() => [...document.querySelectorAll(".step-node")].every((e) => e.getAttribute("data-state") === "succeeded"), null, { timeout: 30000 });
  check(true, "every step ends 'succeeded'");
  await page.waitForSelector(".badge.run-succeeded");

  // The debugger: click the draft (its settings open), then its Last run tab: its rendered
  // prompt (the outline filled in) and its output. The tab stays chosen from step to step.
  await page.locator('.step-node[data-step="draft"]').click();
  await page.getByRole("tablist", { name: "Step panel" }).getByRole("tab", { name: /Last run/ }).click();
  const debug = page.getByRole("complementary", { name: "Step debugger" });
  await debug.waitFor();
  const prompt = await debug.getByLabel("rendered prompt").first().textContent();
  check(prompt.includes("[slow] Write a draft from this outline: Answer to"), `the debugger shows the rendered prompt: ${JSON.stringify(prompt.slice(0, 70))}`);
  const output = await debug.getByLabel("step output").first().textContent();
  check(output.includes("w50"), `the debugger shows the whole output: …${JSON.stringify(output.slice(-30))}`);
  const sent = model.requests.find((r) => r.messages.at(-1).content.startsWith("[slow]"));
  check(prompt.includes(sent.messages.at(-1).content.slice(0, 60)), "the prompt shown is the one the model received");
  const log = await debug.getByLabel("step log lines").textContent();
  check(/POST http:\/\/127\.0\.0\.1:\d+\/v1\/chat\/completions → 200/.test(log), `the step's log has the call: ${JSON.stringify(log.slice(0, 90))}`);
  await debug.locator('section[aria-label="raw exchanges"] .dbg-toggle').click();
  const raw = await debug.getByLabel("raw response").first().textContent();
  check(raw.includes("data: ") && raw.includes("w50") && raw.includes("[DONE]"), "the raw response is the SSE stream as received");
  const request = await debug.locator('section[aria-label="raw exchanges"]').textContent();
  check(request.includes("loopback-model") && !/authorization|bearer/i.test(request), "the raw request shows the body sent (the model), and no credential header");
  await page.screenshot({ path: path.join(outDir, "e2e-board-debugger.png") });
  const calls = model.requests.length;

  // Take again: a fork from the draft; the parent's other finished steps are reused.
  const parentId = await page.evaluate(() => document.querySelector("[data-run-id]")?.getAttribute("data-run-id"));
  await debug.getByRole("button", { name: "Take again" }).click();
  await page.waitForFunction(() => document.querySelector('.step-node[data-step="draft"]')?.getAttribute("data-state") === "running", null, { timeout: 15000 });
  check(true, "the fork plays the draft again, live");
  const reused = () => ["outline", "title"].every((s) => document.querySelector(`.step-node[data-step="${s}"]`)?.getAttribute("data-state") === "cached");
  await page.waitForFunction(reused, null, { timeout: 10000 }).catch(() => {});
  const label = (s) => page.locator(`.step-node[data-step="${s}"] .state-label`).textContent();
  check((await stateOf(page, "outline")) === "cached" && (await label("outline")) === "kept", "in the fork, outline is kept from the parent (the node says kept)");
  check((await stateOf(page, "title")) === "cached" && (await label("title")) === "kept", "in the fork, title is kept from the parent (the node says kept)");
  await page.waitForFunction(() => [...document.querySelectorAll(".step-node")].every((e) => ["succeeded", "cached"].includes(e.getAttribute("data-state"))), null, { timeout: 30000 });
  check(model.requests.length === calls + 1, `the fork called the model once more (the draft only): ${model.requests.length - calls} call(s)`);
  // Zoomed out until a node shows its state alone, a kept step still says kept.
  const zoom = () => page.$eval(".react-flow__viewport", (e) => new DOMMatrix(getComputedStyle(e).transform).a);
  for (let i = 0; i < 12 && (await zoom()) >= 0.45; i++) await page.locator(".react-flow__controls-zoomout").click();
  check((await label("outline")) === "kept" && (await label("draft")) === "succeeded", `zoomed out (${(await zoom()).toFixed(2)}), outline still says kept and draft succeeded`);

  // The file the fork wrote, against the parent run's: only the draft's last line changed.
  await fitView(page);
  await page.locator('.step-node[data-step="save"]').click();
  await debug.getByRole("button", { name: "draft.md" }).click();
  const diff = debug.getByLabel("file diff");
  await diff.waitFor({ timeout: 10000 });
  const counts = await diff.locator(".diff-add-count, .diff-del-count").allTextContents();
  check(counts.join(" ") === "+1 −1", `the debugger diffs the written file against the parent run's: ${counts.join(" ")} lines`);
  const added = await diff.locator(".diff-add .diff-text").allTextContents();
  const removed = await diff.locator(".diff-del .diff-text").allTextContents();
  check(added.length === 1 && added[0].includes("(call ") && removed.length === 1 && removed[0].includes("(call ") && added[0] !== removed[0], `the changed line is the draft's last: −${JSON.stringify(removed[0])} +${JSON.stringify(added[0])}`);
  await page.screenshot({ path: path.join(outDir, "e2e-board-file-diff.png") });
  await debug.getByRole("radiogroup", { name: "Show the file as" }).getByRole("radio", { name: "Text" }).click();
  const text = await debug.getByLabel("file text").textContent();
  check(text.startsWith("Answer to") && text.includes(added[0].trim()), "Text shows the file as the fork wrote it");

  await page.getByRole("tab", { name: "History" }).click();
  await page.waitForSelector('[data-testid="history"] .history-row');
  const history = await page.$$eval(".history-row", (els) => els.map((e) => ({ id: e.getAttribute("data-run"), text: e.textContent })));
  check(history.length === 2, `the history lists both runs: ${history.map((h) => h.id).join(", ")}`);
  check(history.some((h) => h.text.includes("fork of") && (!parentId || h.text.includes(parentId))), "the new run is listed as a fork of the first");
  const storeLine = page.getByTestId("store-line");
  await storeLine.waitFor();
  const storeText = await storeLine.textContent();
  // (The scenarios may share one store: other scenarios' runs count too.)
  check(/Runs are kept in .*runs\.db: [\d.]+ (KB|MB), \d+ runs?\./.test(storeText ?? ""), `the history says where runs are kept and how big the store is: ${JSON.stringify(storeText?.slice(0, 120))}`);
  await page.screenshot({ path: path.join(outDir, "e2e-board-history.png") });

  // Compare the two runs step by step.
  const [newer, older] = history.map((h) => h.id);
  await page.getByLabel(`Compare as A: ${older}`).check();
  await page.getByLabel(`Compare as B: ${newer}`).check();
  await page.locator('[data-testid="board-dock"]').getByRole("button", { name: "Compare", exact: true }).click();
  await page.waitForSelector('[data-testid="compare"] .compare-row');
  const compared = await page.$$eval(".compare-row", (els) => els.map((e) => e.getAttribute("data-step")).sort());
  check(JSON.stringify(compared) === JSON.stringify(["draft", "final", "outline", "save", "title"]), `the comparison has a row per step: ${compared.join(", ")}`);
  // A row opens the step in both runs: the draft was taken again, so its output differs in its last line.
  await page.locator('.compare-row[data-step="draft"]').click();
  const detail = page.getByTestId("compare-step");
  await detail.waitFor();
  check((await detail.locator("section").count()) === 2, "a compared step shows run A and run B side by side");
  const outputDiff = detail.getByLabel("output diff");
  await outputDiff.waitFor();
  const plusMinus = await outputDiff.locator(".diff-add-count, .diff-del-count").allTextContents();
  check(plusMinus.join(" ") === "+1 −1", `and a line diff of the two outputs: ${plusMinus.join(" ")}`);
  check(((await detail.textContent()) ?? "").includes("The same prompt in both runs."), "the prompts are the same, and it says so");
  await page.screenshot({ path: path.join(outDir, "e2e-compare-step.png") });

  // Replay the first run and scrub back to a moment when the draft was streaming.
  await page.getByRole("tab", { name: "History" }).click();
  await page.locator(`.history-row[data-run="${older}"]`).click();
  await page.waitForFunction((id) => document.querySelector("[data-run-id]")?.getAttribute("data-run-id") === id, older);
  check((await stateOf(page, "final")) === "succeeded", "the stored run opens at its end: final succeeded");
  await page.locator('[data-testid="scrub"]').evaluate((el) => {
    const set = Object.getOwnPropertyDescriptor(HTMLInputElement.prototype, "value").set;
    set.call(el, "2000");
    el.dispatchEvent(new Event("input", { bubbles: true }));
  });
  await page.waitForFunction(() => document.querySelector('.step-node[data-step="draft"]')?.getAttribute("data-state") === "running", null, { timeout: 5000 });
  check(true, "scrubbed to 2.0 s, the replay shows the draft running");
  check((await stateOf(page, "final")) === "idle", "and final not started yet");
  await page.screenshot({ path: path.join(outDir, "e2e-board-replay.png") });
  await page.locator('[data-testid="scrub-end"]').click();
  await page.waitForFunction(() => document.querySelector('.step-node[data-step="final"]')?.getAttribute("data-state") === "succeeded");
  check(true, "End brings the replay back to the run's end");

  // Retention from the history: keep the newest run only.
  await page.getByRole("tab", { name: "History" }).click();
  await page.getByLabel("Runs to keep").fill("1");
  await page.getByTestId("store-line").getByRole("button", { name: "Apply" }).click();
  await page.waitForSelector("text=/The store keeps the newest run: \\d+ older runs? removed\\./");
  await page.getByRole("button", { name: "Refresh" }).click();
  await page.waitForFunction(() => document.querySelectorAll(".history-row").length === 1);
  const kept = await page.$$eval(".history-row", (els) => els.map((e) => e.getAttribute("data-run")));
  check(kept.length === 1 && kept[0] === newer, `keeping 1 run leaves the newest in the history: ${kept.join(", ")}`);
  await page.screenshot({ path: path.join(outDir, "e2e-board-retention.png") });
  // Zoomed far out, steps are boxes in their state's colour, and the warned one is outlined.
  for (let i = 0; i < 12 && (await page.locator(".canvas.far").count()) === 0; i++) {
    await page.locator(".react-flow__controls-zoomout").click();
  }
  check((await page.locator(".canvas.far").count()) === 1, "zoomed far out, the canvas draws steps as boxes");
  const draftClasses = await page.locator('.step-node[data-step="draft"]').getAttribute("class");
  const finalClasses = await page.locator('.step-node[data-step="final"]').getAttribute("class");
  check(draftClasses.includes("warned") && !finalClasses.includes("warned"), `far out, the warned draft is marked and final is not: ${draftClasses}`);
  await page.screenshot({ path: path.join(outDir, "e2e-board-far.png") });
  await page.locator(".react-flow__controls-fitview").click();

  // Put the store's retention back for the scenarios after this one.
  const restored = await fetch(`${origin}/api/setRetention`, { method: "POST", headers: { "Content-Type": "application/json", Authorization: `Bearer ${token}` }, body: JSON.stringify({ keepRuns: 1000 }) });
  check(restored.ok, "the retention is set back to 1,000 runs");
}
