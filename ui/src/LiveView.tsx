import { useCallback, useEffect, useState } from "react";
import type { DeviceView, EventView, SourceStatus } from "./bindings";
import { EventList } from "./EventList";
import { localDate, sourceStatusText, startOfDayMs } from "./format";
import { useInterval, useIpcEvent, useNow, useRequests, useThrottled } from "./hooks";
import {
  errorText,
  listDevices,
  listEvents,
  onDeviceChanged,
  onEventsChanged,
  onSourceChanged,
  sourceStatus,
} from "./ipc";
import type { ViewName } from "./nav";

/** How many cached events the live list shows. */
export const LIMIT = 200;
/** How often the silent-camera banner is re-read without a heartbeat to prompt it. */
export const SILENT_POLL_MS = 30_000;
/**
 * Heartbeats re-read the banner at most this often: a thousand cameras send thirty a second,
 * and each read lists every camera (measured with bench/fleet --desktop window).
 */
export const SILENT_REFRESH_MS = 2_000;

interface Props {
  /** Opens the player on `list[index]`. */
  onOpen: (list: EventView[], index: number) => void;
  onNavigate: (view: ViewName) => void;
}

/** The newest events as they arrive, the connection's state and cameras that went silent. */
export function LiveView({ onOpen, onNavigate }: Props) {
  const { events, error } = useRecentEvents();
  const status = useSourceStatus();
  const silent = useSilentCameras();
  const today = localDate(new Date(useNow(60_000)));

  let body;
  if (error !== null) {
    body = (
      <p className="error" role="alert">
        Cannot read the event cache: {error}
      </p>
    );
  } else if (events === null) {
    body = <p className="empty">Loading…</p>;
  } else if (events.length === 0 && status?.state === "not_configured") {
    body = <FirstRun onSettings={() => onNavigate("settings")} />;
  } else {
    body = <EventList events={events} today={today} onOpen={(i) => onOpen(events, i)} />;
  }

  return (
    <section className="view live" aria-labelledby="live-title">
      <h2 id="live-title">Live</h2>
      <SourceStatusLine status={status} onSettings={() => onNavigate("settings")} />
      <SilentBanner devices={silent} onDevices={() => onNavigate("devices")} />
      {body}
    </section>
  );
}

/** The cache's newest events, read on start and again whenever the Rust side says it changed. */
function useRecentEvents() {
  const [events, setEvents] = useState<EventView[] | null>(null);
  const [error, setError] = useState<string | null>(null);
  // Only the newest request may update the view: an older, slower answer is dropped.
  const requests = useRequests();

  const refresh = useCallback(() => {
    const request = requests.next();
    listEvents(LIMIT)
      .then((evs) => {
        if (!requests.isLatest(request)) return;
        setEvents(evs);
        setError(null);
      })
      .catch((err: unknown) => {
        if (!requests.isLatest(request)) return;
        setError(errorText(err));
      });
  }, [requests]);

  useEffect(() => {
    refresh();
    // A late answer after unmount must not land.
    return () => {
      requests.cancel();
    };
  }, [refresh, requests]);
  useIpcEvent(onEventsChanged, refresh, (err) =>
    setError(`cannot listen for new events: ${errorText(err)}`),
  );
  return { events, error };
}

/** The source's state: asked once, then kept up to date by `source-changed`. */
function useSourceStatus(): SourceStatus | null {
  const [status, setStatus] = useState<SourceStatus | null>(null);
  useEffect(() => {
    let mounted = true;
    sourceStatus()
      .then((s) => {
        // A change that arrived meanwhile is newer than this answer.
        if (mounted) setStatus((prev) => prev ?? s);
      })
      .catch(() => {
        // The status line stays empty; the source itself is unaffected.
      });
    return () => {
      mounted = false;
    };
  }, []);
  useIpcEvent(onSourceChanged, setStatus);
  return status;
}

/** Cameras whose heartbeats stopped: read on start, after heartbeats (at most every 2 s) and every 30 s. */
function useSilentCameras(): DeviceView[] {
  const [silent, setSilent] = useState<DeviceView[]>([]);
  const requests = useRequests();
  const refresh = useCallback(() => {
    const request = requests.next();
    listDevices(startOfDayMs())
      .then((devices) => {
        if (!requests.isLatest(request)) return;
        const now = devices.filter((d) => d.silent);
        // The same banner keeps its array: the view does not render again for nothing.
        setSilent((before) => (sameCameras(before, now) ? before : now));
      })
      .catch(() => {
        // Keep the last known list; the Devices view shows the error.
      });
  }, [requests]);
  useEffect(() => {
    refresh();
    return () => {
      requests.cancel();
    };
  }, [refresh, requests]);
  useIpcEvent(onDeviceChanged, useThrottled(refresh, SILENT_REFRESH_MS));
  useInterval(refresh, SILENT_POLL_MS);
  return silent;
}

function sameCameras(a: DeviceView[], b: DeviceView[]): boolean {
  return a.length === b.length && a.every((d, i) => d.device_id === b[i]?.device_id && d.device_name === b[i]?.device_name);
}

export function SourceStatusLine({
  status,
  onSettings,
}: {
  status: SourceStatus | null;
  onSettings: () => void;
}) {
  const now = useNow(1000, status?.state === "retrying");
  if (status === null) {
    return (
      <p className="source-status" data-testid="source-status" data-state="unknown">
        <span className="dot" aria-hidden="true" />
        Checking the connection…
      </p>
    );
  }
  return (
    <p className={`source-status state-${status.state}`} data-testid="source-status" data-state={status.state}>
      <span className="dot" aria-hidden="true" />
      <span>{sourceStatusText(status, now)}</span>
      {status.state === "not_configured" || status.state === "failed" ? (
        <>
          {" "}
          <button type="button" className="link" onClick={onSettings}>
            Open Settings
          </button>
        </>
      ) : null}
    </p>
  );
}

function SilentBanner({ devices, onDevices }: { devices: DeviceView[]; onDevices: () => void }) {
  if (devices.length === 0) return null;
  return (
    <div className="banner warn" data-testid="silent-banner" role="alert">
      <strong>{devices.length === 1 ? "A camera went silent: " : "Cameras went silent: "}</strong>
      <span>{devices.map((d) => d.device_name).join(", ")}</span>
      <span> — no heartbeat lately, or the camera reported a problem. </span>
      <button type="button" className="link" onClick={onDevices}>
        See Devices
      </button>
    </div>
  );
}

function FirstRun({ onSettings }: { onSettings: () => void }) {
  return (
    <div className="first-run" role="status">
      <h3>No events yet</h3>
      <p>Motion in Motion shows motion alerts from your cameras as they happen. To get started:</p>
      <ul>
        <li>
          Try it out: run <code>scripts/demo</code> from the project folder. It starts a local
          Kafka and S3 with two synthetic cameras and this app connected to them.
        </li>
        <li>
          Or connect your own cameras' stream: enter your ksqlDB endpoint (with its API key and
          secret), or your Kafka bootstrap servers, in{" "}
          <button type="button" className="link" onClick={onSettings}>
            Settings
          </button>
          .
        </li>
      </ul>
    </div>
  );
}
