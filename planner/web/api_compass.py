"""REST API: an account's value balance (with what-if), and tag suggestions."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field

from planner import balance, users, workspaces
from planner.errors import Invalid, NotFound
from planner.models import Account
from planner.web.api import COMMON_ERRORS
from planner.web.deps import ApiUserDep, SessionDep

router = APIRouter(prefix="/api/v1", tags=["compass"])


@router.get("/accounts/{account_id}/balance", responses=COMMON_ERRORS)
def account_balance(
    account_id: int, session: SessionDep, user: ApiUserDep,
    window: int | None = Query(None, ge=1, le=500, description="Last N posts (default: the "
                               "workspace's window)"),
    date_from: datetime | None = Query(None, alias="from", description="Start of a date range "
                                       "(replaces the window)"),
    date_to: datetime | None = Query(None, alias="to"),
    as_of: datetime | None = Query(None, description="Only posts scheduled up to this time"),
    what_if: str = Query("", description="Tags of one more post, e.g. 'try' or 'try,learn'",
                         examples=["try"]),
    include_scheduled: bool = True,
) -> dict[str, Any]:
    """The balance report: shares, times fair share, verdicts and headlines per quadrant and
    need, the posts it counted, and what would help most next."""
    account = session.get(Account, account_id)
    if account is None:
        raise NotFound("No such account.")
    workspace, _ = workspaces.workspace_by_id_for_member(
        session=session, workspace_id=account.workspace_id, user_id=user.id or 0)
    for value in (date_from, date_to, as_of):
        if value is not None and value.tzinfo is None:
            raise Invalid.at("from", "Give times with a zone, e.g. 2026-12-01T00:00:00Z.")
    report = balance.balance_for_account(
        session=session, workspace=workspace, account=account, window=window,
        include_scheduled=include_scheduled, as_of=as_of, date_from=date_from, date_to=date_to,
        what_if_tags=[t for t in what_if.split(",") if t.strip()])
    from compass import what_next

    body = report.to_dict()
    advice = what_next(report) if report.n else None
    body["what_next"] = {"quadrant": str(advice.quadrant), "reason": advice.reason} \
        if advice else None
    body["account"] = {"id": account.id, "handle": account.handle,
                       "platform": account.platform}
    return body


class SuggestIn(BaseModel):
    text: str = Field(examples=["How to dial in a V60 in three steps"])
    workspace_id: int | None = Field(None, description="Learn from this workspace's tags")


class SuggestOut(BaseModel):
    tags: list[str]
    scores: dict[str, float]
    why: str
    source: str


@router.post("/compass/suggest", response_model=SuggestOut, responses=COMMON_ERRORS)
def suggest(body: SuggestIn, session: SessionDep, user: ApiUserDep) -> SuggestOut:
    """Suggested value quadrant tags for a text, with a short reason. Empty tags = no
    suggestion (the evidence was thin)."""
    workspace_id = 0
    if body.workspace_id is not None:
        role = users.role_in(session=session, user_id=user.id or 0,
                             workspace_id=body.workspace_id)
        if role is None:
            raise NotFound("No such workspace.")
        workspace_id = body.workspace_id
    result = balance.suggest(session=session, workspace_id=workspace_id, text=body.text)
    return SuggestOut(tags=[str(t) for t in result.tags],
                      scores={str(k): round(v, 4) for k, v in result.scores.items()},
                      why=result.why, source=result.source)

