// Runs the end-to-end scenarios in headless Chromium against `symphony serve` (or the
// development stand-in while serve is not built). Expects ui/dist to be built.
import { launch, startServer } from "./lib.mjs";
import { editorScenario } from "./editor.e2e.mjs";
import { mouseScenario } from "./mouse.e2e.mjs";
import { boxSelectScenario, groupScenario, problemsScenario } from "./canvas.e2e.mjs";
import { trustScenario } from "./trust.e2e.mjs";
import { boardScenario } from "./board.e2e.mjs";
import { headlessScenario } from "./headless.e2e.mjs";
import { mergeScenario } from "./merge.e2e.mjs";
import { loopScenario } from "./loop.e2e.mjs";
import { gateScenario, gateStoppedScenario } from "./gate.e2e.mjs";
import { compareScenario, failureScenario, newcomerScenario, pinsScenario, providerScenario } from "./newcomer.e2e.mjs";

const scenarios = [
  ["edit, connect, undo, save", editorScenario],
  ["build with the mouse, save, run offline", mouseScenario],
  ["box-select, delete, undo", boxSelectScenario],
  ["problems: listed, on the node, in the form; click to jump", problemsScenario],
  ["import SuperOptiX, permissions, trust before running commands", trustScenario],
  ["a group moves the steps inside it, one undo", groupScenario],
  ["the board: live states, a warning on the slow step, debugger, fork", boardScenario],
  ["a headless run followed on the board, killed, resumed from the app", headlessScenario],
  ["a newcomer: run with no inputs, settings apart from the last run, one-line fields, a port typo, import a shared melody", newcomerScenario],
  ["pins: marked on the canvas, Unpin where Pin is offered, a stale pin warned about", pinsScenario],
  ["provider: change an offline step to a chat model, set up a provider in the app, run it", providerScenario],
  ["a failed run says which step failed and why, in the dock's header", failureScenario],
  ["compare with the committed version: marked on the canvas, take the other side", compareScenario],
  ["a git merge through the melody merge driver, its conflict settled in the app", mergeScenario],
  ["a review loop: its rounds live on the node, why it stopped, each round in the debugger", loopScenario],
  ["a gate: waits for you, refused answers inline, approved with an edited value, rejected with a reason", gateScenario],
  ["a gate of a stopped run: answered in the app and continued; answered by the CLI first, the app's answer refused", gateStoppedScenario],
];
const only = process.env.E2E_ONLY;
let failed = 0;
const browser = await launch();
for (const [name, scenario] of scenarios) {
  if (only && !name.includes(only)) continue;
  const server = await startServer();
  console.log(`# ${name} (symphony serve)`);
  const page = await browser.newPage({ viewport: { width: 1400, height: 860 } });
  page.on("pageerror", (e) => console.log(`  page error: ${e.message}`));
  try {
    await scenario(page, server);
  } catch (e) {
    failed += 1;
    console.log(`  FAILED: ${e.message}`);
    await page.screenshot({ path: `e2e/out/failed-${scenarios.findIndex((s) => s[0] === name)}.png` }).catch(() => {});
  } finally {
    await page.close();
    await server.stop();
  }
}
await browser.close();
console.log(failed ? `${failed} scenario(s) failed` : "all scenarios passed");
process.exit(failed ? 1 : 0);
