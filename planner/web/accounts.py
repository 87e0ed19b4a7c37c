"""Accounts: connect (credentials or OAuth), test, pause/resume, reconnect, queue slots."""

from __future__ import annotations

from datetime import timedelta
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Request
from fastapi.responses import RedirectResponse, Response
from starlette.datastructures import FormData

from planner import accounts, connections, oauth, schedule
from planner.db import utcnow
from planner.errors import Invalid, PlannerError
from planner.models import Account, Role
from planner.web.deps import Member, SessionDep, UserDep, require
from planner.web.render import render
from planner.web.security import csrf_protect

router = APIRouter(include_in_schema=False, dependencies=[Depends(csrf_protect)])


def _page_context(session: SessionDep, member: Member, **extra: Any) -> dict[str, Any]:
    rows = accounts.list_accounts(session=session, workspace_id=member.workspace_id)
    context: dict[str, Any] = {
        "accounts": rows, "platform_names": accounts.PLATFORMS, "forms": connections.FORMS,
        "oauth_platforms": sorted(oauth.PROVIDERS), "can_edit": member.can(Role.manager),
        "slots": {a.id: schedule.slots_of(session=session, account_id=a.id or 0) for a in rows},
        "weekdays": schedule.WEEKDAYS, "chosen": "mastodon", "values": {}, "errors": {},
        "error": None, "notice": "",
    }
    context.update(extra)
    return context


@router.get("/w/{slug}/accounts")
def accounts_page(request: Request, session: SessionDep, notice: str = "",
                  member: Member = require(Role.viewer)) -> Response:
    return render(request, "accounts/index.html", _page_context(session, member,
                                                                notice=notice))


@router.get("/w/{slug}/accounts/form")
def connect_form(request: Request, session: SessionDep, platform: str = "mastodon",
                 member: Member = require(Role.manager)) -> Response:
    """The credential fields for one platform (swapped in when the platform changes)."""
    chosen = platform if platform in connections.FORMS else "mastodon"
    return render(request, "accounts/index.html",
                  _page_context(session, member, chosen=chosen),
                  partial="accounts/_connect.html")


def _credentials(form: FormData) -> dict[str, str]:
    return {key[5:]: str(value) for key, value in form.items()
            if key.startswith("cred_") and isinstance(value, str)}


@router.post("/w/{slug}/accounts")
async def connect_account(request: Request, session: SessionDep,
                          member: Member = require(Role.manager)) -> Response:
    form = await request.form()
    platform = str(form.get("platform") or "")
    values = {k: str(v) for k, v in form.items() if isinstance(v, str) and k != "csrf_token"}
    try:
        account = connections.connect(
            session=session, workspace_id=member.workspace_id, platform=platform,
            handle=str(form.get("handle") or ""), credentials=_credentials(form),
            api_base=str(form.get("api_base") or ""),
            external_id=str(form.get("external_id") or ""), actor_id=member.user_id)
    except PlannerError as exc:
        session.rollback()
        errors = {p.field.split(".")[-1]: p.message for p in exc.problems}
        return render(request, "accounts/index.html", _page_context(
            session, member, chosen=platform if platform in connections.FORMS else "mastodon",
            values=values, errors=errors, error=exc), partial="accounts/_connect.html",
            status_code=exc.status_code)
    return _back(request, member, f"Connected {account.handle} ({account.display_name}).")


def _back(request: Request, member: Member, notice: str) -> Response:
    target = f"/w/{member.workspace.slug}/accounts?{urlencode({'notice': notice})}"
    if request.headers.get("HX-Request"):
        return Response(status_code=204, headers={"HX-Redirect": target})
    return RedirectResponse(target, status_code=303)


def _account(session: SessionDep, member: Member, account_id: int) -> Account:
    return accounts.get_account(session=session, workspace_id=member.workspace_id,
                                account_id=account_id)


def _row(request: Request, session: SessionDep, member: Member, account: Account,
         message: str = "", ok: bool = True) -> Response:
    context = _page_context(session, member)
    context.update(a=account, row_message=message, row_ok=ok)
    return render(request, "accounts/index.html", context, partial="accounts/_row.html")


@router.post("/w/{slug}/accounts/{account_id}/test")
def test_account(request: Request, account_id: int, session: SessionDep,
                 member: Member = require(Role.manager)) -> Response:
    account = _account(session, member, account_id)
    result = connections.test_connection(session=session, account=account,
                                         actor_id=member.user_id)
    return _row(request, session, member, account, result.message, result.ok)


