import { act, cleanup, fireEvent, render, screen, waitFor } from "@testing-library/react";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import App, { LIMIT } from "./App";
import { eventView, fake, resetFake, status } from "./test/fakeIpc";

// The Rust side is replaced by the fakes (vi.mock is hoisted above the imports).
vi.mock("./ipc", async (importOriginal) => (await import("./test/fakeIpc")).ipcMock(await importOriginal()));

beforeEach(resetFake);
afterEach(cleanup);

describe("App", () => {
  it("loads the cached events and shows them on Live", async () => {
    fake.listEvents.mockResolvedValue([eventView("e2"), eventView("e1")]);
    render(<App />);
    expect(screen.getByRole("heading", { level: 1 }).textContent).toBe("Motion in Motion");
    const rows = await screen.findAllByTestId("event-row");
    expect(rows.map((r) => r.dataset.eventId)).toEqual(["e2", "e1"]);
    expect(fake.listEvents).toHaveBeenCalledWith(LIMIT);
  });

  it("puts new events at the top when the Rust side emits events-changed, and stops listening on unmount", async () => {
    fake.listEvents.mockResolvedValue([eventView("e1")]);
    const { unmount } = render(<App />);
    await screen.findAllByTestId("event-row");
    fake.listEvents.mockResolvedValue([eventView("e2"), eventView("e1")]);
    await act(async () => fake.eventsChanged.emit(1));
    expect(screen.getAllByTestId("event-row").map((r) => r.dataset.eventId)).toEqual(["e2", "e1"]);
    expect(fake.eventsChanged.listeners.size).toBeGreaterThan(0);
    unmount();
    expect(fake.eventsChanged.listeners.size).toBe(0);
  });

  it("shows the error text when the command fails", async () => {
    fake.listEvents.mockRejectedValue({ kind: "cache", message: "database is locked" });
    render(<App />);
    const alert = await screen.findByRole("alert");
    expect(alert.textContent).toContain("database is locked (cache)");
  });

  it("guides a first run: no events and no source", async () => {
    render(<App />);
    const guide = await screen.findByText("No events yet");
    expect(guide.parentElement?.textContent).toContain("scripts/demo");
    expect(guide.parentElement?.textContent).toContain("ksqlDB");
  });

  it("shows the plain empty state when a source is set but nothing arrived yet", async () => {
    fake.sourceStatus.mockResolvedValue(status("live"));
    render(<App />);
    await waitFor(() => expect(screen.getByTestId("source-status").dataset.state).toBe("live"));
    expect(screen.getByText(/No motion events yet/)).toBeTruthy();
  });

  it("has a nav button per view, switches by click and by Alt+digit", async () => {
    render(<App />);
    for (const v of ["live", "history", "devices", "charts", "settings"]) {
      expect(screen.getByTestId(`nav-${v}`)).toBeTruthy();
    }
    expect(screen.getByTestId("nav-live").getAttribute("aria-current")).toBe("page");
    fireEvent.click(screen.getByTestId("nav-devices"));
    expect(await screen.findByRole("heading", { name: "Devices" })).toBeTruthy();
    fireEvent.keyDown(window, { key: "2", code: "Digit2", altKey: true });
    expect(await screen.findByRole("heading", { name: "History" })).toBeTruthy();
    expect(screen.getByTestId("nav-history").getAttribute("aria-current")).toBe("page");
    fireEvent.keyDown(window, { key: "5", code: "Digit5", altKey: true });
    expect(await screen.findByRole("heading", { name: "Settings" })).toBeTruthy();
  });

  it("moves between nav buttons with the arrow keys", () => {
    render(<App />);
    const live = screen.getByTestId("nav-live");
    live.focus();
    fireEvent.keyDown(live, { key: "ArrowDown" });
    expect(document.activeElement).toBe(screen.getByTestId("nav-history"));
    fireEvent.keyDown(document.activeElement as Element, { key: "ArrowUp" });
    fireEvent.keyDown(document.activeElement as Element, { key: "ArrowUp" });
    expect(document.activeElement).toBe(screen.getByTestId("nav-settings"));
  });

  it("opens the player from a row and closes it with Escape", async () => {
    fake.listEvents.mockResolvedValue([eventView("e2"), eventView("e1")]);
    fake.openClip.mockResolvedValue({ file: null, url: "http://127.0.0.1:19000/c/e1.mp4", pending: false, problem: null });
    render(<App />);
    const rows = await screen.findAllByTestId("event-row");
    if (rows[1]) fireEvent.click(rows[1]);
    const player = await screen.findByTestId("player");
    expect(player.dataset.eventId).toBe("e1");
    expect(fake.openClip).toHaveBeenCalledWith("e1");
    fireEvent.keyDown(player, { key: "Escape" });
    expect(screen.queryByTestId("player")).toBeNull();
  });

  it("opens the event a notification asks for", async () => {
    fake.getEvent.mockResolvedValue(eventView("from-popup", { device_name: "Garage" }));
    render(<App />);
    await screen.findByTestId("source-status");
    await act(async () => fake.openEvent.emit("from-popup"));
    const player = await screen.findByTestId("player");
    expect(fake.getEvent).toHaveBeenCalledWith("from-popup");
    expect(player.dataset.eventId).toBe("from-popup");
    expect(player.textContent).toContain("Garage");
  });

  it("says so when the notification's event is gone", async () => {
    render(<App />);
    await screen.findByTestId("source-status");
    await act(async () => fake.openEvent.emit("gone"));
    expect((await screen.findByText(/Cannot open that event/)).textContent).toContain("no such event");
  });

  it("cycles the theme and remembers it", () => {
    localStorage.clear();
    render(<App />);
    const toggle = screen.getByTestId("theme-toggle");
    expect(toggle.textContent).toContain("auto");
    fireEvent.click(toggle);
    expect(document.documentElement.dataset.theme).toBe("light");
    fireEvent.click(toggle);
    expect(document.documentElement.dataset.theme).toBe("dark");
    expect(localStorage.getItem("motion-in-motion.theme")).toBe("dark");
    fireEvent.click(toggle);
    expect(localStorage.getItem("motion-in-motion.theme")).toBeNull();
  });

  it("explains itself in a plain browser instead of calling Tauri", () => {
    fake.inside = false;
    render(<App />);
    expect(screen.getByRole("status").textContent).toContain("plain browser");
    expect(fake.listEvents).not.toHaveBeenCalled();
  });
});
