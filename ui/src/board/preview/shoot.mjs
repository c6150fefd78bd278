// Screenshots of the board preview (development only): starts Vite's dev server on this folder's
// index.html, opens it in headless Chromium, and walks the tabs and the debugger's sections.
// Usage: node src/board/preview/shoot.mjs [outDir]   (default /tmp/board-preview)
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { createServer } from "vite";
import { chromium } from "playwright-core";

const uiDir = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../../..");
const out = process.argv[2] ?? "/tmp/board-preview";
fs.mkdirSync(out, { recursive: true });

const server = await createServer({ root: uiDir, configFile: path.join(uiDir, "vite.config.ts"), server: { port: 5199, strictPort: false }, logLevel: "error" });
await server.listen();
const base = server.resolvedUrls.local[0].replace(/\/$/, "");
const browser = await chromium.launch({ executablePath: "/usr/bin/chromium", args: ["--headless", "--no-sandbox", "--disable-gpu"] });
const errors = [];
let failed = false;
const check = (cond, message) => {
  console.log(`  ${cond ? "ok" : "NOT OK"} - ${message}`);
  if (!cond) failed = true;
};
try {
  const page = await browser.newPage({ viewport: { width: 1500, height: 900 } });
  page.on("console", (m) => m.type() === "error" && errors.push(m.text()));
  page.on("pageerror", (e) => errors.push(String(e)));
  const open = async (query) => {
    await page.goto(`${base}/src/board/preview/index.html?${query}`);
    await page.waitForSelector('[data-testid="board-dock"]');
  };
  const shot = (name) => page.screenshot({ path: path.join(out, `${name}.png`) });

  await open("tab=timeline&focus=draft");
  const rows = await page.locator(".timeline-row").count();
  check(rows > 0 && rows < 60, `the timeline renders only the rows in view: ${rows} of 305`);
  await page.locator(".tl-scroll").evaluate((el) => (el.scrollTop = 18 * 200));
  await page.waitForTimeout(100);
  check((await page.locator('.timeline-row[data-step^="bulk-0"]').count()) > 0, "scrolling brings later rows in");
  check((await page.getByTestId("dock-counts").textContent()).includes("of 305"), `counts: ${await page.getByTestId("dock-counts").textContent()}`);
  check((await page.getByTestId("dock-totals").textContent()).includes("~2,200 tokens · $0.0579"), `totals: ${await page.getByTestId("dock-totals").textContent()}`);
  const debug = page.getByRole("complementary", { name: "Step debugger" });
  const prompt = await debug.getByLabel("rendered prompt").first().textContent();
  check(prompt.includes("[slow] Write a draft from this outline"), "the debugger shows the rendered prompt");
  const output = await debug.getByLabel("step output").first().textContent();
  check(output.includes("w50"), "the debugger shows the whole output");
  await shot("timeline-debugger");

  await page.getByRole("tab", { name: /Warnings/ }).click();
  const warnings = await page.$$eval(".warning-row", (els) => els.map((e) => [e.getAttribute("data-step"), e.getAttribute("data-kind")]));
  check(warnings.length === 3 && warnings[0][1] === "onCriticalPath", `warnings newest first: ${JSON.stringify(warnings)}`);
  await shot("warnings");
  await page.locator('.warning-row[data-kind="waitingForSlot"] .step-link').click();
  check((await debug.getAttribute("data-step")) === "draft", "a warning's step opens in the debugger");

  await page.getByRole("tab", { name: "Cost & tokens" }).click();
  const costRows = await page.locator(".cost-chart .cost-row[data-step]").count();
  check(costRows === 30, `the cost chart shows the top 30: ${costRows}`);
  check((await page.locator(".cost-more").textContent()).startsWith("and "), "…and says how many more");
  await shot("cost");

  await page.getByRole("tab", { name: "History" }).click();
  await page.waitForSelector('[data-testid="history"] .history-row');
  const history = await page.$$eval(".history-row", (els) => els.map((e) => e.textContent));
  check(history.length === 3 && history[0].includes("fork of board-demo-20250102-0900-aa from draft"), "history lists the runs, with the fork's parent");
  await page.getByLabel("Compare as A: preview-run").check();
  await page.getByLabel("Compare as B: board-demo-20250102-0900-aa").check();
  await shot("history");
  await page.getByRole("button", { name: "Compare", exact: true }).click();
  await page.waitForSelector('[data-testid="compare"] .compare-row');
  check((await page.locator(".compare-row.differs").count()) === 3, "compare highlights the 3 differing steps");
  await shot("compare");

  // The debugger: output as markdown, files with a diff, raw, fork form (a run of 5 steps).
  await open("bulk=0&tab=timeline");
  await page.locator('.timeline-row[data-step="outline"]').click();
  check((await debug.getAttribute("data-step")) === "outline", "clicking a timeline row focuses its step");
  await debug.locator('.dbg-port[data-port="output"]').getByRole("radio", { name: "Markdown" }).click();
  check((await debug.locator(".markdown h1").textContent()) === "Owls", "markdown renders a heading");
  check((await debug.locator(".markdown script").count()) === 0 && (await debug.locator('.markdown a[href^="javascript"]').count()) === 0, "markdown renders no script and no javascript: link");
  await debug.getByRole("button", { name: /Raw/ }).click();
  await shot("debugger-outline");

  await page.locator('.timeline-row[data-step="draft"]').click();
  await debug.getByRole("button", { name: "draft.md" }).click();
  await page.waitForSelector(".diff-line");
  check((await debug.locator(".diff-line.diff-add").count()) === 2 && (await debug.locator(".diff-line.diff-del").count()) === 2, "the file shows a diff against the parent run");
  await debug.getByRole("button", { name: "Fork with edits…" }).click();
  await debug.getByLabel("prompt", { exact: true }).waitFor();
  await debug.locator(".dbg-fork").scrollIntoViewIfNeeded();
  await shot("debugger-fork-form");
  await debug.locator(".dbg-files").scrollIntoViewIfNeeded();
  await shot("debugger-draft-files-fork");
  await debug.locator(".dbg-attempts").scrollIntoViewIfNeeded();
  await shot("debugger-draft-attempts");
  await debug.locator(".dbg-log").scrollIntoViewIfNeeded();
  await shot("debugger-draft-log");

  await page.locator('.timeline-row[data-step="final"]').click();
  await shot("debugger-final");

  // Scrubbing a stored run.
  await page.getByTestId("scrub").fill("2000");
  await page.waitForTimeout(100);
  check((await page.getByTestId("dock-status").textContent()) === "replay", "scrubbing replays the run");
  await page.locator('.timeline-row[data-step="draft"]').click();
  const attemptsAt2s = await debug.locator(".attempt-row").count();
  check(attemptsAt2s === 2, `the debugger follows the scrubbed moment: ${attemptsAt2s} attempts at 2 s`);
  await shot("scrubbed");
  await page.getByTestId("scrub-end").click();
  check((await debug.locator(".attempt-row").count()) === 3, "End returns to the whole run");

  // Pin, then a fork with an edited prompt: the board follows the new run, the step stays focused.
  await debug.getByRole("button", { name: "Pin this output" }).click();
  await debug.getByRole("button", { name: "Unpin" }).waitFor();
  check(true, "pinning turns the button into Unpin");
  await debug.getByRole("button", { name: "Fork with edits…" }).click();
  await debug.getByLabel("prompt", { exact: true }).fill("A shorter draft, please.");
  await debug.getByRole("button", { name: "Fork and run" }).click();
  await page.waitForFunction(() => document.querySelector('[data-testid="dock-run"]')?.textContent === "preview-fork");
  check((await debug.getAttribute("data-step")) === "draft", "after a fork the board shows the new run and the debugger keeps the step");
  const fork = await page.evaluate(() => window.previewCalls.filter((c) => c.command === "forkRun").map((c) => c.args));
  const draftPrompt = fork[0]?.melody?.steps.find((st) => st.id === "draft")?.config?.prompt;
  check(fork.length === 1 && fork[0].runId === "preview-run" && fork[0].fromStep === "draft" && draftPrompt === "A shorter draft, please." && fork[0].inputs === undefined, `forkRun got the edited prompt and no input change: ${JSON.stringify({ ...fork[0], melody: fork[0]?.melody ? "…" : undefined })}`);
  const pin = await page.evaluate(() => window.previewCalls.find((c) => c.command === "pinStep")?.args);
  check(pin?.runId === "preview-run" && pin?.step === "draft", "pinStep got the run and the step");

  // Live: elapsed ticks and the output streams.
  await open("live=1&tab=timeline&focus=draft");
  await page.waitForFunction(() => document.querySelector(".dbg-stream")?.textContent?.includes("w3"), null, { timeout: 20000 });
  const e1 = await page.getByTestId("dock-elapsed").textContent();
  await page.waitForTimeout(600);
  const e2 = await page.getByTestId("dock-elapsed").textContent();
  check(e1 !== e2, `elapsed ticks live: ${e1} → ${e2}`);
  check((await page.locator(".caret").count()) === 1, "a caret blinks after the streamed text");
  check((await debug.getByRole("button", { name: "Rerun from here" }).isDisabled()) && !(await debug.getByRole("button", { name: "Pin this output" }).isVisible() && !(await debug.getByRole("button", { name: "Pin this output" }).isDisabled())), "fork actions wait for the run to finish");
  await shot("live");
  // A thousand steps, live: long tasks while it plays (Timeline open, debugger on a step).
  await open("live=1&bulk=1000&tab=timeline&focus=draft");
  await page.evaluate(() => {
    window.__long = [];
    new PerformanceObserver((l) => window.__long.push(...l.getEntries().map((e) => e.duration))).observe({ type: "longtask", buffered: false });
  });
  await page.waitForTimeout(5000);
  const long = await page.evaluate(() => window.__long);
  const steps = await page.getByTestId("dock-counts").textContent();
  check(long.filter((d) => d > 100).length === 0, `1,000 steps live for 5 s: ${long.length} long tasks, longest ${Math.round(Math.max(0, ...long))} ms (${steps})`);
  await shot("live-1000");

  check(errors.length === 0, `no console errors${errors.length ? `: ${errors.join(" | ")}` : ""}`);
} finally {
  await browser.close();
  await server.close();
}
console.log(`screenshots in ${out}`);
process.exit(failed ? 1 : 0);
