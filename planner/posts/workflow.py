"""The review workflow of a post: submit -> approve | request changes -> back to draft,
cancel and delete.

Each transition is compare-and-set on ``Post.version`` and leaves an audit event with the state
before and after. Approval checks the post's text on every target and asks the reviewer to
confirm when it would tip an account's value balance (``planner.balance``).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from planner import balance
from planner.errors import Conflict, Invalid
from planner.models import Account, Post, PostStatus, Publication, PublicationStatus, Review, Role
from planner.posts import notify, schedule
from planner.posts.service import (
    EDITABLE,
    SETTLED,
    Actor,
    _bump_version,
    _refuse_if_sending,
    _require,
    _update_unsent,
    content_problems,
    create_post,
    get_post,
    input_from_post,
    past_time_message,
    publications_of,
    refuse_if_sent,
    snapshot,
)
from planner.team import audit


def _transition(*, session: Session, actor: Actor, post_id: int, expected_version: int,
                allowed_from: set[PostStatus], to: PostStatus, action: str, now: datetime,
                verb: str) -> tuple[Post, list[Publication], dict[str, Any]]:
    post = get_post(session=session, workspace_id=actor.workspace_id, post_id=post_id)
    if post.status not in allowed_from:
        raise Conflict(f"This post is {post.status.replace('_', ' ')}, so it cannot be {verb}.")
    publications = publications_of(session=session, post_id=post.id or 0)
    before = snapshot(post, publications)
    _bump_version(session, post, expected_version)
    post.status = to
    post.updated_at = now
    return post, publications, before


def submit_for_review(*, session: Session, actor: Actor, post_id: int, expected_version: int,
                      now: datetime, notify_leads: bool = True) -> Post:
    """``notify_leads=False``: the caller tells the leads once (a CSV import of many posts)."""
    _require(actor, Role.manager)
    post = get_post(session=session, workspace_id=actor.workspace_id, post_id=post_id)
    _check_content(session, post)
    _refuse_past(post, now)
    post, publications, before = _transition(
        session=session, actor=actor, post_id=post_id, expected_version=expected_version,
        allowed_from={PostStatus.draft, PostStatus.changes_requested}, to=PostStatus.in_review,
        action="post.submitted", now=now, verb="submitted")
    post.submitted_at = now
    audit.record(session=session, action="post.submitted", entity="post", entity_id=post.id,
                 actor_id=actor.user_id, workspace_id=actor.workspace_id, before=before,
                 after=snapshot(post, publications))
    if notify_leads:
        notify.after_submit(session=session, actor=actor, post=post, now=now)
    return post


def _check_content(session: Session, post: Post) -> None:
    publications = [p for p in publications_of(session=session, post_id=post.id or 0)
                    if p.status != PublicationStatus.cancelled]
    accounts = {a.id or 0: a for a in session.exec(select(Account).where(
        col(Account.id).in_([p.account_id for p in publications]))).all()}
    problems = content_problems(post=post, publications=publications, accounts=accounts)
    if problems:
        raise Invalid("This post is not ready: " + "; ".join(p.message for p in problems),
                      problems=problems)


class BalanceConfirmationNeeded(Conflict):
    """Approving would make an account overweight; the reviewer must confirm knowingly."""

    def __init__(self, warnings: list[str]) -> None:
        super().__init__("Approving this post tips the balance: " + " ".join(warnings)
                         + " Confirm to approve anyway.")
        self.warnings = warnings


def approve(*, session: Session, actor: Actor, post_id: int, expected_version: int,
            now: datetime, comment: str = "", confirm_balance: bool = False) -> Post:
    _require(actor, Role.brand_lead)
    post = get_post(session=session, workspace_id=actor.workspace_id, post_id=post_id)
    _check_content(session, post)
    if not confirm_balance:
        live = [p for p in publications_of(session=session, post_id=post_id)
                if p.status not in SETTLED]
        warnings = balance.approval_warnings(session=session, workspace=actor.workspace,
                                             post=post, publications=live)
        if warnings:
            raise BalanceConfirmationNeeded(warnings)
    _refuse_past(post, now)
    post, publications, before = _transition(
        session=session, actor=actor, post_id=post_id, expected_version=expected_version,
        allowed_from={PostStatus.in_review}, to=PostStatus.approved, action="post.approved",
        now=now, verb="approved")
    if post.publish_asap:  # "Publish now": the approval is the moment it goes
        _schedule_now(session, post, now)
    for publication in publications:
        if publication.status not in SETTLED:
            _update_unsent(session, publication, status=PublicationStatus.pending,
                           scheduled_at=post.scheduled_at, due_at=post.scheduled_at)
    if post.tag_source == "suggested":
        post.tag_source = "confirmed"  # a reviewer accepted the suggested tags
    session.add(Review(post_id=post.id or 0, reviewer_id=actor.user_id, decision="approved",
                       comment=comment.strip(), created_at=now))
    audit.record(session=session, action="post.approved", entity="post", entity_id=post.id,
                 actor_id=actor.user_id, workspace_id=actor.workspace_id, before=before,
                 after=snapshot(post, publications))
    notify.after_decision(session=session, actor=actor, post=post, decision="approved",
                          comment=comment, now=now)
    return post


def request_changes(*, session: Session, actor: Actor, post_id: int, expected_version: int,
                    comment: str, now: datetime) -> Post:
    _require(actor, Role.brand_lead)
    if not comment.strip():
        raise Invalid.at("comment", "Say what should change, so the author knows what to fix.")
    post, publications, before = _transition(
        session=session, actor=actor, post_id=post_id, expected_version=expected_version,
        allowed_from={PostStatus.in_review}, to=PostStatus.changes_requested,
        action="post.changes_requested", now=now, verb="sent back")
    session.add(Review(post_id=post.id or 0, reviewer_id=actor.user_id,
                       decision="changes_requested", comment=comment.strip(), created_at=now))
    audit.record(session=session, action="post.changes_requested", entity="post",
                 entity_id=post.id, actor_id=actor.user_id, workspace_id=actor.workspace_id,
                 before=before, after={**snapshot(post, publications), "comment": comment})
    notify.after_decision(session=session, actor=actor, post=post,
                          decision="changes_requested", comment=comment, now=now)
    return post


def back_to_draft(*, session: Session, actor: Actor, post_id: int, expected_version: int,
                  now: datetime) -> Post:
    """Withdraw a post from review (or take an approved one off the schedule) to keep editing."""
    _require(actor, Role.manager)
    post, publications, before = _transition(
        session=session, actor=actor, post_id=post_id, expected_version=expected_version,
        allowed_from={PostStatus.in_review, PostStatus.changes_requested, PostStatus.approved},
        to=PostStatus.draft, action="post.withdrawn", now=now, verb="withdrawn")
    _refuse_if_sending(publications, "withdrawn")
    refuse_if_sent(publications, "taken back to draft")
    for publication in publications:
        if publication.status not in SETTLED:
            _update_unsent(session, publication, status=PublicationStatus.pending, due_at=None)
    audit.record(session=session, action="post.withdrawn", entity="post", entity_id=post.id,
                 actor_id=actor.user_id, workspace_id=actor.workspace_id, before=before,
                 after=snapshot(post, publications))
    return post


def cancel(*, session: Session, actor: Actor, post_id: int, expected_version: int,
           now: datetime) -> Post:
    """Cancel every unsent publication; refused once any of them is being sent."""
    _require(actor, Role.manager)
    post = get_post(session=session, workspace_id=actor.workspace_id, post_id=post_id)
    _refuse_if_sending(publications_of(session=session, post_id=post_id), "cancelled")
    post, publications, before = _transition(
        session=session, actor=actor, post_id=post_id, expected_version=expected_version,
        allowed_from=EDITABLE, to=PostStatus.cancelled, action="post.cancelled", now=now,
        verb="cancelled")
    for publication in publications:
        if publication.status not in SETTLED:
            _update_unsent(session, publication, status=PublicationStatus.cancelled,
                           due_at=None)
    audit.record(session=session, action="post.cancelled", entity="post", entity_id=post.id,
                 actor_id=actor.user_id, workspace_id=actor.workspace_id, before=before,
                 after=snapshot(post, publications))
    return post


DELETABLE = {PostStatus.draft, PostStatus.changes_requested, PostStatus.cancelled}


def delete_post(*, session: Session, actor: Actor, post_id: int) -> None:
    """Remove a post that never went out: a draft, one sent back, or a cancelled one.

    Anything that was (or may have been) sent stays as history: cancel it instead.
    """
    _require(actor, Role.manager)
    post = get_post(session=session, workspace_id=actor.workspace_id, post_id=post_id)
    if post.status not in DELETABLE:
        raise Conflict(f"A post that is {post.status.replace('_', ' ')} cannot be deleted: "
                       "take it back to draft or cancel it first.")
    publications = publications_of(session=session, post_id=post_id)
    if any(p.attempts or p.remote_id or p.status not in (PublicationStatus.pending,
                                                         PublicationStatus.cancelled)
           for p in publications):
        raise Conflict("This post was already sent (or tried) on some account; it stays as a "
                       "record. Cancel it instead of deleting it.")
    before = snapshot(post, publications)
    try:
        # A savepoint: rows of other areas that point at the post refuse the delete cleanly.
        with session.begin_nested():
            for review in session.exec(select(Review).where(Review.post_id == post_id)).all():
                session.delete(review)
            for publication in publications:
                session.delete(publication)
            session.flush()
            session.delete(post)
            session.flush()
    except IntegrityError:
        raise Conflict("Other records (auto-replies, tracked links ...) still point at this "
                       "post, so it cannot be deleted; cancel it instead.") from None
    audit.record(session=session, action="post.deleted", entity="post", entity_id=post_id,
                 actor_id=actor.user_id, workspace_id=actor.workspace_id, before=before)


def _refuse_past(post: Post, now: datetime) -> None:
    """A fixed time that has passed stops submit and approval; "Publish now" has none."""
    if post.publish_asap or post.scheduled_at is None:
        return
    if post.scheduled_at < now.replace(second=0, microsecond=0):
        raise Invalid.at("scheduled_local", past_time_message(post.scheduled_tz or "UTC"))


def _schedule_now(session: Session, post: Post, now: datetime) -> None:
    zone = post.scheduled_tz or "UTC"
    post.scheduled_at = now
    post.scheduled_local = schedule.to_local(now, zone).strftime(schedule.LOCAL_FORMAT)
    post.scheduled_tz = zone


def publish_now(*, session: Session, actor: Actor, post_id: int, expected_version: int,
                now: datetime) -> Post:
    """Send as soon as approved: an approved post becomes due now; a draft goes to review
    marked "publish now"; one in review goes out the moment it is approved."""
    _require(actor, Role.manager)
    post = get_post(session=session, workspace_id=actor.workspace_id, post_id=post_id)
    if post.status not in EDITABLE:
        raise Conflict(f"This post is {post.status.replace('_', ' ')}, so it cannot be "
                       "published now.")
    publications = publications_of(session=session, post_id=post_id)
    _refuse_if_sending(publications, "changed")
    refuse_if_sent(publications, "published again")
    before = snapshot(post, publications)
    if post.status in (PostStatus.draft, PostStatus.changes_requested):
        _check_content(session, post)
    _bump_version(session, post, expected_version)
    post.publish_asap = True
    post.scheduled_tz = actor.workspace.timezone
    _schedule_now(session, post, now)
    if post.status in (PostStatus.draft, PostStatus.changes_requested):
        post.status = PostStatus.in_review
        post.submitted_at = now
    due = now if post.status == PostStatus.approved else None
    for publication in publications:
        if publication.status not in SETTLED:
            _update_unsent(session, publication, status=PublicationStatus.pending,
                           scheduled_at=now, due_at=due)
    post.updated_at = now
    audit.record(session=session, action="post.publish_now", entity="post", entity_id=post.id,
                 actor_id=actor.user_id, workspace_id=actor.workspace_id, before=before,
                 after=snapshot(post, publications))
    return post


def duplicate(*, session: Session, actor: Actor, post_id: int, now: datetime) -> Post:
    """A copy as a new draft: same text, variants, link, image, tags, DM prompt and accounts;
    the time is kept only when it is still ahead."""
    original = get_post(session=session, workspace_id=actor.workspace_id, post_id=post_id)
    data = input_from_post(session=session, post=original)
    data.publish_now = False
    data.media_path, data.media_mime = original.media_path, original.media_mime
    if original.scheduled_at is None or original.scheduled_at < now or original.publish_asap:
        data.scheduled_local, data.fold = "", None
    return create_post(session=session, actor=actor, data=data, now=now)


COMMENT_MAX = 2000  # Review.comment's column width


def add_comment(*, session: Session, actor: Actor, post_id: int, comment: str,
                now: datetime) -> Review:
    """A comment in the post's review thread, outside any decision: the author answers a
    reviewer, a reviewer asks a question. Any post, any state (the thread is the post's
    conversation); managers and up. The people in the conversation hear of it, and anyone
    @mentioned (planner.posts.notify.after_comment)."""
    _require(actor, Role.manager)
    post = get_post(session=session, workspace_id=actor.workspace_id, post_id=post_id)
    text = comment.strip()
    if not text:
        raise Invalid.at("comment", "Write a comment first.")
    if len(text) > COMMENT_MAX:
        raise Invalid.at("comment", f"A comment holds at most {COMMENT_MAX} characters; this "
                         f"one has {len(text)}.")
    review = Review(post_id=post.id or 0, reviewer_id=actor.user_id, decision="comment",
                    comment=text, created_at=now)
    session.add(review)
    session.flush()
    audit.record(session=session, action="post.commented", entity="post", entity_id=post.id,
                 actor_id=actor.user_id, workspace_id=actor.workspace_id,
                 after={"comment": text})
    notify.after_comment(session=session, actor=actor, post=post, comment=text, now=now)
    return review
