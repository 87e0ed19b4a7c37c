"""Claiming due publications: the database clock, the claim and what a claimed job carries.

``claim_due`` takes due publications in one short transaction (PostgreSQL ``FOR UPDATE SKIP
LOCKED``; SQLite the same statements under ``BEGIN IMMEDIATE``), giving each a fresh attempt
id and a lease measured on the database's clock (``DbClock``), and loads each into a ``Job``
with its content, fingerprint and account. ``AccountCap`` keeps one account's backlog to its
share of a worker's threads. See docs/dispatch.md.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from functools import lru_cache
from pathlib import Path
from typing import Any

from sqlalchemy import bindparam, text
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.sql.elements import TextClause
from sqlmodel import Session, col, select

from planner.accounts import CredentialsUnreadable, held_platforms
from planner.conversions import links
from planner.db import is_sqlite
from planner.models import POST_SHOWN_SQL, Account, Post, Publication, Workspace
from planner.publishing.config import DispatchConfig
from planner.publishing.outgoing import (
    build_account_ref,
    build_content,
    content_fingerprint,
    idempotency_key_for,
)
from planner.settings import get_settings
from publishers import AccountRef, AuthExpired, Content, ContentRejected, PublishError

log = logging.getLogger(__name__)

# What a claimed job is for: a send, or reconciling an unknown outcome (never a blind send).
SEND = "send"
RECONCILE = "reconcile"


class DbClock:
    """SQL for "now + offset" on the database's clock, as the naive UTC that columns store.

    SQLite stores UTCDateTime as 'YYYY-MM-DD HH:MM:SS.ffffff' (always six digits), so the clock
    is rendered in exactly that shape and text comparison is chronological. Offsets are our own
    floats, formatted into the SQL (never user input).
    """

    def __init__(self, engine: Engine, skew_seconds: float = 0.0) -> None:
        self.sqlite = is_sqlite(engine)
        self.skew = skew_seconds

    def now(self, offset_seconds: float = 0.0) -> str:
        off = offset_seconds + self.skew
        if self.sqlite:
            return f"(strftime('%Y-%m-%d %H:%M:%f', 'now', '{off:+.3f} seconds') || '000')"
        return f"((now() AT TIME ZONE 'utc') + interval '{off:.6f} seconds')"

    def new_uuid(self) -> str:
        if self.sqlite:
            return ("lower(hex(randomblob(4)) || '-' || hex(randomblob(2)) || '-4' || "
                    "substr(hex(randomblob(2)), 2) || '-' || "
                    "substr('89ab', 1 + (abs(random()) % 4), 1) || "
                    "substr(hex(randomblob(2)), 2) || '-' || hex(randomblob(6)))")
        return "gen_random_uuid()::text"


# The statements are built from constants (and the clock's fixed SQL), so most repeat
# verbatim: parsing each into a TextClause once saves that work on every write. Statements
# with a computed literal (a backoff delay) only cycle through the cache.
cached_text = lru_cache(maxsize=512)(text)


@lru_cache(maxsize=64)
def _text_expanding(sql: str, *names: str) -> TextClause:
    """A statement whose ``IN :name`` parameters take lists."""
    return text(sql).bindparams(*(bindparam(name, expanding=True) for name in names))


@contextmanager
def write_transaction(engine: Engine) -> Iterator[Connection]:
    """One short write transaction; on SQLite the write lock is taken at BEGIN."""
    with engine.connect() as conn:
        if is_sqlite(engine):
            conn.info["sqlite_begin"] = "BEGIN IMMEDIATE"
        with conn.begin():
            yield conn


@dataclass
class Job:
    """A claimed publication with everything its thread needs, as plain values."""

    mode: str
    publication_id: int
    attempt_id: str
    account_id: int
    workspace_id: int
    platform: str
    attempts: int
    idempotency_key: str
    fingerprint: str
    state: dict[str, str] = field(default_factory=dict)
    content: Content | None = None
    account: AccountRef | None = None
    load_error: PublishError | None = None


# Claimed in this order: unknown outcomes (reconciled, never sent blindly), retries, new ones.
_CLAIM_ORDER = (("unknown", RECONCILE), ("retry_wait", SEND), ("pending", SEND))
# Rounds a claim may take to look past accounts at their cap.
_CLAIM_ROUNDS = 3


def _due_sql(clock: DbClock, config: DispatchConfig, status: str, *, skip_busy: bool,
             held: tuple[str, ...] = ()) -> str:
    """Claimable rows of one ``status``, oldest first, at most ``:n``.

    One status per query, ordered by ``due_at`` alone, so PostgreSQL walks the
    (status, due_at) index in order and stops after ``:n`` eligible rows instead of joining
    and sorting the whole backlog on every claim. PostgreSQL locks what it returns (``FOR
    UPDATE SKIP LOCKED``); SQLite already holds the write lock (``BEGIN IMMEDIATE``).
    """
    now = clock.now()
    late = clock.now(-config.lateness_window_minutes * 60)
    if status == "unknown":
        # Unknown rows keep their status while reconciled: a lease on them never allows a send.
        where = f"p.status = 'unknown' AND (p.lease_until IS NULL OR p.lease_until <= {now})"
    else:
        where = f"p.status = '{status}' AND p.due_at <= {now} AND post.status = 'approved'"
    if status == "pending":
        # Never started and later than the window: left for the lateness sweep (missed).
        where += (" AND NOT (p.attempts = 0 AND p.scheduled_at IS NOT NULL "
                  f"AND p.scheduled_at < {late})")
    if skip_busy:
        where += " AND p.account_id NOT IN :busy"
    if held:
        # Platforms past an API sunset (accounts.held_platforms: our own constants, [a-z]+):
        # their publications wait, announced on the Accounts page, instead of each failing.
        where += " AND a.platform NOT IN (" + ", ".join(f"'{p}'" for p in held) + ")"
    # Never a post of an import that has not finished (POST_SHOWN_SQL).
    sql = (f"SELECT p.id, p.account_id, p.due_at FROM publication p "
           "JOIN post ON post.id = p.post_id JOIN account a ON a.id = p.account_id "
           f"WHERE {where} AND {POST_SHOWN_SQL} AND a.status = 'ok' AND "
           f"(a.next_allowed_at IS NULL OR a.next_allowed_at <= {now}) "
           "ORDER BY p.due_at LIMIT :n")
    return sql if clock.sqlite else sql + " FOR UPDATE OF p SKIP LOCKED"


def _candidates_sql(clock: DbClock, config: DispatchConfig, statuses: tuple[str, ...], *,
                    skip_busy: bool, held: tuple[str, ...] = ()) -> str:
    """Every status's candidates in one round trip: ``(rank, id, account_id, due_at)``."""
    parts = [f"c{rank} AS ({_due_sql(clock, config, status, skip_busy=skip_busy, held=held)})"
             for rank, status in enumerate(statuses)]
    union = " UNION ALL ".join(f"SELECT {rank}, id, account_id, due_at FROM c{rank}"
                               for rank in range(len(statuses)))
    return f"WITH {', '.join(parts)} {union}"


