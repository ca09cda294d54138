// A stand-in for ./ipc in component tests: every command is a vi.fn the test programs, and the
// Rust side's events are emitted by hand. Use it with
//   vi.mock("./ipc", async (orig) => (await import("./test/fakeIpc")).ipcMock(await orig()));
import { vi } from "vitest";
import type {
  BucketCount,
  CheckReport,
  ClipProgress,
  ClipSource,
  DeviceStatus,
  DeviceView,
  EventView,
  HistoryPage,
  HistoryQuery,
  MotionEvent,
  NewSecrets,
  NotifySettings,
  ServerSearch,
  Settings,
  SettingsView,
  Snooze,
  SourceStatus,
} from "../bindings";
import type * as Ipc from "../ipc";

type Cb<T> = (payload: T) => void;

function channel<T>() {
  const listeners = new Set<Cb<T>>();
  return {
    listeners,
    listen: (cb: Cb<T>) => {
      listeners.add(cb);
      return Promise.resolve(() => {
        listeners.delete(cb);
      });
    },
    emit: (payload: T) => {
      for (const cb of [...listeners]) cb(payload);
    },
  };
}

function create() {
  return {
    inside: true,
    listEvents: vi.fn<(limit: number) => Promise<EventView[]>>(),
    searchEvents: vi.fn<(q: HistoryQuery) => Promise<HistoryPage>>(),
    searchServer: vi.fn<(q: HistoryQuery) => Promise<ServerSearch>>(),
    getEvent: vi.fn<(id: string) => Promise<EventView>>(),
    eventCounts: vi.fn<(from: number, to: number, bucket: number, offset: number) => Promise<BucketCount[]>>(),
    listDevices: vi.fn<(todayStartMs: number) => Promise<DeviceView[]>>(),
    setCameraMuted: vi.fn<(id: string, muted: boolean) => Promise<NotifySettings>>(),
    snoozeAlerts: vi.fn<(s: Snooze | null) => Promise<NotifySettings>>(),
    openClip: vi.fn<(id: string) => Promise<ClipSource>>(),
    cacheClip: vi.fn<(id: string) => Promise<null>>(),
    saveClip: vi.fn<(id: string) => Promise<string>>(),
    getSettings: vi.fn<() => Promise<SettingsView>>(),
    saveSettings: vi.fn<(s: Settings, secrets: NewSecrets, startOnLogin: boolean) => Promise<SettingsView>>(),
    testConnection: vi.fn<(s: Settings, secrets: NewSecrets) => Promise<CheckReport[]>>(),
    sourceStatus: vi.fn<() => Promise<SourceStatus>>(),
    openLogFolder: vi.fn<() => Promise<null>>(),
    eventsChanged: channel<number>(),
    sourceChanged: channel<SourceStatus>(),
    deviceChanged: channel<DeviceStatus>(),
    openEvent: channel<string>(),
    clipProgress: channel<ClipProgress>(),
  };
}

export const fake = create();

/** Fresh mocks with harmless defaults: an empty cache, no source, no cameras, default settings. */
export function resetFake(): void {
  fake.inside = true;
  for (const value of Object.values(fake)) {
    if (typeof value === "function" && "mockReset" in value) value.mockReset();
    if (typeof value === "object" && "listeners" in value) value.listeners.clear();
  }
  fake.listEvents.mockResolvedValue([]);
  fake.searchEvents.mockResolvedValue({ events: [], next: null });
  fake.searchServer.mockResolvedValue({ status: "not_configured" });
  fake.eventCounts.mockResolvedValue([]);
  fake.listDevices.mockResolvedValue([]);
  fake.sourceStatus.mockResolvedValue(status("not_configured"));
  fake.getSettings.mockResolvedValue(settingsView());
  fake.openClip.mockResolvedValue({ file: null, url: null, pending: true, problem: null });
  fake.getEvent.mockRejectedValue({ kind: "not_found", message: "no such event" });
}

export function ipcMock(real: typeof Ipc): typeof Ipc {
  return {
    ...real,
    insideTauri: () => fake.inside,
    listEvents: (...a) => fake.listEvents(...a),
    searchEvents: (...a) => fake.searchEvents(...a),
    searchServer: (...a) => fake.searchServer(...a),
    getEvent: (...a) => fake.getEvent(...a),
    eventCounts: (...a) => fake.eventCounts(...a),
    listDevices: (...a) => fake.listDevices(...a),
    setCameraMuted: (...a) => fake.setCameraMuted(...a),
    snoozeAlerts: (...a) => fake.snoozeAlerts(...a),
    openClip: (...a) => fake.openClip(...a),
    cacheClip: (...a) => fake.cacheClip(...a),
    saveClip: (...a) => fake.saveClip(...a),
    getSettings: () => fake.getSettings(),
    saveSettings: (...a) => fake.saveSettings(...a),
    testConnection: (...a) => fake.testConnection(...a),
    sourceStatus: () => fake.sourceStatus(),
    openLogFolder: () => fake.openLogFolder(),
    clipFileSrc: (path: string) => `asset://localhost/${encodeURIComponent(path)}`,
    onEventsChanged: (cb) => fake.eventsChanged.listen(cb),
    onSourceChanged: (cb) => fake.sourceChanged.listen(cb),
    onDeviceChanged: (cb) => fake.deviceChanged.listen(cb),
    onOpenEvent: (cb) => fake.openEvent.listen(cb),
    onClipProgress: (cb) => fake.clipProgress.listen(cb),
  };
}

// ---- Fixtures ----

export function motionEvent(id: string, over: Partial<MotionEvent> = {}): MotionEvent {
  return {
    event_id: id,
    device_id: "porch",
    device_name: "Porch",
    device_type: "camera",
    url: `http://127.0.0.1:19000/motion-clips/${id}.mp4`,
    time: "2026-11-25 05:00:00",
    message: "Motion detected",
    ...over,
  };
}

export function eventView(id: string, over: Partial<MotionEvent> = {}, view: Partial<EventView> = {}): EventView {
  return { event: motionEvent(id, over), snapshot_src: null, clip_cached: false, from_server: false, ...view };
}

export function status(state: SourceStatus["state"], over: Partial<SourceStatus> = {}): SourceStatus {
  return { state, target: state === "not_configured" ? "" : "ksqlDB at http://127.0.0.1:8088", problem: null, retry_at_ms: null, ...over };
}

export function device(id: string, over: Partial<DeviceView> = {}): DeviceView {
  return {
    device_id: id,
    device_name: id.charAt(0).toUpperCase() + id.slice(1),
    last_event_ms: null,
    events_today: 0,
    status: null,
    silent: false,
    muted: false,
    ...over,
  };
}

export function settingsView(over: Partial<SettingsView> = {}, settings: Settings = {}): SettingsView {
  return {
    settings,
    ksqldb_secret_set: false,
    kafka_password_set: false,
    s3_read_secret_set: false,
    start_on_login: false,
    source_override: null,
    config_dir: "/home/me/.config/motion-in-motion",
    log_dir: "/home/me/.local/share/com.motioninmotion.desktop/logs",
    ...over,
  };
}
