"""Services behind the Publishing page: what is upcoming, in flight, needs a person, failed or
missed, and the actions a person may take (retry, mark published, cancel).

Every write here is compare-and-set on the publication's status (``UPDATE ... WHERE status IN
(...)``), never read-then-write: a worker may move the row at any moment, and a stale write
must not turn a ``sending`` publication back into a sendable one. Services only flush; the
caller owns the transaction. Also here: ``schedule_publications_for_post`` and
``hold_publications_for_post``, which the post workflow calls on approval and withdrawal.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import func, update
from sqlmodel import Session, col, select

from planner.db import utcnow
from planner.errors import Conflict, Invalid, NotFound
from planner.models import (
    Account,
    Attempt,
    Post,
    Publication,
    PublicationStatus,
    post_shown,
    publication_shown,
)
from planner.publishing.outgoing import idempotency_key_for
from planner.team import audit
from publishers import netguard

S = PublicationStatus

SECTIONS: dict[str, tuple[PublicationStatus, ...]] = {
    "upcoming": (S.pending, S.retry_wait),
    "in_flight": (S.claimed, S.sending, S.unknown),
    "needs_review": (S.needs_review,),
    "failed": (S.failed,),
    "missed": (S.missed,),
    "published": (S.published,),
}
NEEDS_ATTENTION = (S.needs_review, S.failed, S.missed)
RETRYABLE = (S.failed, S.needs_review, S.missed)
CANCELLABLE = (S.pending, S.retry_wait, S.claimed, S.needs_review, S.failed, S.missed)
MARKABLE = (S.pending, S.retry_wait, S.unknown, S.needs_review, S.failed, S.missed)
RESCHEDULABLE = (S.pending, S.retry_wait, S.claimed, S.cancelled, S.failed, S.missed)
UNSENT = (S.pending, S.retry_wait, S.claimed)


class PublicationLocked(Conflict):
    """The publication is being sent (or its outcome is being checked): hands off."""

    title = "Being published"


@dataclass
class PublicationView:
    publication: Publication
    post: Post
    account: Account
    attempts: list[Attempt] = field(default_factory=list)


# --- reading ------------------------------------------------------------------------------------

def list_publications(*, session: Session, workspace_id: int, section: str,
                      limit: int = 100) -> list[PublicationView]:
    """One section of the Publishing page, each publication with its attempts (oldest first)."""
    if section not in SECTIONS:
        raise Invalid.at("section", f"Unknown section {section!r}; one of {', '.join(SECTIONS)}.")
    order = (col(Publication.scheduled_at).asc() if section == "upcoming"
             else col(Publication.updated_at).desc())
    rows = session.exec(
        select(Publication, Post, Account)
        .join(Post, col(Post.id) == Publication.post_id)
        .join(Account, col(Account.id) == Publication.account_id)
        .where(Publication.workspace_id == workspace_id, post_shown(),
               col(Publication.status).in_(SECTIONS[section]))
        .order_by(order, col(Publication.id)).limit(limit)).all()
    views = [PublicationView(pub, post, account) for pub, post, account in rows]
    by_id = {v.publication.id: v for v in views}
    if by_id:
        for attempt in session.exec(select(Attempt)
                                    .where(col(Attempt.publication_id).in_(list(by_id)))
                                    .order_by(col(Attempt.started_at), col(Attempt.id))):
            by_id[attempt.publication_id].attempts.append(attempt)
    return views


def publishing_overview(*, session: Session, workspace_id: int,
                        limit: int = 50) -> dict[str, list[PublicationView]]:
    """Every section of the Publishing page."""
    return {section: list_publications(session=session, workspace_id=workspace_id,
                                       section=section, limit=limit) for section in SECTIONS}


def needing_attention_query(workspace_id: int) -> Any:
    """The count behind the nav badge, as a statement the navigation can combine."""
    return select(func.count()).select_from(Publication).where(
        Publication.workspace_id == workspace_id,
        col(Publication.status).in_(NEEDS_ATTENTION), publication_shown())


def count_needing_attention(session: Session, workspace_id: int) -> int:
    """For the nav badge: publications a person must look at (needs review, failed, missed)."""
    return int(session.exec(needing_attention_query(workspace_id)).one())


def get_publication(*, session: Session, workspace_id: int, publication_id: int) -> Publication:
    publication = session.get(Publication, publication_id)
    post = session.get(Post, publication.post_id) if publication is not None else None
    if publication is None or publication.workspace_id != workspace_id or (
            post is None or post.import_id is not None):
        raise NotFound("No such publication in this workspace.")
    return publication


# --- actions ------------------------------------------------------------------------------------

def _cas(session: Session, publication_id: int, allowed: Sequence[PublicationStatus],
         **values: Any) -> bool:
    """Set ``values`` only if the status is still one of ``allowed``; True when it was."""
    result = session.execute(
        update(Publication)
        .where(col(Publication.id) == publication_id, col(Publication.status).in_(allowed))
        .values(updated_at=utcnow(), **values)
        .execution_options(synchronize_session=False))
    return bool(getattr(result, "rowcount", 0) == 1)


def _refuse(publication: Publication, action: str) -> None:
    status = publication.status
    if status in (S.sending, S.claimed, S.unknown):
        raise PublicationLocked(
            f"This publication is being published right now, so it cannot be {action}. "
            "Wait for the outcome on this page; if it goes out and should not have, delete it "
            "on the platform.")
    raise Conflict(f"This publication is {status.replace('_', ' ')}, so it cannot be {action}.")


def _changed(session: Session, publication: Publication, action: str, actor_id: int | None,
             before: str) -> Publication:
    session.refresh(publication)
    audit.record(session=session, action=f"publication.{action}", entity="publication",
                 entity_id=publication.id, actor_id=actor_id,
                 workspace_id=publication.workspace_id, before={"status": before},
                 after={"status": str(publication.status)})
    return publication


def retry_publication(*, session: Session, workspace_id: int, publication_id: int,
                      actor_id: int | None = None) -> Publication:
    """Send again now, with a fresh attempt budget. For ``needs_review`` this is the person's
    judgement that it did not go out (the idempotency key is kept where a platform has one)."""
    publication = get_publication(session=session, workspace_id=workspace_id,
                                  publication_id=publication_id)
    before = str(publication.status)
    if not _cas(session, publication_id, RETRYABLE, status=S.retry_wait, due_at=utcnow(),
                attempts=0, last_error="", lease_until=None):
        session.refresh(publication)
        _refuse(publication, "retried")
    _budget_starts_over(session, publication_id, actor_id, "a person chose to send it again")
    return _changed(session, publication, "retried", actor_id, before)


def _budget_starts_over(session: Session, publication_id: int, actor_id: int | None,
                        why: str) -> None:
    """An Attempt row marking a person's decision: the send and lookup budgets (and the
    one-send-after-unknown rule) count from here (``planner.publishing.history``)."""
    now = utcnow()
    session.add(Attempt(publication_id=publication_id, attempt_id="manual",
                        worker=f"user:{actor_id}" if actor_id else "", started_at=now,
                        finished_at=now, outcome="manual_retry", detail=why))
    session.flush()


def mark_published(*, session: Session, workspace_id: int, publication_id: int,
                   remote_url: str, actor_id: int | None = None) -> Publication:
    """A person confirms it is on the platform (found it, or posted it by hand)."""
    remote_url = remote_url.strip()
    parts = urlsplit(remote_url)
    if parts.scheme != "https" or not netguard.safe_link(remote_url) or len(remote_url) > 500:
        raise Invalid.at("remote_url", "Give the post's address on the platform "
                                       "(https://...).")
    publication = get_publication(session=session, workspace_id=workspace_id,
                                  publication_id=publication_id)
    before = str(publication.status)
    if not _cas(session, publication_id, MARKABLE, status=S.published, remote_url=remote_url,
                published_at=utcnow(), last_error="", lease_until=None):
        session.refresh(publication)
        _refuse(publication, "marked published")
    return _changed(session, publication, "marked_published", actor_id, before)


def cancel_publication(*, session: Session, workspace_id: int, publication_id: int,
                       actor_id: int | None = None) -> Publication:
    """Cancel before sending always wins: a worker holding a claim finds its row gone."""
    publication = get_publication(session=session, workspace_id=workspace_id,
                                  publication_id=publication_id)
    if publication.status == S.cancelled:
        return publication
    before = str(publication.status)
    if not _cas(session, publication_id, CANCELLABLE, status=S.cancelled, lease_until=None):
        session.refresh(publication)
        if publication.status == S.cancelled:
            return publication
        _refuse(publication, "cancelled")
    return _changed(session, publication, "cancelled", actor_id, before)


def edit_publication_text(*, session: Session, workspace_id: int, publication_id: int,
                          text_variant: str | None, actor_id: int | None = None) -> Publication:
    """Change this account's text; refused once sending. A claimed one is taken back."""
    publication = get_publication(session=session, workspace_id=workspace_id,
                                  publication_id=publication_id)
    before = str(publication.status)
    if not _cas(session, publication_id, (S.pending, S.retry_wait, S.claimed, S.failed,
                                          S.missed),
                text_variant=text_variant or None, status=S.pending, lease_until=None):
        session.refresh(publication)
        _refuse(publication, "edited")
    return _changed(session, publication, "edited", actor_id, before)


