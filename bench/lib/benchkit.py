"""Helpers the Python benchmarks under bench/ share: logging and errors, the machine description,
/proc, the edge-node binary, nearest-rank statistics.

One copy, so that the benchmarks describe the machine and compute their figures the same way
and a fix reaches all of them. Each bench/*/run puts this directory on sys.path (from its own
__file__) and imports what it uses. Standard library only, like the scripts.
"""

import math
import os
import re
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
ANSI = re.compile(r"\x1b\[[0-9;]*m")


def log(msg):
    print(f"[bench] {msg}", file=sys.stderr, flush=True)


def exit_error(prog, msg):
    """Prints `prog`: error: `msg` and exits 1 (a script's die() is this with its own name)."""
    print(f"{prog}: error: {msg}", file=sys.stderr)
    sys.exit(1)


class Failure(Exception):
    """Something the benchmark needs did not run (exit 1)."""


# ---------------------------------------------------------------------------------------------
# The machine

def cpu_model():
    cpu = "unknown"
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return cpu


def repo_revision():
    """The repo's short commit, and whether tracked files differ from it."""
    rev = subprocess.run(["git", "-C", str(REPO), "rev-parse", "--short", "HEAD"],
                         capture_output=True, text=True).stdout.strip()
    dirty = subprocess.run(["git", "-C", str(REPO), "status", "--porcelain", "--untracked-files=no"],
                           capture_output=True, text=True).stdout.strip()
    return rev + (" + uncommitted changes" if dirty else "")


def proc_status_kb(pid, field):
    """A field of /proc/PID/status (VmRSS and VmHWM in kB, Threads), 0 when the process is gone."""
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


# ---------------------------------------------------------------------------------------------
# edge-node

def build_edge_node(cache):
    """cargo build --release of edge-node, into $CARGO_TARGET_DIR or else `cache`/target."""
    env = dict(os.environ)
    env.setdefault("CARGO_TARGET_DIR", str(cache / "target"))
    log(f"cargo build --release --locked -p edge-node (CARGO_TARGET_DIR={env['CARGO_TARGET_DIR']})")
    r = subprocess.run(["cargo", "build", "--release", "--locked", "-p", "edge-node"], cwd=REPO, env=env,
                       stdin=subprocess.DEVNULL)
    if r.returncode != 0:
        raise Failure("building edge-node failed (or pass --edge-node PATH)")
    return Path(env["CARGO_TARGET_DIR"]) / "release" / "edge-node"


def checked_executable(path):
    if not os.access(path, os.X_OK):
        raise Failure(f"{path} is not an executable")
    return path


# ---------------------------------------------------------------------------------------------
# Statistics

def percentile(values, p):
    """Nearest-rank percentile: the smallest value with at least p % of the values <= it."""
    v = sorted(values)
    return v[max(0, math.ceil(p / 100 * len(v)) - 1)] if v else None


def stats(values):
    return {"n": len(values), "p50": percentile(values, 50), "p95": percentile(values, 95),
            "max": max(values) if values else None, "min": min(values) if values else None}


def fmt_s(v):
    return "n/a" if v is None else f"{v:.3f}"
