import { lazy, Suspense, useCallback, useEffect, useRef, useState, type KeyboardEvent } from "react";
import type { EventView } from "./bindings";
import { DevicesView } from "./DevicesView";
import { HistoryView } from "./HistoryView";
import { useIpcEvent } from "./hooks";
import { errorText, getEvent, insideTauri, onOpenEvent } from "./ipc";
import { LiveView } from "./LiveView";
import { VIEWS, type ViewName } from "./nav";
import { Player } from "./Player";
import { SettingsView } from "./SettingsView";
import { useTheme } from "./theme";

export { LIMIT } from "./LiveView";

// chart.js is the biggest dependency: it loads with the Charts view only.
const ChartsView = lazy(() => import("./ChartsView"));

export default function App() {
  if (!insideTauri()) {
    return (
      <div className="app plain">
        <header className="app-head">
          <h1>Motion in Motion</h1>
        </header>
        <main className="content">
          <p className="empty" role="status">
            This page is the Motion in Motion window opened in a plain browser. Motion events are
            only shown inside the desktop app.
          </p>
        </main>
      </div>
    );
  }
  return <Shell />;
}

interface PlayerState {
  list: EventView[];
  index: number;
}

function Shell() {
  const [view, setView] = useState<ViewName>("live");
  const [player, setPlayer] = useState<PlayerState | null>(null);
  const [notice, setNotice] = useState<string | null>(null);
  const returnFocus = useRef<HTMLElement | null>(null);
  const theme = useTheme();

  const open = useCallback((list: EventView[], index: number) => {
    if (document.activeElement instanceof HTMLElement && !document.activeElement.closest(".player")) {
      returnFocus.current = document.activeElement;
    }
    setPlayer({ list, index });
  }, []);
  const close = useCallback(() => {
    setPlayer(null);
    const back = returnFocus.current;
    returnFocus.current = null;
    requestAnimationFrame(() => back?.focus());
  }, []);
  const setIndex = useCallback((index: number) => setPlayer((p) => (p ? { ...p, index } : p)), []);

  // A notification's "Open": fetch the event and play it.
  useIpcEvent(onOpenEvent, (eventId: string) => {
    getEvent(eventId)
      .then((v) => {
        setNotice(null);
        open([v], 0);
      })
      .catch((err: unknown) => setNotice(`Cannot open that event: ${errorText(err)}`));
  });

  // Alt+1 … Alt+5 switch views from anywhere (closing the player).
  useEffect(() => {
    const onKey = (e: globalThis.KeyboardEvent) => {
      if (!e.altKey || e.ctrlKey || e.metaKey) return;
      const n = Number(e.code.startsWith("Digit") ? e.code.slice(5) : e.key);
      const target = VIEWS[n - 1];
      if (!Number.isInteger(n) || !target) return;
      e.preventDefault();
      setPlayer(null);
      setView(target.name);
      requestAnimationFrame(() => document.querySelector<HTMLElement>(`[data-testid="nav-${target.name}"]`)?.focus());
    };
    window.addEventListener("keydown", onKey);
    return () => window.removeEventListener("keydown", onKey);
  }, []);

  // ↑/↓ (and ←/→) move between the nav's buttons.
  const onNavKey = (e: KeyboardEvent<HTMLElement>) => {
    const step = e.key === "ArrowDown" || e.key === "ArrowRight" ? 1 : e.key === "ArrowUp" || e.key === "ArrowLeft" ? -1 : 0;
    if (step === 0) return;
    const buttons = [...e.currentTarget.querySelectorAll<HTMLButtonElement>("button[data-view]")];
    const at = buttons.indexOf(document.activeElement as HTMLButtonElement);
    if (at < 0) return;
    e.preventDefault();
    buttons[(at + step + buttons.length) % buttons.length]?.focus();
  };

  return (
    <div className="app">
      <header className="app-head" inert={player !== null}>
        <h1>Motion in Motion</h1>
        <nav aria-label="Views" onKeyDown={onNavKey}>
          {VIEWS.map((v, i) => (
            <button
              key={v.name}
              type="button"
              data-view={v.name}
              data-testid={`nav-${v.name}`}
              aria-current={view === v.name ? "page" : undefined}
              aria-keyshortcuts={`Alt+${i + 1}`}
              title={`${v.label} (Alt+${i + 1})`}
              onClick={() => setView(v.name)}
            >
              {v.label}
            </button>
          ))}
        </nav>
        <button type="button" className="theme-toggle" data-testid="theme-toggle" onClick={theme.cycle} title="Switch between the system's, the light and the dark theme">
          Theme: {theme.choice === "auto" ? `auto (${theme.effective})` : theme.choice}
        </button>
      </header>
      <main className="content" inert={player !== null}>
        {notice !== null ? (
          <p className="banner warn" role="alert">
            {notice}{" "}
            <button type="button" className="link" onClick={() => setNotice(null)}>
              Dismiss
            </button>
          </p>
        ) : null}
        {view === "live" ? <LiveView onOpen={open} onNavigate={setView} /> : null}
        {view === "history" ? <HistoryView onOpen={open} /> : null}
        {view === "devices" ? <DevicesView /> : null}
        {view === "charts" ? (
          <Suspense fallback={<p className="empty">Loading the charts…</p>}>
            <ChartsView theme={theme.effective} />
          </Suspense>
        ) : null}
        {view === "settings" ? <SettingsView /> : null}
      </main>
      {player !== null ? <Player list={player.list} index={player.index} onIndex={setIndex} onClose={close} /> : null}
    </div>
  );
}
