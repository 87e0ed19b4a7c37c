"""What a person must be told: an account that needs reconnecting, ... (the Notification rows
the publishing worker and the token refresh write), for one member of a workspace.

A notification addressed to a user is theirs (its ``read_at`` is their read state); one
addressed to nobody (``user_id`` NULL: the account had no owner and the workspace no admin)
is shown to every member, and each member reads it for themselves (a ``notificationread``
row per person; issue 13). Services only flush; the caller owns the transaction.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, and_, exists, func, or_, update
from sqlalchemy.orm import aliased
from sqlmodel import Session, col, select

from planner.errors import Invalid, NotFound
from planner.models import ROLE_RANK, Membership, Notification, NotificationRead, Role, User

PANEL_LIMIT = 20


def panel_context(*, session: Session, workspace_id: int, user_id: int, next_path: str,
                  unread_only: bool = True, limit: int = PANEL_LIMIT) -> dict[str, Any]:
    """What ``notifications/_panel.html`` needs: the member's notifications and unread count."""
    return {"notifications": notifications_for(
                session=session, workspace_id=workspace_id, user_id=user_id,
                unread_only=unread_only, limit=limit),
            "unread_notifications": unread_count(
                session=session, workspace_id=workspace_id, user_id=user_id),
            "notifications_next": next_path, "notifications_unread_only": unread_only}


def _visible_to(workspace_id: int, user_id: int) -> ColumnElement[bool]:
    return and_(col(Notification.workspace_id) == workspace_id,
                or_(col(Notification.user_id) == user_id, col(Notification.user_id).is_(None)))


def _unread_by(user_id: int) -> ColumnElement[bool]:
    """Not read by this person: their own row's ``read_at``, or no read row of theirs for a
    workspace-wide one."""
    read = aliased(NotificationRead)
    theirs = exists().where(col(read.notification_id) == col(Notification.id),
                            col(read.user_id) == user_id)
    return or_(and_(col(Notification.user_id).is_not(None),
                    col(Notification.read_at).is_(None)),
               and_(col(Notification.user_id).is_(None), ~theirs))


@dataclass(frozen=True)
class Shown:
    """A notification as one person sees it: ``read_at`` is when *they* read it."""

    id: int
    workspace_id: int
    user_id: int | None
    text: str
    link: str
    kind: str
    created_at: datetime
    read_at: datetime | None
    email_status: str


def notifications_for(*, session: Session, workspace_id: int, user_id: int,
                      unread_only: bool = False, limit: int = 50) -> list[Shown]:
    """The member's notifications in this workspace, unread first, newest first."""
    read_at = func.coalesce(col(Notification.read_at), col(NotificationRead.read_at))
    query = (select(Notification, read_at)
             .outerjoin(NotificationRead, and_(
                 col(NotificationRead.notification_id) == col(Notification.id),
                 col(NotificationRead.user_id) == user_id))
             .where(_visible_to(workspace_id, user_id)))
    if unread_only:
        query = query.where(read_at.is_(None))
    rows = session.exec(query.order_by(read_at.is_not(None),
                                       col(Notification.created_at).desc(),
                                       col(Notification.id).desc()).limit(limit)).all()
    return [Shown(id=n.id or 0, workspace_id=n.workspace_id, user_id=n.user_id, text=n.text,
                  link=n.link, kind=n.kind, created_at=n.created_at, read_at=when,
                  email_status=n.email_status) for n, when in rows]


def unread_query(workspace_id: int, user_id: int) -> Any:
    """The Notifications badge's count, as a statement the navigation can combine."""
    return select(func.count()).select_from(Notification).where(
        _visible_to(workspace_id, user_id), _unread_by(user_id))


def unread_count(*, session: Session, workspace_id: int, user_id: int) -> int:
    return int(session.exec(unread_query(workspace_id, user_id)).one())


def mark_read(*, session: Session, workspace_id: int, user_id: int, notification_id: int,
              now: datetime) -> Notification:
    """Mark one notification read for this member (again is a no-op); NotFound unless it is
    theirs or the whole workspace's."""
    notification = session.get(Notification, notification_id)
    if (notification is None or notification.workspace_id != workspace_id
            or notification.user_id not in (None, user_id)):
        raise NotFound("No such notification for you in this workspace.")
    if notification.user_id is None:
        if session.get(NotificationRead, (notification_id, user_id)) is None:
            session.add(NotificationRead(notification_id=notification_id, user_id=user_id,
                                         read_at=now))
            session.flush()
    elif notification.read_at is None:
        notification.read_at = now
        session.add(notification)
        session.flush()
    return notification


def mark_all_read(*, session: Session, workspace_id: int, user_id: int, now: datetime) -> int:
    """Mark every unread notification of the member read (for them); how many were."""
    result = session.execute(
        update(Notification)
        .where(col(Notification.workspace_id) == workspace_id,
               col(Notification.user_id) == user_id, col(Notification.read_at).is_(None))
        .values(read_at=now)
        .execution_options(synchronize_session=False))
    shared = list(session.exec(select(Notification.id).where(
        col(Notification.workspace_id) == workspace_id, col(Notification.user_id).is_(None),
        _unread_by(user_id))))
    session.add_all([NotificationRead(notification_id=i, user_id=user_id, read_at=now)
                     for i in shared if i is not None])
    session.flush()
    session.expire_all()
    return int(getattr(result, "rowcount", 0)) + len(shared)


def members_with_role(*, session: Session, workspace_id: int, minimum: Role) -> list[int]:
    """Ids of the workspace's active members whose role is at least ``minimum``."""
    rows = session.exec(select(Membership.user_id, Membership.role).join(
        User, col(User.id) == col(Membership.user_id)).where(
        col(Membership.workspace_id) == workspace_id, col(User.is_active).is_(True)))
    return sorted({user_id for user_id, role in rows
                   if ROLE_RANK[Role(role)] >= ROLE_RANK[minimum]})


def notify(*, session: Session, workspace_id: int, user_ids: list[int] | set[int], kind: str,
           text: str, link: str, now: datetime, ref: str = "",
           email_enabled: bool | None = None) -> list[Notification]:
    """One notification per person (each has their own read state); with ``ref``, a person
    who already has a notification with that ref gets no second one. A person who opted in
    to e-mail gets the notification's e-mail queued (sent by the worker, outside any
    transaction) when an SMTP server is configured."""
    if email_enabled is None:
        from planner.settings import get_settings
        email_enabled = bool(get_settings().smtp_url)
    wanted = sorted(set(user_ids))
    if not wanted:
        return []
    if ref:
        already = set(session.exec(select(Notification.user_id).where(
            col(Notification.workspace_id) == workspace_id, col(Notification.ref) == ref,
            col(Notification.user_id).in_(wanted))))
        wanted = [user_id for user_id in wanted if user_id not in already]
    opted_in = set(session.exec(select(User.id).where(
        col(User.id).in_(wanted), col(User.email_notifications).is_(True)))) if wanted else set()
    written = []
    for user_id in wanted:
        notification = Notification(
            workspace_id=workspace_id, user_id=user_id, kind=kind, text=text[:1000],
            link=link[:500], ref=ref[:80], created_at=now,
            email_status="pending" if email_enabled and user_id in opted_in else "")
        session.add(notification)
        written.append(notification)
    session.flush()
    return written


def set_email_preference(*, session: Session, user_id: int, enabled: bool) -> User:
    user = session.get(User, user_id)
    if user is None:
        raise Invalid.at("email_notifications", "No such person.")
    user.email_notifications = enabled
    session.add(user)
    session.flush()
    return user
