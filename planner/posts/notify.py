"""Who hears about a post's workflow: submitted -> the brand leads and admins; approved or
changes requested -> the author; @mentions in a review comment -> the people named; a
comment in the thread -> the author and the others who wrote in it. The
actor is never told about their own action. Notifications only: e-mail copies are queued by
``team.notifications.notify`` and sent by the worker.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

from sqlalchemy import func
from sqlmodel import Session, col, select

from planner.models import Membership, Post, PostStatus, Review, Role, User, post_shown
from planner.posts.service import Actor
from planner.team import notifications

MENTION = re.compile(r"(?<![\w.])@([\w.-]{2,64})")


def _title(post: Post) -> str:
    first_line = (post.text or "").strip().splitlines()[0] if (post.text or "").strip() else ""
    return f"“{first_line[:60]}{'…' if len(first_line) > 60 else ''}”"


def _name(session: Session, user_id: int) -> str:
    user = session.get(User, user_id)
    return (user.name or user.email) if user else "Someone"


def _link(actor: Actor, post: Post) -> str:
    return f"/w/{actor.workspace.slug}/posts/{post.id}"


def mentioned(*, session: Session, workspace_id: int, comment: str) -> set[int]:
    """Members named in a comment as @first-name or @the part of their e-mail before the @."""
    handles = {match.lower() for match in MENTION.findall(comment)}
    if not handles:
        return set()
    people = session.exec(select(User).join(Membership, col(Membership.user_id) == col(User.id))
                          .where(col(Membership.workspace_id) == workspace_id))
    named = set()
    for person in people:
        first = (person.name or "").split(" ")[0].lower()
        local = person.email.split("@")[0].lower()
        if first in handles or local in handles:
            named.add(person.id or 0)
    return named


def after_submit(*, session: Session, actor: Actor, post: Post, now: datetime) -> None:
    leads = notifications.members_with_role(session=session, workspace_id=actor.workspace_id,
                                            minimum=Role.brand_lead)
    notifications.notify(
        session=session, workspace_id=actor.workspace_id,
        user_ids={u for u in leads if u != actor.user_id}, kind="post.submitted",
        text=f"{_name(session, actor.user_id)} sent {_title(post)} for review.",
        link=f"/w/{actor.workspace.slug}/review", now=now)


def after_import(*, session: Session, actor: Actor, submitted: int, import_id: int,
                 now: datetime) -> None:
    """One notification per lead for a whole CSV import, not one per submitted post."""
    if not submitted:
        return
    leads = notifications.members_with_role(session=session, workspace_id=actor.workspace_id,
                                            minimum=Role.brand_lead)
    notifications.notify(
        session=session, workspace_id=actor.workspace_id,
        user_ids={u for u in leads if u != actor.user_id}, kind="post.submitted",
        text=f"{_name(session, actor.user_id)} imported {submitted} post(s) for review.",
        link=f"/w/{actor.workspace.slug}/review", now=now, ref=f"import:{import_id}")


def after_decision(*, session: Session, actor: Actor, post: Post, decision: str,
                   comment: str, now: datetime) -> None:
    """``decision`` is approved or changes_requested."""
    who = _name(session, actor.user_id)
    said = f" “{comment.strip()[:200]}”" if comment.strip() else ""
    if post.author_id and post.author_id != actor.user_id:
        text = (f"{who} approved {_title(post)}.{said}" if decision == "approved"
                else f"{who} asked for changes to {_title(post)}:{said}")
        notifications.notify(session=session, workspace_id=actor.workspace_id,
                             user_ids={post.author_id}, kind=f"post.{decision}", text=text,
                             link=_link(actor, post), now=now)
    named = mentioned(session=session, workspace_id=actor.workspace_id, comment=comment)
    named -= {actor.user_id, post.author_id or 0}
    if named:
        notifications.notify(session=session, workspace_id=actor.workspace_id, user_ids=named,
                             kind="comment.mention",
                             text=f"{who} mentioned you on {_title(post)}:{said}",
                             link=_link(actor, post), now=now)


def after_comment(*, session: Session, actor: Actor, post: Post, comment: str,
                  now: datetime) -> None:
    """A comment outside a decision: the people @mentioned get the mention; the others in
    the conversation (the author and whoever already wrote in the thread) hear of it too."""
    who = _name(session, actor.user_id)
    said = f" “{comment.strip()[:200]}”"
    named = mentioned(session=session, workspace_id=actor.workspace_id, comment=comment)
    named.discard(actor.user_id)
    if named:
        notifications.notify(session=session, workspace_id=actor.workspace_id, user_ids=named,
                             kind="comment.mention",
                             text=f"{who} mentioned you on {_title(post)}:{said}",
                             link=_link(actor, post), now=now)
    talking = set(session.exec(select(Review.reviewer_id).where(
        col(Review.post_id) == post.id)))
    if post.author_id:
        talking.add(post.author_id)
    others = talking - named - {actor.user_id}
    if others:
        notifications.notify(session=session, workspace_id=actor.workspace_id, user_ids=others,
                             kind="post.commented",
                             text=f"{who} commented on {_title(post)}:{said}",
                             link=_link(actor, post), now=now)


def in_review_query(workspace_id: int) -> Any:
    """The Review badge's count (posts waiting for a decision), for the navigation to combine."""
    return select(func.count()).select_from(Post).where(
        col(Post.workspace_id) == workspace_id, col(Post.status) == PostStatus.in_review,
        post_shown())


def count_in_review(session: Session, workspace_id: int) -> int:
    return int(session.exec(in_review_query(workspace_id)).one())


def review_thread(*, session: Session, post_id: int) -> list[tuple[Review, str]]:
    """The post's review decisions and comments, oldest first, with each reviewer's name: the
    conversation between the author and the reviewers."""
    rows = session.exec(select(Review, User).join(User, col(User.id) == col(Review.reviewer_id))
                        .where(col(Review.post_id) == post_id)
                        .order_by(col(Review.created_at), col(Review.id))).all()
    return [(review, user.name or user.email) for review, user in rows]
