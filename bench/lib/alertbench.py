"""What the two alert-latency benchmarks, bench/delivery/run and bench/e2e/run, share: the
generated clip and its truth, the local stack (tests/stack), edge-node's config, its stdout
lines and its stderr log, and the parts of their reports that read the same.

One copy, so that both measure the same scenario the same way. Where the two differ, the
caller says how: its own name (`bench`: the clip's cache directory, the config's first line),
and for the config its [delivery] table and the status topic. Standard library only.
"""

import datetime
import hashlib
import json
import os
import re
import subprocess
from pathlib import Path

from benchkit import ANSI, REPO, Failure, fmt_s, log

STACK = REPO / "tests" / "stack"
CACHE = Path(os.environ.get("MIM_CACHE") or Path.home() / ".cache" / "motion-in-motion")
STACK_DIR = Path(os.environ.get("MIM_STACK_DIR") or "/tmp/motion-in-motion-stack")

WIDTH, HEIGHT, FPS = 640, 480, 15
FIRST_ONSET_S = 3          # the box first appears at this media time ...
PERIOD_S = 8               # ... and again every PERIOD_S seconds ...
VISIBLE_S = 2              # ... for this long, moving 200 px/s to the right
BOX = 80                   # box side, pixels
BOX_Y = 200
DEFAULT_EVENTS = 22
EVENT_GAP_S = 2            # [detect] event_gap: the 6 s quiet between boxes ends each event
MATCH_WINDOW_S = 1.0       # an event's trigger frame is at most this long after its truth onset
FINISH_SLACK_S = 120       # after --duration, time edge-node may take to finish and deliver
ENCODE = ["-c:v", "libx264", "-preset", "veryfast", "-profile:v", "high", "-bf", "0", "-g", "30",
          "-b:v", "1500k", "-maxrate", "2000k", "-bufsize", "2000k", "-pix_fmt", "yuv420p",
          "-f", "mp4"]
KINDS = ("motion_started", "clip_ready")
# `camera` line statuses that mean "the input opened": the contract says "found"; edge-node's
# CameraState (motion-event/src/status.rs) serializes it as "ok".
FOUND = ("found", "ok")


# ---------------------------------------------------------------------------------------------
# The clip

def clip_spec(events):
    """The lavfi graph, its duration and the truth onsets (media seconds, exact frame times)."""
    duration = FIRST_ONSET_S + events * PERIOD_S
    onsets = [FIRST_ONSET_S + i * PERIOD_S for i in range(events)]
    speed = 200  # px/s: x goes 40 .. 440 in VISIBLE_S
    # A dim, noisy scene (the `noise` scenario's dimmed bars, lighter noise) and the
    # `object` scenario's box: light above, dark below, like a person in a light shirt.
    # Frame times are k/15 exactly, so mod(t-3, 8) is exactly 0 on each onset frame.
    graph = (
        f"smptebars=s={WIDTH}x{HEIGHT}:r={FPS}:d={duration},lutyuv=y='val*0.4'[bg];"
        f"color=c=black:s={BOX}x{BOX}:r={FPS}:d={duration},format=yuv420p,"
        f"geq=lum='if(lt(Y,{BOX // 2}),235,16)':cb=128:cr=128[box];"
        f"[bg][box]overlay=x='40+{speed}*mod(t-{FIRST_ONSET_S},{PERIOD_S})':y={BOX_Y}:"
        f"enable='gte(t,{FIRST_ONSET_S})*lt(mod(t-{FIRST_ONSET_S},{PERIOD_S}),{VISIBLE_S})',"
        f"noise=alls=12:allf=t,format=yuv420p[out]"
    )
    return {"width": WIDTH, "height": HEIGHT, "fps": FPS, "duration_s": duration, "filter": graph,
            "encode": ENCODE, "truth": [[o, o + VISIBLE_S] for o in onsets]}


def ffprobe_json(args):
    out = subprocess.run(["ffprobe", "-v", "error", *args, "-of", "json"], capture_output=True,
                         text=True, stdin=subprocess.DEVNULL)
    if out.returncode != 0:
        raise Failure(f"ffprobe {' '.join(args)} failed: {out.stderr.strip()[-500:]}")
    return json.loads(out.stdout)


