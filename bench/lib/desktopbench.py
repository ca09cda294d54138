"""What the benchmarks that run the desktop app's service share (bench/e2e/run, bench/fleet/run):
their processes, a private desktop (Xvfb, a session bus of its own, dunst, dbus-monitor reading
every Notify call), the ksqlDB double with `motion-in-motion ksql apply`, and `motion-in-motion
sync --notify` following ksqlDB (the double) or Kafka directly, started and waited for until it
has caught up.

One copy, so that both measure the desktop the same way. Standard library only.
"""

import datetime
import json
import os
import platform
import re
import secrets
import signal
import sqlite3
import subprocess
import threading
import time
import urllib.request
from pathlib import Path

from alertbench import CACHE
from benchkit import REPO, Failure, cpu_model, log, repo_revision

TARGET_DIR = Path(os.environ.get("CARGO_TARGET_DIR") or CACHE / "target")

START_TIMEOUT_S = 60       # each component has this long to come up
BACKFILL_TIMEOUT_S = 180   # sync must catch up with the whole topic within this
DESKTOP_TOOLS = ("Xvfb", "dbus-daemon", "dbus-monitor", "dunst", "dunstctl", "notify-send")

# A session bus of our own: the session policy, monitoring allowed, and no service directories,
# so nothing is D-Bus activated behind our back (the file tests/support/desktop.rs uses too).
BUS_CONFIG = (REPO / "tests" / "support" / "session-bus.conf").read_text()


def dunstrc(history_length=1000):
    """dunst's config: popups expire after 2 s, no limit on those shown at once, a history of
    `history_length` (dunst drops the oldest beyond it)."""
    return f"""[global]
    markup = full
    history_length = {history_length}
    notification_limit = 0
    sort = yes
[urgency_low]
    timeout = 2
[urgency_normal]
    timeout = 2
[urgency_critical]
    timeout = 2
"""


DUNSTRC = dunstrc()
NOTIFY_MATCH = "type='method_call',interface='org.freedesktop.Notifications',member='Notify'"


def now_ms():
    return time.time() * 1000


class Interrupted(BaseException):
    """SIGTERM or SIGHUP: clean up as for Ctrl-C."""


def on_signal(signum, frame):
    raise Interrupted(signal.Signals(signum).name)


def install_signal_handlers():
    """Ctrl-C even when started in the background of a script (which leaves SIGINT ignored);
    SIGTERM and SIGHUP raise Interrupted."""
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGHUP, on_signal)


def ignore_signals():
    """While cleaning up: nothing interrupts it."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)


# ---------------------------------------------------------------------------------------------
# Processes: each in a session (and so a process group) of its own, stopped as a group.

class Procs:
    def __init__(self):
        self.items = []  # (name, Popen)

    def start(self, name, cmd, **kw):
        kw.setdefault("stdin", subprocess.DEVNULL)
        try:
            p = subprocess.Popen(cmd, start_new_session=True, **kw)
        except OSError as e:
            raise Failure(f"cannot start {name} ({cmd[0]}): {e}") from e
        self.items.append((name, p))
        return p

    @staticmethod
    def _exited(p):
        """Whether the leader exited, without reaping it: while it is a zombie its pid, and so
        its group id, cannot be reused, so the group can still be signalled safely."""
        if p.returncode is not None:
            return True
        try:
            info = os.waitid(os.P_PID, p.pid, os.WEXITED | os.WNOHANG | os.WNOWAIT)
        except ChildProcessError:
            return True
        return info is not None

    @staticmethod
    def _killpg(pid, sig):
        try:
            os.killpg(pid, sig)
        except (ProcessLookupError, PermissionError):
            pass

    def stop(self, p, grace_s=3.0):
        if p.returncode is None:
            self._killpg(p.pid, signal.SIGTERM)
            deadline = time.monotonic() + grace_s
            while not self._exited(p) and time.monotonic() < deadline:
                time.sleep(0.05)
        # Whatever is left of the group (the leader may be gone, its children not).
        self._killpg(p.pid, signal.SIGKILL)
        try:
            p.wait(timeout=10)
        except subprocess.TimeoutExpired:
            pass

    def stop_all(self):
        for name, p in reversed(self.items):
            self.stop(p)
        self.items.clear()

    def dead(self):
        """Names (and exit statuses) of the ones that exited, without reaping them."""
        out = []
        for n, p in self.items:
            if p.returncode is not None:
                out.append((n, p.returncode))
                continue
            try:
                info = os.waitid(os.P_PID, p.pid, os.WEXITED | os.WNOHANG | os.WNOWAIT)
            except ChildProcessError:
                info = None
            if info is not None:
                out.append((n, info.si_status))
        return out


def first_line(p, what, timeout_s=START_TIMEOUT_S):
    """The first stdout line of `p` (how Xvfb, dbus-daemon and the double tell where they are);
    the pipe stays open."""
    box = []
    t = threading.Thread(target=lambda: box.append(p.stdout.readline()), daemon=True)
    t.start()
    t.join(timeout_s)
    line = box[0].decode(errors="replace").strip() if box else ""
    if not line:
        raise Failure(f"{what} did not say where it is within {timeout_s} s (exit {p.poll()})")
    return line


def wait_until(what, timeout_s, check, interval_s=0.1):
    deadline = time.monotonic() + timeout_s
    while True:
        v = check()
        if v:
            return v
        if time.monotonic() >= deadline:
            raise Failure(f"timed out after {timeout_s:g} s waiting for {what}")
        time.sleep(interval_s)


def clean_env(**extra):
    """This environment without settings of ours that would redirect a child."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("EDGE_NODE_", "MIM_", "DBUS_SESSION_BUS_ADDRESS", "WAYLAND_DISPLAY",
                                "RUST_LOG"))}
    env.update(extra)
    return env


