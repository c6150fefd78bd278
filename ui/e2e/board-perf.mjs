// Measures the Harmony Board under a 1,000-step streaming fan-out in headless Chromium:
// event-to-screen lag, frame times and dropped frames, and how many run-event messages and
// events the UI receives, while 1,000 `instrument.chat` steps stream tokens at once from a
// loopback model server. Writes the figures as the last section of ui/PERFORMANCE.md and the
// raw numbers to ui/e2e/out/board-perf.json.
//
//   npm run perf:board        (in ui/; builds ui/dist first; needs target/debug/symphony)
//   SYMPHONY_BIN=../target/release/symphony npm run perf:board     (a release engine: better)
//
// It takes 5–10 minutes on 2 cores: zoomed to fit, the page needs far longer than the run.
//
// The melody: STEPS chat steps, none connected — each reads only the run input ({{goal}}), so
// the conductor can start every one of them the moment the run starts (a pure fan-out from the
// run input; a root step feeding 1,000 would only add one model call before the fan-out and
// 1,000 edges the canvas has to draw). `settings.maxParallel` is STEPS and each step's
// `limits.maxConcurrent` is STEPS too: the chat instrument otherwise allows 8 calls in flight
// per provider key (crates/symphony-instruments/src/limits.rs), and the loopback server is one
// key (`127.0.0.1:<port>`).
//
// The model server here streams TOKENS tokens per step, one every 20–30 ms (the interval and a
// first-token delay of 0–STAGGER_MS are derived from the step's number, so every round is the
// same), so about half the steps stream at the same moment and the engine produces
// ~15–20 thousand token chunks a second at the peak.
//
// One clock for lag: the Node process and Chromium run on the same machine and both read
// Date.now(). The model server records when it sent each step's last chunk; a
// MutationObserver in the page records when that step's node first shows `succeeded` (the
// DOM), and the requestAnimationFrame after it (the frame that paints it). Lag = shown − sent.
// The page also counts `run-events` WebSocket messages (wrapping WebSocket.prototype.onmessage)
// and times the UI's handling of each one.
//
// Each configuration (whole board in view; a working zoom with ~30 steps in view) is run
// ROUNDS times after one warm-up run; the report gives the median of the rounds and their
// spread (min–max).
import { spawnSync } from "node:child_process";
import fs from "node:fs";
import http from "node:http";
import os from "node:os";
import path from "node:path";
import { launch, outDir, startServer, tokenOf, uiDir } from "./lib.mjs";

// Node 20 has a WebSocket client only behind a flag (Node 22 has it by default): rerun with it.
if (typeof WebSocket === "undefined" && !process.execArgv.includes("--experimental-websocket")) {
  const child = spawnSync(process.execPath, ["--experimental-websocket", ...process.execArgv, ...process.argv.slice(1)], { stdio: "inherit" });
  process.exit(child.status ?? 1);
}

const STEPS = Number(process.env.BOARD_PERF_STEPS ?? 1000);
const TOKENS = Number(process.env.BOARD_PERF_TOKENS ?? 30);
const STAGGER_MS = Number(process.env.BOARD_PERF_STAGGER_MS ?? 1500);
const ROUNDS = Number(process.env.BOARD_PERF_ROUNDS ?? 3);
// For investigating, not for the record (they leave PERFORMANCE.md alone unless BOARD_PERF_WRITE=1):
// which zooms to measure, skip the warm-up, a Chromium trace of each round summarised by event
// name, stopping the nodes' 250 ms elapsed-time ticker (setInterval with 250 ms) and adding CSS
// (e.g. `.dot { animation: none !important }`) to see what they cost, and coalescing run-events
// messages in the page, one merged batch per animation frame (BOARD_PERF_COALESCE=1).
const ZOOMS = (process.env.BOARD_PERF_ZOOMS ?? "fit,working").split(",");
const WARMUP = process.env.BOARD_PERF_WARMUP !== "0";
const TRACE = process.env.BOARD_PERF_TRACE === "1";
const NO_TICKER = process.env.BOARD_PERF_NO_TICKER === "1";
const EXTRA_CSS = process.env.BOARD_PERF_CSS ?? "";
const COALESCE = process.env.BOARD_PERF_COALESCE === "1";
const INVESTIGATING = TRACE || NO_TICKER || COALESCE || EXTRA_CSS !== "" || !WARMUP || ZOOMS.join() !== "fit,working" || process.env.BOARD_PERF_STEPS !== undefined;
const WRITE = process.env.BOARD_PERF_WRITE === "1" || (process.env.BOARD_PERF_WRITE !== "0" && !INVESTIGATING);
const VIEWPORT = { width: 1400, height: 860 };
const CELL = { x: 260, y: 220 };
const WORKING_VISIBLE = 30;
const FRAME_MS = 1000 / 60;
const DATE = new Date().toISOString().slice(0, 10);

/** The step's token interval (20–30 ms) and first-token delay (0..STAGGER_MS), from its number. */
const tokenMs = (i) => 20 + ((i * 7) % 11);
const firstDelay = (i) => Math.round((((i * 7919) % STEPS) / STEPS) * STAGGER_MS);

// ----- The model server -----

/**
 * An OpenAI-compatible streaming chat server. Each request's prompt names its step (`Step N:`);
 * it records per step when the request arrived and when the last chunk was sent.
 */
