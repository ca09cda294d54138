// The charts' pure parts: which window and buckets to ask for, and counts to chart series.
import type { BucketCount } from "./bindings";

export const HOUR_MS = 3_600_000;
export const DAY_MS = 24 * HOUR_MS;

export type Range = "24h" | "7d" | "30d";

export const RANGES: { range: Range; label: string; spanMs: number; bucketMs: number }[] = [
  { range: "24h", label: "Last 24 hours", spanMs: DAY_MS, bucketMs: HOUR_MS },
  { range: "7d", label: "Last 7 days", spanMs: 7 * DAY_MS, bucketMs: HOUR_MS },
  { range: "30d", label: "Last 30 days", spanMs: 30 * DAY_MS, bucketMs: DAY_MS },
];

/** This computer's zone as the command wants it: ms ahead of UTC. */
export function localOffsetMs(at: Date = new Date()): number {
  return -at.getTimezoneOffset() * 60_000;
}

/** The start of the bucket holding `t`, as the Rust side aligns them (local wall clock). */
export function alignDown(t: number, bucketMs: number, offsetMs: number): number {
  return Math.floor((t + offsetMs) / bucketMs) * bucketMs - offsetMs;
}

export interface ChartWindow {
  fromMs: number;
  toMs: number;
  bucketMs: number;
  /** Start of every bucket, oldest first (the last one holds `toMs`). */
  starts: number[];
}

/** `range` ending now: whole buckets, the current (partial) one last. */
export function chartWindow(range: Range, nowMs: number, offsetMs: number): ChartWindow {
  const r = RANGES.find((x) => x.range === range) ?? RANGES[0];
  const spanMs = r?.spanMs ?? DAY_MS;
  const bucketMs = r?.bucketMs ?? HOUR_MS;
  const fromMs = alignDown(nowMs - spanMs + bucketMs, bucketMs, offsetMs);
  const starts: number[] = [];
  for (let t = fromMs; t <= nowMs; t += bucketMs) starts.push(t);
  return { fromMs, toMs: nowMs + 1, bucketMs, starts };
}

export interface Series {
  deviceId: string;
  name: string;
  /** One count per bucket of the window. */
  data: number[];
  total: number;
}

/** One series per camera (busiest first), each with a count for every bucket of `w`. */
export function cameraSeries(
  counts: BucketCount[],
  w: ChartWindow,
  names: ReadonlyMap<string, string>,
): Series[] {
  const byDevice = new Map<string, Series>();
  for (const c of counts) {
    const i = Math.round((c.start_ms - w.fromMs) / w.bucketMs);
    if (i < 0 || i >= w.starts.length) continue;
    let s = byDevice.get(c.device_id);
    if (!s) {
      s = {
        deviceId: c.device_id,
        name: names.get(c.device_id) ?? c.device_id,
        data: w.starts.map(() => 0),
        total: 0,
      };
      byDevice.set(c.device_id, s);
    }
    s.data[i] = (s.data[i] ?? 0) + c.count;
    s.total += c.count;
  }
  return [...byDevice.values()].sort((a, b) => b.total - a.total || a.name.localeCompare(b.name));
}

/** Axis labels: "14:00" for a day of hours, "Tue 14:00" for a week, "Nov 25" for days. */
export function bucketLabels(range: Range, starts: number[]): string[] {
  return starts.map((t) => {
    const d = new Date(t);
    const hm = `${String(d.getHours()).padStart(2, "0")}:00`;
    if (range === "24h") return hm;
    if (range === "7d") return `${d.toLocaleDateString(undefined, { weekday: "short", day: "numeric" })} ${hm}`;
    return d.toLocaleDateString(undefined, { month: "short", day: "numeric" });
  });
}

/** A distinct, readable color per series index (both themes). */
export function seriesColor(i: number): string {
  const palette = ["#3b82f6", "#f59e0b", "#10b981", "#ef4444", "#8b5cf6", "#ec4899", "#14b8a6", "#a3a3a3"];
  const base = palette[i % palette.length] ?? "#3b82f6";
  return base;
}
