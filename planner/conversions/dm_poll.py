"""Fetching X direct messages for the Inbox: X has no DM webhook, so the worker polls it.

Each account is polled by one worker per interval: a conditional UPDATE of the account's
``dm_polled_at`` picks the worker, so several workers never multiply the calls X counts
against its rate limit. Messages are idempotent on the event id anyway.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime, timedelta

import requests
import tweepy
from sqlalchemy import or_, update
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from planner.conversions import replies
from planner.conversions.inbox import fetch_x_dms, record_x_dms
from planner.db import session_scope, utcnow
from planner.models import Account, AccountStatus

log = logging.getLogger(__name__)


def _take_turn(engine: Engine, account_id: int, now: datetime, interval: timedelta) -> bool:
    with session_scope(engine) as session:
        result = session.execute(
            update(Account).where(col(Account.id) == account_id, or_(
                col(Account.dm_polled_at).is_(None),
                col(Account.dm_polled_at) <= now - interval))
            .values(dm_polled_at=now).execution_options(synchronize_session=False))
        return bool(result.rowcount)  # type: ignore[attr-defined]


def poll_account(engine: Engine, account_id: int) -> int:
    """Fetch one account's new DMs into the Inbox; how many were new.

    Three steps, so no transaction is open while X answers: read the account; fetch the
    events (network); record them in one short transaction; then send the auto-replies they
    asked for (network again) and record how that went in another."""
    with session_scope(engine) as session:
        account = session.get(Account, account_id)
    if account is None:
        return 0
    try:
        events = fetch_x_dms(account)
    except tweepy.TooManyRequests:
        log.info("X DM poll of account %s rate limited; next round tries again", account_id)
        return 0
    except (tweepy.TweepyException, requests.RequestException) as exc:
        # Typically a token without the dm.read scope, or X unreachable: publishing is
        # not affected, and the next round tries again.
        log.warning("X DM poll of account %s failed: %s", account_id, exc)
        return 0
    with session_scope(engine, immediate=True) as session:
        current = session.get(Account, account_id)
        if current is None:
            return 0
        inbounds = record_x_dms(session, current, events)
        pending = replies.auto_replies_of(session, inbounds)
    replies.send_auto_replies(pending, lambda write: _in_transaction(engine, write))
    return len(inbounds)


def _in_transaction(engine: Engine, write: Callable[[Session], None]) -> None:
    with session_scope(engine, immediate=True) as session:
        write(session)


def poll_due(engine: Engine, *, interval_seconds: float, now: datetime | None = None) -> int:
    """The job: poll every connected X account not polled within the interval, unless its
    DM polling was turned off (X bills each DM event read)."""
    now = now or utcnow()
    interval = timedelta(seconds=interval_seconds)
    with session_scope(engine) as session:
        ids = [a for a in session.exec(select(Account.id).where(
            Account.platform == "x", Account.status == AccountStatus.ok,
            col(Account.dm_polling).is_(True))).all() if a]
    return sum(poll_account(engine, account_id) for account_id in ids
               if _take_turn(engine, account_id, now, interval))
