import { describe, expect, it } from "vitest";
import { makeBackend, type Call, type Listen } from "./backend";
import { COMMAND_NAMES, DESKTOP_COMMAND_NAMES, desktopCommands } from "./generated/commands";
import type { MelodyFile } from "./types";

/** A backend over a transport that records what it is asked to send. */
function recording() {
  const sent: { command: string; args: Record<string, unknown> }[] = [];
  const call: Call = async <T,>(command: string, args: Record<string, unknown>) => {
    sent.push({ command, args });
    return {} as T;
  };
  const listen: Listen = () => () => {};
  return { backend: makeBackend("http", call, listen), sent, call };
}

const melody = { formatVersion: 1, melody: { id: "m", name: "M" }, steps: [] } as unknown as MelodyFile;

describe("the generated command client", () => {
  it("has a method for every host command, and none of the desktop app's", () => {
    const { backend } = recording();
    for (const name of COMMAND_NAMES) expect(typeof backend[name], name).toBe("function");
    for (const name of DESKTOP_COMMAND_NAMES) expect(backend[name], name).toBeUndefined();
  });

  it("sends each command under its own name with its fields as the host reads them", async () => {
    const { backend, sent } = recording();
    await backend.openMelody("melodies/a.melody.json");
    await backend.saveMelody("melodies/a.melody.json", melody);
    await backend.pinStep("run-1", "spec");
    await backend.listPins("m");
    await backend.setRetention(5);
    await backend.projectInfo();
    expect(sent).toEqual([
      { command: "openMelody", args: { path: "melodies/a.melody.json" } },
      { command: "saveMelody", args: { path: "melodies/a.melody.json", melody } },
      { command: "pinStep", args: { runId: "run-1", step: "spec" } },
      { command: "listPins", args: { melodyId: "m" } },
      { command: "setRetention", args: { keepRuns: 5 } },
      { command: "projectInfo", args: {} },
    ]);
  });

  it("leaves an optional argument out when it is not given, rather than sending it empty", async () => {
    const { backend, sent } = recording();
    await backend.openRun("run-1");
    await backend.openRun("run-1", 7);
    await backend.listRuns(undefined, 50);
    await backend.listRuns();
    await backend.startRun(melody, undefined, {});
    await backend.forkRun({ runId: "run-1", fromStep: "spec", fresh: undefined });
    expect(sent.map((s) => s.args)).toEqual([
      { runId: "run-1" },
      { runId: "run-1", afterSeq: 7 },
      { limit: 50 },
      {},
      { melody, inputs: {} },
      { runId: "run-1", fromStep: "spec" },
    ]);
    for (const { args } of sent) expect(Object.values(args)).not.toContain(undefined);
  });

  it("builds the desktop app's commands over the same kind of call", async () => {
    const { call, sent } = recording();
    const desktop = desktopCommands(call);
    await desktop.pickMelodySaveLocation("idea.melody.json");
    await desktop.trustMelody(melody);
    expect(sent).toEqual([
      { command: "pickMelodySaveLocation", args: { suggestedName: "idea.melody.json" } },
      { command: "trustMelody", args: { melody } },
    ]);
  });
});
