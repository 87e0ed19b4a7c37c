"""Refreshing OAuth tokens ahead of expiry, never spending a refresh token twice.

Refresh tokens on X are single-use: two workers refreshing the same account at once would
leave one of them (and then the account) with a dead token. A conditional UPDATE takes a short
lease on the account first, so across every process exactly one refresh runs per account.

Only a refused refresh (``AuthExpired``) asks for a reconnect. A platform that is down or
rate limiting leaves the account connected, with a note saying so; the lease is kept until
it runs out (or until the rate limit resets), so the next round tries again after a pause.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta

from sqlalchemy import or_, update
from sqlalchemy.engine import Engine
from sqlmodel import col, select

from planner.accounts import service as accounts
from planner.accounts.crypto import decrypt_credentials, encrypt_credentials
from planner.db import session_scope, utcnow
from planner.models import Account, AccountStatus, Notification
from publishers import AuthExpired, PublishError, RateLimited, get_publisher
from publishers import platforms as publisher_platforms

log = logging.getLogger(__name__)

REFRESH_AHEAD = timedelta(minutes=15)
LEASE = timedelta(seconds=90)


def refresh_ahead(platform: str) -> timedelta:
    """How long before expiry a platform's tokens are refreshed: the adapter says where its
    tokens live for weeks (Threads, Instagram: 60-day long-lived tokens, refreshed days
    ahead so a platform outage or a quiet weekend cannot let one lapse); else 15 minutes."""
    try:
        seconds = getattr(get_publisher(platform), "refresh_ahead_seconds", None)
    except LookupError:
        seconds = None
    return timedelta(seconds=seconds) if isinstance(seconds, int | float) else REFRESH_AHEAD


def _longest_ahead() -> timedelta:
    return max([REFRESH_AHEAD, *(refresh_ahead(p) for p in publisher_platforms())])


def due_for_refresh(engine: Engine, now: datetime) -> list[int]:
    with session_scope(engine) as session:
        rows = session.exec(select(Account.id, Account.platform, Account.token_expires_at)
                            .where(col(Account.token_expires_at).is_not(None),
                                   col(Account.token_expires_at) <= now + _longest_ahead(),
                                   Account.status == AccountStatus.ok)).all()
    return [account_id for account_id, platform, expires in rows
            if account_id is not None and expires is not None
            and _aware(expires) <= now + refresh_ahead(platform)]


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _take_lease(engine: Engine, account_id: int, now: datetime) -> bool:
    # Still due is part of the condition: a caller that listed the account before another
    # finished its refresh (and cleared the lease) must not refresh the fresh token again.
    with session_scope(engine) as session:  # a read of its own: no write lock held
        platform = session.exec(select(Account.platform).where(
            col(Account.id) == account_id)).first()
    if platform is None:
        return False
    with session_scope(engine) as session:
        result = session.execute(
            update(Account).where(
                col(Account.id) == account_id,
                col(Account.token_expires_at) <= now + refresh_ahead(platform), or_(
                col(Account.token_refresh_lease).is_(None),
                col(Account.token_refresh_lease) < now))
            .values(token_refresh_lease=now + LEASE)
            .execution_options(synchronize_session=False))
        return bool(result.rowcount)  # type: ignore[attr-defined]


def refresh_account(engine: Engine, account_id: int, *, now: datetime | None = None) -> bool:
    """Refresh one account's tokens if nobody else is; True if this call refreshed them.

    The network call runs outside any transaction; the result is written only if the stored
    credentials are still the ones it started from (a person may reconnect the account in
    the meantime, and their new credentials must win).
    """
    now = now or utcnow()
    if not _take_lease(engine, account_id, now):
        return False
    with session_scope(engine) as session:
        account = session.get(Account, account_id)
        if account is None:
            return False
        refresh = getattr(get_publisher(account.platform), "refresh_credentials", None)
        started_from = account.credentials_enc
        credentials = decrypt_credentials(started_from)
        ref = accounts.account_ref(account, credentials)
    if refresh is None:
        return False
    try:
        fresh: dict[str, str] | None = refresh(ref)
        error: PublishError | None = None
    except PublishError as exc:
        fresh, error = None, exc
    # Read, then write: take the write lock at BEGIN on SQLite (PostgreSQL locks the row).
    # A deferred transaction whose snapshot another refresh's write made stale fails at once
    # with "database is locked", whatever the busy timeout.
    with session_scope(engine, immediate=True) as session:
        account = session.get(Account, account_id, with_for_update=True)
        if account is None:
            return False
        account.token_refresh_lease = None
        if account.credentials_enc != started_from:
            log.info("account %s was reconnected during its token refresh; keeping the new "
                     "credentials", account_id)
            return False
        if isinstance(error, AuthExpired):
            log.warning("token refresh refused for account %s: %s", account_id, error.reason)
            accounts.set_status(session=session, account=account,
                                status=AccountStatus.needs_reconnect,
                                reason=f"Token refresh failed: {error.reason}")
            session.add(Notification(workspace_id=account.workspace_id, user_id=account.owner_id,
                                     text=f"{account.handle} needs reconnecting: {error.reason}"))
            return False
        if error is not None or fresh is None:
            reason = error.reason if error is not None else "no answer"
            log.warning("token refresh of account %s failed for now: %s", account_id, reason)
            account.status_reason = (f"The last token refresh failed for now ({reason}); "
                                     "it is tried again automatically.")[:500]
            # Keep the lease a while (or until the reset), so the next round does not
            # hammer a platform that is down or limiting us.
            account.token_refresh_lease = error.reset_at \
                if isinstance(error, RateLimited) and error.reset_at > now + LEASE \
                else now + LEASE
            return False
        expires_at = str(fresh.get("expires_at", ""))
        account.credentials_enc = encrypt_credentials({**credentials, **fresh})
        account.token_expires_at = datetime.fromtimestamp(int(expires_at), UTC) \
            if expires_at.isdigit() else now + timedelta(hours=2)
        if account.status == AccountStatus.ok:
            account.status_reason = ""  # clears a note left by a failed earlier round
        return True


def refresh_expiring(engine: Engine, *, now: datetime | None = None) -> int:
    """The job: refresh every account whose token expires soon. Returns how many."""
    now = now or utcnow()
    return sum(refresh_account(engine, account_id, now=now)
               for account_id in due_for_refresh(engine, now))
