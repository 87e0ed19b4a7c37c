"""The Balance page: every account's compass, verdicts in plain words, 12-week trend."""

from __future__ import annotations

import json
from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response

from compass import render_trend_svg
from planner import accounts, audit, balance
from planner.db import utcnow
from planner.errors import FieldProblem, Invalid
from planner.models import Role
from planner.web.deps import Member, SessionDep, require
from planner.web.render import render
from planner.web.security import csrf_protect

router = APIRouter(include_in_schema=False, dependencies=[Depends(csrf_protect)])

WINDOWS = (10, 20, 30, 50, 100)


def _context(session: SessionDep, member: Member, window: int | None, scheduled: bool,
             **extra: Any) -> dict[str, Any]:
    rows = accounts.list_accounts(session=session, workspace_id=member.workspace_id)
    cards = balance.workspace_balances(session=session, workspace=member.workspace,
                                       accounts=rows, window=window,
                                       include_scheduled=scheduled)
    now = utcnow()
    trends = {a.id: render_trend_svg(balance.weekly_trend(session=session,
                                                          account_id=a.id or 0, now=now),
                                     title=f"Values by week, {a.handle}")
              for a in rows}
    ws = member.workspace
    context: dict[str, Any] = {
        "cards": cards, "trends": trends, "window": window or ws.balance_window,
        "scheduled": scheduled, "windows": WINDOWS, "can_configure": member.can(Role.brand_lead),
        "overrides": json.loads(ws.balance_overrides or "{}"), "errors": {}, "saved": False,
    }
    context.update(extra)
    return context


@router.get("/w/{slug}/balance")
def balance_page(request: Request, session: SessionDep, window: int | None = None,
                 scheduled: int = 1, member: Member = require(Role.viewer)) -> Response:
    if window is not None and not 1 <= window <= 500:
        raise Invalid.at("window", "The window is between 1 and 500 posts.")
    return render(request, "balance/index.html",
                  _context(session, member, window, bool(scheduled)),
                  partial="balance/_cards.html")


def _number(form: Any, name: str, low: float, high: float, kind: type = float) -> Any:
    raw = str(form.get(name) or "").strip()
    try:
        value = kind(raw)
    except ValueError:
        raise Invalid("Check the balance settings.", problems=[FieldProblem(
            (name,), f"Enter a number between {low:g} and {high:g}.")]) from None
    if not low <= value <= high:
        raise Invalid("Check the balance settings.", problems=[FieldProblem(
            (name,), f"Enter a number between {low:g} and {high:g}.")])
    return value


@router.post("/w/{slug}/balance/settings")
async def save_settings(request: Request, session: SessionDep,
                        member: Member = require(Role.brand_lead)) -> Response:
    """The workspace's target mix and balance rule settings."""
    form = await request.form()
    ws = member.workspace
    try:
        targets = {q: _number(form, f"target_{q}", 0, 100)
                   for q in ("try", "share", "care", "learn")}
        if abs(sum(targets.values()) - 100) > 0.01:
            raise Invalid("Check the balance settings.", problems=[FieldProblem(
                ("target_try",), f"The target mix must add up to 100% (now "
                                 f"{sum(targets.values()):g}%).")])
        window = _number(form, "balance_window", 4, 500, int)
        min_sample = _number(form, "balance_min_sample", 1, 500, int)
        alpha = _number(form, "alpha", 0.001, 0.5)
        missing_after = _number(form, "missing_after", 4, 500, int)
        half_life = str(form.get("half_life_posts") or "").strip()
        overrides: dict[str, Any] = {"alpha": alpha, "missing_after": missing_after}
        if half_life:
            overrides["half_life_posts"] = _number(form, "half_life_posts", 1, 500)
    except Invalid as exc:
        errors = {p.field: p.message for p in exc.problems}
        return render(request, "balance/index.html",
                      _context(session, member, None, True, errors=errors),
                      partial="balance/_settings.html", status_code=422)
    before = {"targets": [ws.target_try, ws.target_share, ws.target_care, ws.target_learn],
              "window": ws.balance_window, "min_sample": ws.balance_min_sample,
              "overrides": ws.balance_overrides}
    ws.target_try, ws.target_share = targets["try"], targets["share"]
    ws.target_care, ws.target_learn = targets["care"], targets["learn"]
    ws.balance_window, ws.balance_min_sample = window, min_sample
    ws.balance_overrides = json.dumps(overrides)
    session.add(ws)
    audit.record(session=session, action="workspace.balance_settings", entity="workspace",
                 entity_id=ws.id, actor_id=member.user_id, workspace_id=ws.id, before=before,
                 after={"targets": list(targets.values()), "window": window,
                        "min_sample": min_sample, "overrides": overrides})
    return render(request, "balance/index.html", _context(session, member, None, True,
                                                          saved=True),
                  partial="balance/_settings.html")
