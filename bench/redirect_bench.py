"""Latency and throughput of the tracked-link redirect ``/r/{code}`` under load.

Migrates a fresh database (a temporary SQLite file, or ``--url`` PostgreSQL server: a fresh
database is created there and dropped after), creates one published post with a tracked link,
starts the app with uvicorn in a subprocess on a free loopback port, and drives it from this
process with a bounded thread pool (``--requests`` in total, ``--concurrency`` at once, stopping
after ``--max-seconds`` in any case). Every request is a counted session (a browser user agent),
so each one also writes a touchpoint.

    python bench/redirect_bench.py --requests 5000 --concurrency 16
    python bench/redirect_bench.py --url postgresql+psycopg://postgres@127.0.0.1:5432/test
"""

from __future__ import annotations

import argparse
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from urllib.parse import urlsplit

import requests

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sqlalchemy import text  # noqa: E402
from sqlalchemy.engine import make_url  # noqa: E402

UA = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 Chrome/130 Safari/537.36"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def seed(url: str) -> str:
    from planner import accounts
    from planner.conversions import links
    from planner.db import make_engine, session_scope, utcnow
    from planner.migrate import upgrade
    from planner.models import Post, Publication, PublicationStatus
    from planner.team import workspaces

    upgrade(url)
    engine = make_engine(url)
    with session_scope(engine) as s:
        ws = workspaces.create_workspace(session=s, name="Bench", timezone="UTC")
        account = accounts.create_account(session=s, workspace_id=ws.id, platform="x",
                                          handle="@bench")
        post = Post(workspace_id=ws.id, text="bench", tags="try", status="approved")
        s.add(post)
        s.flush()
        pub = Publication(post_id=post.id, account_id=account.id, workspace_id=ws.id,
                          status=PublicationStatus.published, published_at=utcnow())
        s.add(pub)
        s.flush()
        code = urlsplit(links.tracked_link_for(s, pub, "https://shop.example/glow")).path
    engine.dispose()
    return code


def count_sessions(url: str) -> int:
    from planner.db import make_engine

    engine = make_engine(url)
    with engine.connect() as conn:
        n = int(conn.execute(text("SELECT COUNT(*) FROM touchpoint")).scalar() or 0)
    engine.dispose()
    return n


def drive(base: str, path: str, *, total: int, concurrency: int,
          max_seconds: float) -> tuple[list[float], int, float]:
    latencies: list[float] = []
    errors = 0
    lock = threading.Lock()
    local = threading.local()
    deadline = time.monotonic() + max_seconds

    def one(_: int) -> None:
        nonlocal errors
        if time.monotonic() > deadline:
            return
        session = getattr(local, "session", None)
        if session is None:
            session = local.session = requests.Session()
            session.headers["User-Agent"] = UA
        started = time.perf_counter()
        try:
            resp = session.get(base + path, allow_redirects=False, timeout=10)
            ok = resp.status_code == 302
        except requests.RequestException:
            ok = False
        elapsed = time.perf_counter() - started
        with lock:
            if ok:
                latencies.append(elapsed)
            else:
                errors += 1

    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=concurrency) as pool:
        list(pool.map(one, range(total)))
    return latencies, errors, time.perf_counter() - started


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000


def run(url: str, var_dir: str, args: argparse.Namespace) -> None:
    path = seed(url)
    port = free_port()
    env = {**os.environ, "POISE_VAR_DIR": var_dir, "POISE_DATABASE_URL": url,
           "POISE_WORKER_ENABLED": "false"}
    cmd = [sys.executable, "-m", "uvicorn", "planner.web.app:create_app", "--factory",
           "--host", "127.0.0.1", "--port", str(port), "--workers", str(args.workers),
           "--log-level", "warning", "--no-access-log"]
    server = subprocess.Popen(cmd, cwd=ROOT, env=env)  # noqa: S603
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(200):
            try:
                requests.get(base + path, headers={"User-Agent": "bench-warmup-bot"},
                             allow_redirects=False, timeout=1)
                break
            except requests.RequestException:
                time.sleep(0.1)
        drive(base, path, total=min(200, args.requests), concurrency=args.concurrency,
              max_seconds=10)  # warm-up
        before = count_sessions(url)
        latencies, errors, wall = drive(base, path, total=args.requests,
                                        concurrency=args.concurrency,
                                        max_seconds=args.max_seconds)
        recorded = count_sessions(url) - before
    finally:
        server.terminate()
        server.wait(timeout=15)
    print(f"database {make_url(url).get_backend_name()}, uvicorn workers {args.workers}, "
          f"concurrency {args.concurrency}")
    print(f"requests {len(latencies) + errors}, ok {len(latencies)}, errors {errors}, "
          f"sessions recorded {recorded}")
    if latencies:
        print(f"latency p50 {pct(latencies, 0.50):.2f} ms  p95 {pct(latencies, 0.95):.2f} ms  "
              f"p99 {pct(latencies, 0.99):.2f} ms  mean {statistics.mean(latencies) * 1000:.2f} "
              f"ms")
        print(f"throughput {len(latencies) / wall:.0f} redirects/s over {wall:.1f} s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--url", default="", help="PostgreSQL server URL (default: SQLite)")
    parser.add_argument("--requests", type=int, default=5000)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--workers", type=int, default=1, help="uvicorn worker processes")
    parser.add_argument("--max-seconds", type=float, default=60.0)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as var_dir:
        if not args.url:
            run(f"sqlite:///{var_dir}/bench.db", var_dir, args)
            return
        from planner.db import make_engine

        server = make_url(args.url)
        name = f"poise_bench_{uuid.uuid4().hex[:8]}"
        admin = make_engine(server.render_as_string(hide_password=False),
                            isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
        try:
            run(server.set(database=name).render_as_string(hide_password=False), var_dir, args)
        finally:
            with admin.connect() as conn:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            admin.dispose()


if __name__ == "__main__":
    main()
