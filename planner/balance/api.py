"""REST API: an account's value balance (with what-if), its balance settings, tag suggestions."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field

from compass import BalanceConfig, Need, Quadrant, Status, Verdict, what_next
from planner import balance
from planner.errors import Forbidden, Invalid, NotFound
from planner.models import Account, Role, User, Workspace
from planner.team import users, workspaces
from planner.web.deps import ApiUserDep, SessionDep
from planner.web.problems import COMMON_ERRORS

router = APIRouter(prefix="/api/v1", tags=["compass"])

WRITE_ERRORS: dict[int | str, dict[str, Any]] = {
    **COMMON_ERRORS, 403: {"description": "Only admins and brand leads change settings"},
    422: {"description": "Invalid settings; each problem names its field"}}


class QuadrantBalanceOut(BaseModel):
    """One quadrant in the window (a two-tag post counts half)."""

    quadrant: Quadrant
    label: str
    colour: str
    count: float
    share: float
    target: float = Field(description="Fair share (fraction)")
    times_fair_share: float
    threshold: int = Field(description="Smallest count that is improbably high (exact test)")
    overweight: bool
    missing: bool
    posts_since_last: int
    weighted_share: float | None = Field(description="Recency-weighted share (with a "
                                                     "half-life), else null")
    trending: bool = Field(description="Trending toward overweight (recency-weighted)")
    verdict: Verdict


class NeedBalanceOut(BaseModel):
    """One need (ambition, curiosity, belonging, control)."""

    need: Need
    label: str
    count: float
    engaged: float = Field(description="Posts engaging the need (2 x count)")
    share: float
    target: float
    times_fair_share: float
    threshold: int
    overweight: bool
    missing: bool
    posts_since_last: int
    verdict: Verdict


class WhatNextOut(BaseModel):
    quadrant: Quadrant
    label: str
    reason: str


class AccountRef(BaseModel):
    id: int
    handle: str
    platform: str


class SettingsUsed(BaseModel):
    """The settings this report was judged with (workspace, account, then request)."""

    window: int | None = Field(description="Newest N tagged posts; null = every post in the "
                                           "date range")
    date_from: datetime | None
    date_to: datetime | None = Field(description="Exclusive end of the date range")
    as_of: datetime | None
    include_scheduled: bool
    min_sample: int
    alpha: float
    missing_after: int
    half_life_posts: float | None
    half_life_days: float | None
    target: dict[Quadrant, float] = Field(description="Fair share per quadrant (fractions)")


class BalanceOut(BaseModel):
    """An account's value balance: verdicts, shares and plain-words headlines."""

    status: Status = Field(description="The main status")
    statuses: list[Status] = Field(description="Every status that holds")
    headline: str
    headlines: list[str] = Field(description="Plain words, most important first")
    n: int = Field(description="Tagged posts counted")
    min_sample: int
    missing_after: int
    quadrants: list[QuadrantBalanceOut]
    needs: list[NeedBalanceOut]
    effective_quadrants: float = Field(description="1 / sum(share^2): 1 to 4 quadrants in use")
    effective_needs: float
    effective_n: float | None = Field(description="Kish effective sample size (with a "
                                                  "half-life)")
    keys: list[str] = Field(description="Publication ids counted, oldest first (a what-if "
                                        "post is 'what-if')")
    untagged_keys: list[str] = Field(description="Untagged publications in the window, not "
                                                 "counted")
    scheduled_count: int
    published_count: int
    date_from: datetime | None
    date_to: datetime | None
    what_next: WhatNextOut | None
    account: AccountRef
    settings: SettingsUsed


def _account_for(session: SessionDep, user: User, account_id: int, minimum: Role
                 ) -> tuple[Account, Workspace]:
    account = session.get(Account, account_id)
    if account is None:
        raise NotFound("No such account.")
    workspace, role = workspaces.workspace_by_id_for_member(
        session=session, workspace_id=account.workspace_id, user_id=user.id or 0)
    if not users.has_role(role, minimum):
        raise Forbidden("Only admins and brand leads can change balance settings.")
    return account, workspace


def _settings_used(config: BalanceConfig, *, as_of: datetime | None,
                   include_scheduled: bool) -> SettingsUsed:
    return SettingsUsed(window=config.window, date_from=config.date_from,
                        date_to=config.date_to, as_of=as_of,
                        include_scheduled=include_scheduled, min_sample=config.min_sample,
                        alpha=config.alpha, missing_after=config.missing_after,
                        half_life_posts=config.half_life_posts,
                        half_life_days=config.half_life_days, target=dict(config.target))


@router.get("/accounts/{account_id}/balance", response_model=BalanceOut,
            responses=COMMON_ERRORS)
