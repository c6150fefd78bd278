// End to end: a newcomer's first minutes, each step one that once went wrong.
// - Run on a melody with no run inputs (it blanked the app: a selector made a new object each
//   render), and on an imported SuperOptiX orchestra without a {goal}.
// - Editing apart from debugging: after a run, selecting a step opens its settings with its last
//   run one tab away; a committed edit keeps the keyboard where it was; Esc goes back to editing.
// - A one-line field (Write file's path) is one line: Enter commits, no newline is saved.
// - A typo in a port reference is flagged with the port meant, in the editor and the validator.
// - A new melody's id follows its name, so it never shows another melody's runs.
// - A shared .melody.json imports in the browser, with its permissions shown.
import fs from "node:fs";
import path from "node:path";
import { spawnSync } from "node:child_process";
import { centreOf, check, mouseDrag, outDir, symphonyBin } from "./lib.mjs";
import { startModelServer } from "./loopback.mjs";

const ORCHESTRA = `orchestra:
  id: "standup"
  name: "Standup notes"
agents:
  - collector
  - writer
tasks:
  - name: collect
    agent: collector
    description: Collect what happened yesterday.
  - name: summarise
    agent: writer
    description: Summarise it in three lines.
    context: [collect]
`;

/** The id of the element that has the keyboard, by its accessible label. */
const focused = (page) => page.evaluate(() => document.activeElement?.getAttribute("aria-label") ?? document.activeElement?.tagName ?? null);

async function noFault(page, what) {
  check((await page.getByTestId("ui-fault").count()) === 0 && (await page.locator(".editor").count()) === 1, `${what}: the app is still drawn (no fault screen)`);
}

async function runToEnd(page) {
  await page.getByRole("button", { name: "▶ Run" }).click();
  const dialog = page.getByRole("dialog", { name: "Run this melody" });
  await dialog.waitFor();
  return dialog;
}

