import { useCallback, useEffect, useMemo, useRef, useState, type KeyboardEvent } from "react";
import { GroupedVirtuoso, type GroupedVirtuosoHandle } from "react-virtuoso";
import type { Cursor, DeviceView, EventView, ServerSearch } from "./bindings";
import { CameraFilter } from "./CameraFilter";
import { EventRow } from "./EventRow";
import { dayLabel, localDate, startOfDayMs } from "./format";
import { extendGroups, historyQuery, rangeProblem, type Filters, type Group } from "./history";
import { useDebounced, useIpcEvent, useNow, useRequests } from "./hooks";
import { errorText, listDevices, onEventsChanged, searchEvents, searchServer } from "./ipc";

/** How long the text filter waits for typing to pause. */
export const TEXT_DEBOUNCE_MS = 250;
/**
 * "Asking the server" shows only once the answer takes this long: without a server, or when
 * the cache holds the range, the answer comes at once and the line would only flicker.
 */
export const ASKING_DELAY_MS = 250;

interface Props {
  onOpen: (list: EventView[], index: number) => void;
}

/**
 * Search the local cache: by days, cameras and words; works without a network. A range that
 * reaches before what the cache holds is also asked of the server, and the list reloads with
 * what it added (marked "from server").
 */
export function HistoryView({ onOpen }: Props) {
  const [from, setFrom] = useState("");
  const [to, setTo] = useState("");
  const [devices, setDevices] = useState<string[]>([]);
  const [text, setText] = useState("");
  const settledText = useDebounced(text.trim(), TEXT_DEBOUNCE_MS);
  const [reload, setReload] = useState(0);
  const [fresh, setFresh] = useState(false);
  const cameras = useCameras();

  const filters: Filters = useMemo(
    () => ({ from, to, devices, text: settledText }),
    [from, to, devices, settledText],
  );
  const problem = rangeProblem(filters);
  useIpcEvent(onEventsChanged, () => setFresh(true));
  const showAdded = useCallback(() => setReload((n) => n + 1), []);

  const toggle = (id: string, on: boolean) =>
    setDevices((ds) => (on ? [...ds, id] : ds.filter((d) => d !== id)));
  const clear = () => {
    setFrom("");
    setTo("");
    setDevices([]);
    setText("");
  };

  return (
    <section className="view history" aria-labelledby="history-title">
      <h2 id="history-title">History</h2>
      <form className="filters" role="search" onSubmit={(e) => e.preventDefault()}>
        <label>
          From
          <input type="date" data-testid="history-from" value={from} max={to || undefined} onChange={(e) => setFrom(e.target.value)} />
        </label>
        <label>
          To
          <input type="date" data-testid="history-to" value={to} min={from || undefined} onChange={(e) => setTo(e.target.value)} />
        </label>
        <label className="grow">
          Text
          <input
            type="search"
            data-testid="history-text"
            placeholder="Words in the camera name or message"
            value={text}
            onChange={(e) => setText(e.target.value)}
          />
        </label>
        <button type="button" onClick={clear}>
          Clear filters
        </button>
        <CameraFilter cameras={cameras} chosen={devices} onToggle={toggle} />
      </form>
      {fresh ? (
        <p className="banner info">
          New events arrived.{" "}
          <button
            type="button"
            className="link"
            onClick={() => {
              setFresh(false);
              setReload((n) => n + 1);
            }}
          >
            Show them
          </button>
        </p>
      ) : null}
      {problem !== null ? (
        <p className="error" role="alert">
          {problem}
        </p>
      ) : (
        <>
          {/* Once per search, not per reload: a reload shows what the server added. */}
          <ServerSearchStatus key={JSON.stringify(filters)} filters={filters} onAdded={showAdded} />
          {/* A new search is a new list: its pages, groups and scroll position start afresh. */}
          <HistoryResults key={`${reload}|${JSON.stringify(filters)}`} filters={filters} onOpen={onOpen} />
        </>
      )}
    </section>
  );
}