async function startStreamServer() {
  let round = null;
  const sockets = new Set();
  const server = http.createServer((req, res) => {
    let body = "";
    req.on("data", (d) => (body += d));
    req.on("end", () => {
      let request;
      try {
        request = JSON.parse(body);
      } catch {
        res.writeHead(400).end();
        return;
      }
      const prompt = String(request.messages?.at(-1)?.content ?? "");
      const i = Number(/Step (\d+):/.exec(prompt)?.[1] ?? -1);
      const r = round;
      if (!r || i < 0) {
        res.writeHead(404, { "Content-Type": "application/json" });
        res.end(JSON.stringify({ error: { message: "not expecting this request", type: "invalid_request_error" } }));
        return;
      }
      r.requested[i] = Date.now();
      r.open += 1;
      r.maxOpen = Math.max(r.maxOpen, r.open);
      res.writeHead(200, { "Content-Type": "text/event-stream", "Cache-Control": "no-cache", Connection: "keep-alive" });
      const id = `chatcmpl-${i}`;
      const chunk = (choices, extra) => res.write(`data: ${JSON.stringify({ id, object: "chat.completion.chunk", model: request.model, choices, ...extra })}\n\n`);
      let n = 0;
      const next = () => {
        if (res.destroyed) {
          r.open -= 1;
          r.aborted += 1;
          return;
        }
        if (n < TOKENS) {
          chunk([{ index: 0, delta: n === 0 ? { role: "assistant", content: `t${n} ` } : { content: `t${n} ` }, finish_reason: null }]);
          n += 1;
          r.chunks += 1;
          setTimeout(next, tokenMs(i));
          return;
        }
        chunk([{ index: 0, delta: {}, finish_reason: "stop" }]);
        if (request.stream_options?.include_usage) chunk([], { usage: { prompt_tokens: 8, completion_tokens: TOKENS, total_tokens: 8 + TOKENS } });
        res.end("data: [DONE]\n\n");
        r.sent[i] = Date.now();
        r.open -= 1;
      };
      setTimeout(next, firstDelay(i));
    });
  });
  server.on("connection", (s) => {
    sockets.add(s);
    s.on("close", () => sockets.delete(s));
  });
  server.maxConnections = 4 * STEPS;
  await new Promise((resolve) => server.listen(0, "127.0.0.1", 4096, resolve));
  const { port } = server.address();
  return {
    baseUrl: `http://127.0.0.1:${port}/v1`,
    /** Starts recording a new round. */
    begin() {
      round = { requested: {}, sent: {}, open: 0, maxOpen: 0, chunks: 0, aborted: 0 };
      return round;
    },
    stop: () =>
      new Promise((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(resolve);
      }),
  };
}

// ----- The melody -----

function fanOutMelody(baseUrl) {
  // Wider than high, like the canvas between the side panels and the board's panel below it.
  const cols = Math.ceil(Math.sqrt(STEPS * 1.75));
  const steps = [];
  const positions = {};
  for (let i = 0; i < STEPS; i++) {
    const id = `s${i}`;
    steps.push({
      id,
      kind: "instrument",
      type: "instrument.chat",
      capabilities: ["network", "secrets"],
      config: { baseUrl, model: "loopback-model", prompt: `Step ${i}: a word about {{goal}}`, maxTokens: 60, limits: { maxConcurrent: STEPS } },
    });
    positions[id] = { x: (i % cols) * CELL.x, y: Math.floor(i / cols) * CELL.y };
  }
  return {
    formatVersion: 1,
    melody: { id: "fan-out", name: `Fan-out (${STEPS} streaming steps)`, description: "Generated for the board performance measurement." },
    inputs: { goal: { type: "string", default: "measure" } },
    settings: { maxParallel: STEPS },
    steps,
    edges: [],
    layout: { steps: positions },
  };
}

// ----- Page-side instrumentation -----

/**
 * Installed before the app's scripts: counts and times `run-events` messages. With `coalesce`
 * (an experiment, BOARD_PERF_COALESCE=1) it also holds them back and hands the app one merged
 * message per run per animation frame, to see what coalescing in the page would do.
 */
function instrumentSocket({ coalesce }) {
  const perf = (window.__perf = { on: false, msgs: [], deliveries: [], arrived: {}, finishedAt: null, finishedAtMs: null, longTasks: [] });
  const desc = Object.getOwnPropertyDescriptor(WebSocket.prototype, "onmessage");
  /** Hands a message to the app's handler and times it, up to the microtask React flushes its render in. */
  const deliver = (ws, fn, ev) => {
    const d = { t0: performance.now(), handleMs: 0, flushMs: null };
    fn.call(ws, ev);
    d.handleMs = performance.now() - d.t0;
    // React flushes a store update in a microtask queued during the handler; this one runs after it.
    queueMicrotask(() => (d.flushMs = performance.now() - d.t0));
    perf.deliveries.push(d);
  };
  let pending = null;
  Object.defineProperty(WebSocket.prototype, "onmessage", {
    configurable: true,
    enumerable: desc.enumerable,
    get() {
      return desc.get.call(this);
    },
    set(fn) {
      if (typeof fn !== "function") return desc.set.call(this, fn);
      desc.set.call(this, function (ev) {
        const data = ev.data;
        if (!perf.on || typeof data !== "string" || data.indexOf('"run-events"') < 0 || data.indexOf('"run-events"') > 40) return fn.call(this, ev);
        const wall = Date.now();
        const rec = { wall, bytes: data.length, events: 0, progress: 0 };
        perf.msgs.push(rec);
        if (!coalesce) deliver(this, fn, ev);
        else {
          const { payload } = JSON.parse(data);
          if (!pending) {
            pending = new Map();
            requestAnimationFrame(() => {
              const runs = pending;
              pending = null;
              for (const [runId, events] of runs) deliver(this, fn, { data: JSON.stringify({ channel: "run-events", payload: { runId, events } }) });
            });
          }
          const list = pending.get(payload.runId) ?? [];
          for (const e of payload.events) list.push(e);
          pending.set(payload.runId, list);
        }
        // Counted after the app's handler, outside the timed part.
        for (let at = data.indexOf('"atMs":'); at >= 0; at = data.indexOf('"atMs":', at + 7)) rec.events += 1;
        for (let at = data.indexOf('"type":"stepProgress"'); at >= 0; at = data.indexOf('"type":"stepProgress"', at + 20)) rec.progress += 1;
        const done = /"type":"stepSucceeded","step":"([^"]+)"/g;
        for (let m = done.exec(data); m; m = done.exec(data)) if (!(m[1] in perf.arrived)) perf.arrived[m[1]] = wall;
        const fin = /"atMs":(\d+),"type":"runFinished"/.exec(data);
        if (fin) {
          perf.finishedAt = wall;
          perf.finishedAtMs = Number(fin[1]);
        }
      });
    },
  });
  try {
    new PerformanceObserver((list) => {
      if (perf.on) for (const e of list.getEntries()) perf.longTasks.push(e.duration);
    }).observe({ type: "longtask", buffered: false });
  } catch {
    // No long-task timing in this browser.
  }
}

