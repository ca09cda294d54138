import { act, cleanup, fireEvent, render, screen, waitFor, within } from "@testing-library/react";
import type { ReactNode } from "react";
import { VirtuosoMockContext } from "react-virtuoso";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import type { EventView } from "./bindings";
import { dateInputMs } from "./format";
import { extendGroups, historyQuery, PAGE, rangeProblem } from "./history";
import { HistoryView, TEXT_DEBOUNCE_MS } from "./HistoryView";
import { device, eventView, fake, resetFake } from "./test/fakeIpc";

vi.mock("./ipc", async (importOriginal) => (await import("./test/fakeIpc")).ipcMock(await importOriginal()));

beforeEach(resetFake);
afterEach(() => {
  cleanup();
  vi.useRealTimers();
});

/** jsdom measures nothing: give the virtual list a viewport and row sizes. */
function Sized({ children }: { children: ReactNode }) {
  return (
    <VirtuosoMockContext.Provider value={{ viewportHeight: 2000, itemHeight: 40 }}>{children}</VirtuosoMockContext.Provider>
  );
}

const at = (day: number, h: number) => new Date(2026, 10, day, h, 0, 0).getTime();
const ev = (id: string, day: number, h: number) => eventView(id, { timestamp_ms: at(day, h), time: "ignored" });

describe("history grouping and queries", () => {
  it("groups consecutive events by local day, continuing across pages", () => {
    const page1 = [ev("a", 25, 10), ev("b", 25, 1), ev("c", 24, 23)];
    const page2 = [ev("d", 24, 8), ev("e", 22, 12)];
    const g1 = extendGroups([], page1);
    expect(g1).toEqual([
      { day: "2026-11-25", count: 2 },
      { day: "2026-11-24", count: 1 },
    ]);
    const g2 = extendGroups(g1, page2);
    expect(g2).toEqual([
      { day: "2026-11-25", count: 2 },
      { day: "2026-11-24", count: 2 },
      { day: "2026-11-22", count: 1 },
    ]);
    expect(g1[1]?.count).toBe(1);
  });

  it("turns filters into whole local days, cameras and words", () => {
    const q = historyQuery({ from: "2026-11-20", to: "2026-11-25", devices: ["garage"], text: "  cat  " }, null);
    expect(q).toEqual({
      from_ms: dateInputMs("2026-11-20"),
      to_ms: dateInputMs("2026-11-26"),
      devices: ["garage"],
      text: "cat",
      after: null,
      limit: PAGE,
    });
    const cursor = { sort_ms: 5, event_id: "x" };
    expect(historyQuery({ from: "", to: "", devices: [], text: " " }, cursor)).toMatchObject({
      from_ms: null,
      to_ms: null,
      text: null,
      after: cursor,
    });
  });

  it("refuses a range that ends before it starts", () => {
    expect(rangeProblem({ from: "2026-11-25", to: "2026-11-20", devices: [], text: "" })).toContain("after");
    expect(rangeProblem({ from: "2026-11-20", to: "2026-11-20", devices: [], text: "" })).toBeNull();
  });
});

