"""Balance for an account with 100,000 posts: the window query and the exact test.

Run: .venv/bin/python -m bench.balance_bench [--posts 100000] [--db sqlite|postgres|all]
    [--untagged 0.5]
Prints p50/p95 of balance_for_account (the indexed window query plus the report) over
repeated calls. Goal: p95 under 50 ms. ``--untagged`` leaves that share of the posts untagged
(they take no place in the window; the query skips them before its LIMIT).
"""

from __future__ import annotations

import argparse
import os
import random
import tempfile
import time
from datetime import UTC, datetime, timedelta

from sqlalchemy import insert

from bench.common import fresh_database, print_table, summary


def seed(url: str, n: int, untagged: float = 0.0) -> tuple[int, int]:
    from planner import accounts
    from planner.db import make_engine, session_scope
    from planner.models import Post, PostStatus, Publication, PublicationStatus
    from planner.team import workspaces

    engine = make_engine(url)
    with session_scope(engine) as s:
        ws = workspaces.create_workspace(session=s, name="Bench", timezone="UTC")
        account = accounts.create_account(session=s, workspace_id=ws.id or 0,
                                          platform="mastodon", handle="@bench")
        ws_id, account_id = ws.id or 0, account.id or 0
    rng = random.Random(3)
    start = datetime(2015, 1, 1, tzinfo=UTC)
    for chunk in range(0, n, 10_000):
        posts, pubs = [], []
        for i in range(chunk + 1, min(n, chunk + 10_000) + 1):
            at = start + timedelta(hours=i)
            posts.append({"id": i, "workspace_id": ws_id, "text": "p", "link": "",
                          "tags": "" if rng.random() < untagged else rng.choice(
                              ["try", "share", "care", "learn", "try,learn"]),
                          "dm_keyword": "", "dm_product_url": "", "dm_prefill": "",
                          "tag_source": "manual", "media_path": "", "media_mime": "",
                          "status": PostStatus.approved, "scheduled_at": at,
                          "scheduled_local": "", "scheduled_tz": "", "version": 1,
                          "created_at": at, "updated_at": at})
            pubs.append({"post_id": i, "account_id": account_id, "workspace_id": ws_id,
                         "status": PublicationStatus.published, "scheduled_at": at,
                         "due_at": at, "attempt_id": "", "attempts": 1,
                         "idempotency_key": f"k{i}", "fingerprint": "", "remote_state": "{}",
                         "remote_id": "", "remote_url": "", "last_error": "",
                         "updated_at": at})
        with engine.begin() as conn:
            conn.execute(insert(Post), posts)
            conn.execute(insert(Publication), pubs)
    with engine.begin() as conn:
        if engine.dialect.name == "postgresql":
            conn.exec_driver_sql("SELECT setval('post_id_seq', (SELECT max(id) FROM post))")
            conn.exec_driver_sql("ANALYZE")
        else:
            conn.exec_driver_sql("ANALYZE")
    engine.dispose()
    return ws_id, account_id


def measure(url: str, ws_id: int, account_id: int, calls: int) -> dict[str, dict[str, float]]:
    from planner import balance
    from planner.db import make_engine, session_scope
    from planner.models import Account, Workspace

    engine = make_engine(url)
    results: dict[str, list[float]] = {"window 20": [], "window 200": [], "what-if": []}
    with session_scope(engine) as s:
        ws, account = s.get(Workspace, ws_id), s.get(Account, account_id)
        assert ws and account
        for i in range(calls + 5):
            for label, kwargs in (("window 20", {}), ("window 200", {"window": 200}),
                                  ("what-if", {"what_if_tags": ["try"]})):
                started = time.perf_counter()
                report = balance.balance_for_account(session=s, workspace=ws, account=account,
                                                     **kwargs)  # type: ignore[arg-type]
                if i >= 5:
                    results[label].append((time.perf_counter() - started) * 1000)
                assert report.n >= 20
    engine.dispose()
    return {k: summary(v) for k, v in results.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--db", default="all", choices=["sqlite", "postgres", "all"])
    parser.add_argument("--posts", type=int, default=100_000)
    parser.add_argument("--calls", type=int, default=200)
    parser.add_argument("--untagged", type=float, default=0.0,
                        help="share of posts left untagged (0 to 1)")
    args = parser.parse_args()
    os.environ.setdefault("POISE_VAR_DIR", tempfile.mkdtemp())
    rows = []
    for kind in (["sqlite", "postgres"] if args.db == "all" else [args.db]):
        with fresh_database(kind) as url:
            ws_id, account_id = seed(url, args.posts, args.untagged)
            for label, stats in measure(url, ws_id, account_id, args.calls).items():
                rows.append([kind, f"{args.posts:,}", label, f"{stats['p50']:.2f}",
                             f"{stats['p95']:.2f}"])
                print(f"{kind} {label}: p50 {stats['p50']:.2f} ms p95 {stats['p95']:.2f} ms",
                      flush=True)
    untagged = f", {args.untagged:.0%} untagged" if args.untagged else ""
    print_table(f"Balance for one account (ms, query + report{untagged})",
                ["database", "posts on account", "call", "p50 ms", "p95 ms"], rows)


if __name__ == "__main__":
    main()