export async function newcomerScenario(page, server) {
  const faults = [];
  page.on("pageerror", (e) => faults.push(e.message));
  await page.goto(server.url);
  // The welcome view: the project's melodies, and the templates to start from, apart.
  await page.waitForSelector(".melody-card");
  const headings = await page.locator(".welcome h2").allTextContents();
  check(headings.some((h) => h.startsWith("Your melodies")) && headings.some((h) => h.startsWith("Start from a template")), `the welcome view lists melodies and templates apart: ${JSON.stringify(headings)}`);
  check((await page.getByTestId("templates").locator(".melody-card").count()) >= 1, "templates/ is offered");
  await page.getByRole("button", { name: "New melody" }).click();
  await page.waitForSelector(".react-flow__pane");
  check((await page.getByTestId("empty-canvas").count()) === 1, "the empty canvas says how to start");
  await page.locator(".react-flow__pane").click({ position: { x: 20, y: 20 } });
  await page.keyboard.press("?");
  const sheet = page.getByRole("dialog", { name: "Keyboard shortcuts" });
  await sheet.waitFor();
  const sheetText = (await sheet.textContent()) ?? "";
  check(sheetText.includes("Ctrl+K") && !sheetText.includes("⌘"), "? opens the shortcut sheet, in this platform's words (Ctrl+K on Linux)");
  check((await page.getByRole("button", { name: "Command palette" }).textContent()) === "Ctrl+K", "the toolbar says Ctrl+K on Linux, not ⌘K");
  await page.keyboard.press("Escape");
  await sheet.waitFor({ state: "detached" });

  // The melody's id follows its name while it was never saved.
  const name = page.getByLabel("Melody name");
  await name.fill("Hello board");
  await name.press("Enter");
  check((await focused(page)) === "Melody name", "Enter commits the melody's name and keeps the keyboard in the field");
  await page.waitForFunction(() => document.querySelector('[aria-label="Melody id"]')?.value === "hello-board");
  check(true, 'renaming the new melody to "Hello board" makes its id hello-board (it was untitled)');

  // A run input whose name is taken is refused, not silently replaced.
  await page.getByLabel("New run input name").fill("goal");
  check(await page.getByRole("button", { name: "Add input" }).isDisabled(), "adding a second run input named goal is refused");
  check(((await page.locator(".inspector [role=alert]").textContent()) ?? "").includes("already has a run input named goal"), "and the inspector says why");
  await page.getByLabel("New run input name").fill("");

  // No run inputs: remove the default `goal`.
  await page.locator(".input-decl").filter({ hasText: "goal" }).getByRole("button", { name: "remove" }).click();
  await page.waitForFunction(() => document.querySelectorAll(".input-decl").length === 0);
  const pane = page.locator(".react-flow__pane");
  const box = await pane.boundingBox();
  await page.locator('.palette-item[data-type="operator.template"]').dragTo(pane, { targetPosition: { x: 200, y: box.height / 2 } });
  await page.waitForSelector('.step-node[data-step="template"]');
  const tpl = page.getByLabel("template template");
  await tpl.fill("Hello from a melody with no inputs");
  await page.getByLabel("Step description").focus();

  // 1. The blocker: Run on a melody with no inputs.
  let dialog = await runToEnd(page);
  check(((await dialog.textContent()) ?? "").includes("This melody takes no inputs."), "the Run dialog opens and says the melody takes no inputs");
  await noFault(page, "Run dialog with no inputs");
  await dialog.getByRole("button", { name: "Start run" }).click();
  await page.waitForSelector(".badge.run-succeeded", { timeout: 20000 });
  check(true, "the run with no inputs succeeds");
  await noFault(page, "after the run");

  // 2. Editing apart from debugging.
  await page.locator('.step-node[data-step="template"] .step-title').click();
  const tabs = page.getByRole("tablist", { name: "Step panel" });
  await tabs.waitFor();
  check((await tabs.getByRole("tab", { name: "Settings" }).getAttribute("aria-selected")) === "true", "after a run, selecting a step opens its Settings tab");
  check((await page.getByRole("complementary", { name: "Inspector" }).count()) === 1, "the inspector (not the debugger) is shown");
  const description = page.getByLabel("Step description");
  await description.fill("Says hello");
  await description.press("Enter");
  await page.waitForTimeout(400);
  check((await focused(page)) === "Step description", "a committed edit keeps the keyboard in the field it was made in");
  check((await tabs.getByRole("tab", { name: "Settings" }).getAttribute("aria-selected")) === "true", "a committed edit does not flip the panel to the debugger");
  await tabs.getByRole("tab", { name: /Last run/ }).click();
  const debug = page.getByRole("complementary", { name: "Step debugger" });
  await debug.waitFor();
  check(((await debug.getByTestId("debugger-state").textContent()) ?? "").includes("succeeded"), "the Last run tab shows the step's run: succeeded");
  await page.screenshot({ path: path.join(outDir, "e2e-newcomer-last-run.png") });

  // A step added after the run: its Last run tab says so, and settings stay one click away.
  await page.locator('.palette-item[data-type="operator.file.write"]').click();
  await page.waitForSelector('.step-node[data-step="write_file"]');
  check(((await page.locator(".side").textContent()) ?? "").includes("is not in the run on the board"), "a step added after the run, on the Last run tab, says it is not in that run");
  await tabs.getByRole("tab", { name: "Settings" }).click();

  // 3. One-line fields: the path is a one-line box; Enter commits without a newline.
  const pathBox = page.getByLabel("path template");
  check((await pathBox.evaluate((el) => el.tagName)) === "INPUT", "Write file's path is a one-line box");
  await pathBox.fill("spec.md");
  await pathBox.press("Enter");
  await page.waitForTimeout(300);
  check((await focused(page)) === "path template", "Enter in the path box commits and keeps the keyboard there");
  check((await pathBox.inputValue()) === "spec.md", "no newline is added to the path");

  // Clear board takes the run off (it stays in History): the step's panel is plain settings again.
  await page.getByRole("button", { name: "Clear board" }).click();
  await page.waitForSelector("[data-run-id]", { state: "detached" });
  check((await page.getByRole("tablist", { name: "Step panel" }).count()) === 0, "Clear board takes the run off the board: no Last run tab, only the settings");

  // Esc goes back to editing the melody.
  await page.locator(".react-flow__pane").click({ position: { x: 30, y: 30 } });
  await page.locator('.step-node[data-step="template"] .step-title').click();
  await page.keyboard.press("Escape");
  await page.getByLabel("Melody name").waitFor();
  check((await page.locator(".react-flow__node-step.selected").count()) === 0, "Esc clears the selection and shows the melody's settings");

  // 4. A typo in a port reference: flagged in the editor, with the port meant, and by the validator.
  const handle = (node, port) => page.locator(`.react-flow__handle[data-nodeid="${node}"][data-handleid="${port}"]`);
  await mouseDrag(page, await centreOf(handle("template", "output")), await centreOf(handle("write_file", "content")));
  await page.waitForFunction(() => document.querySelectorAll(".react-flow__edge").length === 1);
  await page.locator('.step-node[data-step="write_file"] .step-title').click();
  // `{{` lists what the step can use; Enter takes the one chosen.
  const content = page.getByLabel("content template");
  await content.click();
  await content.pressSequentially("{{tem");
  await page.getByRole("listbox", { name: "Can use" }).waitFor();
  await content.press("Enter");
  check((await content.inputValue()) === "{{template.output}}", `typing {{tem and Enter completes the reference: ${await content.inputValue()}`);
  await page.getByLabel("content template").fill("{{template.outptu}}");
  await page.getByLabel("Step description").focus();
  const issue = page.locator(".prompt-issues li").first();
  await issue.waitFor();
  const text = (await issue.textContent()) ?? "";
  check(/template/.test(text) && /did you mean/.test(text) && text.includes("output"), `the editor flags {{template.outptu}}: "${text}"`);
  await page.waitForSelector(".problems-badge.bad, .problems .count.bad", { timeout: 5000 });
  const problems = (await page.locator(".problems").textContent()) ?? "";
  check(problems.includes("outptu") && problems.includes("did you mean `output`"), "the validator's problem names the port meant");
  await page.screenshot({ path: path.join(outDir, "e2e-newcomer-typo.png") });
  await page.getByLabel("content template").fill("{{template.output}}");
  await page.getByLabel("Step description").focus();

  // A step dropped onto an edge goes into the middle of it.
  await page.locator('.palette-item[data-type="operator.pass"]').click();
  await page.waitForSelector('.step-node[data-step="pass"]');
  const mid = await (async () => {
    const a = await centreOf(handle("template", "output"));
    const b = await centreOf(handle("write_file", "content"));
    return { x: (a.x + b.x) / 2, y: (a.y + b.y) / 2 };
  })();
  const passBox = await page.locator('.react-flow__node[data-id="pass"]').boundingBox();
  const grip = await centreOf(page.locator('.step-node[data-step="pass"] .step-title'));
  const offset = { x: passBox.x + passBox.width / 2 - grip.x, y: passBox.y + passBox.height / 2 - grip.y };
  await mouseDrag(page, grip, { x: mid.x - offset.x, y: mid.y - offset.y });
  await page.waitForFunction(() => document.querySelectorAll(".react-flow__edge").length === 2, null, { timeout: 5000 });
  const edgeIds = await page.$$eval(".react-flow__edge", (els) => els.map((e) => e.getAttribute("data-id")).sort());
  check(JSON.stringify(edgeIds) === JSON.stringify(["pass.output->write_file.content", "template.output->pass.input"]), `dropping pass onto the edge inserts it: ${edgeIds.join(", ")}`);

  // 5. Save: the file is named after the melody, and its id is its own.
  await page.keyboard.press("Control+s");
  await page.getByRole("dialog", { name: "Save melody as" }).getByRole("button", { name: "Save" }).click();
  await page.waitForSelector('[data-testid="dirty"]', { state: "detached" });
  const saved = path.join(server.project, "melodies/hello-board.melody.json");
  check(fs.existsSync(saved), "Save proposes melodies/hello-board.melody.json, from the name");
  const file = JSON.parse(fs.readFileSync(saved, "utf8"));
  check(file.melody.id === "hello-board" && !file.inputs, "the saved file has id hello-board and no run inputs");
  check(file.steps.find((s) => s.id === "write_file").config.path === "spec.md", "the saved path has no newline");

  // 6. An imported orchestra with no {goal}: no run inputs, and it runs.
  await page.getByRole("button", { name: "Import", exact: true }).click();
  dialog = page.getByRole("dialog", { name: "Import a melody" });
  await dialog.getByLabel("Melody or orchestra text", { exact: true }).fill(ORCHESTRA);
  await dialog.getByRole("button", { name: "Import" }).click();
  const perms = page.getByRole("dialog", { name: "What this imported melody may do" });
  await perms.waitFor();
  await perms.getByRole("button", { name: "OK" }).click();
  await page.waitForSelector('.step-node[data-step="summarise"]');
  dialog = await runToEnd(page);
  check(((await dialog.textContent()) ?? "").includes("This melody takes no inputs."), "the imported orchestra takes no inputs");
  await dialog.getByRole("button", { name: "Start run" }).click();
  await page.waitForSelector(".badge.run-succeeded", { timeout: 20000 });
  check(true, "the imported orchestra runs to the end");
  await noFault(page, "the orchestra's run");
  await page.screenshot({ path: path.join(outDir, "e2e-newcomer-orchestra.png") });

  // 7. A colleague's .melody.json, picked as a file in the browser.
  const shared = path.join(server.project, "from-a-colleague.melody.json");
  const theirs = JSON.parse(fs.readFileSync(saved, "utf8"));
  theirs.melody = { id: "hello-board", name: "Hello board (theirs)" };
  fs.writeFileSync(shared, JSON.stringify(theirs, null, 2));
  await page.getByRole("button", { name: "Import", exact: true }).click();
  dialog = page.getByRole("dialog", { name: "Import a melody" });
  await dialog.getByLabel("Melody or orchestra file").setInputFiles(shared);
  await dialog.getByTestId("import-kind").waitFor();
  check(((await dialog.getByTestId("import-kind").textContent()) ?? "").includes("a melody file"), "the picked .melody.json reads as a melody file");
  await dialog.getByRole("button", { name: "Import" }).click();
  // The imported orchestra was never saved: importing over it asks first.
  await page.getByRole("dialog", { name: "Unsaved changes" }).getByRole("button", { name: "Discard edits" }).click();
  await page.getByRole("dialog", { name: "What this imported melody may do" }).getByRole("button", { name: "OK" }).click();
  await page.waitForSelector(".doc-title >> text=Hello board (theirs)");
  check((await page.locator(".react-flow__node-step").count()) === 3, "the shared melody opens with its three steps, unsaved");
  await page.keyboard.press("Control+s");
  await page.getByRole("dialog", { name: "Save melody as" }).getByLabel("Save path").fill("melodies/theirs.melody.json");
  await page.getByRole("dialog", { name: "Save melody as" }).getByRole("button", { name: "Save" }).click();
  await page.waitForSelector('[data-testid="dirty"]', { state: "detached" });
  const theirsSaved = JSON.parse(fs.readFileSync(path.join(server.project, "melodies/theirs.melody.json"), "utf8"));
  check(theirsSaved.melody.id === "hello-board-2", `saved beside ours, theirs takes a free id (${theirsSaved.melody.id}), so their runs and pins never mix`);

  // Unsaved work the error screen kept in the browser is offered back after a reload.
  const kept = { melody: { ...theirs, melody: { id: "kept", name: "Kept after a fault" } }, path: "", at: Date.now() };
  await page.evaluate((d) => localStorage.setItem("symphony.draft", JSON.stringify(d)), kept);
  await page.reload();
  const restore = page.getByRole("dialog", { name: "Restore unsaved work?" });
  await restore.waitFor();
  await restore.getByRole("button", { name: "Restore" }).click();
  await page.waitForSelector(".doc-title >> text=Kept after a fault");
  check((await page.getByTestId("dirty").count()) === 1, "after a reload, the kept draft is offered back and opens unsaved");
  check((await page.evaluate(() => localStorage.getItem("symphony.draft"))) === null, "and it is offered once");

  check(faults.length === 0, `no page errors: ${faults.join("; ") || "none"}`);
}

