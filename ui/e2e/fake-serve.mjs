// A stand-in for `symphony serve` used only to develop the UI and its end-to-end tests while
// the real server is not built: it speaks the same HTTP/WebSocket contract (docs/app-api.md)
// over a temporary project, serves ui/dist, and plays runs with fake timings. The e2e tests
// use the real `symphony serve` whenever the binary has it (see e2e/server.mjs).
//
//   node e2e/fake-serve.mjs --project DIR --token T --ui dist [--port 0]
import http from "node:http";
import fs from "node:fs";
import path from "node:path";
import crypto from "node:crypto";
import { fileURLToPath } from "node:url";

const args = Object.fromEntries(
  process.argv.slice(2).reduce((acc, a, i, all) => (a.startsWith("--") ? [...acc, [a.slice(2), all[i + 1]]] : acc), []),
);
const root = path.resolve(args.project);
const token = args.token;
const uiDir = path.resolve(args.ui);
const here = path.dirname(fileURLToPath(import.meta.url));
const types = JSON.parse(fs.readFileSync(path.join(here, "../src/test/stepTypes.json"), "utf8"));
const sockets = new Set();
const trusted = new Set();

function sortKeys(v) {
  if (Array.isArray(v)) return v.map(sortKeys);
  if (v && typeof v === "object") return Object.fromEntries(Object.keys(v).sort().map((k) => [k, sortKeys(v[k])]));
  return v;
}
const canonical = (m) => JSON.stringify(m, null, 2) + "\n";
const hash = (t) => crypto.createHash("sha256").update(t).digest("hex");
const inside = (p) => {
  const abs = path.resolve(root, p);
  if (!abs.startsWith(root + path.sep)) throw { status: 403, message: `${p} is outside the project` };
  return abs;
};
function validate(m) {
  const problems = [];
  const names = new Set(types.map((t) => t.name));
  for (const s of m.steps ?? []) {
    if (!names.has(s.type)) problems.push({ path: `steps.${s.id}.type`, step: s.id, message: `unknown step type ${s.type}` });
    const t = types.find((x) => x.name === s.type);
    for (const p of t?.inputs ?? []) {
      if (p.required && !(m.edges ?? []).some((e) => e.to === `${s.id}.${p.name}`) && !(s.inputs?.[p.name] && "default" in s.inputs[p.name])) {
        problems.push({ path: `steps.${s.id}.inputs.${p.name}`, step: s.id, message: `input ${p.name} is not connected` });
      }
    }
  }
  return problems;
}
function doc(p, text) {
  const melody = JSON.parse(text);
  return { path: p, text, melody, hash: hash(text), problems: validate(melody) };
}
function broadcast(channel, payload) {
  const data = Buffer.from(JSON.stringify({ channel, payload }));
  const head = data.length < 126 ? Buffer.from([0x81, data.length]) : data.length < 65536 ? Buffer.from([0x81, 126, data.length >> 8, data.length & 255]) : (() => { const b = Buffer.alloc(10); b[0] = 0x81; b[1] = 127; b.writeBigUInt64BE(BigInt(data.length), 2); return b; })();
  for (const s of sockets) s.write(Buffer.concat([head, data]));
}
const runs = new Map();
function play(runId, m) {
  const start = Date.now();
  const ev = (e) => broadcast("run-events", { runId, events: [{ atMs: Date.now() - start, ...e }] });
  const steps = m.steps.map((s) => s.id);
  const deps = new Map(steps.map((id) => [id, new Set(m.edges.filter((e) => e.to.split(".")[0] === id).map((e) => e.from.split(".")[0]))]));
  const done = new Set();
  const run = { paused: false, stopped: false };
  runs.set(runId, run);
  ev({ type: "runStarted", runId, melodyId: m.melody.id, steps: steps.length, maxParallel: 4, offline: true });
  for (const id of steps) ev({ type: "stepQueued", step: id, item: null, inputs: {} });
  const tick = () => {
    if (run.stopped) {
      for (const id of steps) if (!done.has(id)) ev({ type: "stepCancelled", step: id });
      ev({ type: "runFinished", status: "cancelled", totals: { steps: steps.length } });
      return;
    }
    if (run.paused) return setTimeout(tick, 100);
    const ready = steps.filter((id) => !done.has(id) && [...deps.get(id)].every((d) => done.has(d)));
    if (ready.length === 0) {
      ev({ type: "runFinished", status: "succeeded", totals: { steps: steps.length, succeeded: steps.length } });
      return;
    }
    for (const id of ready) ev({ type: "stepStarted", step: id, item: null, attempt: 1, typeName: "x", offline: true });
    setTimeout(() => {
      for (const id of ready) {
        done.add(id);
        ev({ type: "stepSucceeded", step: id, elapsedMs: 400, attempts: 1, usage: null, origin: "played", cacheKey: null });
      }
      tick();
    }, 400);
  };
  setTimeout(tick, 50);
}

