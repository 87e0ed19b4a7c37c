"""Accounts: connect (credentials or OAuth), test, pause/resume, reconnect, queue slots."""

from __future__ import annotations

from datetime import timedelta
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Request
from fastapi.responses import RedirectResponse, Response
from starlette.datastructures import FormData

from planner.accounts import apiversions, connections, oauth
from planner.accounts import service as accounts
from planner.db import before_network_call, utcnow
from planner.errors import Invalid, PlannerError
from planner.models import Account, Role
from planner.posts import schedule
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
        "whatsapp": {a.id: accounts.whatsapp_number(a) for a in rows},
        "sign_in_again": {a.id: _sign_in_again(member, a) for a in rows
                          if a.platform in oauth.PROVIDERS},
        "row_for": None, "row_message": "", "row_ok": True, "row_errors": {},
        "row_values": {},
        # API versions near or past their sunset, for the platforms connected here.
        "version_warnings": apiversions.warnings({a.platform for a in rows}),
    }
    context.update(extra)
    return context


def _sign_in_again(member: Member, account: Account) -> dict[str, Any]:
    """'Connect with ...' for this very account: its instance, its page among several.

    A form (POST with CSRF), not a link: starting a flow registers an app on the instance."""
    fields = {"api_base": account.api_base}
    if account.platform in ("facebook", "instagram"):
        fields["pick"] = account.external_id
    return {"action": f"/w/{member.workspace.slug}/accounts/oauth/{account.platform}",
            "fields": {key: value for key, value in fields.items() if value}}


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
    before_network_call(session)  # the platform may take 15 s; nobody waits for it
    try:
        connected = connections.connect_account(
            session=session, workspace_id=member.workspace_id, platform=platform,
            handle=str(form.get("handle") or ""), credentials=_credentials(form),
            api_base=str(form.get("api_base") or ""),
            external_id=str(form.get("external_id") or ""),
            whatsapp_number=str(form.get("whatsapp_number") or ""), actor_id=member.user_id)
    except PlannerError as exc:
        session.rollback()
        errors = {p.field.split(".")[-1]: p.message for p in exc.problems}
        return render(request, "accounts/index.html", _page_context(
            session, member, chosen=platform if platform in connections.FORMS else "mastodon",
            values=values, errors=errors, error=exc), partial="accounts/_connect.html",
            status_code=exc.status_code)
    account = connected.account
    return _back(request, member, _connected_notice(connected) if connected.renewed
                 else f"Connected {account.handle} ({account.display_name}).")


def _connected_notice(connected: connections.Connected) -> str:
    account = connected.account
    if not connected.renewed:
        return f"Connected {account.handle}."
    notice = f"Reconnected {account.handle}: it was already connected, so it got the new " \
             "credentials instead of being added twice."
    if account.status == "paused":
        notice += " It stays paused until you resume it."
    return notice


def _back(request: Request, member: Member, notice: str) -> Response:
    target = f"/w/{member.workspace.slug}/accounts?{urlencode({'notice': notice})}"
    if request.headers.get("HX-Request"):
        return Response(status_code=204, headers={"HX-Redirect": target})
    return RedirectResponse(target, status_code=303)


def _account(session: SessionDep, member: Member, account_id: int) -> Account:
    return accounts.get_account(session=session, workspace_id=member.workspace_id,
                                account_id=account_id)


def _row(request: Request, session: SessionDep, member: Member, account: Account,
         message: str = "", ok: bool = True, *, errors: dict[str, str] | None = None,
         values: dict[str, str] | None = None, status_code: int = 200) -> Response:
    context = _page_context(session, member)
    # Keyed by account: without htmx the whole page comes back, every row included.
    context.update(a=account, row_for=account.id, row_message=message, row_ok=ok,
                   row_errors=errors or {}, row_values=values or {})
    return render(request, "accounts/index.html", context, partial="accounts/_row.html",
                  status_code=status_code)


def _problems_in_words(exc: PlannerError) -> str:
    details = [p.message for p in exc.problems if p.message != exc.message]
    return " ".join([exc.message, *details])


@router.post("/w/{slug}/accounts/{account_id}/test")
def test_account(request: Request, account_id: int, session: SessionDep,
                 member: Member = require(Role.manager)) -> Response:
    account = _account(session, member, account_id)
    before_network_call(session)
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