/** Starts a run of the open melody with this goal and waits for that run (not the last) to end well. */
async function runWithGoal(page, goal) {
  const runId = () => document.querySelector("[data-run-id]")?.getAttribute("data-run-id") ?? null;
  const before = await page.evaluate(runId);
  const dialog = await runToEnd(page);
  await dialog.getByLabel("run input goal").fill(goal);
  await dialog.getByRole("button", { name: "Start run" }).click();
  await page.waitForFunction((b) => {
    const id = document.querySelector("[data-run-id]")?.getAttribute("data-run-id");
    return id && id !== b;
  }, before, { timeout: 10000 });
  await page.waitForSelector(".badge.run-succeeded", { timeout: 30000 });
}

// Pins: visible on the canvas, Unpin wherever Pin is offered, and a warning when the inputs a
// pinned output was made from have changed (it once flowed on silently).
export async function pinsScenario(page, server) {
  await page.goto(server.url);
  await page.click('[data-path="melodies/idea-to-code.melody.json"]');
  await page.waitForSelector('.step-node[data-step="features"]');
  await runWithGoal(page, "a recipe app");
  // The Run dialog remembers the last values.
  const again = await runToEnd(page);
  check((await again.getByLabel("run input goal").inputValue()) === "a recipe app", "the Run dialog offers the goal of the last run");
  await again.getByRole("button", { name: "Cancel" }).click();

  // Fork with edits: the run inputs as a form, and an edited prompt can go back into the melody.
  await page.locator('.step-node[data-step="spec"] .step-title').click();
  await page.getByRole("tablist", { name: "Step panel" }).getByRole("tab", { name: /Last run/ }).click();
  await page.getByRole("button", { name: "Fork with edits…" }).click();
  const fork = page.getByRole("form", { name: "Fork with edits" });
  await fork.waitFor();
  check((await fork.getByLabel("run input goal").inputValue()) === "a recipe app", "Fork with edits shows the run's inputs as a form, not raw JSON");
  await fork.getByLabel("prompt", { exact: true }).fill("Write a one-page spec for {{goal}}.");
  await fork.getByRole("button", { name: "Apply the prompt to the melody" }).click();
  await page.getByRole("tablist", { name: "Step panel" }).getByRole("tab", { name: "Settings" }).click();
  check((await page.getByLabel("prompt template").inputValue()) === "Write a one-page spec for {{goal}}.", "Apply the prompt puts the fork's prompt into the melody's settings");
  await page.keyboard.press("Control+z");
  await page.waitForFunction(() => document.querySelector('[aria-label="prompt template"]')?.value !== "Write a one-page spec for {{goal}}.");
  check(true, "and one undo takes it back");

  await page.locator('.step-node[data-step="features"] .step-title').click();
  await page.getByRole("tablist", { name: "Step panel" }).getByRole("tab", { name: /Last run/ }).click();
  const debug = page.getByRole("complementary", { name: "Step debugger" });
  await debug.getByRole("button", { name: "Pin this output" }).click();
  await page.waitForSelector('.step-node[data-step="features"] [data-testid="pinned"]');
  check(true, "pinning marks the step's node");
  check((await debug.getByRole("button", { name: "Unpin" }).count()) === 1, "the debugger now offers Unpin, not Pin");
  await page.getByRole("tablist", { name: "Step panel" }).getByRole("tab", { name: "Settings" }).click();
  check((await page.getByTestId("pin-notice").count()) === 1, "the step's settings say it is pinned, with Unpin");

  // Another goal: spec changes, so the pinned features output is stale, and the run says so.
  await runWithGoal(page, "a chess clock");
  await page.waitForSelector('.step-node[data-step="features"] .step-pin.stale', { timeout: 10000 });
  check(true, "after the goal changed, the pinned step is marked stale on the canvas");
  await page.getByRole("tab", { name: /Warnings/ }).click();
  const rows = await page.$$eval(".warning-row", (els) => els.map((e) => ({ step: e.getAttribute("data-step"), kind: e.getAttribute("data-kind"), text: e.textContent })));
  const stale = rows.find((r) => r.kind === "pinnedStale");
  check(stale?.step === "features" && /other inputs/.test(stale.text ?? ""), `the Warnings tab says the pinned output was made from other inputs: ${JSON.stringify(stale?.text)}`);
  await page.locator('.step-node[data-step="features"] .step-title').click();
  const notice = page.getByTestId("pin-notice");
  check(/stale/.test((await notice.textContent()) ?? ""), "the settings' pin notice says the output is stale");
  await page.screenshot({ path: path.join(outDir, "e2e-pin-stale.png") });
  await notice.getByRole("button", { name: "Unpin" }).click();
  await page.waitForSelector('.step-node[data-step="features"] [data-testid="pinned"]', { state: "detached" });
  check(true, "Unpin in the settings removes the pinned mark");
  await runWithGoal(page, "a chess clock");
  const origin = await page.evaluate(() => document.querySelector('.step-node[data-step="features"]')?.getAttribute("data-state"));
  check(origin === "succeeded" || origin === "cached", `unpinned, features plays again (${origin})`);
}

