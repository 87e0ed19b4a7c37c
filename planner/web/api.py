"""The REST API under /api/v1 (Bearer tokens). Areas add their own routers to this one."""

from __future__ import annotations

from fastapi import APIRouter
from pydantic import BaseModel

from planner import accounts, users
from planner.models import AccountPublic, Role, WorkspacePublic
from planner.web.deps import ApiUserDep, Member, SessionDep, require_api

router = APIRouter(prefix="/api/v1", tags=["api"])

PROBLEM = {"content": {"application/problem+json": {"example": {
    "type": "about:blank", "title": "Not found", "status": 404,
    "detail": "No such workspace."}}}}
COMMON_ERRORS: dict[int | str, dict[str, object]] = {
    401: {"description": "Missing, unknown or revoked token", **PROBLEM},
    404: {"description": "Not found (or not visible to you)", **PROBLEM},
}


class MePublic(BaseModel):
    id: int
    email: str
    name: str


class MembershipPublic(BaseModel):
    workspace: WorkspacePublic
    role: Role


@router.get("/me", response_model=MePublic, responses=COMMON_ERRORS)
def me(user: ApiUserDep) -> MePublic:
    """The user the token belongs to."""
    return MePublic(id=user.id or 0, email=user.email, name=user.name)


@router.get("/workspaces", response_model=list[MembershipPublic], responses=COMMON_ERRORS)
def list_workspaces(session: SessionDep, user: ApiUserDep) -> list[MembershipPublic]:
    """Workspaces you are a member of, with your role in each."""
    return [MembershipPublic(workspace=WorkspacePublic.model_validate(ws, from_attributes=True),
                             role=role)
            for ws, role in users.workspaces_of(session=session, user_id=user.id or 0)]


@router.get("/workspaces/{workspace_id}/accounts", response_model=list[AccountPublic],
            responses=COMMON_ERRORS)
def list_accounts(session: SessionDep, member: Member = require_api(Role.viewer)
                  ) -> list[AccountPublic]:
    """The workspace's social accounts (credentials are never returned)."""
    return [AccountPublic.model_validate(a, from_attributes=True)
            for a in accounts.list_accounts(session=session, workspace_id=member.workspace_id)]
