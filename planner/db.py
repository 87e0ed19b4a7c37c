"""Engines per DATABASE_URL and the session unit of work.

SQLite gets WAL, a busy timeout and foreign keys on every connection; PostgreSQL is reached
through psycopg 3. Services only flush: whoever opens the session owns the transaction.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import Connection, Engine, make_url
from sqlalchemy.pool import NullPool
from sqlmodel import Session, create_engine

log = logging.getLogger(__name__)

_engines: dict[str, Engine] = {}


def utcnow() -> datetime:
    return datetime.now(UTC)


def is_sqlite(engine: Engine) -> bool:
    return engine.dialect.name == "sqlite"


def make_engine(url: str, **kwargs: Any) -> Engine:
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            _owner_only_file(Path(parsed.database))
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30},
                               **kwargs)
        event.listen(engine, "connect", _sqlite_on_connect)
        # pysqlite's own transaction handling defers BEGIN; take it over so that
        # `BEGIN IMMEDIATE` can be issued where a write lock is needed up front.
        event.listen(engine, "begin", _sqlite_on_begin)
        return engine
    kwargs.setdefault("pool_pre_ping", True)
    if kwargs.get("poolclass") is not NullPool:
        kwargs.setdefault("pool_size", 10)
        kwargs.setdefault("max_overflow", 40)
    return create_engine(url, **kwargs)


def _owner_only_file(path: Path) -> None:
    """Create the SQLite file readable by its owner only (it holds password hashes and
    encrypted tokens); SQLite gives its -wal and -shm files the same mode."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with suppress(FileExistsError):
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))


def _sqlite_on_connect(dbapi_conn: Any, _record: Any) -> None:
    dbapi_conn.isolation_level = None
    cursor = dbapi_conn.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


def _sqlite_on_begin(conn: Any) -> None:
    mode = conn.info.pop("sqlite_begin", "BEGIN")
    conn.exec_driver_sql(mode)


def get_engine(url: str | None = None) -> Engine:
    from planner.settings import get_settings

    key = url or get_settings().effective_database_url
    if key not in _engines:
        _engines[key] = make_engine(key)
    return _engines[key]


def dispose_engines() -> None:
    for engine in _engines.values():
        engine.dispose()
    _engines.clear()


@contextmanager
def session_scope(engine: Engine | None = None, *, immediate: bool = False) -> Iterator[Session]:
    """One unit of work: commit on success, roll back on any error.

    ``immediate`` takes SQLite's write lock at BEGIN, so a read-then-write claim cannot
    interleave with another writer (PostgreSQL uses row locks instead; there it changes nothing).
    """
    engine = engine or get_engine()
    if immediate and is_sqlite(engine):
        with engine.connect() as conn:
            conn.info["sqlite_begin"] = "BEGIN IMMEDIATE"
            with Session(bind=conn, expire_on_commit=False) as session:
                yield from _commit_or_rollback(session)
        return
    with Session(engine, expire_on_commit=False) as session:
        yield from _commit_or_rollback(session)


def before_network_call(session: Session) -> None:
    """Commit what the request did so far and let go of the write lock: a call to another
    server must never hold up everybody else's writes (SQLite has one write lock for all).

    The next statement opens a new transaction (``BEGIN IMMEDIATE`` again on SQLite), so
    what follows the call is still written in one piece."""
    bind = session.get_bind()
    session.commit()
    if isinstance(bind, Connection) and is_sqlite(bind.engine):
        bind.info["sqlite_begin"] = "BEGIN IMMEDIATE"


def _commit_or_rollback(session: Session) -> Iterator[Session]:
    try:
        yield session
        session.commit()
    except BaseException:
        # Detach first: rollback would expire every loaded object, and the error page still
        # shows who is logged in and where. Nothing detached is ever written back.
        session.expunge_all()
        session.rollback()
        raise
