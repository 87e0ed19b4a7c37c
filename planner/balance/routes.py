"""The Balance page: every account's compass, verdicts in plain words, 12-week trend, settings."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import Response
from starlette.datastructures import FormData

from compass.resonance import what_next_weighed
from planner import accounts, balance, insight
from planner.errors import FieldProblem, Invalid
from planner.models import Role
from planner.web.deps import Member, SessionDep, require
from planner.web.render import render
from planner.web.security import csrf_protect

router = APIRouter(include_in_schema=False, dependencies=[Depends(csrf_protect)])

WINDOWS = (10, 20, 30, 50, 100)
SETTING_FIELDS = (*balance.SETTING_LIMITS, *balance.TARGET_FIELDS)


@dataclass
class Filters:
    """What the page shows: as the URL says, so a filtered view can be bookmarked."""

    window: int | None = None
    scheduled: bool = True
    day_from: str = ""  # YYYY-MM-DD, the workspace's local days, both inclusive
    day_to: str = ""
    date_from: datetime | None = None
    date_to: datetime | None = None
    problems: list[FieldProblem] = field(default_factory=list)

    @property
    def query(self) -> dict[str, str]:
        return {"window": str(self.window or ""), "scheduled": "1" if self.scheduled else "0",
                "from": self.day_from, "to": self.day_to}


def _day(value: str, name: str, zone: str) -> datetime | None:
    if not value:
        return None
    try:
        day = date.fromisoformat(value)
    except ValueError:
        raise Invalid.at(name, "Enter a date as YYYY-MM-DD.") from None
    return datetime.combine(day, time(), tzinfo=ZoneInfo(zone))


def filters_from(member: Member, window: str, scheduled: str, day_from: str, day_to: str
                 ) -> Filters:
    """The page's filters; a window outside 1..500 or a wrong date is a field error."""
    chosen = Filters(scheduled=scheduled != "0", day_from=day_from.strip(),
                     day_to=day_to.strip())
    if window.strip():
        if not window.strip().isdigit() or not 1 <= int(window) <= 500:
            raise Invalid.at("window", "The window is between 1 and 500 posts.")
        chosen.window = int(window)
    zone = member.workspace.timezone
    chosen.date_from = _day(chosen.day_from, "from", zone)
    last_day = _day(chosen.day_to, "to", zone)
    # "to" names the last day shown; the range ends when the next local day begins.
    chosen.date_to = last_day + timedelta(days=1) if last_day else None
    if chosen.date_from and chosen.date_to and chosen.date_from >= chosen.date_to:
        raise Invalid.at("to", "The last day must not be before the first.")
    return chosen


def _context(session: SessionDep, member: Member, filters: Filters, **extra: Any
             ) -> dict[str, Any]:
    rows = accounts.list_accounts(session=session, workspace_id=member.workspace_id)
    cards = balance.workspace_balances(
        session=session, workspace=member.workspace, accounts=rows, window=filters.window,
        include_scheduled=filters.scheduled, date_from=filters.date_from,
        date_to=filters.date_to, with_trend=True)
    ws = member.workspace
    windows = sorted({*WINDOWS, *([filters.window] if filters.window else [])})
    context: dict[str, Any] = {
        "cards": cards, "filters": filters, "windows": windows,
        "can_configure": member.can(Role.brand_lead),
        "ws_values": balance.effective_values(ws),
        "errors": {}, "saved": False, "form_values": None,
        "account_errors": {}, "account_saved": None, "account_form": {},
        "account_values": {c.account.id: balance.setting_values(c.overrides) for c in cards},
        "weighed": _weighed(session, member, cards),
        "quadrant_choices": QUADRANT_CHOICES, "what_if": None, "what_if_form": {},
        "what_if_errors": {}, "what_if_max": balance.WHAT_IF_MAX_POSTS,
    }
    context.update(extra)
    return context


def _weighed(session: SessionDep, member: Member, cards: list[Any]) -> dict[int, Any]:
    """What next, weighing balance and what resonates (issue 15), per account."""
    if not cards:
        return {}
    result = insight.report(session=session, workspace=member.workspace, with_sales=False)
    labels = {r.key: r.label for r in result.accounts}
    return {c.account.id: what_next_weighed(
        c.report, insight.service.resonance_by_quadrant(result, c.account.id or 0),
        channel=f"on {labels.get(str(c.account.id), c.account.handle)}") for c in cards}


