import { act, cleanup, fireEvent, render, screen, waitFor } from "@testing-library/react";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { ALL_SHOWN_MAX, CARDS_PAGE, DevicesView } from "./DevicesView";
import { DEFAULT_ALERTS } from "./settingsForm";
import { device, fake, resetFake, settingsView } from "./test/fakeIpc";

vi.mock("./ipc", async (importOriginal) => (await import("./test/fakeIpc")).ipcMock(await importOriginal()));

beforeEach(resetFake);
afterEach(cleanup);

const now = Date.now();
const heartbeat = {
  device_id: "garage",
  device_name: "Garage",
  last_seen_ms: now - 5 * 60_000,
  online: false,
  camera: "lost" as const,
  camera_error: "/dev/video0 vanished",
  record_camera: null,
  record_camera_error: null,
  outbox_pending: 3,
  undelivered_bytes: 2 * 1024 * 1024,
  disk_free_bytes: 1024 ** 3,
  spool_full: true,
  last_error: "S3 503 Slow Down",
};

describe("Devices", () => {
  it("shows each camera's state", async () => {
    fake.listDevices.mockResolvedValue([
      device("garage", { status: heartbeat, silent: true, events_today: 7, last_event_ms: now - 60 * 60_000 }),
      device("porch", { muted: true }),
    ]);
    render(<DevicesView />);
    const cards = await screen.findAllByTestId("device");
    const garage = cards[0]?.textContent ?? "";
    for (const text of ["Garage", "offline", "camera lost", "silent", "5 min ago", "1 h ago", "7", "3 pending", "2.0 MB not uploaded", "spool full", "/dev/video0 vanished", "S3 503 Slow Down"]) {
      expect(garage).toContain(text);
    }
    expect(cards[1]?.textContent).toContain("no heartbeats");
    expect(cards[1]?.textContent).toContain("muted");
    expect(fake.listDevices).toHaveBeenCalledWith(new Date(new Date().setHours(0, 0, 0, 0)).getTime());
  });

  it("says when a camera's main stream is lost while its detect stream goes on", async () => {
    const split = {
      ...heartbeat,
      online: true,
      camera: "ok" as const,
      camera_error: null,
      record_camera: "lost" as const,
      record_camera_error: "rtsp://***@10.0.0.7/main: Connection refused",
      spool_full: false,
      last_error: null,
    };
    fake.listDevices.mockResolvedValue([device("garage", { status: split }), device("porch", { status: { ...split, record_camera: null, record_camera_error: null } })]);
    render(<DevicesView />);
    const cards = await screen.findAllByTestId("device");
    const garage = cards[0]?.textContent ?? "";
    for (const text of ["camera ok", "main stream lost", "clips come from the detect stream", "rtsp://***@10.0.0.7/main: Connection refused"]) {
      expect(garage).toContain(text);
    }
    expect(cards[1]?.textContent).not.toContain("main stream");
  });

  it("mutes and unmutes a camera through the command", async () => {
    fake.listDevices.mockResolvedValue([device("garage"), device("porch")]);
    fake.setCameraMuted.mockResolvedValue({ ...DEFAULT_ALERTS, muted_cameras: ["porch"] });
    render(<DevicesView />);
    const toggles = (await screen.findAllByTestId("device-mute")) as HTMLInputElement[];
    expect(toggles.map((t) => t.checked)).toEqual([false, false]);
    if (toggles[1]) fireEvent.click(toggles[1]);
    expect(fake.setCameraMuted).toHaveBeenCalledWith("porch", true);
    await waitFor(() => expect((screen.getAllByTestId("device-mute")[1] as HTMLInputElement).checked).toBe(true));

    fake.setCameraMuted.mockResolvedValue({ ...DEFAULT_ALERTS, muted_cameras: [] });
    fireEvent.click(screen.getAllByTestId("device-mute")[1] as HTMLElement);
    expect(fake.setCameraMuted).toHaveBeenLastCalledWith("porch", false);
    await waitFor(() => expect((screen.getAllByTestId("device-mute")[1] as HTMLInputElement).checked).toBe(false));
  });

  it("shows a failed mute", async () => {
    fake.listDevices.mockResolvedValue([device("garage")]);
    fake.setCameraMuted.mockRejectedValue({ kind: "settings", message: "cannot write settings.json" });
    render(<DevicesView />);
    fireEvent.click(await screen.findByTestId("device-mute"));
    expect((await screen.findByRole("alert")).textContent).toContain("cannot write settings.json");
  });

  it("snoozes and resumes alerts, showing until when", async () => {
    const until = new Date(Date.now() + 15 * 60_000);
    fake.snoozeAlerts.mockResolvedValue({ ...DEFAULT_ALERTS, snoozed_until: until.toISOString() });
    render(<DevicesView />);
    expect((await screen.findByTestId("snooze-state")).textContent).toBe("Alerts are on.");
    fireEvent.click(screen.getByTestId("snooze-minutes15"));
    expect(fake.snoozeAlerts).toHaveBeenCalledWith("minutes15");
    await waitFor(() => expect(screen.getByTestId("snooze-state").textContent).toContain("snoozed until"));
    fake.snoozeAlerts.mockResolvedValue({ ...DEFAULT_ALERTS, snoozed_until: null });
    fireEvent.click(screen.getByTestId("snooze-resume"));
    expect(fake.snoozeAlerts).toHaveBeenLastCalledWith(null);
    await waitFor(() => expect(screen.getByTestId("snooze-state").textContent).toBe("Alerts are on."));
    fireEvent.click(screen.getByTestId("snooze-hour1"));
    fireEvent.click(screen.getByTestId("snooze-until_morning"));
    expect(fake.snoozeAlerts.mock.calls.map((c) => c[0])).toEqual(["minutes15", null, "hour1"]);
  });

  it("reads a running snooze from the settings", async () => {
    const until = new Date(Date.now() + 60 * 60_000).toISOString();
    fake.getSettings.mockResolvedValue(settingsView({}, { alerts: { snoozed_until: until } }));
    render(<DevicesView />);
    await waitFor(() => expect(screen.getByTestId("snooze-state").textContent).toContain("snoozed until"));
  });

  it("re-reads the cameras on a heartbeat and explains an empty list", async () => {
    render(<DevicesView />);
    expect((await screen.findByRole("status")).textContent).toContain("No cameras yet");
    fake.listDevices.mockResolvedValue([device("garage")]);
    await act(async () => fake.deviceChanged.emit({ ...heartbeat, time: "", timestamp_ms: now, spool_bytes: 0, version: "1" }));
    expect(await screen.findByTestId("device")).toBeTruthy();
  });
});