def account_balance(
    account_id: int, session: SessionDep, user: ApiUserDep,
    window: int | None = Query(None, ge=1, le=500, description="Last N tagged posts (default: "
                               "the account's or workspace's window). With a date range: the "
                               "newest N in the range"),
    date_from: datetime | None = Query(None, alias="from", description="Start of a date range "
                                       "(inclusive; replaces the window unless one is given)"),
    date_to: datetime | None = Query(None, alias="to", description="End of the date range "
                                     "(exclusive)"),
    as_of: datetime | None = Query(None, description="Only posts scheduled up to this time "
                                   "(inclusive): the balance as it was then"),
    what_if: str = Query("", description="Tags of one more post, e.g. 'try' or 'try,learn'",
                         examples=["try"]),
    what_if_at: datetime | None = Query(None, description="When the what-if post goes out "
                                        "(default: as_of, else after the newest post)"),
    half_life_posts: float | None = Query(None, gt=0, le=500, description="Recency weighting "
                                          "for this request: a post this many posts older "
                                          "weighs half"),
    half_life_days: float | None = Query(None, gt=0, le=3650, description="Recency weighting "
                                         "for this request: a post this many days older "
                                         "weighs half"),
    include_scheduled: bool = Query(True, description="Count scheduled (approved, not yet "
                                    "published) posts too"),
) -> BalanceOut:
    """The balance report: shares, times fair share, verdicts and headlines per quadrant and
    need, the posts it counted, the settings used, and what would help most next."""
    account, workspace = _account_for(session, user, account_id, Role.viewer)
    for name, value in (("from", date_from), ("to", date_to), ("as_of", as_of),
                        ("what_if_at", what_if_at)):
        if value is not None and value.tzinfo is None:
            raise Invalid.at(name, "Give times with a zone, e.g. 2026-12-01T00:00:00Z.")
    if date_from and date_to and date_from >= date_to:
        raise Invalid.at("to", "'to' must be after 'from'.")
    report = balance.balance_for_account(
        session=session, workspace=workspace, account=account, window=window,
        include_scheduled=include_scheduled, as_of=as_of, date_from=date_from, date_to=date_to,
        what_if_tags=[t for t in what_if.split(",") if t.strip()], what_if_at=what_if_at,
        half_life_posts=half_life_posts, half_life_days=half_life_days)
    config = balance.config_for(workspace, account, window=window, date_from=date_from,
                                date_to=date_to, half_life_posts=half_life_posts,
                                half_life_days=half_life_days)
    advice = what_next(report) if report.n else None
    return BalanceOut.model_validate({
        **report.to_dict(),
        "what_next": advice.to_dict() if advice else None,
        "account": {"id": account.id, "handle": account.handle, "platform": account.platform},
        "settings": _settings_used(config, as_of=as_of, include_scheduled=include_scheduled),
    })


class BalanceSettingsIn(BaseModel):
    """An account's own balance settings. Null or missing = follow the workspace."""

    window: int | None = Field(None, description="Last N tagged posts (4-500)", examples=[10])
    min_sample: int | None = Field(None, description="Posts needed before a verdict (1-500)")
    alpha: float | None = Field(None, description="Significance of the overweight test "
                                                  "(0.001-0.5)")
    missing_after: int | None = Field(None, description="A quadrant absent from this many "
                                                        "newest posts is missing (4-500)")
    half_life_posts: float | None = Field(None, description="Recency half-life in posts "
                                                            "(1-500)")
    half_life_days: float | None = Field(None, description="Recency half-life in days "
                                                           "(0.5-3650)")
    target_percent: dict[Quadrant, float] | None = Field(
        None, description="Target mix in percent, all four quadrants, adding up to 100",
        examples=[{"try": 40, "share": 20, "care": 20, "learn": 20}])


class BalanceSettingsOut(BaseModel):
    account: AccountRef
    own: BalanceSettingsIn = Field(description="The account's own settings (null = the "
                                               "workspace's)")
    effective: BalanceSettingsIn = Field(description="What applies to the account")


def _settings_out(workspace: Workspace, account: Account) -> BalanceSettingsOut:
    def model(values: dict[str, Any]) -> BalanceSettingsIn:
        target = {q: values[f"target_{q}"] for q in Quadrant if f"target_{q}" in values}
        fields = {k: v for k, v in values.items() if k in balance.SETTING_LIMITS}
        return BalanceSettingsIn(**fields, target_percent=target or None)

    return BalanceSettingsOut(
        account=AccountRef(id=account.id or 0, handle=account.handle, platform=account.platform),
        own=model(balance.setting_values(balance.account_overrides(account))),
        effective=model(balance.effective_values(workspace, account)))


@router.get("/accounts/{account_id}/balance-settings", response_model=BalanceSettingsOut,
            responses=COMMON_ERRORS)
def account_balance_settings(account_id: int, session: SessionDep, user: ApiUserDep
                             ) -> BalanceSettingsOut:
    """The account's own balance settings and the settings that apply to it."""
    account, workspace = _account_for(session, user, account_id, Role.viewer)
    return _settings_out(workspace, account)


@router.put("/accounts/{account_id}/balance-settings", response_model=BalanceSettingsOut,
            responses=WRITE_ERRORS)
def put_account_balance_settings(account_id: int, body: BalanceSettingsIn, session: SessionDep,
                                 user: ApiUserDep) -> BalanceSettingsOut:
    """Replace the account's own balance settings (admins and brand leads). Fields left out or
    null follow the workspace; an empty body drops every own setting."""
    account, workspace = _account_for(session, user, account_id, Role.brand_lead)
    values: dict[str, Any] = body.model_dump(exclude={"target_percent"}, exclude_none=True)
    if body.target_percent is not None:
        values.update({f"target_{q}": body.target_percent.get(q) for q in Quadrant})
    balance.save_account_settings(session=session, workspace=workspace, account=account,
                                  values=values, actor_id=user.id)
    return _settings_out(workspace, account)


class SuggestIn(BaseModel):
    # Bounded: the suggester's work grows with the text, and no post is longer than this.
    text: str = Field(max_length=63_206, examples=["How to dial in a V60 in three steps"])
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
