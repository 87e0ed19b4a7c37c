"""Publishing throughput and lateness: N publications over A accounts all due at one instant.

Real worker processes (``python -m planner.publishing.jobs --exit-when-idle``) drain a fresh
database against a loopback fake platform that answers every create after ``--latency-ms``.
Printed per configuration: drain time (due instant -> last publish), lateness p50/p95/p99
(publish time minus due time, on the database clock), publishes per second, the workers' CPU
per publication (start-up included), and the ideal drain time N x latency / (workers x threads).
Then a lone post: how late it goes out with one idle worker. On PostgreSQL, the peak number of
connections to the benchmark database (``pg_stat_activity``, sampled every 50 ms) is printed
too: workers use their small default pool (``POISE_WORKER_DB_CONNECTIONS``) whatever their
threads.

``--kill`` (PostgreSQL): recovery after ``kill -9`` of a worker holding at least 32 claims.
The victim starts alone and claims; the other workers start; the victim is killed; printed:
seconds until none of its rows is still ``claimed`` or ``sending`` (returned, or turned
``unknown`` and reconciled), the drain ratio, lateness p99, peak connections, duplicates.

``--spread-seconds S`` (PostgreSQL): the fault run. Publications due evenly over S seconds
(below capacity) on ``fake-idem`` and ``fake-noidem`` accounts, and every ``--kill-every``
seconds (+-50%) ``kill -9`` of a random worker, restarted at once. Printed: kills, recovery
per kill (p50/max), the workers' start-up time and how long none was alive, lateness
p50/p95/p99, duplicates, lost, stuck, peak connections, the Attempt outcomes.

    .venv/bin/python bench/dispatch_bench.py --db all --workers 1,2,4
    .venv/bin/python bench/dispatch_bench.py --db postgres --workers 4 --kill
    .venv/bin/python bench/dispatch_bench.py --db postgres --workers 3 --n 3600 \
        --latency-ms 1000 --spread-seconds 300 --kill-every 8
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import resource
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import text
from sqlalchemy.engine import make_url

ROOT = Path(__file__).resolve().parent.parent
FAULTS = ROOT / "tests" / "faults"
sys.path[:0] = [str(ROOT), str(FAULTS)]

from fake_platform import Created, FakePlatform  # noqa: E402
from seed import seed_publications  # noqa: E402

from planner.db import make_engine  # noqa: E402
from planner.migrate import upgrade  # noqa: E402
from planner.publishing.liveness import LOCK_SPACE, owner_of  # noqa: E402

DEFAULT_PG = os.environ.get("TEST_DATABASE_URL",
                            "postgresql+psycopg://postgres@127.0.0.1:5432/test")


class LeanPlatform:
    """The benchmark's fake platform: the fault tests' API for the ``fake-*`` adapters
    (creates deduplicated on the Idempotency-Key, lookups by key and of recent posts) served
    by one asyncio loop. Thousands of requests waiting out ``latency`` then cost this process
    a coroutine each, not a thread, and the little CPU left goes to the workers being
    measured. No failure injection (tests/faults/fake_platform.py has that)."""

    def __init__(self, latency: float = 0.0) -> None:
        self.latency = latency
        self.posts: list[Created] = []
        self.by_key: dict[tuple[str, str], Created] = {}
        self.by_handle: dict[str, list[Created]] = defaultdict(list)
        self.calls: dict[tuple[str, str], int] = defaultdict(int)  # POSTs per (handle, text)
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.port = 0
        self.server: asyncio.AbstractServer | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> LeanPlatform:
        self.thread.start()
        self.server = asyncio.run_coroutine_threadsafe(asyncio.start_server(
            self._serve, "127.0.0.1", 0, backlog=1024), self.loop).result(10)
        self.port = self.server.sockets[0].getsockname()[1]
        return self

    def stop(self) -> None:
        if self.server is not None:
            self.loop.call_soon_threadsafe(self.server.close)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)

    def creates(self) -> list[Created]:
        return list(self.posts)

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                head = (await reader.readuntil(b"\r\n\r\n")).decode("latin-1").split("\r\n")
                method, target, _ = head[0].split(" ", 2)
                headers = {name.strip().lower(): value.strip() for name, _, value in
                           (line.partition(":") for line in head[1:] if line)}
                length = int(headers.get("content-length") or 0)
                body = await reader.readexactly(length) if length else b""
                status, payload = self._answer(method, target, headers, body)
                if method == "POST" and self.latency:
                    await asyncio.sleep(self.latency)
                data = json.dumps(payload).encode()
                writer.write(b"HTTP/1.1 %d OK\r\nContent-Type: application/json\r\n"
                             b"Content-Length: %d\r\n\r\n%s" % (status, len(data), data))
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()

    def _answer(self, method: str, target: str, headers: dict[str, str],
                body: bytes) -> tuple[int, object]:
        path, _, _query = target.partition("?")
        parts = path.strip("/").split("/")
        handle = parts[0]
        if method == "POST":
            key = headers.get("idempotency-key", "")
            post = self.by_key.get((handle, key)) if key else None
            sent = json.loads(body or b"{}")
            self.calls[(handle, sent.get("text", ""))] += 1
            if post is None:
                post = Created(len(self.posts) + 1, handle, sent.get("text", ""),
                               sent.get("link") or "", key, time.time())
                self.posts.append(post)
                self.by_handle[handle].append(post)
                if key:
                    self.by_key[(handle, key)] = post
            return 200, self._public(post)
        if len(parts) == 4 and parts[2] == "by-key":
            found = self.by_key.get((handle, parts[3]))
            return (200, self._public(found)) if found else (404, {"error": "not found"})
        return 200, [self._public(p) for p in reversed(self.by_handle[handle][-40:])]

    def _public(self, post: Created) -> dict[str, str]:
        return {"id": str(post.id), "url": f"{self.url}/{post.handle}/posts/{post.id}",
                "text": post.text, "link": post.link}


def make_platform(args: argparse.Namespace) -> LeanPlatform | FakePlatform:
    latency = args.latency_ms / 1000
    if args.fake == "threaded":
        return FakePlatform(latency=latency).start()
    return LeanPlatform(latency=latency).start()


@dataclass
class Figures:
    db: str
    workers: int
    n: int
    drain: float
    ideal: float
    p50: float
    p95: float
    p99: float
    rate: float
    cpu_ms: float  # the worker processes' CPU per publication, start-up included
    other: dict[str, int]


class Database:
    """A fresh, migrated database per run (a temp SQLite file, or a new PostgreSQL db)."""

    def __init__(self, kind: str, pg_url: str) -> None:
        self.kind = kind
        if kind == "sqlite":
            self.dir = tempfile.mkdtemp(prefix="poise-bench-")
            self.url = f"sqlite:///{self.dir}/bench.db"
        else:
            server = make_url(pg_url)
            self.name = f"poise_bench_{uuid.uuid4().hex[:8]}"
            self.admin = make_engine(server.render_as_string(hide_password=False),
                                     isolation_level="AUTOCOMMIT")
            with self.admin.connect() as conn:
                conn.execute(text(f'CREATE DATABASE "{self.name}"'))
            self.url = server.set(database=self.name).render_as_string(hide_password=False)
        upgrade(self.url)
        self.engine = make_engine(self.url)

    def drop(self) -> None:
        self.engine.dispose()
        if self.kind == "postgres":
            with self.admin.connect() as conn:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)'))
            self.admin.dispose()


def worker_cmd(url: str, args: argparse.Namespace, workers: int, *,
               idle_exit: bool = True) -> list[str]:
    cmd = [sys.executable, "-m", "planner.publishing.jobs", "--database-url", url, "--import",
           "fake_adapters", "--tick", str(args.tick), "--threads", str(args.threads),
           "--max-seconds", "900"]
    if args.lease:
        cmd += ["--lease", str(args.lease)]
    if args.db_pool and not url.startswith("sqlite"):
        cmd += ["--db-pool", str(args.db_pool)]
    return cmd + (["--exit-when-idle"] if idle_exit else [])


def worker_env() -> dict[str, str]:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(FAULTS), str(ROOT)])}
    env.pop("POISE_FAULT_KILL_AT", None)
    return env


def _as_utc(value: object) -> datetime:
    parsed = datetime.fromisoformat(value) if isinstance(value, str) else value
    assert isinstance(parsed, datetime)
    return parsed.replace(tzinfo=UTC)


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q / 100 * len(ordered)) - 1))]


class PeakConnections:
    """Samples the connections to one PostgreSQL database every 50 ms; ``peak`` is the most."""

    def __init__(self, db: Database) -> None:
        self.db = db
        self.peak = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> PeakConnections:
        if self.db.kind == "postgres":
            self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(5)

    def _run(self) -> None:
        with self.db.admin.connect() as conn:
            while not self._stop.wait(0.05):
                count = int(conn.execute(text(
                    "SELECT count(*) FROM pg_stat_activity WHERE datname = :db"),
                    {"db": self.db.name}).scalar_one())
                self.peak = max(self.peak, count - 1)  # not this sampler


def run_drain(kind: str, workers: int, args: argparse.Namespace) -> Figures:
    db = Database(kind, args.postgres_url)
    platform = make_platform(args)
    peak = PeakConnections(db).__enter__()
    try:
        due = datetime.now(UTC) + timedelta(seconds=args.lead_seconds)
        seed_publications(db.engine, n=args.n, api_base=platform.url, accounts=args.accounts,
                          platforms=("fake-idem",), scheduled_at=due, text_prefix="bench")
        before = _children_cpu()
        procs = [subprocess.Popen(worker_cmd(db.url, args, workers), env=worker_env(),
                                  cwd=ROOT) for _ in range(workers)]
        codes = [p.wait() for p in procs]
        worker_cpu = _children_cpu() - before
        if any(codes):
            print(f"  warning: worker exit codes {codes}", file=sys.stderr)
        with db.engine.connect() as conn:
            rows = conn.execute(text("SELECT published_at FROM publication "
                                     "WHERE status = 'published'")).scalars().all()
            other = {str(s): int(c) for s, c in conn.execute(text(
                "SELECT status, count(*) FROM publication WHERE status != 'published' "
                "GROUP BY status"))}
        lateness = [(_as_utc(r) - due).total_seconds() for r in rows]
        drain = max(lateness)
        ideal = args.n * args.latency_ms / 1000 / (workers * args.threads)
        creates = len(platform.creates())
        if creates != args.n:
            other["creates_on_platform"] = creates
        peak.__exit__()
        if kind == "postgres":
            other["peak_db_connections"] = peak.peak
        return Figures(kind, workers, len(rows), drain, ideal, percentile(lateness, 50),
                       percentile(lateness, 95), percentile(lateness, 99),
                       len(rows) / drain if drain > 0 else 0.0,
                       1000 * worker_cpu / max(1, len(rows)), other)
    finally:
        peak.__exit__()
        platform.stop()
        db.drop()


def _count(db: Database, sql: str, **params: object) -> int:
    with db.engine.connect() as conn:
        return int(conn.execute(text(sql), params).scalar_one())



def _kill_all(procs: list[subprocess.Popen[bytes]]) -> None:
    """Stop every worker the bench started that is still running."""
    for proc in procs:
        if proc.poll() is None:
            proc.kill()
            proc.wait()

def run_kill(workers: int, args: argparse.Namespace) -> None:
    """kill -9 of a worker holding >= 32 claims while ``workers`` others run."""
    db = Database("postgres", args.postgres_url)
    platform = make_platform(args)
    peak = PeakConnections(db).__enter__()
    procs: list[subprocess.Popen[bytes]] = []
    try:
        due = datetime.now(UTC) + timedelta(seconds=2)
        seed_publications(db.engine, n=args.n, api_base=platform.url, accounts=args.accounts,
                          platforms=("fake-idem",), scheduled_at=due, text_prefix="kill")
        victim = subprocess.Popen(worker_cmd(db.url, args, 1, idle_exit=False),
                                  env=worker_env(), cwd=ROOT)
        procs.append(victim)
        held = "SELECT count(*) FROM publication WHERE status IN ('claimed', 'sending')"
        deadline = time.monotonic() + 60
        while _count(db, held) < 32 and time.monotonic() < deadline:
            time.sleep(0.02)
        with db.engine.connect() as conn:
            owner = conn.execute(text(
                "SELECT substr(attempt_id, 1, 10) FROM publication WHERE status IN "
                "('claimed', 'sending') LIMIT 1")).scalar_one()
        survivors = [subprocess.Popen(worker_cmd(db.url, args, workers), env=worker_env(),
                                      cwd=ROOT) for _ in range(workers)]
        procs += survivors
        others = ("SELECT count(*) FROM publication WHERE status IN ('claimed', 'sending', "
                  "'published') AND attempt_id NOT LIKE :owner")
        deadline = time.monotonic() + 120
        while _count(db, others, owner=f"{owner}%") == 0 and time.monotonic() < deadline:
            time.sleep(0.05)  # the others are up and claiming (not a measurement)
        victims_rows = ("SELECT count(*) FROM publication WHERE status IN ('claimed', "
                        "'sending') AND attempt_id LIKE :owner")
        holding = _count(db, victims_rows, owner=f"{owner}%")
        victim.kill()
        killed_at = time.monotonic()
        victim.wait()
        recovery = float("nan")
        while time.monotonic() - killed_at < 600:
            if _count(db, victims_rows, owner=f"{owner}%") == 0:
                recovery = time.monotonic() - killed_at
                break
            time.sleep(0.05)
        codes = [p.wait() for p in survivors]
        peak.__exit__()
        with db.engine.connect() as conn:
            rows = conn.execute(text("SELECT published_at FROM publication "
                                     "WHERE status = 'published'")).scalars().all()
            other = {str(s): int(c) for s, c in conn.execute(text(
                "SELECT status, count(*) FROM publication WHERE status != 'published' "
                "GROUP BY status"))}
        lateness = [(_as_utc(r) - due).total_seconds() for r in rows]
        ideal = args.n * args.latency_ms / 1000 / (workers * args.threads)
        texts = defaultdict(int)
        for post in platform.creates():
            texts[(post.handle, post.text)] += 1
        print(f"| kill -9 of a worker holding {holding} claims, {workers} workers x "
              f"{args.threads} threads | recovery {recovery:.1f} s | published {len(rows)}/"
              f"{args.n} | drain/ideal {max(lateness) / ideal:.2f} | lateness p99 "
              f"{percentile(lateness, 99):.1f} s | peak DB connections {peak.peak} | "
              f"duplicates {sum(1 for v in texts.values() if v > 1)} | "
              f"exit codes {codes} | {other or ''} |", flush=True)
    finally:
        peak.__exit__()
        _kill_all(procs)
        platform.stop()
        db.drop()


@dataclass
class Kill:
    """One ``kill -9`` of the fault run: the victim's liveness owner and the rows it held."""

    at: float  # time.monotonic() of the kill
    owner: str  # the victim's attempt-id prefix ('' if it had not taken its lock yet)
    ids: frozenset[int]  # its claimed / sending / unknown rows right after the kill
    recovery: float | None = None  # seconds until every one of them was back or reconciled


