"""Dead workers noticed at once on PostgreSQL: a claim carries its worker's liveness key, and
the reaper returns a dead worker's rows without waiting for the lease."""

from __future__ import annotations

import pytest
from sqlalchemy import text
from sqlalchemy.engine import Engine

from planner.models import PublicationStatus
from planner.publishing.claiming import claim_due
from planner.publishing.liveness import Liveness
from planner.publishing.reaper import reap_expired_leases
from planner.publishing.recording import Recorder
from tests.planner.publishing.test_dispatch import config, make_world, pub

S = PublicationStatus


@pytest.fixture
def pg(engine: Engine) -> Engine:
    if engine.dialect.name != "postgresql":
        pytest.skip("worker liveness is PostgreSQL's; SQLite keeps the lease")
    return engine


def test_a_dead_workers_claims_come_back_at_once_a_live_ones_stay(pg: Engine) -> None:
    cfg = config(lease_seconds=600)  # far longer than the test: only liveness can act
    ids = make_world(pg, 3)
    dead, alive = Liveness(pg), Liveness(pg)
    try:
        assert dead.owner.startswith("lv") and dead.owner != alive.owner
        mine = claim_due(pg, cfg, limit=2, owner=dead.owner)
        theirs = claim_due(pg, cfg, limit=1, owner=alive.owner)
        assert all(j.attempt_id.startswith(dead.owner) and len(j.attempt_id) == 36
                   for j in mine)
        assert Recorder(pg, cfg).to_sending(mine[0])  # one was being sent when it died

        reaped = reap_expired_leases(pg, cfg)
        assert (reaped.released, reaped.unknown) == (0, 0)
        assert pub(pg, mine[0].publication_id).status == S.sending  # still alive: untouched

        dead.close()  # the process is gone: PostgreSQL drops its session lock
        reaped = reap_expired_leases(pg, cfg)
        assert (reaped.released, reaped.unknown) == (1, 1)
        assert pub(pg, mine[0].publication_id).status == S.unknown
        assert pub(pg, mine[1].publication_id).status == S.pending
        assert pub(pg, theirs[0].publication_id).status == S.claimed
        assert {j.publication_id for j in mine + theirs} == set(ids)
    finally:
        dead.close()
        alive.close()


def test_a_lost_lock_connection_is_taken_again_under_the_same_key(pg: Engine) -> None:
    worker = Liveness(pg)
    try:
        owner = worker.owner
        with pg.begin() as conn:
            conn.execute(text("SELECT pg_terminate_backend(:pid)"),
                         {"pid": worker._conn.info.backend_pid})
        assert worker.renew()
        assert worker.owner == owner
    finally:
        worker.close()