@router.post("/w/{slug}/accounts/{account_id}/pause")
def pause_account(request: Request, account_id: int, session: SessionDep,
                  member: Member = require(Role.manager)) -> Response:
    account = connections.pause(session=session, account=_account(session, member, account_id),
                                actor_id=member.user_id)
    held = connections.held_count(session=session, account=account)
    return _row(request, session, member, account,
                f"Paused: {held} waiting publication(s) are held until you resume.")


@router.post("/w/{slug}/accounts/{account_id}/resume")
def resume_account(request: Request, account_id: int, session: SessionDep,
                   member: Member = require(Role.manager)) -> Response:
    account = connections.resume(session=session,
                                 account=_account(session, member, account_id),
                                 actor_id=member.user_id)
    return _row(request, session, member, account, "Resumed: publishing continues.")


@router.post("/w/{slug}/accounts/{account_id}/reconnect")
async def reconnect_account(request: Request, account_id: int, session: SessionDep,
                            member: Member = require(Role.manager)) -> Response:
    form = await request.form()
    account = _account(session, member, account_id)
    try:
        connections.reconnect(session=session, account=account,
                              credentials=_credentials(form), actor_id=member.user_id)
    except PlannerError as exc:
        session.rollback()
        account = _account(session, member, account_id)
        return _row(request, session, member, account, exc.message, ok=False)
    return _row(request, session, member, account, "Reconnected.")


@router.post("/w/{slug}/accounts/{account_id}/slots")
async def save_slots(request: Request, account_id: int, session: SessionDep,
                     member: Member = require(Role.manager)) -> Response:
    """Weekly schedule from lines like 'Mon 09:00' or 'daily 18:30'."""
    form = await request.form()
    account = _account(session, member, account_id)
    try:
        slots = parse_slot_lines(str(form.get("slots") or ""))
        schedule.set_slots(session=session, account=account, slots=slots,
                           actor_id=member.user_id)
    except Invalid as exc:
        session.rollback()
        account = _account(session, member, account_id)
        return _row(request, session, member, account, exc.message, ok=False)
    return _row(request, session, member, account, "Queue slots saved.")


def parse_slot_lines(text: str) -> list[tuple[int, str]]:
    days = {d.lower(): i for i, d in enumerate(schedule.WEEKDAYS)}
    result: list[tuple[int, str]] = []
    for number, line in enumerate(filter(None, (x.strip() for x in text.splitlines())), 1):
        parts = line.replace(",", " ").split()
        if len(parts) < 2:
            raise Invalid.at("slots", f"Line {number} ({line!r}): write a day and a time, "
                             "e.g. 'Mon 09:00' or 'daily 18:30'.")
        *names, at = parts
        for name in names:
            key = name.lower()[:3]
            if name.lower() == "daily":
                result.extend((d, at) for d in range(7))
            elif name.lower() == "weekdays":
                result.extend((d, at) for d in range(5))
            elif key in days:
                result.append((days[key], at))
            else:
                raise Invalid.at("slots", f"Line {number}: {name!r} is not a day.")
    return result


@router.get("/w/{slug}/accounts/oauth/{platform}")
def oauth_start(request: Request, platform: str, api_base: str = "", pick: str = "",
                member: Member = require(Role.manager)) -> Response:
    redirect_uri = str(request.url_for("oauth_callback", platform=platform))
    url, flow = oauth.start(platform=platform, api_base=api_base, redirect_uri=redirect_uri,
                            pick=pick)
    request.session["oauth"] = {**flow, "slug": member.workspace.slug}
    return RedirectResponse(url, status_code=303)


@router.get("/oauth/callback/{platform}", name="oauth_callback")
def oauth_callback(request: Request, platform: str, session: SessionDep, user: UserDep,
                   code: str = "", state: str = "") -> Response:
    from planner import workspaces

    flow = dict(request.session.pop("oauth", {}) or {})
    if flow.get("platform") != platform:
        flow = {}
    grant = oauth.finish(flow=flow, code=code, state=state)
    workspace, role = workspaces.workspace_for_member(session=session, slug=flow["slug"],
                                                      user_id=user.id or 0)
    member = Member(user=user, workspace=workspace, role=role)
    if not member.can(Role.manager):
        raise Invalid.at("role", "Only managers and above can connect accounts.")
    # An empty handle is filled in from the platform's answer (@username or name).
    account = connections.connect(
        session=session, workspace_id=member.workspace_id, platform=platform,
        handle=grant.handle, credentials=grant.credentials, api_base=flow["api_base"],
        external_id=grant.external_id, actor_id=member.user_id)
    if grant.expires_in:
        account.token_expires_at = utcnow() + timedelta(seconds=grant.expires_in)
    notice = urlencode({"notice": f"Connected {account.handle}."})
    return RedirectResponse(f"/w/{member.workspace.slug}/accounts?{notice}", status_code=303)
