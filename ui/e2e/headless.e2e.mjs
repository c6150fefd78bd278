// End to end: a run played headless by `symphony run` into the store `symphony serve` reads is
// listed as playing elsewhere (no Resume while its process lives) and watched live on the board
// (followed through the store), then killed with SIGKILL mid-run; the app lists it as not
// finished at once and Resume plays on from where it stopped, keeping the steps that had
// finished.
import { spawn } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { check, outDir, symphonyBin } from "./lib.mjs";

const chain = {
  formatVersion: 1,
  melody: { id: "slow-chain", name: "Slow chain", description: "Four delays in a row." },
  steps: ["a", "b", "c", "d"].map((id) => ({ id, kind: "operator", type: "operator.delay", config: { ms: 2500 } })),
  edges: [
    { from: "a.output", to: "b.input" },
    { from: "b.output", to: "c.input" },
    { from: "c.output", to: "d.input" },
  ],
  layout: { steps: { a: { x: 0, y: 0 }, b: { x: 300, y: 0 }, c: { x: 600, y: 0 }, d: { x: 900, y: 0 } } },
};

const stateOf = (page, step) => page.locator(`.step-node[data-step="${step}"]`).getAttribute("data-state");
const waitState = (page, step, states, timeout = 15000) =>
  page.waitForFunction(([s, want]) => want.includes(document.querySelector(`.step-node[data-step="${s}"]`)?.getAttribute("data-state")), [step, states], { timeout });

export async function headlessScenario(page, server) {
  fs.writeFileSync(path.join(server.project, "melodies/slow-chain.melody.json"), JSON.stringify(chain, null, 2));
  // Played by another process into the same store.
  const cli = spawn(symphonyBin, ["run", "melodies/slow-chain.melody.json"], { cwd: server.project, stdio: "ignore", env: server.env });
  try {
    await page.goto(server.url);
    const card = page.locator('.run-card[data-run^="slow-chain-"]');
    await card.waitFor({ timeout: 10000 });
    const playing = await card.getAttribute("data-run");
    check((await card.locator(".badge").textContent()) === "playing elsewhere", "the welcome view lists the headless run as playing elsewhere (another process beats for it)");
    check((await card.locator(".badge").getAttribute("title"))?.includes(`process ${cli.pid} on this machine`), `its badge names the process that plays it (${cli.pid})`);
    check((await page.getByRole("button", { name: `Resume ${playing}` }).count()) === 0, "a run another process plays offers no Resume");
    await page.screenshot({ path: path.join(outDir, "e2e-headless-elsewhere.png") });
    await card.click();
    await waitState(page, "a", ["running", "succeeded"]);
    check(true, "opened, the board shows the headless run's steps");
    await waitState(page, "b", ["running"]);
    check((await stateOf(page, "a")) === "succeeded", "followed live through the store: a succeeded, b running");
    await waitState(page, "b", ["succeeded"]);
    cli.kill("SIGKILL");
    await new Promise((r) => cli.once("exit", r));
    check(true, "the headless process is killed with SIGKILL after b");
  } finally {
    if (cli.exitCode === null && cli.signalCode === null) cli.kill("SIGKILL");
  }
  await page.screenshot({ path: path.join(outDir, "e2e-headless-followed.png") });

  // Back on the welcome view, the run is still not finished; Resume plays on.
  await page.getByRole("button", { name: "◂ Melodies" }).click();
  const card = page.locator('.run-card[data-run^="slow-chain-"]');
  await card.waitFor();
  const runId = await card.getAttribute("data-run");
  check((await card.locator(".badge").textContent()) === "not finished", `after the kill, ${runId} is listed as not finished`);
  await page.getByRole("button", { name: `Resume ${runId}` }).click();
  await waitState(page, "d", ["succeeded"], 20000);
  const label = (s) => page.locator(`.step-node[data-step="${s}"] .state-label`).textContent();
  check((await stateOf(page, "a")) === "cached" && (await stateOf(page, "b")) === "cached" && (await label("a")) === "kept", "resumed: a and b are kept from before the kill (the node says kept)");
  check((await stateOf(page, "c")) === "succeeded", "c and d were played");
  await page.waitForSelector('[data-testid="dock-status"].run-succeeded, [data-testid="dock-status"] .run-succeeded, .badge.run-succeeded');
  check(true, "the run ends succeeded");
  await page.screenshot({ path: path.join(outDir, "e2e-headless-resumed.png") });
  const entry = await page.evaluate(async (id) => {
    // The page keeps the token in this tab's sessionStorage (it takes it out of the URL).
    const token = sessionStorage.getItem("symphony.token");
    const r = await fetch("/api/listRuns", { method: "POST", headers: { "Content-Type": "application/json", Authorization: `Bearer ${token}` }, body: "{}" });
    return (await r.json()).find((x) => x.id === id);
  }, runId);
  check(entry?.status === "succeeded" && entry?.reused === 2, `the store agrees: ${entry?.status}, ${entry?.reused} steps reused`);
}
