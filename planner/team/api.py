"""The team's REST API under /api/v1 (Bearer tokens): who I am, my workspaces and their
settings, the workspace's accounts and DM prompt templates. Errors: ``planner.web.problems``.
"""

from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter, Response
from pydantic import BaseModel, Field

from planner import accounts
from planner.db import utcnow
from planner.models import AccountPublic, PromptTemplate, Role, Workspace, WorkspacePublic
from planner.team import users, workspaces
from planner.web.deps import ApiUserDep, Member, SessionDep, require_api
from planner.web.problems import COMMON_ERRORS, WRITE_ERRORS

router = APIRouter(prefix="/api/v1", tags=["api"])


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


class WorkspaceSettingsOut(BaseModel):
    id: int
    slug: str
    name: str
    timezone: str = Field(examples=["Europe/Warsaw"])
    daily_cap_per_account: int = Field(description="Posts per account and local day before "
                                       "the composer and calendar warn; 0 = no cap")
    utm_campaign: str = Field(description="utm_campaign of every product link")


class WorkspacePatch(BaseModel):
    """Only the fields you send change."""

    name: str | None = None
    timezone: str | None = Field(None, examples=["America/New_York"],
                                 description="IANA zone; posts keep their instant")
    daily_cap_per_account: int | None = Field(None, examples=[4])
    utm_campaign: str | None = Field(None, examples=["spring-launch"])


def _settings_out(workspace: Workspace) -> WorkspaceSettingsOut:
    return WorkspaceSettingsOut(
        id=workspace.id or 0, slug=workspace.slug, name=workspace.name,
        timezone=workspace.timezone, daily_cap_per_account=workspace.daily_cap_per_account,
        utm_campaign=workspace.utm_campaign)


@router.get("/workspaces/{workspace_id}", response_model=WorkspaceSettingsOut,
            responses=COMMON_ERRORS)
def get_workspace(member: Member = require_api(Role.viewer)) -> WorkspaceSettingsOut:
    """A workspace's settings."""
    return _settings_out(member.workspace)


@router.patch("/workspaces/{workspace_id}", response_model=WorkspaceSettingsOut,
              responses=WRITE_ERRORS)
def patch_workspace(body: WorkspacePatch, session: SessionDep,
                    member: Member = require_api(Role.admin)) -> WorkspaceSettingsOut:
    """Change the name, time zone, daily cap per account or UTM campaign (admins)."""
    workspace = workspaces.update_settings(
        session=session, workspace=member.workspace, role=member.role, actor_id=member.user_id,
        data=workspaces.WorkspaceSettingsInput(**body.model_dump(exclude_unset=True)))
    return _settings_out(workspace)


@router.get("/workspaces/{workspace_id}/accounts", response_model=list[AccountPublic],
            responses=COMMON_ERRORS)
def list_accounts(session: SessionDep, member: Member = require_api(Role.viewer)
                  ) -> list[AccountPublic]:
    """The workspace's social accounts (credentials are never returned)."""
    return [AccountPublic.model_validate(a, from_attributes=True)
            for a in accounts.list_accounts(session=session, workspace_id=member.workspace_id)]


class PromptTemplateIn(BaseModel):
    name: str = Field(examples=["Glow serum"])
    keyword: str = Field(examples=["GLOW"], description="The word people send in a DM")
    product_url: str = Field(examples=["https://shop.example/glow"])
    prefill: str = Field("", description="Prefilled DM text where the platform supports it")
    call_to_action: str = Field("", examples=["DM us GLOW for 10% off"],
                                description="Empty: \"DM us KEYWORD for the link\"")


class PromptTemplateOut(PromptTemplateIn):
    id: int
    updated_at: datetime


def _template_out(template: PromptTemplate) -> PromptTemplateOut:
    return PromptTemplateOut(id=template.id or 0, name=template.name, keyword=template.keyword,
                             product_url=template.product_url, prefill=template.prefill,
                             call_to_action=template.call_to_action,
                             updated_at=template.updated_at)


@router.get("/workspaces/{workspace_id}/prompt-templates",
            response_model=list[PromptTemplateOut], responses=COMMON_ERRORS,
            tags=["dm prompts"])
def list_prompt_templates(session: SessionDep, member: Member = require_api(Role.viewer)
                          ) -> list[PromptTemplateOut]:
    """The workspace's reusable DM prompts, by name."""
    return [_template_out(t) for t in workspaces.list_prompt_templates(
        session=session, workspace_id=member.workspace_id)]


@router.post("/workspaces/{workspace_id}/prompt-templates", response_model=PromptTemplateOut,
             status_code=201, responses=WRITE_ERRORS, tags=["dm prompts"])
def create_prompt_template(body: PromptTemplateIn, session: SessionDep,
                           member: Member = require_api(Role.manager)) -> PromptTemplateOut:
    """Save a reusable DM prompt (managers and up). Names are unique per workspace."""
    template = workspaces.create_prompt_template(
        session=session, workspace_id=member.workspace_id, role=member.role,
        actor_id=member.user_id, data=workspaces.PromptTemplateInput(**body.model_dump()),
        now=utcnow())
    return _template_out(template)


@router.delete("/workspaces/{workspace_id}/members/{user_id}", status_code=204,
               responses=WRITE_ERRORS, tags=["members"])
def remove_member(user_id: int, session: SessionDep,
                  member: Member = require_api(Role.admin)) -> Response:
    """Take a person out of the workspace (admins). The last admin stays."""
    users.remove_member(session=session, workspace=member.workspace, user_id=user_id,
                        actor_id=member.user_id)
    return Response(status_code=204)


@router.post("/workspaces/{workspace_id}/members/{user_id}/deactivate", status_code=204,
             responses=WRITE_ERRORS, tags=["members"])
def deactivate_member(user_id: int, session: SessionDep,
                      member: Member = require_api(Role.admin)) -> Response:
    """Deactivate a member (admins): every login ends and their API tokens stop working.
    Only for people who work in no workspace the admin does not run."""
    users.deactivate_member(session=session, workspace=member.workspace, user_id=user_id,
                            actor_id=member.user_id)
    return Response(status_code=204)
