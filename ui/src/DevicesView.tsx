import { useCallback, useEffect, useMemo, useState } from "react";
import type { DeviceView, NotifySettings, Snooze } from "./bindings";
import { cameraSearch } from "./CameraFilter";
import { ago, bytes, localDateTime, localHourMinute, startOfDayMs } from "./format";
import { useInterval, useIpcEvent, useNow, useRequests, useThrottled } from "./hooks";
import {
  errorText,
  getSettings,
  listDevices,
  onAlertsChanged,
  onDeviceChanged,
  onEventsChanged,
  setCameraMuted,
  snoozeAlerts,
} from "./ipc";

/** How often the list is re-read without a heartbeat to prompt it. */
export const DEVICES_POLL_MS = 30_000;
/** Heartbeats and new events re-read the list at most this often. */
export const DEVICES_REFRESH_MS = 1_000;
/** Up to this many cameras are all shown; a fleet gets a search field and pages of cards. */
export const ALL_SHOWN_MAX = 24;
/** A fleet's cards are shown this many at a time ("Show more"). */
export const CARDS_PAGE = 48;

const SNOOZES: { snooze: Snooze; label: string }[] = [
  { snooze: "minutes15", label: "15 min" },
  { snooze: "hour1", label: "1 hour" },
  { snooze: "until_morning", label: "until tomorrow 07:00" },
];

/** Every camera with its health, a mute switch each, and the global snooze. */
export function DevicesView() {
  const [devices, setDevices] = useState<DeviceView[] | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [actionError, setActionError] = useState<string | null>(null);
  const [snoozedUntil, setSnoozedUntil] = useState<string | null>(null);
  const [busy, setBusy] = useState<string | null>(null);
  const now = useNow(10_000);
  const requests = useRequests();

  const refresh = useCallback(() => {
    const request = requests.next();
    listDevices(startOfDayMs())
      .then((ds) => {
        if (!requests.isLatest(request)) return;
        setDevices(ds);
        setError(null);
      })
      .catch((err: unknown) => {
        if (requests.isLatest(request)) setError(errorText(err));
      });
  }, [requests]);

  useEffect(() => {
    refresh();
    let mounted = true;
    getSettings()
      .then((v) => {
        if (mounted) setSnoozedUntil(v.settings.alerts?.snoozed_until ?? null);
      })
      .catch(() => undefined);
    return () => {
      mounted = false;
      requests.cancel();
    };
  }, [refresh, requests]);
  // A fleet's heartbeats and events would re-list every camera four times a second.
  const soon = useThrottled(refresh, DEVICES_REFRESH_MS);
  useIpcEvent(onDeviceChanged, soon);
  useIpcEvent(onEventsChanged, soon);
  useInterval(refresh, DEVICES_POLL_MS);

  const applied = (alerts: NotifySettings) => {
    setSnoozedUntil(alerts.snoozed_until ?? null);
    const muted = alerts.muted_cameras ?? [];
    setDevices((ds) => ds?.map((d) => ({ ...d, muted: muted.includes(d.device_id) })) ?? ds);
    setActionError(null);
  };
  // A snooze from the tray, or a mute from another view, shows at once.
  useIpcEvent(onAlertsChanged, applied);

  const mute = (d: DeviceView, muted: boolean) => {
    setBusy(d.device_id);
    setCameraMuted(d.device_id, muted)
      .then(applied)
      .catch((err: unknown) => setActionError(`Cannot change ${d.device_name}: ${errorText(err)}`))
      .finally(() => setBusy(null));
  };
  const snooze = (s: Snooze | null) => {
    setBusy("snooze");
    snoozeAlerts(s)
      .then(applied)
      .catch((err: unknown) => setActionError(`Cannot change the snooze: ${errorText(err)}`))
      .finally(() => setBusy(null));
  };

  const until = snoozedUntil === null ? null : Date.parse(snoozedUntil);
  const snoozed = until !== null && Number.isFinite(until) && until > now;

  return (
    <section className="view devices" aria-labelledby="devices-title">
      <h2 id="devices-title">Devices</h2>
      <div className="snooze" role="group" aria-label="Snooze alerts" data-testid="snooze">
        <span className="snooze-state" data-testid="snooze-state">
          {snoozed && until !== null
            ? `Alerts snoozed until ${untilText(until, now)}.`
            : "Alerts are on."}
        </span>
        {SNOOZES.map((s) => (
          <button
            key={s.snooze}
            type="button"
            data-testid={`snooze-${s.snooze}`}
            disabled={busy === "snooze"}
            onClick={() => snooze(s.snooze)}
          >
            Snooze {s.label}
          </button>
        ))}
        <button type="button" data-testid="snooze-resume" disabled={busy === "snooze" || !snoozed} onClick={() => snooze(null)}>
          Resume alerts
        </button>
      </div>
      {actionError !== null ? (
        <p className="error" role="alert">
          {actionError}
        </p>
      ) : null}
      {error !== null ? (
        <p className="error" role="alert">
          Cannot read the cameras: {error}
        </p>
      ) : devices === null ? (
        <p className="empty">Loading…</p>
      ) : devices.length === 0 ? (
        <p className="empty" role="status">
          No cameras yet. A camera appears here with its first event or heartbeat.
        </p>
      ) : devices.length <= ALL_SHOWN_MAX ? (
        <DeviceList devices={devices} now={now} busy={busy} onMute={mute} />
      ) : (
        <Fleet devices={devices} now={now} busy={busy} onMute={mute} />
      )}
    </section>
  );
}

