/**
 * The board against the engine's event format: every golden file the engine keeps (one line per
 * event kind, `crates/symphony-conductor/tests/golden/events-v*.jsonl`) replays through the
 * board, and the board reads the newest version there is.
 */
import fs from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import type { EventRecord } from "../backend/types";
import { applyEvents, emptyBoard, EVENT_FORMAT } from "./model";

const dir = path.resolve(__dirname, "../../../crates/symphony-conductor/tests/golden");
const files = fs
  .readdirSync(dir)
  .map((f) => /^events-v(\d+)\.jsonl$/.exec(f))
  .filter((m): m is RegExpExecArray => m !== null)
  .map((m) => ({ version: Number(m[1]), file: path.join(dir, m[0]) }));

describe("the events' format", () => {
  it("is the newest the engine has", () => {
    expect(Math.max(...files.map((f) => f.version))).toBe(EVENT_FORMAT);
  });

  for (const { version, file } of files) {
    it(`replays every event kind of version ${version}`, () => {
      const events = fs
        .readFileSync(file, "utf8")
        .trim()
        .split("\n")
        .map((l) => JSON.parse(l) as EventRecord);
      const board = applyEvents(emptyBoard, events);
      expect(board.phase).toBe("finished");
      expect(board.status).toBe("succeeded");
      expect(board.steps.plan?.state).toBe("succeeded");
      expect(board.steps.lint?.state).toBe("failed");
      expect(board.steps.review?.state).toBe("skipped");
      expect(board.warnings.map((w) => w.kind)).toEqual(["slowerThanHistory"]);
      expect(board.streams.plan).toBe("1. ");
      // A gate asked and was answered: nothing waits at the end.
      expect(board.steps.approve?.gate?.ask?.title).toBe("Go on with this plan?");
      expect(board.steps.approve?.gate?.answer).toMatchObject({ decision: "approve", by: "app", value: ["one", "two", "three"] });
      expect(board.waiting).toEqual([]);
    });
  }
});