/** Starts the frame loop and the node observer; returns once they run. */
function startWatching() {
  const perf = window.__perf;
  perf.msgs = [];
  perf.deliveries = [];
  perf.arrived = {};
  perf.finishedAt = null;
  perf.finishedAtMs = null;
  perf.longTasks = [];
  perf.frames = [];
  perf.domAt = {};
  perf.frameAt = {};
  perf.framing = true;
  perf.on = true;
  const tick = (t) => {
    perf.frames.push(t);
    if (perf.framing) requestAnimationFrame(tick);
  };
  requestAnimationFrame(tick);
  const root = document.querySelector(".react-flow__nodes");
  perf.observer = new MutationObserver((list) => {
    const now = Date.now();
    const fresh = [];
    for (const m of list) {
      const el = m.target;
      if (el.getAttribute("data-state") !== "succeeded") continue;
      const id = el.getAttribute("data-step");
      if (id && !(id in perf.domAt)) {
        perf.domAt[id] = now;
        fresh.push(id);
      }
    }
    // The next frame's callbacks run before that frame paints the change.
    if (fresh.length)
      requestAnimationFrame(() => {
        const t = Date.now();
        for (const id of fresh) perf.frameAt[id] = t;
      });
  });
  perf.observer.observe(root, { attributes: true, attributeFilter: ["data-state"], subtree: true });
}

function stopWatching() {
  const perf = window.__perf;
  perf.framing = false;
  perf.on = false;
  perf.observer.disconnect();
  const { msgs, deliveries, arrived, finishedAt, finishedAtMs, longTasks, frames, domAt, frameAt } = perf;
  return { msgs, deliveries, arrived, finishedAt, finishedAtMs, longTasks, frames, domAt, frameAt, rendered: document.querySelectorAll(".react-flow__node-step").length };
}

// ----- A second listener, in Node -----

/**
 * Listens to the event socket from Node (needs a WebSocket client: Node 22+, or Node 20 with
 * --experimental-websocket, as `npm run perf:board` passes) and records when each step's
 * `stepSucceeded` arrived — with Node idle but for the model server, this is close to when the
 * engine sent it, so the lag splits into the engine's part and the page's.
 */
async function listenFromNode(serverUrl) {
  if (typeof WebSocket === "undefined") return null;
  const u = new URL(serverUrl);
  const ws = new WebSocket(`ws://${u.host}/api/events?token=${encodeURIComponent(tokenOf(u.href))}`);
  const seen = { arrived: {}, msgs: [], types: {} };
  ws.onmessage = (ev) => {
    const data = String(ev.data);
    if (!data.startsWith('{"channel":"run-events"')) return;
    const wall = Date.now();
    let events = 0;
    for (let at = data.indexOf('"atMs":'); at >= 0; at = data.indexOf('"atMs":', at + 7)) events += 1;
    seen.msgs.push({ wall, events });
    // What the messages carry, by event type (bytes as JSON).
    for (const e of JSON.parse(data).payload.events) {
      const t = (seen.types[e.type] ??= { count: 0, bytes: 0 });
      t.count += 1;
      t.bytes += JSON.stringify(e).length;
    }
    const done = /"type":"stepSucceeded","step":"([^"]+)"/g;
    for (let m = done.exec(data); m; m = done.exec(data)) if (!(m[1] in seen.arrived)) seen.arrived[m[1]] = wall;
  };
  await new Promise((resolve, reject) => {
    ws.onopen = resolve;
    ws.onerror = () => reject(new Error("the Node listener could not open the event socket"));
  });
  return { seen, close: () => ws.close() };
}

// ----- Processes: what else ran, and CPU time per side -----

const CLK_TCK = 100;

function procStat(pid) {
  try {
    const s = fs.readFileSync(`/proc/${pid}/stat`, "utf8");
    const f = s.slice(s.lastIndexOf(")") + 2).split(" ");
    return { ppid: Number(f[1]), cpu: (Number(f[11]) + Number(f[12])) / CLK_TCK };
  } catch {
    return null;
  }
}

function allPids() {
  return fs.readdirSync("/proc").filter((d) => /^\d+$/.test(d)).map(Number);
}

/** Every process, and a test of whether one descends from another. */
function processTree() {
  const stats = new Map();
  for (const pid of allPids()) {
    const s = procStat(pid);
    if (s) stats.set(pid, s);
  }
  const under = (pid, root) => {
    for (let p = pid, hops = 0; p > 1 && hops < 30; p = stats.get(p)?.ppid ?? 0, hops++) if (p === root) return true;
    return false;
  };
  return { stats, under };
}

/**
 * CPU seconds used so far by the engine (the serve process), by Chromium (every other process
 * this script started) and by this Node process (the model server and the driver).
 */
