"""What the default suggester costs at start: time to the first suggestion, per-post time,
and the memory of a running demo server with the suggester loaded.

Run: .venv/bin/python bench/suggest_start.py [--suggester auto|lexicon] [--runs 3]

1. In a new Python process (``--runs`` times): import ``compass.suggest``, build
   ``default_suggester()`` and suggest for one post; prints the seconds to that first answer,
   then the median time per post over 50 more, and the process's peak RSS.
2. Starts ``main.py serve --demo --no-worker`` on a free loopback port with a scratch
   ``POISE_VAR_DIR`` (and the given ``POISE_SUGGESTER``), waits for ``/healthz``, then for the
   background warm-up to finish (RSS steady for 3 s), and prints its resident and peak
   memory (``VmRSS`` / ``VmHWM`` from /proc). Linux only.
"""

from __future__ import annotations

import argparse
import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

PROBE = r"""
import resource, statistics, sys, time
started = time.perf_counter()
from compass.suggest import default_suggester
suggester = default_suggester()
suggester.suggest("Our baristas explain why a cooler brew tastes sweeter")
first = time.perf_counter() - started
texts = [f"Post {i}: tag a friend who would love our new {i} flavour" for i in range(50)]
times = []
for text in texts:
    t = time.perf_counter(); suggester.suggest(text); times.append(time.perf_counter() - t)
rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print(f"{type(suggester).__name__} {first:.2f} {statistics.median(times) * 1000:.1f} {rss:.0f}")
"""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _status(pid: int) -> dict[str, int]:
    out = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, value = line.partition(":")
        if key in ("VmRSS", "VmHWM"):
            out[key] = int(value.split()[0]) // 1024
    return out


def probe(runs: int, env: dict[str, str]) -> None:
    for _ in range(runs):
        line = subprocess.run([sys.executable, "-c", PROBE], cwd=ROOT, env=env, check=True,
                              capture_output=True, text=True).stdout.split()
        print(f"new process: {line[0]}: first suggestion after {line[1]} s (imports included), "
              f"then {line[2]} ms per post; peak RSS {line[3]} MB")


def server(env: dict[str, str]) -> None:
    port = _free_port()
    with tempfile.TemporaryDirectory() as var:
        env = {**env, "POISE_VAR_DIR": var, "POISE_DEMO_PLATFORM_PORT": str(_free_port())}
        started = time.perf_counter()
        process = subprocess.Popen(
            [sys.executable, "main.py", "serve", "--demo", "--no-worker", "--port", str(port)],
            cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            deadline = time.monotonic() + 120
            while time.monotonic() < deadline:
                try:
                    urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2)  # noqa: S310
                    break
                except OSError:
                    time.sleep(0.2)
            else:
                raise SystemExit("the server did not answer /healthz within 120 s")
            ready = time.perf_counter() - started
            steady, last = 0, -1
            while steady < 3 and time.monotonic() < deadline:
                rss = _status(process.pid)["VmRSS"]
                steady = steady + 1 if rss == last else 0
                last = rss
                time.sleep(1)
            status = _status(process.pid)
            print(f"demo server (POISE_SUGGESTER={env.get('POISE_SUGGESTER', 'auto')}): answers "
                  f"after {ready:.1f} s (demo seeding included); after warm-up RSS "
                  f"{status['VmRSS']} MB, peak {status['VmHWM']} MB")
        finally:
            process.terminate()
            process.wait(timeout=30)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--suggester", default="auto", choices=["auto", "lexicon"])
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    env = {**os.environ, "POISE_SUGGESTER": args.suggester}
    if args.suggester == "auto":
        probe(args.runs, env)
    server(env)


if __name__ == "__main__":
    main()
