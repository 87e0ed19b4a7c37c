"""Insight: the report over 100,000 posts and 1,000,000 readings, and collection throughput.

Run: .venv/bin/python -m bench.insight_bench [--db postgres|sqlite|all] [--posts 100000]
    [--readings-per-post 10] [--collect 600]

1. Seeds one workspace with ``--posts`` published posts over the last quarter, spread over 10
   accounts, with ``--readings-per-post`` metric readings each, and times ``insight.report``
   (what resonates per account and platform, best times per account and per quadrant,
   channel health with sales from attribution). Goal: p50 under 300 ms on PostgreSQL.
2. Publishes ``--collect`` posts to the loopback fake Mastodon and Bluesky, then runs
   collection rounds (batch 200) until every post has its first reading: readings per
   second. Then injects a 429 and checks the account is left alone until its reset.
"""

from __future__ import annotations

import argparse
import random
import time
from datetime import UTC, datetime, timedelta

from sqlalchemy import insert, text

from bench.common import fresh_database, print_table, summary

PLATFORMS = ("mastodon", "bluesky", "x", "linkedin", "instagram")


def seed(url: str, posts: int, per_post: int) -> int:
    from compass.resonance import engagement_score
    from planner import accounts
    from planner.db import make_engine, session_scope
    from planner.insight.collect import local_slot
    from planner.models import Post, PostStatus, Publication, PublicationStatus
    from planner.models_insight import MetricCollection, MetricReading
    from planner.team import workspaces

    engine = make_engine(url)
    with session_scope(engine) as s:
        ws = workspaces.create_workspace(session=s, name="Bench", timezone="Europe/Warsaw")
        ids = [accounts.create_account(session=s, workspace_id=ws.id or 0,
                                       platform=PLATFORMS[i % len(PLATFORMS)],
                                       handle=f"@bench{i}").id or 0 for i in range(10)]
        ws_id = ws.id or 0
    rng = random.Random(5)
    end = datetime.now(UTC)
    tags = ("try", "share", "care", "learn", "try,learn", "")
    with engine.begin() as conn:
        for chunk in range(0, posts, 5000):
            size = min(5000, posts - chunk)
            base = chunk + 1
            when = [end - timedelta(seconds=rng.uniform(0, 90 * 86400)) for _ in range(size)]
            conn.execute(insert(Post), [
                {"id": base + i, "workspace_id": ws_id, "text": f"post {base + i}",
                 "tags": "", "status": PostStatus.approved, "scheduled_at": w,
                 "created_at": w, "updated_at": w, "tag_source": "manual", "version": 1,
                 "link": "", "dm_keyword": "", "dm_product_url": "", "dm_prefill": "",
                 "dm_call_to_action": "", "media_path": "", "media_mime": "",
                 "scheduled_local": "", "scheduled_tz": ""} for i, w in enumerate(when)])
            conn.execute(insert(Publication), [
                {"id": base + i, "post_id": base + i, "account_id": ids[(base + i) % 10],
                 "workspace_id": ws_id, "status": PublicationStatus.published,
                 "scheduled_at": w, "published_at": w, "remote_id": str(base + i),
                 "remote_state": "{}", "attempt_id": "", "attempts": 0,
                 "idempotency_key": "", "fingerprint": "", "remote_url": "", "last_error": "",
                 "updated_at": w} for i, w in enumerate(when)])
            summaries, readings = [], []
            post_tags = [rng.choice(tags) for _ in when]
            for i, w in enumerate(when):
                engagements = rng.lognormvariate(3, 0.7)
                impressions = rng.lognormvariate(7, 0.3)
                summaries.append({
                    "publication_id": base + i, "account_id": ids[(base + i) % 10],
                    "workspace_id": ws_id, "post_id": base + i, "published_at": w,
                    "status": "done", "reason": "", "stage": 6, "latest": "{}",
                    "tags": post_tags[i], "slot": local_slot(w, "Europe/Warsaw"),
                    "impressions": impressions, "engagements": engagements,
                    "denominator": impressions,
                    "score": engagement_score(engagements, impressions)})
                for k in range(per_post):
                    readings.append({"publication_id": base + i,
                                     "account_id": ids[(base + i) % 10], "workspace_id": ws_id,
                                     "metric": ("likes", "reposts", "replies", "impressions",
                                                "link_clicks")[k % 5],
                                     "value": float(k), "read_at": w + timedelta(hours=k)})
            conn.execute(insert(MetricCollection), summaries)
            if readings:
                conn.execute(insert(MetricReading), readings)
        if engine.dialect.name == "postgresql":  # explicit ids: move the sequences past them
            for table in ("post", "publication"):
                conn.execute(text(f"SELECT setval('{table}_id_seq', "
                                  f"(SELECT max(id) FROM {table}))"))
    engine.dispose()
    return ws_id


def time_report(url: str, ws_id: int, runs: int = 7) -> dict[str, float]:
    from planner import insight
    from planner.db import make_engine, session_scope
    from planner.models import Workspace

    engine = make_engine(url)
    times = []
    for _ in range(runs):
        with session_scope(engine) as s:
            started = time.perf_counter()
            insight.report(session=s, workspace=s.get(Workspace, ws_id))
            times.append((time.perf_counter() - started) * 1000)
    engine.dispose()
    return summary(times[1:])