const commands = {
  projectInfo: () => ({ root, melodiesDir: "melodies", offline: true, providers: [], notice: "No model is configured. Set OPENAI_API_KEY or ANTHROPIC_API_KEY (or `symphony credential set`), or start Ollama on localhost:11434; until then instruments play offline." }),
  listMelodies: () => {
    const dir = path.join(root, "melodies");
    return (fs.existsSync(dir) ? fs.readdirSync(dir) : []).filter((f) => f.endsWith(".melody.json")).sort().map((f) => {
      const m = JSON.parse(fs.readFileSync(path.join(dir, f), "utf8"));
      return { path: `melodies/${f}`, id: m.melody.id, name: m.melody.name, description: m.melody.description ?? "" };
    });
  },
  openMelody: ({ path: p }) => doc(p, fs.readFileSync(inside(p), "utf8")),
  saveMelody: ({ path: p, melody }) => {
    const text = canonical(melody);
    fs.mkdirSync(path.dirname(inside(p)), { recursive: true });
    fs.writeFileSync(inside(p), text);
    return doc(p, text);
  },
  validateMelody: ({ melody }) => validate(melody),
  stepTypes: () => types,
  importSuperoptix: () => { throw { status: 400, message: "the development stand-in cannot import YAML; use symphony serve" }; },
  exportMelody: ({ melody }) => ({ text: canonical(melody) }),
  permissions: ({ melody }) => ({
    network: melody.steps.filter((s) => (s.capabilities ?? []).includes("network")).map((s) => s.id),
    files: melody.steps.filter((s) => (s.capabilities ?? []).includes("files")).map((s) => s.id),
    commands: melody.steps.filter((s) => (s.capabilities ?? []).includes("command")).map((s) => s.id),
    trusted: trusted.has(melody.melody.id),
  }),
  trustMelody: ({ melody }) => (trusted.add(melody.melody.id), { trusted: true }),
  startRun: ({ melody }) => {
    const runId = crypto.randomUUID();
    setTimeout(() => play(runId, melody), 10);
    return { runId };
  },
  pauseRun: ({ runId }) => (runs.get(runId).paused = true, ev2(runId, { type: "runPaused" }), {}),
  resumeRun: ({ runId }) => (runs.get(runId).paused = false, ev2(runId, { type: "runResumed" }), {}),
  stopRun: ({ runId }) => (runs.get(runId).stopped = true, {}),
};
const ev2 = (runId, e) => broadcast("run-events", { runId, events: [{ atMs: 0, ...e }] });

const mime = { ".html": "text/html", ".js": "text/javascript", ".css": "text/css", ".json": "application/json", ".svg": "image/svg+xml" };
const server = http.createServer((req, res) => {
  const url = new URL(req.url, "http://x");
  if (url.pathname.startsWith("/api/")) {
    if (req.headers.authorization !== `Bearer ${token}`) {
      res.writeHead(401, { "content-type": "application/json" });
      return res.end(JSON.stringify({ message: "missing or wrong token" }));
    }
    let body = "";
    req.on("data", (c) => (body += c));
    req.on("end", () => {
      const cmd = commands[url.pathname.slice(5)];
      try {
        if (!cmd) throw { status: 404, message: `no command ${url.pathname}` };
        const out = cmd(body ? JSON.parse(body) : {});
        res.writeHead(200, { "content-type": "application/json" });
        res.end(JSON.stringify(out));
      } catch (e) {
        res.writeHead(e.status ?? 500, { "content-type": "application/json" });
        res.end(JSON.stringify({ message: e.message ?? String(e) }));
      }
    });
    return;
  }
  const file = path.join(uiDir, url.pathname === "/" ? "index.html" : url.pathname);
  if (!file.startsWith(uiDir) || !fs.existsSync(file) || fs.statSync(file).isDirectory()) {
    res.writeHead(404);
    return res.end("not found");
  }
  res.writeHead(200, { "content-type": mime[path.extname(file)] ?? "application/octet-stream" });
  fs.createReadStream(file).pipe(res);
});
server.on("upgrade", (req, socket) => {
  const url = new URL(req.url, "http://x");
  if (url.pathname !== "/api/events" || url.searchParams.get("token") !== token) return socket.destroy();
  const accept = crypto.createHash("sha1").update(req.headers["sec-websocket-key"] + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11").digest("base64");
  socket.write(`HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ${accept}\r\n\r\n`);
  sockets.add(socket);
  socket.on("close", () => sockets.delete(socket));
  socket.on("error", () => sockets.delete(socket));
  socket.on("data", () => {});
});
// File watching: tell the UI when a melody changes on disk.
fs.mkdirSync(path.join(root, "melodies"), { recursive: true });
fs.watch(path.join(root, "melodies"), (_e, f) => {
  if (!f?.endsWith(".melody.json")) return;
  const p = path.join(root, "melodies", f);
  if (fs.existsSync(p)) broadcast("file-changed", { path: `melodies/${f}`, hash: hash(fs.readFileSync(p, "utf8")) });
});
server.listen(Number(args.port ?? 0), "127.0.0.1", () => {
  console.log(`http://127.0.0.1:${server.address().port}/?token=${token}`);
});
