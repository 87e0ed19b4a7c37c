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

from planner.conversions import attribution, contacts, inbox, links, webhooks
from planner.conversions.routes import report_context, send_reply
from planner.errors import Invalid, NotFound
from planner.models import Account, Post, Publication, Role, Workspace
from planner.models_conversions import (
    Contact,
    ContactIdentity,
    ContactStatus,
    ConversionEvent,
    EventKind,
    Message,
    Touchpoint,
)
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
    rates: dict[str, float | None] = Field(
        description="contacts_per_session, qualified_per_contact, sales_per_qualified: ratios "
                    "of this row's counts (null when dividing by zero). They count events, not "
                    "people, so they can pass 1: a contact who buys twice makes two sales for "
                    "one qualification, and each stage is credited to the touch before it, "
                    "which can be another channel's")


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


# --- the Inbox (issue 16): the same reads and actions as the page, with the same roles ---------

class MessageOut(BaseModel):
    id: int
    direction: str = Field(description="in or out")
    channel: str = Field(description="x, facebook, instagram ... or note")
    kind: str = Field(description="dm, auto (an auto-reply) or note")
    delivery: str = Field(description="received; sent, failed, note (no DM API: kept, not "
                          "sent) or pending (stored, the platform not answered yet)")
    text: str
    error: str
    account_id: int | None
    post_id: int | None
    author_id: int | None
    remote_id: str | None
    at: datetime


class ConversationOut(BaseModel):
    contact: ContactOut
    channels: list[str] = Field(description="Platforms the person has a sender id on")
    last_message: MessageOut | None
    post_id: int | None = Field(description="The post whose prompt started the conversation")
    dm_keyword: str = ""
    assignee_name: str | None


class ConversationPage(BaseModel):
    items: list[ConversationOut]
    next_offset: int | None = Field(description="Pass as ?offset= for the next page; null "
                                    "on the last page")


class IdentityOut(BaseModel):
    kind: str = Field(description="visitor, email, phone or a platform (its sender id)")
    value: str


class TouchOut(BaseModel):
    id: int
    kind: str = Field(description="session (a tracked-link click) or dm")
    at: datetime
    account_id: int | None
    channel: str | None = Field(description="The account: platform and handle")
    post_id: int | None
    tags: list[str] = Field(description="The post's value tags")


class EventOut(BaseModel):
    id: int
    kind: str
    at: datetime
    source: str
    order_id: str | None = Field(description="Sales: the order id (else the event's id)")
    amount: float
    currency: str
    first_account_id: int | None
    last_account_id: int | None


class ConversationDetail(BaseModel):
    contact: ContactOut
    merged_from: int | None = Field(description="The id asked for when it was merged into "
                                    "this contact")
    identities: list[IdentityOut]
    messages: list[MessageOut] = Field(description="Oldest first")
    journey: list[TouchOut] = Field(description="Touchpoints, oldest first")
    events: list[EventOut] = Field(description="contact, qualified and sale events")


def _message(m: Message) -> MessageOut:
    return MessageOut.model_validate(m, from_attributes=True)


