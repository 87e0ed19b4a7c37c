"""Writing posts: create, edit, move, and the publications (one per target account) kept in
step with them. The review workflow (draft -> in_review -> approved | changes_requested ->
draft) is in ``workflow``.

Every change is compare-and-set on ``Post.version`` (a second editor gets a Conflict, never a
silent overwrite) and leaves an audit event with the state before and after. Publications
(one per target account) are kept in step with their post; once one is being sent, the post
can no longer be changed or cancelled.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import update
from sqlmodel import Session, col, select

from planner.errors import Conflict, FieldProblem, Forbidden, Invalid, NotFound
from planner.models import (
    Account,
    Post,
    PostStatus,
    Publication,
    PublicationStatus,
    Role,
    Workspace,
    post_shown,
)
from planner.posts import schedule, textrules
from planner.team import audit, has_role
from publishers.text import LIMITS

QUADRANTS = ("try", "share", "care", "learn")
EDITABLE = {PostStatus.draft, PostStatus.in_review, PostStatus.changes_requested,
            PostStatus.approved}
# Publications in these states may already be on their way to the platform.
IN_FLIGHT = {PublicationStatus.sending, PublicationStatus.unknown}
# ... and these have finished; they are history and never touched by edits.
SETTLED = {PublicationStatus.published, PublicationStatus.failed, PublicationStatus.missed,
           PublicationStatus.needs_review, PublicationStatus.cancelled}


@dataclass
class PostInput:
    """What the composer or the API sends for a post (all fields, not a patch)."""

    text: str = ""
    account_ids: list[int] = field(default_factory=list)
    variants: dict[int, str] = field(default_factory=dict)
    link: str = ""
    tags: list[str] = field(default_factory=list)
    tag_source: str = "manual"
    dm_keyword: str = ""
    dm_product_url: str = ""
    dm_prefill: str = ""
    dm_call_to_action: str = ""  # empty: "DM us KEYWORD for the link"
    scheduled_local: str = ""  # "YYYY-MM-DDTHH:MM" in the workspace's zone; empty = unscheduled
    fold: int | None = None  # for a wall time that happens twice: 0 first, 1 second
    add_to_queue: bool = False
    publish_now: bool = False  # "as soon as approved": the time is the moment of approval
    media_path: str = ""  # a newly stored image; empty keeps the post's current one
    media_mime: str = ""
    remove_media: bool = False


@dataclass(frozen=True)
class Actor:
    user_id: int
    role: Role
    workspace: Workspace

    @property
    def workspace_id(self) -> int:
        return self.workspace.id or 0


def snapshot(post: Post, publications: Sequence[Publication] = ()) -> dict[str, Any]:
    data: dict[str, Any] = {
        "status": str(post.status), "version": post.version, "text": post.text,
        "link": post.link, "tags": post.tags, "scheduled_at": post.scheduled_at,
        "scheduled_local": post.scheduled_local, "dm_keyword": post.dm_keyword,
        "dm_call_to_action": post.dm_call_to_action, "media_path": post.media_path,
    }
    if publications:
        data["accounts"] = sorted(p.account_id for p in publications)
    return data


# --- reading -----------------------------------------------------------------------------------

def get_post(*, session: Session, workspace_id: int, post_id: int) -> Post:
    post = session.get(Post, post_id)
    # A post of an import that has not finished does not exist yet for anyone.
    if post is None or post.workspace_id != workspace_id or post.import_id is not None:
        raise NotFound("No such post in this workspace.")
    return post


def publications_of(*, session: Session, post_id: int) -> list[Publication]:
    return list(session.exec(select(Publication).where(Publication.post_id == post_id)
                             .order_by(col(Publication.account_id))).all())


@dataclass(frozen=True)
class Outcome:
    key: str  # published | partly_published | failed | needs_person | sending | "" (not yet)
    label: str


def publication_outcome(publications: Sequence[Publication]) -> Outcome:
    """What happened to a post, in words, from its publications (cancelled ones left out)."""
    live = [p for p in publications if p.status != PublicationStatus.cancelled]
    done = [p for p in live if p.status == PublicationStatus.published]
    person = [p for p in live if p.status in (PublicationStatus.needs_review,
                                             PublicationStatus.unknown)]
    failed = [p for p in live if p.status in (PublicationStatus.failed,
                                             PublicationStatus.missed)]
    moving = [p for p in live if p.status in (PublicationStatus.sending,
                                             PublicationStatus.retry_wait)]
    if not live or not (done or person or failed or moving):
        return Outcome("", "")
    if person:
        return Outcome("needs_person", "Needs a person: check whether it went out")
    if done and len(done) == len(live):
        return Outcome("published", "Published")
    if done:
        return Outcome("partly_published", f"Partly published ({len(done)} of {len(live)})")
    if failed and not moving:
        return Outcome("failed", "Failed")
    return Outcome("sending", "Being published")


def review_queue(*, session: Session, workspace_id: int) -> list[Post]:
    """Posts waiting for approval, oldest submission first."""
    return list(session.exec(
        select(Post).where(Post.workspace_id == workspace_id,
                           Post.status == PostStatus.in_review, post_shown())
        .order_by(col(Post.submitted_at), col(Post.id))).all())


# --- validation --------------------------------------------------------------------------------

def parse_tags(values: Sequence[str]) -> list[str]:
    tags = []
    for value in values:
        for part in str(value).split(","):
            tag = part.strip().lower()
            if tag and tag not in tags:
                tags.append(tag)
    unknown = [t for t in tags if t not in QUADRANTS]
    if unknown:
        raise Invalid.at("tags", f"Unknown value tag {unknown[0]!r}; use try, share, care or "
                         "learn.")
    if len(tags) > 2:
        raise Invalid.at("tags", "A post engages at most two quadrants; pick the one or two "
                         "that fit best.")
    return tags


def _accounts_for(session: Session, workspace_id: int, account_ids: Sequence[int]
                  ) -> list[Account]:
    ids = list(dict.fromkeys(int(a) for a in account_ids))
    if not ids:
        return []
    found = {a.id: a for a in session.exec(select(Account).where(
        col(Account.id).in_(ids), Account.workspace_id == workspace_id)).all()}
    problems = [FieldProblem(("account_ids", i), "No such account in this workspace.")
                for i, account_id in enumerate(ids) if account_id not in found]
    if problems:
        raise Invalid("Some target accounts do not exist here.", problems=problems)
    return [found[i] for i in ids]


def _check_url(value: str, field_name: str) -> str:
    value = value.strip()
    if value and not value.lower().startswith(("http://", "https://")):
        raise Invalid.at(field_name, "Links must start with http:// or https://.")
    return value


def _resolve_time(session: Session, actor: Actor, data: PostInput, accounts: list[Account],
                  now: datetime, post_id: int | None = None) -> tuple[datetime | None, str]:
    zone = actor.workspace.timezone
    if data.publish_now:
        return now, schedule.to_local(now, zone).strftime(schedule.LOCAL_FORMAT)
    if data.add_to_queue:
        instant = schedule.next_common_free_slot(session=session, accounts=accounts,
                                                 zone_name=zone, after=now,
                                                 exclude_post_id=post_id)
        return instant, schedule.to_local(instant, zone).strftime(schedule.LOCAL_FORMAT)
    if not data.scheduled_local.strip():
        return None, ""
    local = schedule.parse_local(data.scheduled_local)
    instant = schedule.to_utc(local, zone, fold=data.fold)
    refuse_past(instant, zone=zone, now=now)
    return instant, local.strftime(schedule.LOCAL_FORMAT)


def refuse_past(instant: datetime, *, zone: str, now: datetime,
                field_name: str = "scheduled_local") -> None:
    """A time before the current minute cannot be kept: say so at the time field."""
    if instant < now.replace(second=0, microsecond=0):
        raise Invalid.at(field_name, past_time_message(zone))


def past_time_message(zone: str) -> str:
    return f"That time has passed in {zone}; pick a later one or Publish now."


def content_problems(*, post: Post, publications: Sequence[Publication],
                     accounts: dict[int, Account]) -> list[FieldProblem]:
    """Everything that stops this post going to its accounts (shared by submit and approve)."""
    problems = []
    if not post.text.strip():
        problems.append(FieldProblem(("text",), "Write the post's text first."))
    if not publications:
        problems.append(FieldProblem(("account_ids",), "Choose at least one account."))
    for publication in publications:
        account = accounts[publication.account_id]
        for message in textrules.problems_for(post=post, publication=publication,
                                              account=account):
            problems.append(FieldProblem(("variants", publication.account_id),
                                         f"{account.handle}: {message}"))
    return problems


# --- writing -----------------------------------------------------------------------------------

def _bump_version(session: Session, post: Post, expected: int) -> None:
    """Compare-and-set: succeed only if nobody changed the post since ``expected``."""
    result = session.execute(
        update(Post).where(col(Post.id) == post.id, col(Post.version) == expected)
        .values(version=expected + 1).execution_options(synchronize_session=False))
    if result.rowcount != 1:  # type: ignore[attr-defined]
        session.refresh(post)
        raise Conflict(f"Someone else changed this post while you were working on it "
                       f"(now version {post.version}, you had {expected}). Reload to see "
                       "their changes; yours were not saved.")
    post.version = expected + 1


def _locked_publications(publications: Sequence[Publication]) -> list[Publication]:
    return [p for p in publications if p.status in IN_FLIGHT]


def refuse_if_sent(publications: Sequence[Publication], what: str) -> None:
    """Once anything went out (or may have), the post is a record: refuse to change it."""
    if any(p.status not in UNSENT and p.status != PublicationStatus.cancelled
           for p in publications):
        raise Conflict(f"This post has already gone out (or been tried) on some account, so it "
                       f"cannot be {what}. Duplicate it to post something similar.")


def _refuse_if_sending(publications: Sequence[Publication], what: str) -> None:
    if _locked_publications(publications):
        raise Conflict(f"This post is being published right now, so it cannot be {what}. "
                       "Check the Publishing page in a minute.")


UNSENT = (PublicationStatus.pending, PublicationStatus.retry_wait, PublicationStatus.claimed)


def _update_unsent(session: Session, publication: Publication, **values: Any) -> None:
    """Change a publication only while no worker is sending it: compare-and-set on status.

    A read-then-write through the ORM could overwrite a worker's ``sending`` with
    ``pending`` and cause a second send; this UPDATE matches no row once sending began.
    It also clears the attempt id, which takes the row back from a worker that claimed it
    but has not started sending: that worker's fenced write then matches nothing.
    """
    values.setdefault("attempt_id", "")
    values.setdefault("lease_until", None)
    result = session.execute(
        update(Publication)
        .where(col(Publication.id) == publication.id, col(Publication.status).in_(UNSENT))
        .values(**values).execution_options(synchronize_session=False))
    session.expire(publication)
    if result.rowcount != 1:  # type: ignore[attr-defined]
        raise Conflict("This post is being published right now, so it cannot be changed. "
                       "Check the Publishing page in a minute.")


# The longest text any platform takes (Facebook's 63,206): nothing longer can ever be sent.
MAX_TEXT_CHARACTERS = max(limit for limit, _ in LIMITS.values() if limit)


def _refuse_oversized_text(data: PostInput) -> None:
    if len(data.text) > MAX_TEXT_CHARACTERS:
        raise Invalid.at("text", f"The text is longer than any platform takes "
                         f"({MAX_TEXT_CHARACTERS:,} characters).")
    for account_id, variant in data.variants.items():
        if len(variant) > MAX_TEXT_CHARACTERS:
            raise Invalid.at(f"variants.{account_id}", f"This version is longer than any "
                             f"platform takes ({MAX_TEXT_CHARACTERS:,} characters).")


def create_post(*, session: Session, actor: Actor, data: PostInput, now: datetime) -> Post:
    _require(actor, Role.manager)
    accounts = _accounts_for(session, actor.workspace_id, data.account_ids)
    scheduled_at, scheduled_local = _resolve_time(session, actor, data, accounts, now)
    post = Post(workspace_id=actor.workspace_id, author_id=actor.user_id,
                status=PostStatus.draft, created_at=now, updated_at=now)
    _apply(post, data, scheduled_at, scheduled_local, actor)
    session.add(post)
    session.flush()
    publications = _sync_publications(session, post, accounts, data.variants)
    audit.record(session=session, action="post.created", entity="post", entity_id=post.id,
                 actor_id=actor.user_id, workspace_id=actor.workspace_id,
                 after=snapshot(post, publications))
    return post


def _apply(post: Post, data: PostInput, scheduled_at: datetime | None, scheduled_local: str,
           actor: Actor) -> None:
    tags = parse_tags(data.tags)
    _refuse_oversized_text(data)
    post.text = data.text.replace("\r\n", "\n").strip()
    post.link = _check_url(data.link, "link")
    post.tags = ",".join(tags)
    post.tag_source = data.tag_source if data.tag_source in (
        "manual", "suggested", "confirmed") else "manual"
    post.dm_keyword = data.dm_keyword.strip()
    post.dm_product_url = _check_url(data.dm_product_url, "dm_product_url")
    post.dm_prefill = data.dm_prefill.strip()
    post.dm_call_to_action = " ".join(data.dm_call_to_action.split())
    if len(post.dm_call_to_action) > 200:
        raise Invalid.at("dm_call_to_action", "Keep the call to action under 200 characters.")
    if post.dm_call_to_action and not post.dm_keyword:
        raise Invalid.at("dm_keyword", "A call to action needs the DM keyword it asks for.")
    if post.dm_keyword and not post.dm_product_url:
        raise Invalid.at("dm_product_url", "A DM prompt needs the product link it leads to.")
    if data.media_path:
        post.media_path, post.media_mime = data.media_path, data.media_mime
    elif data.remove_media:
        post.media_path = post.media_mime = ""
    post.scheduled_at = scheduled_at
    post.scheduled_local = scheduled_local
    post.scheduled_tz = actor.workspace.timezone if scheduled_at else ""
    post.publish_asap = data.publish_now


def _sync_publications(session: Session, post: Post, accounts: list[Account],
                       variants: dict[int, str]) -> list[Publication]:
    """Make the post's live publications match its accounts, time and approval."""
    existing = {p.account_id: p for p in publications_of(session=session, post_id=post.id or 0)}
    wanted = {a.id or 0: a for a in accounts}
    due = post.scheduled_at if post.status == PostStatus.approved else None
    result = []
    for account_id, publication in existing.items():
        variant = (variants.get(account_id) or "").strip() or None
        if publication.status in SETTLED:
            if publication.status == PublicationStatus.cancelled and account_id in wanted:
                # Re-targeted after removal: a cancelled row no worker will touch.
                session.execute(update(Publication).where(
                    col(Publication.id) == publication.id,
                    col(Publication.status) == PublicationStatus.cancelled).values(
                    status=PublicationStatus.pending, scheduled_at=post.scheduled_at,
                    due_at=due, text_variant=variant))
                session.expire(publication)
            result.append(publication)
            continue
        if account_id not in wanted:  # removed from the post's targets
            _update_unsent(session, publication, status=PublicationStatus.cancelled,
                           due_at=None)
            continue
        _update_unsent(session, publication, status=PublicationStatus.pending,
                       scheduled_at=post.scheduled_at, due_at=due, text_variant=variant)
        result.append(publication)
    for account_id in wanted:
        if account_id in existing:
            continue
        publication = Publication(
            post_id=post.id or 0, account_id=account_id or 0, workspace_id=post.workspace_id,
            scheduled_at=post.scheduled_at, due_at=due,
            text_variant=(variants.get(account_id or 0) or "").strip() or None,
            idempotency_key=f"poise-{uuid.uuid4().hex}")
        session.add(publication)
        result.append(publication)
    session.flush()
    return result


