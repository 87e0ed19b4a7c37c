"""REST API: attribution, conversion events from the shop's system, contacts, tracked links.

The attribution report is served twice: ``/api/v1/attribution`` (the issue's path) finds the
workspace from the token, and ``/api/v1/workspaces/{id}/attribution`` names it. A token
belongs to a user, not to a workspace: when that user is a member of exactly one workspace,
``/api/v1/attribution`` reports on it; a member of several must say which one with
``?workspace=<id or slug>`` (422 without it, listing the choices).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any, Literal

from fastapi import APIRouter, Depends, Query, Response
from pydantic import BaseModel, Field
from sqlmodel import Session, col, select

from planner.conversions import attribution, links, webhooks
from planner.conversions.routes import report_context
from planner.errors import Invalid, NotFound
from planner.models import Publication, Role, Workspace
from planner.models_conversions import Contact
from planner.team import users
from planner.web.deps import ApiUserDep, Member, SessionDep, require_api
from planner.web.problems import COMMON_ERRORS, WRITE_ERRORS

router = APIRouter(tags=["conversions"])
scoped = APIRouter(prefix="/api/v1/workspaces/{workspace_id}")

class FunnelOut(BaseModel):
    key: str = Field(description="Account id, quadrant key, or 'none' for unattributed")
    label: str
    sessions: float
    contacts: float
    qualified: float
    sales: float
    revenue: dict[str, float] = Field(description="Per currency, in major units")
    rates: dict[str, float | None]


class ChannelHealthOut(BaseModel):
    key: str = Field(description="Account id")
    label: str
    weekly_sessions: list[float] = Field(description="Oldest week first")
    weekly_contacts: list[float] = Field(description="Last-touch contacts, oldest week first")
    weekly_contacts_per_100: list[float | None] = Field(
        description="Contacts per 100 sessions each week; null where the week had fewer "
                    "sessions than the minimum (too few to judge)")
    sessions: float
    contacts: float
    contacts_per_100: float | None = Field(description="Over the whole window")
    weeks_below: int = Field(description="Consecutive weeks below the threshold, counted back "
                                         "from the last week")
    underperforming: bool = Field(description="A dud: below in each of the last "
                                              "`rule.weeks_below` weeks")


class DudRuleOut(BaseModel):
    threshold_contacts_per_100_sessions: float
    min_sessions_per_week: int
    weeks_below: int
    window_weeks: int
    window_start: datetime
    window_end: datetime
    description: str


class AttributionOut(BaseModel):
    workspace_id: int
    workspace: str = Field(description="The workspace's slug")
    start: datetime
    end: datetime
    model: str
    by: str
    rows: list[FunnelOut]
    total: FunnelOut
    channel_health: list[ChannelHealthOut] = Field(
        description="Weekly sessions and contacts per channel over the window ending with "
                    "the range, with the underperforming flag")
    rule: DudRuleOut


def _funnel(key: str, label: str, funnel: attribution.Funnel) -> FunnelOut:
    return FunnelOut(key=key, label=label, **funnel.as_dict())


def _health(h: attribution.ChannelHealth) -> ChannelHealthOut:
    return ChannelHealthOut(key=h.key, label=h.label, weekly_sessions=h.weekly_sessions,
                            weekly_contacts=h.weekly_contacts,
                            weekly_contacts_per_100=h.weekly_per_100, sessions=h.sessions,
                            contacts=h.contacts, contacts_per_100=h.per_100,
                            weeks_below=h.weeks_below, underperforming=h.dud)


def attribution_out(session: Session, workspace: Workspace, start: str | None,
                    end: str | None, model: str, by: str) -> AttributionOut:
    ctx = report_context(session, workspace, start, end)
    report: attribution.Report = ctx["report"]
    rule: attribution.DudRule = ctx["rule"]
    finish: datetime = ctx["finish"]
    return AttributionOut(
        workspace_id=workspace.id or 0, workspace=workspace.slug, start=ctx["begin"],
        end=finish, model=model, by=by,
        rows=[_funnel(*row) for row in report.rows(model, by)],
        total=_funnel("total", "Total", report.total(model, by)),
        channel_health=[_health(h) for h in ctx["health"]],
        rule=DudRuleOut(threshold_contacts_per_100_sessions=rule.threshold_per_100,
                        min_sessions_per_week=rule.min_sessions, weeks_below=rule.weeks_below,
                        window_weeks=rule.window_weeks,
                        window_start=finish - timedelta(weeks=rule.window_weeks),
                        window_end=finish, description=rule.describe()))


FROM = Query(None, alias="from", description="First day, YYYY-MM-DD (workspace time zone); "
             "default 29 days before 'to'")
TO = Query(None, alias="to", description="Last day (inclusive); default today")


@scoped.get("/attribution", response_model=AttributionOut, responses=WRITE_ERRORS)
def get_attribution(
    session: SessionDep,
    start: str | None = FROM,
    end: str | None = TO,
    model: Literal["first", "last"] = "last",
    by: Literal["channel", "quadrant"] = "channel",
    member: Member = require_api(Role.viewer),
) -> AttributionOut:
    """Sessions, contacts, qualified and sales (count and revenue) per channel or quadrant,
    and each channel's weekly health with its underperforming flag."""
    return attribution_out(session, member.workspace, start, end, model, by)


