"""The desktop app's real window in a benchmark: `motion-in-motion` (the window, not `sync`)
started by `tauri-driver` in front of WebKitGTK's `WebKitWebDriver` on a private desktop, and
probed over WebDriver while events pour in (bench/fleet/run --desktop window).

What the probe measures, inside the page (so WebDriver's own round trip is not counted):
- frames: every requestAnimationFrame's time; a gap between two frames is time the page could
  not paint (its main thread busy, or WebKit's web process starved);
- interactions: a click on a view's nav button until the frame after that view shows its rows
  (History: its first page from the cache; Live: the newest events; Devices: every camera), in
  turn every few seconds (History, Live, Devices, Live);
- freshness: when each event's row first appeared in the Live view, against when it entered the
  cache.
Also WebDriver's round trip per probe (what a test driver sees). Standard library only, as
tests/support/window.rs does it with fantoccini.
"""

import json
import os
import socket
import subprocess
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

from alertbench import CACHE
from benchkit import Failure, log
from desktopbench import (BENCH_SETTINGS, START_TIMEOUT_S, app_source_args, now_ms, wait_caught_up,
                          wait_until)

WEBKIT_WEBDRIVER = "/usr/bin/WebKitWebDriver"
SESSION_TIMEOUT_S = 180    # a cold WebKit start under Xvfb, on a busy machine
COMMAND_TIMEOUT_S = 120    # one WebDriver command
INTERACT_EVERY_S = 2.0     # one view switch this often
INTERACT_LIMIT_MS = 30_000  # a view that shows nothing within this is a failed interaction
EVENT_ROW = '[data-testid="event-row"]'
# Which view to open, and what shows that it is there: its rows, or its "nothing yet" (views
# mount on switch: App.tsx; "Loading…" and "Searching…" have no role=status).
VIEW_READY = {"history": f'[data-testid="history-results"] {EVENT_ROW}, [data-testid="history-empty"]',
              "live": f'section.live {EVENT_ROW}, section.live p.empty[role="status"]',
              "devices": 'section.devices [data-testid="device"], section.devices p.empty[role="status"]'}