def _assign_sql(clock: DbClock, config: DispatchConfig, owner: str = "") -> str:
    """Give the chosen rows a fresh attempt id and a lease, on the database clock.

    ``owner``: the claiming worker's liveness prefix (``planner.publishing.liveness``), which
    replaces the uuid's first ten characters so the reaper can tell whose claim it is."""
    attempt = clock.new_uuid()
    if owner:
        assert re.fullmatch(r"lv[0-9a-f]{8}", owner), owner
        attempt = f"'{owner}' || substr({attempt}, 11)"
    return ("UPDATE publication SET status = CASE WHEN status = 'unknown' THEN 'unknown' "
            f"ELSE 'claimed' END, attempt_id = {attempt}, "
            f"lease_until = {clock.now(config.lease_seconds)}, updated_at = {clock.now()} "
            "WHERE id IN :ids AND status IN ('unknown', 'retry_wait', 'pending') "
            "RETURNING id, attempt_id, status")


@dataclass
class AccountCap:
    """At most ``per_account`` publications of one account in flight in this worker.

    ``inflight`` is what the worker already runs per account; a claim adds what it takes.
    A backlog on one account (a slow platform) then holds only its own share of the send
    threads, and the others' due posts still find free ones.
    """

    per_account: int
    inflight: dict[int, int] = field(default_factory=dict)

    def busy(self) -> list[int]:
        return [acc for acc, n in self.inflight.items() if n >= self.per_account]

    def take(self, account_id: int) -> bool:
        running = self.inflight.get(account_id, 0)
        if running >= self.per_account:
            return False
        self.inflight[account_id] = running + 1
        return True