function cpuNow(enginePid) {
  const { stats, under } = processTree();
  let engine = 0;
  let chromium = 0;
  for (const [pid, s] of stats) {
    if (pid === process.pid || !under(pid, process.pid)) continue;
    if (under(pid, enginePid)) engine += s.cpu;
    else chromium += s.cpu;
  }
  const u = process.cpuUsage();
  return { engine, chromium, node: (u.user + u.system) / 1e6 };
}

function findEnginePid(project) {
  for (const pid of allPids()) {
    try {
      if (fs.readFileSync(`/proc/${pid}/cmdline`, "utf8").includes(project)) return pid;
    } catch {
      // gone
    }
  }
  return null;
}

/** CPU seconds the whole machine has spent busy so far (/proc/stat). */
function machineBusy() {
  const f = fs.readFileSync("/proc/stat", "utf8").split("\n")[0].trim().split(/\s+/).slice(1).map(Number);
  // user nice system idle iowait irq softirq steal
  return (f[0] + f[1] + f[2] + f[5] + f[6] + (f[7] ?? 0)) / CLK_TCK;
}

/**
 * What else keeps the machine busy while the rounds run: CPU seconds by program name of every
 * process this script did not start, sampled every second (a process first seen after the
 * sampling began is counted from its start).
 */
function othersSampler() {
  const bootTicks = (pid) => {
    try {
      const s = fs.readFileSync(`/proc/${pid}/stat`, "utf8");
      return Number(s.slice(s.lastIndexOf(")") + 2).split(" ")[19]);
    } catch {
      return 0;
    }
  };
  const uptime = () => Number(fs.readFileSync("/proc/uptime", "utf8").split(" ")[0]) * CLK_TCK;
  const began = uptime();
  const last = new Map();
  const byName = {};
  const sample = () => {
    const { stats, under } = processTree();
    for (const [pid, st] of stats) {
      if (under(pid, process.pid)) continue;
      const prev = last.get(pid) ?? (bootTicks(pid) > began ? 0 : st.cpu);
      const d = st.cpu - prev;
      last.set(pid, st.cpu);
      if (d <= 0) continue;
      let comm = "?";
      try {
        comm = fs.readFileSync(`/proc/${pid}/comm`, "utf8").trim();
      } catch {
        // gone
      }
      byName[comm] = (byName[comm] ?? 0) + d;
    }
  };
  sample();
  const timer = setInterval(sample, 1000);
  return {
    stop() {
      clearInterval(timer);
      sample();
      return byName;
    },
  };
}

// ----- Statistics -----

const sortNum = (a) => [...a].sort((x, y) => x - y);
function pct(sorted, p) {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))];
}
const median = (a) => pct(sortNum(a), 0.5);

function analyse(page, model, started, cpu, node) {
  const { msgs, deliveries, arrived, finishedAt, finishedAtMs, longTasks, frames, domAt, frameAt, rendered } = page;
  const toNode = [];
  const nodeToPage = [];
  if (node)
    for (const [id, at] of Object.entries(node.arrived)) {
      const sent = model.sent[Number(id.slice(1))];
      if (sent !== undefined) toNode.push(at - sent);
      if (arrived[id] !== undefined) nodeToPage.push(arrived[id] - at);
    }
  // The socket's rate, as the engine sent it (Node's listener is never behind).
  let socket = null;
  if (node && node.msgs.length > 0) {
    const secs = Math.max(0.001, (node.msgs.at(-1).wall - node.msgs[0].wall) / 1000);
    let peak = 0;
    let peakEvents = 0;
    for (let a = 0, b = 0, n = 0; b < node.msgs.length; b++) {
      n += node.msgs[b].events;
      while (node.msgs[b].wall - node.msgs[a].wall >= 1000) n -= node.msgs[a++].events;
      peak = Math.max(peak, b - a + 1);
      peakEvents = Math.max(peakEvents, n);
    }
    const events = node.msgs.reduce((n, m) => n + m.events, 0);
    socket = { count: node.msgs.length, perSec: node.msgs.length / secs, peakPerSec: peak, events, eventsPerSec: events / secs, peakEvents, secs, types: node.types };
  }
  const lag = [];
  const lagDom = [];
  const toArrive = [];
  const arriveToFrame = [];
  for (const [id, shown] of Object.entries(frameAt)) {
    const i = Number(id.slice(1));
    const sent = model.sent[i];
    if (sent === undefined) continue;
    lag.push(shown - sent);
    lagDom.push(domAt[id] - sent);
    if (arrived[id] !== undefined) {
      toArrive.push(arrived[id] - sent);
      arriveToFrame.push(shown - arrived[id]);
    }
  }
  // Frames from the click to the run's end (the last frame before runFinished plus 500 ms).
  const intervals = [];
  for (let k = 1; k < frames.length; k++) intervals.push(frames[k] - frames[k - 1]);
  const fi = sortNum(intervals);
  const span = frames.length > 1 ? frames[frames.length - 1] - frames[0] : 0;
  const dropped = intervals.reduce((n, d) => n + Math.max(0, Math.round(d / FRAME_MS) - 1), 0);
  const first = msgs[0]?.wall ?? started;
  const last = msgs.at(-1)?.wall ?? started;
  const streamSecs = Math.max(0.001, (last - first) / 1000);
  const events = msgs.reduce((n, m) => n + m.events, 0);
  // The most messages, and events, in any one second.
  let peak = 0;
  let peakEvents = 0;
  for (let a = 0, b = 0, n = 0; b < msgs.length; b++) {
    n += msgs[b].events;
    while (msgs[b].wall - msgs[a].wall >= 1000) n -= msgs[a++].events;
    peak = Math.max(peak, b - a + 1);
    peakEvents = Math.max(peakEvents, n);
  }
  const s = (a) => sortNum(a);
  const lagS = s(lag);
  const requested = Object.values(model.requested);
  return {
    stepsObserved: lag.length,
    stepsRendered: rendered,
    lag: { p50: pct(lagS, 0.5), p95: pct(lagS, 0.95), max: lagS.at(-1) ?? NaN, min: lagS[0] ?? NaN },
    lagDom: { p50: pct(s(lagDom), 0.5), p95: pct(s(lagDom), 0.95), max: s(lagDom).at(-1) ?? NaN },
    toArrive: { p50: pct(s(toArrive), 0.5), p95: pct(s(toArrive), 0.95), max: s(toArrive).at(-1) ?? NaN },
    toNode: { p50: pct(s(toNode), 0.5), p95: pct(s(toNode), 0.95), max: s(toNode).at(-1) ?? NaN, n: toNode.length },
    nodeToPage: { p50: pct(s(nodeToPage), 0.5), p95: pct(s(nodeToPage), 0.95), max: s(nodeToPage).at(-1) ?? NaN },
    arriveToFrame: { p50: pct(s(arriveToFrame), 0.5), p95: pct(s(arriveToFrame), 0.95), max: s(arriveToFrame).at(-1) ?? NaN },
    frames: { count: frames.length, p50: pct(fi, 0.5), p95: pct(fi, 0.95), max: fi.at(-1) ?? NaN, dropped, fps: span > 0 ? ((frames.length - 1) * 1000) / span : NaN, over50: intervals.filter((d) => d > 50).length },
    socket,
    messages: { count: msgs.length, perSec: msgs.length / streamSecs, peakPerSec: peak, peakEvents, events, eventsPerSec: events / streamSecs, progress: msgs.reduce((n, m) => n + m.progress, 0), maxEvents: Math.max(0, ...msgs.map((m) => m.events)), mb: msgs.reduce((n, m) => n + m.bytes, 0) / 1e6 },
    handling: {
      deliveries: deliveries.length,
      handleP50: median(deliveries.map((m) => m.handleMs)),
      handleMax: Math.max(0, ...deliveries.map((m) => m.handleMs)),
      flushP50: median(deliveries.filter((m) => m.flushMs !== null).map((m) => m.flushMs)),
      flushP95: pct(sortNum(deliveries.filter((m) => m.flushMs !== null).map((m) => m.flushMs)), 0.95),
      flushMax: Math.max(0, ...deliveries.map((m) => m.flushMs ?? 0)),
      flushTotal: deliveries.reduce((n, m) => n + (m.flushMs ?? 0), 0),
      longTasks: longTasks.length,
      longTaskMs: longTasks.reduce((a, b) => a + b, 0),
    },
    run: {
      wallMs: finishedAt !== null ? finishedAt - started : NaN,
      engineMs: finishedAtMs,
      requests: requested.length,
      allRequestedMs: requested.length ? Math.max(...requested) - started : NaN,
      maxOpenStreams: model.maxOpen,
      chunks: model.chunks,
      aborted: model.aborted,
    },
    cpu,
  };
}

