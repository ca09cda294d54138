// The history search's pure parts: filters to a query, and results to day groups.
import type { Cursor, EventView, HistoryQuery } from "./bindings";
import { dateInputMs, eventDay } from "./format";

/** Events per page; the command allows up to 1000. */
export const PAGE = 500;

export interface Filters {
  /** First day, "YYYY-MM-DD" (local), or "" for no lower bound. */
  from: string;
  /** Last day, inclusive, "YYYY-MM-DD" (local), or "" for no upper bound. */
  to: string;
  /** Cameras by `device_id`; empty means all. */
  devices: string[];
  /** Free text; blank means none. */
  text: string;
}

/** Consecutive results of one local day. */
export interface Group {
  day: string;
  count: number;
}

/** The problem with the date range, when there is one. */
export function rangeProblem(f: Filters): string | null {
  const from = dateInputMs(f.from);
  const to = dateInputMs(f.to);
  if (f.from && from === null) return "The start date is not a date.";
  if (f.to && to === null) return "The end date is not a date.";
  if (from !== null && to !== null && from > to) return "The start date is after the end date.";
  return null;
}

/** The query for one page: whole local days from `from` through `to`. */
export function historyQuery(f: Filters, after: Cursor | null, limit = PAGE): HistoryQuery {
  const text = f.text.trim();
  return {
    from_ms: f.from ? dateInputMs(f.from) : null,
    to_ms: f.to ? dateInputMs(f.to, 1) : null,
    devices: f.devices,
    text: text === "" ? null : text,
    after,
    limit,
  };
}

/**
 * `groups` extended by the next page's events (newest first): an event of the last group's
 * day joins it, any other day starts a group. Only the small groups array is copied.
 */
export function extendGroups(groups: Group[], events: EventView[]): Group[] {
  const out = groups.slice();
  for (const v of events) {
    const day = eventDay(v.event);
    const last = out[out.length - 1];
    if (last && last.day === day) out[out.length - 1] = { day, count: last.count + 1 };
    else out.push({ day, count: 1 });
  }
  return out;
}
