"""Three workers on PostgreSQL, killed with kill -9 in mid-send, while the platform answers
ambiguously and the account's timeline is longer than one page of lookups.

The leases here are ten minutes long: if the dead workers' rows came back only when their
leases ran out, the surviving workers would give up (``--max-seconds``) with rows stuck. They
come back because each worker holds a liveness lock (``planner.publishing.liveness``).
"""

from __future__ import annotations

import signal

import pytest
from fake_platform import FakePlatform
from seed import FINAL, publications, seed_publications, status_counts
from sqlalchemy import text
from sqlalchemy.engine import Engine

pytestmark = pytest.mark.faults

ROUNDS = 3
WORKERS = 3
LONG_LEASE = 600.0


def test_kill9_of_three_workers_with_ambiguous_replies_on_a_long_timeline(
        engine: Engine, platform: FakePlatform, spawn_worker) -> None:  # type: ignore[no-untyped-def]
    if engine.dialect.name != "postgresql":
        pytest.skip("several worker processes at once need PostgreSQL")
    n = 48
    platform.latency = 0.4  # the kills (100-500 ms after a send starts) land mid-request
    platform.hang_seconds = 1.0
    platform.others_after_create = 6  # our post is off the first lookup page at once
    ids = seed_publications(engine, n=n, api_base=platform.url, accounts=6,
                            platforms=("fake-x", "fake-idem"))
    # Every third create lands and loses its answer (timeout or 500).
    platform.inject(*(["create_then_timeout", "", "create_then_5xx", "", "", ""] * 12))

    for round_ in range(ROUNDS):
        killed = [spawn_worker(kill_at="after_send", kill_delay_ms=100 + 200 * i, threads=4,
                               lease=LONG_LEASE) for i in range(WORKERS)]
        for proc in killed:
            assert proc.wait(timeout=60) == -signal.SIGKILL, f"round {round_ + 1}"

    survivors = [spawn_worker(threads=8, lease=LONG_LEASE, max_seconds=120)
                 for _ in range(WORKERS)]
    codes = [proc.wait(timeout=180) for proc in survivors]

    rows = publications(engine)
    stuck = [r for r in rows if r["status"] not in FINAL]
    counts = platform.create_counts()
    duplicates = {k: v for k, v in counts.items() if v > 1}
    published = [r for r in rows if r["status"] == "published"]
    lost = [r for r in published if counts.get((r["handle"], r["text"]), 0) == 0]
    with engine.connect() as conn:
        maybe = set(conn.execute(text(
            "SELECT DISTINCT publication_id FROM attempt WHERE outcome IN "
            "('unknown', 'lease_expired', 'duplicate')")).scalars())
        outcomes = dict(conn.execute(text(
            "SELECT outcome, count(*) FROM attempt GROUP BY outcome")).all())
    unresolved = [r for r in rows if r["id"] in maybe
                  and r["status"] not in ("published", "needs_review")]
    create_calls = sum(1 for _at, _h, _f, _s in platform.requests)
    print(f"\n{ROUNDS} rounds x {WORKERS} workers killed; {n} publications: "
          f"{status_counts(engine)}; create calls per post {create_calls / n:.2f} "
          f"({create_calls} POSTs, {len(platform.creates())} created); "
          f"duplicates {len(duplicates)}, lost {len(lost)}, stuck {len(stuck)}; "
          f"maybe-created {len(maybe)}; attempts {outcomes}")

    assert codes == [0] * WORKERS, (codes, status_counts(engine))
    assert stuck == [] and duplicates == {} and lost == [] and unresolved == []
    assert len(rows) == len(ids)
    # No post may be live and recorded as failed.
    assert not [r for r in rows if r["status"] == "failed"
                and counts.get((r["handle"], r["text"]), 0)]
    assert outcomes.get("lease_expired", 0) >= 1  # a kill did land mid-send