describe("Devices for a fleet", () => {
  const fleet = (n: number) => Array.from({ length: n }, (_, i) => device(`cam-${String(i).padStart(4, "0")}`));

  it("lists a home's cameras whole, without the fleet's tools", async () => {
    fake.listDevices.mockResolvedValue(fleet(ALL_SHOWN_MAX));
    render(<DevicesView />);
    expect(await screen.findAllByTestId("device")).toHaveLength(ALL_SHOWN_MAX);
    expect(screen.queryByTestId("devices-find")).toBeNull();
  });

  it("shows a page of cards at a time, finds cameras by name or id, and can show only those needing attention", async () => {
    const cams = fleet(1000);
    cams[10] = device("cam-0010", { silent: true });
    cams[500] = device("cam-0500", { status: { ...heartbeat, device_id: "cam-0500", online: true, camera: "ok", camera_error: null, spool_full: false, last_error: null } });
    cams[700] = device("cam-0700", { status: { ...heartbeat, device_id: "cam-0700" } });
    fake.listDevices.mockResolvedValue(cams);
    render(<DevicesView />);
    expect(await screen.findAllByTestId("device")).toHaveLength(CARDS_PAGE);
    expect(screen.getByTestId("devices-count").textContent).toBe(`Showing ${CARDS_PAGE} of 1000 cameras.`);
    fireEvent.click(screen.getByTestId("devices-more"));
    expect(screen.getAllByTestId("device")).toHaveLength(2 * CARDS_PAGE);

    fireEvent.change(screen.getByTestId("devices-find"), { target: { value: "CAM-09" } });
    expect(screen.getAllByTestId("device")).toHaveLength(CARDS_PAGE);
    expect(screen.getByTestId("devices-count").textContent).toBe(`Showing ${CARDS_PAGE} of 100 matching (1000 cameras).`);
    expect(screen.getByTestId("devices-more").textContent).toBe(`Show ${CARDS_PAGE} more`);

    fireEvent.change(screen.getByTestId("devices-find"), { target: { value: "" } });
    const attention = screen.getByTestId("devices-attention");
    expect(attention.parentElement?.textContent).toBe("Only cameras that need attention (2)");
    fireEvent.click(attention);
    expect(screen.getAllByTestId("device").map((c) => c.dataset.deviceId)).toEqual(["cam-0010", "cam-0700"]);
    expect(screen.queryByTestId("devices-more")).toBeNull();
  });

  it("says when no camera matches", async () => {
    fake.listDevices.mockResolvedValue(fleet(30));
    render(<DevicesView />);
    fireEvent.change(await screen.findByTestId("devices-find"), { target: { value: "porch" } });
    expect(screen.queryAllByTestId("device")).toHaveLength(0);
    expect(screen.getByText("No camera matches.")).toBeTruthy();
  });
});
