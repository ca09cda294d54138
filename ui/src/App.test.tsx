import { act, cleanup, render, screen } from "@testing-library/react";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import App, { LIMIT } from "./App";
import type { MotionEvent } from "./bindings";

// The Rust side is replaced by these fakes (vi.mock is hoisted above the imports);
// errorText stays the real one.
const fake = vi.hoisted(() => ({
  inside: true,
  listEvents: vi.fn<(limit: number) => Promise<unknown[]>>(),
  changed: null as null | ((n: number) => void),
  unlisten: vi.fn(),
}));

vi.mock("./ipc", async (importOriginal) => {
  const real = await importOriginal<typeof import("./ipc")>();
  return {
    ...real,
    insideTauri: () => fake.inside,
    listEvents: fake.listEvents,
    onEventsChanged: (cb: (n: number) => void) => {
      fake.changed = cb;
      return Promise.resolve(fake.unlisten);
    },
  };
});

function event(id: string): MotionEvent {
  return {
    event_id: id,
    device_id: "porch",
    device_name: "Porch",
    device_type: "camera",
    url: `http://127.0.0.1:19000/motion-clips/${id}.mp4`,
    time: "2026-11-25 05:00:00",
    message: "Motion detected",
  };
}

function view(id: string) {
  return { event: event(id), snapshot_src: null, clip_cached: false };
}

beforeEach(() => {
  fake.inside = true;
  fake.changed = null;
  fake.listEvents.mockReset();
  fake.unlisten.mockReset();
});
afterEach(cleanup);

describe("App", () => {
  it("loads the cached events and shows them", async () => {
    fake.listEvents.mockResolvedValue([view("e2"), view("e1")]);
    render(<App />);
    expect(screen.getByRole("heading").textContent).toBe("Motion in Motion");
    const rows = await screen.findAllByTestId("event-row");
    expect(rows.map((r) => r.dataset.eventId)).toEqual(["e2", "e1"]);
    expect(fake.listEvents).toHaveBeenCalledWith(LIMIT);
  });

  it("reloads when the Rust side emits events-changed, and stops listening on unmount", async () => {
    fake.listEvents.mockResolvedValue([view("e1")]);
    const { unmount } = render(<App />);
    await screen.findAllByTestId("event-row");
    fake.listEvents.mockResolvedValue([view("e2"), view("e1")]);
    await act(async () => fake.changed?.(1));
    expect(screen.getAllByTestId("event-row")).toHaveLength(2);
    unmount();
    expect(fake.unlisten).toHaveBeenCalledTimes(1);
  });

  it("shows the error text when the command fails", async () => {
    fake.listEvents.mockRejectedValue({ kind: "cache", message: "database is locked" });
    render(<App />);
    const alert = await screen.findByRole("alert");
    expect(alert.textContent).toContain("database is locked (cache)");
  });

  it("shows the empty state when the cache is empty", async () => {
    fake.listEvents.mockResolvedValue([]);
    render(<App />);
    expect((await screen.findByRole("status")).textContent).toContain("No motion events yet");
  });

  it("explains itself in a plain browser instead of calling Tauri", () => {
    fake.inside = false;
    render(<App />);
    expect(screen.getByRole("status").textContent).toContain("plain browser");
    expect(fake.listEvents).not.toHaveBeenCalled();
  });
});
