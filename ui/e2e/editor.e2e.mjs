// End to end: drag a step from the palette, connect two steps, edit a prompt, undo, save, and
// check the file on disk. Also: a refused connection says why.
import fs from "node:fs";
import path from "node:path";
import { centreOf, check, mouseDrag, outDir } from "./lib.mjs";

export async function editorScenario(page, server) {
  await page.goto(server.url);
  await page.click('[data-path="melodies/idea-to-code.melody.json"]');
  await page.waitForSelector('.step-node[data-step="spec"]');
  const steps = () => page.locator(".react-flow__node-step").count();
  const before = await steps();

  // 1. Drag "Template" from the palette onto an empty part of the canvas.
  const canvas = await page.locator(".react-flow__pane").boundingBox();
  await page.locator('.palette-item[data-type="operator.template"]').dragTo(page.locator(".react-flow__pane"), {
    targetPosition: { x: 160, y: canvas.height - 160 },
  });
  await page.waitForSelector('.step-node[data-step="template"]');
  check((await steps()) === before + 1, "dragging Template from the palette adds a step with id 'template'");

  // 2. Connect spec.output to the new step's "+ input" handle.
  const edgesBefore = await page.locator(".react-flow__edge").count();
  await mouseDrag(
    page,
    await centreOf(page.locator('.react-flow__handle[data-nodeid="spec"][data-handleid="output"]')),
    await centreOf(page.locator('.react-flow__handle[data-nodeid="template"][data-handleid="+"]')),
  );
  await page.waitForSelector('.step-node[data-step="template"] .port-in >> text=spec');
  check((await page.locator(".react-flow__edge").count()) === edgesBefore + 1, "connecting spec.output to template adds an edge and a 'spec' input port");

  // 3. A connection that would make a cycle is refused, with the reason.
  await mouseDrag(
    page,
    await centreOf(page.locator('.react-flow__handle[data-nodeid="architecture"][data-handleid="output"]')),
    await centreOf(page.locator('.react-flow__handle[data-nodeid="spec"][data-handleid="+"]')),
  );
  const toast = page.locator(".toast.error").last();
  await toast.waitFor();
  const reason = await toast.textContent();
  check(/cycle/.test(reason ?? ""), `a cycle is refused with its reason: "${reason}"`);
  check((await page.locator(".react-flow__edge").count()) === edgesBefore + 1, "the refused edge was not added");

  // 4. Edit the new step's template in the inspector.
  await page.click('.step-node[data-step="template"] .step-title');
  const tpl = page.getByLabel("template template");
  await tpl.click();
  await tpl.fill("Summary of {{spec}} for {{goal}} and {{nowhere}}");
  await page.waitForSelector(".prompt-issues >> text=nowhere");
  check((await page.locator(".prompt-backdrop .ref.ok").count()) === 2, "{{spec}} and {{goal}} are highlighted as visible");
  check((await page.locator(".prompt-backdrop .ref.bad").count()) === 1, "{{nowhere}} is flagged as not visible");
  await page.screenshot({ path: path.join(outDir, "e2e-prompt.png") });
  await tpl.fill("Summary of {{spec}} for {{goal}}");
  await page.locator(".react-flow__pane").click({ position: { x: 40, y: 40 } });

  // 5. Edit the spec step's prompt, then undo it with Ctrl+Z.
  await page.click('.step-node[data-step="spec"] .step-title');
  const prompt = page.getByLabel("prompt template");
  const original = await prompt.inputValue();
  await prompt.fill("CHANGED {{goal}}");
  await page.locator(".react-flow__pane").click({ position: { x: 40, y: 40 } });
  await page.click('.step-node[data-step="spec"] .step-title');
  check((await page.getByLabel("prompt template").inputValue()) === "CHANGED {{goal}}", "the prompt edit is applied");
  await page.locator(".react-flow__pane").click({ position: { x: 40, y: 40 } });
  await page.keyboard.press("Control+z");
  await page.click('.step-node[data-step="spec"] .step-title');
  check((await page.getByLabel("prompt template").inputValue()) === original, "Ctrl+Z restores the original prompt");
  check(await page.locator('[data-testid="dirty"]').isVisible(), "the title shows unsaved changes");

  // 6. Save with Ctrl+S and read the file.
  await page.locator(".react-flow__pane").click({ position: { x: 40, y: 40 } });
  await page.keyboard.press("Control+s");
  await page.waitForSelector('[data-testid="dirty"]', { state: "detached" });
  const file = JSON.parse(fs.readFileSync(path.join(server.project, "melodies/idea-to-code.melody.json"), "utf8"));
  const template = file.steps.find((s) => s.id === "template");
  check(template?.type === "operator.template", "the saved file has the new template step");
  check(template?.config?.template === "Summary of {{spec}} for {{goal}}", "the saved template text is the edited one");
  check(template?.inputs?.spec !== undefined, "the saved template step declares its 'spec' input");
  check(file.edges.some((e) => e.from === "spec.output" && e.to === "template.spec"), "the saved file has the new edge");
  check(file.steps.find((s) => s.id === "spec").config.prompt === original, "the undone prompt edit is not in the file");
  check(file.layout.steps.template !== undefined, "the new step's position is in layout");
  await page.screenshot({ path: path.join(outDir, "e2e-editor-saved.png") });

  // 7. Copy, paste (renamed id), undo; a note through the command palette.
  await page.click('.step-node[data-step="features"] .step-title');
  await page.locator(".react-flow__pane").focus();
  await page.keyboard.press("Control+c");
  await page.keyboard.press("Control+v");
  await page.waitForSelector('.step-node[data-step="features_2"]');
  check(true, "Ctrl+C, Ctrl+V pastes a copy named features_2");
  await page.keyboard.press("Control+z");
  await page.waitForSelector('.step-node[data-step="features_2"]', { state: "detached" });
  check(true, "Ctrl+Z removes the pasted copy");
  await page.keyboard.press("Control+k");
  await page.getByLabel("Command", { exact: true }).fill("add a note");
  await page.keyboard.press("Enter");
  await page.waitForSelector(".comment-node");
  check(true, "Ctrl+K → 'Add a note' puts a note on the canvas");
}
