import { describe, expect, it } from "vitest";
import {
  ago,
  bytes,
  dateInputMs,
  dayLabel,
  eventDay,
  eventLocalTime,
  eventMs,
  localDate,
  safeHttpUrl,
  secondsUntil,
  shortTime,
  sourceStatusText,
} from "./format";
import { motionEvent, status } from "./test/fakeIpc";

describe("safeHttpUrl", () => {
  it("keeps http and https URLs", () => {
    expect(safeHttpUrl("http://127.0.0.1:19000/b/clip.mp4")).toBe("http://127.0.0.1:19000/b/clip.mp4");
    expect(safeHttpUrl("https://cdn.example.net/a.mp4")).toBe("https://cdn.example.net/a.mp4");
  });

  it("refuses every other scheme and garbage", () => {
    for (const bad of ["javascript:alert(1)", "file:///etc/passwd", "data:text/html,x", "asset://localhost/x", "", "not a url"]) {
      expect(safeHttpUrl(bad)).toBeNull();
    }
    expect(safeHttpUrl(undefined)).toBeNull();
    expect(safeHttpUrl(null)).toBeNull();
  });
});

describe("time formatting", () => {
  it("shortens today's times and keeps older dates", () => {
    expect(shortTime("2026-11-25 05:01:02", "2026-11-25")).toBe("05:01:02");
    expect(shortTime("2026-11-24 23:59:59", "2026-11-25")).toBe("2026-11-24 23:59:59");
  });

  it("formats the local date like the event's time field", () => {
    expect(localDate(new Date(2026, 0, 5, 3, 4, 5))).toBe("2026-01-05");
  });

  it("takes an event's time from timestamp_ms, else from its local time text", () => {
    const at = new Date(2026, 10, 25, 23, 30, 0).getTime();
    expect(eventMs(motionEvent("a", { timestamp_ms: at, time: "garbage" }))).toBe(at);
    expect(eventMs(motionEvent("b", { time: "2026-11-25 23:30:00" }))).toBe(at);
    expect(eventMs(motionEvent("c", { time: "yesterday" }))).toBeNull();
    expect(eventLocalTime(motionEvent("d", { timestamp_ms: at }))).toBe("2026-11-25 23:30:00");
    expect(eventLocalTime(motionEvent("e", { time: "soon" }))).toBe("soon");
    expect(eventDay(motionEvent("f", { timestamp_ms: at }))).toBe("2026-11-25");
  });

  it("reads date inputs as local midnights", () => {
    expect(dateInputMs("2026-11-25")).toBe(new Date(2026, 10, 25).getTime());
    expect(dateInputMs("2026-11-30", 1)).toBe(new Date(2026, 11, 1).getTime());
    expect(dateInputMs("")).toBeNull();
    expect(dateInputMs("25.11.2026")).toBeNull();
  });

  it("labels days for headers", () => {
    expect(dayLabel("2026-11-25", "2026-11-25")).toBe("Today");
    expect(dayLabel("2026-11-24", "2026-11-25")).toBe("Yesterday");
    expect(dayLabel("2026-11-20", "2026-11-25")).toContain("2026");
  });

  it("says how long ago and how big", () => {
    expect(ago(0, 2_000)).toBe("just now");
    expect(ago(0, 30_000)).toBe("30 s ago");
    expect(ago(0, 5 * 60_000)).toBe("5 min ago");
    expect(ago(0, 3 * 3_600_000)).toBe("3 h ago");
    expect(ago(0, 72 * 3_600_000)).toBe("3 days ago");
    expect(bytes(512)).toBe("512 B");
    expect(bytes(1536)).toBe("1.5 KB");
    expect(bytes(5 * 1024 * 1024)).toBe("5.0 MB");
  });
});

describe("source status text", () => {
  it("names each state", () => {
    expect(sourceStatusText(status("live"), 0)).toBe("Live: following ksqlDB at http://127.0.0.1:8088");
    expect(sourceStatusText(status("connecting"), 0)).toContain("Connecting");
    expect(sourceStatusText(status("not_configured"), 0)).toBe("No event source configured.");
    expect(sourceStatusText(status("failed", { problem: "bad URL" }), 0)).toContain("bad URL");
  });

  it("counts down to the next attempt while retrying", () => {
    const s = status("retrying", { problem: "connection refused", retry_at_ms: 10_000 });
    expect(sourceStatusText(s, 6_000)).toContain("connection refused");
    expect(sourceStatusText(s, 6_000)).toContain("reconnecting in 4 s");
    expect(sourceStatusText(s, 9_500)).toContain("reconnecting in 1 s");
    expect(sourceStatusText(s, 12_000)).toContain("reconnecting in 0 s");
    expect(secondsUntil(10_000, 6_001)).toBe(4);
  });
});