interface ListProps {
  devices: DeviceView[];
  now: number;
  busy: string | null;
  onMute: (d: DeviceView, muted: boolean) => void;
}

function DeviceList({ devices, now, busy, onMute }: ListProps) {
  return (
    <ul className="device-list">
      {devices.map((d) => (
        <DeviceCard key={d.device_id} device={d} now={now} busy={busy === d.device_id} onMute={(m) => onMute(d, m)} />
      ))}
    </ul>
  );
}

/**
 * More cameras than fit a screen: a thousand cards, re-read every second, kept the window
 * busy for seconds (bench/fleet --desktop window). Cameras are found by name or id, those
 * needing attention can be shown alone, and cards come a page at a time.
 */
function Fleet({ devices, now, busy, onMute }: ListProps) {
  const [find, setFind] = useState("");
  const [attentionOnly, setAttentionOnly] = useState(false);
  const [pages, setPages] = useState(1);
  const attention = useMemo(() => devices.filter(needsAttention).length, [devices]);
  const matching = useMemo(() => {
    const found = cameraSearch(find);
    return devices.filter((d) => (!attentionOnly || needsAttention(d)) && found(d));
  }, [devices, find, attentionOnly]);
  const shown = matching.slice(0, pages * CARDS_PAGE);
  const left = matching.length - shown.length;

  return (
    <>
      <div className="fleet-tools" role="search">
        <input
          type="search"
          data-testid="devices-find"
          aria-label="Find cameras by name"
          placeholder={`Find among ${devices.length} cameras`}
          value={find}
          onChange={(e) => {
            setFind(e.target.value);
            setPages(1);
          }}
        />
        <label className="check">
          <input
            type="checkbox"
            data-testid="devices-attention"
            checked={attentionOnly}
            onChange={(e) => {
              setAttentionOnly(e.target.checked);
              setPages(1);
            }}
          />
          Only cameras that need attention ({attention})
        </label>
        <span className="muted" data-testid="devices-count" role="status">
          Showing {shown.length} of {matching.length === devices.length ? `${devices.length} cameras` : `${matching.length} matching (${devices.length} cameras)`}.
        </span>
      </div>
      {shown.length === 0 ? (
        <p className="empty">No camera matches.</p>
      ) : (
        <DeviceList devices={shown} now={now} busy={busy} onMute={onMute} />
      )}
      {left > 0 ? (
        <button type="button" className="show-more" data-testid="devices-more" onClick={() => setPages((p) => p + 1)}>
          Show {Math.min(left, CARDS_PAGE)} more
        </button>
      ) : null}
    </>
  );
}

