"""Calendar pages: month, week and list views, filters, CSV export."""

from __future__ import annotations

import calendar as pycal
import logging
import threading
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response
from sqlmodel import col, select
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile

from planner import accounts, posts
from planner.db import before_network_call, utcnow
from planner.errors import Invalid, NotFound, PlannerError
from planner.models import ImportJob, Membership, Role, User
from planner.posts import calendar, checklist, csvio
from planner.settings import get_settings
from planner.web.deps import Member, SessionDep, require
from planner.web.render import is_htmx, render
from planner.web.security import csrf_protect

router = APIRouter(include_in_schema=False, dependencies=[Depends(csrf_protect)])

log = logging.getLogger(__name__)

VIEWS = ("month", "week", "list")
LIST_PAGE_SIZE = 100


def parse_filters(account: str = "", status: str = "", author: str = "",
                  quadrant: str = "") -> calendar.Filters:
    status = status.strip()
    return calendar.Filters(account_id=int(account) if account.isdigit() else None,
                            status=status if status in calendar.STATUSES else "",
                            author_id=int(author) if author.isdigit()
                            else None, quadrant=quadrant if quadrant in
                            calendar.QUADRANT_COLOURS else "")


def _anchor(value: str, zone: str) -> date:
    if not value:
        return utcnow().astimezone(ZoneInfo(zone)).date()
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise Invalid.at("date", f"{value!r} is not a date (YYYY-MM-DD).") from None


def viewer_zone(request: Request, workspace_zone: str) -> str | None:
    """The browser's zone (sent by app.js as a cookie) when it differs from the workspace's."""
    value = request.cookies.get("viewer_tz", "")
    if not value or value == workspace_zone or len(value) > 64:
        return None
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError, OSError):  # OSError: a name too long to open
        return None
    return value


@router.get("/w/{slug}/calendar")
def calendar_page(request: Request, session: SessionDep, view: str = "month", date: str = "",
                  account: str = "", status: str = "", author: str = "", quadrant: str = "",
                  page: str = "1", member: Member = require(Role.viewer)) -> Response:
    zone = member.workspace.timezone
    anchor = _anchor(date, zone)
    view = view if view in VIEWS else "month"
    filters = parse_filters(account, status, author, quadrant)
    context: dict[str, object] = {
        "view": view, "anchor": anchor, "filters": filters, "zone": zone,
        "viewer_zone": viewer_zone(request, zone), "today": _anchor("", zone),
        "accounts": accounts.list_accounts(session=session, workspace_id=member.workspace_id),
        "authors": session.exec(select(User).join(Membership, col(Membership.user_id) == col(
            User.id)).where(Membership.workspace_id == member.workspace_id)).all(),
        "quadrants": calendar.QUADRANT_LABELS, "colours": calendar.QUADRANT_COLOURS,
        "can_edit": member.can(Role.manager), "cap": member.workspace.daily_cap_per_account,
        "feed_url": f"{get_settings().public_base_url}/feeds/{member.workspace.feed_secret}.ics"
        if member.can(Role.manager) and member.workspace.feed_secret else "",
    }
    if view == "month":
        grid = calendar.month_view(session=session, workspace_id=member.workspace_id, zone=zone,
                                   year=anchor.year, month=anchor.month, filters=filters)
        first = anchor.replace(day=1)
        context.update(grid=grid, title=f"{pycal.month_name[anchor.month]} {anchor.year}",
                       prev=(first - timedelta(days=1)).replace(day=1),
                       next=(first + timedelta(days=32)).replace(day=1),
                       over_cap=calendar.over_cap(grid.days, member.workspace
                                                  .daily_cap_per_account))
    elif view == "week":
        grid = calendar.week_view(session=session, workspace_id=member.workspace_id, zone=zone,
                                  any_day=anchor, filters=filters)
        context.update(grid=grid, title=f"Week of {grid.start:%d %b %Y}",
                       prev=grid.start - timedelta(days=7), next=grid.start + timedelta(days=7),
                       over_cap=calendar.over_cap(grid.days, member.workspace
                                                  .daily_cap_per_account))
    else:
        start = anchor.replace(day=1)
        days = pycal.monthrange(start.year, start.month)[1]
        number = max(int(page), 1) if page.isdigit() else 1
        cards, total = calendar.list_view(session=session, workspace_id=member.workspace_id,
                                          zone=zone, start=start, days=days, filters=filters,
                                          limit=LIST_PAGE_SIZE,
                                          offset=(number - 1) * LIST_PAGE_SIZE)
        if not cards and total:  # past the end (the month got shorter): show the last page
            number = (total + LIST_PAGE_SIZE - 1) // LIST_PAGE_SIZE
            cards, total = calendar.list_view(
                session=session, workspace_id=member.workspace_id, zone=zone, start=start,
                days=days, filters=filters, limit=LIST_PAGE_SIZE,
                offset=(number - 1) * LIST_PAGE_SIZE)
        context.update(cards=cards, total=total, title=f"{pycal.month_name[start.month]} "
                       f"{start.year}", prev=(start - timedelta(days=1)).replace(day=1),
                       next=(start + timedelta(days=32)).replace(day=1), page=number,
                       page_size=LIST_PAGE_SIZE,
                       first_row=(number - 1) * LIST_PAGE_SIZE + 1)
    if member.can(Role.manager) and not is_htmx(request):
        # The first-run checklist sits above the calendar, outside what htmx swaps.
        context["checklist"] = checklist.checklist(session=session, workspace=member.workspace,
                                                   user_id=member.user_id)
    return render(request, "calendar/index.html", context, partial="calendar/_body.html")


