"""The Insight page (what resonates, best times, channel health), its CSV, the composer hint
and the switch for paid metric reads."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response

from compass import Quadrant, parse_tags
from planner import accounts
from planner.errors import Invalid
from planner.insight import charts, collect, service
from planner.models import Role
from planner.web.deps import Member, SessionDep, require
from planner.web.render import render
from planner.web.security import csrf_protect

router = APIRouter(include_in_schema=False, dependencies=[Depends(csrf_protect)])


def _day(value: str | None, name: str) -> date | None:
    if not value:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise Invalid.at(name, "Enter a date as YYYY-MM-DD.") from None


def report_range(member: Member, day_from: str | None, day_to: str | None
                 ) -> tuple[datetime, datetime, date, date]:
    """[start, end) in UTC from the workspace's local days (default: the last quarter)."""
    zone = ZoneInfo(member.workspace.timezone)
    today = datetime.now(zone).date()
    last = _day(day_to, "to") or today
    first = _day(day_from, "from") or last - timedelta(days=service.DEFAULT_DAYS - 1)
    if first > last:
        raise Invalid.at("to", "The last day must not be before the first.")
    start = datetime.combine(first, time(), tzinfo=zone)
    end = datetime.combine(last + timedelta(days=1), time(), tzinfo=zone)
    return start, end, first, last


def _context(session: SessionDep, member: Member, request: Request) -> dict[str, Any]:
    params = request.query_params
    start, end, first, last = report_range(member, params.get("from"), params.get("to"))
    result = service.report(session=session, workspace=member.workspace, start=start, end=end)
    rows = service.grid_rows(result)
    paid = [a for a in accounts.list_accounts(session=session,
                                              workspace_id=member.workspace_id)
            if a.platform in collect.BILLED]
    return {"report": result, "rows": rows, "grid": charts.grid_svg(rows), "first": first,
            "last": last, "quadrants": list(Quadrant),
            "labels": {r.key: r.label for r in result.accounts},
            "paid": [(a, collect.billed_enabled(session, a.id or 0)) for a in paid],
            "can_configure": member.can(Role.brand_lead)}


@router.get("/w/{slug}/insight")
def insight_page(request: Request, session: SessionDep,
                 member: Member = require(Role.viewer)) -> Response:
    return render(request, "insight/index.html", _context(session, member, request))


@router.get("/w/{slug}/insight.csv")
def insight_csv(request: Request, session: SessionDep,
                member: Member = require(Role.viewer)) -> Response:
    params = request.query_params
    start, end, first, last = report_range(member, params.get("from"), params.get("to"))
    result = service.report(session=session, workspace=member.workspace, start=start, end=end)
    name = f"insight-{member.workspace.slug}-{first}-{last}.csv"
    return Response(service.to_csv(result), media_type="text/csv; charset=utf-8",
                    headers={"Content-Disposition": f'attachment; filename="{name}"'})


@router.post("/w/{slug}/insight/accounts/{account_id}/billed-metrics")
async def switch_billed_metrics(request: Request, account_id: int, session: SessionDep,
                                member: Member = require(Role.brand_lead)) -> Response:
    form = await request.form()
    account = accounts.get_account(session=session, workspace_id=member.workspace_id,
                                   account_id=account_id)
    collect.set_billed_metrics(session=session, account=account,
                               enabled=str(form.get("enabled") or "") == "1",
                               by=member.user_id)
    return Response(status_code=303, headers={"Location": f"/w/{member.workspace.slug}/insight"})


@router.post("/w/{slug}/compose/insight")
async def composer_hint(request: Request, session: SessionDep,
                        member: Member = require(Role.manager)) -> Response:
    """What the post's value did on the chosen accounts (the composer's resonance hint)."""
    form = await request.form()
    chosen = [str(t) for t in form.getlist("tags") if isinstance(t, str)]
    raw = ",".join(chosen) or str(form.get("suggested") or "")
    try:
        quadrants = list(parse_tags(raw))
    except ValueError:
        quadrants = []
    account_ids = [int(v) for v in form.getlist("account_ids")
                   if isinstance(v, str) and v.isdigit()]
    lines = service.hints(session=session, workspace=member.workspace,
                          account_ids=account_ids, quadrants=quadrants)
    return render(request, "insight/_hint_lines.html", {"lines": lines})
