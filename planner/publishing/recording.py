"""Recording what happened to a claimed publication: the fenced writes of one worker.

Every write after the claim is a compare-and-set on the row and its attempt id (``WHERE id =
? AND attempt_id = ? AND status = ?``): zero rows means another worker (or a person) owns the
publication now, and the worker writes nothing. See docs/dispatch.md, "Fencing".
"""

from __future__ import annotations

import json
import os
import re
import socket
from collections.abc import Callable
from datetime import datetime
from functools import lru_cache
from typing import Any

from sqlalchemy import bindparam, text
from sqlalchemy.engine import Connection, Engine

from planner.dbtypes import UTCDateTime
from planner.publishing.claiming import RECONCILE, DbClock, Job, cached_text, write_transaction
from planner.publishing.config import DispatchConfig
from publishers import PublishError, PublishResult, netguard

_host = socket.gethostname()


def worker_id() -> str:
    return f"{_host}:{os.getpid()}"


class LeaseLost(Exception):
    """A fenced write matched no row: another worker owns this publication now."""


@lru_cache(maxsize=64)
def _pyformat(sql: str) -> str:
    """A statement's ``:name`` parameters as psycopg's ``%(name)s``."""
    assert "%" not in sql, "a literal % would need escaping for psycopg"
    return re.sub(r"(?<![:\w]):(\w+)", r"%(\1)s", sql)


def _error_fields(error: BaseException | None) -> tuple[str, int | None, str]:
    if error is None:
        return "", None, ""
    if isinstance(error, PublishError):
        return type(error).__name__, error.status, (error.detail or error.reason)[:2000]
    return type(error).__name__, None, repr(error)[:2000]


