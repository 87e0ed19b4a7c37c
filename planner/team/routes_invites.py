"""Invitations and your own password, in the browser and in the API.

Settings -> Members (admins): invite an e-mail address with a role, see the link once, revoke
pending invitations. ``/invite/{token}`` (no login needed) shows the invitation and accepts
it. Settings -> Your account: change your own password. The API twins live at the end.

An invitation e-mail goes out only after the invitation is committed (``before_network_call``),
bounded by the SMTP timeout; when it fails the page says so and shows the link to copy.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import RedirectResponse, Response
from pydantic import BaseModel, Field

from planner.db import before_network_call, utcnow
from planner.errors import Forbidden, Invalid, PlannerError
from planner.models import Invitation, Role
from planner.settings import get_settings
from planner.team import invitations, sessions, users
from planner.team.routes import _field_errors, _settings_context
from planner.team.routes_auth import _client_address
from planner.web.deps import ApiUserDep, Member, SessionDep, require, require_api
from planner.web.errors import problem_response
from planner.web.problems import COMMON_ERRORS, WRITE_ERRORS, problem
from planner.web.render import render
from planner.web.security import csrf_protect, log_in, session_token, session_user

router = APIRouter(include_in_schema=False, dependencies=[Depends(csrf_protect)])
api_router = APIRouter(prefix="/api/v1", tags=["members"])

def _members_context(session: SessionDep, member: Member, **extra: Any) -> dict[str, Any]:
    return {**_settings_context(session, member), **extra}


def _send(session: SessionDep, issued: invitations.Issued, workspace_name: str,
          link: str) -> tuple[bool, str]:
    """(mailed, what went wrong): e-mail the link when an SMTP server is configured, after
    committing the invitation so no transaction waits on the network."""
    settings = get_settings()
    if not settings.smtp_url:
        return False, ""
    before_network_call(session)
    error = invitations.email_link(
        smtp_url=settings.smtp_url, sender=settings.smtp_from, to=issued.invitation.email,
        workspace_name=workspace_name, role=Role(issued.invitation.role), link=link,
        days=settings.invitation_days)
    return not error, error


# --- Settings -> Members (admins) ---------------------------------------------------------------

@router.post("/w/{slug}/settings/invitations")
def create_invitation(request: Request, session: SessionDep,
                      email: Annotated[str, Form()] = "", role: Annotated[str, Form()] = "",
                      member: Member = require(Role.admin)) -> Response:
    entered = {"email": email[:254], "role": role[:20]}
    try:
        issued = invitations.invite(session=session, workspace=member.workspace, email=email,
                                    role=role, actor_id=member.user_id, now=utcnow(),
                                    days=get_settings().invitation_days)
    except Invalid as exc:
        session.rollback()
        return render(request, "settings/index.html", _members_context(
            session, member, invite_errors=_field_errors(exc), invite_entered=entered),
            partial="settings/_members.html", status_code=422)
    link = invitations.link_for(get_settings().public_base_url, issued.token)
    invited = issued.invitation.email
    mailed, mail_error = _send(session, issued, member.workspace.name, link)
    return render(request, "settings/index.html", _members_context(
        session, member, invite_link=link, invite_email=invited, invite_mailed=mailed,
        invite_mail_error=mail_error), partial="settings/_members.html")


@router.post("/w/{slug}/settings/invitations/{invitation_id}/revoke")
def revoke_invitation(request: Request, invitation_id: int, session: SessionDep,
                      member: Member = require(Role.admin)) -> Response:
    revoked = invitations.revoke(session=session, workspace=member.workspace,
                                 invitation_id=invitation_id, actor_id=member.user_id,
                                 now=utcnow())
    return render(request, "settings/index.html", _members_context(
        session, member, notice=f"Invitation for {revoked.email} revoked."),
        partial="settings/_members.html")


# --- Settings -> Your account -------------------------------------------------------------------

@router.post("/w/{slug}/settings/password")
def change_password(request: Request, session: SessionDep,
                    current_password: Annotated[str, Form()] = "",
                    new_password: Annotated[str, Form()] = "",
                    repeat_password: Annotated[str, Form()] = "",
                    member: Member = require(Role.viewer)) -> Response:
    headers: dict[str, str] = {}
    try:
        ended = users.change_own_password(
            session=session, user=member.user, current=current_password, new=new_password,
            repeat=repeat_password, address=_client_address(request), now=utcnow(),
            keep_session=session_token(request))
    except sessions.Throttled as exc:
        error: PlannerError = exc
        headers["Retry-After"] = str(exc.retry_after)
    except users.WrongPassword as exc:
        session.commit()  # the failure counts towards the login throttle
        error = exc
    except Invalid as exc:
        session.rollback()
        error = exc
    else:
        others = f"{ended} other login{'s' if ended != 1 else ''}"
        notice = (f"Password changed. {others[0].upper()}{others[1:]} ended; this browser "
                  "stays logged in." if ended else "Password changed. You were logged in "
                  "nowhere else.")
        return render(request, "settings/index.html",
                      _members_context(session, member, account_notice=notice),
                      partial="settings/_account.html")
    errors = _field_errors(error) or {"form": error.message}
    return render(request, "settings/index.html",
                  _members_context(session, member, account_errors=errors),
                  partial="settings/_account.html", status_code=error.status_code,
                  headers=headers)


# --- /invite/{token}: see and accept ------------------------------------------------------------

def _invalid(request: Request, error: PlannerError, headers: dict[str, str] | None = None
             ) -> Response:
    return render(request, "auth/invite_invalid.html",
                  {"title": error.title, "detail": error.message},
                  status_code=error.status_code, headers=headers)


def _throttle_key(request: Request) -> tuple[str, str]:
    # Wrong links count per client address (10 in the window, like a login's account), and
    # towards that address's login limit: guessing 256-bit tokens stays hopeless.
    address = _client_address(request)
    return f"invitation:{address}", address


def _check(request: Request, session: SessionDep, token: str,
           now: datetime) -> invitations.Found | Response:
    key, address = _throttle_key(request)
    try:
        sessions.check_throttle(session=session, email=key, address=address, now=now)
        return invitations.look_up(session=session, token=token, now=now)
    except sessions.Throttled as exc:
        return _invalid(request, exc, {"Retry-After": str(exc.retry_after)})
    except invitations.NoLongerValid as exc:
        sessions.record_failure(session=session, email=key, address=address, now=now)
        return _invalid(request, exc)


def _invite_page(request: Request, found: invitations.Found, token: str, *,
                 error: str = "", errors: dict[str, str] | None = None, name: str = "",
                 status_code: int = 200) -> Response:
    return render(request, "auth/invite.html", {
        "invitation": found.invitation, "invite_workspace": found.workspace, "token": token,
        "role_label": invitations.ROLE_LABELS[Role(found.invitation.role)],
        "account_exists": found.account_exists, "error": error, "errors": errors or {},
        "name": name[:120], "min_password": users.MIN_PASSWORD_LENGTH},
        status_code=status_code)


@router.get("/invite/{token}")
def invitation_page(request: Request, token: str, session: SessionDep) -> Response:
    user, _ = session_user(request, session)
    request.state.user = user
    found = _check(request, session, token, utcnow())
    if isinstance(found, Response):
        return found
    return _invite_page(request, found, token)


@router.post("/invite/{token}")
def accept_invitation(request: Request, token: str, session: SessionDep,
                      name: Annotated[str, Form()] = "", password: Annotated[str, Form()] = "",
                      repeat: Annotated[str, Form()] = "") -> Response:
    now = utcnow()
    user, _ = session_user(request, session)
    request.state.user = user
    found = _check(request, session, token, now)
    if isinstance(found, Response):
        return found
    try:
        if user is not None:
            joined = invitations.accept_existing(session=session, token=token, user=user,
                                                 now=now)
            target = joined.workspace.slug
        else:
            new_user, joined = invitations.accept_new(session=session, token=token, name=name,
                                                      password=password, repeat=repeat,
                                                      now=now)
            target = joined.workspace.slug
            log_in(request, session, new_user.id or 0)
    except invitations.NoLongerValid as exc:
        session.rollback()
        return _invalid(request, exc)
    except (Invalid, Forbidden) as exc:
        session.rollback()
        refreshed = _check(request, session, token, now)
        if isinstance(refreshed, Response):
            return refreshed
        return _invite_page(request, refreshed, token, error=exc.message if isinstance(
            exc, Forbidden) else "", errors=_field_errors(exc), name=name,
            status_code=exc.status_code)
    return RedirectResponse(f"/w/{target}/calendar", status_code=303)


# --- the API ------------------------------------------------------------------------------------

class InvitationIn(BaseModel):
    email: str = Field(max_length=254, examples=["dana@brand.example"])
    role: Role = Field(Role.viewer, description="viewer, manager, brand_lead or admin")


class InvitationOut(BaseModel):
    id: int
    email: str
    role: Role
    created_at: datetime
    expires_at: datetime


class InvitationIssued(InvitationOut):
    link: str = Field(description="The invitation link, returned only now: it works once, "
                      "until expires_at")
    emailed: bool = Field(description="The link was also e-mailed (POISE_SMTP_URL is set and "
                          "sending worked)")
    email_error: str = Field("", description="Why the e-mail could not be sent, if it was "
                             "tried")


def _out(invitation: Invitation) -> InvitationOut:
    return InvitationOut(id=invitation.id or 0, email=invitation.email,
                         role=Role(invitation.role), created_at=invitation.created_at,
                         expires_at=invitation.expires_at)


@api_router.post("/workspaces/{workspace_id}/invitations", response_model=InvitationIssued,
                 status_code=201, responses=WRITE_ERRORS)
def api_invite(body: InvitationIn, session: SessionDep,
               member: Member = require_api(Role.admin)) -> InvitationIssued:
    """Invite an e-mail address to the workspace with a role (admins). A pending invitation
    of the same address is replaced; a member cannot be invited (422 at `email`)."""
    issued = invitations.invite(session=session, workspace=member.workspace, email=body.email,
                                role=str(body.role), actor_id=member.user_id, now=utcnow(),
                                days=get_settings().invitation_days)
    out = _out(issued.invitation)
    link = invitations.link_for(get_settings().public_base_url, issued.token)
    mailed, error = _send(session, issued, member.workspace.name, link)
    return InvitationIssued(**out.model_dump(), link=link, emailed=mailed, email_error=error)


@api_router.get("/workspaces/{workspace_id}/invitations", response_model=list[InvitationOut],
                responses={**COMMON_ERRORS, 403: WRITE_ERRORS[403]})
def api_pending(session: SessionDep, member: Member = require_api(Role.admin)
                ) -> list[InvitationOut]:
    """Pending invitations (not used, revoked or expired), newest first (admins)."""
    return [_out(i) for i in invitations.pending(session=session,
                                                 workspace_id=member.workspace_id,
                                                 now=utcnow())]


@api_router.delete("/workspaces/{workspace_id}/invitations/{invitation_id}", status_code=204,
                   responses=WRITE_ERRORS)
def api_revoke(invitation_id: int, session: SessionDep,
               member: Member = require_api(Role.admin)) -> Response:
    """Revoke a pending invitation (admins): its link stops working."""
    invitations.revoke(session=session, workspace=member.workspace,
                       invitation_id=invitation_id, actor_id=member.user_id, now=utcnow())
    return Response(status_code=204)


class PasswordChange(BaseModel):
    current_password: str = Field(max_length=1000)
    new_password: str = Field(max_length=1000, description="At least "
                              f"{users.MIN_PASSWORD_LENGTH} characters")


@api_router.post("/me/password", status_code=204, tags=["api"],
                 responses={**COMMON_ERRORS, 429: problem(429, "Too many wrong passwords; "
                                                          "see Retry-After")})
def api_change_password(request: Request, body: PasswordChange, session: SessionDep,
                        user: ApiUserDep) -> Response:
    """Change your own password. Every browser login of yours ends; API tokens keep working
    (revoke them in Settings). A wrong current password (422 at `current_password`) counts
    towards the login throttle."""
    try:
        users.change_own_password(session=session, user=user, current=body.current_password,
                                  new=body.new_password, repeat=body.new_password,
                                  address=_client_address(request), now=utcnow())
    except users.WrongPassword:
        session.commit()  # the failure counts towards the login throttle
        raise
    except sessions.Throttled as exc:
        response = problem_response(request, status=429, title=exc.title, detail=exc.message)
        response.headers["Retry-After"] = str(exc.retry_after)
        return response
    return Response(status_code=204)