def tauri_driver():
    cached = CACHE / "tools" / "bin" / "tauri-driver"
    if os.access(cached, os.X_OK):
        return cached
    for d in os.environ.get("PATH", "").split(os.pathsep):
        if d and os.access(Path(d) / "tauri-driver", os.X_OK):
            return Path(d) / "tauri-driver"
    raise Failure("tauri-driver is missing: run scripts/install-deps")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class WebDriver:
    """The few W3C WebDriver commands the probe needs, over HTTP."""

    def __init__(self, url, capabilities):
        self.url = url
        value = self._call("POST", "/session", {"capabilities": {"alwaysMatch": capabilities}},
                           timeout_s=SESSION_TIMEOUT_S)
        self.session = value["sessionId"]
        self._call("POST", f"/session/{self.session}/timeouts", {"script": INTERACT_LIMIT_MS + 10_000})

    def _call(self, method, path, body=None, timeout_s=COMMAND_TIMEOUT_S):
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(self.url + path, data=data, method=method,
                                     headers={"Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(req, timeout=timeout_s) as r:
                return json.load(r).get("value")
        except urllib.error.HTTPError as e:
            detail = e.read().decode(errors="replace")[:500]
            raise Failure(f"WebDriver {method} {path}: HTTP {e.code}: {detail}") from e
        except (OSError, ValueError) as e:
            raise Failure(f"WebDriver {method} {path}: {e}") from e

    def execute(self, script, *args):
        return self._call("POST", f"/session/{self.session}/execute/sync", {"script": script, "args": list(args)})

    def execute_async(self, script, *args):
        return self._call("POST", f"/session/{self.session}/execute/async", {"script": script, "args": list(args)})

    def quit(self):
        try:
            self._call("DELETE", f"/session/{self.session}", timeout_s=30)
        except Failure:
            pass


def private_env(desktop, home, rust_log):
    """The app's environment: the private desktop's display and bus, a home of its own (its
    WebKit data and logs), and GTK/WebKit as tests/support/window.rs runs them under Xvfb."""
    runtime = home.parent / "runtime"
    for d in ("config", "data", "cache", "state"):
        (home / d).mkdir(parents=True, exist_ok=True)
    runtime.mkdir(mode=0o700, exist_ok=True)
    return dict(desktop["env"], HOME=str(home), XDG_CONFIG_HOME=str(home / "config"),
                XDG_DATA_HOME=str(home / "data"), XDG_CACHE_HOME=str(home / "cache"),
                XDG_STATE_HOME=str(home / "state"), XDG_RUNTIME_DIR=str(runtime), GDK_BACKEND="x11",
                NO_AT_BRIDGE="1", LIBGL_ALWAYS_SOFTWARE="1", RUST_LOG=rust_log, NO_COLOR="1")


def children(pid):
    """Every live descendant of `pid`, from /proc."""
    parents = {}
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            stat = Path(f"/proc/{d}/stat").read_text()
        except OSError:
            continue
        ppid = int(stat[stat.rindex(")") + 2:].split()[1])
        parents.setdefault(ppid, []).append(int(d))
    out, todo = [], [pid]
    while todo:
        for c in parents.get(todo.pop(), []):
            out.append(c)
            todo.append(c)
    return out


def program(pid):
    """The file name of `pid`'s program (its argv[0]; /proc's comm stops at 15 characters)."""
    try:
        argv0 = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0", 1)[0]
    except OSError:
        return ""
    return os.path.basename(argv0.decode(errors="replace"))


def start_window(procs, bins, work, desktop, *, rust_log, ksqldb_url=None, kafka=None,
                 settings=BENCH_SETTINGS):
    """The app's window on the private desktop, with `settings` as its settings.json, its cache
    `work`/cache.sqlite and its log (with tauri-driver's and WebKitWebDriver's) `work`/window.log,
    following the ksqlDB at `ksqldb_url` or Kafka directly. Returns once its window is open and
    it has caught up with the stream: (WebDriver, the cache's path, the log's path, the app's
    pid, the pids of its WebKit processes)."""
    source = app_source_args(ksqldb_url, kafka)
    config_dir, db = work / "config", work / "cache.sqlite"
    config_dir.mkdir()
    (config_dir / "settings.json").write_text(json.dumps(settings) + "\n")
    env = private_env(desktop, work / "home", rust_log)
    log_path = work / "window.log"
    port, native = free_port(), free_port()
    with open(log_path, "wb") as out:
        driver = procs.start("tauri-driver", [str(tauri_driver()), "--port", str(port), "--native-port", str(native),
                                              "--native-driver", WEBKIT_WEBDRIVER],
                             stdout=out, stderr=subprocess.STDOUT, env=env, cwd=work)

    def listening():
        if driver.poll() is not None:
            raise Failure(f"tauri-driver exited with {driver.returncode}: "
                          + log_path.read_text(errors="replace")[-1500:])
        # tauri-driver listens before the WebKitWebDriver it started does; a session asked
        # for in between fails ("client error (Connect)"), as it did in 3 of 4 runs.
        for p in (port, native):
            with socket.socket() as s:
                if s.connect_ex(("127.0.0.1", p)) != 0:
                    return False
        return True
    wait_until("tauri-driver and WebKitWebDriver to listen", START_TIMEOUT_S, listening)
    app = str(bins["motion-in-motion"])
    args = ["--db", str(db), "--config-dir", str(config_dir), *source]
    log(f"window: {app} {' '.join(args)} (through tauri-driver on port {port})")
    wd = WebDriver(f"http://127.0.0.1:{port}", {"tauri:options": {"application": app, "args": args}})
    name = os.path.basename(app)
    app_pid = next((c for c in children(driver.pid) if program(c) == name), None)
    if app_pid is None:
        raise Failure(f"the window's process ({name}) is not among tauri-driver's children")
    webkit = [c for c in children(app_pid) if program(c).startswith("WebKit")]
    wait_caught_up("the window", driver, log_path, db, ksqldb_url)
    return wd, db, log_path, app_pid, webkit


# Installed once in the page: the frame clock and the Live view's first sight of each row.
INSTALL = """
if (window.__mimBench) return false;
const b = window.__mimBench = {frames: [], seen: {}, seenList: [], dirty: true};
const t0 = performance.timeOrigin;
new MutationObserver(() => { b.dirty = true; })
  .observe(document.body, {childList: true, subtree: true});
const frame = (t) => {
  const now = t0 + t;
  b.frames.push(now);
  if (b.dirty && b.live) {
    b.dirty = false;
    for (const r of document.querySelectorAll(arguments[0])) {
      const id = r.getAttribute("data-event-id");
      if (id && !(id in b.seen)) {
        b.seen[id] = now;
        b.seenList.push([id, now]);
      }
    }
  }
  requestAnimationFrame(frame);
};
requestAnimationFrame(frame);
return true;
"""

# Clicks a view's nav button and answers with how long until the frame after its rows showed.
SWITCH = """
const [view, ready, limit, done] = arguments;
const b = window.__mimBench;
const button = document.querySelector(`[data-testid="nav-${view}"]`);
if (!button) { done({error: `no nav-${view} button`}); return; }
b.live = false;
const start = performance.now();
button.click();
const check = () => {
  const waited = performance.now() - start;
  if (document.querySelector(ready)) {
    requestAnimationFrame(() => {
      b.live = view === "live";
      b.dirty = true;
      done({view, at: performance.timeOrigin + start, ms: performance.now() - start});
    });
  } else if (waited > limit) {
    done({view, at: performance.timeOrigin + start, ms: null});
  } else {
    requestAnimationFrame(check);
  }
};
requestAnimationFrame(check);
"""

# What the page recorded since the counts already taken: the page keeps everything (a few
# thousand numbers), so an answer lost on the way is asked for again, not lost.
DRAIN = """
const b = window.__mimBench;
const [frames, seen] = arguments;
return {frames: b.frames.slice(frames), seen: b.seenList.slice(seen)};
"""


class WindowProbe:
    """Installs the page's recorders, then every INTERACT_EVERY_S switches views (History, Live,
    Devices, Live) and
    drains the page's records, on a thread of its own."""

    def __init__(self, wd):
        self.wd = wd
        self.frames, self.seen, self.switches, self.round_trips, self.errors = [], {}, [], [], []
        self.seen_taken = 0
        self.retried = []  # drains whose answer was lost, then asked for again
        wd.execute(INSTALL, EVENT_ROW)
        first = self._switch("live")
        if first.get("ms") is None:
            raise Failure(f"the window's Live view showed nothing within {INTERACT_LIMIT_MS} ms: {first}")
        self.stop_flag = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _switch(self, view):
        t0 = now_ms()
        r = self.wd.execute_async(SWITCH, view, VIEW_READY[view], INTERACT_LIMIT_MS) or {}
        self.round_trips.append((t0, now_ms() - t0))
        if r.get("error"):
            raise Failure(f"the window: {r['error']}")
        self.switches.append(r)
        return r

    def _drain(self):
        for attempt in (1, 2):
            try:
                d = self.wd.execute(DRAIN, len(self.frames), self.seen_taken) or {}
                break
            except Failure as e:
                # A lost answer (WebDriver's proxy closing a connection) is asked for again.
                if attempt == 2:
                    raise
                self.retried.append(str(e))
                time.sleep(1)
        self.frames.extend(d.get("frames", []))
        seen = d.get("seen", [])
        self.seen_taken += len(seen)
        for k, v in seen:
            self.seen.setdefault(k, v)

    def _run(self):
        # Live between the others: its freshness is measured while it is on screen.
        views = ("history", "live", "devices", "live")
        i = 0
        while not self.stop_flag.wait(INTERACT_EVERY_S):
            try:
                self._switch(views[i % len(views)])
                self._drain()
            except Failure as e:
                self.errors.append(str(e))
                if len(self.errors) >= 5:
                    return
            i += 1

    def stop(self):
        """Stops switching, leaves the window on Live and takes the page's last records (once)."""
        if self.stop_flag.is_set():
            return
        self.stop_flag.set()
        self.thread.join(timeout=INTERACT_LIMIT_MS / 1000 + 2 * COMMAND_TIMEOUT_S)
        try:
            if self.switches and self.switches[-1].get("view") != "live":
                self._switch("live")
            self._drain()
        except Failure as e:
            self.errors.append(str(e))


def live_intervals(switches, end_ms):
    """When the Live view was on screen: from each switch to Live (once it showed) to the next
    switch."""
    out = []
    ordered = sorted((s for s in switches if s.get("at") is not None), key=lambda s: s["at"])
    for s, nxt in zip(ordered, ordered[1:] + [None]):
        if s["view"] == "live" and s.get("ms") is not None:
            out.append((s["at"] + s["ms"], nxt["at"] if nxt else end_ms))
    return out


def window_figures(probe, windows, received, stats, end_ms):
    """The probe's records per time window ({"normal": (t0, t1), ...}): frame gaps, view
    switches, WebDriver round trips, and Live-view freshness (cache row -> row on screen, for
    events that entered the cache while the Live view was on screen, and were seen in it
    before it was left). `received`: event_id -> when it entered the cache (ms)."""
    frames = sorted(probe.frames)
    gaps = [(b, b - a) for a, b in zip(frames, frames[1:])]
    live = live_intervals(probe.switches, end_ms)
    out = {"errors": probe.errors[:5], "error_count": len(probe.errors), "drains_retried": len(probe.retried),
           "rows_seen_in_live": len(probe.seen), "frames": len(frames)}
    for name, (t0, t1) in windows.items():
        if t0 is None or t1 is None:
            continue
        g = [d for t, d in gaps if t0 <= t < t1]
        sw = [s for s in probe.switches if s.get("at") is not None and t0 <= s["at"] < t1]
        fresh = []
        for eid, seen in probe.seen.items():
            r = received.get(eid)
            if r is None or not t0 <= r < t1:
                continue
            if any(a <= r and seen <= b for a, b in live):
                fresh.append((seen - r) / 1000)
        out[name] = {
            "frames": len(g) + (1 if g else 0),
            "fps": len(g) / ((t1 - t0) / 1000) if t1 > t0 else None,
            "frame_gap_ms": stats(g),
            "stalls_over_100ms": sum(1 for d in g if d > 100),
            "stalled_ms": sum(d for d in g if d > 100),
            "switches": {v: stats([s["ms"] for s in sw if s["view"] == v and s["ms"] is not None])
                         for v in VIEW_READY},
            "switches_timed_out": sum(1 for s in sw if s["ms"] is None),
            "round_trip_ms": stats([d for t, d in probe.round_trips if t0 <= t < t1]),
            "live_fresh_s": stats(fresh),
        }
    return out
