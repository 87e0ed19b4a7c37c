"""Dependencies: the DB session per request, the current user, and role checks in one place."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import Depends, Request
from sqlalchemy.exc import OperationalError
from sqlmodel import Session

from planner.db import get_engine, session_scope
from planner.errors import Forbidden, NotAuthenticated, NotFound, Unavailable
from planner.models import ROLE_RANK, Role, User, Workspace
from planner.team import users, workspaces
from planner.web.security import SAFE_METHODS, session_user


def get_db(request: Request) -> Iterator[Session]:
    """The request's unit of work: committed before the response goes out, or rolled back.

    Requests that write take SQLite's write lock at BEGIN: a transaction that read first
    and then tried to write after the in-process worker committed would fail outright
    (a stale WAL snapshot) instead of waiting its turn.
    """
    writes = request.method not in SAFE_METHODS or request.url.path.startswith("/api/")
    try:
        with session_scope(get_engine(), immediate=writes) as session:
            yield session
    except OperationalError as exc:
        raise Unavailable("The database cannot be reached right now; nothing was saved. "
                          "Try again in a moment.") from exc


SessionDep = Annotated[Session, Depends(get_db, scope="function")]


class LoginRequired(NotAuthenticated):
    """A browser request without a (live) login; rendered as a redirect to /login."""

    def __init__(self, *, expired: bool) -> None:
        super().__init__("Your session has expired; log in again." if expired
                         else "Log in to continue.")
        self.expired = expired


def current_user(request: Request, session: SessionDep) -> User:
    user, expired = session_user(request, session)
    if user is None:
        raise LoginRequired(expired=expired)
    request.state.user = user
    request.state.memberships = users.workspaces_of(session=session, user_id=user.id or 0)
    return user


def api_user(request: Request, session: SessionDep) -> User:
    header = request.headers.get("Authorization", "")
    scheme, _, secret = header.partition(" ")
    if scheme.lower() != "bearer" or not secret:
        raise NotAuthenticated("Send a personal API token as 'Authorization: Bearer <token>'.")
    user = users.user_for_token(session=session, secret=secret.strip())
    if user is None:
        raise NotAuthenticated("This API token is unknown or revoked.")
    request.state.user = user
    return user


UserDep = Annotated[User, Depends(current_user)]
ApiUserDep = Annotated[User, Depends(api_user)]


@dataclass(frozen=True)
class Member:
    """Who is acting, in which workspace, with which role."""

    user: User
    workspace: Workspace
    role: Role

    @property
    def user_id(self) -> int:
        return self.user.id or 0

    @property
    def workspace_id(self) -> int:
        return self.workspace.id or 0

    def can(self, minimum: Role) -> bool:
        return users.has_role(self.role, minimum)


ROLE_NAMES = {Role.viewer: "viewers", Role.manager: "managers",
              Role.brand_lead: "brand leads", Role.admin: "admins"}


def _check(member: Member, minimum: Role) -> Member:
    if not member.can(minimum):
        allowed = [ROLE_NAMES[r] for r in sorted(Role, key=ROLE_RANK.__getitem__)
                   if users.has_role(r, minimum)]
        article = "an" if member.role == Role.admin else "a"
        raise Forbidden(f"Only {' and '.join(allowed)} can do this; you are {article} "
                        f"{ROLE_NAMES[member.role][:-1]} here.")
    return member


def _membership(request: Request, session: Session, slug: str,
                user_id: int) -> tuple[Workspace, Role]:
    """The workspace and role from the memberships the login already loaded (one query
    fewer per page); the database when they were not loaded."""
    loaded = getattr(request.state, "memberships", None)
    if loaded is None:
        return workspaces.workspace_for_member(session=session, slug=slug, user_id=user_id)
    for workspace, role in loaded:
        if workspace.slug == slug:
            return workspace, role
    raise NotFound("No such workspace.")


def _nav_badges(session: Session, workspace_id: int, user_id: int,
                reviews: bool) -> dict[str, int]:
    """The navigation's counts: one statement for publishing, review and notifications (each
    area owns its count's query), the Inbox's own."""
    from sqlalchemy import literal, select

    from planner.conversions.inbox import count_new
    from planner.posts import in_review_query
    from planner.publishing import needing_attention_query
    from planner.team import unread_query

    publishing, review, unread = session.execute(select(
        needing_attention_query(workspace_id).scalar_subquery(),
        in_review_query(workspace_id).scalar_subquery() if reviews else literal(0),
        unread_query(workspace_id, user_id).scalar_subquery())).one()
    return {"publishing": int(publishing), "review": int(review),
            "notifications": int(unread), "inbox": count_new(session, workspace_id)}


def require(minimum: Role) -> Any:
    """Browser routes under /w/{slug}: the member, if their role is at least ``minimum``.

    Non-members get 404, never 403: a workspace's existence is not disclosed.
    """

    def dependency(request: Request, slug: str, session: SessionDep, user: UserDep) -> Member:
        workspace, role = _membership(request, session, slug, user.id or 0)
        request.state.workspace = workspace
        request.state.role = role
        member = _check(Member(user=user, workspace=workspace, role=role), minimum)
        if request.method == "GET":
            request.state.nav_badges = _nav_badges(session, workspace.id or 0, user.id or 0,
                                                   users.has_role(role, Role.brand_lead))
        return member

    return Depends(dependency)


def require_api(minimum: Role) -> Any:
    """API routes under /api/v1/workspaces/{workspace_id}: same rule, Bearer identity."""

    def dependency(workspace_id: int, session: SessionDep, user: ApiUserDep) -> Member:
        workspace, role = workspaces.workspace_by_id_for_member(
            session=session, workspace_id=workspace_id, user_id=user.id or 0)
        return _check(Member(user=user, workspace=workspace, role=role), minimum)

    return Depends(dependency)