// From an offline stand-in to a real model: change the step's type (prompt, ports and edges
// kept), set up a provider in the app (a test call, the key kept in the credential store), use
// one of its models for the step, and run it against a loopback OpenAI-compatible server.
export async function providerScenario(page, server) {
  const model = await startModelServer({ tokenMs: 5, fastTokens: 4, key: "sk-loop-123", models: ["loop-large", "loop-small"] });
  try {
    await page.goto(server.url);
    await page.getByRole("button", { name: "New melody" }).click();
    await page.waitForSelector(".react-flow__pane");
    await page.locator('.palette-item[data-type="instrument.offline"]').click();
    await page.waitForSelector('.step-node[data-step="offline_instrument"]');
    await page.getByLabel("prompt template").fill("Say hello to {{goal}}");
    await page.getByLabel("Step description").focus();

    // Change type: offline → chat, the prompt kept.
    await page.getByLabel("Change type").selectOption("instrument.chat");
    await page.waitForSelector('.step-node[data-step="offline_instrument"] >> text=Chat model');
    check((await page.getByLabel("prompt template").inputValue()) === "Say hello to {{goal}}", "Change type keeps the prompt");

    // Set up a provider: a wrong key is refused by the server, the right one lists its models.
    await page.getByRole("button", { name: "Set up a provider…" }).click();
    const dialog = page.getByRole("dialog", { name: "Set up a provider" });
    // The choices are the backend's wire formats at their own addresses, then Ollama and any other server.
    const choices = await dialog.getByRole("radio").allTextContents();
    check(JSON.stringify(choices) === JSON.stringify(["api.openai.com", "api.anthropic.com", "Ollama (this machine)", "Another server"]), `the provider choices come from the backend's formats: ${JSON.stringify(choices)}`);
    await dialog.getByRole("radio", { name: "Another server" }).click();
    check((await dialog.getByLabel("Wire format").inputValue()) === "openai", "another server speaks the default format unless told otherwise");
    await dialog.getByLabel("Base URL").fill(model.baseUrl);
    await dialog.getByLabel("API key").fill("sk-wrong");
    await dialog.getByRole("button", { name: "Test" }).click();
    await dialog.getByTestId("provider-test").waitFor();
    const refused = (await dialog.getByTestId("provider-test").textContent()) ?? "";
    check(refused.startsWith("✗") && refused.includes("401"), `a wrong key: the test call says the server refused it: "${refused}"`);
    await dialog.getByLabel("API key").fill("sk-loop-123");
    await dialog.getByRole("button", { name: "Test" }).click();
    await page.waitForFunction(() => document.querySelector('[data-testid="provider-test"]')?.textContent?.startsWith("✓"));
    check(((await dialog.getByTestId("provider-test").textContent()) ?? "").includes("2 models"), "the right key: the server lists its 2 models");
    await dialog.getByLabel("Model to use").selectOption("loop-small");
    await dialog.getByLabel("Credential name").fill("loopback");
    await page.screenshot({ path: path.join(outDir, "e2e-provider.png") });
    await dialog.getByRole("button", { name: "Use for offline_instrument" }).click();
    await dialog.waitFor({ state: "detached" });
    const keptFile = path.join(server.project, "config", "symphony", "credentials.json");
    check(fs.existsSync(keptFile) && fs.readFileSync(keptFile, "utf8").includes("sk-loop-123"), "the key is kept in the credential store (this scenario's private file)");
    check((await page.getByLabel("model", { exact: true }).inputValue()) === "loop-small", "the step's model is the one picked");

    // Saved, the melody names the credential, never the key.
    await page.keyboard.press("Control+s");
    await page.getByRole("dialog", { name: "Save melody as" }).getByRole("button", { name: "Save" }).click();
    await page.waitForSelector('[data-testid="dirty"]', { state: "detached" });
    const text = fs.readFileSync(path.join(server.project, "melodies/untitled.melody.json"), "utf8");
    const step = JSON.parse(text).steps[0];
    check(step.type === "instrument.chat" && step.config.credential === "loopback" && step.config.baseUrl === model.baseUrl, "the file has the chat step with its base URL and credential name");
    check(!text.includes("sk-loop-123"), "the key is not in the melody file");

    // Sending a kept key to a server the melody names needs a person's trust, even on this
    // machine; over serve the page cannot give it: the terminal does, then "Check again".
    const dialog2 = await runToEnd(page);
    await dialog2.getByLabel("run input goal").fill("the loopback");
    await dialog2.getByRole("button", { name: "Start run" }).click();
    const ask = page.getByRole("dialog", { name: "This melody needs your trust" });
    await ask.waitFor();
    const facts = (await ask.getByTestId("trust-facts").textContent()) ?? "";
    check(facts.includes(`sends your credential \`loopback\` to ${model.baseUrl}`), `Run asks for trust first: "${facts}"`);
    const cli = spawnSync(symphonyBin, ["trust", "melodies/untitled.melody.json", "--yes"], { cwd: server.project, env: server.env, encoding: "utf8" });
    check(cli.status === 0, `trusted in a terminal: ${cli.stdout.trim()}`);
    await ask.getByRole("button", { name: "Check again" }).click();
    await page.waitForSelector(".badge.run-succeeded", { timeout: 30000 });
    const sent = model.requests.at(-1);
    check(sent?.model === "loop-small" && sent.messages.at(-1).content === "Say hello to the loopback", "the run asked the server's loop-small with the prompt");
    check(model.authorizations.at(-1) === "Bearer sk-loop-123", "with the kept key");
  } finally {
    await model.stop();
  }
}

