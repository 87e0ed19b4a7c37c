"""The weekly queue-slot grid of an account, and the first-run checklist's "hide" button.

Each grid cell is a submit button of one form (``add`` or ``remove`` = "<weekday> <HH:MM>"),
so the grid works as a plain form without JavaScript; htmx posts the same form and swaps the
grid in place. Managers and above edit slots; everyone in the workspace may look.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Request
from fastapi.responses import RedirectResponse, Response

from planner import accounts
from planner.errors import Invalid
from planner.models import Account, Role
from planner.posts import checklist, schedule, slotgrid
from planner.web.deps import Member, SessionDep, require
from planner.web.render import is_htmx, render
from planner.web.security import csrf_protect

router = APIRouter(include_in_schema=False, dependencies=[Depends(csrf_protect)])


def _grid_context(session: SessionDep, member: Member, account: Account, *,
                  notice: str = "", errors: dict[str, str] | None = None,
                  values: dict[str, str] | None = None) -> dict[str, Any]:
    slots = schedule.slots_of(session=session, account_id=account.id or 0)
    best = slotgrid.best_times_for(session=session, workspace=member.workspace,
                                   account=account)
    return {
        "account": account, "slots": slots, "best": best,
        "rows": slotgrid.week_grid(slots, best), "weekdays": schedule.WEEKDAYS,
        "accounts": accounts.list_accounts(session=session, workspace_id=member.workspace_id),
        "can_edit": member.can(Role.manager), "zone": member.workspace.timezone,
        "notice": notice, "errors": errors or {}, "values": values or {},
    }


def _grid_url(member: Member, account_id: int) -> str:
    return f"/w/{member.workspace.slug}/accounts/{account_id}/slots"


@router.get("/w/{slug}/slots")
def slots_home(request: Request, session: SessionDep,
               member: Member = require(Role.viewer)) -> Response:
    """The first account's grid (the checklist links here), or a word to connect one."""
    rows = accounts.list_accounts(session=session, workspace_id=member.workspace_id)
    if rows:
        return RedirectResponse(_grid_url(member, rows[0].id or 0), status_code=303)
    return render(request, "slots/index.html", {"account": None, "accounts": []})


@router.get("/w/{slug}/accounts/{account_id}/slots")
def slots_page(request: Request, account_id: int, session: SessionDep, notice: str = "",
               member: Member = require(Role.viewer)) -> Response:
    account = accounts.get_account(session=session, workspace_id=member.workspace_id,
                                   account_id=account_id)
    return render(request, "slots/index.html",
                  _grid_context(session, member, account, notice=notice[:200]),
                  partial="slots/_grid.html")


@router.post("/w/{slug}/accounts/{account_id}/slots/grid")
async def change_slot(request: Request, account_id: int, session: SessionDep,
                      member: Member = require(Role.manager)) -> Response:
    """Add or remove one weekly time: a grid cell, a best-time button or the exact-time form."""
    form = await request.form()
    account = accounts.get_account(session=session, workspace_id=member.workspace_id,
                                   account_id=account_id)
    add, remove = str(form.get("add") or ""), str(form.get("remove") or "")
    values = {"weekday": str(form.get("weekday") or ""),
              "local_time": str(form.get("local_time") or "")}
    try:
        if remove:
            weekday, at = slotgrid.parse_cell(remove)
            schedule.remove_slot(session=session, account=account, weekday=weekday, at=at,
                                 actor_id=member.user_id)
            notice = f"Removed {schedule.WEEKDAYS[weekday]} {at}."
        else:
            weekday, at = slotgrid.parse_cell(add) if add else (
                int(values["weekday"]) if values["weekday"].isdigit() else -1,
                values["local_time"])
            if not at:
                raise Invalid.at("local_time", "Give a time as HH:MM, e.g. 09:45.")
            slots = schedule.add_slot(session=session, account=account, weekday=weekday,
                                      at=at, actor_id=member.user_id)
            added = next((s for s in slots if s.weekday == weekday
                          and s.local_time == schedule.parse_slot_time(at)), None)
            notice = f"Added {added.label}." if added else "Added."
    except Invalid as exc:
        session.rollback()
        account = accounts.get_account(session=session, workspace_id=member.workspace_id,
                                       account_id=account_id)
        errors = {p.field.split(".")[-1]: p.message for p in exc.problems} or {
            "local_time": exc.message}
        context = _grid_context(session, member, account, errors=errors, values=values)
        return render(request, "slots/index.html", context, partial="slots/_grid.html",
                      status_code=exc.status_code)
    if is_htmx(request):
        return render(request, "slots/index.html",
                      _grid_context(session, member, account, notice=notice),
                      partial="slots/_grid.html")
    # Back to the grid itself (not the top of the page) after a plain form post.
    return RedirectResponse(f"{_grid_url(member, account_id)}?{urlencode({'notice': notice})}"
                            "#slot-grid", status_code=303)


@router.post("/w/{slug}/checklist/dismiss")
def dismiss_checklist(request: Request, session: SessionDep,
                      member: Member = require(Role.viewer)) -> Response:
    """Hide the first-run checklist for this person in this workspace."""
    checklist.dismiss(session=session, workspace=member.workspace, user_id=member.user_id)
    if is_htmx(request):
        return Response(status_code=200, content="")
    return RedirectResponse(f"/w/{member.workspace.slug}/calendar", status_code=303)
