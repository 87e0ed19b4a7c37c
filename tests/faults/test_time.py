"""Time: downtime past the lateness window, and local times around DST transitions."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from fake_adapters import IDEM
from fake_platform import FakePlatform
from seed import FINAL, publications, seed_publications
from sqlalchemy import text
from sqlalchemy.engine import Engine

from planner import posts
from planner.db import session_scope
from planner.errors import Invalid
from planner.models import Account, Role
from planner.posts.schedule import AmbiguousLocalTime
from planner.posts.service import Actor, PostInput
from planner.publishing.claiming import DbClock
from planner.publishing.dispatch import DispatchConfig, Dispatcher
from planner.team import users, workspaces

pytestmark = pytest.mark.faults


def db_now(engine: Engine) -> datetime:
    with engine.connect() as conn:
        value = conn.execute(text(f"SELECT {DbClock(engine).now()}")).scalar_one()
    return _as_utc(value)


def _as_utc(value: object) -> datetime:
    parsed = datetime.fromisoformat(value) if isinstance(value, str) else value
    assert isinstance(parsed, datetime)
    return parsed.replace(tzinfo=UTC)


def test_downtime_of_90_minutes_sends_recent_once_and_misses_old(
        engine: Engine, platform: FakePlatform, run_worker) -> None:  # type: ignore[no-untyped-def]
    now = db_now(engine)
    recent = seed_publications(engine, n=5, api_base=platform.url, text_prefix="recent",
                               scheduled_at=[now - timedelta(minutes=m) for m in
                                             (89, 75, 59, 30, 1)])
    seed_publications(engine, n=3, api_base=platform.url, text_prefix="old",
                      scheduled_at=[now - timedelta(minutes=m) for m in (90, 75, 61)])

    run_worker(lambda: all(r["status"] in FINAL for r in publications(engine)))

    rows = {r["text"]: r for r in publications(engine)}
    # Window 60 min: scheduled 59, 30 and 1 minutes ago go out; 61+ minutes ago are missed.
    expected_sent = {"recent 2 hello", "recent 3 hello", "recent 4 hello"}
    assert {t for t, r in rows.items() if r["status"] == "published"} == expected_sent
    missed = {t for t, r in rows.items() if r["status"] == "missed"}
    assert missed == set(rows) - expected_sent
    assert all("minutes past its time" in str(rows[t]["last_error"]) for t in missed)
    assert sorted(p.text for p in platform.creates()) == sorted(expected_sent)
    assert len(recent) == 5


# (zone, local wall time, fold, the UTC instant it must publish at)
DST_CASES = [
    ("Europe/Warsaw", "2026-03-29T01:30", 0, "2026-03-29T00:30"),  # before spring forward
    ("Europe/Warsaw", "2026-03-29T03:30", 0, "2026-03-29T01:30"),  # after spring forward
    ("Europe/Warsaw", "2026-10-25T02:30", 0, "2026-10-25T00:30"),  # ambiguous, first (CEST)
    ("Europe/Warsaw", "2026-10-25T02:30", 1, "2026-10-25T01:30"),  # ambiguous, second (CET)
    ("Europe/Warsaw", "2026-10-25T03:30", 0, "2026-10-25T02:30"),
    ("America/New_York", "2026-03-08T01:30", 0, "2026-03-08T06:30"),
    ("America/New_York", "2026-03-08T03:30", 0, "2026-03-08T07:30"),
    ("America/New_York", "2026-11-01T01:30", 0, "2026-11-01T05:30"),
    ("America/New_York", "2026-11-01T01:30", 1, "2026-11-01T06:30"),
    ("Australia/Sydney", "2026-04-05T02:30", 0, "2026-04-04T15:30"),  # AEDT, first
    ("Australia/Sydney", "2026-04-05T02:30", 1, "2026-04-04T16:30"),  # AEST, second
    ("Australia/Sydney", "2026-10-04T01:30", 0, "2026-10-03T15:30"),  # before spring forward
    ("Australia/Sydney", "2026-10-04T03:30", 0, "2026-10-03T16:30"),  # after spring forward
]


def schedule_through_the_composer(engine: Engine, api_base: str) -> dict[int, str]:
    """Every DST case as a post the way a person schedules it: its local wall time (and, for
    a time that happens twice, which one) in a workspace of that zone, converted by the
    product (planner.posts -> planner.schedule.to_utc), submitted and approved. Returns
    {publication id: the expected UTC instant}."""
    before_all = datetime(2026, 1, 1, tzinfo=UTC)
    expected: dict[int, str] = {}
    with session_scope(engine) as s:
        author = users.create_user(session=s, email="dst@example.com", password="x" * 12)
        actors: dict[str, tuple[Actor, int]] = {}
        for zone in dict.fromkeys(case[0] for case in DST_CASES):
            workspace = workspaces.create_workspace(session=s, name=f"DST {zone}",
                                                    timezone=zone)
            users.add_member(session=s, workspace=workspace, user=author, role=Role.admin)
            # A Mastodon account as far as the composer's checks go; its sends go to the
            # loopback fake (see publisher_for below).
            account = Account(workspace_id=workspace.id or 0, platform="mastodon",
                              handle=f"dst-{zone.replace('/', '-')}", api_base=api_base)
            s.add(account)
            s.flush()
            actors[zone] = (Actor(user_id=author.id or 0, role=Role.admin,
                                  workspace=workspace), account.id or 0)
        for i, (zone, local, fold, utc) in enumerate(DST_CASES):
            actor, account_id = actors[zone]
            post = posts.create_post(session=s, actor=actor, now=before_all, data=PostInput(
                text=f"dst {i} at {local} ({zone}, fold {fold})", account_ids=[account_id],
                scheduled_local=local, fold=fold))
            posts.submit_for_review(session=s, actor=actor, post_id=post.id or 0,
                                    expected_version=post.version, now=before_all)
            posts.approve(session=s, actor=actor, post_id=post.id or 0,
                          expected_version=post.version, now=before_all,
                          confirm_balance=True)
            [publication] = posts.publications_of(session=s, post_id=post.id or 0)
            expected[publication.id or 0] = utc
        # A wall time in the spring-forward gap is refused, an ambiguous one needs its fold.
        warsaw, account_id = actors["Europe/Warsaw"]
        with pytest.raises(Invalid, match="does not exist"):
            posts.create_post(session=s, actor=warsaw, now=before_all, data=PostInput(
                text="gap", account_ids=[account_id], scheduled_local="2026-03-29T02:30"))
        with pytest.raises(AmbiguousLocalTime):
            posts.create_post(session=s, actor=warsaw, now=before_all, data=PostInput(
                text="twice", account_ids=[account_id], scheduled_local="2026-10-25T02:30"))
    return expected


def test_dst_local_times_publish_at_the_right_utc_instant(engine: Engine,
                                                          platform: FakePlatform) -> None:
    expected = schedule_through_the_composer(engine, platform.url)
    rows = {r["id"]: r for r in publications(engine)}
    by_id = {pid: _as_utc(rows[pid]["scheduled_at"]) for pid in expected}
    # The product's conversion put each at the right instant (due when approved).
    assert {pid: i.strftime("%Y-%m-%dT%H:%M") for pid, i in by_id.items()} == expected

    # Step the dispatcher's view of the database clock to just before and just after each
    # instant (test-only skew): nothing goes early, each goes at its instant.
    for pid, instant in sorted(by_id.items(), key=lambda item: item[1]):
        for offset, expect_published in ((-1.0, False), (0.3, True)):
            skew = (instant - db_now(engine)).total_seconds() + offset
            dispatcher = Dispatcher(engine, DispatchConfig(threads=4, lease_seconds=5,
                                                           clock_skew_seconds=skew),
                                    publisher_for=lambda _platform: IDEM)
            dispatcher.tick()
            assert dispatcher.wait_idle(10)
            dispatcher.shutdown()
            row = next(r for r in publications(engine) if r["id"] == pid)
            assert (row["status"] == "published") is expect_published, (instant, row)
        published_at = _as_utc(row["published_at"])
        assert instant <= published_at < instant + timedelta(seconds=3)
    assert len(platform.creates()) == len(by_id)
