"""What a person must be told: an account that needs reconnecting, ... (the Notification rows
the publishing worker and the token refresh write), for one member of a workspace.

A notification addressed to a user is theirs; one addressed to nobody (``user_id`` NULL: the
account had no owner and the workspace no admin) is shown to every member, and reading it
marks it read for all. Services only flush; the caller owns the transaction.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, and_, func, or_, update
from sqlmodel import Session, col, select

from planner.errors import NotFound
from planner.models import Notification

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


def notifications_for(*, session: Session, workspace_id: int, user_id: int,
                      unread_only: bool = False, limit: int = 50) -> list[Notification]:
    """The member's notifications in this workspace, unread first, newest first."""
    query = select(Notification).where(_visible_to(workspace_id, user_id))
    if unread_only:
        query = query.where(col(Notification.read_at).is_(None))
    return list(session.exec(query.order_by(col(Notification.read_at).is_not(None),
                                            col(Notification.created_at).desc(),
                                            col(Notification.id).desc()).limit(limit)))


def unread_count(*, session: Session, workspace_id: int, user_id: int) -> int:
    return int(session.exec(select(func.count()).select_from(Notification).where(
        _visible_to(workspace_id, user_id), col(Notification.read_at).is_(None))).one())


def mark_read(*, session: Session, workspace_id: int, user_id: int, notification_id: int,
              now: datetime) -> Notification:
    """Mark one notification read (again is a no-op); NotFound unless it is the member's."""
    notification = session.get(Notification, notification_id)
    if (notification is None or notification.workspace_id != workspace_id
            or notification.user_id not in (None, user_id)):
        raise NotFound("No such notification for you in this workspace.")
    if notification.read_at is None:
        notification.read_at = now
        session.add(notification)
        session.flush()
    return notification


def mark_all_read(*, session: Session, workspace_id: int, user_id: int, now: datetime) -> int:
    """Mark every unread notification of the member read; how many were."""
    result = session.execute(
        update(Notification)
        .where(_visible_to(workspace_id, user_id), col(Notification.read_at).is_(None))
        .values(read_at=now)
        .execution_options(synchronize_session=False))
    session.expire_all()
    return int(getattr(result, "rowcount", 0))
