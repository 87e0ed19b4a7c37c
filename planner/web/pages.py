"""Workspace pages that are not an area of their own yet, and the home redirect."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import RedirectResponse, Response

from planner import users
from planner.models import Role
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
def settings_page(request: Request, session: SessionDep,
                  member: Member = require(Role.viewer)) -> Response:
    return render(request, "settings/index.html", _settings_context(session, member))


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


def _settings_context(session: SessionDep, member: Member) -> dict[str, object]:
    return {"tokens": users.tokens_of(session=session, user=member.user), "new_token": ""}
