import { afterEach, describe, expect, it, vi } from "vitest";

const tauri = vi.hoisted(() => ({
  invoke: vi.fn(),
  listen: vi.fn(),
}));
vi.mock("@tauri-apps/api/core", () => ({
  invoke: tauri.invoke,
  convertFileSrc: (p: string) => `asset://localhost/${encodeURIComponent(p)}`,
}));
vi.mock("@tauri-apps/api/event", () => ({ listen: tauri.listen }));

import {
  clipFileSrc,
  errorText,
  eventCounts,
  insideTauri,
  listEvents,
  onEventsChanged,
  onOpenEvent,
  openClip,
  saveSettings,
  searchEvents,
  snoozeAlerts,
} from "./ipc";

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

  it("passes arguments under the names the Rust commands take", async () => {
    tauri.invoke.mockResolvedValue({ events: [], next: null });
    const query = { from_ms: 1, to_ms: 2, devices: ["garage"], text: "cat", after: null, limit: 500 };
    await searchEvents(query);
    expect(tauri.invoke).toHaveBeenLastCalledWith("search_events", { query });
    tauri.invoke.mockResolvedValue([]);
    await eventCounts(1, 2, 3, 4);
    expect(tauri.invoke).toHaveBeenLastCalledWith("event_counts", { fromMs: 1, toMs: 2, bucketMs: 3, offsetMs: 4 });
    tauri.invoke.mockResolvedValue({});
    await snoozeAlerts(null);
    expect(tauri.invoke).toHaveBeenLastCalledWith("snooze_alerts", { snooze: null });
    const secrets = { ksqldb_secret: null, kafka_password: "", s3_read_secret: "x" };
    await saveSettings({}, secrets, true);
    expect(tauri.invoke).toHaveBeenLastCalledWith("save_settings", { settings: {}, secrets, startOnLogin: true });
  });

  it("throws the IpcError a command rejected with", async () => {
    tauri.invoke.mockRejectedValue({ kind: "not_found", message: "no event \"x\" in the cache" });
    await expect(openClip("x")).rejects.toEqual({ kind: "not_found", message: 'no event "x" in the cache' });
  });

  it("passes the event id of an open-event on", async () => {
    tauri.listen.mockResolvedValue(vi.fn());
    const seen: string[] = [];
    await onOpenEvent((id) => seen.push(id));
    expect(tauri.listen.mock.calls[0]?.[0]).toBe("open-event");
    const handler = tauri.listen.mock.calls[0]?.[1] as (e: { payload: { event_id: string } }) => void;
    handler({ payload: { event_id: "e1" } });
    expect(seen).toEqual(["e1"]);
  });

  it("loads cached clip files through the asset protocol", () => {
    expect(clipFileSrc("/c/e1.mp4")).toBe("asset://localhost/%2Fc%2Fe1.mp4");
  });
});
