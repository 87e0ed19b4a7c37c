"""The real Mastodon (idempotent), Facebook and X (no idempotency) adapters against the
loopback fake of their APIs (publishers.fakes): ambiguous answers and kill -9 never duplicate."""

from __future__ import annotations

import signal

import pytest
from seed import FINAL, publications, seed_publications, status_counts
from sqlalchemy import text
from sqlalchemy.engine import Engine

pytestmark = pytest.mark.faults

fakes = pytest.importorskip("sandbox")

PLATFORMS = ("mastodon", "facebook", "x")


@pytest.fixture
def real_fake():  # type: ignore[no-untyped-def]
    fake = fakes.FakePlatform(hang_seconds=2.0)
    fake.start()
    yield fake
    fake.stop()


def seed_real(engine: Engine, fake, n: int) -> list[int]:  # type: ignore[no-untyped-def]
    from planner.accounts.crypto import encrypt_credentials

    ids = seed_publications(engine, n=n, api_base=fake.base_url, accounts=len(PLATFORMS),
                            platforms=PLATFORMS, text_prefix="real")
    with engine.begin() as conn:
        for account_id, platform, handle in conn.execute(text(
                "SELECT id, platform, handle FROM account")).all():
            conn.execute(text("UPDATE account SET credentials_enc = :c, external_id = :e "
                              "WHERE id = :i"),
                         {"c": encrypt_credentials(fakes.credentials_for(platform, handle)),
                          "e": fakes.EXTERNAL_IDS[platform], "i": account_id})
    return ids


def creates_by_platform(fake) -> dict[str, int]:  # type: ignore[no-untyped-def]
    counts: dict[str, int] = {}
    for create in fake.creates:
        counts[create.platform] = counts.get(create.platform, 0) + 1
    return counts


@pytest.mark.parametrize("kind", ["create_then_timeout", "create_then_5xx",
                                  "create_then_reset", "5xx_before_create"])
def test_real_adapters_never_duplicate_after_an_ambiguous_answer(
        engine: Engine, real_fake, run_worker, kind: str) -> None:  # type: ignore[no-untyped-def]
    seed_real(engine, real_fake, n=len(PLATFORMS))
    for platform in PLATFORMS:
        real_fake.inject("create", kind, platform=platform)

    run_worker(lambda: all(r["status"] in FINAL for r in publications(engine)), timeout=40)

    counts = creates_by_platform(real_fake)
    assert all(counts.get(p, 0) <= 1 for p in PLATFORMS), counts
    rows = {r["platform"]: r for r in publications(engine)}
    for platform, row in rows.items():
        # The fake's feeds are exact, so every ambiguity resolves: published exactly once.
        assert row["status"] == "published", (platform, row)
        assert counts.get(platform) == 1, (platform, counts)


def test_real_adapters_kill9_after_the_request_left(engine: Engine, real_fake,  # type: ignore[no-untyped-def]
                                                   spawn_worker) -> None:
    real_fake.latency_ms = 300  # the kill (100 ms in) lands while the platform answers
    n = 6
    seed_real(engine, real_fake, n=n)
    proc = spawn_worker(kill_at="after_send", threads=3, lease=2.0)
    assert proc.wait(timeout=60) == -signal.SIGKILL
    real_fake.latency_ms = 0
    assert spawn_worker(threads=3, lease=2.0).wait(timeout=90) == 0

    rows = publications(engine)
    assert all(r["status"] in FINAL for r in rows), status_counts(engine)
    counts = creates_by_platform(real_fake)
    published = {p: sum(1 for r in rows if r["platform"] == p and r["status"] == "published")
                 for p in PLATFORMS}
    # Never more creates than publications per platform; each published one created once.
    for platform in PLATFORMS:
        assert counts.get(platform, 0) == n // len(PLATFORMS), counts
        assert published[platform] == n // len(PLATFORMS), (platform, rows)
    with engine.connect() as conn:
        found = conn.execute(text("SELECT count(*) FROM attempt WHERE outcome = "
                                  "'reconcile_found'")).scalar_one()
    assert found >= 1  # at least one post created by the killed worker was found, not resent