def visible_intervals(path):
    """When the box is in the frame, read back from the encoded clip: the 90th percentile of luma
    (signalstats YHIGH) in the 40-line strip of the box's light half; the box covers 1/8 of it."""
    movie = str(path).replace("\\", "\\\\").replace(":", "\\:").replace("'", "\\'")
    data = ffprobe_json(["-f", "lavfi", "-i",
                         f"movie='{movie}',crop={WIDTH}:{BOX // 2}:0:{BOX_Y},signalstats",
                         "-show_entries", "frame=pts_time:frame_tags=lavfi.signalstats.YHIGH"])
    intervals, start, last = [], None, None
    for fr in data.get("frames", []):
        t = float(fr["pts_time"])
        on = float(fr["tags"]["lavfi.signalstats.YHIGH"]) > 160
        if on and start is None:
            start = t
        if not on and start is not None:
            intervals.append([start, last + 1 / FPS])
            start = None
        last = t
    if start is not None:
        intervals.append([start, last + 1 / FPS])
    return intervals


def ensure_clip(events, bench):
    """The clip and its truth, generated once into CACHE/bench-clips/`bench`-<hash of the spec>/
    (`bench`: the benchmark's directory name under bench/, which made it)."""
    spec = clip_spec(events)
    digest = hashlib.sha256(json.dumps(spec, sort_keys=True).encode()).hexdigest()[:12]
    clip_dir = CACHE / "bench-clips" / f"{bench}-{digest}"
    clip, truth_file = clip_dir / "clip.mp4", clip_dir / "truth.json"
    if clip.exists() and truth_file.exists():
        return clip, json.loads(truth_file.read_text())
    clip_dir.mkdir(parents=True, exist_ok=True)
    tmp = clip_dir / ".clip.mp4.partial"
    log(f"generating {clip} ({spec['duration_s']} s, {events} events; ~{spec['duration_s'] // 10} s)")
    r = subprocess.run(["ffmpeg", "-v", "error", "-y", "-filter_complex", spec["filter"], "-map", "[out]",
                        "-t", str(spec["duration_s"]), *ENCODE, str(tmp)], stdin=subprocess.DEVNULL)
    if r.returncode != 0:
        raise Failure(f"ffmpeg could not generate the clip (exit {r.returncode})")
    s = ffprobe_json(["-count_packets", "-select_streams", "v:0", "-show_entries",
                      "stream=nb_read_packets,width,height,r_frame_rate", str(tmp)])["streams"][0]
    want = (spec["duration_s"] * FPS, WIDTH, HEIGHT, f"{FPS}/1")
    got = (int(s["nb_read_packets"]), int(s["width"]), int(s["height"]), s["r_frame_rate"])
    if got != want:
        tmp.unlink()
        raise Failure(f"ffmpeg made frames/width/height/rate {got}, expected {want}")
    seen = visible_intervals(tmp)
    if len(seen) != len(spec["truth"]) or any(abs(a - b) > 1e-3 for s_, t in zip(seen, spec["truth"])
                                               for a, b in zip(s_, t)):
        tmp.unlink()
        raise Failure(f"the box is visible at {seen}, expected {spec['truth']}")
    tmp.rename(clip)
    truth = {**{k: v for k, v in spec.items() if k != "encode"},
             "about": f"truth of clip.mp4, made by bench/{bench}/run: [start_s, end_s] of each "
                      "appearance of the box (media time); checked on the encoded clip",
             "frames": got[0], "events": events}
    truth_file.write_text(json.dumps(truth, indent=2) + "\n")
    return clip, truth


# ---------------------------------------------------------------------------------------------
# The stack