/** Every known camera, for the camera filter. */
function useCameras(): DeviceView[] {
  const [cameras, setCameras] = useState<DeviceView[]>([]);
  useEffect(() => {
    let mounted = true;
    listDevices(startOfDayMs())
      .then((ds) => {
        if (mounted) setCameras(ds);
      })
      .catch(() => undefined);
    return () => {
      mounted = false;
    };
  }, []);
  return cameras;
}

type ServerState =
  | { state: "pending" }
  | { state: "asking" }
  | { state: "answered"; result: ServerSearch }
  | { state: "failed"; message: string };

/**
 * Asks the server for the part of this search the cache does not hold (once, when mounted)
 * and says how that went; `onAdded` when it stored events, so the list can show them.
 */
function ServerSearchStatus({ filters, onAdded }: { filters: Filters; onAdded: () => void }) {
  const [server, setServer] = useState<ServerState>({ state: "pending" });
  const added = useRef(onAdded);
  useEffect(() => {
    added.current = onAdded;
  });
  useEffect(() => {
    let live = true;
    const slow = setTimeout(() => {
      if (live) setServer((s) => (s.state === "pending" ? { state: "asking" } : s));
    }, ASKING_DELAY_MS);
    searchServer(historyQuery(filters, null))
      .then((result) => {
        if (!live) return;
        setServer({ state: "answered", result });
        if (storedCount(result) > 0) added.current();
      })
      .catch((err: unknown) => {
        if (live) setServer({ state: "failed", message: errorText(err) });
      });
    return () => {
      live = false;
      clearTimeout(slow);
    };
  }, [filters]);

  const text = serverStatusText(server);
  if (text === null) return null;
  return (
    <p className="muted server-status" role="status" data-testid="history-server">
      {text}
    </p>
  );
}

/** How many events a server search stored in the cache. */
function storedCount(result: ServerSearch): number {
  return result.status === "asked" || result.status === "unavailable" ? result.added : 0;
}

/** The status line for a server search; null when there is nothing to say. */
function serverStatusText(server: ServerState): string | null {
  switch (server.state) {
    case "pending":
      return null;
    case "asking":
      return "Asking the server for older events…";
    case "failed":
      return `The server could not be asked: ${server.message}; showing cached events only.`;
    case "answered":
      break;
  }
  const r = server.result;
  switch (r.status) {
    case "not_configured":
    case "not_needed":
      return null;
    case "asked": {
      const found = r.added === 0 ? "no older events" : `${r.added} older ${r.added === 1 ? "event" : "events"} added`;
      const more = r.truncated ? " It had more: narrow the search to see them all." : "";
      return `Also searched the server: ${found}.${more}`;
    }
    case "unavailable": {
      const partial = r.added > 0 ? ` (${r.added} older ${r.added === 1 ? "event was" : "events were"} added before it stopped)` : "";
      return `The server could not be asked: ${r.reason}; showing cached events only${partial}.`;
    }
  }
}

interface Results {
  items: EventView[];
  groups: Group[];
  next: Cursor | null;
  done: boolean;
  error: string | null;
}