# --- the post workflow's hooks -----------------------------------------------------------------

def schedule_publications_for_post(session: Session, post: Post,
                                   accounts: Iterable[Account]) -> list[Publication]:
    """On approval: one pending publication per account, due at the post's time.

    Unsent (or cancelled, failed, missed) publications are rescheduled; published ones and
    ones in flight or awaiting review are left alone. Publications of accounts no longer
    chosen are cancelled if still unsent.
    """
    assert post.id is not None
    when = post.scheduled_at or utcnow()
    existing = {p.account_id: p for p in session.exec(
        select(Publication).where(Publication.post_id == post.id)).all()}
    chosen: list[Publication] = []
    for account in accounts:
        assert account.id is not None
        publication = existing.get(account.id)
        if publication is None:
            publication = Publication(post_id=post.id, account_id=account.id,
                                      workspace_id=post.workspace_id, status=S.pending,
                                      scheduled_at=when, due_at=when)
            session.add(publication)
            session.flush()
            publication.idempotency_key = idempotency_key_for(publication.id or 0,
                                                              post.version)
            session.flush()
        else:
            assert publication.id is not None
            if _cas(session, publication.id, RESCHEDULABLE, status=S.pending,
                    scheduled_at=when, due_at=when, attempts=0, last_error="",
                    lease_until=None, fingerprint="", remote_state="{}",
                    idempotency_key=idempotency_key_for(publication.id, post.version)) \
                    and publication.attempts:
                _budget_starts_over(session, publication.id, None,
                                    "approved again: scheduled anew")
            session.refresh(publication)
        chosen.append(publication)
    chosen_ids = {p.account_id for p in chosen}
    for account_id, publication in existing.items():
        if account_id not in chosen_ids and publication.id is not None:
            _cas(session, publication.id, UNSENT, status=S.cancelled, lease_until=None)
    return chosen