class Recorder:
    """The fenced writes of one worker; every method returns False when the lease was lost.

    On PostgreSQL the three writes of every send (``sending`` with its open Attempt, an
    adapter's checkpoint, ``published`` with the Attempt closed) are each one statement run
    in autocommit: the status change and the Attempt row share one atomic statement
    (data-modifying CTEs), one round trip instead of BEGIN, two statements and COMMIT. SQLite
    runs the same writes as short ``BEGIN IMMEDIATE`` transactions (in-process: no round trips
    to save, and a lone deferred statement could fail on a stale WAL snapshot).
    """

    def __init__(self, engine: Engine, config: DispatchConfig) -> None:
        self.engine = engine
        self.config = config
        self.clock = DbClock(engine, config.clock_skew_seconds)
        self.single_statements = not self.clock.sqlite

    def _autocommit_row(self, sql: str, params: dict[str, Any]) -> Any:
        """Run one statement as its own transaction, straight on the pooled psycopg
        connection (no BEGIN and COMMIT round trips, none of SQLAlchemy's per-statement
        work); its first row, or None."""
        with self.engine.connect() as conn:
            raw: Any = conn.connection.driver_connection
            try:
                raw.autocommit = True
                row = raw.execute(_pyformat(sql), params).fetchone()
                raw.autocommit = False
            except BaseException:
                conn.invalidate()  # in an unknown state: never handed out again
                raise
        return row

    def _fence(self, assignments: str, also: str = "") -> str:
        return (f"UPDATE publication SET {assignments}, updated_at = {self.clock.now()} "
                f"WHERE id = :pid AND attempt_id = :aid AND status = :from_status{also}")

    def _account_usable(self) -> str:
        # Checked again at the last moment: a claim queued behind busy threads must not go
        # out after its account was rate limited or disconnected meanwhile.
        now = self.clock.now()
        return (" AND account_id IN (SELECT id FROM account WHERE status = 'ok' AND "
                f"(next_allowed_at IS NULL OR next_allowed_at <= {now}))")

    def fenced_update(self, conn: Connection, job: Job, from_status: str, assignments: str,
                      params: dict[str, Any] | None = None,
                      types: tuple[Any, ...] = ()) -> bool:
        stmt = cached_text(self._fence(assignments))
        if types:
            stmt = stmt.bindparams(*types)
        result = conn.execute(stmt, {"pid": job.publication_id, "aid": job.attempt_id,
                                     "from_status": from_status, **(params or {})})
        return bool(result.rowcount == 1)

    def open_attempt(self, conn: Connection, job: Job) -> None:
        conn.execute(cached_text(
            "INSERT INTO attempt (publication_id, attempt_id, worker, started_at, outcome, "
            f"error_class, detail) VALUES (:pid, :aid, :worker, {self.clock.now()}, "
            "'sending', '', '')"),
            {"pid": job.publication_id, "aid": job.attempt_id, "worker": worker_id()})

    def close_attempt(self, conn: Connection, job: Job, outcome: str,
                      error: BaseException | None = None, detail: str = "") -> None:
        error_class, status, error_detail = _error_fields(error)
        params = {"pid": job.publication_id, "aid": job.attempt_id, "outcome": outcome,
                  "error_class": error_class, "status": status,
                  "detail": (detail or error_detail)[:2000]}
        updated = conn.execute(cached_text(
            f"UPDATE attempt SET finished_at = {self.clock.now()}, outcome = :outcome, "
            "error_class = :error_class, http_status = :status, detail = :detail "
            "WHERE publication_id = :pid AND attempt_id = :aid AND finished_at IS NULL"),
            params).rowcount
        if not updated:
            conn.execute(cached_text(
                "INSERT INTO attempt (publication_id, attempt_id, worker, started_at, "
                "finished_at, outcome, error_class, http_status, detail) VALUES (:pid, :aid, "
                f":worker, {self.clock.now()}, {self.clock.now()}, :outcome, :error_class, "
                ":status, :detail)"), {**params, "worker": worker_id()})

    _SENDING = ("status = 'sending', attempts = attempts + 1, fingerprint = :fp, "
                "idempotency_key = :key, lease_until = {lease}")
    _PUBLISHED = ("status = 'published', remote_id = :rid, remote_url = :url, "
                  "last_error = '', published_at = {now}, lease_until = NULL")

    def to_sending(self, job: Job) -> bool:
        """Commit ``sending``, the fingerprint and the idempotency key, and open the Attempt.

        False when the lease was lost, or when the account was held (rate limit, expired
        token) after the claim: the row then goes back to wait with its account."""
        params = {"pid": job.publication_id, "aid": job.attempt_id, "from_status": "claimed",
                  "fp": job.fingerprint, "key": job.idempotency_key, "worker": worker_id()}
        sending = self._fence(
            self._SENDING.format(lease=self.clock.now(self.config.lease_seconds)),
            self._account_usable())
        if self.single_statements:
            now = self.clock.now()
            ok = self._autocommit_row(
                f"WITH moved AS ({sending} RETURNING id) "
                "INSERT INTO attempt (publication_id, attempt_id, worker, started_at, "
                f"outcome, error_class, detail) SELECT id, :aid, :worker, {now}, "
                "'sending', '', '' FROM moved RETURNING id", params) is not None
        else:
            with write_transaction(self.engine) as conn:
                ok = conn.execute(cached_text(sending), params).rowcount == 1
                if ok:
                    self.open_attempt(conn, job)
        if ok:
            job.attempts += 1
        else:
            self.release(job)
        return ok

    def release(self, job: Job) -> bool:
        """Give a claimed row back untried (to wait, or to the next reconciliation);
        False if it is not ours any more."""
        with write_transaction(self.engine) as conn:
            if job.mode == RECONCILE:
                return self.fenced_update(conn, job, "unknown", "lease_until = NULL")
            return self.fenced_update(conn, job, "claimed", self._RELEASE)

    _RELEASE = ("status = CASE WHEN attempts > 0 THEN 'retry_wait' ELSE 'pending' END, "
                "lease_until = NULL")

    def checkpoint(self, job: Job, state: dict[str, str], from_status: str = "sending") -> None:
        params = {"pid": job.publication_id, "aid": job.attempt_id,
                  "from_status": from_status, "state": json.dumps(state)}
        sql = self._fence("remote_state = :state")
        if self.single_statements:
            ok = self._autocommit_row(sql + " RETURNING id", params) is not None
        else:
            with write_transaction(self.engine) as conn:
                ok = conn.execute(cached_text(sql), params).rowcount == 1
        if not ok:
            raise LeaseLost(f"publication {job.publication_id}: lease lost at checkpoint")

    def published(self, job: Job, result: PublishResult, from_status: str,
                  outcome: str = "published") -> bool:
        """``published`` with the remote id and URL, and the Attempt closed, in one write."""
        detail = f"remote id {result.remote_id}"[:2000]
        params = {"pid": job.publication_id, "aid": job.attempt_id, "from_status": from_status,
                  "rid": result.remote_id[:200], "url": _storable_link(result.url),
                  "outcome": outcome, "detail": detail, "worker": worker_id()}
        now = self.clock.now()
        published = self._PUBLISHED.format(now=now)
        if self.single_statements:
            # The Attempt this worker opened is closed; a reconciliation (which opened none)
            # gets one written, finished. This commit does not wait for the WAL flush: if
            # the database crashes before it, the row is still the durable ``sending`` and
            # is reconciled like any unknown outcome (found again, never sent again).
            moved = self._autocommit_row(
                f"WITH moved AS ({self._fence(published)} RETURNING id), "
                f"closed AS (UPDATE attempt SET finished_at = {now}, outcome = :outcome, "
                "error_class = '', http_status = NULL, detail = :detail "
                "WHERE publication_id IN (SELECT id FROM moved) AND attempt_id = :aid "
                "AND finished_at IS NULL RETURNING id), "
                "opened AS (INSERT INTO attempt (publication_id, attempt_id, worker, "
                "started_at, finished_at, outcome, error_class, http_status, detail) "
                f"SELECT id, :aid, :worker, {now}, {now}, :outcome, '', NULL, :detail "
                "FROM moved WHERE NOT EXISTS (SELECT 1 FROM closed) RETURNING id) "
                "SELECT (SELECT count(*) FROM moved), "
                "set_config('synchronous_commit', 'off', true)", params)
            return bool(moved is not None and moved[0] == 1)
        with write_transaction(self.engine) as conn:
            if not self.fenced_update(conn, job, from_status, published, params):
                conn.rollback()
                return False
            self.close_attempt(conn, job, outcome, detail=detail)
            return True

    def finish(self, job: Job, from_status: str, assignments: str, outcome: str,
               error: BaseException | None, params: dict[str, Any] | None = None,
               types: tuple[Any, ...] = (),
               also: Callable[[Connection], None] | None = None, detail: str = "") -> bool:
        """A fenced status change plus the attempt record, in one transaction."""
        with write_transaction(self.engine) as conn:
            if not self.fenced_update(conn, job, from_status, assignments, params, types):
                conn.rollback()
                return False
            if also is not None:
                also(conn)
            self.close_attempt(conn, job, outcome, error, detail)
            return True

    def rate_limited(self, conn: Connection, job: Job, reset_at: datetime) -> None:
        conn.execute(text(
            "UPDATE account SET next_allowed_at = :reset WHERE id = :acc AND "
            "(next_allowed_at IS NULL OR next_allowed_at < :reset)").bindparams(
                bindparam("reset", type_=UTCDateTime)),
            {"reset": reset_at, "acc": job.account_id})

    def auth_expired(self, conn: Connection, job: Job, reason: str) -> None:
        self._hold_account(conn, job, "needs_reconnect", reason, "needs reconnecting: {reason}. "
                           "Its scheduled posts are held until it is reconnected.")

    def account_held(self, conn: Connection, job: Job, reason: str) -> None:
        """An operator problem (a setting, the platform plan, a permission), not the post's:
        the account's publications wait, and admins are told plainly what to change."""
        self._hold_account(conn, job, "held", reason, "cannot publish until an admin acts: "
                           "{reason}. Its scheduled posts wait; after the change, use Test "
                           "connection on the Accounts page to resume.")

    def _hold_account(self, conn: Connection, job: Job, status: str, reason: str,
                      template: str) -> None:
        changed = conn.execute(text(
            "UPDATE account SET status = :status, status_reason = :reason "
            "WHERE id = :acc AND status = 'ok'"),
            {"status": status, "reason": reason[:500], "acc": job.account_id}).rowcount
        if not changed:
            return  # someone already flagged it (and notified)
        self.notify(conn, job, "{platform} account {handle} "
                    + template.replace("{reason}", reason))

    def needs_review(self, job: Job, from_status: str, message: str, outcome: str,
                     error: BaseException | None = None, detail: str = "", *,
                     assignments: str = "",
                     also: Callable[[Connection], None] | None = None) -> bool:
        """Hand the publication to a person: ``needs_review`` with ``message`` (the story so
        far) and a notification to the account's owner and the workspace's admins.
        ``assignments`` and ``also`` add to the same transaction."""

        def tell(conn: Connection) -> None:
            if also is not None:
                also(conn)
            self.notify(conn, job, "A {platform} post for {handle} needs a person "
                        f"(publication {job.publication_id}): {message}")

        return self.finish(
            job, from_status, "status = 'needs_review', lease_until = NULL, last_error = :err"
            + (f", {assignments}" if assignments else ""),
            outcome, error, {"err": message[:1000]}, detail=detail, also=tell)

    def notify(self, conn: Connection, job: Job, template: str) -> None:
        """A Notification to the account's owner and every workspace admin; ``template`` may
        use ``{platform}`` and ``{handle}``."""
        owner = conn.execute(text("SELECT owner_id, handle, platform FROM account "
                                  "WHERE id = :acc"), {"acc": job.account_id}).one()
        admins = conn.execute(text("SELECT user_id FROM membership WHERE workspace_id = :ws "
                                   "AND role = 'admin'"), {"ws": job.workspace_id}).scalars()
        users = {int(u) for u in admins}
        if owner[0] is not None:
            users.add(int(owner[0]))
        handle = str(owner[1]) if str(owner[1]).startswith("@") else f"@{owner[1]}"
        message = template.replace("{platform}", str(owner[2])).replace(
            "{handle}", handle)[:1000]
        recipients: list[int | None] = list(sorted(users)) or [None]
        for user in recipients:
            conn.execute(text("INSERT INTO notification (workspace_id, user_id, text, "
                              f"created_at) VALUES (:ws, :user, :text, {self.clock.now()})"),
                         {"ws": job.workspace_id, "user": user, "text": message})


def _storable_link(url: str) -> str:
    """The platform's link to the post, kept only when it is safe to show as a link (https,
    or http to a loopback fake): a platform's answer is untrusted and ends up in an href."""
    return netguard.safe_link(url) if len(url) <= 500 else ""
