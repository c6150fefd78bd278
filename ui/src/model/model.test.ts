import { describe, expect, it } from "vitest";
import { ideaToCodeMelody, type, TYPES } from "../test/fixtures";
import { accepts, canConnect, NEW_INPUT } from "./ports";
import { graphToMelody, melodyToEdges, melodyToNodes } from "./graph";
import { addEdge, addStep, changeType, removePort, renameStep } from "./edits";
import { copy, paste } from "./clipboard";
import { checkTemplate, scopeOf } from "./templates";
import { uniqueId } from "./ids";
import { autoLayout } from "./autolayout";
import type { MelodyFile } from "../backend/types";

describe("port types", () => {
  it("follow the engine's rules", () => {
    expect(accepts("text", "number")).toBe(true);
    expect(accepts("number", "text")).toBe(false);
    expect(accepts("json", "list")).toBe(true);
    expect(accepts("list", "text")).toBe(true);
    expect(accepts("boolean", "file")).toBe(false);
    expect(accepts("file", "any")).toBe(true);
  });
});

describe("canConnect", () => {
  const m = ideaToCodeMelody();
  it("accepts a fitting edge to a free port", () => {
    const r = canConnect(m, TYPES, { step: "spec", port: "output" }, { step: "write_code", port: "items" });
    expect(r).toEqual({ ok: true, edge: { from: "spec.output", to: "write_code.items" } });
  });
  it("refuses a cycle and says which way it closes", () => {
    const r = canConnect(m, TYPES, { step: "architecture", port: "output" }, { step: "features", port: "spec" });
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.reason).toMatch(/cycle/);
  });
  it("replaces the edge into a taken non-list port, and says which", () => {
    const r = canConnect(m, TYPES, { step: "features", port: "output" }, { step: "features", port: "spec" });
    expect(r.ok).toBe(false);
    const r2 = canConnect(m, TYPES, { step: "architecture", port: "output" }, { step: "write_spec", port: "content" });
    expect(r2.ok).toBe(true);
    if (r2.ok) expect(r2.replaces).toEqual({ from: "spec.output", to: "write_spec.content" });
    if (r2.ok) {
      const next = addEdge(m, r2.edge, r2.newPort, r2.replaces);
      expect(next.edges!.filter((e) => e.to === "write_spec.content")).toEqual([{ from: "architecture.output", to: "write_spec.content" }]);
    }
  });
  it("refuses mismatched types", () => {
    const withNumber: MelodyFile = {
      ...m,
      steps: [...m.steps, { id: "n", kind: "operator", type: "operator.template", inputs: { count: { type: "number" } } }],
    };
    const r = canConnect(withNumber, TYPES, { step: "write_spec", port: "path" }, { step: "n", port: "count" });
    expect(r).toEqual({ ok: false, reason: "write_spec.path is file but n.count takes number." });
  });
  it("makes a new input port on a type that takes extra inputs", () => {
    const r = canConnect(m, TYPES, { step: "spec", port: "output" }, { step: "code", port: NEW_INPUT });
    expect(r.ok).toBe(true);
    if (r.ok) {
      expect(r.newPort).toEqual({ name: "spec", ty: "any" });
      const next = addEdge(m, r.edge, r.newPort);
      expect(next.steps.find((s) => s.id === "code")?.inputs?.spec).toEqual({ type: "any" });
      // Removing the port takes its edge with it; the step's other inputs stay.
      const inputs = Object.keys(m.steps.find((s) => s.id === "code")?.inputs ?? {});
      const back = removePort(next, "code", "in", "spec");
      expect(Object.keys(back.steps.find((s) => s.id === "code")?.inputs ?? {})).toEqual(inputs);
      expect(back.edges?.some((e) => e.to === "code.spec")).toBe(false);
      expect(back.edges?.length).toBe(m.edges?.length);
    }
  });
  it("refuses a new input on a type without extra inputs", () => {
    const r = canConnect(m, TYPES, { step: "spec", port: "output" }, { step: "write_spec", port: NEW_INPUT });
    expect(r.ok).toBe(true); // file.write takes extra inputs
    const withDelay = addStep(m, type("operator.delay"), { x: 0, y: 0 });
    const r2 = canConnect(withDelay.melody, TYPES, { step: "spec", port: "output" }, { step: withDelay.id, port: NEW_INPUT });
    expect(r2).toEqual({ ok: false, reason: "operator.delay takes no extra inputs." });
  });
});