/**
 * Prints where the page's main thread spent its time: self time by trace event name (a parent's
 * time minus its children's), and the script entry points (FunctionCall, TimerFire) by place.
 */
function summariseTrace(buffer, name) {
  fs.writeFileSync(path.join(outDir, name), buffer);
  const { traceEvents } = JSON.parse(buffer.toString());
  const main = new Set(traceEvents.filter((e) => e.name === "thread_name" && e.args?.name === "CrRendererMain").map((e) => `${e.pid}:${e.tid}`));
  const events = traceEvents.filter((e) => e.ph === "X" && e.dur > 0 && main.has(`${e.pid}:${e.tid}`)).sort((a, b) => a.ts - b.ts || b.dur - a.dur);
  const self = new Map();
  const entry = new Map();
  const add = (m, k, ms) => {
    const t = m.get(k) ?? { ms: 0, n: 0 };
    t.ms += ms;
    t.n += 1;
    m.set(k, t);
  };
  const stack = [];
  const selfOf = new Map();
  let busy = 0;
  for (const e of events) {
    while (stack.length && stack.at(-1).ts + stack.at(-1).dur <= e.ts) stack.pop();
    const parent = stack.at(-1);
    if (parent) selfOf.set(parent, (selfOf.get(parent) ?? parent.dur) - e.dur);
    else busy += e.dur;
    selfOf.set(e, e.dur);
    stack.push(e);
    if (e.name === "FunctionCall" || e.name === "TimerFire") {
      const d = e.args?.data ?? {};
      add(entry, `${e.name} ${d.functionName || "(anonymous)"}${d.url ? ` ${d.url.split("/").pop()}:${d.lineNumber}:${d.columnNumber}` : ""}`, e.dur / 1000);
    }
  }
  for (const [e, us] of selfOf) add(self, e.name, Math.max(0, us) / 1000);
  const span = events.length ? (events.at(-1).ts + events.at(-1).dur - events[0].ts) / 1000 : 0;
  const top = (m, k) =>
    [...m.entries()]
      .sort((a, b) => b[1].ms - a[1].ms)
      .slice(0, k)
      .map(([n, t]) => `    ${t.ms.toFixed(0).padStart(7)} ms ${String(t.n).padStart(7)}×  ${n}`)
      .join("\n");
  console.log(`  trace ${name}: main thread busy ${(busy / 1000).toFixed(0)} ms of ${span.toFixed(0)} ms; self time by event:\n${top(self, 16)}\n  script entry points (inclusive):\n${top(entry, 10)}`);
}

// ----- One round -----

async function openBoard(page, server) {
  await page.goto(server.url);
  await page.locator('.melody-card[data-path="melodies/fan-out.melody.json"]').click();
  await page.waitForSelector(".react-flow__node-step", { timeout: 60000 });
  // The first view is fitted to an estimate of the canvas's size; fit it to the real one.
  await page.waitForTimeout(500);
  await page.locator(".react-flow__controls-fitview").click();
  await page.waitForFunction((n) => document.querySelectorAll(".react-flow__node-step").length === n, STEPS, { timeout: 60000 });
  // Let the layout settle (measurement, validation) before anything is timed.
  await page.waitForTimeout(1500);
}