def _worker_owners(db: Database) -> dict[int, str]:
    """OS pid of each live worker -> the attempt-id prefix of its claims (from the
    liveness connection's application name and its advisory lock)."""
    with db.engine.connect() as conn:
        rows = conn.execute(text(
            "SELECT a.application_name, l.objid FROM pg_locks l JOIN pg_stat_activity a "
            f"ON a.pid = l.pid WHERE l.locktype = 'advisory' AND l.classid = {LOCK_SPACE} "
            "AND l.objsubid = 2 AND l.granted AND a.datname = current_database()")).all()
    owners = {}
    for name, key in rows:
        parts = str(name).split()
        if len(parts) == 2 and parts[0] == "poise-worker-liveness":
            owners[int(parts[1].split("@")[0])] = owner_of(int(key))
    return owners


_UNRECOVERED = (
    "SELECT count(*) FROM publication WHERE id IN :ids AND (status = 'unknown' OR "
    "(status IN ('claimed', 'sending') AND substr(attempt_id, 1, 10) = :owner))")


def run_faults(workers: int, args: argparse.Namespace) -> None:
    """The fault run: publications due spread over ``--spread-seconds`` (below capacity) on
    two kinds of platform (``fake-idem`` with an Idempotency-Key, ``fake-noidem`` without),
    ``workers`` workers, and every ``--kill-every`` seconds (jittered +-50%) ``kill -9`` of a
    random worker, restarted at once as a supervisor would. Printed: kills, recovery per kill
    (seconds from the kill until every row the victim held in ``claimed``/``sending``/
    ``unknown`` is back to wait, or finally recorded; an ``unknown`` row counts until its
    reconciliation ended), lateness (published_at - due), duplicates (the fake's creates per
    post), lost, stuck, peak database connections."""
    db = Database("postgres", args.postgres_url)
    platform = LeanPlatform(latency=args.latency_ms / 1000).start()
    peak = PeakConnections(db).__enter__()
    log_path = Path(tempfile.mkdtemp(prefix="poise-faults-")) / "workers.log"
    log_file = log_path.open("wb")
    rng = random.Random(args.seed)
    procs: list[subprocess.Popen[bytes]] = []

    spawned: dict[int, float] = {}  # pid -> when it was started, until it holds its lock
    startups: list[float] = []  # seconds from spawn to holding the liveness lock

    def spawn() -> subprocess.Popen[bytes]:
        proc = subprocess.Popen(worker_cmd(db.url, args, workers, idle_exit=False),
                                env=worker_env(), cwd=ROOT, stdout=log_file, stderr=log_file)
        spawned[proc.pid] = time.monotonic()
        return proc

    load_start = os.getloadavg()
    try:
        first = datetime.now(UTC) + timedelta(seconds=args.lead_seconds)
        times = [first + timedelta(seconds=args.spread_seconds * i / args.n)
                 for i in range(args.n)]
        seed_publications(db.engine, n=args.n, api_base=platform.url, accounts=args.accounts,
                          platforms=("fake-idem", "fake-noidem"), scheduled_at=times,
                          text_prefix="fault")
        procs += [spawn() for _ in range(workers)]
        kills_end = time.monotonic() + args.lead_seconds + args.spread_seconds
        next_kill = time.monotonic() + args.lead_seconds + args.kill_every * rng.uniform(0.5, 1.5)
        kills: list[Kill] = []
        settle_end = kills_end + args.settle_seconds
        not_final = ("SELECT count(*) FROM publication WHERE status NOT IN "
                     "('published', 'failed', 'needs_review', 'missed', 'cancelled')")
        none_alive = 0.0  # seconds after the first due time with no worker holding its lock
        last = time.monotonic()
        due_from = last + args.lead_seconds
        while True:
            now = time.monotonic()
            owners = _worker_owners(db)
            for pid in [pid for pid in spawned if pid in owners]:
                startups.append(now - spawned.pop(pid))
            if now > due_from and not any(p.pid in owners for p in procs):
                none_alive += now - last
            last = now
            if now < kills_end and now >= next_kill:
                index = rng.randrange(workers)
                victim = procs[index]
                owner = owners.get(victim.pid, "")
                victim.kill()
                killed_at = time.monotonic()
                victim.wait()
                spawned.pop(victim.pid, None)
                procs[index] = spawn()  # restarted at once, like a supervisor
                ids: frozenset[int] = frozenset()
                if owner:
                    with db.engine.connect() as conn:
                        ids = frozenset(conn.execute(text(
                            "SELECT id FROM publication WHERE substr(attempt_id, 1, 10) = "
                            ":owner AND status IN ('claimed', 'sending', 'unknown')"),
                            {"owner": owner}).scalars())
                kills.append(Kill(killed_at, owner, ids, None if ids else 0.0))
                next_kill = killed_at + args.kill_every * rng.uniform(0.5, 1.5)
            for kill in kills:
                if kill.recovery is None:
                    left = _count(db, _UNRECOVERED.replace(
                        ":ids", "(" + ",".join(str(i) for i in kill.ids) + ")"),
                        owner=kill.owner)
                    if left == 0:
                        kill.recovery = time.monotonic() - kill.at
            if now >= settle_end or (now >= kills_end and _count(db, not_final) == 0
                                     and all(k.recovery is not None for k in kills)):
                break
            time.sleep(0.1)
        stuck = _count(db, not_final)
        for proc in procs:
            proc.terminate()
        codes = [proc.wait(60) for proc in procs]
        peak.__exit__()
        load_end = os.getloadavg()
        with db.engine.connect() as conn:
            rows = conn.execute(text(
                "SELECT p.id, p.status, p.published_at, p.scheduled_at, post.text, a.handle "
                "FROM publication p JOIN post ON post.id = p.post_id "
                "JOIN account a ON a.id = p.account_id")).all()
            outcomes = dict(conn.execute(text(
                "SELECT outcome, count(*) FROM attempt GROUP BY outcome")).all())
        creates: dict[tuple[str, str], int] = defaultdict(int)
        for post in platform.creates():
            creates[(post.handle, post.text)] += 1
        published = [r for r in rows if r.status == "published"]
        lateness = [(_as_utc(r.published_at) - _as_utc(r.scheduled_at)).total_seconds()
                    for r in published]
        touched = set().union(*(k.ids for k in kills)) if kills else set()
        hit = [(_as_utc(r.published_at) - _as_utc(r.scheduled_at)).total_seconds()
               for r in published if r.id in touched]
        lost = [r for r in rows if creates.get((r.handle, r.text), 0) == 0]
        not_published = defaultdict(int)
        for r in rows:
            if r.status != "published":
                not_published[str(r.status)] += 1
        duplicates = sum(1 for count in creates.values() if count > 1)
        calls = sum(platform.calls.values())
        recoveries = [k.recovery for k in kills if k.ids and k.recovery is not None]
        unrecovered = sum(1 for k in kills if k.recovery is None)
        print(f"# fault run: {args.n} publications due over {args.spread_seconds:g} s "
              f"({args.n / args.spread_seconds:.1f}/s; capacity {workers} x {args.threads} "
              f"threads / {args.latency_ms / 1000:g} s = "
              f"{workers * args.threads * 1000 / args.latency_ms:.0f}/s), {args.accounts} "
              f"accounts on fake-idem and fake-noidem, {workers} workers, tick {args.tick:g} s,"
              f" lease {args.lease or 'default'}; load average {load_start[0]:.1f} / "
              f"{load_start[1]:.1f} / {load_start[2]:.1f} at start, {load_end[0]:.1f} / "
              f"{load_end[1]:.1f} / {load_end[2]:.1f} at the end on {os.cpu_count()} CPUs")
        print(f"kills: {len(kills)} (victim held rows in {len(recoveries) + unrecovered}; "
              f"{sum(len(k.ids) for k in kills)} rows in all, at most "
              f"{max((len(k.ids) for k in kills), default=0)})")
        if startups:
            print(f"worker start-up (spawn -> liveness lock held): p50 "
                  f"{percentile(startups, 50):.1f} s, max {max(startups):.1f} s; no worker "
                  f"alive for {none_alive:.0f} s of the run")
        if recoveries:
            print(f"recovery per kill: p50 {percentile(recoveries, 50):.1f} s, max "
                  f"{max(recoveries):.1f} s" + (f"; {unrecovered} not recovered"
                                                if unrecovered else ""))
        if lateness:
            print(f"lateness (published_at - due), all {len(lateness)}: p50 "
                  f"{percentile(lateness, 50):.1f} s, p95 {percentile(lateness, 95):.1f} s, "
                  f"p99 {percentile(lateness, 99):.1f} s, max {max(lateness):.1f} s")
        if hit:
            print(f"lateness of the {len(hit)} rows a killed worker held: p50 "
                  f"{percentile(hit, 50):.1f} s, p99 {percentile(hit, 99):.1f} s, max "
                  f"{max(hit):.1f} s")
        print(f"published {len(published)}/{args.n}; not published {dict(not_published)}; "
              f"duplicates {duplicates} (creates per post max "
              f"{max(creates.values(), default=0)}); POST calls {calls} "
              f"({calls / args.n:.2f} per post); lost {len(lost)}; stuck {stuck}; "
              f"peak DB connections {peak.peak}; worker exit codes {codes}")
        print(f"attempt outcomes: {outcomes}")
        print(f"worker logs: {log_path}")
    finally:
        peak.__exit__()
        _kill_all(procs)
        log_file.close()
        platform.stop()
        db.drop()


