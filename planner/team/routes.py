"""Workspace pages that are not an area of their own yet, and the home redirect.

The Settings page has parts that htmx swaps on their own: the workspace settings (admins
change them), the DM prompt templates (managers and up), the members and their invitations
(admins; ``routes_invites``), the personal API tokens and your account's password (everyone).
"""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import urlencode
from zoneinfo import available_timezones

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import RedirectResponse, Response
from starlette.datastructures import FormData

from planner.db import utcnow
from planner.errors import Invalid, NotFound, PlannerError
from planner.models import Role
from planner.settings import get_settings
from planner.team import invitations, users, workspaces
from planner.web.deps import Member, SessionDep, UserDep, require
from planner.web.render import render
from planner.web.security import csrf_protect

router = APIRouter(include_in_schema=False, dependencies=[Depends(csrf_protect)])


@router.get("/")
def home(request: Request, user: UserDep) -> Response:
    memberships = request.state.memberships
    if not memberships:
        return render(request, "no_workspace.html")
    return RedirectResponse(f"/w/{memberships[0][0].slug}/calendar", status_code=303)


@router.get("/w/{slug}")
def workspace_home(slug: str, member: Member = require(Role.viewer)) -> Response:
    return RedirectResponse(f"/w/{slug}/calendar", status_code=303)


@router.get("/w/{slug}/settings")
def settings_page(request: Request, session: SessionDep, notice: str = "",
                  member: Member = require(Role.viewer)) -> Response:
    return render(request, "settings/index.html",
                  {**_settings_context(session, member), "notice": notice[:200]})


@router.post("/w/{slug}/settings/tokens")
def create_token(request: Request, session: SessionDep, name: Annotated[str, Form()] = "",
                 member: Member = require(Role.viewer)) -> Response:
    issued = users.issue_api_token(session=session, user=member.user, name=name)
    context = _settings_context(session, member)
    context["new_token"] = issued.secret
    return render(request, "settings/index.html", context,
                  partial="settings/_tokens.html")


@router.post("/w/{slug}/settings/tokens/{token_id}/revoke")
def revoke_token(request: Request, token_id: int, session: SessionDep,
                 member: Member = require(Role.viewer)) -> Response:
    users.revoke_api_token(session=session, user=member.user, token_id=token_id)
    return render(request, "settings/index.html", _settings_context(session, member),
                  partial="settings/_tokens.html")


# --- workspace settings (admins) ---------------------------------------------------------------

@router.post("/w/{slug}/settings/workspace")
async def save_workspace_settings(request: Request, session: SessionDep,
                                  member: Member = require(Role.admin)) -> Response:
    form = await request.form()
    cap_raw = str(form.get("daily_cap_per_account") or "").strip()
    entered = {"name": str(form.get("name") or ""), "timezone": str(form.get("timezone") or ""),
               "daily_cap_per_account": cap_raw,
               "utm_campaign": str(form.get("utm_campaign") or "")}
    try:
        if not cap_raw.isdigit():
            raise Invalid.at("daily_cap_per_account", "Enter a whole number: 0 (no cap) or "
                             "more posts per account and day.")
        workspaces.update_settings(
            session=session, workspace=member.workspace, role=member.role,
            actor_id=member.user_id, data=workspaces.WorkspaceSettingsInput(
                name=entered["name"], timezone=entered["timezone"],
                daily_cap_per_account=int(cap_raw), utm_campaign=entered["utm_campaign"]))
    except Invalid as exc:
        session.rollback()
        context = _settings_context(session, member, settings_error=exc,
                                    settings_entered=entered)
        return render(request, "settings/index.html", context,
                      partial="settings/_workspace.html", status_code=422)
    context = _settings_context(session, member, settings_saved=True)
    return render(request, "settings/index.html", context, partial="settings/_workspace.html")


# --- DM prompt templates (managers and up) -----------------------------------------------------

def _template_input(form: FormData) -> workspaces.PromptTemplateInput:
    return workspaces.PromptTemplateInput(**{
        key: str(form.get(key) or "") for key in ("name", "keyword", "product_url", "prefill",
                                                  "call_to_action")})


def _prompts_response(request: Request, session: SessionDep, member: Member, *,
                      error: PlannerError | None = None, editing: int | None = None,
                      entered: workspaces.PromptTemplateInput | None = None,
                      notice: str = "") -> Response:
    if error is not None:
        session.rollback()
    context = _settings_context(session, member, prompts_error=error, prompts_editing=editing,
                                prompts_entered=entered, prompts_notice=notice)
    return render(request, "settings/index.html", context, partial="settings/_prompts.html",
                  status_code=error.status_code if error is not None else 200)