def _claim_rows(conn: Connection, clock: DbClock, config: DispatchConfig,
                statuses: tuple[str, ...], limit: int,
                cap: AccountCap | None, owner: str = "",
                held: tuple[str, ...] = ()) -> dict[int, tuple[str, str]]:
    """Claim in rounds of two statements (the candidates, then the chosen ones).

    Returns {id: (mode, attempt id)}. When some candidates belonged to accounts at their
    cap, the next round looks again without those accounts, so a backlog on one account
    cannot fill the claim's view of what is due.
    """
    claimed: dict[int, tuple[str, str]] = {}
    for _round in range(_CLAIM_ROUNDS):
        remaining = limit - len(claimed)
        busy = cap.busy() if cap else []
        sql = _candidates_sql(clock, config, statuses, skip_busy=bool(busy), held=held)
        params: dict[str, Any] = {"n": remaining, "busy": busy} if busy else {"n": remaining}
        candidates = conn.execute(_text_expanding(sql, "busy") if busy else cached_text(sql),
                                  params).all()
        chosen: list[int] = []
        capped = False
        for _rank, publication_id, account_id, _due in sorted(candidates, key=_claim_order):
            if len(chosen) == remaining:
                break
            if cap is None or cap.take(int(account_id)):
                chosen.append(int(publication_id))
            else:
                capped = True
        if chosen:
            rows = conn.execute(_text_expanding(_assign_sql(clock, config, owner), "ids"),
                                {"ids": chosen})
            claimed.update({int(pid): (RECONCILE if status == "unknown" else SEND, str(aid))
                            for pid, aid, status in rows})
        if not capped or len(claimed) >= limit:
            break
    return claimed


def _claim_order(row: Any) -> tuple[int, str, int]:
    return int(row[0]), str(row[3]), int(row[1])


# Built once: constructing this statement cost more than running it.
_LOAD_CLAIMED = (
    select(Publication, Post, Account, Workspace)
    .join(Post, col(Post.id) == Publication.post_id)
    .join(Account, col(Account.id) == Publication.account_id)
    .join(Workspace, col(Workspace.id) == Publication.workspace_id)
    .where(col(Publication.id).in_(bindparam("ids", expanding=True)))
    .order_by(col(Publication.due_at), col(Publication.id)))


def claim(engine: Engine, config: DispatchConfig, *, limit: int, mode: str = SEND,
          media_dir: Path | None = None, cap: AccountCap | None = None) -> list[Job]:
    """Claim up to ``limit`` due publications (or unknown ones to reconcile) as Jobs."""
    return claim_due(engine, config, limit=limit, modes=(mode,), media_dir=media_dir, cap=cap)


def claim_due(engine: Engine, config: DispatchConfig, *, limit: int,
              modes: tuple[str, ...] = (RECONCILE, SEND), media_dir: Path | None = None,
              cap: AccountCap | None = None, owner: str = "") -> list[Job]:
    """One short claim transaction: unknown outcomes to reconcile first, then due sends.

    On PostgreSQL its commit does not wait for the WAL flush: a claim lost in a database
    crash only means nothing was sent (the ``sending`` commit that precedes any send waits
    for the flush, which carries the claim with it).
    """
    if limit <= 0:
        return []
    clock = DbClock(engine, config.clock_skew_seconds)
    statuses = tuple(status for status, mode in _CLAIM_ORDER if mode in modes)
    with write_transaction(engine) as conn:
        if not clock.sqlite:
            conn.execute(cached_text("SET LOCAL synchronous_commit TO OFF"))
        claimed = _claim_rows(conn, clock, config, statuses, limit, cap, owner,
                              held_platforms())
        if not claimed:
            return []
        with Session(bind=conn) as session:
            loaded = session.exec(_LOAD_CLAIMED, params={"ids": list(claimed)}).all()
            media = media_dir or get_settings().media_dir
            jobs = []
            for pub, post, account, workspace in loaded:
                mode, attempt_id = claimed[pub.id or 0]
                jobs.append(_job(mode, pub, post, account, workspace, attempt_id, media,
                                 session))
    return jobs


