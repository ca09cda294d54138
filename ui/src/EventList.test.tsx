import { cleanup, fireEvent, render, screen } from "@testing-library/react";
import { afterEach, describe, expect, it, vi } from "vitest";
import { EventList } from "./EventList";
import { eventView } from "./test/fakeIpc";

afterEach(cleanup);

describe("EventList", () => {
  it("shows rows in the order given, newest first, as buttons", () => {
    render(<EventList events={[eventView("b"), eventView("a")]} today="2026-11-25" />);
    const rows = screen.getAllByTestId("event-row");
    expect(rows.map((r) => r.dataset.eventId)).toEqual(["b", "a"]);
    expect(rows[0]?.tagName).toBe("BUTTON");
    expect(rows[0]?.textContent).toContain("05:00:00");
    expect(rows[0]?.textContent).toContain("Porch");
    expect(rows[0]?.textContent).toContain("Motion detected");
  });

  it("renders hostile text literally and runs nothing", () => {
    const hostile = "<img src=x onerror=alert(1)>";
    const { container } = render(
      <EventList events={[eventView("x", { message: hostile, device_name: "<b>Cam</b>" })]} today="2026-11-25" />,
    );
    expect(screen.getByText(hostile)).toBeTruthy();
    expect(screen.getByText("<b>Cam</b>")).toBeTruthy();
    expect(container.querySelector("img")).toBeNull();
    expect(container.querySelector("b")).toBeNull();
  });

  it("shows only http(s) snapshots as thumbnails", () => {
    const { container } = render(
      <EventList
        events={[
          eventView("ok", {}, { snapshot_src: "http://127.0.0.1:19000/snap/ok.jpg" }),
          eventView("js", {}, { snapshot_src: "javascript:alert(1)" }),
          eventView("data", {}, { snapshot_src: "data:image/svg+xml,<svg onload=alert(1)>" }),
        ]}
        today="2026-11-25"
      />,
    );
    const imgs = [...container.querySelectorAll("img")];
    expect(imgs.map((i) => i.getAttribute("src"))).toEqual(["http://127.0.0.1:19000/snap/ok.jpg"]);
  });

  it("marks clips still pending and clips available offline", () => {
    render(
      <EventList
        events={[eventView("pending", { url: "", kind: "motion_started" }), eventView("cached", {}, { clip_cached: true }), eventView("plain")]}
        today="2026-11-25"
      />,
    );
    const [pending, cached, plain] = screen.getAllByTestId("event-row");
    expect(pending?.textContent).toContain("clip pending");
    expect(pending?.textContent).not.toContain("offline");
    expect(cached?.textContent).toContain("offline");
    expect(cached?.textContent).not.toContain("clip pending");
    expect(plain?.querySelector(".badge")).toBeNull();
  });

  it("opens the clicked row", () => {
    const onOpen = vi.fn();
    render(<EventList events={[eventView("b"), eventView("a")]} today="2026-11-25" onOpen={onOpen} />);
    const rows = screen.getAllByTestId("event-row");
    if (rows[1]) fireEvent.click(rows[1]);
    expect(onOpen).toHaveBeenCalledWith(1);
  });

  it("moves the focus between rows with the arrow keys", () => {
    render(<EventList events={[eventView("c"), eventView("b"), eventView("a")]} today="2026-11-25" />);
    const rows = screen.getAllByTestId("event-row");
    rows[0]?.focus();
    fireEvent.keyDown(rows[0] as HTMLElement, { key: "ArrowDown" });
    expect(document.activeElement).toBe(rows[1]);
    fireEvent.keyDown(rows[1] as HTMLElement, { key: "End" });
    expect(document.activeElement).toBe(rows[2]);
    fireEvent.keyDown(rows[2] as HTMLElement, { key: "ArrowDown" });
    expect(document.activeElement).toBe(rows[2]);
    fireEvent.keyDown(rows[2] as HTMLElement, { key: "ArrowUp" });
    expect(document.activeElement).toBe(rows[1]);
  });

  it("shows older days in full", () => {
    render(<EventList events={[eventView("old", { time: "2026-11-24 23:59:59" })]} today="2026-11-25" />);
    expect(screen.getByTestId("event-row").textContent).toContain("2026-11-24 23:59:59");
  });

  it("explains what to do when there are no events", () => {
    render(<EventList events={[]} today="2026-11-25" />);
    expect(screen.getByRole("status").textContent).toContain("No motion events yet");
  });
});
