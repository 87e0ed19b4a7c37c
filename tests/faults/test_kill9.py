"""kill -9 at each phase, repeated: never a second create on a platform without idempotency,
and every publication ends in a final state."""

from __future__ import annotations

import signal
import time

import pytest
from fake_platform import FakePlatform
from seed import FINAL, publications, seed_publications, status_counts
from sqlalchemy import text
from sqlalchemy.engine import Engine

pytestmark = pytest.mark.faults

KILLS_PER_PHASE = 5


@pytest.mark.parametrize("phase", ["after_claim", "after_send", "before_record"])
def test_kill9_at_each_phase(engine: Engine, platform: FakePlatform, spawn_worker,  # type: ignore[no-untyped-def]
                             phase: str) -> None:
    platform.latency = 0.4  # the kill after_send (100 ms in) lands while the platform answers
    n = 30  # each killed worker takes at most 4 (3 threads + 1 claimed ahead): some stay due
    seed_publications(engine, n=n, api_base=platform.url, accounts=6,
                      platforms=("fake-noidem", "fake-idem"))

    for round_ in range(KILLS_PER_PHASE):
        proc = spawn_worker(kill_at=phase, threads=3, lease=2.0)
        code = proc.wait(timeout=60)
        # Every round's worker reaches the phase and dies there, none finishes the work.
        assert code == -signal.SIGKILL, f"round {round_ + 1}: exit code {code}"
        assert status_counts(engine).get("pending", 0) > 0

    final = spawn_worker(threads=8, lease=2.0)
    assert final.wait(timeout=90) == 0

    rows = publications(engine)
    assert all(r["status"] in FINAL for r in rows), status_counts(engine)
    counts = platform.create_counts()
    duplicates = {k: v for k, v in counts.items() if v > 1}
    assert duplicates == {}
    # The fake's lookups are exact, so every unknown outcome was resolved: all published.
    assert status_counts(engine) == {"published": n}
    assert len(counts) == n
    with engine.connect() as conn:
        open_attempts = conn.execute(text(
            "SELECT count(*) FROM attempt a JOIN publication p ON p.id = a.publication_id "
            "WHERE a.finished_at IS NULL")).scalar_one()
        outcomes = dict(conn.execute(text(
            "SELECT outcome, count(*) FROM attempt GROUP BY outcome")).all())
    assert open_attempts == 0
    if phase != "after_claim":
        # Each kill left posts created (or maybe created) but unrecorded: found again by
        # reconciliation, never sent again.
        assert outcomes.get("lease_expired", 0) >= KILLS_PER_PHASE, outcomes
        assert outcomes.get("reconcile_found", 0) >= KILLS_PER_PHASE, outcomes
    else:
        # Killed before anything was sent: nothing to reconcile, every post sent once.
        assert outcomes == {"published": n}, outcomes


def test_sigstopped_worker_past_its_lease_is_fenced(engine: Engine, platform: FakePlatform,
                                                     spawn_worker) -> None:  # type: ignore[no-untyped-def]
    platform.latency = 1.5
    [pid] = seed_publications(engine, n=1, api_base=platform.url, platforms=("fake-noidem",))

    stalled = spawn_worker(threads=1, lease=2.0)
    _wait_for(lambda: len(platform.creates()) == 1, 30, "the first create")
    stalled.send_signal(signal.SIGSTOP)
    try:
        rescuer = spawn_worker(threads=1, lease=2.0)
        assert rescuer.wait(timeout=60) == 0
    finally:
        stalled.send_signal(signal.SIGCONT)
    assert stalled.wait(timeout=30) == 0

    assert len(platform.creates()) == 1
    with engine.connect() as conn:
        row = conn.execute(text("SELECT status, attempt_id, remote_id FROM publication "
                                "WHERE id = :id"), {"id": pid}).one()
        attempts = conn.execute(text(
            "SELECT attempt_id, worker, outcome FROM attempt WHERE publication_id = :id "
            "ORDER BY id"), {"id": pid}).all()
    assert row.status == "published"
    outcomes = [a.outcome for a in attempts]
    # The stalled worker's attempt was closed by the reaper, the rescuer found the post; the
    # stalled worker's late "published" write matched no row.
    assert outcomes == ["lease_expired", "reconcile_found"], attempts
    assert attempts[0].worker.endswith(f":{stalled.pid}")
    assert attempts[1].worker.endswith(f":{rescuer.pid}")
    assert row.attempt_id == attempts[1].attempt_id


def _wait_for(condition, timeout: float, what: str) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.01)


def test_sigterm_stops_gracefully_and_records_what_was_in_flight(
        engine: Engine, platform: FakePlatform, spawn_worker) -> None:  # type: ignore[no-untyped-def]
    platform.latency = 1.0
    seed_publications(engine, n=3, api_base=platform.url, accounts=3,
                      platforms=("fake-noidem",))
    worker = spawn_worker(threads=3, exit_when_idle=False)
    _wait_for(lambda: len(platform.creates()) == 3, 30, "three creates")
    worker.send_signal(signal.SIGTERM)
    assert worker.wait(timeout=30) == 0
    # The sends that were in flight when the signal came were finished and recorded.
    assert status_counts(engine) == {"published": 3}
    assert len(platform.creates()) == 3
