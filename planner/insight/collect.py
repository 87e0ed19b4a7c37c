"""Collecting published posts' public metrics on a decaying schedule (the worker's job).

One round (``collect_due``):

1. **enrol**: published publications without a collection row get one, due one schedule step
   after publishing (at most ``batch`` per round). Platforms without metrics (webhooks) are
   marked "not available"; X accounts nobody switched on are "off" (X bills every read).
2. **claim**: due rows of accounts that are connected and not rate limited
   (``account.next_allowed_at``, the same state the publisher obeys) get a short lease, in one
   transaction; credentials are decrypted there too.
3. **read**: the adapters' ``fetch_metrics`` run with no transaction open.
4. **record**: each answer is written in its own short transaction: the readings, the
   normalised summary, the next due time (or "done" when the schedule runs out). A rate limit
   (on the post's read or on the follower count read with it) moves the account's
   ``next_allowed_at`` and stops that account for the round.

Every round is bounded by ``batch``; a reading that keeps failing is given up after the last
step of the schedule plus a day, and the row says why.
"""

from __future__ import annotations

import json
import logging
import math
import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import func, or_, update
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from compass.resonance import block_of, engagement_score
from planner import accounts
from planner.db import session_scope, utcnow
from planner.errors import Invalid
from planner.models import (
    Account,
    AccountStatus,
    Post,
    Publication,
    PublicationStatus,
    Workspace,
)
from planner.models_conversions import Touchpoint
from planner.models_insight import MetricCollection, MetricReading, MetricsOptIn
from publishers import get_publisher
from publishers.base import AccountRef, AuthExpired, PublishError, RateLimited
from publishers.metrics import (
    ENGAGING,
    FOLLOWERS,
    IMPRESSIONS,
    LINK_CLICKS,
    MetricsNotAvailable,
    MetricsNotYet,
)

log = logging.getLogger(__name__)

LEASE = timedelta(minutes=5)
RETRY_AFTER = timedelta(minutes=15)
GIVE_UP_AFTER = timedelta(days=1)  # past the last scheduled reading
# Reading X metrics is billed per post: an account owner switches it on knowingly.
BILLED = {"x": "X bills each post read ($0.005 per post, once per post per UTC day, "
               "https://docs.x.com/x-api/getting-started/pricing): switch X metrics on for "
               "this account on the Insight page"}
NO_METRICS = {"webhook": "webhooks have no public metrics"}
# Platforms whose adapters report impressions or views: the engagement rate divides by them.
# Elsewhere it divides by the account's followers near publish time (docs/insight.md).
VIEWS_PLATFORMS = frozenset({"x", "instagram", "threads"})
# Follower counts are not read where the read is billed (X: a user lookup is a paid read, and
# X gives impressions anyway).
NO_FOLLOWER_READS = frozenset({"x"})
_STEP = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([hd])\s*$")


def parse_schedule(text: str) -> list[timedelta]:
    """"1h,6h,24h,3d" -> offsets after publishing, increasing; names the bad step."""
    steps = []
    for part in text.split(","):
        match = _STEP.match(part)
        if not match:
            raise Invalid.at("metrics_schedule", f"'{part.strip()}' is not a step like 6h or 3d")
        amount = float(match.group(1))
        steps.append(timedelta(hours=amount) if match.group(2) == "h" else timedelta(days=amount))
    if steps != sorted(set(steps)) or not steps:
        raise Invalid.at("metrics_schedule", "The steps must increase, e.g. 1h,6h,24h,3d.")
    return steps


def billed_enabled(session: Session, account_id: int) -> bool:
    row = session.get(MetricsOptIn, account_id)
    return bool(row and row.enabled)


def set_billed_metrics(*, session: Session, account: Account, enabled: bool, by: int | None,
                       now: datetime | None = None) -> MetricsOptIn:
    """Switch paid metric reads on or off for an account; waiting rows follow the switch."""
    now = now or utcnow()
    row = session.get(MetricsOptIn, account.id) or MetricsOptIn(account_id=account.id or 0)
    row.enabled, row.changed_by, row.changed_at = enabled, by, now
    session.add(row)
    old, new = ("off", "collecting") if enabled else ("collecting", "off")
    for item in session.exec(select(MetricCollection).where(
            MetricCollection.account_id == account.id, MetricCollection.status == old)).all():
        item.status = new
        item.reason = "" if enabled else BILLED.get(account.platform, "")
        item.next_due_at = max(item.next_due_at or now, now) if enabled else item.next_due_at
        session.add(item)
    session.flush()
    return row


