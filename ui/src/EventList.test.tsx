import { cleanup, render, screen } from "@testing-library/react";
import { afterEach, describe, expect, it } from "vitest";
import type { MotionEvent } from "./bindings";
import { EventList } from "./EventList";

afterEach(cleanup);

function event(id: string, over: Partial<MotionEvent> = {}): MotionEvent {
  return {
    event_id: id,
    device_id: "garage",
    device_name: "Garage",
    device_type: "camera",
    url: `http://127.0.0.1:19000/motion-clips/${id}.mp4`,
    time: "2026-11-25 05:00:00",
    message: "Motion detected",
    ...over,
  };
}

describe("EventList", () => {
  it("shows rows in the order given, newest first", () => {
    render(<EventList events={[event("b"), event("a")]} today="2026-11-25" />);
    const rows = screen.getAllByTestId("event-row");
    expect(rows.map((r) => r.dataset.eventId)).toEqual(["b", "a"]);
    expect(rows[0]?.textContent).toContain("05:00:00");
  });

  it("renders hostile text literally and runs nothing", () => {
    const hostile = "<img src=x onerror=alert(1)>";
    const { container } = render(
      <EventList events={[event("x", { message: hostile, device_name: "<b>Cam</b>" })]} today="2026-11-25" />,
    );
    expect(screen.getByText(hostile)).toBeTruthy();
    expect(screen.getByText("<b>Cam</b>")).toBeTruthy();
    expect(container.querySelector("img")).toBeNull();
    expect(container.querySelector("b")).toBeNull();
  });

  it("links only http(s) clips", () => {
    render(
      <EventList
        events={[event("ok"), event("js", { url: "javascript:alert(1)" }), event("pending", { url: "", kind: "motion_started" })]}
        today="2026-11-25"
      />,
    );
    const links = screen.getAllByRole("link");
    expect(links).toHaveLength(1);
    expect(links[0]?.getAttribute("href")).toBe("http://127.0.0.1:19000/motion-clips/ok.mp4");
    expect(screen.getByText("javascript:alert(1)")).toBeTruthy();
    expect(screen.getByText("clip pending")).toBeTruthy();
  });

  it("explains what to do when there are no events", () => {
    render(<EventList events={[]} today="2026-11-25" />);
    expect(screen.getByRole("status").textContent).toContain("No motion events yet");
  });
});