/** Zooms in around the middle until about WORKING_VISIBLE steps are rendered. */
async function workingZoom(page) {
  for (let k = 0; k < 30; k++) {
    const n = await page.locator(".react-flow__node-step").count();
    if (n <= WORKING_VISIBLE * 1.3) return n;
    await page.locator(".react-flow__controls-zoomin").click();
    await page.waitForTimeout(350);
  }
  return page.locator(".react-flow__node-step").count();
}

let roundNo = 0;

async function round(browser, server, model, enginePid, zoom) {
  const context = await browser.newContext({ viewport: VIEWPORT });
  await context.addInitScript(instrumentSocket, { coalesce: COALESCE });
  if (EXTRA_CSS)
    await context.addInitScript((css) => {
      document.addEventListener("DOMContentLoaded", () => {
        const style = document.createElement("style");
        style.textContent = css;
        document.head.append(style);
      });
    }, EXTRA_CSS);
  if (NO_TICKER)
    await context.addInitScript(() => {
      const real = window.setInterval;
      window.setInterval = (fn, ms, ...args) => (ms === 250 ? 0 : real(fn, ms, ...args));
    });
  const page = await context.newPage();
  page.on("pageerror", (e) => console.error(`page error: ${e.message}`));
  let listener = null;
  try {
    await openBoard(page, server);
    const inView = zoom === "working" ? await workingZoom(page) : await page.locator(".react-flow__node-step").count();
    await page.waitForTimeout(500);
    const rec = model.begin();
    await page.getByRole("button", { name: "▶ Run" }).click();
    const dialog = page.getByRole("dialog");
    await dialog.getByRole("button", { name: "Start run" }).waitFor();
    // A goal of its own per round: the conductor would otherwise reuse the earlier rounds' outputs.
    await dialog.getByLabel("run input goal").fill(`measure, round ${++roundNo}`);
    await page.evaluate(startWatching);
    const cpu0 = cpuNow(enginePid);
    const busy0 = machineBusy();
    const load0 = fs.readFileSync("/proc/loadavg", "utf8").split(" ").slice(0, 3).join(" ");
    listener = await listenFromNode(server.url);
    if (TRACE) await browser.startTracing(page, { categories: ["devtools.timeline", "disabled-by-default-devtools.timeline", "v8.execute"] });
    const started = Date.now();
    await dialog.getByRole("button", { name: "Start run" }).click();
    try {
      await page.waitForFunction(() => window.__perf.finishedAt !== null, null, { timeout: 600000, polling: 250 });
    } catch (e) {
      await page.screenshot({ path: path.join(outDir, "board-perf-stuck.png") });
      const seen = await page.evaluate(() => ({ msgs: window.__perf.msgs.length, events: window.__perf.msgs.reduce((n, m) => n + m.events, 0), succeeded: Object.keys(window.__perf.arrived).length }));
      throw new Error(`the run did not finish: page saw ${JSON.stringify(seen)}; model: ${Object.keys(rec.requested).length} requests, ${Object.keys(rec.sent).length} streams done, ${rec.open} open: ${e.message}`);
    }
    // The last batch's render and paint.
    await page.waitForTimeout(500);
    const cpu1 = cpuNow(enginePid);
    const busy1 = machineBusy();
    const data = await page.evaluate(stopWatching);
    if (TRACE) summariseTrace(await browser.stopTracing(), `board-perf-trace-${zoom}-${roundNo}.json`);
    const cpu = { engine: cpu1.engine - cpu0.engine, chromium: cpu1.chromium - cpu0.chromium, node: cpu1.node - cpu0.node, loadBefore: load0 };
    // Everything else the machine did meanwhile (other people's builds and tests).
    cpu.others = Math.max(0, busy1 - busy0 - cpu.engine - cpu.chromium - cpu.node);
    const result = { zoom, inView, ...analyse(data, rec, started, cpu, listener?.seen) };
    await page.screenshot({ path: path.join(outDir, `board-perf-${zoom}.png`) });
    return result;
  } finally {
    listener?.close();
    await context.close();
  }
}

// ----- Main -----

const binary = process.env.SYMPHONY_BIN ? path.relative(path.resolve(uiDir, ".."), path.resolve(process.env.SYMPHONY_BIN)) : "target/debug/symphony";
const release = /release/.test(binary);
const model = await startStreamServer();
const server = await startServer();
const browser = await launch();
const results = { fit: [], working: [] };
let warmup = null;
const others = othersSampler();
const wallStart = Date.now();
let othersCpu = {};
try {
  fs.writeFileSync(path.join(server.project, "melodies", "fan-out.melody.json"), JSON.stringify(fanOutMelody(model.baseUrl), null, 2) + "\n");
  const enginePid = findEnginePid(server.project);
  console.log(`engine: ${binary} (pid ${enginePid}); ${STEPS} steps × ${TOKENS} tokens, stagger ${STAGGER_MS} ms`);
  if (WARMUP) {
    warmup = await round(browser, server, model, enginePid, ZOOMS[0]);
    console.log(`warm-up: ${warmup.run.wallMs} ms, lag p50 ${warmup.lag.p50} ms`);
  }
  for (let r = 0; r < ROUNDS; r++) {
    for (const zoom of ZOOMS) {
      const res = await round(browser, server, model, enginePid, zoom);
      results[zoom].push(res);
      console.log(
        `${zoom} #${r + 1}: ${res.inView} in view, observed ${res.stepsObserved}; lag p50 ${res.lag.p50} p95 ${res.lag.p95} max ${res.lag.max} ms; ` +
          `fps ${res.frames.fps.toFixed(1)}, dropped ${res.frames.dropped}; ${res.messages.count} msgs (${res.messages.perSec.toFixed(1)}/s), ` +
          `${res.messages.events} events (${Math.round(res.messages.eventsPerSec)}/s); run ${res.run.wallMs} ms; cpu engine ${res.cpu.engine.toFixed(1)} s chromium ${res.cpu.chromium.toFixed(1)} s`,
      );
    }
  }
} finally {
  othersCpu = others.stop();
  await browser.close();
  await server.stop();
  await model.stop();
}

