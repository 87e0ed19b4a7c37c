"""Conversions in the browser: the Inbox, a contact, the attribution report and its CSV; and the
public endpoints: the tracked-link redirect ``/r/{code}`` and the inbound webhooks.

The public endpoints carry no login and no CSRF token: the redirect only ever goes to a URL
stored for its code, and the webhooks are authenticated by their signatures.
"""

from __future__ import annotations

import io
import json
import logging
import secrets
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse, PlainTextResponse, RedirectResponse, Response
from sqlalchemy.engine import Connection
from sqlmodel import Session, col, select
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile

from planner.conversions import (
    attribution,
    charts,
    contacts,
    inbox,
    links,
    replies,
    webhooks,
)
from planner.csvcells import SafeWriter
from planner.db import before_network_call, get_engine, utcnow
from planner.errors import Invalid, NotFound, PlannerError
from planner.models import Account, Post, Role, User, Workspace, post_shown
from planner.models_conversions import (
    Contact,
    ContactIdentity,
    ContactStatus,
    ConversionEvent,
    ConversionSettings,
    EventKind,
    Message,
    Touchpoint,
)
from planner.settings import get_settings
from planner.web.deps import Member, SessionDep, require
from planner.web.render import render
from planner.web.security import csrf_protect
from publishers.webhook import verify_signature

log = logging.getLogger(__name__)

pages = APIRouter(include_in_schema=False, dependencies=[Depends(csrf_protect)])
public = APIRouter(include_in_schema=False)
router = APIRouter()


# --- the redirect --------------------------------------------------------------------------------

@public.api_route("/r/{code}", methods=["GET", "HEAD"])
def follow_link(code: str, request: Request) -> Response:
    result = links.follow(get_engine(), code=code,
                          visitor_id=request.cookies.get(links.VISITOR_COOKIE),
                          user_agent=request.headers.get("user-agent"),
                          referrer=request.headers.get("referer"), method=request.method)
    response = RedirectResponse(result.target_url, status_code=302,
                                headers={"Cache-Control": "no-store",
                                         "Referrer-Policy": "no-referrer-when-downgrade"})
    if result.set_cookie:
        response.set_cookie(links.VISITOR_COOKIE, result.visitor_id,
                            max_age=links.VISITOR_MAX_AGE, httponly=True, samesite="lax",
                            secure=get_settings().cookies_secure, path="/")
    return response


# --- webhooks ------------------------------------------------------------------------------------

def _refuse(status: int, detail: str) -> JSONResponse:
    return JSONResponse({"type": "about:blank", "title": "Refused", "status": status,
                         "detail": detail}, status_code=status,
                        media_type="application/problem+json")


def _problem(exc: PlannerError) -> JSONResponse:
    """The same problem detail the API gives (with the field at fault), for the shop."""
    body: dict[str, Any] = {"type": "about:blank", "title": exc.title,
                            "status": exc.status_code, "detail": exc.message}
    errors = [{"loc": ["data", *p.loc], "field": ".".join(["data", p.field]), "msg": p.message}
              for p in exc.problems]
    if errors:
        body["errors"] = errors
    return JSONResponse(body, status_code=exc.status_code, media_type="application/problem+json")


def _hook_workspace(session: Session, slug: str) -> Workspace | None:
    """The workspace of a webhook address, or None. Callers answer an unknown slug exactly as
    a wrong signature: the webhook addresses do not tell which workspaces exist."""
    return session.exec(select(Workspace).where(Workspace.slug == slug)).first()


@public.get("/hooks/{slug}/meta")
def meta_verify(slug: str, request: Request, session: SessionDep) -> Response:
    """Meta's subscription check: echo hub.challenge when the verify token matches."""
    workspace = _hook_workspace(session, slug)
    expected = inbox.settings_for(session, workspace.id or 0).meta_verify_token \
        if workspace is not None else ""
    params = request.query_params
    if (params.get("hub.mode") == "subscribe" and expected
            and params.get("hub.verify_token") == expected):
        return PlainTextResponse(params.get("hub.challenge", ""))
    return _refuse(403, "The verify token does not match.")


