"""Publishing: claim -> send -> record, exactly once and on time.

The database holds the schedule and is the only coordinator between worker processes:

1. ``claim`` takes due publications in one short transaction (PostgreSQL ``FOR UPDATE SKIP
   LOCKED``; SQLite one conditional ``UPDATE ... RETURNING`` under ``BEGIN IMMEDIATE``), giving
   each a fresh attempt id and a lease measured on the database's clock.
2. A thread commits ``sending`` with the fingerprint and idempotency key *before* the network
   call, then records the outcome. Every write after the claim is fenced by the attempt id
   (``WHERE id = ? AND attempt_id = ? AND status = ?``): zero rows means the lease was lost and
   the worker stops without writing anything.
3. Unknown outcomes are reconciled (planner.reconcile), expired leases are reaped
   (planner.reaper); nothing that may have been created is ever sent again blindly.

Test-only fault hook: ``POISE_FAULT_KILL_AT`` = ``after_claim`` | ``after_send`` |
``before_record`` makes the worker SIGKILL itself at that phase (``after_send`` fires
``POISE_FAULT_KILL_DELAY_MS`` (default 100) ms after the request was handed to the adapter, i.e.
while the platform is answering). It is read once when a Dispatcher is created; never set it in
production.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import random
import re
import signal
import socket
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
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

from planner.conversions import links
from planner.crypto import CredentialsUnreadable, decrypt_credentials
from planner.db import is_sqlite
from planner.dbtypes import UTCDateTime
from planner.models import Account, Post, Publication, Workspace
from planner.settings import Settings, get_settings
from planner.textrules import content_for
from publishers import (
    AccountRef,
    AuthExpired,
    Content,
    ContentRejected,
    OutcomeUnknown,
    PublishContext,
    Publisher,
    PublishError,
    PublishResult,
    RateLimited,
    Transient,
    get_publisher,
)
from publishers.registry import UnknownPlatform

log = logging.getLogger(__name__)

SEND = "send"
RECONCILE = "reconcile"
FAULT_PHASES = ("after_claim", "after_send", "before_record")


_host = socket.gethostname()


def worker_id() -> str:
    return f"{_host}:{os.getpid()}"


@dataclass(frozen=True)
class DispatchConfig:
    threads: int = 32
    lease_seconds: float = 120.0
    lateness_window_minutes: float = 60.0
    backoff_base_seconds: float = 30.0
    backoff_cap_seconds: float = 1800.0
    max_attempts: int = 8
    send_timeout_seconds: float = 30.0
    reconcile_max_tries: int = 5
    # Sends (and reconciliations) in flight per account in one worker; 0 = a quarter of the
    # threads, at least 1. A backlog on a slow account or platform then holds only its share
    # of the threads.
    max_inflight_per_account: int = 0
    # Test-only: shifts the database clock as the dispatcher reads it (DST and downtime tests).
    clock_skew_seconds: float = 0.0

    @classmethod
    def from_settings(cls, settings: Settings | None = None, **overrides: Any) -> DispatchConfig:
        settings = settings or get_settings()
        values: dict[str, Any] = {
            "threads": settings.worker_threads,
            "lease_seconds": float(settings.lease_seconds),
            "lateness_window_minutes": float(settings.lateness_window_minutes),
        }
        values.update({k: v for k, v in overrides.items() if v is not None})
        return cls(**values)

    @property
    def claim_ahead(self) -> int:
        """Publications claimed beyond the free threads: queued, so a thread that finishes
        a send starts the next one at once instead of idling until the next claim. Twice
        the claim batch (a quarter of the threads), so one batch still waits while the next
        is being claimed."""
        return max(1, self.threads // 2)

    @property
    def account_cap(self) -> int:
        return self.max_inflight_per_account or max(1, self.threads // 4)

    @property
    def effective_timeout(self) -> float:
        # A send must end well inside its lease, or the reaper would call it unknown mid-call.
        return max(0.5, min(self.send_timeout_seconds, self.lease_seconds / 2))


def backoff_seconds(attempts: int, config: DispatchConfig) -> float:
    """Exponential backoff with full jitter: uniform(0, min(cap, base * 2^(attempts-1)))."""
    ceiling = min(config.backoff_cap_seconds,
                  config.backoff_base_seconds * 2 ** max(0, attempts - 1))
    return random.uniform(0, ceiling)


# --- the database clock ------------------------------------------------------------------------

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
_text = lru_cache(maxsize=512)(text)


@lru_cache(maxsize=64)
def _pyformat(sql: str) -> str:
    """A statement's ``:name`` parameters as psycopg's ``%(name)s``."""
    assert "%" not in sql, "a literal % would need escaping for psycopg"
    return re.sub(r"(?<![:\w]):(\w+)", r"%(\1)s", sql)


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


# --- content ------------------------------------------------------------------------------------

def content_fingerprint(content: Content) -> str:
    """sha256 of exactly what goes out: final text, link, media paths, DM prompt, campaign."""
    prompt = content.dm_prompt
    payload = [content.text, content.link or "", [m.path for m in content.media],
               [prompt.keyword, prompt.product_url, prompt.prefill] if prompt else None,
               content.utm_campaign, content.post_ref, [list(t) for t in content.tracked_links]]
    return hashlib.sha256(json.dumps(payload, ensure_ascii=False).encode()).hexdigest()


def idempotency_key_for(publication_id: int, post_version: int) -> str:
    return f"poise-{publication_id}-{post_version}"


def build_content(publication: Publication, post: Post, workspace: Workspace,
                  media_dir: Path, tracked: tuple[tuple[str, str], ...] = ()) -> Content:
    return content_for(post, publication, utm_campaign=workspace.utm_campaign,
                       media_dir=media_dir, tracked_links=tracked)


def build_account_ref(account: Account) -> AccountRef:
    return AccountRef(platform=account.platform, handle=account.handle,
                      api_base=account.api_base,
                      credentials=decrypt_credentials(account.credentials_enc),
                      external_id=account.external_id, text_limit=account.text_limit)


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


class LeaseLost(Exception):
    """A fenced write matched no row: another worker owns this publication now."""


# --- claiming -------------------------------------------------------------------------------

# Claimed in this order: unknown outcomes (reconciled, never sent blindly), retries, new ones.
_CLAIM_ORDER = (("unknown", RECONCILE), ("retry_wait", SEND), ("pending", SEND))
# Rounds a claim may take to look past accounts at their cap.
_CLAIM_ROUNDS = 3


def _due_sql(clock: DbClock, config: DispatchConfig, status: str, *, skip_busy: bool) -> str:
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
    sql = (f"SELECT p.id, p.account_id, p.due_at FROM publication p "
           "JOIN post ON post.id = p.post_id JOIN account a ON a.id = p.account_id "
           f"WHERE {where} AND a.status = 'ok' AND (a.next_allowed_at IS NULL OR "
           f"a.next_allowed_at <= {now}) ORDER BY p.due_at LIMIT :n")
    return sql if clock.sqlite else sql + " FOR UPDATE OF p SKIP LOCKED"


def _candidates_sql(clock: DbClock, config: DispatchConfig, statuses: tuple[str, ...], *,
                    skip_busy: bool) -> str:
    """Every status's candidates in one round trip: ``(rank, id, account_id, due_at)``."""
    parts = [f"c{rank} AS ({_due_sql(clock, config, status, skip_busy=skip_busy)})"
             for rank, status in enumerate(statuses)]
    union = " UNION ALL ".join(f"SELECT {rank}, id, account_id, due_at FROM c{rank}"
                               for rank in range(len(statuses)))
    return f"WITH {', '.join(parts)} {union}"