def token_workspace(session: SessionDep, user: ApiUserDep,
                    workspace: str | None = Query(
                        None, description="Workspace id or slug; required when the token's "
                                          "user is a member of several workspaces")
                    ) -> Workspace:
    """The workspace a token-scoped call is about (every member role may read reports)."""
    mine = users.workspaces_of(session=session, user_id=user.id or 0)
    if workspace:
        for ws, _ in mine:
            if workspace in (str(ws.id), ws.slug):
                return ws
        raise NotFound("No such workspace.")
    if len(mine) == 1:
        return mine[0][0]
    if not mine:
        raise NotFound("This token's user is not a member of any workspace.")
    choices = ", ".join(f"{ws.id} ({ws.slug})" for ws, _ in mine)
    raise Invalid.at("query.workspace", f"This token's user is a member of {len(mine)} "
                     f"workspaces; name one with ?workspace=<id or slug>: {choices}.")


@router.get("/api/v1/attribution", response_model=AttributionOut, responses=WRITE_ERRORS)
def get_attribution_for_token(
    session: SessionDep,
    start: str | None = FROM,
    end: str | None = TO,
    model: Literal["first", "last"] = "last",
    by: Literal["channel", "quadrant"] = "channel",
    workspace: Workspace = Depends(token_workspace),
) -> AttributionOut:
    """The same report for the token's workspace (or ``?workspace=`` when its user has
    several)."""
    return attribution_out(session, workspace, start, end, model, by)


class ConversionIn(BaseModel):
    type: Literal["contact", "qualified", "sale"]
    order_id: str = Field("", max_length=120, description="Sales: the shop's order id")
    external_id: str = Field("", max_length=120,
                             description="Your id for a contact/qualified event (idempotency)")
    amount: str | float = Field(0.0, description="Sales: amount in major units, e.g. '49.90'")
    currency: str = Field("", max_length=3, examples=["EUR"])
    visitor_id: str = Field("", max_length=40, description="The poise_vid cookie value")
    email: str = ""
    phone: str = ""
    name: str = ""
    sender_ids: dict[str, str] = Field(
        default_factory=dict, description="The person's sender id per platform, e.g. "
        "{\"instagram\": \"<IGSID>\"}")
    contact_id: int | None = Field(None, description="A contact id you stored (a merged-away "
                                   "id names the contact it was merged into)")
    at: datetime | None = Field(None, description="When it happened; default now. A buyer "
                                "never seen before becomes a contact dated at the sale")


class ConversionOut(BaseModel):
    contact_id: int = Field(description="The one contact every identifier of the request "
                            "now belongs to")
    contact_created: bool
    event_id: int | None = Field(description="The sale or qualified event; for type=contact "
                                 "the contact's contact event")
    created: bool = Field(description="False when this external id was recorded before")


@scoped.post("/conversions", response_model=ConversionOut, status_code=201,
             responses={**WRITE_ERRORS, 200: {"description": "Already recorded (same id)"}})
def post_conversion(body: ConversionIn, response: Response, session: SessionDep,
                    member: Member = require_api(Role.manager)) -> ConversionOut:
    """Record a contact, a qualified lead or a sale; idempotent on order id / external id."""
    data: dict[str, Any] = body.model_dump(exclude={"type"})
    data["id"] = body.external_id
    data["at"] = body.at.isoformat() if body.at else None
    result = webhooks.record_shop_event(session=session, workspace_id=member.workspace_id,
                                        source="api", kind=body.type, data=data)
    if not result["created"]:
        response.status_code = 200
    return ConversionOut(**result)


class ContactOut(BaseModel):
    id: int
    name: str
    email: str
    phone: str
    status: str
    assignee_id: int | None
    source: str
    created_at: datetime
    last_message_at: datetime | None


@scoped.get("/contacts", response_model=list[ContactOut], responses=COMMON_ERRORS)
def list_contacts(session: SessionDep, status: str = "", limit: int = Query(100, ge=1, le=1000),
                  member: Member = require_api(Role.viewer)) -> list[ContactOut]:
    """Contacts, latest conversation first."""
    query = select(Contact).where(Contact.workspace_id == member.workspace_id)
    if status:
        query = query.where(Contact.status == status)
    rows = session.exec(query.order_by(col(Contact.last_message_at).desc().nulls_last(),
                                       col(Contact.id).desc()).limit(limit)).all()
    return [ContactOut.model_validate(c, from_attributes=True) for c in rows]


class TrackedLinkIn(BaseModel):
    publication_id: int
    url: str = Field(examples=["https://shop.example/glow"])


class TrackedLinkOut(BaseModel):
    url: str


@scoped.post("/tracked-links", response_model=TrackedLinkOut, responses=WRITE_ERRORS)
def create_tracked_link(body: TrackedLinkIn, session: SessionDep,
                        member: Member = require_api(Role.manager)) -> TrackedLinkOut:
    """The short tracked link for a product URL in a publication (the same one every time)."""
    publication = session.get(Publication, body.publication_id)
    if publication is None or publication.workspace_id != member.workspace_id:
        raise NotFound("No such publication in this workspace.")
    return TrackedLinkOut(url=links.tracked_link_for(session, publication, body.url))


router.include_router(scoped)