fs.writeFileSync(path.join(outDir, INVESTIGATING ? "board-perf-investigation.json" : "board-perf.json"), JSON.stringify({ binary, steps: STEPS, noTicker: NO_TICKER, coalesce: COALESCE, css: EXTRA_CSS, warmup, results, othersCpu, wallSecs: (Date.now() - wallStart) / 1000 }, null, 2));

// ----- The report -----

/** Median of the rounds, and min–max. */
function agg(list, get, digits = 0) {
  const v = list.map(get).filter((x) => Number.isFinite(x));
  if (v.length === 0) return "–";
  const s = sortNum(v);
  const f = (x) => x.toFixed(digits);
  return s.length === 1 ? f(s[0]) : `${f(median(v))} (${f(s[0])}–${f(s.at(-1))})`;
}

const F = results.fit;
const W = results.working;
const row = (label, get, digits = 0) => `| ${label} | ${agg(F, get, digits)} | ${agg(W, get, digits)} |`;
const cpu = fs.readFileSync("/proc/cpuinfo", "utf8").match(/model name\s*:\s*(.*)/)?.[1] ?? "unknown CPU";
const wallSecs = (Date.now() - wallStart) / 1000;
const busiest = Object.entries(othersCpu)
  .filter(([, v]) => v >= 5)
  .sort((a, b) => b[1] - a[1]);
const othersText =
  busiest.length === 0
    ? "nothing else used the CPU"
    : `${busiest
        .slice(0, 6)
        .map(([k, v]) => `${k} ${v.toFixed(0)} s`)
        .join(", ")} of CPU in ${wallSecs.toFixed(0)} s (other people's builds and tests: on average ${(busiest.reduce((n, [, v]) => n + v, 0) / wallSecs).toFixed(1)} of the ${os.cpus().length} cores)`;
// Which code was measured: the checkout's commit (and whether the engine's or the UI's sources
// had uncommitted changes), or BOARD_PERF_COMMIT when run from an export of a commit.
let source = process.env.BOARD_PERF_COMMIT ? `commit ${process.env.BOARD_PERF_COMMIT}` : "";
if (!source) {
  const git = (...args) => spawnSync("git", ["-C", uiDir, ...args], { encoding: "utf8" });
  const head = git("rev-parse", "--short", "HEAD");
  if (head.status === 0) {
    const dirty = git("status", "--porcelain", "--", path.join(uiDir, "src"), path.resolve(uiDir, "..", "crates")).stdout.trim() !== "";
    source = `the checkout at ${head.stdout.trim()}${dirty ? ", with uncommitted changes" : ""}`;
  } else source = "an unknown commit";
}
let built = "";
try {
  built = `, built ${fs.statSync(path.resolve(uiDir, "..", binary)).mtime.toISOString().slice(0, 16).replace("T", " ")} UTC`;
} catch {
  // no binary there
}

/** The event types of the first round that has them, biggest first. */
function eventTypes() {
  const types = [...W, ...F].find((r) => r.socket?.types)?.socket.types;
  if (!types) return "not recorded (no WebSocket client in Node)";
  return Object.entries(types)
    .sort((a, b) => b[1].bytes - a[1].bytes)
    .map(([t, v]) => `${t} ${v.count} (${(v.bytes / 1e6).toFixed(2)} MB)`)
    .join(", ");
}