def _assign_sql(clock: DbClock, config: DispatchConfig) -> str:
    """Give the chosen rows a fresh attempt id and a lease, on the database clock."""
    return ("UPDATE publication SET status = CASE WHEN status = 'unknown' THEN 'unknown' "
            f"ELSE 'claimed' END, attempt_id = {clock.new_uuid()}, "
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
                cap: AccountCap | None) -> dict[int, tuple[str, str]]:
    """Claim in rounds of two statements (the candidates, then the chosen ones).

    Returns {id: (mode, attempt id)}. When some candidates belonged to accounts at their
    cap, the next round looks again without those accounts, so a backlog on one account
    cannot fill the claim's view of what is due.
    """
    claimed: dict[int, tuple[str, str]] = {}
    for _round in range(_CLAIM_ROUNDS):
        remaining = limit - len(claimed)
        busy = cap.busy() if cap else []
        sql = _candidates_sql(clock, config, statuses, skip_busy=bool(busy))
        params: dict[str, Any] = {"n": remaining, "busy": busy} if busy else {"n": remaining}
        candidates = conn.execute(_text_expanding(sql, "busy") if busy else _text(sql),
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
            rows = conn.execute(_text_expanding(_assign_sql(clock, config), "ids"),
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
              cap: AccountCap | None = None) -> list[Job]:
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
            conn.execute(_text("SET LOCAL synchronous_commit TO OFF"))
        claimed = _claim_rows(conn, clock, config, statuses, limit, cap)
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


# --- recording -----------------------------------------------------------------------------

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
        stmt = _text(self._fence(assignments))
        if types:
            stmt = stmt.bindparams(*types)
        result = conn.execute(stmt, {"pid": job.publication_id, "aid": job.attempt_id,
                                     "from_status": from_status, **(params or {})})
        return bool(result.rowcount == 1)

    def open_attempt(self, conn: Connection, job: Job) -> None:
        conn.execute(_text(
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
        updated = conn.execute(_text(
            f"UPDATE attempt SET finished_at = {self.clock.now()}, outcome = :outcome, "
            "error_class = :error_class, http_status = :status, detail = :detail "
            "WHERE publication_id = :pid AND attempt_id = :aid AND finished_at IS NULL"),
            params).rowcount
        if not updated:
            conn.execute(_text(
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
                ok = conn.execute(_text(sending), params).rowcount == 1
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
                ok = conn.execute(_text(sql), params).rowcount == 1
        if not ok:
            raise LeaseLost(f"publication {job.publication_id}: lease lost at checkpoint")

    def published(self, job: Job, result: PublishResult, from_status: str,
                  outcome: str = "published") -> bool:
        """``published`` with the remote id and URL, and the Attempt closed, in one write."""
        detail = f"remote id {result.remote_id}"[:2000]
        params = {"pid": job.publication_id, "aid": job.attempt_id, "from_status": from_status,
                  "rid": result.remote_id[:200], "url": result.url[:500], "outcome": outcome,
                  "detail": detail, "worker": worker_id()}
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
               also: Callable[[Connection], None] | None = None) -> bool:
        """A fenced status change plus the attempt record, in one transaction."""
        with write_transaction(self.engine) as conn:
            if not self.fenced_update(conn, job, from_status, assignments, params, types):
                conn.rollback()
                return False
            if also is not None:
                also(conn)
            self.close_attempt(conn, job, outcome, error)
            return True

    def rate_limited(self, conn: Connection, job: Job, reset_at: datetime) -> None:
        conn.execute(text(
            "UPDATE account SET next_allowed_at = :reset WHERE id = :acc AND "
            "(next_allowed_at IS NULL OR next_allowed_at < :reset)").bindparams(
                bindparam("reset", type_=UTCDateTime)),
            {"reset": reset_at, "acc": job.account_id})

    def auth_expired(self, conn: Connection, job: Job, reason: str) -> None:
        changed = conn.execute(text(
            "UPDATE account SET status = 'needs_reconnect', status_reason = :reason "
            "WHERE id = :acc AND status = 'ok'"),
            {"reason": reason[:500], "acc": job.account_id}).rowcount
        if not changed:
            return  # someone already flagged it (and notified)
        owner = conn.execute(text("SELECT owner_id, handle, platform FROM account "
                                  "WHERE id = :acc"), {"acc": job.account_id}).one()
        admins = conn.execute(text("SELECT user_id FROM membership WHERE workspace_id = :ws "
                                   "AND role = 'admin'"), {"ws": job.workspace_id}).scalars()
        users = {int(u) for u in admins}
        if owner[0] is not None:
            users.add(int(owner[0]))
        handle = str(owner[1]) if str(owner[1]).startswith("@") else f"@{owner[1]}"
        message = (f"{owner[2]} account {handle} needs reconnecting: {reason}. "
                   "Its scheduled posts are held until it is reconnected.")[:1000]
        recipients: list[int | None] = list(sorted(users)) or [None]
        for user in recipients:
            conn.execute(text("INSERT INTO notification (workspace_id, user_id, text, "
                              f"created_at) VALUES (:ws, :user, :text, {self.clock.now()})"),
                         {"ws": job.workspace_id, "user": user, "text": message})


# --- the dispatcher ----------------------------------------------------------------------------

class Dispatcher:
    """Claims due publications into a bounded thread pool and records what happened."""

    def __init__(self, engine: Engine, config: DispatchConfig | None = None, *,
                 publisher_for: Callable[[str], Publisher] = get_publisher,
                 media_dir: Path | None = None) -> None:
        self.engine = engine
        self.config = config or DispatchConfig.from_settings()
        self.publisher_for = publisher_for
        self.media_dir = media_dir or get_settings().media_dir
        self.recorder = Recorder(engine, self.config)
        self._executor = ThreadPoolExecutor(self.config.threads, thread_name_prefix="poise-send")
        self._inflight = 0
        self._finished = 0  # sends and reconciliations done, for waiters to notice one
        self._by_account: Counter[int] = Counter()  # in flight per account (the cap)
        self._capped = False  # the last claim left an account at its cap
        self._cond = threading.Condition()
        self._stopping = threading.Event()
        self._fault = os.environ.get("POISE_FAULT_KILL_AT", "")
        self._fault_delay = float(os.environ.get("POISE_FAULT_KILL_DELAY_MS", "100")) / 1000

    # -- capacity
    @property
    def inflight(self) -> int:
        with self._cond:
            return self._inflight

    @property
    def capacity(self) -> int:
        """Jobs held at once: one per send thread plus a few claimed ahead."""
        return self.config.threads + self.config.claim_ahead

    def free_slots(self) -> int:
        return max(0, self.capacity - self.inflight)

    def wait_idle(self, timeout: float | None = None) -> bool:
        with self._cond:
            return self._cond.wait_for(lambda: self._inflight == 0, timeout=timeout)

    def stop_claiming(self) -> None:
        """No new claims from now on; sends already started go on and are recorded."""
        self._stopping.set()
        with self._cond:
            self._cond.notify_all()

    def shutdown(self, wait: bool = True) -> None:
        self.stop_claiming()
        self._executor.shutdown(wait=wait, cancel_futures=False)

    # -- ticking
    def tick(self, budget_seconds: float = 0.0) -> int:
        """Claim into free slots and keep refilling them while work remains; end once
        ``budget_seconds`` pass without a claim. A backlog therefore drains in one tick,
        with no pause between ticks (APScheduler skips the runs that fall inside it)."""
        from planner.reaper import sweep_missed

        deadline = time.monotonic() + budget_seconds
        sweep_missed(self.engine, self.config)  # late ones become missed, never sent
        started = 0
        batch = max(1, self.config.threads // 4)
        while not self._stopping.is_set():
            free = self.free_slots()
            if free:
                finished = self._finished
                claimed = self.claim_and_submit(free)
                started += claimed
                if claimed:
                    deadline = time.monotonic() + budget_seconds
                if 0 < claimed < free:
                    continue  # the per-account cap may have hidden due rows: look again
                if claimed == 0:
                    if not self._wait_for_work(deadline, finished):
                        break
                    continue
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                break
            with self._cond:
                self._cond.wait_for(lambda: self.capacity - self._inflight >= batch
                                    or self._stopping.is_set(), timeout=remaining)
        return started

    def _wait_for_work(self, deadline: float, finished: int) -> bool:
        """Nothing could be claimed. If something falls due before this tick's budget ends,
        wait for exactly that instant rather than the next tick; if an account is held at
        its cap, also wake when one of its sends finishes. False: end the tick."""
        wait = seconds_until_next_due(self.engine, self.config)
        remaining = deadline - time.monotonic()
        capped = self._capped
        if remaining <= 0 or ((wait is None or wait >= remaining) and not capped):
            return False
        timeout = remaining if wait is None else min(remaining, wait + 0.01)
        with self._cond:
            self._cond.wait_for(lambda: self._stopping.is_set()
                                or (capped and self._finished != finished), timeout=timeout)
        return True

    def claim_and_submit(self, free: int) -> int:
        with self._cond:
            cap = AccountCap(self.config.account_cap, dict(self._by_account))
        jobs = claim_due(self.engine, self.config, limit=free, media_dir=self.media_dir,
                         cap=cap)
        self._capped = bool(cap.busy())
        if jobs and self._fault == "after_claim":
            _kill_self()
        for job in jobs:
            with self._cond:
                self._inflight += 1
                self._by_account[job.account_id] += 1
            self._executor.submit(self._run, job)
        return len(jobs)

    def _run(self, job: Job) -> None:
        try:
            if self._stopping.is_set():
                # Claimed ahead but not started when the worker was told to stop: given
                # back now, for another worker, rather than sent during the shutdown.
                self.recorder.release(job)
            elif job.mode == RECONCILE:
                from planner.reconcile import reconcile

                reconcile(self, job)
            else:
                self.send(job)
        except LeaseLost as exc:
            log.warning("%s", exc)
        except Exception:
            log.exception("publication %s: dispatcher error", job.publication_id)
        finally:
            with self._cond:
                self._inflight -= 1
                self._finished += 1
                self._by_account[job.account_id] -= 1
                if self._by_account[job.account_id] <= 0:
                    del self._by_account[job.account_id]
                self._cond.notify_all()

    # -- sending
    def send(self, job: Job) -> None:
        rec = self.recorder
        try:
            publisher = self.publisher_for(job.platform)
        except UnknownPlatform as exc:
            rec.finish(job, "claimed", "status = 'failed', last_error = :err", "failed", exc,
                       {"err": str(exc)[:1000]})
            return
        if job.load_error is not None:
            self.record_failure(job, job.load_error, from_status="claimed")
            return
        assert job.content is not None and job.account is not None
        try:
            problems = publisher.validate(job.content, job.account)
        except Exception as exc:  # noqa: BLE001 - an adapter bug must not loop the claim
            log.exception("publication %s: validate() failed", job.publication_id)
            self.record_failure(job, ContentRejected(f"could not be checked: {exc!r}"),
                                from_status="claimed")
            return
        if problems:
            reason = "; ".join(f"{p.field}: {p.message}" for p in problems)
            self.record_failure(job, ContentRejected(reason), from_status="claimed")
            return
        if not rec.to_sending(job):
            log.info("publication %s: not sent (lease lost, or its account is held)",
                     job.publication_id)
            return
        ctx = PublishContext(idempotency_key=job.idempotency_key, fingerprint=job.fingerprint,
                             state=dict(job.state),
                             checkpoint=lambda state: rec.checkpoint(job, state),
                             timeout_seconds=self.config.effective_timeout)
        if self._fault == "after_send":
            threading.Timer(self._fault_delay, _kill_self).start()
        try:
            result = publisher.publish(job.content, job.account, ctx)
        except LeaseLost:
            raise
        except Exception as exc:  # noqa: BLE001 - anything unexpected is an unknown outcome
            if self._fault == "before_record":
                _kill_self()
            self.record_failure(job, exc, from_status="sending")
            return
        if self._fault == "before_record":
            _kill_self()
        if not rec.published(job, result, "sending"):
            log.warning("publication %s: lease lost; result %s not recorded by this worker",
                        job.publication_id, result.remote_id)

    def record_failure(self, job: Job, error: BaseException, *, from_status: str) -> bool:
        """Apply the failure policy for ``error``; see docs/dispatch.md."""
        rec, now = self.recorder, self.recorder.clock.now
        if isinstance(error, RateLimited):
            return rec.finish(
                job, from_status,
                "status = 'retry_wait', due_at = :reset, lease_until = NULL, "
                f"attempts = {_uncount(from_status)}, last_error = :err", "rate_limited", error,
                {"reset": error.reset_at,
                 "err": f"rate limited until {error.reset_at.isoformat()}: {error.reason}"[:1000]},
                (bindparam("reset", type_=UTCDateTime),),
                also=lambda conn: rec.rate_limited(conn, job, error.reset_at))
        if isinstance(error, AuthExpired):
            return rec.finish(
                job, from_status,
                f"status = CASE WHEN {_uncount(from_status)} = 0 THEN 'pending' "
                f"ELSE 'retry_wait' END, due_at = {now()}, lease_until = NULL, "
                f"attempts = {_uncount(from_status)}, last_error = :err", "auth_expired", error,
                {"err": f"account needs reconnecting: {error.reason}"[:1000]},
                also=lambda conn: rec.auth_expired(conn, job, error.reason))
        if isinstance(error, ContentRejected):
            return rec.finish(job, from_status, "status = 'failed', lease_until = NULL, "
                              "last_error = :err", "rejected", error,
                              {"err": f"rejected by the platform: {error.reason}"[:1000]})
        if isinstance(error, Transient):
            if job.attempts >= self.config.max_attempts:
                return rec.finish(job, from_status, "status = 'failed', lease_until = NULL, "
                                  "last_error = :err", "transient", error,
                                  {"err": f"gave up after {job.attempts} attempts: "
                                          f"{error.reason}"[:1000]})
            delay = backoff_seconds(job.attempts, self.config)
            return rec.finish(job, from_status,
                              f"status = 'retry_wait', due_at = {now(delay)}, "
                              "lease_until = NULL, last_error = :err", "transient", error,
                              {"err": f"will retry: {error.reason}"[:1000]})
        # OutcomeUnknown, or anything an adapter did not classify: the post may exist.
        reason = error.reason if isinstance(error, OutcomeUnknown) else repr(error)
        return rec.finish(job, from_status, "status = 'unknown', lease_until = NULL, "
                          "last_error = :err", "unknown", error,
                          {"err": f"outcome unknown, reconciling: {reason}"[:1000]})


def _uncount(from_status: str) -> str:
    # Rate limits and expired tokens created nothing: they do not use up an attempt.
    return "attempts - 1" if from_status == "sending" else "attempts"


def _kill_self() -> None:
    log.warning("POISE_FAULT_KILL_AT: killing worker %s", worker_id())
    os.kill(os.getpid(), signal.SIGKILL)