@scoped.get("/conversations", response_model=ConversationPage, responses=COMMON_ERRORS)
def list_conversations(
    session: SessionDep,
    status: ContactStatus | None = None,
    assignee: str | None = Query(None, pattern=r"^(\d+|none)$",
                                 description="A user id, or 'none' for unassigned"),
    channel: str | None = Query(None, description="A platform: x, facebook, instagram ..."),
    since: datetime | None = Query(None, description="Only conversations with a message "
                                   "(or, never messaged, contacts created) since"),
    limit: int = Query(50, ge=1, le=200),
    offset: int = Query(0, ge=0),
    member: Member = require_api(Role.viewer),
) -> ConversationPage:
    """The Inbox: contacts, latest message first, with what started each conversation."""
    if channel and channel not in contacts.PLATFORM_KINDS:
        raise Invalid.at("query.channel", f"Unknown channel {channel!r}; use one of "
                         f"{', '.join(contacts.PLATFORM_KINDS)}.")
    if since is not None and since.tzinfo is None:
        raise Invalid.at("query.since", "Give the time with its offset (e.g. ...T10:00:00Z).")
    rows = inbox.conversations(
        session=session, workspace_id=member.workspace_id,
        status=status.value if status else "",
        assignee=int(assignee) if assignee and assignee.isdigit() else None,
        unassigned=assignee == "none", channel=channel or "", since=since, limit=limit + 1,
        offset=offset)
    kinds: dict[int, list[str]] = {}
    for cid, kind in session.exec(select(ContactIdentity.contact_id, ContactIdentity.kind).where(
            col(ContactIdentity.contact_id).in_([r.contact.id for r in rows]))).all():
        if kind in contacts.PLATFORM_KINDS:
            kinds.setdefault(cid, []).append(kind)
    items = [ConversationOut(
        contact=ContactOut.model_validate(r.contact, from_attributes=True),
        channels=sorted(kinds.get(r.contact.id or 0, [])),
        last_message=_message(r.last) if r.last else None,
        post_id=r.post.id if r.post else None, dm_keyword=r.post.dm_keyword if r.post else "",
        assignee_name=(r.assignee.name or r.assignee.email) if r.assignee else None)
        for r in rows[:limit]]
    return ConversationPage(items=items,
                            next_offset=offset + limit if len(rows) > limit else None)


def _contact(session: Session, member: Member, contact_id: int) -> Contact:
    return contacts.get_contact(session=session, workspace_id=member.workspace_id,
                                contact_id=contact_id)


@scoped.get("/conversations/{contact_id}", response_model=ConversationDetail,
            responses=COMMON_ERRORS)
def get_conversation(contact_id: int, session: SessionDep,
                     member: Member = require_api(Role.viewer)) -> ConversationDetail:
    """One conversation: the contact, its identifiers, messages, journey and events. A
    merged-away id answers the contact it was merged into (``merged_from`` says so)."""
    contact = _contact(session, member, contact_id)
    messages = session.exec(select(Message).where(Message.contact_id == contact.id)
                            .order_by(col(Message.at), col(Message.id))).all()
    touches = session.exec(select(Touchpoint).where(Touchpoint.contact_id == contact.id)
                           .order_by(col(Touchpoint.at), col(Touchpoint.id))).all()
    events = session.exec(select(ConversionEvent).where(
        ConversionEvent.contact_id == contact.id)
        .order_by(col(ConversionEvent.at), col(ConversionEvent.id))).all()
    accounts = {a.id: a for a in session.exec(select(Account).where(
        col(Account.id).in_({t.account_id for t in touches if t.account_id}))).all()}
    posts = {p.id: p for p in session.exec(select(Post).where(
        col(Post.id).in_({t.post_id for t in touches if t.post_id}))).all()}
    identities = session.exec(select(ContactIdentity).where(
        ContactIdentity.contact_id == contact.id)
        .order_by(col(ContactIdentity.kind), col(ContactIdentity.id))).all()

    def channel(account_id: int | None) -> str | None:
        account = accounts.get(account_id)
        return f"{account.platform} {account.handle}" if account else None

    return ConversationDetail(
        contact=ContactOut.model_validate(contact, from_attributes=True),
        merged_from=contact_id if contact.id != contact_id else None,
        identities=[IdentityOut(kind=i.kind, value=i.value) for i in identities],
        messages=[_message(m) for m in messages],
        journey=[TouchOut(id=t.id or 0, kind=t.kind, at=t.at, account_id=t.account_id,
                          channel=channel(t.account_id), post_id=t.post_id,
                          tags=[x for x in (posts[t.post_id].tags.split(",")
                                            if t.post_id in posts else []) if x])
                 for t in touches],
        events=[EventOut(id=e.id or 0, kind=str(e.kind), at=e.at, source=e.source,
                         order_id=e.external_id, amount=e.amount_cents / 100,
                         currency=e.currency, first_account_id=e.first_account_id,
                         last_account_id=e.last_account_id) for e in events])