@router.get("/w/{slug}/calendar.csv")
def calendar_csv(session: SessionDep, view: str = "month", date: str = "", account: str = "",
                 status: str = "", author: str = "", quadrant: str = "",
                 member: Member = require(Role.viewer)) -> Response:
    """The publications of the month (or week) shown, as CSV in the import format."""
    zone = member.workspace.timezone
    anchor = _anchor(date, zone)
    if view == "week":
        start, days = anchor - timedelta(days=anchor.weekday()), 7
    else:
        start = anchor.replace(day=1)
        days = pycal.monthrange(start.year, start.month)[1]
    body = csvio.export_csv(session=session, workspace=member.workspace, start=start, days=days,
                            filters=parse_filters(account, status, author, quadrant))
    name = f"{member.workspace.slug}-{start:%Y-%m-%d}.csv"
    return Response(body, media_type="text/csv; charset=utf-8",
                    headers={"Content-Disposition": f'attachment; filename="{name}"'})


def local_clock(at: datetime, zone: str) -> str:
    return at.astimezone(ZoneInfo(zone)).strftime("%H:%M")


@router.get("/w/{slug}/import")
def import_page(request: Request, member: Member = require(Role.manager)) -> Response:
    return render(request, "calendar/import.html", {"error": None, "result": None})


@router.post("/w/{slug}/import")
async def import_upload(request: Request, session: SessionDep,
                        member: Member = require(Role.manager)) -> Response:
    """Upload a CSV calendar: all rows or none, written in short batches by a thread of its
    own while the page shows its progress; every problem listed by line and column."""
    from fastapi.responses import RedirectResponse

    form = await request.form()
    upload = form.get("file")
    if not isinstance(upload, UploadFile) or not upload.filename:
        error: PlannerError | None = Invalid.at("file", "Choose a CSV file to import.")
        return render(request, "calendar/import.html", {"error": error, "result": None},
                      status_code=422)
    raw = await upload.read()
    now = utcnow()
    actor = posts.Actor(user_id=member.user_id, role=member.role, workspace=member.workspace)
    session.commit()  # let go of the write lock: checking the rows only reads
    try:
        planned = await run_in_threadpool(csvio.check_file, session=session, actor=actor,
                                          raw=raw, now=now)
        before_network_call(session)  # ends the reads; the next transaction takes the lock
        csvio.sweep_stale_imports(session=session, workspace_id=member.workspace_id, now=now)
    except PlannerError as exc:
        session.rollback()
        return render(request, "calendar/import.html", {"error": exc, "result": None},
                      status_code=exc.status_code)
    job = ImportJob(workspace_id=member.workspace_id, user_id=member.user_id, created_at=now,
                    heartbeat_at=now)
    session.add(job)
    session.flush()
    job_id = job.id or 0
    session.commit()  # the import's thread sees the job; this request holds no lock
    threading.Thread(target=_run_import, name=f"poise-import-{job_id}", daemon=True,
                     args=(member.workspace_id, member.user_id, planned, now, job_id)).start()
    return RedirectResponse(f"/w/{member.workspace.slug}/import/{job_id}", status_code=303)


def _run_import(workspace_id: int, user_id: int, planned: list[Any], now: datetime,
                job_id: int) -> None:
    try:
        csvio.import_file(workspace_id=workspace_id, user_id=user_id, raw="", now=now,
                          import_id=job_id, planned=planned)
    except PlannerError as exc:  # kept on the job; the progress page shows it
        log.info("Import %s refused: %s", job_id, exc.message)
    except Exception:
        log.exception("Import %s failed", job_id)


@router.get("/w/{slug}/import/{import_id}")
def import_progress(request: Request, import_id: int, session: SessionDep,
                    member: Member = require(Role.manager)) -> Response:
    """The import's progress bar (htmx polls this while it runs), then its outcome."""
    job = session.get(ImportJob, import_id) if import_id < 2**62 else None
    if job is None or job.workspace_id != member.workspace_id:
        raise NotFound("No such import in this workspace.")
    error = None
    if job.status == "failed":
        error = Invalid(job.message or "Nothing was imported.",
                        problems=csvio.problems_of(job))
    return render(request, "calendar/import_job.html", {"job": job, "error": error},
                  partial="calendar/_import_job.html")


@router.post("/w/{slug}/calendar/feed/rotate")
def rotate_feed(request: Request, session: SessionDep,
                member: Member = require(Role.manager)) -> Response:
    """A new feed address for a leaked one; subscriptions must use the new address."""
    from fastapi.responses import RedirectResponse

    from planner.team import workspaces

    workspaces.rotate_feed_secret(session=session, workspace=member.workspace,
                                  actor_id=member.user_id)
    return RedirectResponse(f"/w/{member.workspace.slug}/calendar?view=list", status_code=303)


@router.get("/feeds/{secret}.ics")
def ical_feed(secret: str, session: SessionDep) -> Response:
    """The workspace's calendar for Google/Outlook; the unguessable URL is the credential."""
    from planner.models import Workspace

    workspace = session.exec(select(Workspace).where(Workspace.feed_secret == secret)
                             ).first() if len(secret) >= 20 else None
    if workspace is None:
        raise NotFound("No such calendar feed.")
    body = csvio.ical_feed(session=session, workspace=workspace,
                           today=utcnow().astimezone(ZoneInfo(workspace.timezone)).date())
    return Response(body, media_type="text/calendar; charset=utf-8",
                    headers={"Cache-Control": "private, max-age=300"})