@public.post("/hooks/{slug}/meta")
async def meta_receive(slug: str, request: Request, session: SessionDep) -> Response:
    workspace = _hook_workspace(session, slug)
    body = await request.body()
    secret = webhooks.meta_app_secret(session, workspace.id or 0) if workspace else ""
    if workspace is None or not webhooks.verify_meta_signature(
            secret, body, request.headers.get("x-hub-signature-256")):
        return _refuse(401, "The X-Hub-Signature-256 signature is missing or wrong.")
    try:
        payload = json.loads(body)
    except ValueError:
        return _refuse(400, "The body is not JSON.")
    received = webhooks.handle_meta(session=session, workspace_id=workspace.id or 0,
                                    payload=payload if isinstance(payload, dict) else {})
    pending = replies.auto_replies_of(session, received)
    if pending:
        # The DMs are kept whatever the platform does; no lock while it answers; the
        # outcomes are written in the request's second, short transaction.
        before_network_call(session)
        await run_in_threadpool(replies.send_auto_replies, pending,
                                lambda write: write(session))
    return JSONResponse({"received": len(received)})


@public.post("/hooks/{slug}/shop")
async def shop_receive(slug: str, request: Request, session: SessionDep) -> Response:
    """Standard Webhooks from the shop: ``{"type": "contact|qualified|sale", "data": {...}}``."""
    workspace = _hook_workspace(session, slug)
    body = await request.body()
    secret = webhooks.shop_secret(session, workspace.id or 0) if workspace else ""
    if workspace is None or not verify_signature(secret, dict(request.headers), body):
        return _refuse(401, "The webhook signature is missing, wrong or too old.")
    try:
        payload = json.loads(body)
        kind, data = str(payload["type"]), payload.get("data") or {}
        if not isinstance(data, dict):
            raise ValueError("data is not an object")
    except (ValueError, KeyError, TypeError):
        return _refuse(400, "The body must be JSON with 'type' and a 'data' object.")
    try:
        result = webhooks.record_shop_event(session=session, workspace_id=workspace.id or 0,
                                            source="shop", kind=kind, data=data,
                                            fallback_id=request.headers.get("webhook-id", ""))
    except PlannerError as exc:  # invalid data (422), a contact id of another workspace (404)
        session.rollback()  # nothing of a refused event is kept
        return _problem(exc)
    return JSONResponse(result, status_code=201 if result["created"] else 200)


# --- the inbox -----------------------------------------------------------------------------------

def _team(session: Session, workspace_id: int) -> list[User]:
    return contacts.team(session=session, workspace_id=workspace_id)


def _prompts(session: Session, workspace_id: int) -> list[dict[str, Any]]:
    posts = session.exec(select(Post).where(Post.workspace_id == workspace_id,
                                            Post.dm_keyword != "", post_shown())
                         .order_by(col(Post.id).desc()).limit(50)).all()
    return [{"post": p, "rule": inbox.auto_reply_of(session, p.id or 0)} for p in posts]


@pages.get("/w/{slug}/inbox")
def inbox_page(request: Request, session: SessionDep, status: str = "",
               member: Member = require(Role.viewer)) -> Response:
    if status and status not in ContactStatus.__members__:
        status = ""
    return render(request, "conversions/inbox.html", {
        "conversations": inbox.conversations(session=session, workspace_id=member.workspace_id,
                                             status=status),
        "status": status, "statuses": list(ContactStatus), "can_act": member.can(Role.manager),
        "prompts": _prompts(session, member.workspace_id), "imported": request.query_params})


