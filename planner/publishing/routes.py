"""The Publishing page: upcoming, in flight, needs review, failed, missed, with attempts."""

from __future__ import annotations

import hmac
from dataclasses import replace
from datetime import date, datetime, time, timedelta
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Depends, Request
from fastapi.responses import PlainTextResponse, RedirectResponse, Response

from planner import accounts
from planner.errors import Invalid
from planner.models import Role
from planner.publishing import overview as publishing
from planner.publishing.metrics import render_metrics
from planner.settings import get_settings
from planner.team import notifications
from planner.web.deps import Member, SessionDep, require
from planner.web.render import is_htmx, render
from planner.web.security import csrf_protect

router = APIRouter(include_in_schema=False, dependencies=[Depends(csrf_protect)])

SECTION_TITLES = {"needs_review": "Needs a person", "failed": "Failed", "missed": "Missed",
                  "in_flight": "In flight", "upcoming": "Upcoming", "published": "Published"}


PAGE_SIZE = 50


def _day(value: str, field: str) -> date | None:
    if not value:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise Invalid.at(field, "A date like 2026-12-01.") from None


@router.get("/w/{slug}/publishing")
def publishing_page(request: Request, session: SessionDep, section: str = "",
                    account: int | None = None, platform: str = "", since: str = "",
                    until: str = "", offset: int = 0,
                    member: Member = require(Role.viewer)) -> Response:
    """Every section with its real total; filters (account, platform, dates of
    scheduled_at) apply to all; ``section`` + ``offset`` pages through one of them."""
    if section and section not in SECTION_TITLES:
        raise Invalid.at("section", "Unknown section.")
    first, last = _day(since, "since"), _day(until, "until")
    zone = ZoneInfo(member.workspace.timezone)  # the dates are the workspace's days
    base = publishing.PublicationFilter(
        account_id=account, platform=platform or None,
        since=datetime.combine(first, time(), tzinfo=zone) if first else None,
        until=datetime.combine(last + timedelta(days=1), time(), tzinfo=zone) if last else None)
    filters = {k: v for k, v in {"account": account or "", "platform": platform,
                                 "since": since, "until": until}.items() if v}
    sections = []
    for key, title in SECTION_TITLES.items():
        start = max(0, offset) if key == section else 0
        total, views = publishing.find_publications(
            session=session, workspace_id=member.workspace_id,
            flt=replace(base, statuses=publishing.SECTIONS[key]),
            limit=PAGE_SIZE, offset=start, soonest_first=key == "upcoming")
        pages = {}
        if start > 0:
            pages["previous"] = urlencode({**filters, "section": key,
                                           "offset": max(0, start - PAGE_SIZE)})
        if start + PAGE_SIZE < total:
            pages["next"] = urlencode({**filters, "section": key,
                                       "offset": start + PAGE_SIZE})
        sections.append((key, title, views, total, start, pages))
    # An account paused for an expired token holds its posts: its owner is told here.
    return render(request, "publishing/index.html", {
        "sections": sections, "filters": filters,
        "accounts": accounts.list_accounts(session=session,
                                           workspace_id=member.workspace_id),
        "can_act": member.can(Role.manager), "platform_names": accounts.PLATFORMS,
        **notifications.panel_context(session=session, workspace_id=member.workspace_id,
                                       user_id=member.user_id, next_path=request.url.path)})


@router.post("/w/{slug}/publishing/{publication_id}/{action}")
async def publication_action(request: Request, publication_id: int, action: str,
                             session: SessionDep,
                             member: Member = require(Role.manager)) -> Response:
    """retry (send again), mark-published (with the post's URL) or cancel."""
    form = await request.form()
    kwargs = {"session": session, "workspace_id": member.workspace_id,
              "publication_id": publication_id, "actor_id": member.user_id}
    if action == "retry":
        publishing.retry_publication(**kwargs)  # type: ignore[arg-type]
        message = "Queued to send again."
    elif action == "mark-published":
        publishing.mark_published(remote_url=str(form.get("remote_url") or ""),
                                  **kwargs)  # type: ignore[arg-type]
        message = "Marked as published."
    elif action == "cancel":
        publishing.cancel_publication(**kwargs)  # type: ignore[arg-type]
        message = "Cancelled."
    else:
        return Response(status_code=404)
    target = f"/w/{member.workspace.slug}/publishing?done={message}"
    if is_htmx(request):
        return Response(status_code=204, headers={"HX-Redirect": target})
    return RedirectResponse(target, status_code=303)


@router.get("/metrics", response_class=PlainTextResponse)
def metrics(request: Request, session: SessionDep) -> Response:
    """Prometheus text format: due, in flight, published, failed, unknown, lateness.

    The figures count every workspace: only a scraper with POISE_METRICS_TOKEN (as a Bearer
    token) gets them; without the setting the address does not exist."""
    expected = get_settings().metrics_token
    scheme, _, sent = request.headers.get("authorization", "").partition(" ")
    if not expected or scheme.lower() != "bearer" or not hmac.compare_digest(
            sent.strip().encode(), expected.encode()):
        return Response(status_code=404)
    return PlainTextResponse(render_metrics(session),
                             media_type="text/plain; version=0.0.4; charset=utf-8")
