// End to end: a git merge of a melody both branches changed, through the real merge driver
// (`symphony merge-driver`, configured as docs/diff-and-merge.md says), then settled in the app:
// the conflict is listed with base, ours and theirs, the step is outlined on the canvas, taking
// theirs puts their prompt in, and the saved file holds no conflict record.
import fs from "node:fs";
import path from "node:path";
import { spawnSync } from "node:child_process";
import { check, outDir, symphonyBin } from "./lib.mjs";

const FILE = "melodies/idea-to-code.melody.json";

export async function mergeScenario(page, server) {
  const git = (...args) => {
    const r = spawnSync("git", args, {
      cwd: server.project,
      encoding: "utf8",
      env: { ...process.env, GIT_CONFIG_NOSYSTEM: "1", HOME: server.project, GIT_AUTHOR_NAME: "t", GIT_AUTHOR_EMAIL: "t@example.com", GIT_COMMITTER_NAME: "t", GIT_COMMITTER_EMAIL: "t@example.com" },
    });
    return r;
  };
  const ok = (...args) => {
    const r = git(...args);
    if (r.status !== 0) throw new Error(`git ${args.join(" ")}: ${r.stderr}`);
    return r;
  };
  const file = path.join(server.project, FILE);
  const edit = (fn) => {
    const m = JSON.parse(fs.readFileSync(file, "utf8"));
    fn(m);
    fs.writeFileSync(file, JSON.stringify(m, null, 2) + "\n");
  };
  const spec = (m) => m.steps.find((s) => s.id === "spec");

  ok("init", "-q", "-b", "main");
  fs.writeFileSync(path.join(server.project, ".gitattributes"), "*.melody.json merge=symphony\n");
  ok("config", "merge.symphony.name", "Symphony melody merge");
  ok("config", "merge.symphony.driver", `${symphonyBin} merge-driver %O %A %B %P`);
  ok("add", "-A");
  ok("commit", "-q", "-m", "shared");
  ok("checkout", "-q", "-b", "theirs");
  edit((m) => {
    spec(m).config.prompt = "Their spec for {{goal}}";
  });
  ok("commit", "-q", "-am", "their prompt");
  ok("checkout", "-q", "main");
  edit((m) => {
    spec(m).config.prompt = "Our spec for {{goal}}";
    m.melody.description = "Edited on main";
  });
  ok("commit", "-q", "-am", "our prompt");
  const merged = git("merge", "-q", "theirs", "-m", "merge");
  check(merged.status !== 0, "git stops the merge: both branches changed spec's prompt");
  const onDisk = JSON.parse(fs.readFileSync(file, "utf8"));
  check(onDisk.layout?.mergeConflicts?.length === 1 && spec(onDisk).config.prompt === "Our spec for {{goal}}", "the driver kept ours and recorded the conflict in the file (which is still a melody)");

  await page.goto(server.url);
  await page.click(`[data-path="${FILE}"]`);
  const panel = page.getByTestId("conflicts-panel");
  await panel.waitFor();
  const row = panel.locator('.conflict[data-path="steps.spec.config.prompt"]');
  const text = (await row.textContent()) ?? "";
  check(text.includes("Our spec for {{goal}}") && text.includes("Their spec for {{goal}}") && text.includes("base"), "the conflict lists base, ours and theirs");
  await page.waitForSelector('.step-node[data-step="spec"][data-conflict="true"]');
  check(true, "the step in conflict is outlined on the canvas");
  await page.screenshot({ path: path.join(outDir, "e2e-merge-conflicts.png") });

  await row.getByRole("button", { name: "Take theirs" }).click();
  await panel.waitFor({ state: "detached" });
  await page.waitForSelector('.step-node[data-step="spec"]:not([data-conflict])');
  await page.locator('.step-node[data-step="spec"] .step-title').click();
  check((await page.getByLabel("prompt template").inputValue()) === "Their spec for {{goal}}", "taking theirs puts their prompt in the melody");
  await page.locator(".react-flow__pane").click({ position: { x: 40, y: 40 } });
  await page.keyboard.press("Control+s");
  await page.waitForSelector('[data-testid="dirty"]', { state: "detached" });
  const saved = JSON.parse(fs.readFileSync(file, "utf8"));
  check(saved.layout?.mergeConflicts === undefined && spec(saved).config.prompt === "Their spec for {{goal}}" && saved.melody.description === "Edited on main", "the saved file has their prompt, our clean edit, and no conflict record");
  ok("add", FILE);
  ok("commit", "-q", "-m", "merged");
  const status = git("status", "--porcelain", "--untracked-files=no").stdout.trim();
  const log = git("log", "-1", "--format=%P").stdout.trim().split(" ");
  check(status === "" && log.length === 2, `the merge is committed (a merge commit, nothing left): ${status}`);
}
