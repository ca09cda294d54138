import { act, cleanup, fireEvent, render, screen, waitFor } from "@testing-library/react";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import type { DeviceStatus } from "./bindings";
import { LiveView, SILENT_POLL_MS, SILENT_REFRESH_MS, SourceStatusLine } from "./LiveView";
import { device, eventView, fake, resetFake, status } from "./test/fakeIpc";

vi.mock("./ipc", async (importOriginal) => (await import("./test/fakeIpc")).ipcMock(await importOriginal()));

beforeEach(resetFake);
afterEach(() => {
  cleanup();
  vi.useRealTimers();
});

describe("the status line", () => {
  it("counts down to the next attempt while retrying", () => {
    vi.useFakeTimers();
    vi.setSystemTime(100_000);
    const s = status("retrying", { problem: "connection refused", retry_at_ms: 104_000 });
    render(<SourceStatusLine status={s} onSettings={() => undefined} />);
    const line = screen.getByTestId("source-status");
    expect(line.dataset.state).toBe("retrying");
    expect(line.textContent).toContain("connection refused");
    expect(line.textContent).toContain("reconnecting in 4 s");
    act(() => vi.advanceTimersByTime(1_000));
    expect(line.textContent).toContain("reconnecting in 3 s");
    act(() => vi.advanceTimersByTime(3_000));
    expect(line.textContent).toContain("reconnecting in 0 s");
  });

  it("links to Settings when nothing is configured", () => {
    const onSettings = vi.fn();
    render(<SourceStatusLine status={status("not_configured")} onSettings={onSettings} />);
    expect(screen.getByTestId("source-status").textContent).toContain("No event source configured");
    fireEvent.click(screen.getByRole("button", { name: "Open Settings" }));
    expect(onSettings).toHaveBeenCalled();
  });

  it("follows source-changed after the first answer", async () => {
    fake.sourceStatus.mockResolvedValue(status("connecting"));
    render(<LiveView onOpen={vi.fn()} onNavigate={vi.fn()} />);
    await waitFor(() => expect(screen.getByTestId("source-status").dataset.state).toBe("connecting"));
    await act(async () => fake.sourceChanged.emit(status("live")));
    expect(screen.getByTestId("source-status").textContent).toContain("Live: following ksqlDB at http://127.0.0.1:8088");
    await act(async () => fake.sourceChanged.emit(status("failed", { problem: "the URL must start with http://" })));
    expect(screen.getByTestId("source-status").textContent).toContain("the URL must start with http://");
  });
});

/** A camera's healthy heartbeat. */
function heartbeat(device_id: string, device_name: string): DeviceStatus {
  return {
    device_id,
    device_name,
    time: "2026-11-25 05:00:00",
    timestamp_ms: 0,
    online: true,
    camera: "ok",
    outbox_pending: 0,
    undelivered_bytes: 0,
    spool_bytes: 0,
    disk_free_bytes: 0,
    spool_full: false,
    version: "0.1.0",
  };
}

describe("Live", () => {
  it("lists the cameras that went silent, and refreshes on heartbeats", async () => {
    fake.listDevices.mockResolvedValue([device("garage", { silent: true }), device("porch")]);
    render(<LiveView onOpen={vi.fn()} onNavigate={vi.fn()} />);
    const banner = await screen.findByTestId("silent-banner");
    expect(banner.textContent).toContain("Garage");
    expect(banner.textContent).not.toContain("Porch");
    fake.listDevices.mockResolvedValue([device("garage"), device("porch")]);
    await act(async () =>
      fake.deviceChanged.emit(heartbeat("garage", "Garage")),
    );
    await waitFor(() => expect(screen.queryByTestId("silent-banner")).toBeNull());
  });

  it("re-reads the silent cameras every 30 s", async () => {
    vi.useFakeTimers();
    render(<LiveView onOpen={vi.fn()} onNavigate={vi.fn()} />);
    await act(async () => vi.advanceTimersByTime(0));
    const before = fake.listDevices.mock.calls.length;
    fake.listDevices.mockResolvedValue([device("garage", { silent: true })]);
    await act(async () => vi.advanceTimersByTime(SILENT_POLL_MS));
    expect(fake.listDevices.mock.calls.length).toBe(before + 1);
    expect(screen.getByTestId("silent-banner").textContent).toContain("Garage");
  });

  it("reads the silent cameras at most every 2 s however many heartbeats come", async () => {
    vi.useFakeTimers();
    render(<LiveView onOpen={vi.fn()} onNavigate={vi.fn()} />);
    await act(async () => vi.advanceTimersByTime(0));
    const before = fake.listDevices.mock.calls.length;
    // A thousand cameras' heartbeats for a second: one read at once, one when the wait ends.
    for (let i = 0; i < 30; i++) {
      await act(async () => {
        fake.deviceChanged.emit(heartbeat(`cam-${i}`, `Cam ${i}`));
        vi.advanceTimersByTime(33);
      });
    }
    expect(fake.listDevices.mock.calls.length).toBe(before + 1);
    fake.listDevices.mockResolvedValue([device("garage", { silent: true })]);
    await act(async () => vi.advanceTimersByTime(SILENT_REFRESH_MS));
    expect(fake.listDevices.mock.calls.length).toBe(before + 2);
    expect(screen.getByTestId("silent-banner").textContent).toContain("Garage");
    // Quiet since: nothing more to read until the next heartbeat.
    await act(async () => vi.advanceTimersByTime(SILENT_REFRESH_MS * 3));
    expect(fake.listDevices.mock.calls.length).toBe(before + 2);
  });

  it("opens the player with the list and the row's index", async () => {
    const list = [eventView("b"), eventView("a")];
    fake.listEvents.mockResolvedValue(list);
    const onOpen = vi.fn();
    render(<LiveView onOpen={onOpen} onNavigate={vi.fn()} />);
    const rows = await screen.findAllByTestId("event-row");
    rows[1]?.focus();
    if (rows[1]) fireEvent.click(rows[1]);
    expect(onOpen).toHaveBeenCalledWith(list, 1);
  });

  it("drops an older, slower answer", async () => {
    let first: (v: ReturnType<typeof eventView>[]) => void = () => undefined;
    fake.listEvents.mockReturnValueOnce(new Promise((r) => (first = r)));
    fake.listEvents.mockResolvedValue([eventView("new")]);
    render(<LiveView onOpen={vi.fn()} onNavigate={vi.fn()} />);
    await act(async () => fake.eventsChanged.emit(1));
    await screen.findAllByTestId("event-row");
    await act(async () => first([eventView("stale")]));
    expect(screen.getAllByTestId("event-row").map((r) => r.dataset.eventId)).toEqual(["new"]);
  });
});
