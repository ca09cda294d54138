import type { KeyboardEvent } from "react";
import type { EventView } from "./bindings";
import { EventRow } from "./EventRow";

interface Props {
  events: EventView[];
  today: string;
  /** Opens the player on `events[index]`. */
  onOpen?: (index: number) => void;
}

/** Cached events in the order given (newest first). Every field renders as plain text. */
export function EventList({ events, today, onOpen }: Props) {
  if (events.length === 0) {
    return (
      <p className="empty" role="status">
        No motion events yet — start the demo or point the app at your ksqlDB/Kafka in Settings.
      </p>
    );
  }
  return (
    <ul className="events" aria-label="Motion events" onKeyDown={moveFocus}>
      {events.map((v, i) => (
        <li key={v.event.event_id}>
          <EventRow view={v} today={today} onOpen={() => onOpen?.(i)} />
        </li>
      ))}
    </ul>
  );
}

/** ↑/↓ (and Home/End) move the focus between rows. */
function moveFocus(e: KeyboardEvent<HTMLUListElement>) {
  const rows = [...e.currentTarget.querySelectorAll<HTMLElement>('[data-testid="event-row"]')];
  const at = rows.indexOf(e.target as HTMLElement);
  if (at < 0) return;
  const to =
    e.key === "ArrowDown" ? at + 1 : e.key === "ArrowUp" ? at - 1 : e.key === "Home" ? 0 : e.key === "End" ? rows.length - 1 : null;
  if (to === null || !rows[to]) return;
  e.preventDefault();
  rows[to].focus();
}
