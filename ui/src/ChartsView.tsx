// Loaded on demand (React.lazy): chart.js stays out of the first bundle.
import { useEffect, useMemo, useState } from "react";
import { BarElement, CategoryScale, Chart as ChartJS, Legend, LinearScale, Tooltip } from "chart.js";
import { Bar } from "react-chartjs-2";
import type { BucketCount } from "./bindings";
import { bucketLabels, cameraSeries, chartWindow, localOffsetMs, RANGES, seriesColor, type Range } from "./charts";
import { startOfDayMs } from "./format";
import { useDebounced, useIpcEvent, useRequests } from "./hooks";
import { errorText, eventCounts, listDevices, onEventsChanged } from "./ipc";

ChartJS.register(BarElement, CategoryScale, LinearScale, Tooltip, Legend);

/** How long new events must pause before the charts count again. */
const RECOUNT_DEBOUNCE_MS = 400;

interface Data {
  range: Range;
  now: number;
  counts: BucketCount[];
  names: Map<string, string>;
}

/** Events per time bucket by camera, and per camera in total, over a chosen range. */
export default function ChartsView({ theme }: { theme: string }) {
  const [range, setRange] = useState<Range>("24h");
  const [data, setData] = useState<Data | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [reload, setReload] = useState(0);
  // A busy stream changes the cache many times a second: count again once it pauses.
  const settledReload = useDebounced(reload, RECOUNT_DEBOUNCE_MS);
  const requests = useRequests();

  useEffect(() => {
    const request = requests.next();
    const now = Date.now();
    const w = chartWindow(range, now, localOffsetMs(new Date(now)));
    Promise.all([
      eventCounts(w.fromMs, w.toMs, w.bucketMs, localOffsetMs(new Date(now))),
      listDevices(startOfDayMs()).catch(() => []),
    ])
      .then(([counts, devices]) => {
        if (!requests.isLatest(request)) return;
        setData({ range, now, counts, names: new Map(devices.map((d) => [d.device_id, d.device_name])) });
        setError(null);
      })
      .catch((err: unknown) => {
        if (requests.isLatest(request)) setError(errorText(err));
      });
    return () => {
      requests.cancel();
    };
  }, [range, settledReload, requests]);
  // New events: count again (only the newest answer is shown).
  useIpcEvent(onEventsChanged, () => setReload((n) => n + 1));

  const colors = useMemo(() => themeColors(theme), [theme]);
  const shaped = useMemo(() => {
    if (!data) return null;
    const w = chartWindow(data.range, data.now, localOffsetMs(new Date(data.now)));
    const series = cameraSeries(data.counts, w, data.names);
    return { labels: bucketLabels(data.range, w.starts), series };
  }, [data]);
  const current = RANGES.find((r) => r.range === range);

  return (
    <section className="view charts" aria-labelledby="charts-title">
      <h2 id="charts-title">Charts</h2>
      <div className="range" role="group" aria-label="Range">
        {RANGES.map((r) => (
          <button
            key={r.range}
            type="button"
            data-testid={`chart-range-${r.range}`}
            aria-pressed={r.range === range}
            onClick={() => setRange(r.range)}
          >
            {r.label}
          </button>
        ))}
      </div>
      {error !== null ? (
        <p className="error" role="alert">
          Cannot count events: {error}
        </p>
      ) : null}
      <div className="chart" data-testid="chart-hourly">
        <h3>{range === "30d" ? "Events per day, by camera" : "Events per hour, by camera"}</h3>
        {shaped === null ? (
          <p className="empty">Loading…</p>
        ) : shaped.series.length === 0 ? (
          <p className="empty" role="status">
            No events in the {current?.label.toLowerCase() ?? "range"}.
          </p>
        ) : (
          <div className="chart-canvas">
            <Bar
              aria-label="Events per time bucket, stacked by camera"
              role="img"
              data={{
                labels: shaped.labels,
                datasets: shaped.series.map((s, i) => ({
                  label: s.name,
                  data: s.data,
                  backgroundColor: seriesColor(i),
                  stack: "events",
                })),
              }}
              options={{
                responsive: true,
                maintainAspectRatio: false,
                animation: false,
                color: colors.fg,
                plugins: { legend: { labels: { color: colors.fg } } },
                scales: {
                  x: { stacked: true, ticks: { color: colors.muted, maxRotation: 0, autoSkip: true }, grid: { display: false } },
                  y: { stacked: true, beginAtZero: true, ticks: { color: colors.muted, precision: 0 }, grid: { color: colors.grid } },
                },
              }}
            />
          </div>
        )}
      </div>
      <div className="chart" data-testid="chart-cameras">
        <h3>Events per camera</h3>
        {shaped === null ? null : shaped.series.length === 0 ? (
          <p className="empty">No cameras had events in this range.</p>
        ) : (
          <>
            <div className="chart-canvas small">
              <Bar
                aria-label="Total events per camera"
                role="img"
                data={{
                  labels: shaped.series.map((s) => s.name),
                  datasets: [
                    {
                      label: "Events",
                      data: shaped.series.map((s) => s.total),
                      backgroundColor: shaped.series.map((_, i) => seriesColor(i)),
                    },
                  ],
                }}
                options={{
                  indexAxis: "y",
                  responsive: true,
                  maintainAspectRatio: false,
                  animation: false,
                  plugins: { legend: { display: false } },
                  scales: {
                    x: { beginAtZero: true, ticks: { color: colors.muted, precision: 0 }, grid: { color: colors.grid } },
                    y: { ticks: { color: colors.fg }, grid: { display: false } },
                  },
                }}
              />
            </div>
            <table className="totals">
              <caption className="visually-hidden">Events per camera</caption>
              <tbody>
                {shaped.series.map((s) => (
                  <tr key={s.deviceId}>
                    <th scope="row">{s.name}</th>
                    <td>{s.total}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </>
        )}
      </div>
    </section>
  );
}

/** The theme's colors, read from the CSS variables (chart.js draws on a canvas). */
function themeColors(theme: string) {
  void theme; // Re-read when the theme changes.
  const css = getComputedStyle(document.documentElement);
  const get = (name: string, fallback: string) => css.getPropertyValue(name).trim() || fallback;
  return { fg: get("--fg", "#1c1d21"), muted: get("--muted", "#6b6f7a"), grid: get("--grid", "rgba(128,128,128,0.2)") };
}
