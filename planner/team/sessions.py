"""Login sessions kept on the server, and the login throttle.

A browser's cookie carries a random token; the ``loginsession`` row (keyed by the token's
SHA-256) says whose it is and whether it still lives. A session ends at logout, at a password
change, at 'sign out everywhere', when its user is deactivated, after ``idle`` without a
request, and ``absolute`` after it began whatever happens.

Failed logins are rows too (``loginfailure``), one per account typed (existing or not) and one
per client address, so every web process sees the same counts. Past a limit in the window the
answer is 429 with Retry-After, the same for a known and an unknown e-mail.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Update, delete, func, update
from sqlmodel import Session, col, select

from planner.errors import PlannerError
from planner.models import LoginFailure, LoginSession, User
from planner.team import audit

THROTTLE_WINDOW = timedelta(minutes=15)
MAX_FAILURES_PER_ACCOUNT = 10
MAX_FAILURES_PER_ADDRESS = 50
TOUCH_EVERY = timedelta(seconds=60)


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def start(*, session: Session, user_id: int, now: datetime, user_agent: str = "") -> str:
    """A new session for ``user_id``; returns the token for the cookie (kept nowhere else)."""
    token = secrets.token_urlsafe(32)
    session.add(LoginSession(id=_digest(token), user_id=user_id, created_at=now,
                             last_seen_at=now, user_agent=user_agent[:200]))
    session.flush()
    return token


@dataclass(frozen=True)
class Found:
    user: User | None
    expired: bool  # there was a session, and it ran out (idle or absolute)
    row: LoginSession | None = None

    @property
    def needs_touch(self) -> bool:
        return self.row is not None and self.user is not None


def find(*, session: Session, token: str, now: datetime, idle: timedelta,
         absolute: timedelta) -> Found:
    """The live session's user for a cookie token, or why there is none."""
    if not token or len(token) > 200:
        return Found(None, False)
    row = session.get(LoginSession, _digest(token))
    if row is None or row.ended_at is not None:
        return Found(None, row is not None)
    if now - row.last_seen_at > idle or now - row.created_at > absolute:
        return Found(None, True, None)
    user = session.get(User, row.user_id)
    if user is None or not user.is_active:
        return Found(None, False)
    return Found(user, False, row)


def touch_statement(row_id: str, now: datetime) -> Update:
    """The UPDATE that moves a session's idle timer (at most once a minute)."""
    return (update(LoginSession).where(col(LoginSession.id) == row_id,
                                       col(LoginSession.last_seen_at) < now - TOUCH_EVERY)
            .values(last_seen_at=now))


def end(*, session: Session, token: str, now: datetime) -> None:
    if token:
        session.execute(update(LoginSession).where(
            col(LoginSession.id) == _digest(token), col(LoginSession.ended_at).is_(None))
            .values(ended_at=now))


def end_all(*, session: Session, user_id: int, now: datetime, except_token: str = "") -> int:
    """End every live session of a user (but the one given); the number ended."""
    query = update(LoginSession).where(col(LoginSession.user_id) == user_id,
                                       col(LoginSession.ended_at).is_(None))
    if except_token:
        query = query.where(col(LoginSession.id) != _digest(except_token))
    result = session.execute(query.values(ended_at=now))
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


def live_count(*, session: Session, user_id: int) -> int:
    return int(session.exec(select(func.count()).select_from(LoginSession).where(
        col(LoginSession.user_id) == user_id, col(LoginSession.ended_at).is_(None))).one())


# --- the login throttle -------------------------------------------------------------------------

def _keys(email: str, address: str) -> tuple[str, str]:
    return f"account:{email.strip().lower()[:250]}", f"address:{address[:60]}"


def retry_after(*, session: Session, email: str, address: str, now: datetime) -> int:
    """Seconds to wait before another attempt may be checked; 0 when one may be."""
    since = now - THROTTLE_WINDOW
    waits = [0]
    for key, limit in zip(_keys(email, address),
                          (MAX_FAILURES_PER_ACCOUNT, MAX_FAILURES_PER_ADDRESS), strict=True):
        times = session.exec(select(LoginFailure.at).where(
            col(LoginFailure.key) == key, col(LoginFailure.at) > since)
            .order_by(col(LoginFailure.at).desc()).limit(limit)).all()
        if len(times) >= limit:
            # The oldest of the last ``limit`` failures must leave the window first.
            waits.append(int((times[-1] + THROTTLE_WINDOW - now).total_seconds()) + 1)
    return max(waits)


class Throttled(PlannerError):
    """Too many failed attempts from this account or address: wait ``retry_after`` seconds."""

    status_code = 429
    title = "Too many attempts"

    def __init__(self, retry_after: int) -> None:
        minutes = max(1, round(retry_after / 60))
        super().__init__(f"Too many failed attempts. Try again in about {minutes} "
                         f"minute{'s' if minutes > 1 else ''}.")
        self.retry_after = retry_after


def check_throttle(*, session: Session, email: str, address: str, now: datetime) -> None:
    """Raise :class:`Throttled` when :func:`retry_after` says to wait."""
    wait = retry_after(session=session, email=email, address=address, now=now)
    if wait:
        raise Throttled(wait)


def record_failure(*, session: Session, email: str, address: str, now: datetime) -> None:
    for key in _keys(email, address):
        session.add(LoginFailure(key=key, at=now))
    # Old rows are of no use: each failure sweeps what left the window.
    session.execute(delete(LoginFailure).where(col(LoginFailure.at) < now - THROTTLE_WINDOW))
    session.flush()


def forget_failures(*, session: Session, email: str) -> None:
    account, _ = _keys(email, "")
    session.execute(delete(LoginFailure).where(col(LoginFailure.key) == account))


def record_signed_out_everywhere(*, session: Session, user_id: int, ended: int) -> None:
    audit.record(session=session, action="user.signed_out_everywhere", entity="user",
                 entity_id=user_id, actor_id=user_id, workspace_id=None,
                 after={"sessions_ended": ended})