// A failed run says why in the dock's header: the step, its error, and what was skipped.
export async function failureScenario(page, server) {
  await page.goto(server.url);
  await page.getByRole("button", { name: "New melody" }).click();
  await page.waitForSelector(".react-flow__pane");
  await page.locator('.palette-item[data-type="operator.file.write"]').click();
  await page.waitForSelector('.step-node[data-step="write_file"]');
  await page.getByLabel("path template").fill("../outside.md");
  await page.getByLabel("path template").press("Enter");
  await page.getByLabel("content template").fill("hello");
  await page.getByLabel("Step description").focus();
  await page.locator('.palette-item[data-type="operator.pass"]').click();
  await page.waitForSelector('.step-node[data-step="pass"]');
  const handle = (node, port) => page.locator(`.react-flow__handle[data-nodeid="${node}"][data-handleid="${port}"]`);
  await mouseDrag(page, await centreOf(handle("write_file", "path")), await centreOf(handle("pass", "input")));
  await page.waitForFunction(() => document.querySelectorAll(".react-flow__edge").length === 1);
  const dialog = await runToEnd(page);
  await dialog.getByRole("button", { name: "Start run" }).click();
  await page.waitForSelector(".badge.run-failed", { timeout: 20000 });
  const failure = page.getByTestId("dock-failure");
  await failure.waitFor();
  const said = (await failure.textContent()) ?? "";
  check(said.startsWith("write_file failed:") && said.includes("`..` is not allowed"), `the dock's header says which step failed and why: "${said.slice(0, 90)}…"`);
  check(said.includes("1 step was skipped"), "and that a step after it was skipped");
  await page.screenshot({ path: path.join(outDir, "e2e-failed-run.png") });
  await failure.click();
  await page.getByRole("complementary", { name: "Step debugger" }).waitFor();
  check((await page.getByRole("complementary", { name: "Step debugger" }).getAttribute("data-step")) === "write_file", "clicking it opens the failed step's last run");
}