# ---------------------------------------------------------------------------------------------
# The binaries

BINARIES = ("edge-node", "motion-in-motion", "ksqldb-double")


def binaries(bin_dir, profile, build, names=BINARIES):
    """`names` from `bin_dir`, after `cargo build --bins -p edge-node -p motion-in-motion -p
    motion-e2e [--release]` in TARGET_DIR when `build`."""
    if build:
        cmd = ["cargo", "build", "--bins", "-p", "edge-node", "-p", "motion-in-motion", "-p", "motion-e2e"]
        if profile == "release":
            cmd.append("--release")
        env = dict(os.environ, CARGO_TARGET_DIR=str(TARGET_DIR))
        log(f"{' '.join(cmd)} (CARGO_TARGET_DIR={TARGET_DIR})")
        if subprocess.run(cmd, cwd=REPO, env=env, stdin=subprocess.DEVNULL).returncode != 0:
            raise Failure("the build failed (use --no-build to run the binaries as they are)")
    out = {}
    for name in names:
        path = bin_dir / name
        if not os.access(path, os.X_OK):
            raise Failure(f"{path} is missing (build it, or drop --no-build)")
        out[name] = path
    return out


def machine_info(bins):
    """The machine, the repo revision, when each binary was built, dunst's and ffmpeg's versions."""
    os_name = platform.system()
    try:
        for line in open("/etc/os-release"):
            if line.startswith("PRETTY_NAME="):
                os_name = line.split("=", 1)[1].strip().strip('"')
    except OSError:
        pass

    def version(args):
        try:
            r = subprocess.run(args, capture_output=True, text=True, stdin=subprocess.DEVNULL, timeout=10)
        except (OSError, subprocess.TimeoutExpired):
            return "unknown"
        return ((r.stdout or r.stderr).strip().splitlines() or ["unknown"])[0]

    built = {n: datetime.datetime.fromtimestamp(p.stat().st_mtime).strftime("%Y-%m-%d %H:%M")
             + ("" if p.parent.name in ("debug", "release") and p.name == n else f" ({p})")
             for n, p in bins.items()}
    if "release" in bins["edge-node"].parts:
        built["edge-node"] += " (release)"
    return {"cpu_model": cpu_model(), "cores": os.cpu_count(), "os": os_name, "kernel": platform.release(),
            "python": platform.python_version(), "repo_revision": repo_revision(),
            "binaries": {n: str(p) for n, p in bins.items()}, "built": built,
            "dunst": version(["dunst", "-v"]), "ffmpeg": " ".join(version(["ffmpeg", "-version"]).split()[:3])}


# ---------------------------------------------------------------------------------------------
# The desktop: Xvfb, a private session bus, dunst, and dbus-monitor recording Notify calls