/** Silent, offline, or with a problem to read. */
export function needsAttention(d: DeviceView): boolean {
  return d.silent || (d.status !== null && (!d.status.online || problemsOf(d.status).length > 0));
}

function problemsOf(s: NonNullable<DeviceView["status"]>): string[] {
  const problems: string[] = [];
  if (s.camera === "lost") problems.push(`camera lost${s.camera_error ? `: ${s.camera_error}` : ""}`);
  if (s.record_camera === "lost") {
    problems.push(`main stream lost, clips come from the detect stream${s.record_camera_error ? `: ${s.record_camera_error}` : ""}`);
  }
  if (s.spool_full) problems.push("spool full: new events are not recorded");
  if (s.last_error) problems.push(`last error: ${s.last_error}`);
  return problems;
}

function untilText(untilMs: number, nowMs: number): string {
  const d = new Date(untilMs);
  return untilMs - nowMs < 20 * 3600_000 && new Date(nowMs).getDate() === d.getDate()
    ? localHourMinute(d)
    : `${localDateTime(d).slice(0, 16)}`;
}

function DeviceCard({
  device: d,
  now,
  busy,
  onMute,
}: {
  device: DeviceView;
  now: number;
  busy: boolean;
  onMute: (muted: boolean) => void;
}) {
  const s = d.status;
  const problems = s ? problemsOf(s) : [];
  return (
    <li className={`device${d.silent ? " silent" : ""}`} data-testid="device" data-device-id={d.device_id}>
      <div className="device-head">
        <h3 className="event-camera">{d.device_name}</h3>
        {s ? (
          <span className={`badge ${s.online ? "badge-ok" : "badge-bad"}`}>{s.online ? "online" : "offline"}</span>
        ) : (
          <span className="badge">no heartbeats</span>
        )}
        {s ? <span className={`badge ${s.camera === "ok" ? "badge-ok" : s.camera === "lost" ? "badge-bad" : ""}`}>camera {s.camera}</span> : null}
        {s?.record_camera ? (
          <span className={`badge ${s.record_camera === "ok" ? "badge-ok" : s.record_camera === "lost" ? "badge-bad" : ""}`}>
            main stream {s.record_camera}
          </span>
        ) : null}
        {d.silent ? <span className="badge badge-bad">silent</span> : null}
        {d.muted ? <span className="badge">muted</span> : null}
      </div>
      <dl className="device-facts">
        <dt>Last seen</dt>
        <dd>{s ? ago(s.last_seen_ms, now) : "—"}</dd>
        <dt>Last event</dt>
        <dd>{d.last_event_ms !== null ? ago(d.last_event_ms, now) : "none"}</dd>
        <dt>Events today</dt>
        <dd>{d.events_today}</dd>
        {s ? (
          <>
            <dt>Outbox</dt>
            <dd>
              {s.outbox_pending} pending{s.undelivered_bytes > 0 ? `, ${bytes(s.undelivered_bytes)} not uploaded` : ""}
            </dd>
            <dt>Disk free</dt>
            <dd>{bytes(s.disk_free_bytes)}</dd>
          </>
        ) : null}
      </dl>
      {problems.length > 0 ? (
        <ul className="device-problems">
          {problems.map((p) => (
            <li key={p} className="error">
              {p}
            </li>
          ))}
        </ul>
      ) : null}
      <label className="check">
        <input
          type="checkbox"
          role="switch"
          data-testid="device-mute"
          checked={d.muted}
          disabled={busy}
          onChange={(e) => onMute(e.target.checked)}
        />
        Mute alerts from {d.device_name}
      </label>
    </li>
  );
}