describe("History", () => {
  it("shows day headers, newest first, and loads the next page with the cursor", async () => {
    const first: EventView[] = [ev("a", 25, 10), ev("b", 25, 1), ev("c", 24, 23)];
    const second: EventView[] = [ev("d", 24, 8), ev("e", 22, 12)];
    const cursor = { sort_ms: at(24, 23), event_id: "c" };
    fake.searchEvents.mockImplementation((q) =>
      Promise.resolve(q.after === null ? { events: first, next: cursor } : { events: second, next: null }),
    );
    render(
      <Sized>
        <HistoryView onOpen={vi.fn()} />
      </Sized>,
    );
    await waitFor(() => expect(fake.searchEvents).toHaveBeenCalledTimes(2));
    expect(fake.searchEvents.mock.calls[0]?.[0]).toMatchObject({ after: null, limit: PAGE, devices: [], text: null });
    expect(fake.searchEvents.mock.calls[1]?.[0]).toMatchObject({ after: cursor });
    await waitFor(() => expect(screen.getAllByTestId("event-row")).toHaveLength(5));
    expect(screen.getAllByTestId("event-row").map((r) => r.dataset.eventId)).toEqual(["a", "b", "c", "d", "e"]);
    expect(screen.getAllByTestId("day-header").map((h) => h.dataset.day)).toEqual(["2026-11-25", "2026-11-24", "2026-11-22"]);
    expect(screen.getByText("5 events, oldest last.")).toBeTruthy();
  });

  it("searches again for text once typing pauses", async () => {
    vi.useFakeTimers();
    render(
      <Sized>
        <HistoryView onOpen={vi.fn()} />
      </Sized>,
    );
    await act(async () => vi.advanceTimersByTime(0));
    expect(fake.searchEvents).toHaveBeenCalledTimes(1);
    const input = screen.getByTestId("history-text");
    fireEvent.change(input, { target: { value: "ca" } });
    await act(async () => vi.advanceTimersByTime(100));
    fireEvent.change(input, { target: { value: "cat" } });
    await act(async () => vi.advanceTimersByTime(TEXT_DEBOUNCE_MS - 10));
    expect(fake.searchEvents).toHaveBeenCalledTimes(1);
    await act(async () => vi.advanceTimersByTime(20));
    expect(fake.searchEvents).toHaveBeenCalledTimes(2);
    expect(fake.searchEvents.mock.calls[1]?.[0]).toMatchObject({ text: "cat", after: null });
  });

  it("filters by cameras and dates", async () => {
    fake.listDevices.mockResolvedValue([device("garage"), device("porch")]);
    render(
      <Sized>
        <HistoryView onOpen={vi.fn()} />
      </Sized>,
    );
    const boxes = await screen.findAllByTestId("history-camera");
    if (boxes[1]) fireEvent.click(boxes[1]);
    await waitFor(() => expect(fake.searchEvents).toHaveBeenLastCalledWith(expect.objectContaining({ devices: ["porch"] })));
    fireEvent.change(screen.getByTestId("history-from"), { target: { value: "2026-11-20" } });
    await waitFor(() =>
      expect(fake.searchEvents).toHaveBeenLastCalledWith(expect.objectContaining({ from_ms: dateInputMs("2026-11-20"), devices: ["porch"] })),
    );
  });

  it("says when nothing matches", async () => {
    render(
      <Sized>
        <HistoryView onOpen={vi.fn()} />
      </Sized>,
    );
    expect((await screen.findByTestId("history-empty")).textContent).toContain("no events yet");
    fireEvent.change(screen.getByTestId("history-to"), { target: { value: "2026-11-20" } });
    await waitFor(() => expect(screen.getByTestId("history-empty").textContent).toContain("No events match"));
  });

  it("opens the player with the loaded list", async () => {
    const events = [ev("a", 25, 10), ev("b", 25, 9)];
    fake.searchEvents.mockResolvedValue({ events, next: null });
    const onOpen = vi.fn();
    render(
      <Sized>
        <HistoryView onOpen={onOpen} />
      </Sized>,
    );
    const rows = await screen.findAllByTestId("event-row");
    if (rows[1]) fireEvent.click(rows[1]);
    expect(onOpen).toHaveBeenCalledWith(events, 1);
  });

  it("shows the cache's error", async () => {
    fake.searchEvents.mockRejectedValue({ kind: "bad_request", message: "limit must be between 1 and 1000, got 0" });
    render(
      <Sized>
        <HistoryView onOpen={vi.fn()} />
      </Sized>,
    );
    expect((await screen.findByRole("alert")).textContent).toContain("limit must be between 1 and 1000");
  });

  it("marks events that came from the server", async () => {
    const events = [ev("a", 25, 10), eventView("old", { timestamp_ms: at(2, 9) }, { from_server: true })];
    fake.searchEvents.mockResolvedValue({ events, next: null });
    render(
      <Sized>
        <HistoryView onOpen={vi.fn()} />
      </Sized>,
    );
    const rows = await screen.findAllByTestId("event-row");
    expect(rows.map((r) => r.dataset.eventId)).toEqual(["a", "old"]);
    expect(within(rows[0] as HTMLElement).queryByTestId("badge-server")).toBeNull();
    expect(within(rows[1] as HTMLElement).getByTestId("badge-server").textContent).toBe("from server");
  });

  it("asks the server once per search and shows what it added", async () => {
    const cached = ev("a", 25, 10);
    const old = eventView("old", { timestamp_ms: at(2, 9) }, { from_server: true });
    fake.searchEvents.mockResolvedValueOnce({ events: [cached], next: null }).mockResolvedValue({ events: [cached, old], next: null });
    fake.searchServer.mockResolvedValue({ status: "asked", found: 1, added: 1, truncated: false });
    render(
      <Sized>
        <HistoryView onOpen={vi.fn()} />
      </Sized>,
    );
    expect((await screen.findByTestId("history-server")).textContent).toBe("Also searched the server: 1 older event added.");
    await waitFor(() => expect(screen.getAllByTestId("event-row").map((r) => r.dataset.eventId)).toEqual(["a", "old"]));
    expect(screen.getByTestId("badge-server")).toBeTruthy();
    expect(fake.searchServer).toHaveBeenCalledTimes(1);
    expect(fake.searchServer.mock.calls[0]?.[0]).toMatchObject({ after: null, devices: [], text: null });
  });

  it("lists the cached events and says why when the server cannot be asked", async () => {
    fake.searchEvents.mockResolvedValue({ events: [ev("a", 25, 10), ev("b", 24, 8)], next: null });
    fake.searchServer.mockResolvedValue({
      status: "unavailable",
      reason: "cannot reach ksqlDB at http://127.0.0.1:8088/query-stream: error sending request",
      added: 0,
    });
    render(
      <Sized>
        <HistoryView onOpen={vi.fn()} />
      </Sized>,
    );
    const line = await screen.findByTestId("history-server");
    expect(line.textContent).toBe(
      "The server could not be asked: cannot reach ksqlDB at http://127.0.0.1:8088/query-stream: error sending request; showing cached events only.",
    );
    // The status line can be painted before the list's rows: the virtualised list lays them out a tick later.
    await waitFor(() => expect(screen.getAllByTestId("event-row").map((r) => r.dataset.eventId)).toEqual(["a", "b"]));
    expect(fake.searchEvents).toHaveBeenCalledTimes(1);
  });

  it("says it is asking the server while the answer takes a while", async () => {
    fake.searchServer.mockReturnValue(new Promise(() => undefined));
    render(
      <Sized>
        <HistoryView onOpen={vi.fn()} />
      </Sized>,
    );
    expect((await screen.findByTestId("history-server")).textContent).toBe("Asking the server for older events…");
    expect(await screen.findByTestId("history-empty")).toBeTruthy();
  });

  it("says nothing about a server when there is none to ask", async () => {
    fake.searchEvents.mockResolvedValue({ events: [ev("a", 25, 10)], next: null });
    render(
      <Sized>
        <HistoryView onOpen={vi.fn()} />
      </Sized>,
    );
    await screen.findAllByTestId("event-row");
    await waitFor(() => expect(fake.searchServer).toHaveBeenCalledTimes(1));
    await act(async () => undefined);
    expect(screen.queryByTestId("history-server")).toBeNull();
  });
});
