// The only place the UI talks to the Rust side. Commands, events and their types are generated
// from the Rust side (src/bindings.ts, by tauri-specta), never hand-copied. Views call the thin
// wrappers below (which turn `{status: "error"}` into a thrown IpcError) so that tests can
// replace this one module.
import { convertFileSrc } from "@tauri-apps/api/core";
import type { UnlistenFn } from "@tauri-apps/api/event";
import {
  commands,
  events,
  type BucketCount,
  type CheckReport,
  type ClipProgress,
  type ClipSource,
  type DeviceStatus,
  type DeviceView,
  type EventView,
  type HistoryPage,
  type HistoryQuery,
  type IpcError,
  type NewSecrets,
  type NotifySettings,
  type ServerSearch,
  type Settings,
  type SettingsView,
  type Snooze,
  type SourceStatus,
} from "./bindings";

export { commands, events };

/** True inside the Tauri window; false in a plain browser (e.g. `vite` alone). */
export function insideTauri(): boolean {
  return typeof window !== "undefined" && "__TAURI_INTERNALS__" in window;
}

/** A command's result: its data, or a thrown IpcError-shaped value. */
export async function unwrap<T>(
  result: Promise<{ status: "ok"; data: T } | { status: "error"; error: IpcError }>,
): Promise<T> {
  const r = await result;
  if (r.status === "error") throw r.error;
  return r.data;
}

/** A readable message from whatever a command rejected with. */
export function errorText(err: unknown): string {
  if (typeof err === "object" && err !== null && "message" in err) {
    const e = err as Partial<IpcError>;
    return e.kind ? `${e.message} (${e.kind})` : String(e.message);
  }
  return String(err);
}

// ---- Commands ----

/** The newest `limit` cached events, newest first. */
export function listEvents(limit: number): Promise<EventView[]> {
  return unwrap(commands.recentEvents(limit));
}

/** One page of a history search, newest first; pass `next` as `after` for the page after. */
export function searchEvents(query: HistoryQuery): Promise<HistoryPage> {
  return unwrap(commands.searchEvents(query));
}

/**
 * Asks the server for the part of a search's range the cache does not hold (slow: seconds),
 * storing what it finds; search the cache again to see it. An unreachable server is a status.
 */
export function searchServer(query: HistoryQuery): Promise<ServerSearch> {
  return unwrap(commands.searchServer(query));
}

export function getEvent(eventId: string): Promise<EventView> {
  return unwrap(commands.getEvent(eventId));
}

/** Events per camera per bucket in `[fromMs, toMs)`, buckets aligned on local time. */
export function eventCounts(
  fromMs: number,
  toMs: number,
  bucketMs: number,
  offsetMs: number,
): Promise<BucketCount[]> {
  return unwrap(commands.eventCounts(fromMs, toMs, bucketMs, offsetMs));
}

/** Every camera; `events_today` counts from `todayStartMs`. */
export function listDevices(todayStartMs: number): Promise<DeviceView[]> {
  return unwrap(commands.listDevices(todayStartMs));
}

export function setCameraMuted(deviceId: string, muted: boolean): Promise<NotifySettings> {
  return unwrap(commands.setCameraMuted(deviceId, muted));
}

/** Snoozes all motion popups; `null` resumes them. */
export function snoozeAlerts(snooze: Snooze | null): Promise<NotifySettings> {
  return unwrap(commands.snoozeAlerts(snooze));
}

export function openClip(eventId: string): Promise<ClipSource> {
  return unwrap(commands.openClip(eventId));
}

/** Starts the download into the offline cache; progress arrives through `onClipProgress`. */
export function cacheClip(eventId: string): Promise<null> {
  return unwrap(commands.cacheClip(eventId));
}

/** Copies the clip to the Downloads folder; returns the path written. */
export function saveClip(eventId: string): Promise<string> {
  return unwrap(commands.saveClip(eventId));
}

export function getSettings(): Promise<SettingsView> {
  return unwrap(commands.getSettings());
}

export function saveSettings(
  settings: Settings,
  secrets: NewSecrets,
  startOnLogin: boolean,
): Promise<SettingsView> {
  return unwrap(commands.saveSettings(settings, secrets, startOnLogin));
}

export function testConnection(settings: Settings, secrets: NewSecrets): Promise<CheckReport[]> {
  return unwrap(commands.testConnection(settings, secrets));
}

export function sourceStatus(): Promise<SourceStatus> {
  return unwrap(commands.sourceStatus());
}

/** Shows the window's log folder in the file manager. */
export function openLogFolder(): Promise<null> {
  return unwrap(commands.openLogFolder());
}

/**
 * The URL the webview loads a file of the offline clip cache from (Tauri's asset protocol).
 * The one media source that is not http(s); only ever used for `ClipSource.file`.
 */
export function clipFileSrc(path: string): string {
  return convertFileSrc(path);
}

// ---- Events: each returns the function that stops listening ----

/** Calls `onChange` whenever the cache changed. */
export function onEventsChanged(onChange: (changed: number) => void): Promise<UnlistenFn> {
  return events.eventsChanged.listen((e) => onChange(e.payload.changed));
}

/** The event source's connection changed. */
export function onSourceChanged(cb: (status: SourceStatus) => void): Promise<UnlistenFn> {
  return events.sourceChanged.listen((e) => cb(e.payload));
}

/** A camera's heartbeat arrived. */
export function onDeviceChanged(cb: (status: DeviceStatus) => void): Promise<UnlistenFn> {
  return events.deviceChanged.listen((e) => cb(e.payload));
}

/** A notification (or the tray) asked to show this event. */
/** The alert settings changed elsewhere (a mute, a snooze, the tray menu). */
export function onAlertsChanged(cb: (alerts: NotifySettings) => void): Promise<UnlistenFn> {
  return events.alertsChanged.listen((e) => cb(e.payload));
}

export function onOpenEvent(cb: (eventId: string) => void): Promise<UnlistenFn> {
  return events.openEvent.listen((e) => cb(e.payload.event_id));
}

/** Progress of clip downloads into the offline cache (all events; filter by `event_id`). */
export function onClipProgress(cb: (progress: ClipProgress) => void): Promise<UnlistenFn> {
  return events.clipProgress.listen((e) => cb(e.payload));
}