def stack_up():
    """Starts the stack (idempotent); returns whether it was already up, and its settings."""
    was_up = subprocess.run([str(STACK / "status")], capture_output=True,
                            stdin=subprocess.DEVNULL).returncode == 0
    log("stack: already up" if was_up else "stack: starting (tests/stack/up)")
    r = subprocess.run([str(STACK / "up")], capture_output=True, text=True, stdin=subprocess.DEVNULL)
    if r.returncode != 0:
        if not was_up:
            stack_down()
        raise Failure(f"tests/stack/up failed:\n{(r.stdout + r.stderr).strip()[-2000:]}")
    env = {}
    for line in (STACK_DIR / "stack.env").read_text().splitlines():
        if line.startswith("export ") and "=" in line:
            k, v = line[len("export "):].split("=", 1)
            env[k] = v
    return was_up, env


def s3_get(url, stack_env):
    """GETs an object of the stack's private bucket, signed with the desktop app's read-only
    key (curl's SigV4): (HTTP status, body); status 0 when no response came."""
    user = f"{stack_env['MIM_S3_READ_ACCESS_KEY']}:{stack_env['MIM_S3_READ_SECRET_KEY']}"
    r = subprocess.run(["curl", "-sS", "--max-time", "30", "-w", "\n%{http_code}",
                        "--aws-sigv4", f"aws:amz:{stack_env['MIM_S3_REGION']}:s3", "--user", user, url],
                       capture_output=True, stdin=subprocess.DEVNULL)
    body, _, code = r.stdout.rpartition(b"\n")
    return (int(code) if code.strip().isdigit() else 0), body


def stack_down():
    log("stack: stopping it again (tests/stack/down), as it was down before")
    r = subprocess.run([str(STACK / "down")], capture_output=True, text=True, stdin=subprocess.DEVNULL)
    if r.returncode != 0:
        log(f"tests/stack/down failed: {(r.stdout + r.stderr).strip()[-500:]}")


# ---------------------------------------------------------------------------------------------
# edge-node: its config, its stdout lines

def toml_str(s):
    return json.dumps(str(s))  # a JSON string is a valid TOML basic string


def write_node_config(work, clip, stack_env, device, camera, bench, delivery=None, status_topic=False):
    """`work`/edge-node.toml: the clip, event_gap, a spool in `work`, the stack's Kafka and S3.
    `delivery`: a [delivery] table ({key: number}), none if None; `status_topic`: whether to
    name the stack's status topic under [kafka]."""
    config = work / "edge-node.toml"
    text = (f"# written by bench/{bench}/run\n"
            f"[device]\nid = {toml_str(device)}\nname = {toml_str(camera)}\n"
            f"[capture]\ninput = {toml_str(clip)}\n"
            f"[detect]\nevent_gap = {EVENT_GAP_S}\n"
            f"[record]\nspool_dir = {toml_str(work / 'spool')}\n")
    if delivery is not None:
        text += "[delivery]\n" + "".join(f"{k} = {v}\n" for k, v in delivery.items())
    text += (f"[kafka]\nbootstrap_servers = {toml_str(stack_env['MIM_KAFKA_BOOTSTRAP'])}\n"
             f"topic = {toml_str(stack_env['MIM_KAFKA_TOPIC'])}\n")
    if status_topic:
        text += f"status_topic = {toml_str(stack_env['MIM_KAFKA_STATUS_TOPIC'])}\n"
    text += (f"[s3]\nbucket = {toml_str(stack_env['MIM_S3_BUCKET'])}\n"
             f"endpoint = {toml_str(stack_env['MIM_S3_ENDPOINT'])}\n"
             f"region = {toml_str(stack_env['MIM_S3_REGION'])}\n"
             f"access_key_id = {toml_str(stack_env['MIM_S3_ACCESS_KEY'])}\n")
    config.write_text(text)
    return config


def json_object(text):
    """A stdout line of edge-node as a JSON object, None when it is not one."""
    try:
        obj = json.loads(text)
    except ValueError:
        return None
    return obj if isinstance(obj, dict) else None


def camera_found(obj):
    return obj.get("type") == "camera" and obj.get("status") in FOUND


def truth_onset(at, onsets):
    """The truth onset an event triggered at media time `at` belongs to, None if none."""
    return max((o for o in onsets if o - 0.5 / FPS <= at <= o + MATCH_WINDOW_S), default=None)