def hold_publications_for_post(session: Session, post: Post) -> int:
    """When a post leaves ``approved``: its unsent publications stop being due.

    Refused (PublicationLocked; the caller rolls back) if one is already being sent. The hold
    is written first, so a worker that claimed a row finds it changed and stops.
    """
    held = session.execute(
        update(Publication)
        .where(col(Publication.post_id) == post.id, col(Publication.status).in_(UNSENT))
        .values(status=S.pending, due_at=None, lease_until=None, updated_at=utcnow())
        .execution_options(synchronize_session=False))
    sending = session.exec(select(func.count()).select_from(Publication).where(
        Publication.post_id == post.id,
        col(Publication.status).in_((S.sending, S.unknown)))).one()
    if sending:
        raise PublicationLocked("This post is being published right now, so it cannot be "
                                "withdrawn. Check the Publishing page in a minute.")
    session.expire_all()
    return int(getattr(held, "rowcount", 0))


def attempts_by_publication(session: Session,
                            publication_ids: Sequence[int]) -> dict[int, list[Attempt]]:
    grouped: dict[int, list[Attempt]] = defaultdict(list)
    if publication_ids:
        for attempt in session.exec(select(Attempt)
                                    .where(col(Attempt.publication_id).in_(publication_ids))
                                    .order_by(col(Attempt.started_at), col(Attempt.id))):
            grouped[attempt.publication_id].append(attempt)
    return dict(grouped)