describe("melody ↔ graph", () => {
  it("round-trips, keeping unknown fields, layout extras, comments and groups", () => {
    // A field this version of the UI does not know must survive the conversion untouched.
    const m = {
      ...ideaToCodeMelody(),
      futureField: { kept: true },
      layout: {
        ...ideaToCodeMelody().layout,
        viewport: { zoom: 1.5 },
        comments: [{ id: "note", x: 1, y: 2, width: 200, height: 100, text: "hello" }],
        groups: [{ id: "group", x: -10, y: -10, width: 500, height: 300, label: "Planning" }],
      },
    };
    const before = JSON.stringify(m);
    const nodes = melodyToNodes(m, TYPES, new Set());
    const edges = melodyToEdges(m, new Set());
    expect(nodes.filter((n) => n.type === "step")).toHaveLength(m.steps.length);
    expect(edges).toHaveLength(m.edges!.length);
    const back = graphToMelody(m as MelodyFile, nodes, edges);
    expect(back).toEqual(m);
    expect(JSON.stringify(m)).toBe(before);
  });
  it("reuses node objects for unchanged steps", () => {
    const m = ideaToCodeMelody();
    const first = melodyToNodes(m, TYPES, new Set());
    const edited = { ...m, steps: m.steps.map((s) => (s.id === "spec" ? { ...s, name: "Renamed" } : s)) };
    const second = melodyToNodes(edited, TYPES, new Set(), first);
    const changed = second.filter((n, i) => n !== first[i]).map((n) => n.id);
    expect(changed).toEqual(["spec"]);
  });
});

describe("paste", () => {
  it("renames clashing ids and rewires edges and references", () => {
    const m = ideaToCodeMelody();
    const clip = copy(m, new Set(["spec", "features"]));
    expect(clip.edges).toEqual([{ from: "spec.output", to: "features.spec" }]);
    const r = paste(m, clip, { x: 40, y: 40 });
    expect(r.steps).toEqual(["spec_2", "features_2"]);
    expect(r.melody.edges!.slice(-1)).toEqual([{ from: "spec_2.output", to: "features_2.spec" }]);
    expect(r.melody.layout?.steps?.spec_2).toEqual({ x: (m.layout?.steps?.spec?.x ?? 0) + 40, y: (m.layout?.steps?.spec?.y ?? 0) + 40 });
    expect(r.melody.steps).toHaveLength(m.steps.length + 2);
  });
  it("rewrites template references to renamed steps", () => {
    let m: MelodyFile = ideaToCodeMelody();
    m = {
      ...m,
      steps: [...m.steps, { id: "review", kind: "operator", type: "operator.template", config: { template: "{{ spec.output }} and {{features.output.0}} and {{goal}}" } }],
    };
    const r = paste(m, copy(m, new Set(["spec", "features", "review"])), { x: 0, y: 0 });
    const pasted = r.melody.steps.find((s) => s.id === "review_2");
    expect(pasted?.config?.template).toBe("{{ spec_2.output }} and {{features_2.output.0}} and {{goal}}");
  });
  it("makes unique ids past numbered ones", () => {
    expect(uniqueId("plan", new Set(["plan", "plan_2"]))).toBe("plan_3");
    expect(uniqueId("plan_2", new Set(["plan", "plan_2"]))).toBe("plan_3");
    expect(uniqueId("input", new Set())).toBe("input_2");
    expect(uniqueId("Chat model", new Set())).toBe("chat_model");
  });
});

describe("template variables", () => {
  const m = ideaToCodeMelody();
  const arch = m.steps.find((s) => s.id === "architecture")!;
  const scope = scopeOf(m, arch, TYPES.get(arch.type));
  it("accepts ports, run inputs and upstream outputs", () => {
    expect(checkTemplate("{{spec}} {{features}} {{goal}} {{input.goal}} {{spec.output}}", scope)).toEqual([]);
  });
  it("flags names the step cannot see, with where they are", () => {
    const issues = checkTemplate("a {{write_code.results}} b {{nope}} {{input.missing}} {{spec}}", scope);
    expect(issues.map((i) => i.hole.ref)).toEqual(["write_code.results", "nope", "input.missing"]);
    expect(issues[0]!.hole.start).toBe(2);
    expect(issues[1]!.message).toMatch(/not visible/);
  });
  it("names a mistyped output port, with the port meant", () => {
    const withTypes = scopeOf(m, arch, TYPES.get(arch.type), [], TYPES);
    const [typo] = checkTemplate("{{idea.outptu}}", { ...withTypes, upstream: new Set(["idea"]), outputs: new Map([["idea", ["output"]]]) });
    expect(typo?.message).toBe('step idea has no output "outptu"; did you mean {{idea.output}}?');
    // `spec` is also architecture's own input port: `spec.outptu` reads inside what it received.
    const [hidden] = checkTemplate("{{spec.outptu}}", withTypes);
    expect(hidden?.message).toMatch(/input port \(named after the step spec\).*Write \{\{spec\}\}/);
    expect(checkTemplate("{{spec}} {{features}}", withTypes)).toEqual([]);
  });
  it("refuses expressions", () => {
    expect(checkTemplate("{{ a + b }}", scope)[0]?.message).toMatch(/not a reference/);
  });
  it("knows a map body's extra names", () => {
    const code = m.steps.find((s) => s.id === "code")!;
    const s = scopeOf(m, code, TYPES.get(code.type), ["item", "index"]);
    expect(checkTemplate("{{item}} {{index}} {{architecture}}", s)).toEqual([]);
  });
});

