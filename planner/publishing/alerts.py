"""Tell people when sending went wrong: a publication that failed, was missed or needs a
person (an outcome nobody can confirm) notifies the post's author and the workspace's admins,
once per publication and state (the notification's ``ref``). The worker runs
:func:`notify_problems` every few seconds over the last day's changes, so the engine's fenced
writes stay as they are and a crash between the write and the notification only delays it.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import Engine, String, cast, exists, literal
from sqlmodel import Session, col, select

from planner.db import utcnow
from planner.models import (
    Account,
    Notification,
    Post,
    Publication,
    PublicationStatus,
    Role,
    Workspace,
)
from planner.team import notifications

LOOK_BACK = timedelta(days=1)
BATCH = 200
ALERTS = {
    PublicationStatus.failed: "could not be published",
    PublicationStatus.missed: "missed its time and was not published",
    PublicationStatus.needs_review: "needs a person: nobody can tell whether it went out",
}


def notify_problems(*, session: Session, now: datetime) -> int:
    """Write the notifications due for recent problem publications; how many were written."""
    rows = session.exec(
        select(Publication, Post, Account, Workspace)
        .join(Post, col(Post.id) == col(Publication.post_id))
        .join(Account, col(Account.id) == col(Publication.account_id))
        .join(Workspace, col(Workspace.id) == col(Publication.workspace_id))
        .where(col(Publication.status).in_(list(ALERTS)),
               col(Publication.updated_at) >= now - LOOK_BACK,
               # Already told: skipped in the query, so a day with more problems than one
               # batch still reaches the later ones.
               ~exists().where(col(Notification.ref) == literal("publication:")
                               + cast(col(Publication.id), String) + literal(":")
                               + cast(col(Publication.status), String)))
        .order_by(col(Publication.id)).limit(BATCH)).all()
    admins: dict[int, list[int]] = {}
    written = 0
    for publication, post, account, workspace in rows:
        workspace_id = workspace.id or 0
        if workspace_id not in admins:
            admins[workspace_id] = notifications.members_with_role(
                session=session, workspace_id=workspace_id, minimum=Role.admin)
        people = set(admins[workspace_id]) | ({post.author_id} if post.author_id else set())
        if publication.status == PublicationStatus.needs_review:
            # The engine already told the account's owner and the admins, with the whole
            # story (planner.publishing.recording.needs_review): only the author is left.
            people -= set(admins[workspace_id]) | {account.owner_id}
        first_line = (post.text or "").strip().splitlines()[0][:60] if post.text else ""
        why = f" ({publication.last_error[:200]})" if publication.last_error else ""
        written += len(notifications.notify(
            session=session, workspace_id=workspace_id, user_ids=people,
            kind=f"publication.{publication.status}",
            text=f"“{first_line}” on {account.handle} {ALERTS[publication.status]}{why}.",
            link=f"/w/{workspace.slug}/publishing", now=now,
            ref=f"publication:{publication.id}:{publication.status}"))
    return written


def notify_problems_job(engine: Engine) -> int:
    with Session(engine) as session:
        written = notify_problems(session=session, now=utcnow())
        session.commit()
    return written
