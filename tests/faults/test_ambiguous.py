"""Ambiguous answers never produce a duplicate; a 429 is respected by every send after it."""

from __future__ import annotations

import pytest
from fake_platform import FakePlatform
from seed import FINAL, publications, seed_publications, status_counts
from sqlalchemy import text
from sqlalchemy.engine import Engine

pytestmark = pytest.mark.faults


def _all_final(engine: Engine):  # type: ignore[no-untyped-def]
    return lambda: all(r["status"] in FINAL for r in publications(engine))


@pytest.mark.parametrize(("platform_name", "fault"), [
    ("fake-noidem", "create_then_timeout"),
    ("fake-noidem", "create_then_5xx"),
    ("fake-noidem", "5xx_before"),
    ("fake-noidem", "reset"),
    ("fake-idem", "create_then_timeout"),
    ("fake-idem", "create_then_5xx"),
])
def test_ambiguous_answer_creates_once(engine: Engine, platform: FakePlatform, run_worker,  # type: ignore[no-untyped-def]
                                       platform_name: str, fault: str) -> None:
    platform.hang_seconds = 2.0  # longer than the send timeout (lease 2 s -> timeout 1 s)
    [pid] = seed_publications(engine, n=1, api_base=platform.url, platforms=(platform_name,))
    platform.inject(fault)

    run_worker(_all_final(engine))

    assert status_counts(engine) == {"published": 1}
    assert len(platform.creates()) == 1
    with engine.connect() as conn:
        outcomes = list(conn.execute(text(
            "SELECT outcome FROM attempt WHERE publication_id = :id ORDER BY id"),
            {"id": pid}).scalars())
    assert outcomes[-1] in ("published", "reconcile_found")
    assert len(outcomes) >= 2, outcomes


def test_unknown_outcome_without_a_reliable_lookup_goes_to_a_person(
        engine: Engine, platform: FakePlatform, run_worker) -> None:  # type: ignore[no-untyped-def]
    [pid] = seed_publications(engine, n=1, api_base=platform.url, platforms=("fake-noidem",))
    platform.inject("create_then_5xx")
    platform.lookup_broken = True

    run_worker(_all_final(engine))

    [row] = publications(engine)
    assert row["status"] == "needs_review"
    assert "Could not tell whether this was published" in str(row["last_error"])
    assert len(platform.creates()) == 1
    with engine.connect() as conn:
        outcomes = list(conn.execute(text(
            "SELECT outcome FROM attempt WHERE publication_id = :id ORDER BY id"),
            {"id": pid}).scalars())
    assert outcomes == ["unknown", "reconcile_unknown"]


def test_rate_limit_holds_every_send_of_the_account_until_reset(
        engine: Engine, platform: FakePlatform, run_worker) -> None:  # type: ignore[no-untyped-def]
    seed_publications(engine, n=6, api_base=platform.url, platforms=("fake-noidem",))
    platform.inject("429:1.5")

    # One send at a time, so "after the 429" is well defined: every later call must wait.
    run_worker(_all_final(engine), threads=1)

    assert status_counts(engine) == {"published": 6}
    assert platform.calls_during_limit == []
    assert len(platform.creates()) == 6
    with engine.connect() as conn:
        limited = conn.execute(text("SELECT count(*) FROM attempt WHERE outcome = "
                                    "'rate_limited'")).scalar_one()
        counted = conn.execute(text("SELECT sum(attempts) FROM publication")).scalar_one()
        next_allowed = conn.execute(text("SELECT next_allowed_at FROM account")).scalar_one()
    assert limited == 1
    assert counted == 6  # the 429 did not use up an attempt
    assert next_allowed is not None
