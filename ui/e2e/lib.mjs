// Shared helpers for the end-to-end tests: start a server over a temporary project, launch
// headless Chromium, and small assertions that fail loudly.
import { spawn, spawnSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { chromium } from "playwright-core";

export const uiDir = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
export const repoDir = path.resolve(uiDir, "..");
export const outDir = path.join(uiDir, "e2e", "out");
fs.mkdirSync(outDir, { recursive: true });

/** The API token in a URL `symphony serve` printed (`/#token=…`). */
export const tokenOf = (url) => new URLSearchParams(new URL(url).hash.slice(1)).get("token") ?? new URL(url).searchParams.get("token");

export const symphonyBin = process.env.SYMPHONY_BIN ?? path.join(repoDir, "target", "debug", "symphony");

/**
 * Starts the real `symphony serve` over a fresh project holding a copy of melodies/.
 * Resolves with { url, project, env, stop }: `env` is the server's environment (its run store),
 * for other processes that must share it. Build it first: `cargo build -p symphony-cli`
 * (or point SYMPHONY_BIN at a built binary).
 */
export async function startServer() {
  if (!fs.existsSync(symphonyBin)) {
    throw new Error(`${symphonyBin} is not built: run \`cargo build -p symphony-cli\` first (or set SYMPHONY_BIN)`);
  }
  const project = fs.mkdtempSync(path.join(os.tmpdir(), "symphony-e2e-"));
  fs.cpSync(path.join(repoDir, "melodies"), path.join(project, "melodies"), { recursive: true });
  fs.cpSync(path.join(repoDir, "templates"), path.join(project, "templates"), { recursive: true });
  const token = `t${Math.random().toString(36).slice(2)}`;
  // `--ui` names the UI just built here, even for a SYMPHONY_BIN built elsewhere; it is outside
  // the project (a temporary folder), as the server requires.
  const [cmd, args] = [symphonyBin, ["serve", "--project", project, "--token", token, "--ui", path.join(uiDir, "dist")]];
  // Runs go to a store of the project's own unless the caller chose one (scripts/test does):
  // a measurement or a scenario run by hand must not fill the user's run store.
  // Keys a scenario keeps ("Set up a provider") go to a file of the project's own, never the
  // user's keychain or config folder.
  const env = {
    ...process.env,
    SYMPHONY_DB: process.env.SYMPHONY_DB || path.join(project, "runs.db"),
    SYMPHONY_CREDENTIAL_STORE: "file",
    XDG_CONFIG_HOME: path.join(project, "config"),
  };
  const child = spawn(cmd, args, { stdio: ["ignore", "pipe", "pipe"], env });
  let stderr = "";
  child.stderr.on("data", (d) => (stderr += d));
  const url = await new Promise((resolve, reject) => {
    let out = "";
    const timer = setTimeout(() => reject(new Error(`server printed no URL in 20 s: ${stderr}`)), 20000);
    child.stdout.on("data", (d) => {
      out += d;
      const line = out.split("\n")[0];
      if (out.includes("\n")) {
        clearTimeout(timer);
        const m = /https?:\/\/\S+/.exec(line);
        if (!m) reject(new Error(`no URL in the server's first line: ${line}`));
        else resolve(m[0].includes("token=") ? m[0] : `${m[0].replace(/\/$/, "")}/#token=${token}`);
      }
    });
    child.on("exit", (code) => reject(new Error(`server exited with ${code}: ${stderr}`)));
  });
  // Stopping also removes the throwaway project (its runs, workspaces and copies of melodies):
  // left behind, each scenario's folder filled /tmp run after run.
  const removeProject = () => fs.rmSync(project, { recursive: true, force: true });
  const stop = () =>
    new Promise((resolve) => {
      if (child.exitCode !== null) return resolve();
      child.once("exit", resolve);
      child.kill("SIGTERM");
    }).then(removeProject);
  return { url, project, env, stop };
}

export async function launch() {
  return chromium.launch({
    executablePath: "/usr/bin/chromium",
    args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--disable-background-networking", "--disable-component-update", "--disable-sync", "--no-first-run"],
  });
}

export function check(cond, message) {
  if (!cond) throw new Error(`check failed: ${message}`);
  console.log(`  ok - ${message}`);
}

/** Drags from one point to another with intermediate mouse moves (React Flow needs them). */
export async function mouseDrag(page, from, to, steps = 12) {
  await page.mouse.move(from.x, from.y);
  await page.mouse.down();
  await page.mouse.move(from.x + (to.x - from.x) / 3, from.y + (to.y - from.y) / 3, { steps: 4 });
  await page.mouse.move(to.x, to.y, { steps });
  await page.mouse.up();
}

/**
 * Shows the whole melody with the canvas's "fit view" control. A melody opens at a readable
 * zoom from its start, so a step far to the right may be out of view until the user pans.
 */
export async function fitView(page) {
  await page.locator(".react-flow__controls-fitview").click();
  await page.waitForTimeout(400);
}

export async function centreOf(locator) {
  const b = await locator.boundingBox();
  if (!b) throw new Error("element has no box");
  return { x: b.x + b.width / 2, y: b.y + b.height / 2 };
}