@router.post("/w/{slug}/settings/prompts")
async def create_prompt_template(request: Request, session: SessionDep,
                                 member: Member = require(Role.manager)) -> Response:
    data = _template_input(await request.form())
    try:
        template = workspaces.create_prompt_template(
            session=session, workspace_id=member.workspace_id, role=member.role,
            actor_id=member.user_id, data=data, now=utcnow())
    except Invalid as exc:
        return _prompts_response(request, session, member, error=exc, entered=data)
    return _prompts_response(request, session, member, notice=f"Saved “{template.name}”.")


@router.post("/w/{slug}/settings/prompts/{template_id}")
async def update_prompt_template(request: Request, template_id: int, session: SessionDep,
                                 member: Member = require(Role.manager)) -> Response:
    data = _template_input(await request.form())
    try:
        template = workspaces.update_prompt_template(
            session=session, workspace_id=member.workspace_id, role=member.role,
            actor_id=member.user_id, template_id=template_id, data=data, now=utcnow())
    except Invalid as exc:
        return _prompts_response(request, session, member, error=exc, editing=template_id,
                                 entered=data)
    return _prompts_response(request, session, member, notice=f"Saved “{template.name}”.")


@router.post("/w/{slug}/settings/prompts/{template_id}/delete")
def delete_prompt_template(request: Request, template_id: int, session: SessionDep,
                           member: Member = require(Role.manager)) -> Response:
    workspaces.delete_prompt_template(session=session, workspace_id=member.workspace_id,
                                      role=member.role, actor_id=member.user_id,
                                      template_id=template_id)
    return _prompts_response(request, session, member, notice="Template deleted. Posts that "
                             "used it keep their prompt.")


@router.post("/w/{slug}/settings/members/{user_id}/{action}")
def change_member(request: Request, user_id: int, action: str, session: SessionDep,
                  member: Member = require(Role.admin)) -> Response:
    """Remove a member from the workspace, or deactivate them (admins)."""
    if action == "remove":
        users.remove_member(session=session, workspace=member.workspace, user_id=user_id,
                            actor_id=member.user_id)
        notice = "Removed from the workspace."
    elif action == "deactivate":
        users.deactivate_member(session=session, workspace=member.workspace, user_id=user_id,
                                actor_id=member.user_id)
        notice = "Deactivated: their logins ended and their API tokens stopped working."
    else:
        raise NotFound("There is nothing at this address.")
    return RedirectResponse(f"/w/{member.workspace.slug}/settings?{urlencode({'notice': notice})}"
                            "#members", status_code=303)


def _field_errors(error: PlannerError | None) -> dict[str, str]:
    if error is None:
        return {}
    return {p.field or "form": p.message for p in reversed(error.problems)}


def _settings_context(session: SessionDep, member: Member, *,
                      settings_error: PlannerError | None = None,
                      settings_entered: dict[str, str] | None = None,
                      settings_saved: bool = False,
                      prompts_error: PlannerError | None = None,
                      prompts_editing: int | None = None,
                      prompts_entered: workspaces.PromptTemplateInput | None = None,
                      prompts_notice: str = "") -> dict[str, Any]:
    workspace = member.workspace
    current = {"name": workspace.name, "timezone": workspace.timezone,
               "daily_cap_per_account": str(workspace.daily_cap_per_account),
               "utm_campaign": workspace.utm_campaign}
    return {
        "tokens": users.tokens_of(session=session, user=member.user), "new_token": "",
        "can_admin": member.can(Role.admin), "can_manage": member.can(Role.manager),
        "settings": settings_entered or current, "settings_errors": _field_errors(
            settings_error), "settings_error": settings_error, "settings_saved": settings_saved,
        "zones": sorted(available_timezones()),
        "prompt_templates": workspaces.list_prompt_templates(
            session=session, workspace_id=member.workspace_id),
        "prompts_errors": _field_errors(prompts_error), "prompts_error": prompts_error,
        "prompts_editing": prompts_editing, "prompts_entered": prompts_entered,
        "prompts_notice": prompts_notice,
        "members": users.members_of(session=session, workspace_id=member.workspace_id)
        if member.can(Role.admin) else [],
        **_invitation_context(session, member),
    }


def _invitation_context(session: SessionDep, member: Member) -> dict[str, Any]:
    """Settings -> Members' invitations (admins) and Your account's password form; the
    routes are in ``routes_invites``."""
    return {
        "invitations": invitations.pending(session=session, workspace_id=member.workspace_id,
                                           now=utcnow()) if member.can(Role.admin) else [],
        "invitation_days": get_settings().invitation_days,
        "role_choices": [(str(role), invitations.ROLE_LABELS[role]) for role in (
            Role.viewer, Role.manager, Role.brand_lead, Role.admin)],
        "invite_errors": {}, "invite_entered": {"email": "", "role": str(Role.viewer)},
        "invite_link": "", "invite_email": "", "invite_mailed": False, "invite_mail_error": "",
        "account_errors": {}, "account_notice": "", "min_password": users.MIN_PASSWORD_LENGTH,
    }
