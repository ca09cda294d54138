// Formatting helpers for event fields, which are untrusted input, and for times and sizes.
import type { MotionEvent, SourceStatus } from "./bindings";

/** Only http(s) URLs may become links or media sources; anything else is shown as text. */
export function safeHttpUrl(url: string | null | undefined): string | null {
  if (!url) return null;
  try {
    const parsed = new URL(url);
    return parsed.protocol === "http:" || parsed.protocol === "https:" ? parsed.href : null;
  } catch {
    return null;
  }
}

/** "2026-11-25 05:01:02" -> "05:01:02" when it is `today` ("2026-11-25"), else unchanged. */
export function shortTime(time: string, today: string): string {
  return time.startsWith(`${today} `) ? time.slice(today.length + 1) : time;
}

const pad = (n: number) => String(n).padStart(2, "0");

/** Today's date as YYYY-MM-DD in local time, the same shape as the event's `time`. */
export function localDate(now: Date = new Date()): string {
  return `${now.getFullYear()}-${pad(now.getMonth() + 1)}-${pad(now.getDate())}`;
}

/** "YYYY-MM-DD HH:MM:SS" in local time. */
export function localDateTime(d: Date): string {
  return `${localDate(d)} ${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
}

/** "HH:MM" in local time. */
export function localHourMinute(d: Date): string {
  return `${pad(d.getHours())}:${pad(d.getMinutes())}`;
}

/**
 * When the motion started, Unix ms: `timestamp_ms` when the event has it, else its `time` read
 * as local wall-clock time; null when neither can be read.
 */
export function eventMs(event: MotionEvent): number | null {
  if (typeof event.timestamp_ms === "number" && Number.isFinite(event.timestamp_ms)) {
    return event.timestamp_ms;
  }
  const m = /^(\d{4})-(\d{2})-(\d{2})[ T](\d{2}):(\d{2}):(\d{2})/.exec(event.time);
  if (!m) return null;
  const [, y, mo, d, h, mi, s] = m.map(Number) as [number, number, number, number, number, number, number];
  const date = new Date(y, mo - 1, d, h, mi, s);
  return Number.isNaN(date.getTime()) ? null : date.getTime();
}

/** The event's time as this computer's local "YYYY-MM-DD HH:MM:SS" (the raw text if unknown). */
export function eventLocalTime(event: MotionEvent): string {
  const ms = eventMs(event);
  return ms === null ? event.time : localDateTime(new Date(ms));
}

/** The local day (YYYY-MM-DD) an event belongs to; its raw date text when unknown. */
export function eventDay(event: MotionEvent): string {
  const ms = eventMs(event);
  return ms === null ? event.time.slice(0, 10) : localDate(new Date(ms));
}

/** Local midnight of `d`'s day, Unix ms. */
export function startOfDayMs(d: Date = new Date()): number {
  return new Date(d.getFullYear(), d.getMonth(), d.getDate()).getTime();
}

/** Unix ms of local midnight at the start of "YYYY-MM-DD"; null when it is not such a date. */
export function dateInputMs(value: string, plusDays = 0): number | null {
  const m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(value);
  if (!m) return null;
  const date = new Date(Number(m[1]), Number(m[2]) - 1, Number(m[3]) + plusDays);
  return Number.isNaN(date.getTime()) ? null : date.getTime();
}

/** A day header: "Today", "Yesterday", or the date spelled out in the user's locale. */
export function dayLabel(day: string, today: string): string {
  if (day === today) return "Today";
  const todayMs = dateInputMs(today);
  const dayMs = dateInputMs(day);
  if (todayMs !== null && dayMs !== null && dateInputMs(today, -1) === dayMs) return "Yesterday";
  if (dayMs === null) return day;
  return new Date(dayMs).toLocaleDateString(undefined, {
    weekday: "long",
    year: "numeric",
    month: "long",
    day: "numeric",
  });
}

/** "3 s ago", "5 min ago", "2 h ago", "4 days ago" (or "just now"). */
export function ago(thenMs: number, nowMs: number): string {
  const s = Math.round((nowMs - thenMs) / 1000);
  if (s < 5) return "just now";
  if (s < 60) return `${s} s ago`;
  const min = Math.floor(s / 60);
  if (min < 60) return `${min} min ago`;
  const h = Math.floor(min / 60);
  if (h < 48) return `${h} h ago`;
  return `${Math.floor(h / 24)} days ago`;
}

/** A byte count for people: "512 B", "1.5 KB", "12.3 MB". */
export function bytes(n: number): string {
  if (n < 1024) return `${n} B`;
  const units = ["KB", "MB", "GB", "TB"];
  let v = n / 1024;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return `${v >= 100 ? v.toFixed(0) : v.toFixed(1)} ${units[i] ?? "TB"}`;
}

/** Whole seconds left until `atMs`, never negative. */
export function secondsUntil(atMs: number, nowMs: number): number {
  return Math.max(0, Math.ceil((atMs - nowMs) / 1000));
}

/** The connection status line's text. */
export function sourceStatusText(status: SourceStatus, nowMs: number): string {
  const target = status.target ? ` (${status.target})` : "";
  switch (status.state) {
    case "live":
      return `Live: following ${status.target || "the event source"}`;
    case "connecting":
      return `Connecting${target}…`;
    case "retrying": {
      const why = status.problem ? `: ${status.problem}` : "";
      const when =
        status.retry_at_ms === null
          ? "reconnecting soon"
          : `reconnecting in ${secondsUntil(status.retry_at_ms, nowMs)} s`;
      return `Disconnected${target}${why} — ${when}`;
    }
    case "failed":
      return `Cannot connect${target}${status.problem ? `: ${status.problem}` : ""}`;
    case "not_configured":
      return "No event source configured.";
  }
}