@router.get("/w/{slug}/balance")
def balance_page(request: Request, session: SessionDep, window: str = "", scheduled: str = "1",
                 day_from: str = Query("", alias="from"), day_to: str = Query("", alias="to"),
                 member: Member = require(Role.viewer)) -> Response:
    filters = filters_from(member, window, scheduled, day_from, day_to)
    return render(request, "balance/index.html", _context(session, member, filters),
                  partial="balance/_view.html")


QUADRANT_CHOICES = (("try", "Try new things"), ("share", "Share with others"),
                    ("care", "Care for others"), ("learn", "Learn new things"))


@router.get("/w/{slug}/balance/what-if")
def balance_what_if(request: Request, session: SessionDep, account: str = "",
                    value: str = "", count: str = "1", window: str = "", scheduled: str = "1",
                    day_from: str = Query("", alias="from"), day_to: str = Query("", alias="to"),
                    member: Member = require(Role.viewer)) -> Response:
    """The what-if on the Balance page: how N more posts of a value would change one
    account's balance and warnings, with the page's filters. Nothing is saved; with htmx
    only the what-if section is answered, else the whole page with it filled in."""
    filters = filters_from(member, window, scheduled, day_from, day_to)
    form = {"account": account.strip(), "value": value.strip(), "count": count.strip() or "1"}
    errors: dict[str, str] = {}
    result = None
    rows = accounts.list_accounts(session=session, workspace_id=member.workspace_id)
    chosen = next((a for a in rows if str(a.id) == form["account"]), None)
    if chosen is None:
        errors["account"] = "Pick one of this workspace's accounts."
    if form["value"] not in dict(QUADRANT_CHOICES):
        errors["value"] = "Pick a value: Try, Share, Care or Learn."
    if not form["count"].isdigit() or not 1 <= int(form["count"]) <= balance.WHAT_IF_MAX_POSTS:
        errors["count"] = f"Choose 1 to {balance.WHAT_IF_MAX_POSTS} posts."
    if chosen is not None and not errors:
        try:
            result = balance.page_what_if(
                session=session, workspace=member.workspace, account=chosen,
                tags=[form["value"]], count=int(form["count"]), window=filters.window,
                include_scheduled=filters.scheduled, date_from=filters.date_from,
                date_to=filters.date_to)
        except Invalid as exc:
            errors.update({p.field: p.message for p in exc.problems})
    context = _context(session, member, filters, what_if=result, what_if_form=form,
                       what_if_errors=errors)
    return render(request, "balance/index.html", context, partial="balance/_what_if.html",
                  status_code=422 if errors else 200)


def _form_values(form: FormData) -> dict[str, str]:
    return {name: str(form.get(name) or "").strip() for name in SETTING_FIELDS}


@router.post("/w/{slug}/balance/settings")
async def save_settings(request: Request, session: SessionDep,
                        member: Member = require(Role.brand_lead)) -> Response:
    """The workspace's target mix and balance rule settings."""
    values = _form_values(await request.form())
    try:
        balance.save_workspace_settings(session=session, workspace=member.workspace,
                                        values=values, actor_id=member.user_id)
    except Invalid as exc:
        errors = {p.field: p.message for p in exc.problems}
        return render(request, "balance/index.html",
                      _context(session, member, Filters(), errors=errors, form_values=values),
                      partial="balance/_settings.html", status_code=422)
    return render(request, "balance/index.html", _context(session, member, Filters(),
                                                          saved=True),
                  partial="balance/_settings.html")


@router.post("/w/{slug}/balance/accounts/{account_id}/settings")
async def save_account_settings(request: Request, account_id: int, session: SessionDep,
                                member: Member = require(Role.brand_lead)) -> Response:
    """One account's own balance settings; blank fields follow the workspace's."""
    form = await request.form()
    account = accounts.get_account(session=session, workspace_id=member.workspace_id,
                                   account_id=account_id)
    filters = filters_from(member, str(form.get("window_filter") or ""),
                           str(form.get("scheduled_filter") or "1"),
                           str(form.get("from_filter") or ""), str(form.get("to_filter") or ""))
    values = _form_values(form)
    try:
        balance.save_account_settings(session=session, workspace=member.workspace,
                                      account=account, values=values, actor_id=member.user_id)
    except Invalid as exc:
        errors = {p.field: p.message for p in exc.problems}
        context = _context(session, member, filters, account_errors={account_id: errors},
                           account_form={account_id: values})
        context["card"] = next(c for c in context["cards"] if c.account.id == account_id)
        return render(request, "balance/index.html", context, partial="balance/_card.html",
                      status_code=422)
    context = _context(session, member, filters, account_saved=account_id)
    context["card"] = next(c for c in context["cards"] if c.account.id == account_id)
    return render(request, "balance/index.html", context, partial="balance/_card.html")