def run_lone_post(kind: str, args: argparse.Namespace) -> float:
    """One idle worker; one post due 3 s from now: seconds between its time and its publish."""
    db = Database(kind, args.postgres_url)
    platform = make_platform(args)
    proc = subprocess.Popen(worker_cmd(db.url, args, 1, idle_exit=False), env=worker_env(),
                            cwd=ROOT)
    try:
        time.sleep(2.0)  # let the worker start ticking (not a measurement)
        due = datetime.now(UTC) + timedelta(seconds=3)
        seed_publications(db.engine, n=1, api_base=platform.url, platforms=("fake-idem",),
                          scheduled_at=due, text_prefix="lone")
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            with db.engine.connect() as conn:
                value = conn.execute(text("SELECT published_at FROM publication")).scalar()
            if value is not None:
                return (_as_utc(value) - due).total_seconds()
            time.sleep(0.05)
        return float("nan")
    finally:
        proc.terminate()
        proc.wait(30)
        platform.stop()
        db.drop()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=10_000)
    parser.add_argument("--accounts", type=int, default=200)
    parser.add_argument("--latency-ms", type=float, default=50.0)
    parser.add_argument("--db", choices=["sqlite", "postgres", "all"], default="all")
    parser.add_argument("--workers", default="1,2,4",
                        help="worker processes per PostgreSQL run (SQLite always uses 1)")
    parser.add_argument("--threads", type=int, default=32, help="send threads per worker")
    parser.add_argument("--tick", type=float, default=2.0, help="tick seconds (default as "
                        "the product's POISE_TICK_SECONDS)")
    parser.add_argument("--lead-seconds", type=float, default=4.0,
                        help="the due instant is this far after seeding (workers start)")
    parser.add_argument("--postgres-url", default=DEFAULT_PG)
    parser.add_argument("--fake", choices=["lean", "threaded"], default="lean",
                        help="the fake platform: one asyncio loop (default) or the fault "
                             "tests' thread-per-connection http.server")
    parser.add_argument("--lease", type=float, default=0.0,
                        help="lease seconds for the workers (default: POISE_LEASE_SECONDS)")
    parser.add_argument("--db-pool", type=int, default=0,
                        help="PostgreSQL connections per worker (default: the product's "
                             "POISE_WORKER_DB_CONNECTIONS)")
    parser.add_argument("--kill", action="store_true",
                        help="PostgreSQL: recovery after kill -9 of a worker with 32+ claims")
    parser.add_argument("--spread-seconds", type=float, default=0.0,
                        help="PostgreSQL fault run: publications due spread over this many "
                             "seconds, with kill -9 of a random worker every --kill-every s")
    parser.add_argument("--kill-every", type=float, default=4.0,
                        help="fault run: mean seconds between kills (jittered +-50%%)")
    parser.add_argument("--settle-seconds", type=float, default=120.0,
                        help="fault run: how long after the last due time everything has "
                             "to be final (or it counts as stuck)")
    parser.add_argument("--seed", type=int, default=12, help="fault run: random seed")
    args = parser.parse_args(argv)

    if args.spread_seconds:
        for w in args.workers.split(","):
            run_faults(int(w), args)
        return
    if args.kill:
        print(f"# {args.n} publications, {args.accounts} accounts, fake platform "
              f"{args.latency_ms:.0f} ms, {os.cpu_count()} CPUs, load average "
              f"{os.getloadavg()[0]:.1f} at start")
        for w in args.workers.split(","):
            run_kill(int(w), args)
        return
    runs: list[tuple[str, int]] = []
    if args.db in ("sqlite", "all"):
        runs.append(("sqlite", 1))
    if args.db in ("postgres", "all"):
        runs += [("postgres", int(w)) for w in args.workers.split(",") if w.strip()]
    print(f"# {args.n} publications, {args.accounts} accounts, fake platform "
          f"({args.fake}) {args.latency_ms:.0f} ms, {args.threads} threads/worker, "
          f"tick {args.tick:g} s, "
          f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f} at start")
    print("| database | workers | published | drain s | ideal s | drain/ideal | lateness p50 s "
          "| p95 s | p99 s | publishes/s | worker CPU ms/pub | other |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|")
    for kind, workers in runs:
        f = run_drain(kind, workers, args)
        print(f"| {f.db} | {f.workers} | {f.n} | {f.drain:.1f} | {f.ideal:.1f} | "
              f"{f.drain / f.ideal:.2f} | {f.p50:.1f} | {f.p95:.1f} | {f.p99:.1f} | "
              f"{f.rate:.0f} | {f.cpu_ms:.2f} | {f.other or ''} |", flush=True)
        print(f"<!-- load average after this run: {os.getloadavg()[0]:.1f} -->", flush=True)
    for kind in dict.fromkeys(kind for kind, _ in runs):
        late = run_lone_post(kind, args)
        print(f"lone post on {kind}, 1 idle worker, tick {args.tick:g} s: published "
              f"{late:.2f} s after its time", flush=True)


if __name__ == "__main__":
    main()
