// End to end: a gate (`cue.gate`) a person answers from the board. The shipped plan-approval
// melody plans offline, then waits: its node and the dock say it waits for you, a Review button
// opens the gate in the step debugger, where a rejection without a reason and an edited value
// that is not JSON are refused inline (nothing is sent), and an approval with an edited value
// lets the branch go on with that value. A second run is rejected with a reason, and the run
// fails saying it. A gate of a run whose process was killed is answered from the app, and the
// run takes the answer when it is continued.
import { spawn, spawnSync } from "node:child_process";
import path from "node:path";
import { check, outDir, symphonyBin } from "./lib.mjs";

const node = (page, step) => page.locator(`.step-node[data-step="${step}"]`);
const stateOf = (page, step) => node(page, step).getAttribute("data-state");

/** Runs the open melody with its default inputs and waits until the gate asks. */
async function runToGate(page) {
  await page.getByRole("button", { name: "▶ Run" }).click();
  await page.getByRole("dialog").getByRole("button", { name: "Start run" }).click();
  await page.waitForSelector('.step-node[data-step="approve-plan"] [data-testid="gate-waiting"]', { timeout: 15000 });
}

/** Opens the waiting gate from the dock's call, and answers its section. */
async function reviewFromCall(page) {
  const call = page.getByTestId("gate-call");
  await call.waitFor();
  await call.getByRole("button", { name: "Review" }).click();
  const debug = page.getByRole("complementary", { name: "Step debugger" });
  const gate = debug.locator('section[aria-label="gate"]');
  await gate.waitFor();
  return { debug, gate };
}

/**
 * A stand-in for the system's notifications, as the page sees them (the web Notification API,
 * which Tauri's notification plugin stands behind in the desktop app): permission not asked yet,
 * granted when asked, and the window not looked at, so a gate that starts waiting notifies.
 */
function fakeNotifications() {
  window.__notified = [];
  window.__asked = 0;
  class FakeNotification {
    static permission = "default";
    static requestPermission() {
      window.__asked += 1;
      FakeNotification.permission = "granted";
      return Promise.resolve("granted");
    }
    constructor(title, options) {
      window.__notified.push({ title, body: options?.body, tag: options?.tag });
    }
    close() {}
  }
  window.Notification = FakeNotification;
  document.hasFocus = () => false;
}