@pages.get("/w/{slug}/inbox/{contact_id}")
def contact_page(request: Request, contact_id: int, session: SessionDep,
                 member: Member = require(Role.viewer)) -> Response:
    contact = contacts.get_contact(session=session, workspace_id=member.workspace_id,
                                   contact_id=contact_id)
    if contact.id != contact_id:  # merged into another contact: its page is the one
        return RedirectResponse(f"/w/{member.workspace.slug}/inbox/{contact.id}",
                                status_code=308)
    accounts = {a.id: a for a in session.exec(select(Account).where(
        Account.workspace_id == member.workspace_id)).all()}
    messages = session.exec(select(Message).where(Message.contact_id == contact.id)
                            .order_by(col(Message.at), col(Message.id))).all()
    touches = session.exec(select(Touchpoint).where(Touchpoint.contact_id == contact.id)
                           .order_by(col(Touchpoint.at), col(Touchpoint.id))).all()
    events = session.exec(select(ConversionEvent).where(ConversionEvent.contact_id == contact.id)
                          .order_by(col(ConversionEvent.at))).all()
    post_ids = {t.post_id for t in touches if t.post_id} | {m.post_id for m in messages
                                                             if m.post_id}
    posts = {p.id: p for p in session.exec(select(Post).where(col(Post.id).in_(post_ids))).all()}
    identities = session.exec(select(ContactIdentity).where(
        ContactIdentity.contact_id == contact.id)).all()
    reply_accounts = [a for a in accounts.values() if a.platform in {i.kind for i in identities}]
    last_in = next((m for m in reversed(messages) if m.direction == "in"), None)
    return render(request, "conversions/contact.html", {
        "contact": contact, "messages": messages, "touches": touches, "events": events,
        "posts": posts, "accounts": accounts, "identities": identities,
        "reply_accounts": reply_accounts,
        "reply_default": last_in.account_id if last_in else None,
        "team": _team(session, member.workspace_id), "statuses": list(ContactStatus),
        "can_act": member.can(Role.manager), "dm_platforms": inbox.DM_PLATFORMS,
        # One key per showing of the form: submitting it twice records one sale.
        "sale_key": secrets.token_urlsafe(12)})


def _back(member: Member, contact_id: int, note: str = "") -> RedirectResponse:
    suffix = f"?done={note}" if note else ""
    return RedirectResponse(f"/w/{member.workspace.slug}/inbox/{contact_id}{suffix}",
                            status_code=303)


@pages.post("/w/{slug}/inbox/{contact_id}/reply")
async def reply(request: Request, contact_id: int, session: SessionDep,
                member: Member = require(Role.manager)) -> Response:
    form = await request.form()
    contact = contacts.get_contact(session=session, workspace_id=member.workspace_id,
                                   contact_id=contact_id)
    account_id = str(form.get("account_id") or "")
    account = session.get(Account, int(account_id)) if account_id.isdigit() else None
    if account is not None and account.workspace_id != member.workspace_id:
        raise NotFound("No such account in this workspace.")
    message = send_reply(session, contact=contact, account=account,
                         text=str(form.get("text") or ""), author_id=member.user_id)
    return _back(member, contact.id or 0, message.delivery)


def send_reply(session: Session, *, contact: Contact, account: Account | None, text: str,
               author_id: int | None) -> Message:
    """A person's reply (page and API): stored ``pending`` and committed, sent with no
    transaction open, its outcome recorded in a second transaction (the request's)."""
    message, outgoing = replies.queue_reply(session=session, contact=contact, account=account,
                                            text=text, author_id=author_id)
    text = message.text
    session.commit()
    outcome = replies.deliver(outgoing, text)
    bind = session.bind
    if isinstance(bind, Connection) and bind.dialect.name == "sqlite":
        bind.info["sqlite_begin"] = "BEGIN IMMEDIATE"  # the outcome's write waits its turn
    return replies.record_outcome(session=session, message_id=outgoing.message_id,
                                  outcome=outcome)