class Monitor:
    """Reads dbus-monitor's output: one record per Notify call with the time dbus-monitor got it
    (`time=`, its gettimeofday), the time the script read it, and the call's arguments
    (`replaces_id`: the notification it replaces, 0 for a new one)."""

    HEADER = re.compile(r"^method call time=(\d+\.\d+) ")
    STRING = re.compile(r'^   string "(.*)"$')
    UINT32 = re.compile(r"^   uint32 (\d+)$")
    IMAGE = re.compile(r'string "image[-_]path"\s*\n\s*variant\s+string "([^"\n]*)"')

    def __init__(self, proc):
        self.proc = proc
        self.calls = []
        self.ready = threading.Event()  # monitoring is set up (its NameLost signal arrived)
        self.lock = threading.Lock()
        self.thread = threading.Thread(target=self._read, daemon=True)
        self.thread.start()

    def _read(self):
        cur = None
        for raw in self.proc.stdout:
            line = raw.decode(errors="replace").rstrip("\n")
            if line.startswith("signal ") and "member=NameLost" in line:
                self.ready.set()
            m = self.HEADER.match(line)
            if m and "member=Notify" in line:
                cur = {"time_ms": float(m.group(1)) * 1000, "lines": []}
                continue
            if cur is None:
                continue
            cur["lines"].append(line)
            # expire_timeout, the last argument, at the top level: the call is complete.
            if line.startswith("   int32 "):
                text = "\n".join(cur["lines"])
                strings = [s.group(1) for s in map(self.STRING.match, cur["lines"]) if s]
                ids = [int(u.group(1)) for u in map(self.UINT32.match, cur["lines"]) if u]
                img = self.IMAGE.search(text)
                call = {"time_ms": cur["time_ms"], "read_ms": now_ms(),
                        "app_name": strings[0] if strings else None,
                        "replaces_id": ids[0] if ids else None,
                        "summary": strings[2] if len(strings) > 2 else None,
                        "body": strings[3] if len(strings) > 3 else None,
                        "image_path": img.group(1) if img else None}
                with self.lock:
                    self.calls.append(call)
                cur = None

    def snapshot(self):
        with self.lock:
            return list(self.calls)