export async function gateScenario(page, server) {
  await page.addInitScript(fakeNotifications);
  await page.goto(server.url);
  await page.locator('.melody-card[data-path="melodies/plan-approval.melody.json"]').click();
  await page.waitForSelector('.step-node[data-step="approve-plan"]');
  await runToGate(page);

  // Waiting: the node, the dock's status and counts, and a call to review.
  check((await stateOf(page, "approve-plan")) === "waiting", "the gate's node is in the waiting state");
  const mark = await node(page, "approve-plan").getByTestId("gate-waiting").textContent();
  check(mark.trim() === "waiting for you", `the gate's node says it waits for you: ${JSON.stringify(mark)}`);
  const status = await page.getByTestId("dock-status").textContent();
  check(status.trim() === "waiting for approval", `the run's badge says it waits for approval: ${JSON.stringify(status)}`);
  const countsText = await page.getByTestId("dock-counts").textContent();
  check(countsText.includes("1 waiting for you"), `the dock counts the waiting gate: ${JSON.stringify(countsText)}`);
  const callText = await page.getByTestId("gate-call").textContent();
  check(callText.includes("approve-plan waits for you") && callText.includes("Go on with this plan?"), `the dock calls for a review: ${JSON.stringify(callText)}`);
  check((await stateOf(page, "build")) === "idle" && (await stateOf(page, "save")) === "idle", "nothing after the gate has played");
  const asked = await page.evaluate(() => window.__asked);
  check(asked === 1, `starting a run of a melody with a gate asked once for permission to notify (asked ${asked})`);
  const notified = await page.evaluate(() => window.__notified);
  check(notified.length === 1 && notified[0].title === "approve-plan waits for your approval" && notified[0].body === "Go on with this plan?", `a desktop notification says the gate waits, the window being in the background: ${JSON.stringify(notified)}`);
  await page.screenshot({ path: path.join(outDir, "e2e-gate-waiting.png") });
  await page.getByRole("tab", { name: "History" }).click();
  const listed = page.locator("tr.history-row.current .badge");
  await listed.waitFor();
  check((await listed.textContent()) === "waiting for approval", "the history lists the run as waiting for approval");
  await page.getByRole("tab", { name: "Timeline" }).click();

  // The gate in the debugger: its question, the review as Markdown, the timeout.
  const { debug, gate } = await reviewFromCall(page);
  check((await debug.getByTestId("debugger-state").textContent()).includes("waiting for you"), "the debugger's state says it waits for you");
  check((await gate.locator(".dbg-gate-title").textContent()) === "Go on with this plan?", "the gate's title is shown");
  const estimate = await gate.locator(".dbg-gate-review strong").first().textContent();
  check(estimate === "2 days", `the review is rendered Markdown (the estimate in bold): ${JSON.stringify(estimate)}`);
  const timeout = await gate.getByTestId("gate-timeout").textContent();
  check(/^rejected automatically in 23 h 5\d m if nobody answers$/.test(timeout), `the timeout says what happens and when: ${JSON.stringify(timeout)}`);
  await gate.screenshot({ path: path.join(outDir, "e2e-gate-panel.png") });

  // Refused inline: a rejection without a reason, an edited value that is not JSON.
  await gate.getByRole("button", { name: "Reject" }).click();
  const noReason = await gate.getByTestId("gate-problem").textContent();
  check(noReason.startsWith("Say why you reject it"), `a rejection without a reason is refused: ${JSON.stringify(noReason)}`);
  await gate.getByRole("button", { name: "Edit value" }).click();
  const editor = gate.getByLabel("Edited value (JSON)");
  const original = JSON.parse(await editor.inputValue());
  check(original.estimate === "2 days" && original.tasks.length === 3, "the value editor is prefilled with the plan");
  await editor.fill('{"estimate": 3 days}');
  await gate.getByRole("button", { name: "Approve edited" }).click();
  const notJson = await gate.getByTestId("gate-problem").textContent();
  check(notJson.startsWith("The edited value is not JSON"), `an edited value that is not JSON is refused: ${JSON.stringify(notJson)}`);
  await page.waitForTimeout(300);
  check((await stateOf(page, "approve-plan")) === "waiting", "nothing was sent: the gate still waits");

  // Approved with an edited estimate and a note: the branch goes on with the edited value.
  await editor.fill(JSON.stringify({ ...original, estimate: "3 days" }, null, 2));
  await gate.getByLabel("Reason or note").fill("Fine, with a day for the tests");
  await gate.getByRole("button", { name: "Approve edited" }).click();
  await page.waitForSelector(".badge.run-succeeded", { timeout: 15000 });
  const taken = await gate.getByTestId("gate-taken").textContent();
  check(taken.length > 0, `the answer's fate is said: ${JSON.stringify(taken)}`);
  const answered = await node(page, "approve-plan").getByTestId("gate-answer").textContent();
  check(answered.trim() === "approved · app", `the node says who approved it: ${JSON.stringify(answered)}`);
  const detail = await gate.getByTestId("gate-answer-detail").textContent();
  check(detail.includes("approved by app, with an edited value") && detail.includes("Fine, with a day for the tests") && detail.includes("3 days"), `the debugger shows the answer, its note and the edited value: ${JSON.stringify(detail)}`);
  check((await stateOf(page, "build")) === "succeeded" && (await stateOf(page, "save")) === "succeeded", "build and save played after the approval");
  check((await page.getByTestId("gate-call").count()) === 0, "the call to review is gone once answered");
  await page.screenshot({ path: path.join(outDir, "e2e-gate-approved.png") });
  await node(page, "save").click();
  await page.getByRole("tablist", { name: "Step panel" }).getByRole("tab", { name: /Last run/ }).click();
  const inputs = await debug.locator('section[aria-label="step inputs"]').textContent();
  check(inputs.includes("3 days") && !inputs.includes("2 days"), "the saved plan is the edited one");

  // A second run, rejected with a reason: the run fails saying why, nothing after the gate plays.
  await runToGate(page);
  const second = await reviewFromCall(page);
  await second.gate.getByLabel("Reason or note").fill("Too long: cut the tests to one day");
  await second.gate.getByRole("button", { name: "Reject" }).click();
  await page.waitForSelector(".badge.run-failed", { timeout: 15000 });
  const rejected = await node(page, "approve-plan").getByTestId("gate-answer").textContent();
  check(rejected.trim() === "rejected · app", `the node says who rejected it: ${JSON.stringify(rejected)}`);
  const failure = await page.getByTestId("dock-failure").textContent();
  check(failure.includes("approve-plan") && failure.includes("Too long: cut the tests to one day"), `the run's failure gives the reason: ${JSON.stringify(failure)}`);
  check((await stateOf(page, "build")) !== "succeeded" && (await stateOf(page, "save")) !== "succeeded", "nothing after a rejected gate played");
  await page.screenshot({ path: path.join(outDir, "e2e-gate-rejected.png") });
}

