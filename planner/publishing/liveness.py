"""Worker liveness on PostgreSQL: a session-level advisory lock held for the life of a worker.

Each worker process takes ``pg_advisory_lock(LOCK_SPACE, key)`` on a connection of its own
(outside the pool) and stamps every row it claims with that key: the attempt id it writes is
``lv`` + the key in 8 hex digits + the tail of a fresh uuid (36 characters, like a uuid). The
database drops the lock the moment the process dies (kill -9, a crash, a lost host: the
session ends when its socket closes), so the reaper can see in ``pg_locks`` which claims belong
to no live worker and act at once instead of waiting out the lease.

This only speeds recovery; it is not what keeps a post from going out twice. Every write a
worker makes after its claim stays fenced by the attempt id, so a worker wrongly taken for dead
(its lock connection dropped, say, in a database restart) finds its rows changed and stops.
SQLite (one process) has no such lock and keeps the lease.
"""

from __future__ import annotations

import contextlib
import logging
import os
import random
import socket
import threading
from typing import Any

from sqlalchemy.engine import Engine

log = logging.getLogger(__name__)

# The first half of the two-key advisory lock: Poise worker liveness ("PW").
LOCK_SPACE = 0x5057
PREFIX = "lv"
_TRIES = 8  # distinct random keys tried before giving up on a (very unlikely) collision


def owner_of(key: int) -> str:
    """The attempt-id prefix of the worker holding ``key``: ``lv`` + 8 hex digits."""
    return f"{PREFIX}{key:08x}"


def live_owners_sql() -> str:
    """SQL: the attempt-id prefixes of every worker alive now, in this database."""
    return ("SELECT 'lv' || lpad(to_hex(objid::bigint), 8, '0') FROM pg_locks "
            f"WHERE locktype = 'advisory' AND classid = {LOCK_SPACE} AND objsubid = 2 "
            "AND granted AND database = (SELECT oid FROM pg_database "
            "WHERE datname = current_database())")


def dead_owner_sql(column: str = "attempt_id") -> str:
    """SQL condition: the row was claimed by a worker that is no longer alive."""
    return (f"({column} LIKE 'lv%' AND substr({column}, 1, 10) NOT IN "
            f"({live_owners_sql()}))")


class Liveness:
    """Holds this worker's advisory lock; ``owner`` is '' on SQLite (no liveness: leases)."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.owner = ""
        self._conn: Any = None
        self._key = 0
        self._guard = threading.Lock()
        if engine.dialect.name == "postgresql":
            self.renew()

    def _connect(self) -> Any:
        import psycopg

        url = self.engine.url.set(drivername="postgresql")
        # The process in pg_stat_activity: an operator (or the benchmark) can tell which
        # worker holds which key. PostgreSQL keeps 63 bytes of it.
        name = f"poise-worker-liveness {os.getpid()}@{socket.gethostname()}"[:63]
        return psycopg.connect(url.render_as_string(hide_password=False), autocommit=True,
                               application_name=name)

    def renew(self) -> bool:
        """Make sure the lock is held (call every few seconds): after a lost connection it
        is taken again, under the same key when free. True when held."""
        with self._guard:
            try:
                if self._conn is not None and not self._conn.closed:
                    self._conn.execute("SELECT 1")
                    return True
            except Exception:  # noqa: BLE001 - the session is gone: so is the lock
                log.warning("worker liveness connection lost; taking the lock again")
            self._close()
            try:
                self._conn = self._connect()
                keys = ([self._key] if self._key else []) + [
                    random.randrange(1, 2**31) for _ in range(_TRIES)]
                for key in keys:
                    held = self._conn.execute("SELECT pg_try_advisory_lock(%s, %s)",
                                              (LOCK_SPACE, key)).fetchone()[0]
                    if held:
                        self._key, self.owner = key, owner_of(key)
                        return True
            except Exception:  # noqa: BLE001 - retried at the next renewal
                log.warning("could not take the worker liveness lock", exc_info=True)
                self._close()
                self.owner = ""
                return False
            self._close()
            self.owner = ""  # claims carry plain uuids again: the lease recovers them
            log.error("no free worker liveness key after %d tries", len(keys))
            return False

    def _close(self) -> None:
        if self._conn is not None:
            with contextlib.suppress(Exception):
                self._conn.close()
        self._conn = None

    def close(self) -> None:
        with self._guard:
            self._close()
