import { useCallback, useEffect, useRef, useState } from "react";
import type { MotionEvent } from "./bindings";
import { EventList } from "./EventList";
import { localDate } from "./format";
import { errorText, insideTauri, listEvents, onEventsChanged } from "./ipc";

/** How many cached events the list shows. */
export const LIMIT = 200;

export default function App() {
  const tauri = insideTauri();
  return (
    <main>
      <header>
        <h1>Motion in Motion</h1>
      </header>
      {tauri ? (
        <CachedEvents />
      ) : (
        <p className="empty" role="status">
          This page is the Motion in Motion window opened in a plain browser. Motion events are
          only shown inside the desktop app.
        </p>
      )}
    </main>
  );
}

/** The event cache, read on start and again whenever the Rust side says it changed. */
function CachedEvents() {
  const [events, setEvents] = useState<MotionEvent[] | null>(null);
  const [error, setError] = useState<string | null>(null);
  // Only the newest request may update the view: an older, slower answer is dropped.
  const latest = useRef(0);

  const refresh = useCallback(() => {
    const request = ++latest.current;
    listEvents(LIMIT)
      .then((evs) => {
        if (request !== latest.current) return;
        setEvents(evs.map((v) => v.event));
        setError(null);
      })
      .catch((err: unknown) => {
        if (request !== latest.current) return;
        setError(errorText(err));
      });
  }, []);

  useEffect(() => {
    let stopped = false;
    let unlisten: (() => void) | null = null;
    refresh();
    onEventsChanged(() => refresh())
      .then((stop) => {
        if (stopped) stop();
        else unlisten = stop;
      })
      .catch((err: unknown) => setError(`cannot listen for new events: ${errorText(err)}`));
    return () => {
      stopped = true;
      unlisten?.();
    };
  }, [refresh]);

  if (error !== null) {
    return (
      <p className="error" role="alert">
        Cannot read the event cache: {error}
      </p>
    );
  }
  if (events === null) {
    return <p className="empty">Loading…</p>;
  }
  return <EventList events={events} today={localDate()} />;
}