def node_failures(run, a):
    """What went wrong with the edge-node run itself."""
    failures = []
    if run["timed_out"]:
        failures.append(f"edge-node did not exit within --duration + {FINISH_SLACK_S} s")
    elif run["exit"] != 0:
        failures.append(f"edge-node exited with {run['exit']}")
    if not a["found_lines"]:
        failures.append('edge-node printed no {"type":"camera","status":"found"|"ok","unix_ms":N} line')
    return failures


# ---------------------------------------------------------------------------------------------
# edge-node's stderr log

# time, level, the spans (`event{event_id=… step=1}:`), the target (`edge_node::upload:`), message
LOG_LINE = re.compile(
    r"^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?)Z\s+\w+\s+(?:\w+\{[^}]*\}:)*\s*[\w:]+?:\s+(.*)$"
)
UUID = r"([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})(?:-\d+)?\.(jpg|mp4)\b"


def log_ms(stamp):
    return datetime.datetime.fromisoformat(stamp).replace(tzinfo=datetime.timezone.utc).timestamp() * 1000


def parse_node_log(path):
    """Best effort: the times edge-node's stderr log (tracing, UTC) gives for `event started at_s=`,
    `spooled file=.../ID.jpg|ID-N.mp4` and `uploaded key=".../ID.jpg|mp4"`. Not part of the
    contract: if the format changes, the breakdown is empty and nothing else is affected."""
    out = {"started": [], "files": {}}
    try:
        text = Path(path).read_text(errors="replace")
    except OSError:
        return out
    for line in text.splitlines():
        m = LOG_LINE.match(ANSI.sub("", line))
        if not m:
            continue
        try:
            ms = log_ms(m.group(1))
        except ValueError:
            continue
        msg = m.group(2)
        if msg.startswith("event started"):
            at = re.search(r"\bat_s=([0-9.]+)", msg)
            if at:
                out["started"].append((ms, float(at.group(1))))
            continue
        for verb, field in (("spooled", "file="), ("uploaded", "key=")):
            if msg.startswith(verb) and field in msg:
                f = re.search(UUID, msg.split(field, 1)[1])
                if f:
                    kind = "snapshot" if f.group(2) == "jpg" else "clip"
                    out["files"].setdefault((f.group(1), verb, kind), ms)
    return out


# ---------------------------------------------------------------------------------------------
# Report

def verdict(s, target_s, min_n, what):
    """Whether the p95 of `s` (stats()) is within target_s, as (met, text); fewer than min_n
    measured `what` is not met whatever their p95."""
    p95 = s["p95"]
    if s["n"] < min_n:
        return False, f"NOT MET: only {s['n']} {what} measured (need >= {min_n})" + \
            ("" if p95 is None else f"; p95 {p95:.3f} s")
    if p95 <= target_s:
        return True, f"MET (p95 {p95:.3f} s <= {target_s:g} s over {s['n']} events)"
    return False, f"NOT MET (p95 {p95:.3f} s > {target_s:g} s over {s['n']} events)"


def describe_clip(clip, truth):
    return (f"clip    : {clip} ({truth['duration_s']} s, {WIDTH}x{HEIGHT}@{FPS} H.264, "
            f"{len(truth['truth'])} appearances of an {BOX}x{BOX} box, {VISIBLE_S} s each, every "
            f"{PERIOD_S} s from {FIRST_ONSET_S} s; event_gap = {EVENT_GAP_S})")


def print_stats_table(rows, width):
    """`rows`: (name, stats()) for a row, (heading, None) for a heading, None for a blank line."""
    print(f"{'seconds after the first frame with motion':<{width}} {'n':>3} {'p50':>7} {'p95':>7} {'max':>7}")
    for row in rows:
        if row is None:
            print()
            continue
        name, s = row
        if s is None:
            print(name)
            continue
        print(f"{name:<{width}} {s['n']:>3} {fmt_s(s['p50']):>7} {fmt_s(s['p95']):>7} {fmt_s(s['max']):>7}")


def print_failures(failures):
    if failures:
        print(f"FAILED to run cleanly ({len(failures)} problem(s)):")
        for f in failures[:30]:
            print(f"  - {f}")
        if len(failures) > 30:
            print(f"  ... and {len(failures) - 30} more (see --json)")