def update_post(*, session: Session, actor: Actor, post_id: int, expected_version: int,
                data: PostInput, now: datetime) -> Post:
    """Save an edit. An approved post goes back to review; a rejected one back to draft."""
    _require(actor, Role.manager)
    post = get_post(session=session, workspace_id=actor.workspace_id, post_id=post_id)
    if post.status not in EDITABLE:
        raise Conflict(f"A {post.status.replace('_', ' ')} post cannot be edited.")
    publications = publications_of(session=session, post_id=post.id or 0)
    _refuse_if_sending(publications, "edited")
    refuse_if_sent(publications, "edited")
    before = snapshot(post, publications)
    accounts = _accounts_for(session, actor.workspace_id, data.account_ids)
    scheduled_at, scheduled_local = _resolve_time(session, actor, data, accounts, now,
                                                  post_id=post.id)
    _bump_version(session, post, expected_version)
    _apply(post, data, scheduled_at, scheduled_local, actor)
    if post.status == PostStatus.approved:
        post.status = PostStatus.in_review
        post.submitted_at = now
    elif post.status == PostStatus.changes_requested:
        post.status = PostStatus.draft
    post.updated_at = now
    publications = _sync_publications(session, post, accounts, data.variants)
    audit.record(session=session, action="post.updated", entity="post", entity_id=post.id,
                 actor_id=actor.user_id, workspace_id=actor.workspace_id, before=before,
                 after=snapshot(post, publications))
    return post


