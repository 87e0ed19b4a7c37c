"""Server time of the weekly slot grid on the demo workspace (issue 15's best times).

Run: .venv/bin/python -m bench.slotgrid_bench [--db sqlite|postgres|all] [--clicks 20]

Seeds the demo (a quarter of metric history on four accounts) into a fresh database and, on
each database, measures per account: ``GET /w/<slug>/accounts/<id>/slots`` (the page) and the
htmx click on a grid cell (``POST .../slots/grid``, alternately adding and removing Wed 10:00,
answered with the re-rendered grid). Prints p50/p95 of the server time (the Server-Timing
header), the p50 CPU time of the process per request (steadier on a shared machine; with
SQLite it includes the database's work) and the number of SQL statements one click runs;
then the best-times computation alone: the workspace's whole Insight report (what the grid
asked for before) against ``insight.account_best_times`` (what it asks for now).
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from typing import Any

from sqlalchemy import event

from bench.common import fresh_database, print_table, summary
from planner import settings as settings_module


def seed(url: str) -> tuple[str, list[int], float]:
    from sqlmodel import col, select

    from planner.db import make_engine, session_scope
    from planner.demo import demo_platform_accounts, seed_demo
    from planner.models import Account

    engine = make_engine(url)
    bases, creds = demo_platform_accounts(8009)
    started = time.perf_counter()
    with session_scope(engine) as s:
        summary_ = seed_demo(session=s, account_api_bases=bases, account_credentials=creds)
        slug, ws_id = summary_.workspace.slug, summary_.workspace.id
    took = time.perf_counter() - started
    with session_scope(engine) as s:
        ids = [a.id or 0 for a in s.exec(select(Account).where(Account.workspace_id == ws_id)
                                         .order_by(col(Account.id)))]
    engine.dispose()
    return slug, ids, took


def _server_ms(response: Any) -> float:
    return float(response.headers["Server-Timing"].split("dur=")[1])


def measure(url: str, slug: str, account_ids: list[int], clicks: int) -> dict[str, dict]:
    from fastapi.testclient import TestClient

    from planner import db as db_module
    from planner.web.app import create_app

    os.environ["POISE_DATABASE_URL"] = url
    settings_module.get_settings.cache_clear()
    db_module.dispose_engines()
    pages: list[float] = []
    taps: list[float] = []
    # CPU time of this process per request (the app runs here; with SQLite the database too):
    # on a shared machine it moves much less with the load than the wall time does.
    pages_cpu: list[float] = []
    taps_cpu: list[float] = []
    statements: list[str] = []
    with TestClient(create_app()) as client:
        page = client.get("/login").text
        token = page.split('name="csrf_token" value="')[1].split('"')[0]
        client.post("/login", data={"email": "admin@poise.local",
                                    "password": "poise-demo-2026", "csrf_token": token})
        for account_id in account_ids:
            path = f"/w/{slug}/accounts/{account_id}/slots"
            for i in range(clicks + 2):
                cpu = time.process_time()
                r = client.get(path)
                cpu = (time.process_time() - cpu) * 1000
                assert r.status_code == 200, r.text[:500]
                if i >= 2:  # warm-up: templates, connection pool
                    pages.append(_server_ms(r))
                    pages_cpu.append(cpu)
            csrf = r.text.split('name="csrf_token" value="')[1].split('"')[0]
            for i in range(clicks + 2):
                verb = "add" if i % 2 == 0 else "remove"
                cpu = time.process_time()
                r = client.post(f"{path}/grid", data={verb: "2 10:00", "csrf_token": csrf},
                                headers={"HX-Request": "true"})
                cpu = (time.process_time() - cpu) * 1000
                assert r.status_code == 200, r.text[:500]
                if i >= 2:
                    taps.append(_server_ms(r))
                    taps_cpu.append(cpu)
        engine = db_module.get_engine()

        def count(*args: object) -> None:
            statements.append(str(args[2]))

        event.listen(engine, "before_cursor_execute", count)
        client.post(f"/w/{slug}/accounts/{account_ids[0]}/slots/grid",
                    data={"add": "3 10:00", "csrf_token": csrf}, headers={"HX-Request": "true"})
        event.remove(engine, "before_cursor_execute", count)
    db_module.dispose_engines()
    queries = float(sum(1 for q in statements if q.strip().upper() != "BEGIN"))
    return {"page": {**summary(pages), "cpu": summary(pages_cpu)["p50"]},
            "click": {**summary(taps), "cpu": summary(taps_cpu)["p50"], "queries": queries}}


def compute_only(url: str, account_ids: list[int], repeats: int) -> dict[str, dict]:
    """What the grid computes per request, without the page: the workspace's whole report
    (what it asked for up to issue 15's review) against one account's best times (now)."""
    from planner import insight
    from planner.db import make_engine, session_scope
    from planner.models import Account, Workspace

    engine = make_engine(url)
    timings: dict[str, list[float]] = {"whole report": [], "account best times": []}
    with session_scope(engine) as s:
        first = s.get(Account, account_ids[0])
        workspace = s.get(Workspace, first.workspace_id) if first else None
        assert workspace is not None
        for i in range(repeats + 2):
            for account_id in account_ids:
                started = time.perf_counter()
                insight.report(session=s, workspace=workspace, with_sales=False)
                whole = (time.perf_counter() - started) * 1000
                started = time.perf_counter()
                insight.account_best_times(session=s, workspace=workspace,
                                           account_id=account_id)
                one = (time.perf_counter() - started) * 1000
                if i >= 2:
                    timings["whole report"].append(whole)
                    timings["account best times"].append(one)
    engine.dispose()
    return {what: summary(values) for what, values in timings.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--db", default="sqlite", choices=["sqlite", "postgres", "all"])
    parser.add_argument("--clicks", type=int, default=20)
    args = parser.parse_args()
    os.environ.setdefault("POISE_VAR_DIR", tempfile.mkdtemp())
    kinds = ["sqlite", "postgres"] if args.db == "all" else [args.db]
    rows: list[list[object]] = []
    compute_rows: list[list[object]] = []
    for kind in kinds:
        with fresh_database(kind) as url:
            slug, ids, took = seed(url)
            result = measure(url, slug, ids, args.clicks)
            computed = compute_only(url, ids, args.clicks)
        for what, figures in result.items():
            rows.append([kind, what, f"{took:.2f}", str(len(ids) * args.clicks),
                         f"{figures['p50']:.1f}", f"{figures['p95']:.1f}",
                         f"{figures['cpu']:.1f}",
                         f"{figures['queries']:.0f}" if "queries" in figures else ""])
        for what, figures in computed.items():
            compute_rows.append([kind, what, str(len(ids) * args.clicks),
                                 f"{figures['p50']:.2f}", f"{figures['p95']:.2f}"])
    print_table("What the grid computes for its best times, alone (in process)",
                ["database", "computation", "calls", "p50 ms", "p95 ms"], compute_rows)
    print_table("Slot grid on the demo (server time)",
                ["database", "request", "demo seed s", "requests", "p50 ms", "p95 ms",
                 "CPU p50 ms", "queries per click"], rows)


if __name__ == "__main__":
    main()