# --- the scriptable view (API and filtered lists) ----------------------------------------------

STATUSES = tuple(S)


@dataclass(frozen=True)
class PublicationFilter:
    """Which publications: any of ``statuses`` (all when empty), one account, one platform, a
    time window on ``scheduled_at`` (``since`` inclusive, ``until`` exclusive)."""

    statuses: tuple[PublicationStatus, ...] = ()
    account_id: int | None = None
    platform: str | None = None
    since: datetime | None = None
    until: datetime | None = None


def _filtered(query: Any, workspace_id: int, flt: PublicationFilter) -> Any:
    query = query.where(Publication.workspace_id == workspace_id, publication_shown())
    if flt.statuses:
        query = query.where(col(Publication.status).in_(flt.statuses))
    if flt.account_id is not None:
        query = query.where(Publication.account_id == flt.account_id)
    if flt.platform:
        query = query.where(Account.platform == flt.platform)
    if flt.since is not None:
        query = query.where(col(Publication.scheduled_at) >= flt.since)
    if flt.until is not None:
        query = query.where(col(Publication.scheduled_at) < flt.until)
    return query


def find_publications(*, session: Session, workspace_id: int, flt: PublicationFilter,
                      limit: int = 50, offset: int = 0,
                      publication_id: int | None = None,
                      soonest_first: bool = False) -> tuple[int, list[PublicationView]]:
    """A page of publications matching ``flt`` (newest change first) and the total count;
    ``publication_id``: just that one (NotFound if it is not in the workspace)."""
    if limit < 1 or limit > 500:
        raise Invalid.at("limit", "Between 1 and 500.")
    if offset < 0:
        raise Invalid.at("offset", "Zero or more.")
    joined = (select(Publication, Post, Account)
              .join(Post, col(Post.id) == Publication.post_id)
              .join(Account, col(Account.id) == Publication.account_id))
    if publication_id is not None:
        joined = joined.where(Publication.id == publication_id)
    total = int(session.exec(_filtered(
        select(func.count()).select_from(Publication)
        .join(Account, col(Account.id) == Publication.account_id),
        workspace_id, flt)).one())
    order = ((col(Publication.scheduled_at).asc(), col(Publication.id).asc()) if soonest_first
             else (col(Publication.updated_at).desc(), col(Publication.id).desc()))
    rows = session.exec(_filtered(joined, workspace_id, flt).order_by(*order)
                        .limit(limit).offset(offset)).all()
    views = [PublicationView(pub, post, account) for pub, post, account in rows]
    if publication_id is not None and not views:
        raise NotFound("No such publication in this workspace.")
    grouped = attempts_by_publication(session, [v.publication.id for v in views
                                                if v.publication.id is not None])
    for view in views:
        view.attempts = grouped.get(view.publication.id or 0, [])
    return total, views


def section_counts(*, session: Session, workspace_id: int) -> dict[str, int]:
    """The real number of publications in every section of the Publishing page."""
    by_status = dict(session.exec(
        select(Publication.status, func.count()).where(Publication.workspace_id == workspace_id,
                                                       publication_shown())
        .group_by(Publication.status)).all())
    return {section: sum(int(by_status.get(s, 0)) for s in statuses)
            for section, statuses in SECTIONS.items()}