# --- 1. enrol ---------------------------------------------------------------------------------

def local_slot(published: datetime, zone: str) -> int:
    """Local weekday (Monday 0) * 4 + 6-hour block, in ``zone``."""
    local = published.astimezone(ZoneInfo(zone))
    return local.weekday() * 4 + block_of(local.hour)


def enrol(session: Session, *, steps: list[timedelta], batch: int) -> int:
    """Give published publications a collection row; how many were added."""
    rows = session.exec(
        select(Publication, Account.platform, Post.tags, Workspace.timezone)
        .join(Account, col(Account.id) == col(Publication.account_id))
        .join(Post, col(Post.id) == col(Publication.post_id))
        .join(Workspace, col(Workspace.id) == col(Publication.workspace_id))
        .outerjoin(MetricCollection,
                   col(MetricCollection.publication_id) == col(Publication.id))
        .where(Publication.status == PublicationStatus.published,
               col(Publication.published_at).is_not(None),
               col(MetricCollection.publication_id).is_(None))
        .order_by(col(Publication.published_at).desc()).limit(batch)).all()
    opted = {a for a in session.exec(select(MetricsOptIn.account_id).where(
        MetricsOptIn.enabled == True)).all()}  # noqa: E712 (SQL boolean)
    for publication, platform, tags, zone in rows:
        published = publication.published_at or utcnow()
        status, reason = "collecting", ""
        if platform in NO_METRICS:
            status, reason = "not_available", NO_METRICS[platform]
        elif platform in BILLED and publication.account_id not in opted:
            status, reason = "off", BILLED[platform]
        session.add(MetricCollection(
            publication_id=publication.id or 0, account_id=publication.account_id,
            workspace_id=publication.workspace_id, post_id=publication.post_id,
            published_at=published, tags=tags, slot=local_slot(published, zone),
            status=status, reason=reason, next_due_at=published + steps[0]))
    session.flush()
    return len(rows)


# --- 2. claim ---------------------------------------------------------------------------------

@dataclass
class Claimed:
    publication_id: int
    account_id: int
    platform: str
    remote_id: str
    account: AccountRef
    needs_followers: bool = False  # no follower count on the row yet
    followers_problem: str = ""  # why the follower count could not be read, if it could not
    # The follower read was refused for the account's rate limit: its reset, which the
    # account's next reads and publishes wait for like any other 429's.
    followers_reset_at: datetime | None = None


def claim(session: Session, *, now: datetime, batch: int) -> list[Claimed]:
    rows = session.exec(
        select(MetricCollection, Publication.remote_id, Account)
        .join(Publication, col(Publication.id) == col(MetricCollection.publication_id))
        .join(Account, col(Account.id) == col(MetricCollection.account_id))
        .where(MetricCollection.status == "collecting",
               col(MetricCollection.next_due_at) <= now,
               or_(col(MetricCollection.lease_until).is_(None),
                   col(MetricCollection.lease_until) < now),
               Account.status == AccountStatus.ok,
               or_(col(Account.next_allowed_at).is_(None), col(Account.next_allowed_at) <= now))
        .order_by(col(MetricCollection.next_due_at)).limit(batch)
        .with_for_update(skip_locked=True, of=MetricCollection)).all()
    refs: dict[int, AccountRef | None] = {}
    out = []
    for item, remote_id, account in rows:
        if account.id not in refs:
            try:
                creds = accounts.decrypt_credentials(account.credentials_enc)
                refs[account.id or 0] = accounts.account_ref(account, creds)
            except accounts.CredentialsUnreadable:
                refs[account.id or 0] = None
        ref = refs[account.id or 0]
        if ref is None or not remote_id:
            item.status, item.reason = "not_available", (
                "the account's credentials cannot be read" if ref is None
                else "the platform gave no id for this post")
            session.add(item)
            continue
        item.lease_until = now + LEASE
        session.add(item)
        out.append(Claimed(item.publication_id, account.id or 0, account.platform, remote_id,
                           ref, needs_followers=item.followers is None
                           and account.platform not in NO_FOLLOWER_READS))
    session.flush()
    return out


