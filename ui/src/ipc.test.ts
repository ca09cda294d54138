import { afterEach, describe, expect, it, vi } from "vitest";

const tauri = vi.hoisted(() => ({
  invoke: vi.fn(),
  listen: vi.fn(),
}));
vi.mock("@tauri-apps/api/core", () => ({ invoke: tauri.invoke }));
vi.mock("@tauri-apps/api/event", () => ({ listen: tauri.listen }));

import { errorText, insideTauri, listEvents, onEventsChanged } from "./ipc";

afterEach(() => {
  vi.unstubAllGlobals();
  tauri.invoke.mockReset();
  tauri.listen.mockReset();
});

describe("ipc", () => {
  it("calls recent_events with the limit", async () => {
    tauri.invoke.mockResolvedValue([]);
    await expect(listEvents(50)).resolves.toEqual([]);
    expect(tauri.invoke).toHaveBeenCalledWith("recent_events", { limit: 50 });
  });

  it("listens to events-changed, passes the count on and returns the unlisten function", async () => {
    const stop = vi.fn();
    tauri.listen.mockResolvedValue(stop);
    const seen: number[] = [];
    const unlisten = await onEventsChanged((n) => seen.push(n));
    expect(unlisten).toBe(stop);
    expect(tauri.listen.mock.calls[0]?.[0]).toBe("events-changed");
    const handler = tauri.listen.mock.calls[0]?.[1] as (e: { payload: { changed: number } }) => void;
    handler({ payload: { changed: 3 } });
    expect(seen).toEqual([3]);
  });

  it("knows whether it runs inside Tauri", () => {
    expect(insideTauri()).toBe(false);
    vi.stubGlobal("__TAURI_INTERNALS__", {});
    expect(insideTauri()).toBe(true);
  });

  it("turns rejections into readable text", () => {
    expect(errorText({ kind: "bad_request", message: "limit must be 1..=1000" })).toBe(
      "limit must be 1..=1000 (bad_request)",
    );
    expect(errorText({ message: "boom" })).toBe("boom");
    expect(errorText("plain string from Rust")).toBe("plain string from Rust");
  });
});