def seconds_until_next_due(engine: Engine, config: DispatchConfig) -> float | None:
    """Seconds until the next publication falls due (database clock); None if none is."""
    clock = DbClock(engine, config.clock_skew_seconds)
    now = clock.now()
    waits: list[float] = []
    with engine.connect() as conn:
        for status in ("retry_wait", "pending"):
            row = conn.execute(text(
                f"SELECT due_at, {now} FROM publication WHERE status = '{status}' "
                f"AND due_at > {now} ORDER BY due_at LIMIT 1")).first()
            if row is not None:
                due, current = (_naive(value) for value in row)
                waits.append(max(0.0, (due - current).total_seconds()))
    return min(waits) if waits else None


def _naive(value: object) -> datetime:
    parsed = datetime.fromisoformat(value) if isinstance(value, str) else value
    assert isinstance(parsed, datetime)
    return parsed.replace(tzinfo=None)


def ensure_statistics(engine: Engine) -> None:
    """ANALYZE the claim's tables on PostgreSQL if they never were (autovacuum off, or a
    database filled in bulk a moment ago): without statistics the planner joins the whole
    backlog on every claim instead of walking the due index."""
    if is_sqlite(engine):
        return
    with engine.connect() as conn:
        never = conn.execute(text(
            "SELECT count(*) FROM pg_stat_user_tables WHERE relname IN "
            "('publication', 'post', 'account') AND last_analyze IS NULL "
            "AND last_autoanalyze IS NULL")).scalar_one()
        if never:
            conn.execute(text("ANALYZE publication, post, account"))
            conn.commit()


def _job(mode: str, pub: Publication, post: Post, account: Account, workspace: Workspace,
         attempt_id: str, media_dir: Path, session: Session) -> Job:
    try:
        return _prepare(mode, pub, post, account, workspace, attempt_id, media_dir, session)
    except Exception as exc:  # noqa: BLE001 - one bad row must not block every claim
        log.exception("publication %s: cannot be prepared", pub.id)
        return Job(mode=mode, publication_id=pub.id or 0, attempt_id=attempt_id,
                   account_id=account.id or 0, workspace_id=pub.workspace_id,
                   platform=account.platform, attempts=pub.attempts,
                   idempotency_key=pub.idempotency_key, fingerprint=pub.fingerprint,
                   load_error=ContentRejected(f"cannot prepare this publication: {exc!r}"))


def _prepare(mode: str, pub: Publication, post: Post, account: Account, workspace: Workspace,
             attempt_id: str, media_dir: Path, session: Session) -> Job:
    # Created in the claim's transaction, so the short links exist before anything is sent
    # and a reconcile rebuilds exactly the text that went out.
    tracked = links.tracked_links_for(session, pub, post)
    content = build_content(pub, post, workspace, media_dir, tracked)
    try:
        state = {str(k): str(v) for k, v in json.loads(pub.remote_state or "{}").items()}
    except (ValueError, AttributeError):
        state = {}
    job = Job(mode=mode, publication_id=pub.id or 0, attempt_id=attempt_id,
              account_id=account.id or 0, workspace_id=pub.workspace_id,
              platform=account.platform, attempts=pub.attempts,
              idempotency_key=pub.idempotency_key or idempotency_key_for(pub.id or 0,
                                                                         post.version),
              fingerprint=(pub.fingerprint if mode == RECONCILE and pub.fingerprint
                           else content_fingerprint(content)),
              state=state, content=content)
    try:
        job.account = build_account_ref(account)
    except CredentialsUnreadable as exc:
        job.load_error = AuthExpired(f"stored credentials cannot be read: {exc}")
    return job
