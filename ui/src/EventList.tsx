import type { MotionEvent } from "./bindings";
import { safeHttpUrl, shortTime } from "./format";

interface Props {
  events: MotionEvent[];
  today: string;
}

/** Cached events in the order given (newest first). Every field renders as plain text. */
export function EventList({ events, today }: Props) {
  if (events.length === 0) {
    return (
      <p className="empty" role="status">
        No motion events yet — start the demo or point the app at your ksqlDB/Kafka in Settings.
      </p>
    );
  }
  return (
    <ul className="events" aria-label="Motion events">
      {events.map((ev) => (
        <EventRow key={ev.event_id} event={ev} today={today} />
      ))}
    </ul>
  );
}

function EventRow({ event, today }: { event: MotionEvent; today: string }) {
  const clip = safeHttpUrl(event.url);
  return (
    <li className="event" data-testid="event-row" data-event-id={event.event_id}>
      <time className="event-time" dateTime={event.time.replace(" ", "T")}>
        {shortTime(event.time, today)}
      </time>
      <span className="event-camera">{event.device_name}</span>
      <span className="event-message">{event.message}</span>
      {clip ? (
        <a className="event-clip" href={clip} target="_blank" rel="noreferrer noopener">
          Clip
        </a>
      ) : (
        <span className="event-clip pending">{event.url ? event.url : "clip pending"}</span>
      )}
    </li>
  );
}
