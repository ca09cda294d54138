import { describe, expect, it } from "vitest";
import { localDate, safeHttpUrl, shortTime } from "./format";

describe("safeHttpUrl", () => {
  it("keeps http and https URLs", () => {
    expect(safeHttpUrl("http://127.0.0.1:19000/b/clip.mp4")).toBe("http://127.0.0.1:19000/b/clip.mp4");
    expect(safeHttpUrl("https://cdn.example.net/a.mp4")).toBe("https://cdn.example.net/a.mp4");
  });

  it("refuses every other scheme and garbage", () => {
    for (const bad of ["javascript:alert(1)", "file:///etc/passwd", "data:text/html,x", "", "not a url"]) {
      expect(safeHttpUrl(bad)).toBeNull();
    }
    expect(safeHttpUrl(undefined)).toBeNull();
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
});
