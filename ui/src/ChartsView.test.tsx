import { act, cleanup, fireEvent, render, screen, waitFor } from "@testing-library/react";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { alignDown, bucketLabels, cameraSeries, chartWindow, DAY_MS, HOUR_MS, localOffsetMs } from "./charts";
import ChartsView from "./ChartsView";
import { device, fake, resetFake } from "./test/fakeIpc";

vi.mock("./ipc", async (importOriginal) => (await import("./test/fakeIpc")).ipcMock(await importOriginal()));
// jsdom has no canvas: the chart component shows the data it was given instead.
vi.mock("react-chartjs-2", () => ({
  Bar: (props: { data: { labels: string[]; datasets: { label: string; data: number[] }[] }; "aria-label"?: string }) => (
    <div
      data-testid="bar"
      aria-label={props["aria-label"]}
      data-labels={JSON.stringify(props.data.labels)}
      data-datasets={JSON.stringify(props.data.datasets.map((d) => ({ label: d.label, data: d.data })))}
    />
  ),
}));

beforeEach(resetFake);
afterEach(cleanup);

describe("chart windows", () => {
  it("aligns buckets on the local wall clock like the Rust side", () => {
    const offset = 2 * HOUR_MS; // UTC+2
    // 2026-11-25 10:30 UTC = 12:30 local: the day bucket starts at 00:00 local = 22:00 UTC the day before.
    const t = Date.UTC(2026, 10, 25, 10, 30);
    expect(alignDown(t, DAY_MS, offset)).toBe(Date.UTC(2026, 10, 24, 22, 0));
    expect(alignDown(t, HOUR_MS, offset)).toBe(Date.UTC(2026, 10, 25, 10, 0));
  });

  it("covers 24 hourly buckets for a day, 168 for a week and 30 days for a month", () => {
    const now = Date.UTC(2026, 10, 25, 10, 30);
    const day = chartWindow("24h", now, 0);
    expect(day.bucketMs).toBe(HOUR_MS);
    expect(day.starts).toHaveLength(24);
    expect(day.starts[23]).toBe(Date.UTC(2026, 10, 25, 10, 0));
    expect(day.toMs).toBeGreaterThan(now);
    expect(chartWindow("7d", now, 0).starts).toHaveLength(168);
    const month = chartWindow("30d", now, 3_600_000);
    expect(month.bucketMs).toBe(DAY_MS);
    expect(month.starts).toHaveLength(30);
  });

  it("turns counts into one series per camera, busiest first, with zeros in between", () => {
    const w = chartWindow("24h", Date.UTC(2026, 10, 25, 10, 30), 0);
    const s = cameraSeries(
      [
        { start_ms: w.starts[0] ?? 0, device_id: "porch", count: 1 },
        { start_ms: w.starts[23] ?? 0, device_id: "garage", count: 4 },
        { start_ms: w.starts[22] ?? 0, device_id: "porch", count: 2 },
        { start_ms: (w.starts[0] ?? 0) - HOUR_MS, device_id: "porch", count: 99 },
      ],
      w,
      new Map([["garage", "Garage"]]),
    );
    expect(s.map((x) => [x.name, x.total])).toEqual([
      ["Garage", 4],
      ["porch", 3],
    ]);
    expect(s[1]?.data[0]).toBe(1);
    expect(s[1]?.data[22]).toBe(2);
    expect(s[1]?.data.filter((n) => n === 0)).toHaveLength(22);
    expect(bucketLabels("24h", [new Date(2026, 10, 25, 9).getTime()])).toEqual(["09:00"]);
  });
});

describe("Charts", () => {
  it("asks for hourly counts in the local zone and draws both charts", async () => {
    fake.listDevices.mockResolvedValue([device("garage"), device("porch")]);
    fake.eventCounts.mockImplementation((from) =>
      Promise.resolve([
        { start_ms: from, device_id: "garage", count: 2 },
        { start_ms: from + HOUR_MS, device_id: "porch", count: 5 },
      ]),
    );
    render(<ChartsView theme="light" />);
    await waitFor(() => expect(screen.getAllByTestId("bar")).toHaveLength(2));
    const [from, to, bucket, offset] = fake.eventCounts.mock.calls[0] ?? [];
    expect(bucket).toBe(HOUR_MS);
    expect(offset).toBe(localOffsetMs());
    expect((to ?? 0) - (from ?? 0)).toBeLessThanOrEqual(DAY_MS + 1);

    const hourly = screen.getByTestId("chart-hourly").querySelector("[data-testid=bar]") as HTMLElement;
    const sets = JSON.parse(hourly.dataset.datasets ?? "[]") as { label: string; data: number[] }[];
    expect(sets.map((d) => d.label)).toEqual(["Porch", "Garage"]);
    expect(sets[0]?.data[1]).toBe(5);
    expect(JSON.parse(hourly.dataset.labels ?? "[]")).toHaveLength(24);
    const cameras = screen.getByTestId("chart-cameras");
    expect(cameras.textContent).toContain("Porch5");
    expect(cameras.textContent).toContain("Garage2");
  });

  it("uses day buckets for 30 days and counts again on new events", async () => {
    render(<ChartsView theme="dark" />);
    await waitFor(() => expect(fake.eventCounts).toHaveBeenCalledTimes(1));
    expect(await screen.findByText(/No events in the last 24 hours/)).toBeTruthy();
    fireEvent.click(screen.getByTestId("chart-range-30d"));
    await waitFor(() => expect(fake.eventCounts).toHaveBeenCalledTimes(2));
    expect(fake.eventCounts.mock.calls[1]?.[2]).toBe(DAY_MS);
    fireEvent.click(screen.getByTestId("chart-range-7d"));
    await waitFor(() => expect(fake.eventCounts).toHaveBeenCalledTimes(3));
    expect(fake.eventCounts.mock.calls[2]?.[2]).toBe(HOUR_MS);
    await act(async () => fake.eventsChanged.emit(1));
    await waitFor(() => expect(fake.eventCounts).toHaveBeenCalledTimes(4));
  });

  it("shows why it cannot count", async () => {
    fake.eventCounts.mockRejectedValue({ kind: "bad_request", message: "too many buckets" });
    render(<ChartsView theme="light" />);
    expect((await screen.findByRole("alert")).textContent).toContain("too many buckets");
  });
});