@pages.post("/w/{slug}/inbox/{contact_id}/status")
async def change_status(request: Request, contact_id: int, session: SessionDep,
                        member: Member = require(Role.manager)) -> Response:
    form = await request.form()
    value = str(form.get("status") or "")
    if value not in ContactStatus.__members__:
        raise Invalid.at("status", f"Unknown status {value!r}.")
    contact = contacts.get_contact(session=session, workspace_id=member.workspace_id,
                                   contact_id=contact_id)
    contacts.set_status(session=session, contact=contact, status=ContactStatus(value),
                        actor_id=member.user_id)
    return _back(member, contact_id, "status")


@pages.post("/w/{slug}/inbox/{contact_id}/assign")
async def assign(request: Request, contact_id: int, session: SessionDep,
                 member: Member = require(Role.manager)) -> Response:
    form = await request.form()
    raw = str(form.get("assignee_id") or "")
    contact = contacts.get_contact(session=session, workspace_id=member.workspace_id,
                                   contact_id=contact_id)
    assignee = int(raw) if raw.isdigit() else None
    if assignee is not None and assignee not in {u.id for u in _team(session,
                                                                       member.workspace_id)}:
        raise Invalid.at("assignee_id", "Assign to a team member (manager or above).")
    contacts.assign(session=session, contact=contact, assignee_id=assignee,
                    actor_id=member.user_id)
    return _back(member, contact_id, "assigned")


@pages.post("/w/{slug}/inbox/{contact_id}/sale")
async def record_sale(request: Request, contact_id: int, session: SessionDep,
                      member: Member = require(Role.manager)) -> Response:
    form = await request.form()
    contact = contacts.get_contact(session=session, workspace_id=member.workspace_id,
                                   contact_id=contact_id)
    order_id = contacts.inbox_order_id(contact_id=contact_id,
                                       order_id=str(form.get("order_id") or ""),
                                       form_key=str(form.get("sale_key") or ""))
    recorded = contacts.record_event(
        session=session, contact=contact, kind=EventKind.sale, source="inbox",
        external_id=order_id, amount_cents=webhooks.amount_cents(form.get("amount") or "0"),
        currency=str(form.get("currency") or ""), actor_id=member.user_id)
    return _back(member, contact_id, "sale" if recorded.created else "sale-known")


@pages.post("/w/{slug}/inbox/import")
async def import_contacts(request: Request, session: SessionDep,
                          member: Member = require(Role.manager)) -> Response:
    form = await request.form()
    upload = form.get("file")
    if not isinstance(upload, UploadFile) or not upload.filename:
        raise Invalid.at("file", "Choose a CSV file.")
    try:
        data = (await upload.read()).decode("utf-8")
    except UnicodeDecodeError:
        raise Invalid.at("file", "The CSV must be UTF-8.") from None
    result = contacts.import_csv(session=session, workspace_id=member.workspace_id, data=data)
    query = f"created={result.created}&updated={result.updated}&problems={len(result.problems)}"
    return RedirectResponse(f"/w/{member.workspace.slug}/inbox?{query}", status_code=303)


@pages.post("/w/{slug}/prompts/{post_id}/auto-reply")
async def toggle_auto_reply(request: Request, post_id: int, session: SessionDep,
                            member: Member = require(Role.manager)) -> Response:
    form = await request.form()
    post = session.get(Post, post_id)
    if post is None or post.workspace_id != member.workspace_id:
        raise NotFound("No such post in this workspace.")
    inbox.set_auto_reply(session=session, post=post, enabled=form.get("enabled") == "on",
                         text=str(form.get("text") or ""))
    return RedirectResponse(f"/w/{member.workspace.slug}/inbox#prompts", status_code=303)


# --- attribution ---------------------------------------------------------------------------------