@router.post("/w/{slug}/accounts/{account_id}/dm-polling")
async def dm_polling(request: Request, account_id: int, session: SessionDep,
                     member: Member = require(Role.manager)) -> Response:
    form = await request.form()
    on = str(form.get("on", "")) == "1"
    account = connections.set_dm_polling(session=session,
                                         account=_account(session, member, account_id),
                                         on=on, actor_id=member.user_id)
    return _row(request, session, member, account,
                "DMs are fetched into the Inbox again." if on else
                "DMs are no longer fetched from X for this account (X bills each DM read).")


@router.post("/w/{slug}/accounts/{account_id}/reconnect")
async def reconnect_account(request: Request, account_id: int, session: SessionDep,
                            member: Member = require(Role.manager)) -> Response:
    form = await request.form()
    account = _account(session, member, account_id)
    before_network_call(session)
    try:
        connections.reconnect(session=session, account=account,
                              credentials=_credentials(form), actor_id=member.user_id)
    except PlannerError as exc:
        session.rollback()
        account = _account(session, member, account_id)
        return _row(request, session, member, account, _problems_in_words(exc), ok=False)
    return _row(request, session, member, account, "Reconnected.")


@router.post("/w/{slug}/accounts/{account_id}/whatsapp")
async def save_whatsapp_number(request: Request, account_id: int, session: SessionDep,
                               member: Member = require(Role.manager)) -> Response:
    """The number DM prompts link to (wa.me) where the platform has no DM link of its own."""
    form = await request.form()
    given = str(form.get("whatsapp_number") or "")
    account = _account(session, member, account_id)
    try:
        accounts.set_whatsapp_number(session=session, account=account, number=given,
                                     actor_id=member.user_id)
    except PlannerError as exc:
        session.rollback()
        account = _account(session, member, account_id)
        errors = {p.field.split(".")[-1]: p.message for p in exc.problems} or {
            accounts.WHATSAPP_NUMBER: exc.message}
        return _row(request, session, member, account, exc.message, ok=False, errors=errors,
                    values={accounts.WHATSAPP_NUMBER: given}, status_code=exc.status_code)
    number = accounts.whatsapp_number(account)
    return _row(request, session, member, account,
                f"WhatsApp number saved: DM prompts without a DM link of the platform's own "
                f"open a WhatsApp chat with {number}." if number else
                "WhatsApp number removed.")


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


@router.post("/w/{slug}/accounts/oauth/{platform}")
async def oauth_start(request: Request, platform: str, session: SessionDep,
                      member: Member = require(Role.manager)) -> Response:
    """Start a flow: a POST with CSRF, because it makes the server call the named instance."""
    form = await request.form()
    api_base, pick = str(form.get("api_base") or ""), str(form.get("pick") or "")
    redirect_uri = str(request.url_for("oauth_callback", platform=platform))
    before_network_call(session)  # Mastodon: the app is registered on the instance
    url, flow = oauth.start(platform=platform, api_base=api_base, redirect_uri=redirect_uri,
                            pick=pick)
    request.session["oauth"] = {**flow, "slug": member.workspace.slug}
    return RedirectResponse(url, status_code=303)


@router.get("/oauth/callback/{platform}", name="oauth_callback")
def oauth_callback(request: Request, platform: str, session: SessionDep, user: UserDep,
                   code: str = "", state: str = "") -> Response:
    from planner.team import workspaces

    flow = dict(request.session.pop("oauth", {}) or {})
    if flow.get("platform") != platform:
        flow = {}
    before_network_call(session)  # the code exchange talks to the platform
    grant = oauth.finish(flow=flow, code=code, state=state)
    workspace, role = workspaces.workspace_for_member(session=session, slug=flow["slug"],
                                                      user_id=user.id or 0)
    member = Member(user=user, workspace=workspace, role=role)
    if not member.can(Role.manager):
        raise Invalid.at("role", "Only managers and above can connect accounts.")
    # An empty handle is filled in from the platform's answer (@username or name); an
    # account the workspace already has (e.g. one that needs reconnecting) is renewed.
    connected = connections.connect_account(
        session=session, workspace_id=member.workspace_id, platform=platform,
        handle=grant.handle, credentials=grant.credentials, api_base=flow["api_base"],
        external_id=grant.external_id, actor_id=member.user_id)
    connected.account.token_expires_at = (
        utcnow() + timedelta(seconds=grant.expires_in) if grant.expires_in else None)
    notice = urlencode({"notice": _connected_notice(connected)})
    return RedirectResponse(f"/w/{member.workspace.slug}/accounts?{notice}", status_code=303)
