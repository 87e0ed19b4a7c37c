"""Month view server time with 300, 3,000 and 30,000 publications in the month.

Run: .venv/bin/python -m bench.calendar_bench [--db sqlite|postgres|all] [--requests 40]
Prints p50/p95 of the server time (Server-Timing header: routing, queries, template) of
GET /w/<slug>/calendar for the busy month, on each database.
"""

from __future__ import annotations

import argparse
import os
import random
import tempfile
from datetime import UTC, datetime, timedelta

from sqlalchemy import event, insert

from bench.common import fresh_database, print_table, summary
from planner import settings as settings_module


def seed(url: str, n: int) -> str:
    from planner import accounts
    from planner.db import make_engine, session_scope
    from planner.models import Post, PostStatus, Publication, PublicationStatus, Role
    from planner.team import users, workspaces

    engine = make_engine(url)
    with session_scope(engine) as s:
        ws = workspaces.create_workspace(session=s, name="Bench", timezone="Europe/Warsaw")
        user = users.create_user(session=s, email="bench@poise.local",
                                 password="bench-password")
        users.add_member(session=s, workspace=ws, user=user, role=Role.admin)
        acct_ids = [accounts.create_account(session=s, workspace_id=ws.id or 0,
                                            platform=p, handle=f"@bench{i}").id
                    for i, p in enumerate(["mastodon", "bluesky", "x", "linkedin"] * 3)]
        ws_id, slug, author = ws.id, ws.slug, user.id
    rng = random.Random(1)
    start = datetime(2026, 12, 1, tzinfo=UTC)
    statuses = [PostStatus.approved, PostStatus.draft, PostStatus.in_review]
    post_rows: list[dict[str, object]] = []
    pub_rows: list[dict[str, object]] = []
    i = 0
    while len(pub_rows) < n:  # posts on one, two or three accounts: n publications in all
        i += 1
        at = start + timedelta(minutes=rng.randrange(31 * 24 * 60))
        post_rows.append({"id": i, "workspace_id": ws_id, "author_id": author,
                          "text": f"Benchmark post {i}: how to brew better coffee at home",
                          "tags": rng.choice(["try", "share", "care", "learn"]),
                          "status": rng.choice(statuses), "scheduled_at": at,
                          "scheduled_local": "", "scheduled_tz": "Europe/Warsaw",
                          "created_at": start, "updated_at": start, "version": 1,
                          "link": "", "dm_keyword": "", "dm_prefill": "", "dm_product_url": "",
                          "tag_source": "manual",
                          "media_path": f"1/bench-{i}.jpg" if i % 4 == 0 else "",
                          "media_mime": "image/jpeg" if i % 4 == 0 else ""})
        for k in range(min(1 + i % 3, n - len(pub_rows))):
            pub_rows.append({"post_id": i, "account_id": acct_ids[(i + k) % len(acct_ids)],
                             "workspace_id": ws_id, "scheduled_at": at, "due_at": at,
                             "status": PublicationStatus.pending, "remote_state": "{}",
                             "updated_at": start, "attempts": 0, "attempt_id": "",
                             "idempotency_key": f"k{i}-{k}", "fingerprint": "",
                             "remote_id": "", "remote_url": "", "last_error": ""})
    with engine.begin() as conn:
        for chunk in range(0, len(post_rows), 5000):
            conn.execute(insert(Post), post_rows[chunk:chunk + 5000])
        for chunk in range(0, n, 5000):
            conn.execute(insert(Publication), pub_rows[chunk:chunk + 5000])
        if engine.dialect.name == "postgresql":
            conn.exec_driver_sql("SELECT setval('post_id_seq', (SELECT max(id) FROM post))")
            conn.exec_driver_sql("ANALYZE")
    engine.dispose()
    return slug


def measure(url: str, slug: str, requests: int) -> dict[str, float]:
    from fastapi.testclient import TestClient

    from planner import db as db_module
    from planner.web.app import create_app

    os.environ["POISE_DATABASE_URL"] = url
    settings_module.get_settings.cache_clear()
    db_module.dispose_engines()
    with TestClient(create_app()) as client:
        page = client.get("/login").text
        token = page.split('name="csrf_token" value="')[1].split('"')[0]
        client.post("/login", data={"email": "bench@poise.local", "password": "bench-password",
                                    "csrf_token": token})
        timings = []
        for i in range(requests + 3):
            r = client.get(f"/w/{slug}/calendar?date=2026-12-15")
            assert r.status_code == 200, r.text[:500]
            if i >= 3:  # warm-up: template compilation, connection pool
                timings.append(float(r.headers["Server-Timing"].split("dur=")[1]))
        statements: list[str] = []
        engine = db_module.get_engine()

        def count(*args: object) -> None:
            statements.append(str(args[2]))

        event.listen(engine, "before_cursor_execute", count)
        client.get(f"/w/{slug}/calendar?date=2026-12-15")
        event.remove(engine, "before_cursor_execute", count)
    db_module.dispose_engines()
    # SQLite's BEGIN is a statement of its own, not a query.
    return {**summary(timings),
            "queries": float(sum(1 for q in statements if q.strip().upper() != "BEGIN"))}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--db", default="all", choices=["sqlite", "postgres", "all"])
    parser.add_argument("--sizes", default="300,3000,30000")
    parser.add_argument("--requests", type=int, default=40)
    args = parser.parse_args()
    os.environ.setdefault("POISE_VAR_DIR", tempfile.mkdtemp())
    kinds = ["sqlite", "postgres"] if args.db == "all" else [args.db]
    rows = []
    for kind in kinds:
        for n in (int(x) for x in args.sizes.split(",")):
            with fresh_database(kind) as url:
                slug = seed(url, n)
                stats = measure(url, slug, args.requests)
            rows.append([kind, f"{n:,}", f"{stats['p50']:.1f}", f"{stats['p95']:.1f}",
                         stats["n"], int(stats["queries"])])
            print(f"{kind} {n}: p50 {stats['p50']:.1f} ms, p95 {stats['p95']:.1f} ms, "
                  f"{int(stats['queries'])} queries", flush=True)
    print_table("Calendar month view, server time (ms)",
                ["database", "publications in month", "p50 ms", "p95 ms", "requests",
                 "queries"], rows)


if __name__ == "__main__":
    main()
