"""Housekeeping on the database clock: expired leases and publications too late to send."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from sqlalchemy import text
from sqlalchemy.engine import Engine

from planner.publishing.claiming import DbClock, write_transaction
from planner.publishing.config import DispatchConfig
from planner.publishing.liveness import dead_owner_sql

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Reaped:
    released: int  # claimed but never sent: back to pending / retry_wait
    unknown: int  # sending when the lease ran out: reconciled next


def reap_expired_leases(engine: Engine, config: DispatchConfig) -> Reaped:
    """Expired ``claimed`` -> pending/retry_wait (nothing was sent); ``sending`` -> unknown.

    On PostgreSQL a claim whose worker is dead (its liveness lock is gone, see
    ``planner.publishing.liveness``) is treated the same at once, without waiting for its
    lease; a dead worker's reconciliation is made claimable again."""
    clock = DbClock(engine, config.clock_skew_seconds)
    now = clock.now()
    expired = f"lease_until < {now}"
    if not clock.sqlite:
        expired = f"({expired} OR {dead_owner_sql()})"
    with write_transaction(engine) as conn:
        released = conn.execute(text(
            "UPDATE publication SET status = CASE WHEN attempts > 0 THEN 'retry_wait' "
            f"ELSE 'pending' END, lease_until = NULL, updated_at = {now} "
            f"WHERE status = 'claimed' AND {expired}")).rowcount
        lost = conn.execute(text(
            "UPDATE publication SET status = 'unknown', lease_until = NULL, last_error = "
            "'the worker stopped while sending (crash or stall); reconciling', "
            f"updated_at = {now} WHERE status = 'sending' AND {expired} "
            "RETURNING id, attempt_id")).all()
        if not clock.sqlite:
            # A dead worker's reconciliation: claimable now (a rate-limited one is still held
            # by its account's next_allowed_at, which the claim checks).
            conn.execute(text(
                f"UPDATE publication SET lease_until = NULL, updated_at = {now} "
                f"WHERE status = 'unknown' AND lease_until >= {now} AND {dead_owner_sql()}"))
        for publication_id, attempt_id in lost:
            conn.execute(text(
                f"UPDATE attempt SET finished_at = {now}, outcome = 'lease_expired', "
                "detail = 'the worker died or its lease expired while sending; outcome "
                "unknown' "
                "WHERE publication_id = :pid AND attempt_id = :aid AND finished_at IS NULL"),
                {"pid": publication_id, "aid": attempt_id})
    if released or lost:
        log.warning("reaper: %d claimed lease(s) released, %d sending lease(s) expired",
                    released, len(lost))
    return Reaped(released=int(released), unknown=len(lost))


def sweep_missed(engine: Engine, config: DispatchConfig) -> int:
    """Publications that never started and are later than the lateness window -> missed; and
    publications tried before and due again but not picked up for the give-up age -> missed."""
    clock = DbClock(engine, config.clock_skew_seconds)
    late = clock.now(-config.lateness_window_minutes * 60)
    window = int(config.lateness_window_minutes)
    with write_transaction(engine) as conn:
        missed = conn.execute(text(
            "UPDATE publication SET status = 'missed', lease_until = NULL, last_error = "
            f"'not sent: more than {window} minutes past its time when the worker got to it; "
            f"reschedule it or publish it by hand', updated_at = {clock.now()} "
            "WHERE status = 'pending' AND attempts = 0 AND due_at IS NOT NULL "
            f"AND scheduled_at IS NOT NULL AND scheduled_at < {late} "
            "AND post_id IN (SELECT id FROM post WHERE status = 'approved' "
            "AND import_id IS NULL)")).rowcount
        # Tried before and due again, but not picked up for the give-up age (its account
        # waits for a reconnect or is paused, its platform is held): missed too, so it never
        # goes out days late. Rows in ordinary backoff are due again within minutes and a
        # person's "send again" makes a row due now, so neither is caught. Nothing of it is
        # on the platform (an outcome that may have created the post is 'unknown' and only a
        # lookup that did not find it puts it back here), so a person may send it knowingly.
        hours = config.give_up_hours
        given_up = conn.execute(text(
            "UPDATE publication SET status = 'missed', lease_until = NULL, last_error = "
            f"'not sent: waited more than {hours:g} hours to be sent again (its account could "
            f"not send); reschedule it or send it again', updated_at = {clock.now()} "
            f"WHERE status = 'retry_wait' AND due_at IS NOT NULL "
            f"AND due_at < {clock.now(-hours * 3600)}")).rowcount
    if missed or given_up:
        log.warning("lateness sweep: %d publication(s) missed, %d given up after %g hours",
                    missed, given_up, hours)
    return int(missed) + int(given_up)


def outstanding(engine: Engine) -> int:
    """Publications the worker still has to act on (used by --exit-when-idle)."""
    with engine.connect() as conn:
        return int(conn.execute(text(
            "SELECT count(*) FROM publication WHERE status IN "
            "('claimed', 'sending', 'unknown', 'retry_wait') "
            "OR (status = 'pending' AND due_at IS NOT NULL)")).scalar_one())
