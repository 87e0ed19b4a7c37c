"""Platform API versions and their sunsets, as the product acts on them (issue 11).

The dates live once, in ``publishers/versions.py``; this module fills in the configured
versions and answers three questions: which platforms are held (past a sunset: the
publishing engine claims nothing for them), what the Accounts page warns about, and which
notifications admins get ``WARN_DAYS`` before a sunset and once it has passed.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import UTC, date, datetime

from sqlmodel import Session, col, select

from planner.models import Account, Membership, Notification, Role
from planner.settings import Settings, get_settings
from publishers.versions import WARN_DAYS, ApiVersion, in_use

_PLATFORM = re.compile(r"^[a-z]+$")


def versions_in_use(settings: Settings | None = None) -> tuple[ApiVersion, ...]:
    settings = settings or get_settings()
    return in_use(linkedin_version=settings.linkedin_version,
                  graph_version=settings.meta_graph_version)


def _today(today: date | None) -> date:
    return today or datetime.now(UTC).date()


def held_platforms(today: date | None = None,
                   settings: Settings | None = None) -> tuple[str, ...]:
    """Platforms whose configured API version is past its sunset: publishing to them waits."""
    day = _today(today)
    return tuple(sorted(row.platform for row in versions_in_use(settings)
                        if row.state(day) == "sunset" and _PLATFORM.match(row.platform)))


def message(row: ApiVersion, today: date) -> str:
    """What a person reads about one version, in plain words; empty when all is well."""
    state = row.state(today)
    fix = (f"set {row.where_set} to a current version and restart Poise"
           if row.where_set.startswith("POISE_") else "update Poise")
    if state == "sunset":
        return (f"Publishing to {row.platform} is held: {row.describe()} has passed its "
                f"sunset, and the platform refuses it. To resume, {fix} (versions: "
                f"{row.source}).")
    if state == "soon":
        # No day count: the text stays the same every day, so admins are told once.
        return (f"{row.describe()} is close to its sunset; after it, publishing to "
                f"{row.platform} will be held. Before then, {fix} (versions: {row.source}).")
    return ""


def warnings(platforms: Iterable[str], today: date | None = None,
             settings: Settings | None = None) -> list[str]:
    """Messages for the Accounts page, for the platforms the workspace has accounts on."""
    wanted, day = set(platforms), _today(today)
    return [text for row in versions_in_use(settings) if row.platform in wanted
            if (text := message(row, day))]


def notify_sunsets(*, session: Session, today: date | None = None,
                   settings: Settings | None = None) -> int:
    """Tell each workspace's admins once per version and stage (within ``WARN_DAYS`` of the
    sunset, then past it). Returns the notifications written."""
    day, written = _today(today), 0
    for row in versions_in_use(settings):
        text = message(row, day)
        if not text:
            continue
        workspaces = set(session.exec(select(Account.workspace_id).where(
            col(Account.platform) == row.platform)).all())
        for workspace_id in sorted(workspaces):
            already = session.exec(select(Notification.id).where(
                col(Notification.workspace_id) == workspace_id,
                col(Notification.text) == text[:1000])).first()
            if already is not None:
                continue
            admins = session.exec(select(Membership.user_id).where(
                col(Membership.workspace_id) == workspace_id,
                col(Membership.role) == Role.admin)).all()
            recipients: list[int | None] = [*sorted(set(admins))] or [None]
            for user_id in recipients:
                session.add(Notification(workspace_id=workspace_id, user_id=user_id,
                                         text=text[:1000]))
                written += 1
    session.flush()
    return written


__all__ = ["WARN_DAYS", "held_platforms", "message", "notify_sunsets", "versions_in_use",
           "warnings"]