// Reviewing a change as a team does: the open melody against its committed version, drawn on
// the canvas, with the other side of each difference one click away.
export async function compareScenario(page, server) {
  const git = (...args) => {
    const r = spawnSync("git", args, {
      cwd: server.project,
      encoding: "utf8",
      env: { ...process.env, GIT_CONFIG_NOSYSTEM: "1", HOME: server.project, GIT_AUTHOR_NAME: "t", GIT_AUTHOR_EMAIL: "t@example.com", GIT_COMMITTER_NAME: "t", GIT_COMMITTER_EMAIL: "t@example.com" },
    });
    if (r.status !== 0) throw new Error(`git ${args.join(" ")}: ${r.stderr}`);
  };
  git("init", "-q", "-b", "main");
  git("add", "melodies");
  git("commit", "-q", "-m", "the melodies as shared");
  await page.goto(server.url);
  await page.click('[data-path="melodies/idea-to-code.melody.json"]');
  await page.waitForSelector('.step-node[data-step="spec"]');
  // Two edits: spec's prompt, and write_code deleted.
  await page.locator('.step-node[data-step="spec"] .step-title').click();
  const prompt = page.getByLabel("prompt template");
  const original = await prompt.inputValue();
  await prompt.fill("A one-page spec for {{goal}}");
  await page.getByLabel("Step description").focus();
  await page.evaluate(() => document.querySelector(".react-flow__controls-fitview")?.dispatchEvent(new MouseEvent("click", { bubbles: true })));
  await page.waitForTimeout(300);
  await page.locator('.step-node[data-step="write_code"] .step-title').click();
  await page.keyboard.press("Delete");
  await page.waitForSelector('.step-node[data-step="write_code"]', { state: "detached" });

  await page.getByRole("button", { name: "Compare", exact: true }).click();
  await page.getByRole("dialog", { name: "Compare this melody with…" }).getByRole("button", { name: "Its committed version (git HEAD)" }).click();
  const panel = page.getByTestId("compare-panel");
  await panel.waitFor();
  check(((await panel.textContent()) ?? "").includes("HEAD:melodies/idea-to-code.melody.json"), "the comparison is with the committed version (HEAD)");
  await page.waitForSelector('.step-node[data-step="spec"][data-compare="changed"]');
  check(true, "the edited step is marked changed on the canvas");
  const field = panel.locator('.cmp-step[data-step="spec"] .cmp-field[data-path="config.prompt"]');
  check(((await field.textContent()) ?? "").includes("A one-page spec for {{goal}}"), "the panel lists the changed field, with both values");
  check((await panel.locator('[data-removed="write_code"]').count()) === 1, "the deleted step is listed as only in the committed version");
  await page.screenshot({ path: path.join(outDir, "e2e-compare-canvas.png") });

  // Take the committed side of each: the open melody is the committed one again.
  await field.getByRole("button", { name: "Take theirs" }).click();
  await page.waitForFunction((p) => document.querySelector('[aria-label="prompt template"]')?.value === p, original).catch(() => undefined);
  await page.waitForSelector('.step-node[data-step="spec"]:not([data-compare])');
  check(true, "taking theirs restores the prompt, and the mark goes");
  await panel.locator('[data-removed="write_code"]').getByRole("button", { name: "Restore" }).click();
  await page.waitForSelector('.step-node[data-step="write_code"]');
  await panel.getByTestId("compare-same").waitFor({ timeout: 5000 });
  check(true, "restoring the deleted step (with its edge and place) makes the two the same");
}