/** Plays plan-approval headless (`symphony run`) until its gate waits, then kills it: its id. */
async function killedAtGate(page, server) {
  const cli = spawn(symphonyBin, ["run", "melodies/plan-approval.melody.json"], { cwd: server.project, stdio: "ignore", env: server.env });
  try {
    await page.goto(server.url);
    const badge = page.locator('.run-card[data-run^="plan-approval-"] .badge').first();
    await page.waitForFunction(() => document.querySelector('.run-card[data-run^="plan-approval-"] .badge')?.textContent === "waiting for approval", null, { timeout: 15000 });
    const runId = await page.locator('.run-card[data-run^="plan-approval-"]').first().getAttribute("data-run");
    check((await badge.getAttribute("title")).startsWith("Waiting for a person at approve-plan"), `the welcome view lists ${runId}, played headless, as waiting for approval`);
    return runId;
  } finally {
    cli.kill("SIGKILL");
    await new Promise((r) => (cli.exitCode === null && cli.signalCode === null ? cli.once("exit", r) : r()));
  }
}

/**
 * Runs played by `symphony run` stop at the gate and are killed. One is answered from the app
 * and continued from there; the other is answered by the command line first, so the app's
 * answer is refused, saying why, and the run resumed from the welcome view takes the CLI's.
 */
export async function gateStoppedScenario(page, server) {
  const runId = await killedAtGate(page, server);
  await page.reload();
  const card = page.locator(`.run-card[data-run="${runId}"]`);
  await card.waitFor();
  const badge = card.locator(".badge");
  check((await badge.textContent()) === "waiting for approval" && (await badge.getAttribute("title")).includes("then resume the run"), "killed, it still waits for approval, and says it is resumed after the answer");
  await card.click();
  await page.waitForSelector('.step-node[data-step="approve-plan"] [data-testid="gate-waiting"]', { timeout: 10000 });
  check((await page.getByTestId("dock-status").textContent()) === "waiting for approval", "opened, the stopped run waits for approval on the board");
  const { gate } = await reviewFromCall(page);
  const stoppedTimeout = await gate.getByTestId("gate-timeout").textContent();
  check(stoppedTimeout.includes("24 h 00 m after it first asked") && stoppedTimeout.includes("counts while the run is stopped too"), `the timeout of a stopped run says it counts on meanwhile: ${JSON.stringify(stoppedTimeout)}`);
  await gate.getByRole("button", { name: "Approve" }).click();
  const taken = gate.getByTestId("gate-taken");
  await taken.waitFor();
  check((await taken.textContent()).includes("takes the answer when it is continued"), `the answer is recorded for the stopped run: ${JSON.stringify(await taken.locator("p").textContent())}`);
  const call = await page.getByTestId("gate-call").textContent();
  check(call.includes("approve-plan is answered") && call.includes("Continue the run"), `the dock's call now offers to continue the run: ${JSON.stringify(call)}`);
  await page.screenshot({ path: path.join(outDir, "e2e-gate-stopped.png") });
  await taken.getByRole("button", { name: "Continue the run" }).click();
  await page.waitForSelector(".badge.run-succeeded", { timeout: 15000 });
  const answered = await node(page, "approve-plan").getByTestId("gate-answer").textContent();
  check(answered.trim() === "approved · app", `continued, the run took the answer: ${JSON.stringify(answered)}`);
  check((await stateOf(page, "build")) === "succeeded" && (await stateOf(page, "save")) === "succeeded", "build and save played after the run was continued");

  // Answered from the command line while the app shows the gate waiting: the app's answer is refused.
  await page.getByRole("button", { name: "◂ Melodies" }).click();
  const second = await killedAtGate(page, server);
  await page.locator(`.run-card[data-run="${second}"]`).click();
  await page.waitForSelector('.step-node[data-step="approve-plan"] [data-testid="gate-waiting"]', { timeout: 10000 });
  const opened = await reviewFromCall(page);
  const cli = spawnSync(symphonyBin, ["runs", "approve", second, "approve-plan", "--reason", "looks fine"], { cwd: server.project, env: server.env, encoding: "utf8" });
  check(cli.status === 0, `symphony runs approve answers it first: ${JSON.stringify((cli.stdout + cli.stderr).trim())}`);
  await opened.gate.getByRole("button", { name: "Approve" }).click();
  const refused = opened.gate.getByTestId("gate-problem");
  await refused.waitFor();
  const why = await refused.textContent();
  check(why.startsWith("The answer was not taken:") && why.includes("approved already, by cli"), `the app's answer is refused, saying why: ${JSON.stringify(why)}`);
  await page.getByRole("button", { name: "◂ Melodies" }).click();
  await page.getByRole("button", { name: `Resume ${second}` }).click();
  await page.waitForSelector(".badge.run-succeeded", { timeout: 15000 });
  const byCli = await node(page, "approve-plan").getByTestId("gate-answer").textContent();
  check(byCli.trim() === "approved · cli", `resumed, the run took the command line's answer: ${JSON.stringify(byCli)}`);
}