def date_range(workspace: Workspace, start: str | None, end: str | None,
               *, field_prefix: str = "query") -> tuple[datetime, datetime, date, date]:
    """Inclusive local dates -> [start, end) in UTC; the last 30 days by default."""
    zone = ZoneInfo(workspace.timezone)
    today = utcnow().astimezone(zone).date()
    try:
        last = date.fromisoformat(end) if end else today
        first = date.fromisoformat(start) if start else last - timedelta(days=29)
    except ValueError:
        raise Invalid.at(f"{field_prefix}.from", f"Dates are YYYY-MM-DD; got {start!r} and "
                         f"{end!r}.") from None
    if last < first:
        raise Invalid.at(f"{field_prefix}.to", "'to' must not be before 'from'.")
    return (datetime.combine(first, time(), zone), datetime.combine(last + timedelta(days=1),
                                                                    time(), zone), first, last)


def dud_rule(settings: ConversionSettings) -> attribution.DudRule:
    return attribution.DudRule.of(threshold_per_100=settings.dud_contacts_per_100_sessions,
                                  min_sessions=settings.dud_min_sessions,
                                  window_weeks=settings.dud_window_weeks,
                                  weeks_below=settings.dud_weeks_below)


def report_context(session: Session, workspace: Workspace, start: str | None,
                   end: str | None) -> dict[str, Any]:
    """The report for the range and the channel health over the weeks ending with it."""
    begin, finish, first, last = date_range(workspace, start, end)
    report = attribution.report(session=session, workspace_id=workspace.id or 0,
                                start=begin, end=finish)
    settings = inbox.settings_for(session, workspace.id or 0)
    rule = dud_rule(settings)
    health = attribution.health(session=session, workspace_id=workspace.id or 0, end=finish,
                                rule=rule)
    return {"report": report, "first": first, "last": last, "begin": begin, "finish": finish,
            "health": health, "rule": rule, "conv_settings": settings}


def _report_context(session: Session, member: Member, start: str | None,
                    end: str | None) -> dict[str, Any]:
    return report_context(session, member.workspace, start, end)


def _charts(ctx: dict[str, Any]) -> dict[str, Any]:
    report: attribution.Report = ctx["report"]
    out: dict[str, Any] = {}
    for by in ("channel", "quadrant"):
        rows = report.rows("first", by)
        last = {k: f for k, _, f in report.rows("last", by)}
        series = []
        for stage in ("contacts", "sales"):
            for model, table in (("first", {k: f for k, _, f in rows}), ("last", last)):
                series.append((f"{stage}, {model} touch",
                               [getattr(table[k], stage) if k in table else 0
                                for k, _, _ in rows]))
        out[by] = charts.grouped_bars(
            title=f"Contacts and sales by {by}: first touch and last touch",
            labels=[label for _, label, _ in rows], series=series)
    weeks = ctx["rule"].window_weeks
    end: date = ctx["last"]
    # bucket i starts (weeks - i) weeks before the day after the range's last day
    labels = [(end + timedelta(days=1) - timedelta(weeks=weeks - i)).strftime("%d %b")
              for i in range(weeks)]
    out["trend"] = charts.weekly_lines(
        title="Sessions per week and channel", week_labels=labels,
        series=[(h.label, h.weekly_sessions) for h in ctx["health"]])
    return out


@pages.get("/w/{slug}/attribution")
def attribution_page(request: Request, session: SessionDep, member: Member = require(Role.viewer)
                     ) -> Response:
    params = request.query_params
    ctx = _report_context(session, member, params.get("from"), params.get("to"))
    shop_url = f"{get_settings().public_base_url.rstrip('/')}/hooks/{member.workspace.slug}"
    return render(request, "conversions/attribution.html", {
        **ctx, "charts": _charts(ctx), "models": attribution.MODELS,
        "is_admin": member.can(Role.admin), "hook_base": shop_url,
        "shop_secret": webhooks.shop_secret(session, member.workspace_id)
        if member.can(Role.admin) else ""})