def reschedule(*, session: Session, actor: Actor, post_id: int, expected_version: int,
               scheduled_local: str, fold: int | None, now: datetime) -> Post:
    """Move a post to another local time with the same rules as an edit."""
    post = get_post(session=session, workspace_id=actor.workspace_id, post_id=post_id)
    data = input_from_post(session=session, post=post)
    data.scheduled_local, data.fold, data.add_to_queue = scheduled_local, fold, False
    return update_post(session=session, actor=actor, post_id=post_id,
                       expected_version=expected_version, data=data, now=now)


def input_from_post(*, session: Session, post: Post) -> PostInput:
    publications = [p for p in publications_of(session=session, post_id=post.id or 0)
                    if p.status != PublicationStatus.cancelled]
    workspace = session.get(Workspace, post.workspace_id)
    zone = workspace.timezone if workspace else post.scheduled_tz
    return PostInput(
        text=post.text, account_ids=[p.account_id for p in publications],
        variants={p.account_id: p.text_variant for p in publications if p.text_variant},
        link=post.link, tags=[t for t in post.tags.split(",") if t], tag_source=post.tag_source,
        dm_keyword=post.dm_keyword, dm_product_url=post.dm_product_url,
        dm_prefill=post.dm_prefill, dm_call_to_action=post.dm_call_to_action,
        scheduled_local=local_time_of(post, zone), publish_now=post.publish_asap,
        fold=schedule.fold_of(post.scheduled_at, zone) if post.scheduled_at else None)


def local_time_of(post: Post, zone: str) -> str:
    """The post's wall time ("YYYY-MM-DDTHH:MM") in ``zone``, the workspace's zone now.

    The same as what was picked unless the workspace's zone changed since: then the same
    instant in the new zone, so re-saving or moving the post never shifts it by the offset.
    """
    if post.scheduled_at is None:
        return ""
    if post.scheduled_tz == zone and post.scheduled_local:
        return post.scheduled_local
    return schedule.to_local(post.scheduled_at, zone).strftime(schedule.LOCAL_FORMAT)


def _require(actor: Actor, minimum: Role) -> None:
    if not has_role(actor.role, minimum):
        if minimum == Role.brand_lead:
            raise Forbidden("Only brand leads and admins can approve or send back posts.")
        raise Forbidden("Viewers cannot change posts; ask an admin for the manager role.")
