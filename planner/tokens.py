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

from planner import accounts
from planner.crypto import decrypt_credentials, encrypt_credentials
from planner.db import session_scope, utcnow
from planner.models import Account, AccountStatus, Notification
from planner.textrules import account_ref
from publishers import AuthExpired, PublishError, RateLimited, get_publisher

log = logging.getLogger(__name__)

REFRESH_AHEAD = timedelta(minutes=15)
LEASE = timedelta(seconds=90)


def due_for_refresh(engine: Engine, now: datetime) -> list[int]:
    with session_scope(engine) as session:
        return [a for a in session.exec(select(Account.id).where(
            col(Account.token_expires_at).is_not(None),
            col(Account.token_expires_at) <= now + REFRESH_AHEAD,
            Account.status == AccountStatus.ok)).all() if a is not None]


def _take_lease(engine: Engine, account_id: int, now: datetime) -> bool:
    # Still due is part of the condition: a caller that listed the account before another
    # finished its refresh (and cleared the lease) must not refresh the fresh token again.
    with session_scope(engine) as session:
        result = session.execute(
            update(Account).where(
                col(Account.id) == account_id,
                col(Account.token_expires_at) <= now + REFRESH_AHEAD, or_(
                col(Account.token_refresh_lease).is_(None),
                col(Account.token_refresh_lease) < now))
            .values(token_refresh_lease=now + LEASE)
            .execution_options(synchronize_session=False))
        return bool(result.rowcount)  # type: ignore[attr-defined]


def refresh_account(engine: Engine, account_id: int, *, now: datetime | None = None) -> bool:
    """Refresh one account's tokens if nobody else is; True if this call refreshed them."""
    now = now or utcnow()
    if not _take_lease(engine, account_id, now):
        return False
    with session_scope(engine) as session:
        account = session.get(Account, account_id)
        if account is None:
            return False
        publisher = get_publisher(account.platform)
        refresh = getattr(publisher, "refresh_credentials", None)
        try:
            if refresh is None:
                return False
            credentials = decrypt_credentials(account.credentials_enc)
            fresh = refresh(account_ref(account, credentials))
        except AuthExpired as exc:
            log.warning("token refresh refused for account %s: %s", account_id, exc.reason)
            accounts.set_status(session=session, account=account,
                                status=AccountStatus.needs_reconnect,
                                reason=f"Token refresh failed: {exc.reason}")
            session.add(Notification(workspace_id=account.workspace_id, user_id=account.owner_id,
                                     text=f"{account.handle} needs reconnecting: {exc.reason}"))
            account.token_refresh_lease = None
            return False
        except PublishError as exc:
            log.warning("token refresh of account %s failed for now: %s", account_id,
                        exc.reason)
            account.status_reason = (f"The last token refresh failed for now ({exc.reason}); "
                                     "it is tried again automatically.")[:500]
            if isinstance(exc, RateLimited) and exc.reset_at > now + LEASE:
                account.token_refresh_lease = exc.reset_at
            return False
        expires_at = str(fresh.get("expires_at", ""))
        account.credentials_enc = encrypt_credentials({**credentials, **fresh})
        account.token_expires_at = datetime.fromtimestamp(int(expires_at), UTC) \
            if expires_at.isdigit() else now + timedelta(hours=2)
        account.token_refresh_lease = None
        if account.status == AccountStatus.ok:
            account.status_reason = ""  # clears a note left by a failed earlier round
        return True


def refresh_expiring(engine: Engine, *, now: datetime | None = None) -> int:
    """The job: refresh every account whose token expires soon. Returns how many."""
    now = now or utcnow()
    return sum(refresh_account(engine, account_id, now=now)
               for account_id in due_for_refresh(engine, now))
