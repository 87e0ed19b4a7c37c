"""REST API: attribution, conversion events from the shop's system, contacts, tracked links."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from fastapi import APIRouter, Query, Response
from pydantic import BaseModel, Field
from sqlmodel import col, select

from planner.conversions import attribution, links, webhooks
from planner.errors import NotFound
from planner.models import Publication, Role
from planner.models_conversions import Contact
from planner.web.api import COMMON_ERRORS
from planner.web.conversions import date_range
from planner.web.deps import Member, SessionDep, require_api

router = APIRouter(prefix="/api/v1/workspaces/{workspace_id}", tags=["conversions"])

WRITE_ERRORS: dict[int | str, dict[str, object]] = {
    **COMMON_ERRORS,
    403: {"description": "Your role does not allow this"},
    422: {"description": "Invalid input; `errors` lists each field path and problem"},
}


class FunnelOut(BaseModel):
    key: str = Field(description="Account id, quadrant key, or 'none' for unattributed")
    label: str
    sessions: float
    contacts: float
    qualified: float
    sales: float
    revenue: dict[str, float] = Field(description="Per currency, in major units")
    rates: dict[str, float | None]


class AttributionOut(BaseModel):
    start: datetime
    end: datetime
    model: str
    by: str
    rows: list[FunnelOut]
    total: FunnelOut


def _funnel(key: str, label: str, funnel: attribution.Funnel) -> FunnelOut:
    return FunnelOut(key=key, label=label, **funnel.as_dict())


@router.get("/attribution", response_model=AttributionOut, responses=WRITE_ERRORS)
def get_attribution(
    session: SessionDep,
    start: str | None = Query(None, alias="from", description="First day, YYYY-MM-DD "
                              "(workspace time zone); default 29 days before 'to'"),
    end: str | None = Query(None, alias="to", description="Last day (inclusive); default today"),
    model: Literal["first", "last"] = "last",
    by: Literal["channel", "quadrant"] = "channel",
    member: Member = require_api(Role.viewer),
) -> AttributionOut:
    """Sessions, contacts, qualified and sales (count and revenue) per channel or quadrant."""
    begin, finish, _, _ = date_range(member.workspace, start, end)
    report = attribution.report(session=session, workspace_id=member.workspace_id,
                                start=begin, end=finish)
    return AttributionOut(start=begin, end=finish, model=model, by=by,
                          rows=[_funnel(*row) for row in report.rows(model, by)],
                          total=_funnel("total", "Total", report.total(model, by)))


class ConversionIn(BaseModel):
    type: Literal["contact", "qualified", "sale"]
    order_id: str = Field("", max_length=120, description="Sales: the shop's order id")
    external_id: str = Field("", max_length=120,
                             description="Your id for a contact/qualified event (idempotency)")
    amount: str | float = Field(0, description="Sales: amount in major units, e.g. '49.90'")
    currency: str = Field("", max_length=3, examples=["EUR"])
    visitor_id: str = Field("", max_length=40, description="The poise_vid cookie value")
    email: str = ""
    phone: str = ""
    name: str = ""
    contact_id: int | None = None
    at: datetime | None = Field(None, description="When it happened; default now")


class ConversionOut(BaseModel):
    contact_id: int
    contact_created: bool
    event_id: int | None
    created: bool = Field(description="False when this external id was recorded before")


@router.post("/conversions", response_model=ConversionOut, status_code=201,
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


@router.get("/contacts", response_model=list[ContactOut], responses=COMMON_ERRORS)
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


@router.post("/tracked-links", response_model=TrackedLinkOut, responses=WRITE_ERRORS)
def create_tracked_link(body: TrackedLinkIn, session: SessionDep,
                        member: Member = require_api(Role.manager)) -> TrackedLinkOut:
    """The short tracked link for a product URL in a publication (the same one every time)."""
    publication = session.get(Publication, body.publication_id)
    if publication is None or publication.workspace_id != member.workspace_id:
        raise NotFound("No such publication in this workspace.")
    return TrackedLinkOut(url=links.tracked_link_for(session, publication, body.url))