CSV_COLUMNS = ["model", "by", "key", "label", "sessions", "contacts", "qualified", "sales",
               "revenue", "contacts_per_session", "qualified_per_contact", "sales_per_qualified",
               "underperforming", "weeks_below", "weekly_sessions", "weekly_contacts",
               "weekly_contacts_per_100"]


def _number(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else f"{value:g}"


def _series(values: list[float] | list[float | None]) -> str:
    return " ".join("-" if v is None else _number(v) for v in values)


def report_csv(report: attribution.Report, health: list[attribution.ChannelHealth]) -> str:
    """One table: the funnel rows (model first/last, by channel/quadrant), each channel row
    with its health flag, then one ``health`` row per channel with its weekly series."""
    by_key = {h.key: h for h in health}
    buffer = io.StringIO()
    writer = SafeWriter(buffer)  # channel labels come from outside
    writer.writerow(CSV_COLUMNS)
    for model in attribution.MODELS:
        for by in ("channel", "quadrant"):
            for key, label, funnel in report.rows(model, by):
                data = funnel.as_dict()
                revenue = "; ".join(f"{c} {v:.2f}" for c, v in data["revenue"].items())
                counts = [_number(data[stage]) for stage in attribution.STAGES]
                h = by_key.get(key) if by == "channel" else None
                flag = ["yes" if h.dud else "no", h.weeks_below] if h else ["", ""]
                writer.writerow([model, by, key, label, *counts, revenue,
                                 *[("" if v is None else v) for v in data["rates"].values()],
                                 *flag, "", "", ""])
    for h in health:
        writer.writerow(["health", "channel", h.key, h.label, _number(h.sessions),
                         _number(h.contacts), "", "", "",
                         "" if h.per_100 is None else round(h.per_100 / 100, 4), "", "",
                         "yes" if h.dud else "no", h.weeks_below, _series(h.weekly_sessions),
                         _series(h.weekly_contacts), _series(h.weekly_per_100)])
    return buffer.getvalue()


@pages.get("/w/{slug}/attribution.csv")
def attribution_csv(request: Request, session: SessionDep,
                    member: Member = require(Role.viewer)) -> Response:
    params = request.query_params
    ctx = _report_context(session, member, params.get("from"), params.get("to"))
    name = f"attribution-{member.workspace.slug}-{ctx['first']}-{ctx['last']}.csv"
    return Response(report_csv(ctx["report"], ctx["health"]),
                    media_type="text/csv; charset=utf-8",
                    headers={"Content-Disposition": f'attachment; filename="{name}"'})


@pages.post("/w/{slug}/attribution/settings")
async def save_settings(request: Request, session: SessionDep,
                        member: Member = require(Role.admin)) -> Response:
    form = await request.form()
    row = inbox.settings_for(session, member.workspace_id)
    try:
        row.dud_contacts_per_100_sessions = max(0.0, float(str(form.get("threshold") or 0)))
        row.dud_min_sessions = max(0, int(str(form.get("min_sessions") or 0)))
        row.dud_window_weeks = min(26, max(1, int(str(form.get("weeks") or 4))))
        row.dud_weeks_below = min(row.dud_window_weeks,
                                  max(1, int(str(form.get("weeks_below") or 3))))
        row.auto_reply_cooldown_hours = max(1, int(str(form.get("cooldown_hours") or 24)))
    except ValueError:
        raise Invalid("Thresholds are numbers.") from None
    webhooks.set_meta(session=session, workspace_id=member.workspace_id,
                      verify_token=str(form.get("meta_verify_token") or ""),
                      app_secret=str(form.get("meta_app_secret") or ""))
    if form.get("rotate_shop_secret") == "on":
        webhooks.rotate_shop_secret(session, row)
    return RedirectResponse(f"/w/{member.workspace.slug}/attribution#settings", status_code=303)


router.include_router(public)
router.include_router(pages)
