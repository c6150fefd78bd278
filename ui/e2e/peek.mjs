// Quick look: screenshots of the welcome view and of an opened melody.
import { launch, startServer, outDir } from "./lib.mjs";
const server = await startServer();
const browser = await launch();
try {
  const page = await browser.newPage({ viewport: { width: 1400, height: 860 } });
  page.on("console", (m) => m.type() === "error" && console.log("console:", m.text()));
  page.on("pageerror", (e) => console.log("pageerror:", e.message));
  await page.goto(server.url);
  await page.waitForSelector(".melody-card");
  await page.screenshot({ path: `${outDir}/welcome.png` });
  await page.click('[data-path="melodies/idea-to-code.melody.json"]');
  await page.waitForSelector(".step-node");
  await page.waitForTimeout(500);
  await page.screenshot({ path: `${outDir}/editor.png` });
  await page.click('.step-node[data-step="architecture"]');
  await page.waitForTimeout(300);
  await page.screenshot({ path: `${outDir}/inspector.png` });
} finally {
  await browser.close();
  await server.stop();
}
