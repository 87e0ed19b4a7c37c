"""Time: downtime past the lateness window, and local times around DST transitions."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from fake_platform import FakePlatform
from seed import FINAL, publications, seed_publications
from sqlalchemy import text
from sqlalchemy.engine import Engine

from planner.dispatch import DbClock, DispatchConfig, Dispatcher

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


def local_to_utc(local: str, zone: str, fold: int) -> datetime:
    wall = datetime.fromisoformat(local).replace(tzinfo=ZoneInfo(zone), fold=fold)
    return wall.astimezone(UTC)


def test_dst_local_times_publish_at_the_right_utc_instant(engine: Engine,
                                                          platform: FakePlatform) -> None:
    instants = [local_to_utc(local, zone, fold) for zone, local, fold, _ in DST_CASES]
    assert [i.strftime("%Y-%m-%dT%H:%M") for i in instants] == [c[3] for c in DST_CASES]
    ids = seed_publications(engine, n=len(instants), api_base=platform.url,
                            platforms=("fake-idem",), scheduled_at=instants)
    by_id = dict(zip(ids, instants, strict=True))

    # Step the dispatcher's view of the database clock to just before and just after each
    # instant (test-only skew): nothing goes early, each goes at its instant.
    for pid, instant in sorted(by_id.items(), key=lambda item: item[1]):
        for offset, expect_published in ((-1.0, False), (0.3, True)):
            skew = (instant - db_now(engine)).total_seconds() + offset
            dispatcher = Dispatcher(engine, DispatchConfig(threads=4, lease_seconds=5,
                                                           clock_skew_seconds=skew))
            dispatcher.tick()
            assert dispatcher.wait_idle(10)
            dispatcher.shutdown()
            row = next(r for r in publications(engine) if r["id"] == pid)
            assert (row["status"] == "published") is expect_published, (instant, row)
        published_at = _as_utc(row["published_at"])
        assert instant <= published_at < instant + timedelta(seconds=3)
    assert len(platform.creates()) == len(instants)