class ReplyIn(BaseModel):
    text: str = Field(min_length=1, max_length=10000)
    account_id: int | None = Field(None, description="The account to answer from (one the "
                                   "person has a sender id on); null keeps a note")


@scoped.post("/conversations/{contact_id}/replies", response_model=MessageOut, status_code=201,
             responses=WRITE_ERRORS)
def post_reply(contact_id: int, body: ReplyIn, session: SessionDep,
               member: Member = require_api(Role.manager)) -> MessageOut:
    """Reply through the platform's DM API (X, Messenger, Instagram); elsewhere the reply is
    kept as a note. The reply is stored before the platform is called; ``delivery`` says
    what happened (``failed`` with ``error`` when the platform refused)."""
    contact = _contact(session, member, contact_id)
    account = session.get(Account, body.account_id) if body.account_id is not None else None
    if body.account_id is not None and (account is None
                                        or account.workspace_id != member.workspace_id):
        raise NotFound("No such account in this workspace.")
    return _message(send_reply(session, contact=contact, account=account, text=body.text,
                               author_id=member.user_id))


class StatusIn(BaseModel):
    status: ContactStatus


@scoped.put("/conversations/{contact_id}/status", response_model=ContactOut,
            responses=WRITE_ERRORS)
def put_status(contact_id: int, body: StatusIn, session: SessionDep,
               member: Member = require_api(Role.manager)) -> ContactOut:
    """Set the status; ``qualified`` or ``won`` records the qualified event once."""
    contact = contacts.set_status(session=session, contact=_contact(session, member, contact_id),
                                  status=body.status, actor_id=member.user_id)
    return ContactOut.model_validate(contact, from_attributes=True)


class AssignIn(BaseModel):
    assignee_id: int | None = Field(description="A team member (manager or above); null "
                                    "unassigns")


@scoped.put("/conversations/{contact_id}/assignee", response_model=ContactOut,
            responses=WRITE_ERRORS)
def put_assignee(contact_id: int, body: AssignIn, session: SessionDep,
                 member: Member = require_api(Role.manager)) -> ContactOut:
    """Assign the conversation to a team member, or unassign it."""
    contact = _contact(session, member, contact_id)
    if body.assignee_id is not None and body.assignee_id not in {
            u.id for u in contacts.team(session=session, workspace_id=member.workspace_id)}:
        raise Invalid.at("assignee_id", "Assign to a team member (manager or above).")
    contacts.assign(session=session, contact=contact, assignee_id=body.assignee_id,
                    actor_id=member.user_id)
    return ContactOut.model_validate(contact, from_attributes=True)


class SaleIn(BaseModel):
    order_id: str = Field(min_length=1, max_length=120, description="The shop's order id: "
                          "the same order by any route (shop webhook, API, Inbox) is one sale")
    amount: str | float = Field(description="Major units, e.g. '49.90'")
    currency: str = Field(max_length=3, examples=["EUR"])
    at: datetime | None = Field(None, description="When it was sold; default now")


@scoped.post("/conversations/{contact_id}/sales", response_model=ConversionOut,
             status_code=201,
             responses={**WRITE_ERRORS, 200: {"description": "Already recorded (same order)"}})
def post_sale(contact_id: int, body: SaleIn, response: Response, session: SessionDep,
              member: Member = require_api(Role.manager)) -> ConversionOut:
    """Record a sale for this contact, as the Inbox's "Record sale" does."""
    contact = _contact(session, member, contact_id)
    if body.at is not None and body.at.tzinfo is None:
        raise Invalid.at("at", "Give the time with its offset (e.g. ...T10:00:00Z).")
    recorded = contacts.record_event(
        session=session, contact=contact, kind=EventKind.sale, source="api",
        external_id=body.order_id, amount_cents=webhooks.amount_cents(body.amount),
        currency=body.currency, at=body.at, actor_id=member.user_id)
    if not recorded.created:
        response.status_code = 200
    return ConversionOut(contact_id=recorded.event.contact_id, contact_created=False,
                         event_id=recorded.event.id, created=recorded.created)


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
