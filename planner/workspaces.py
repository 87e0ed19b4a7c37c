"""Workspaces (brands): creation, lookup by slug for a member, settings."""

from __future__ import annotations

import re
import secrets
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlmodel import Session, select

from planner import audit
from planner.errors import Invalid, NotFound
from planner.models import Membership, Role, Workspace


def slugify(name: str) -> str:
    slug = re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")
    return slug[:60] or "workspace"


def check_timezone(name: str) -> str:
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise Invalid.at("timezone", f"Unknown time zone {name!r}; use an IANA name like "
                         "Europe/Warsaw.") from None
    return name


def create_workspace(*, session: Session, name: str, timezone: str,
                     actor_id: int | None = None) -> Workspace:
    name = name.strip()
    if not name:
        raise Invalid.at("name", "A workspace needs a name.")
    base = slugify(name)
    slug, n = base, 1
    while session.exec(select(Workspace).where(Workspace.slug == slug)).first():
        n += 1
        slug = f"{base}-{n}"
    workspace = Workspace(name=name, slug=slug, timezone=check_timezone(timezone),
                          feed_secret=secrets.token_urlsafe(24))
    session.add(workspace)
    session.flush()
    audit.record(session=session, action="workspace.created", entity="workspace",
                 entity_id=workspace.id, actor_id=actor_id, workspace_id=workspace.id,
                 after={"name": name, "timezone": timezone})
    return workspace


def workspace_for_member(*, session: Session, slug: str, user_id: int) -> tuple[Workspace, Role]:
    """The workspace and the user's role in it; 404 for non-members so nothing leaks."""
    row = session.exec(
        select(Workspace, Membership.role)
        .join(Membership, Membership.workspace_id == Workspace.id)  # type: ignore[arg-type]
        .where(Workspace.slug == slug, Membership.user_id == user_id)
    ).first()
    if row is None:
        raise NotFound("No such workspace.")
    return row[0], Role(row[1])


def workspace_by_id_for_member(*, session: Session, workspace_id: int,
                               user_id: int) -> tuple[Workspace, Role]:
    workspace = session.get(Workspace, workspace_id)
    if workspace is None:
        raise NotFound("No such workspace.")
    return workspace_for_member(session=session, slug=workspace.slug, user_id=user_id)
