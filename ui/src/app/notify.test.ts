// @vitest-environment jsdom
import { afterEach, describe, expect, it, vi } from "vitest";
import { askToNotify, hasGate, newlyWaiting, notifyGate } from "./notify";

/** A stand-in for the web Notification API that records what was shown. */
function fakeNotifications(permission: NotificationPermission) {
  const shown: { title: string; options?: NotificationOptions }[] = [];
  const requested = vi.fn(() => Promise.resolve<NotificationPermission>("granted"));
  class Fake {
    static permission = permission;
    static requestPermission = requested;
    onclick: (() => void) | null = null;
    constructor(title: string, options?: NotificationOptions) {
      shown.push({ title, options });
    }
    close() {}
  }
  vi.stubGlobal("Notification", Fake);
  return { shown, requested };
}

afterEach(() => {
  vi.unstubAllGlobals();
  vi.restoreAllMocks();
});

describe("gate notifications", () => {
  it("names the gates that start waiting between two boards", () => {
    expect(newlyWaiting([], ["a"])).toEqual(["a"]);
    expect(newlyWaiting(["a"], ["a", "b"])).toEqual(["b"]);
    expect(newlyWaiting(["a", "b"], ["b"])).toEqual([]);
  });

  it("knows a melody with a gate", () => {
    expect(hasGate({ steps: [{ type: "cue.gate" } as never] })).toBe(true);
    expect(hasGate({ steps: [{ type: "cue.loop" } as never] })).toBe(false);
    expect(hasGate(null)).toBe(false);
  });

  it("notifies only with permission, and only when the person is not looking", () => {
    const { shown } = fakeNotifications("granted");
    vi.spyOn(document, "hasFocus").mockReturnValue(true);
    expect(notifyGate("r1", "approve-plan", "Go on?")).toBe(false);
    vi.spyOn(document, "hasFocus").mockReturnValue(false);
    expect(notifyGate("r1", "approve-plan", "Go on?")).toBe(true);
    expect(shown).toEqual([{ title: "approve-plan waits for your approval", options: { body: "Go on?", tag: "r1/approve-plan" } }]);
    fakeNotifications("denied");
    expect(notifyGate("r1", "approve-plan", "Go on?")).toBe(false);
  });

  it("asks for permission once, only when it was never asked", () => {
    const { requested } = fakeNotifications("default");
    askToNotify();
    expect(requested).toHaveBeenCalledTimes(1);
    const granted = fakeNotifications("granted");
    askToNotify();
    expect(granted.requested).not.toHaveBeenCalled();
  });
});