def start_desktop(procs, work, history_length=1000):
    """Xvfb, a private session bus, dunst (history of `history_length`) and dbus-monitor, in
    `work`; a probe notification must go through before it returns. Returns the display, the
    bus address, the environment for the desktop's clients and the Monitor."""
    x = procs.start("Xvfb", ["Xvfb", "-displayfd", "1", "-screen", "0", "1280x800x24", "-nolisten", "tcp"],
                    stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    display = ":" + first_line(x, "Xvfb")
    (work / "bus").mkdir()
    conf = work / "session-bus.conf"
    conf.write_text(BUS_CONFIG.replace("LISTEN", f"unix:dir={work / 'bus'}"))
    bus = procs.start("dbus-daemon", ["dbus-daemon", f"--config-file={conf}", "--nofork", "--print-address=1"],
                      stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    address = first_line(bus, "dbus-daemon")
    (work / "dunstrc").write_text(dunstrc(history_length))
    env = clean_env(DISPLAY=display, DBUS_SESSION_BUS_ADDRESS=address)
    with open(work / "dunst.log", "wb") as err:
        procs.start("dunst", ["dunst", "-config", str(work / "dunstrc")], stdout=subprocess.DEVNULL,
                    stderr=err, env=env)
    wait_until("dunst on the private bus", START_TIMEOUT_S,
               lambda: subprocess.run(["dunstctl", "is-paused"], env=env, capture_output=True,
                                      stdin=subprocess.DEVNULL).returncode == 0)
    mon = procs.start("dbus-monitor", ["dbus-monitor", "--address", address, NOTIFY_MATCH],
                      stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    monitor = Monitor(mon)
    if not monitor.ready.wait(START_TIMEOUT_S):
        raise Failure("dbus-monitor did not start monitoring the private bus")
    # A probe through the whole desktop path: notify-send returns once dunst answered, and the
    # monitor must have seen the call.
    probe = f"bench probe {secrets.token_hex(4)}"
    r = subprocess.run(["notify-send", probe, "probe"], env=env, capture_output=True, text=True,
                       stdin=subprocess.DEVNULL, timeout=30)
    if r.returncode != 0:
        raise Failure(f"notify-send to dunst failed: {r.stderr.strip()}")
    wait_until("dbus-monitor to see the probe notification", 10,
               lambda: any(c["summary"] == probe for c in monitor.snapshot()))
    return {"display": display, "bus": address, "env": env, "monitor": monitor, "probe": probe}


def dunst_history(env):
    """Closes every open popup (they move to the history), then returns the history's entries
    as {field: value}."""
    subprocess.run(["dunstctl", "close-all"], env=env, capture_output=True, stdin=subprocess.DEVNULL)
    time.sleep(0.3)
    r = subprocess.run(["dunstctl", "history"], env=env, capture_output=True, text=True,
                       stdin=subprocess.DEVNULL)
    if r.returncode != 0:
        return None
    try:
        data = json.loads(r.stdout)["data"][0]
    except (ValueError, KeyError, IndexError, TypeError):
        return None
    return [{k: v.get("data") for k, v in n.items() if isinstance(v, dict)} for n in data]


# ---------------------------------------------------------------------------------------------
# ksqlDB double and the desktop app's service

KSQL_DIR = REPO / "ksql"
# The topics ksql/*.sql name (the stack's, tests/stack/lib.sh).
KSQL_TOPICS = {"events": "ksql_motion_events", "status": "ksql_device_status"}


def ksql_statements(work, topic, status_topic):
    """`work`/ksql/: the statements of ksql/ over other topics (for `ksql apply --dir`; the double
    refuses a stream over another topic than the one it was told to serve)."""
    out = work / "ksql"
    out.mkdir()
    for f in sorted(KSQL_DIR.glob("*.sql")):
        text = f.read_text()
        for old, new in ((KSQL_TOPICS["events"], topic), (KSQL_TOPICS["status"], status_topic)):
            text = text.replace(f"KAFKA_TOPIC = '{old}'", f"KAFKA_TOPIC = '{new}'")
        (out / f.name).write_text(text)
    return out


def start_double(procs, bins, work, bootstrap, topic, push_start_delay=None, status_topic=None,
                 ksql_dir=None):
    """`ksqldb-double --no-streams` on `topic` (and `status_topic`: the double's default, the
    stack's, when None), then `motion-in-motion ksql apply` (of `ksql_dir` when given, else the
    built-in statements) creates the streams on it. Returns its URL and apply's output."""
    # Without --push-start-delay the double's default stands: what a real server shows (3 s).
    delay = [] if push_start_delay is None else ["--push-start-delay", str(push_start_delay)]
    status = [] if status_topic is None else ["--status-topic", status_topic]
    with open(work / "ksqldb-double.log", "wb") as err:
        p = procs.start("ksqldb-double", [str(bins["ksqldb-double"]), "--port", "0", "--no-streams",
                                          "--bootstrap", bootstrap, "--topic", topic, *status, *delay],
                        stdout=subprocess.PIPE, stderr=err, env=clean_env())
    port = first_line(p, "ksqldb-double")
    if not port.isdigit():
        raise Failure(f"ksqldb-double's first line is not a port: {port!r}")
    url = f"http://127.0.0.1:{port}"
    apply_dir = [] if ksql_dir is None else ["--dir", str(ksql_dir)]
    r = subprocess.run([str(bins["motion-in-motion"]), "ksql", "apply", "--ksqldb-url", url, *apply_dir],
                       capture_output=True, text=True, stdin=subprocess.DEVNULL, env=clean_env(), timeout=120)
    (work / "ksql-apply.log").write_text(r.stdout + r.stderr)
    if r.returncode != 0:
        raise Failure(f"motion-in-motion ksql apply failed (exit {r.returncode}):\n{(r.stdout + r.stderr).strip()[-1500:]}")
    return url, r.stdout.strip()


SYNC_RUST_LOG = "motion_in_motion_lib=debug,ksqldb=debug"
BENCH_SETTINGS = {"alerts": {"hold_off_s": 0, "sound": False}}


# The desktop app's read-only S3 settings (its --s3-read-* flags) in tests/stack's stack.env: the
# bucket is private, so snapshots and clips are fetched through URLs the app presigns with them.
S3_READ_VARS = ("MIM_S3_READ_BUCKET", "MIM_S3_READ_ENDPOINT", "MIM_S3_READ_REGION", "MIM_S3_READ_KEY",
                "MIM_S3_READ_SECRET")


def s3_read_env(stack_env):
    """The app's read-only S3 settings from the stack's environment (clean_env drops MIM_*)."""
    return {k: stack_env[k] for k in S3_READ_VARS if k in stack_env}


def start_sync(procs, bins, work, desktop, *, ksqldb_url=None, kafka=None, rust_log=SYNC_RUST_LOG,
               settings=BENCH_SETTINGS, s3_read=None):
    """`motion-in-motion sync --notify` on the private desktop, with `settings` as its
    settings.json (default: every event pops up, no hold-off, silently: no audio device here),
    the cache `work`/cache.sqlite and its log `work`/sync.log, following either the ksqlDB at
    `ksqldb_url` or Kafka directly (`kafka`: {"bootstrap", "topic", "status_topic"}); `s3_read`:
    its read-only S3 settings (s3_read_env), for snapshots from a private bucket.

    Returns once it follows the stream and has caught up with it (wait_caught_up):
    (Popen, the cache's path, the log's path)."""
    source = app_source_args(ksqldb_url, kafka)
    config_dir, db = work / "config", work / "cache.sqlite"
    config_dir.mkdir()
    (config_dir / "settings.json").write_text(json.dumps(settings) + "\n")
    (work / "tmp").mkdir()
    env = dict(desktop["env"], RUST_LOG=rust_log, NO_COLOR="1", TMPDIR=str(work / "tmp"), **(s3_read or {}))
    log_path = work / "sync.log"
    with open(log_path, "wb") as err:
        p = procs.start("motion-in-motion sync", [str(bins["motion-in-motion"]), "sync", "--notify",
                                                  *source, "--db", str(db),
                                                  "--config-dir", str(config_dir)],
                        stdout=subprocess.DEVNULL, stderr=err, env=env)
    wait_caught_up("motion-in-motion sync", p, log_path, db, ksqldb_url)
    return p, db, log_path


def app_source_args(ksqldb_url=None, kafka=None):
    """The app's flags for following either the ksqlDB at `ksqldb_url` or Kafka directly."""
    if (ksqldb_url is None) == (kafka is None):
        raise ValueError("the app follows either ksqldb_url or kafka")
    if ksqldb_url is not None:
        return ["--ksqldb-url", ksqldb_url]
    return ["--kafka-bootstrap", kafka["bootstrap"], "--topic", kafka["topic"],
            "--status-topic", kafka["status_topic"]]


def wait_caught_up(name, p, log_path, db, ksqldb_url):
    """Until the app (`p`, logging to `log_path`, caching into `db`) follows its stream and has
    caught up with it: with ksqlDB, its push query runs, the double's push query consumes (after
    its push-start delay), and the cache's row count held for 1 s (the push query reads the
    whole topic first, on an empty cache); with Kafka, its partitions are assigned (`kafka
    source assigned`) and the row count held for 1 s."""
    def seen(text):
        if p.poll() is not None:
            raise Failure(f"{name} exited with {p.returncode}:\n"
                          + log_path.read_text(errors="replace")[-1500:])
        return text in log_path.read_text(errors="replace")

    if ksqldb_url is not None:
        wait_until(f"{name}'s push query ('push query running' in its log)", START_TIMEOUT_S,
                   lambda: seen("push query running"))
        # The push query reads the topic from its start (it is its own backfill) once the double's
        # push-start delay is over: wait for that, then until the cache stops growing.
        log(f"{name}: push query running; waiting for it to consume and catch up with the topic")

        def consuming():
            with urllib.request.urlopen(f"{ksqldb_url}/test-double/stats", timeout=10) as r:
                return json.load(r).get("push_queries_consuming", 0) >= 1
        wait_until("the double's push query to consume", BACKFILL_TIMEOUT_S, consuming, interval_s=0.25)
    else:
        wait_until(f"{name}'s Kafka source ('kafka source assigned' in its log)", START_TIMEOUT_S,
                   lambda: seen("kafka source assigned"))
        log(f"{name}: Kafka partitions assigned; waiting for it to catch up with the topic")
    counts = []

    def settled():
        seen("")
        try:
            with sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=5) as c:
                counts.append(c.execute("SELECT COUNT(*) FROM events").fetchone()[0])
        except sqlite3.Error:
            counts.append(-1)
        return len(counts) >= 5 and counts[-1] >= 0 and len(set(counts[-5:])) == 1
    wait_until(f"{name} to catch up with the topic (cache rows stable for 1 s)", BACKFILL_TIMEOUT_S,
               settled, interval_s=0.25)