const section = `## The board under a 1,000-step streaming fan-out

Measured by \`npm run perf:board\` (ui/e2e/board-perf.mjs) on ${DATE}: headless Chromium
(software rendering), viewport ${VIEWPORT.width}×${VIEWPORT.height}, against \`symphony serve\` from
\`${binary}\` (a **${release ? "release" : "debug"}** build${built}) and ui/dist, both from ${source}; on ${cpu}
with ${os.cpus().length} cores shared by the engine, Chromium and the Node process that plays the model.
Also running meanwhile: ${othersText}.

**The run.** ${STEPS} \`instrument.chat\` steps, none connected: each reads only the run input
(\`{{goal}}\`), so all of them are ready the moment the run starts — the widest fan-out there is,
with no edges for the canvas to draw. \`settings.maxParallel\` is ${STEPS}, and every step sets
\`limits: {maxConcurrent: ${STEPS}}\`, because the chat instrument allows 8 calls in flight per
provider key by default and the loopback server is a single key. The model server (in the
script) streams ${TOKENS} tokens per step, one every 20–30 ms, after a first-token delay of
0–${STAGGER_MS} ms (both derived from the step's number, so every round plays the same). Steps
are laid out on a grid; the board is either zoomed to fit (all ${STEPS} nodes rendered: the worst
case) or zoomed in to a working zoom with about ${WORKING_VISIBLE} steps in view.

**How.** One clock: Node and Chromium both read \`Date.now()\` on the same machine. *Lag* runs
from the model server sending a step's last chunk to the first animation frame after that step's
node shows \`succeeded\` (a MutationObserver on \`.react-flow__nodes\`, attribute \`data-state\`;
the frame callback runs just before that frame is painted). It is split in three by the
\`run-events\` message holding the step's \`stepSucceeded\`: *sent → Node's socket* (a second
WebSocket listener in the Node process, nearly idle, so this is the engine's part: the stream's
end read, the event, the ≤ 33 ms batch, the socket), *Node's socket → page's handler* (the same
message waiting for the page's busy main thread) and *page's handler → frame* (JSON parse, the
fold in \`useRun.apply\`, React's render and commit, waiting for the next frame). With \`onlyRenderVisibleElements\`, steps
outside the viewport have no node, so at working zoom only the visible steps are observed.
Frames: a requestAnimationFrame loop from the click on *Start run* until 500 ms after
\`runFinished\` arrived; dropped frames = Σ max(0, round(interval / 16.7 ms) − 1). Messages: the
page wraps \`WebSocket.prototype.onmessage\` and counts \`run-events\` messages and the events in
them, and times the app's handler up to the microtask React flushes its render in. Run time is
from the click on *Start run* to \`runFinished\` arriving in the page. CPU is read from
\`/proc/<pid>/stat\` over the same interval. Each figure is the median of ${ROUNDS} rounds (after one
warm-up round, not counted), with the lowest and highest round in brackets.

| | zoomed to fit | working zoom |
|---|---|---|
${row("steps rendered / lag observed for", (r) => r.stepsObserved)}
${row("**lag p50** ms", (r) => r.lag.p50)}
${row("**lag p95** ms", (r) => r.lag.p95)}
${row("**lag max** ms", (r) => r.lag.max)}
${row("… sent → event in Node's socket p50 ms", (r) => r.toNode.p50)}
${row("… sent → event in Node's socket p95 ms", (r) => r.toNode.p95)}
${row("… Node's socket → page's handler p50 ms", (r) => r.nodeToPage.p50)}
${row("… Node's socket → page's handler p95 ms", (r) => r.nodeToPage.p95)}
${row("… page's handler → frame p50 ms", (r) => r.arriveToFrame.p50)}
${row("… page's handler → frame p95 ms", (r) => r.arriveToFrame.p95)}
${row("frames", (r) => r.frames.count)}
${row("frame interval p50 ms", (r) => r.frames.p50, 1)}
${row("frame interval p95 ms", (r) => r.frames.p95, 1)}
${row("frame interval max ms", (r) => r.frames.max, 1)}
${row("**dropped frames**", (r) => r.frames.dropped)}
${row("frames > 50 ms", (r) => r.frames.over50)}
${row("**fps** over the run", (r) => r.frames.fps, 1)}
${row("\`run-events\` messages", (r) => r.messages.count)}
${row("**messages / s** sent (Node's socket)", (r) => r.socket?.perSec ?? NaN, 1)}
${row("messages in the busiest second, sent", (r) => r.socket?.peakPerSec ?? NaN)}
${row("messages / s handled by the page", (r) => r.messages.perSec, 1)}
${row("events received", (r) => r.messages.events)}
${row("**events / s** sent (Node's socket)", (r) => r.socket?.eventsPerSec ?? NaN)}
${row("events / s handled by the page", (r) => r.messages.eventsPerSec)}
${row("events in the busiest second, sent", (r) => r.socket?.peakEvents ?? NaN)}
${row("… of all events, stepProgress", (r) => r.messages.progress)}
${row("most events in one message", (r) => r.messages.maxEvents)}
${row("MB received", (r) => r.messages.mb, 1)}
${row("handling one message p50 ms (to React's flush)", (r) => r.handling.flushP50, 1)}
${row("handling one message p95 ms", (r) => r.handling.flushP95, 1)}
${row("handling one message max ms", (r) => r.handling.flushMax, 1)}
${row("handling all messages, ms in total", (r) => r.handling.flushTotal)}
${row("long tasks (> 50 ms)", (r) => r.handling.longTasks)}
${row("ms in long tasks", (r) => r.handling.longTaskMs)}
${row("**run wall time** ms (click → runFinished in the page)", (r) => r.run.wallMs)}
${row("… the engine's own run time ms (runFinished atMs)", (r) => r.run.engineMs)}
${row("… all model requests made after ms", (r) => r.run.allRequestedMs)}
${row("most streams open at once", (r) => r.run.maxOpenStreams)}
${row("CPU s: engine", (r) => r.cpu.engine, 1)}
${row("CPU s: Chromium (all processes)", (r) => r.cpu.chromium, 1)}
${row("CPU s: Node (model server + driver)", (r) => r.cpu.node, 1)}
${row("CPU s: everything else on the machine", (r) => r.cpu.others, 1)}

What one round's \`run-events\` carry, by event type (count, and MB as JSON): ${eventTypes()}.

`;

// The section replaces the previous one (it is the last section, or ends at the next "## ").
// Its "### What the figures say" part is written by hand and kept across reruns: re-read it
// against the new figures.
const mdPath = path.join(uiDir, "PERFORMANCE.md");
const heading = "## The board under a 1,000-step streaming fan-out";
const notes = "### What the figures say";
let md = fs.readFileSync(mdPath, "utf8");
const at = md.indexOf(heading);
let end = md.length;
let kept = "(Not written yet: read the figures and say where the time goes.)\n";
if (at >= 0) {
  const after = md.indexOf("\n## ", at + heading.length);
  end = after >= 0 ? after + 1 : md.length;
  const old = md.slice(at, end);
  const n = old.indexOf(notes);
  if (n >= 0) kept = old.slice(n + notes.length).replace(/^\n+/, "").replace(/\n*$/, "\n");
}
const full = `${section}${notes}\n\n${kept}`;
md = at >= 0 ? md.slice(0, at) + full + (end < md.length ? `\n${md.slice(end)}` : "") : `${md.replace(/\n*$/, "\n\n")}${full}`;
if (WRITE) fs.writeFileSync(mdPath, md);
console.log(full);
if (!WRITE) console.log("(investigating: PERFORMANCE.md left as it was; BOARD_PERF_WRITE=1 writes it)");
