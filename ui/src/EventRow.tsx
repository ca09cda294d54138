import type { EventView } from "./bindings";
import { eventLocalTime, safeHttpUrl, shortTime } from "./format";

interface Props {
  view: EventView;
  /** Today's local date (YYYY-MM-DD): today's rows show the time only. */
  today: string;
  onOpen?: (view: EventView) => void;
}

/**
 * One event as a focusable button (Enter, Space or a click opens the player). Every event
 * field is untrusted and rendered as text; only an http(s) snapshot becomes an image.
 */
export function EventRow({ view, today, onOpen }: Props) {
  const ev = view.event;
  const thumb = safeHttpUrl(view.snapshot_src);
  const time = eventLocalTime(ev);
  const pending = ev.url.trim() === "";
  return (
    <button
      type="button"
      className="event"
      data-testid="event-row"
      data-event-id={ev.event_id}
      onClick={() => onOpen?.(view)}
    >
      <span className="thumb" aria-hidden="true">
        {thumb ? (
          <img
            src={thumb}
            alt=""
            loading="lazy"
            decoding="async"
            referrerPolicy="no-referrer"
            onError={(e) => {
              e.currentTarget.hidden = true;
            }}
          />
        ) : null}
      </span>
      <span className="event-main">
        <span className="event-head">
          <span className="event-camera">{ev.device_name}</span>
          <time className="event-time" dateTime={time.replace(" ", "T")}>
            {shortTime(time, today)}
          </time>
        </span>
        <span className="event-message">{ev.message}</span>
      </span>
      <span className="badges">
        {pending ? <span className="badge badge-pending">clip pending</span> : null}
        {view.clip_cached ? <span className="badge badge-offline">offline</span> : null}
        {view.from_server ? (
          <span className="badge badge-server" data-testid="badge-server" title="Found by searching the server: older than the cache held">
            from server
          </span>
        ) : null}
      </span>
    </button>
  );
}
