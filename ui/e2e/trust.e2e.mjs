// End to end: import a SuperOptiX orchestra through the Import dialog, see what it may do; add a
// command step, and watch Run be refused until the melody is trusted (the UI and the backend's
// `permissions` answer agree at every point).
import fs from "node:fs";
import path from "node:path";
import { spawnSync } from "node:child_process";
import { check, outDir, symphonyBin, tokenOf } from "./lib.mjs";

const YAML = `orchestra:
  id: "tiny"
  name: "Tiny orchestra"
  description: "Research, then write it up."
agents:
  - researcher
  - writer
tasks:
  - name: research
    agent: researcher
    description: Research {goal}.
  - name: write_up
    agent: writer
    description: Write up what was found.
    context: [research]
`;

/** Calls the real backend as the UI does: POST /api/<command> with the bearer token. */
async function api(server, command, args) {
  const u = new URL(server.url);
  const res = await fetch(`${u.origin}/api/${command}`, {
    method: "POST",
    headers: { "content-type": "application/json", authorization: `Bearer ${tokenOf(server.url)}` },
    body: JSON.stringify(args),
  });
  return { ok: res.ok, body: await res.json() };
}

/** The permissions dialog's rows as { label: [step ids] }. */
async function shownPermissions(page) {
  return page.$$eval(".perm-table tr", (rows) =>
    Object.fromEntries(rows.map((r) => [r.querySelector("th").textContent, [...r.querySelectorAll("code.chip")].map((c) => c.textContent)])),
  );
}

function sameAsBackend(shown, perms) {
  return (
    JSON.stringify(shown["Network"]) === JSON.stringify(perms.network) &&
    JSON.stringify(shown["Files (in the run workspace)"]) === JSON.stringify(perms.files) &&
    JSON.stringify(shown["Commands on this machine"]) === JSON.stringify(perms.commands) &&
    JSON.stringify(shown["Secrets (named credentials)"]) === JSON.stringify(perms.secrets)
  );
}

async function startRun(page) {
  await page.getByRole("button", { name: "▶ Run" }).click();
  const run = page.getByRole("dialog", { name: "Run this melody" });
  await run.getByLabel("run input goal").fill("a tiny test");
  await run.getByRole("button", { name: "Start run" }).click();
}

