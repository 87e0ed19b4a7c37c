"""CSV import of 10,000 rows: rows per second, and how long the write lock is held.

The import checks every row with reads only, then writes at most 200 rows or 0.25 s per transaction
(``planner.posts.csvio``). Two figures matter: how fast a whole import goes, and the
longest time the import holds the write lock in one piece, which is the longest any other
writer (a redirect click, the worker's tick) can be kept waiting. A probe connection takes
the lock (``BEGIN IMMEDIATE``) over and over while the import runs and records its longest
wait; the import's own transactions are timed from their first write to their commit.

Command: ``.venv/bin/python -m bench.import_bench [--rows 10000] [--db sqlite|postgresql|all]``
"""

from __future__ import annotations

import argparse
import os
import sqlite3
import threading
import time
from datetime import UTC, datetime

from sqlalchemy import event

from bench.common import fresh_database, print_table


def _rows(n: int, handle: str) -> bytes:
    lines = ["local_time,accounts,text,tags"]
    for i in range(n):
        day, minute = divmod(i, 600)
        lines.append(f"2027-{1 + day // 28:02d}-{1 + day % 28:02d} "
                     f"{8 + minute // 60:02d}:{minute % 60:02d},{handle},"
                     f"Imported post number {i} about our bikes,learn")
    return ("\n".join(lines) + "\n").encode()


def run(kind: str, rows: int) -> list[object]:
    with fresh_database(kind) as url:
        os.environ["POISE_DATABASE_URL"] = url
        from planner import accounts
        from planner.db import dispose_engines, get_engine, session_scope
        from planner.models import Role
        from planner.posts import csvio
        from planner.settings import get_settings
        from planner.team import users, workspaces

        get_settings.cache_clear()
        dispose_engines()
        engine = get_engine(url)
        with session_scope(engine) as s:
            ws = workspaces.create_workspace(session=s, name="Bench", timezone="Europe/Warsaw")
            user = users.create_user(session=s, email="bench@example.test",
                                     password="correct horse battery")
            users.add_member(session=s, workspace=ws, user=user, role=Role.manager)
            accounts.create_account(session=s, workspace_id=ws.id, platform="mastodon",
                                    handle="@bench@bikes.social")
            ws_id, user_id = ws.id or 0, user.id or 0
        raw = _rows(rows, "@bench@bikes.social")
        holds: list[float] = []
        started: dict[int, float] = {}

        wrote: set[int] = set()

        def on_begin(conn):  # noqa: ANN001 - SQLAlchemy event signature
            started[id(conn)] = time.perf_counter()

        def on_statement(conn, cursor, statement, *args):  # noqa: ANN001
            # Only transactions that write count (the check's reads hold no lock). SQLite
            # takes its one lock at BEGIN IMMEDIATE; PostgreSQL locks rows as it writes.
            if statement.startswith("BEGIN IMMEDIATE"):
                started[id(conn)] = time.perf_counter()
                wrote.add(id(conn))
            elif statement.lstrip()[:6].upper() in ("INSERT", "UPDATE", "DELETE"):
                wrote.add(id(conn))

        def on_commit(conn):  # noqa: ANN001
            begun = started.pop(id(conn), None)
            if begun is not None and id(conn) in wrote:
                holds.append(time.perf_counter() - begun)
            wrote.discard(id(conn))

        def on_rollback(conn):  # noqa: ANN001
            started.pop(id(conn), None)
            wrote.discard(id(conn))

        event.listen(engine, "begin", on_begin)
        event.listen(engine, "before_cursor_execute", on_statement)
        event.listen(engine, "commit", on_commit)
        event.listen(engine, "rollback", on_rollback)
        waits: list[float] = []
        stop = threading.Event()

        def probe() -> None:
            if kind != "sqlite":
                return
            conn = sqlite3.connect(engine.url.database or "", timeout=30, isolation_level=None)
            while not stop.is_set():
                t0 = time.perf_counter()
                conn.execute("BEGIN IMMEDIATE")
                waits.append(time.perf_counter() - t0)
                conn.execute("UPDATE workspace SET utm_campaign = utm_campaign")
                conn.execute("COMMIT")
                time.sleep(0.01)
            conn.close()

        prober = threading.Thread(target=probe)
        prober.start()
        phases: dict[str, float] = {}
        t0 = time.perf_counter()

        def progress(phase: str, done: int, total: int) -> None:
            phases.setdefault(phase, time.perf_counter() - t0)

        result = csvio.import_file(workspace_id=ws_id, user_id=user_id, raw=raw,
                                   now=datetime(2026, 12, 1, tzinfo=UTC), engine=engine,
                                   progress=progress)
        elapsed = time.perf_counter() - t0
        stop.set()
        prober.join()
        dispose_engines()
        assert result.created == rows
        return [kind, rows, f"{elapsed:.1f}", f"{rows / elapsed:.0f}",
                f"{phases.get('writing', elapsed):.1f}", f"{max(holds) * 1000:.0f}",
                f"{max(waits) * 1000:.0f}" if waits else "n/a", len(waits)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=10_000)
    parser.add_argument("--db", default="sqlite", choices=["sqlite", "postgresql", "all"])
    args = parser.parse_args()
    kinds = ["sqlite", "postgresql"] if args.db == "all" else [args.db]
    print_table("CSV import (check with no lock, then at most 200 rows or 0.25 s per transaction)",
                ["database", "rows", "total s", "rows/s", "check s",
                 "longest transaction ms", "longest wait of another writer ms",
                 "other writes during import"],
                [run(kind, args.rows) for kind in kinds])


if __name__ == "__main__":
    main()