# --- 3. read (no transaction) -----------------------------------------------------------------

def read(claimed: Claimed) -> dict[str, float] | PublishError:
    publisher: Any = get_publisher(claimed.platform)
    if not hasattr(publisher, "fetch_metrics"):
        return MetricsNotAvailable(f"{claimed.platform} has no metrics in Poise yet")
    try:
        result = dict(publisher.fetch_metrics(claimed.remote_id, claimed.account))
    except PublishError as exc:
        return exc
    if claimed.needs_followers and hasattr(publisher, "fetch_followers"):
        # The first reading is an hour after publishing: the nearest Poise gets to "followers
        # at publish time". A refusal does not spoil the post's metrics; it is kept in words.
        try:
            result[FOLLOWERS] = float(publisher.fetch_followers(claimed.account))
        except PublishError as exc:
            claimed.followers_problem = f"followers: {exc.reason}"[:300]
            if isinstance(exc, RateLimited):
                claimed.followers_reset_at = exc.reset_at
            log.info("followers of account %s not read: %s", claimed.account_id, exc.reason)
    return result


# --- 4. record --------------------------------------------------------------------------------

def link_clicks(session: Session, publication_id: int) -> int:
    """Sessions through Poise's own tracked links of this publication (bots excluded there)."""
    return int(session.exec(select(func.count()).select_from(Touchpoint).where(
        Touchpoint.publication_id == publication_id, Touchpoint.kind == "session")).one())


def summarise(values: dict[str, float], followers: float | None, *,
              views_platform: bool = False) -> dict[str, float | None]:
    """Engagements, the rate's denominator and the score (definitions: docs/insight.md).

    On a platform that reports views, the denominator is the views, and a reading without
    them has no score (dividing some posts by views and others by 1 would make one channel's
    scores incomparable). Elsewhere it is the followers when known, else 1 (a raw count).
    """
    engaging = [values[m] for m in ENGAGING if m in values]
    engagements = sum(engaging) if engaging else None
    impressions = values.get(IMPRESSIONS)
    if views_platform:
        denominator = impressions if impressions else None
        scorable = denominator is not None
    else:
        denominator = followers if followers and followers > 0 else None
        scorable = True
    score = (engagement_score(engagements, denominator)
             if engagements is not None and scorable else None)
    return {"impressions": impressions, "engagements": engagements,
            "denominator": denominator, "score": score}


def known_followers(session: Session, account_id: int) -> float | None:
    """The account's latest follower count read with any of its posts."""
    return session.exec(select(MetricCollection.followers).where(
        MetricCollection.account_id == account_id,
        col(MetricCollection.followers).is_not(None))
        .order_by(col(MetricCollection.published_at).desc()).limit(1)).first()


def rescale_to_followers(session: Session, account_id: int, followers: float) -> int:
    """The account's first follower count: its posts scored on a raw count (denominator 1)
    are divided by it too, so one channel's scores stay comparable. Returns rows changed."""
    if followers <= 0:
        return 0
    result = session.execute(
        update(MetricCollection)
        .where(col(MetricCollection.account_id) == account_id,
               col(MetricCollection.denominator).is_(None),
               col(MetricCollection.score).is_not(None))
        .values(denominator=followers,
                score=col(MetricCollection.score) - math.log(followers)))
    return int(getattr(result, "rowcount", 0) or 0)


