// End to end: a call-and-response loop on the board. The shipped review loop plays offline;
// its node shows the round it is in while it plays and "round 4 · approved" when it stops, the
// branch for a stuck loop is skipped, and the step debugger lists every round with its outputs
// and the score by round as a chart.
import path from "node:path";
import { check, outDir } from "./lib.mjs";

export async function loopScenario(page, server) {
  await page.goto(server.url);
  await page.locator('.melody-card[data-path="melodies/review-loop.melody.json"]').click();
  await page.waitForSelector('.step-node[data-step="review"]');
  await page.getByRole("button", { name: "▶ Run" }).click();
  await page.getByRole("dialog").getByRole("button", { name: "Start run" }).click();

  // Live: the node says which round is playing (each round takes 0.4 s offline).
  await page.waitForFunction(() => /round [12]\b/.test(document.querySelector('.step-node[data-step="review"] [data-testid="loop-round"]')?.textContent ?? ""), null, { timeout: 15000 });
  const live = await page.locator('.step-node[data-step="review"] [data-testid="loop-round"]').textContent();
  check(!live.includes("approved"), `while it plays, the node shows the round: ${JSON.stringify(live.trim())}`);
  await page.waitForSelector(".badge.run-succeeded", { timeout: 20000 });
  const done = await page.locator('.step-node[data-step="review"] [data-testid="loop-round"]').textContent();
  check(done.includes("round 4 · approved"), `when it stops, the node shows the last round and why: ${JSON.stringify(done.trim())}`);
  const stateOf = (step) => page.locator(`.step-node[data-step="${step}"]`).getAttribute("data-state");
  check((await stateOf("save")) === "succeeded" && (await stateOf("needs-a-person")) === "skipped", "the approved branch played and the stalled one was skipped");

  await page.locator('.step-node[data-step="review"]').click();
  await page.getByRole("tablist", { name: "Step panel" }).getByRole("tab", { name: /Last run/ }).click();
  const debug = page.getByRole("complementary", { name: "Step debugger" });
  const rounds = debug.locator('section[aria-label="loop rounds"]');
  await rounds.waitFor();
  check((await rounds.locator(".loop-rounds li").count()) === 4, "the debugger lists four rounds");
  const chart = await rounds.getByRole("img").getAttribute("aria-label");
  check(chart === "score by round: 0.1, 0.2, 0.3, 0.4", `the score by round is charted: ${chart}`);
  const exit = await rounds.getByTestId("loop-exit").textContent();
  check(exit.includes("approved") && exit.includes("`until` held after round 4"), `the debugger says why the loop stopped: ${JSON.stringify(exit)}`);
  const last = await rounds.locator('li[data-round="4"]').textContent();
  check(last.includes("Draft 4 of") && last.includes("score 0.4"), "the last round's outputs are shown with its score");
  const header = await debug.getByTitle("Step type").textContent();
  check(header.trim() === "cue.loop", `the debugger names the loop's own type, not its body's: ${JSON.stringify(header)}`);
  await page.screenshot({ path: path.join(outDir, "e2e-loop-board.png") });
  await rounds.scrollIntoViewIfNeeded();
  await debug.screenshot({ path: path.join(outDir, "e2e-loop-rounds.png") });
}
