"""Many real worker processes on one database: every publication is created exactly once."""

from __future__ import annotations

import pytest
from fake_platform import FakePlatform
from seed import seed_publications, status_counts
from sqlalchemy import text
from sqlalchemy.engine import Engine

pytestmark = pytest.mark.faults


def test_claim_race_creates_each_exactly_once(engine: Engine, platform: FakePlatform,
                                              spawn_worker) -> None:  # type: ignore[no-untyped-def]
    n = 2000
    workers = 2 if engine.dialect.name == "sqlite" else 4
    platform.latency = 0.01
    seed_publications(engine, n=n, api_base=platform.url, accounts=40,
                      platforms=("fake-noidem", "fake-idem"))

    procs = [spawn_worker(threads=16) for _ in range(workers)]
    codes = [proc.wait(timeout=150) for proc in procs]

    assert codes == [0] * workers
    assert status_counts(engine) == {"published": n}
    counts = platform.create_counts()
    assert len(counts) == n
    assert max(counts.values()) == 1
    with engine.connect() as conn:
        used = conn.execute(text("SELECT count(DISTINCT worker) FROM attempt")).scalar_one()
        outcomes = dict(conn.execute(text(
            "SELECT outcome || ':' || error_class, count(*) FROM attempt GROUP BY 1")).all())
        odd = conn.execute(text("SELECT outcome, detail FROM attempt WHERE outcome != "
                                "'published' LIMIT 5")).all()
    assert used >= 2, "the workers did not actually race"
    # Every publication got exactly one successful attempt (a reset connection under load is
    # an unknown outcome, reconciled before any second send: allowed, but never a duplicate).
    assert outcomes.get("published:", 0) + outcomes.get("reconcile_found:", 0) == n, (
        outcomes, odd)
