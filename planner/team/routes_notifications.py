"""Notifications for the person looking: the full list, and marking them read.

The Publishing page shows the unread ones (``notifications.panel_context``) with the
same partial (``notifications/_panel.html``), which owns its target: marking one read
through htmx returns the panel again.
"""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request
from fastapi.responses import RedirectResponse, Response

from planner.db import utcnow
from planner.models import Role
from planner.settings import get_settings
from planner.team import notifications
from planner.web.deps import Member, SessionDep, require
from planner.web.render import is_htmx, render
from planner.web.security import csrf_protect

router = APIRouter(include_in_schema=False, dependencies=[Depends(csrf_protect)])

@router.get("/w/{slug}/notifications")
def notifications_page(request: Request, session: SessionDep,
                       member: Member = require(Role.viewer)) -> Response:
    context = notifications.panel_context(
        session=session, workspace_id=member.workspace_id, user_id=member.user_id,
        next_path=request.url.path, unread_only=False, limit=200)
    return render(request, "notifications/index.html",
                  {**context, "email_configured": bool(get_settings().smtp_url)})


@router.post("/w/{slug}/notifications/email")
async def set_email_preference(request: Request, session: SessionDep,
                               member: Member = require(Role.viewer)) -> Response:
    form = await request.form()
    notifications.set_email_preference(session=session, user_id=member.user_id,
                                       enabled=form.get("email_notifications") == "1")
    return RedirectResponse(f"/w/{member.workspace.slug}/notifications?saved=1",
                            status_code=303)


@router.post("/w/{slug}/notifications/{notification_id}/read")
async def mark_notification_read(request: Request, notification_id: int, session: SessionDep,
                                 member: Member = require(Role.viewer)) -> Response:
    notifications.mark_read(session=session, workspace_id=member.workspace_id,
                            user_id=member.user_id, notification_id=notification_id,
                            now=utcnow())
    return await _after_change(request, session, member)


@router.post("/w/{slug}/notifications/read-all")
async def mark_all_notifications_read(request: Request, session: SessionDep,
                                      member: Member = require(Role.viewer)) -> Response:
    notifications.mark_all_read(session=session, workspace_id=member.workspace_id,
                                user_id=member.user_id, now=utcnow())
    return await _after_change(request, session, member)


async def _after_change(request: Request, session: SessionDep, member: Member) -> Response:
    """htmx: the panel again, as it was shown; a plain form: back to the page it came from."""
    form = await request.form()
    own = f"/w/{member.workspace.slug}/"
    sent = str(form.get("next") or "")
    back = sent if sent.startswith(own) and "//" not in sent else f"{own}notifications"
    if is_htmx(request):
        unread_only = not back.endswith("/notifications")
        return render(request, "notifications/_panel.html", notifications.panel_context(
            session=session, workspace_id=member.workspace_id,
            user_id=member.user_id, next_path=back, unread_only=unread_only,
            limit=notifications.PANEL_LIMIT if unread_only else 200))
    return RedirectResponse(back, status_code=303)