export async function trustScenario(page, server) {
  await page.goto(server.url);
  await page.getByRole("button", { name: "Import a melody…" }).click();
  const dialog = page.getByRole("dialog", { name: "Import a melody" });
  await dialog.getByLabel("Melody or orchestra text", { exact: true }).fill(YAML);
  await dialog.getByRole("button", { name: "Import" }).click();

  // The import shows what the melody may do before anything runs.
  const perms = page.getByRole("dialog", { name: "What this imported melody may do" });
  await perms.waitFor();
  await page.waitForSelector('.step-node[data-step="write_up"]');
  check((await page.locator(".react-flow__node-step").count()) === 2 && (await page.locator(".react-flow__edge").count()) === 1, "the orchestra imports as two steps joined by one edge");
  const shownOnImport = await shownPermissions(page);
  check(/needs no trust/.test((await perms.getByTestId("trust-state").textContent()) ?? ""), "the import dialog says the melody runs no commands and needs no trust");
  check((await perms.getByRole("button", { name: "Trust this melody" }).count()) === 0, "with nothing to trust, there is no Trust button, only OK");
  await page.screenshot({ path: path.join(outDir, "e2e-import-permissions.png") });
  await perms.getByRole("button", { name: "OK" }).click();

  // Save it where the dialog proposes, then ask the backend the same question.
  await page.keyboard.press("Control+s");
  await page.getByRole("dialog", { name: "Save melody as" }).getByRole("button", { name: "Save" }).click();
  await page.waitForSelector('[data-testid="dirty"]', { state: "detached" });
  const file = path.join(server.project, "melodies/tiny.melody.json");
  check(fs.existsSync(file), "the imported melody is saved as melodies/tiny.melody.json");
  const imported = (await api(server, "permissions", { melody: JSON.parse(fs.readFileSync(file, "utf8")) })).body;
  check(sameAsBackend(shownOnImport, imported), `the dialog's network/files/commands/secrets match the backend's permissions: ${JSON.stringify(shownOnImport)}`);
  check((await page.locator(".toolbar .trust").getAttribute("data-trust")) === "none", "the toolbar's permissions button says it runs no commands");

  // Add a coding agent step (capability `command`) and configure it to run `echo`.
  await page.locator('.palette-item[data-type="instrument.agent"]').click();
  await page.waitForSelector(".react-flow__node-step.selected");
  const agent = await page.locator(".react-flow__node-step.selected").getAttribute("data-id");
  await page.getByLabel("preset", { exact: true }).selectOption("command");
  const prompt = page.getByLabel("prompt template");
  await prompt.fill("Say {{goal}}");
  await page.getByRole("textbox", { name: "command", exact: true }).focus();
  await page.getByRole("textbox", { name: "command", exact: true }).fill('["echo", "{{prompt}}"]');
  await page.getByLabel("Step description").focus();
  await page.waitForSelector(`.toolbar .trust[data-trust="untrusted"]`, { timeout: 5000 });
  check(true, `after adding the command step '${agent}', the toolbar says "⚠ Untrusted"`);
  await page.waitForFunction(() => document.querySelector(".problems .count")?.textContent === "0", null, { timeout: 5000 });
  check(true, "the melody with the agent step is valid");
  await page.keyboard.press("Control+s");
  await page.waitForSelector('[data-testid="dirty"]', { state: "detached" });
  const withAgent = JSON.parse(fs.readFileSync(file, "utf8"));
  const before = (await api(server, "permissions", { melody: withAgent })).body;
  check(JSON.stringify(before.commands) === JSON.stringify([agent]) && before.trusted === false, `the backend agrees: commands ${JSON.stringify(before.commands)}, trusted ${before.trusted}`);
  const refused = await api(server, "startRun", { melody: withAgent, inputs: { goal: "hi" } });
  check(!refused.ok && /not trusted/.test(refused.body.message), `the backend's startRun refuses it: "${refused.body.message}"`);

  // The page cannot grant trust through the API: only a person can.
  const pageTrust = await api(server, "trustMelody", { melody: withAgent });
  check(!pageTrust.ok && /only a person grants trust/.test(pageTrust.body.message), `the API refuses trustMelody from a page: "${pageTrust.body.message}"`);
  check((await api(server, "permissions", { melody: withAgent })).body.trusted === false, "and the melody is still not trusted");

  // Run from the UI: refused until trusted, and the UI says why.
  await startRun(page);
  const ask = page.getByRole("dialog", { name: "This melody needs your trust" });
  await ask.waitFor();
  const asked = await shownPermissions(page);
  check(JSON.stringify(asked["Commands on this machine"]) === JSON.stringify([agent]), `the run asks for trust and lists the command step: ${asked["Commands on this machine"]}`);
  check(sameAsBackend(asked, before), "the dialog's rows match the backend's permissions");
  const facts = await ask.getByTestId("trust-facts").textContent();
  check(facts.includes(`${agent} runs \`echo {{prompt}}\` on this machine`), `it lists the command line that would run: "${facts}"`);
  const terminal = await ask.getByTestId("trust-in-terminal").textContent();
  check(terminal.includes("symphony trust melodies/tiny.melody.json"), `a page cannot trust: it says to run symphony trust in a terminal: "${terminal.slice(0, 80)}…"`);
  await ask.getByRole("button", { name: "Not now" }).click();
  const toast = page.locator(".toast.error", { hasText: "Not run" });
  await toast.waitFor();
  const why = (await toast.textContent()) ?? "";
  check(why.includes(agent) && /not trusted/.test(why), `declining shows why the run was refused: "${why.replace(/×$/, "")}"`);
  check((await page.locator(".badge.run-running, .badge.run-succeeded, .badge.run-failed").count()) === 0, "no run started");
  await page.screenshot({ path: path.join(outDir, "e2e-run-refused.png") });

  // A person trusts it in a terminal (here: `symphony trust FILE --yes`, as a script would after
  // asking), then the page checks again.
  await page.locator('.toolbar .trust[data-trust="untrusted"]').click();
  const review = page.getByRole("dialog", { name: "What this melody may do" });
  await review.getByTestId("trust-in-terminal").waitFor();
  const cli = spawnSync(symphonyBin, ["trust", "melodies/tiny.melody.json", "--yes"], { cwd: server.project, env: server.env, encoding: "utf8" });
  check(cli.status === 0 && /trusted melodies\/tiny\.melody\.json/.test(cli.stdout), `symphony trust records it: ${cli.stdout.trim()}`);
  await page.screenshot({ path: path.join(outDir, "e2e-trust-in-terminal.png") });
  await review.getByRole("button", { name: "Check again" }).click();
  await page.waitForSelector('.toolbar .trust[data-trust="trusted"]');
  check(true, 'after "Check again", the toolbar says "✓ Trusted"');
  const after = (await api(server, "permissions", { melody: withAgent })).body;
  check(after.trusted === true, "the backend's permissions now answer trusted: true");
  await startRun(page);
  await page.waitForSelector(".badge.run-running, .badge.run-succeeded, .badge.run-failed, .badge.run-cancelled", { timeout: 10000 });
  check((await page.getByRole("dialog", { name: "This melody needs your trust" }).count()) === 0, "Run no longer asks for trust: the run starts");
  await page.waitForSelector(".badge.run-succeeded, .badge.run-failed, .badge.run-cancelled", { timeout: 30000 });
  const status = await page.locator(".toolbar .badge[class*='run-']").textContent();
  const agentState = await page.locator(`.step-node[data-step="${agent}"]`).getAttribute("data-state");
  check(agentState !== "idle", `the agent step played: it ended '${agentState}' (${status})`);
  await page.screenshot({ path: path.join(outDir, "e2e-trusted-run.png") });
}