describe("edits", () => {
  it("renaming a step moves its edges, position and references", () => {
    const m = renameStep(ideaToCodeMelody(), "spec", "brief");
    expect(m.edges!.filter((e) => e.from.startsWith("brief."))).toHaveLength(3);
    expect(m.layout?.steps?.brief).toBeDefined();
    expect(m.layout?.steps?.spec).toBeUndefined();
  });
  it("auto-layout puts every step right of its inputs", () => {
    const m = ideaToCodeMelody();
    const pos = autoLayout(m, TYPES);
    expect(pos.size).toBe(m.steps.length);
    expect(pos.get("features")!.x).toBeGreaterThan(pos.get("spec")!.x);
    expect(pos.get("architecture")!.x).toBeGreaterThan(pos.get("features")!.x);
  });
});

describe("placing a new step", () => {
  it("takes the spot asked for when it is free, else the nearest free one", async () => {
    const { freeSpot } = await import("./layout");
    const m = { formatVersion: 1, melody: { id: "m", name: "m" }, steps: [], layout: { steps: { a: { x: 0, y: 0 }, b: { x: 240, y: 0 } } } } as unknown as import("../backend/types").MelodyFile;
    expect(freeSpot(m, { x: 0, y: 300 })).toEqual({ x: 0, y: 300 });
    const p = freeSpot(m, { x: 10, y: 10 });
    expect(Math.abs(p.x - 0) >= 240 || Math.abs(p.y - 0) >= 150).toBe(true);
    expect(Math.abs(p.x - 240) >= 240 || Math.abs(p.y - 0) >= 150).toBe(true);
    expect(Math.hypot(p.x - 10, p.y - 10)).toBeLessThanOrEqual(Math.hypot(240, 150) + 1);
  });
});

describe("change type", () => {
  const m = ideaToCodeMelody();
  const chat = TYPES.get("instrument.chat")!;
  const agent = TYPES.get("instrument.agent")!;
  it("turns an offline step into a chat model, keeping prompt, system, ports and edges", () => {
    const before = m.steps.find((s) => s.id === "architecture")!;
    const { melody, dropped } = changeType(m, "architecture", chat);
    const after = melody.steps.find((s) => s.id === "architecture")!;
    expect(after.type).toBe("instrument.chat");
    expect(after.config?.prompt).toBe(before.config?.prompt);
    expect(after.config?.system).toBe(before.config?.system);
    expect(after.inputs).toEqual(before.inputs);
    expect(after.capabilities).toEqual(chat.capabilities);
    expect(melody.edges).toEqual(m.edges);
    expect(dropped.filter((d) => d.startsWith("edge"))).toEqual([]);
  });
  it("folds a system prompt into an agent's prompt, and says what it could not keep", () => {
    const { melody: asChat } = changeType(m, "architecture", chat);
    const withTools = { ...asChat, edges: [...(asChat.edges ?? []), { from: "architecture.finishReason", to: "code.architecture" }] };
    const { melody, dropped } = changeType(withTools, "architecture", agent);
    const after = melody.steps.find((s) => s.id === "architecture")!;
    const before = m.steps.find((s) => s.id === "architecture")!;
    expect(after.config?.prompt).toBe(`${String(before.config?.system).trim()}\n\n${String(before.config?.prompt)}`);
    expect(after.config?.system).toBeUndefined();
    expect(dropped).toContain("edge architecture.finishReason → code.architecture");
  });
  it("changes nothing when the type is the same", () => {
    const offline = TYPES.get("instrument.offline")!;
    expect(changeType(m, "architecture", offline).melody).toBe(m);
  });
});