function HistoryResults({ filters, onOpen }: { filters: Filters } & Props) {
  const [res, setRes] = useState<Results>({ items: [], groups: [], next: null, done: false, error: null });
  // One page at a time; a page asked for by an older mount (StrictMode) is dropped.
  const requests = useRequests();
  const virtuoso = useRef<GroupedVirtuosoHandle>(null);
  const today = localDate(new Date(useNow(60_000)));

  const load = useCallback(
    (after: Cursor | null) => {
      const gen = requests.current();
      if (!requests.begin(gen)) return;
      searchEvents(historyQuery(filters, after))
        .then((page) => {
          if (!requests.isLatest(gen)) return;
          requests.end(gen);
          setRes((r) => ({
            items: r.items.concat(page.events),
            groups: extendGroups(r.groups, page.events),
            next: page.next,
            done: page.next === null,
            error: null,
          }));
        })
        .catch((err: unknown) => {
          if (!requests.isLatest(gen)) return;
          requests.end(gen);
          setRes((r) => ({ ...r, error: errorText(err) }));
        });
    },
    [filters, requests],
  );

  useEffect(() => {
    load(null);
    return () => requests.cancel();
  }, [load, requests]);

  const more = useCallback(() => {
    if (res.next !== null && res.error === null) load(res.next);
  }, [load, res.next, res.error]);

  const groupCounts = useMemo(() => res.groups.map((g) => g.count), [res.groups]);

  // ↑/↓ move between rows, scrolling the ones not rendered yet into view.
  const onKeyDown = (e: KeyboardEvent<HTMLDivElement>) => {
    if (e.key !== "ArrowDown" && e.key !== "ArrowUp") return;
    const row = (e.target as HTMLElement).closest<HTMLElement>("[data-row-index]");
    if (!row) return;
    const index = Number(row.dataset.rowIndex) + (e.key === "ArrowDown" ? 1 : -1);
    if (index < 0 || index >= res.items.length) return;
    e.preventDefault();
    const root = e.currentTarget;
    const focus = () =>
      root.querySelector<HTMLElement>(`[data-row-index="${index}"] [data-testid="event-row"]`)?.focus();
    virtuoso.current?.scrollIntoView({ index, done: () => requestAnimationFrame(focus) });
  };

  if (res.error !== null && res.items.length === 0) {
    return (
      <p className="error" role="alert">
        Cannot search the cache: {res.error}
      </p>
    );
  }
  if (res.done && res.items.length === 0) {
    const filtered = filters.from || filters.to || filters.devices.length > 0 || filters.text;
    return (
      <p className="empty" role="status" data-testid="history-empty">
        {filtered
          ? "No events match these filters. Try a longer date range, fewer words or more cameras."
          : "The cache has no events yet. They appear here as soon as the event source delivers them."}
      </p>
    );
  }
  if (!res.done && res.items.length === 0) {
    return <p className="empty">Searching…</p>;
  }
  return (
    <div className="history-results" data-testid="history-results" onKeyDown={onKeyDown}>
      <GroupedVirtuoso
        ref={virtuoso}
        className="history-list"
        groupCounts={groupCounts}
        increaseViewportBy={{ top: 300, bottom: 600 }}
        endReached={more}
        groupContent={(gi) => {
          const day = res.groups[gi]?.day ?? "";
          return (
            <h3 className="day-header" data-testid="day-header" data-day={day}>
              {dayLabel(day, today)}
            </h3>
          );
        }}
        itemContent={(index, gi) => {
          const view = res.items[index];
          if (!view) return null;
          const day = res.groups[gi]?.day ?? "";
          return (
            <div className="history-row" data-row-index={index}>
              <EventRow view={view} today={day} onOpen={() => onOpen(res.items, index)} />
            </div>
          );
        }}
        components={{ Footer }}
        context={{ done: res.done, error: res.error, count: res.items.length, more, retry: () => load(res.next) }}
        computeItemKey={(index) => res.items[index]?.event.event_id ?? index}
      />
    </div>
  );
}

interface FooterContext {
  done: boolean;
  error: string | null;
  count: number;
  more: () => void;
  retry: () => void;
}

/** Below the last loaded row: the count at the end, a retry after an error, or "loading". */
function Footer({ context }: { context: FooterContext }) {
  if (context.done) {
    return <p className="muted list-end">{context.count} events, oldest last.</p>;
  }
  if (context.error !== null) {
    return (
      <p className="error list-end" role="alert">
        Cannot load more: {context.error}{" "}
        <button type="button" onClick={context.retry}>
          Retry
        </button>
      </p>
    );
  }
  return (
    <p className="muted list-end">
      Loading more…{" "}
      <button type="button" className="link" data-testid="history-more" onClick={context.more}>
        Load more
      </button>
    </p>
  );
}