def record(session: Session, claimed: Claimed, outcome: dict[str, float] | PublishError, *,
           steps: list[timedelta], now: datetime) -> str:
    """Write one reading's outcome; returns what happened (for logs and the bench)."""
    if claimed.followers_reset_at is not None:
        # The follower count read with the post was refused for the rate limit: the account
        # waits for the reset; the post's metrics read just before are kept (below).
        _hold_account(session, claimed.account_id, claimed.followers_reset_at)
    item = session.get(MetricCollection, claimed.publication_id)
    if item is None:
        return "gone"
    item.lease_until = None
    last_due = item.published_at + steps[-1] + GIVE_UP_AFTER
    if isinstance(outcome, RateLimited):
        _hold_account(session, claimed.account_id, outcome.reset_at)
        session.add(item)
        return "rate_limited"
    if isinstance(outcome, MetricsNotAvailable):
        item.status, item.reason = "not_available", outcome.reason[:300]
        session.add(item)
        return "not_available"
    if isinstance(outcome, PublishError):
        item.reason = outcome.reason[:300]
        if now >= last_due:
            item.status = "done" if item.stage else "not_available"
        elif isinstance(outcome, AuthExpired | MetricsNotYet):
            item.next_due_at = _next_due(item, steps, now)  # skip this step
        else:
            item.next_due_at = now + RETRY_AFTER
        session.add(item)
        return "failed"
    values = dict(outcome)
    clicks = link_clicks(session, claimed.publication_id)
    values[LINK_CLICKS] = float(clicks)
    for metric, value in sorted(values.items()):
        session.add(MetricReading(publication_id=claimed.publication_id,
                                  account_id=claimed.account_id, workspace_id=item.workspace_id,
                                  metric=metric, value=value, read_at=now))
    views_platform = claimed.platform in VIEWS_PLATFORMS
    if FOLLOWERS in values and item.followers is None and values[FOLLOWERS] > 0:
        if not views_platform and known_followers(session, claimed.account_id) is None:
            session.add(item)
            session.flush()
            rescale_to_followers(session, claimed.account_id, values[FOLLOWERS])
            session.refresh(item)
        item.followers = values[FOLLOWERS]
    followers = item.followers
    if followers is None and not views_platform:
        followers = known_followers(session, claimed.account_id)
    summary = summarise(values, followers, views_platform=views_platform)
    if summary["score"] is not None or item.score is None:
        item.impressions = summary["impressions"]
        item.engagements = summary["engagements"]
        item.denominator = summary["denominator"]
        item.score = summary["score"]
    item.latest = json.dumps(values, sort_keys=True)
    item.read_at, item.reason = now, claimed.followers_problem
    item.stage += 1
    item.next_due_at = _next_due(item, steps, now)
    if item.next_due_at is None:
        item.status = "done"
    session.add(item)
    return "read"


def _hold_account(session: Session, account_id: int, reset_at: datetime) -> None:
    """Move the account's ``next_allowed_at`` (the state the publisher obeys too) to the
    platform's reset, never earlier than it already is."""
    account = session.get(Account, account_id)
    if account is not None and (account.next_allowed_at is None
                                or account.next_allowed_at < reset_at):
        account.next_allowed_at = reset_at
        session.add(account)


def _next_due(item: MetricCollection, steps: list[timedelta], now: datetime) -> datetime | None:
    """The first schedule step still ahead (steps missed while down are not caught up)."""
    for step in steps:
        due = item.published_at + step
        if due > now:
            return due
    return None


# --- the job ------------------------------------------------------------------------------------

@dataclass
class RoundResult:
    enrolled: int = 0
    claimed: int = 0
    read: int = 0
    rate_limited: int = 0
    not_available: int = 0
    failed: int = 0


def collect_due(engine: Engine, *, schedule: str, batch: int,
                now: datetime | None = None) -> RoundResult:
    """One bounded round of metric collection (see the module docstring)."""
    now = now or utcnow()
    steps = parse_schedule(schedule)
    result = RoundResult()
    with session_scope(engine) as session:
        result.enrolled = enrol(session, steps=steps, batch=batch)
    with session_scope(engine, immediate=True) as session:
        claimed = claim(session, now=now, batch=batch)
    result.claimed = len(claimed)
    limited: set[int] = set()
    for item in claimed:
        if item.account_id in limited:
            outcome: dict[str, float] | PublishError = RateLimited(
                "skipped: the account hit its rate limit in this round", reset_at=now)
        else:
            outcome = read(item)
        with session_scope(engine) as session:
            what = record(session, item, outcome, steps=steps, now=utcnow())
        if what == "rate_limited" or item.followers_reset_at is not None:
            limited.add(item.account_id)
        setattr(result, what if what != "gone" else "failed",
                getattr(result, what if what != "gone" else "failed") + 1)
    if result.claimed:
        log.info("metrics round: %s", result)
    return result