def time_grid_best_times(url: str, ws_id: int, runs: int = 7) -> dict[str, float]:
    """What the slot grid computes per click: one account's best times (the busiest's)."""
    from sqlalchemy import func
    from sqlmodel import col, select

    from planner import insight
    from planner.db import make_engine, session_scope
    from planner.models import Workspace
    from planner.models_insight import MetricCollection

    engine = make_engine(url)
    times = []
    with session_scope(engine) as s:
        account_id = s.exec(select(MetricCollection.account_id).where(
            MetricCollection.workspace_id == ws_id).group_by(
            col(MetricCollection.account_id)).order_by(func.count().desc()).limit(1)).one()
    for _ in range(runs):
        with session_scope(engine) as s:
            started = time.perf_counter()
            workspace = s.get(Workspace, ws_id)
            assert workspace is not None
            insight.account_best_times(session=s, workspace=workspace, account_id=account_id)
            times.append((time.perf_counter() - started) * 1000)
    engine.dispose()
    return summary(times[1:])


def collection(url: str, n: int) -> dict[str, float]:
    from planner import accounts, insight
    from planner.db import make_engine, session_scope
    from planner.models import (
        Account,
        Post,
        PostStatus,
        Publication,
        PublicationStatus,
    )
    from planner.settings import get_settings
    from planner.team import workspaces
    from publishers import get_publisher, netguard
    from publishers.base import Content, PublishContext
    from sandbox import EXTERNAL_IDS, FakePlatform, credentials_for

    fake = FakePlatform()
    fake.start()
    get_settings()  # reads the operator's allowed hosts (and resets the guard) first
    netguard.allow(fake.host)  # then the loopback fake, as main.py allows the demo's
    engine = make_engine(url)
    try:
        with session_scope(engine) as s:
            ws = workspaces.create_workspace(session=s, name="Collect", timezone="UTC")
            made = {p: accounts.create_account(
                session=s, workspace_id=ws.id or 0, platform=p, handle=f"c-{p}",
                api_base=fake.base_url, credentials=credentials_for(p, f"c-{p}"),
                external_id=EXTERNAL_IDS[p]) for p in ("mastodon", "bluesky")}
            refs = {p: accounts.account_ref(a, credentials_for(p, f"c-{p}"))
                    for p, a in made.items()}
            ids = {p: a.id or 0 for p, a in made.items()}
            ws_id = ws.id or 0
        published = datetime.now(UTC) - timedelta(hours=2)
        for i in range(n):
            platform = ("mastodon", "bluesky")[i % 2]
            remote = get_publisher(platform).publish(
                Content(text=f"bench post {i}"), refs[platform],
                PublishContext(idempotency_key=f"k{i}", fingerprint="f")).remote_id
            with session_scope(engine) as s:
                post = Post(workspace_id=ws_id, text=f"bench post {i}", tags="care",
                            status=PostStatus.approved)
                s.add(post)
                s.flush()
                s.add(Publication(post_id=post.id or 0, account_id=ids[platform],
                                  workspace_id=ws_id, status=PublicationStatus.published,
                                  published_at=published, remote_id=remote))
        started = time.perf_counter()
        read = rounds = 0
        while read < n and rounds < 100:
            result = insight.collect_due(engine, schedule="1h,6h", batch=200)
            read += result.read
            rounds += 1
        elapsed = time.perf_counter() - started
        # A 429: the account is left alone until its reset, the other goes on.
        with session_scope(engine) as s:
            for pub in s.exec(__import__("sqlmodel").select(Publication)).all():
                pub.published_at = published - timedelta(hours=5)
                s.add(pub)
            from planner.models_insight import MetricCollection
            for row in s.exec(__import__("sqlmodel").select(MetricCollection)).all():
                row.published_at = published - timedelta(hours=5)
                row.next_due_at = datetime.now(UTC) - timedelta(minutes=1)
                s.add(row)
        fake.inject("read", "429", platform="mastodon")
        before = len(fake.requests)
        limited = insight.collect_due(engine, schedule="1h,6h", batch=400)
        mastodon_reads = sum(1 for _, path, *_ in fake.requests[before:]
                             if path.startswith("/api/v1/statuses/"))
        with session_scope(engine) as s:
            reset = s.get(Account, ids["mastodon"]).next_allowed_at
        return {"readings": read, "seconds": elapsed, "per_second": read / elapsed,
                "rounds": rounds, "mastodon_reads_after_429": mastodon_reads,
                "bluesky_read_on": limited.read, "reset_set": reset is not None}
    finally:
        fake.stop()
        engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--db", default="postgres", choices=["postgres", "sqlite", "all"])
    parser.add_argument("--posts", type=int, default=100_000)
    parser.add_argument("--readings-per-post", type=int, default=10)
    parser.add_argument("--collect", type=int, default=600)
    args = parser.parse_args()
    kinds = ["sqlite", "postgres"] if args.db == "all" else [args.db]
    rows = []
    for kind in kinds:
        with fresh_database(kind) as url:
            started = time.perf_counter()
            ws_id = seed(url, args.posts, args.readings_per_post)
            from planner.db import make_engine

            engine = make_engine(url)
            with engine.connect() as conn:  # what autovacuum does after a bulk load
                conn.execute(text("ANALYZE"))
                conn.commit()
            engine.dispose()
            print(f"{kind}: seeded {args.posts} posts, {args.posts * args.readings_per_post} "
                  f"readings in {time.perf_counter() - started:.0f} s")
            stats = time_report(url, ws_id)
            print(f"{kind}: report {stats}")
            grid = time_grid_best_times(url, ws_id)
            print(f"{kind}: one account's best times (the slot grid) {grid}")
            rows.append([kind, f"{args.posts:,}", f"{args.posts * args.readings_per_post:,}",
                         f"{stats['p50']:.0f}", f"{stats['p95']:.0f}", f"{grid['p50']:.0f}"])
            if args.collect:
                result = collection(url, args.collect)
                print(f"{kind}: collection {result}")
    print_table("Insight report, one workspace",
                ["database", "posts", "readings", "report p50 ms", "report p95 ms",
                 "one account's best times p50 ms"], rows)


if __name__ == "__main__":
    main()
