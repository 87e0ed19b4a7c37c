"""Conversion tables: tracked links, contacts and their identities, touchpoints, messages,
conversion events and per-workspace conversion settings.

A **touchpoint** is an interaction that carries a channel (an account): a session through a
tracked link, or a DM attributed to a post. A **conversion event** is a stage a contact
reaches: ``contact`` (became known), ``qualified``, ``sale``. Attribution credits each event
to the first or last touchpoint of its contact at or before the event.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import Column, Index, String, Text, UniqueConstraint
from sqlmodel import Field, SQLModel

from planner.db import utcnow
from planner.dbtypes import UTCDateTime


def _at(*, index: bool = False) -> datetime:
    return Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False, index=index)


class ContactStatus(StrEnum):
    new = "new"
    talking = "talking"
    qualified = "qualified"
    won = "won"
    lost = "lost"


class EventKind(StrEnum):
    contact = "contact"
    qualified = "qualified"
    sale = "sale"


class ConversionSettings(SQLModel, table=True):
    """One row per workspace; created with defaults on first use."""

    id: int | None = Field(default=None, primary_key=True)
    workspace_id: int = Field(foreign_key="workspace.id", unique=True)
    # A channel is a dud when it *stays* below the threshold: in each of the last
    # dud_weeks_below weeks it had at least dud_min_sessions sessions (per week) and fewer than
    # dud_contacts_per_100_sessions last-touch contacts per 100 of them.
    dud_contacts_per_100_sessions: float = 2.0
    dud_min_sessions: int = 10  # per week: fewer sessions are too few to judge that week
    dud_window_weeks: int = 4
    dud_weeks_below: int = Field(default=3, sa_column_kwargs={"server_default": "3"})
    auto_reply_cooldown_hours: int = 24
    shop_secret_enc: str = Field(default="", sa_column=Column(Text, nullable=False,
                                                              server_default=""))
    meta_verify_token: str = Field(default="", max_length=120)
    meta_app_secret_enc: str = Field(default="", sa_column=Column(Text, nullable=False,
                                                                  server_default=""))


class TrackedLink(SQLModel, table=True):
    __table_args__ = (UniqueConstraint("publication_id", "url_hash"),)
    id: int | None = Field(default=None, primary_key=True)
    code: str = Field(max_length=16, unique=True, index=True)
    workspace_id: int = Field(foreign_key="workspace.id", index=True)
    publication_id: int = Field(foreign_key="publication.id")
    post_id: int = Field(foreign_key="post.id")
    account_id: int = Field(foreign_key="account.id")
    url: str = Field(sa_column=Column(Text, nullable=False))
    url_hash: str = Field(max_length=64)  # sha256 of url, for the per-publication uniqueness
    target_url: str = Field(sa_column=Column(Text, nullable=False))  # url + UTM, precomputed
    created_at: datetime = _at()


class Contact(SQLModel, table=True):
    # AUTOINCREMENT (issue 16): SQLite would otherwise hand the id of a merged-away contact
    # to the next new one, and a shop that stored it would write to a stranger.
    __table_args__ = (Index("ix_contact_ws_last", "workspace_id", "last_message_at"),
                      Index("ix_contact_ws_status", "workspace_id", "status"),
                      {"sqlite_autoincrement": True})
    id: int | None = Field(default=None, primary_key=True)
    workspace_id: int = Field(foreign_key="workspace.id")
    name: str = Field(default="", max_length=200)
    email: str = Field(default="", max_length=254)
    phone: str = Field(default="", max_length=40)
    status: ContactStatus = Field(default=ContactStatus.new, sa_type=String(20))
    assignee_id: int | None = Field(default=None, foreign_key="user.id")
    source: str = Field(default="", max_length=20)  # dm, shop, csv, api
    created_at: datetime = _at()
    last_message_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


class ContactIdentity(SQLModel, table=True):
    """An explicit identifier of a contact: visitor cookie, e-mail, phone, platform user id."""

    __table_args__ = (UniqueConstraint("workspace_id", "kind", "value"),)
    id: int | None = Field(default=None, primary_key=True)
    workspace_id: int = Field(foreign_key="workspace.id")
    contact_id: int = Field(foreign_key="contact.id", index=True)
    kind: str = Field(max_length=20)  # visitor, email, phone, x, facebook, instagram
    value: str = Field(max_length=254)


class Touchpoint(SQLModel, table=True):
    __table_args__ = (
        Index("ix_touchpoint_contact_at", "contact_id", "at"),
        # Covers the sessions count per channel and post (index-only on PostgreSQL).
        Index("ix_touchpoint_ws_kind_at", "workspace_id", "kind", "at", "account_id", "post_id"),
        Index("ix_touchpoint_visitor", "workspace_id", "visitor_id"),
    )
    id: int | None = Field(default=None, primary_key=True)
    workspace_id: int = Field(foreign_key="workspace.id")
    kind: str = Field(max_length=10)  # session, dm
    at: datetime = _at()
    contact_id: int | None = Field(default=None, foreign_key="contact.id")
    visitor_id: str | None = Field(default=None, max_length=40)
    account_id: int | None = Field(default=None, foreign_key="account.id")
    publication_id: int | None = Field(default=None, foreign_key="publication.id")
    post_id: int | None = Field(default=None, foreign_key="post.id")
    link_id: int | None = Field(default=None, foreign_key="trackedlink.id")
    referrer: str = Field(default="", max_length=500)


class ConversionEvent(SQLModel, table=True):
    """A stage reached, with its credit under both models stored when it is recorded.

    ``first_*`` and ``last_*`` copy the first and the last touchpoint of the contact at or
    before ``at`` (ordered by time, then id); all NULL when there was none. They are refreshed
    whenever the contact's touchpoints change (``planner.conversions.credits``), so the report
    is a GROUP BY over the events in the range instead of a window over every touchpoint.
    """

    __table_args__ = (
        # An external id (a sale's order id) names one event of its kind per workspace,
        # whichever route (shop webhook, API, inbox) brings it.
        UniqueConstraint("workspace_id", "kind", "external_id",
                         name="uq_conversionevent_ws_kind_external"),
        Index("ix_conversionevent_ws_kind_at", "workspace_id", "kind", "at"),
        # The API answers event ids; a merge deletes duplicate events (issue 16).
        {"sqlite_autoincrement": True},
    )
    id: int | None = Field(default=None, primary_key=True)
    workspace_id: int = Field(foreign_key="workspace.id")
    contact_id: int = Field(foreign_key="contact.id", index=True)
    kind: EventKind = Field(sa_type=String(12))
    at: datetime = _at()
    source: str = Field(default="inbox", max_length=20)  # inbox, shop, api, dm, csv
    external_id: str | None = Field(default=None, max_length=120)  # NULLs never collide
    amount_cents: int = 0
    currency: str = Field(default="", max_length=3)
    actor_id: int | None = Field(default=None, foreign_key="user.id")
    first_touch_id: int | None = None
    first_account_id: int | None = None
    first_post_id: int | None = None
    last_touch_id: int | None = None
    last_account_id: int | None = None
    last_post_id: int | None = None


class Message(SQLModel, table=True):
    __table_args__ = (
        UniqueConstraint("workspace_id", "channel", "remote_id"),
        Index("ix_message_contact_at", "contact_id", "at"),
    )
    id: int | None = Field(default=None, primary_key=True)
    workspace_id: int = Field(foreign_key="workspace.id")
    contact_id: int = Field(foreign_key="contact.id")
    account_id: int | None = Field(default=None, foreign_key="account.id")
    post_id: int | None = Field(default=None, foreign_key="post.id")
    channel: str = Field(max_length=20)  # x, facebook, instagram, note
    direction: str = Field(max_length=3)  # in, out
    kind: str = Field(default="dm", max_length=10)  # dm, note, auto
    delivery: str = Field(default="", max_length=12)  # received, sent, note, failed
    text: str = Field(default="", sa_column=Column(Text, nullable=False))
    error: str = Field(default="", max_length=500)
    remote_id: str | None = Field(default=None, max_length=120)
    author_id: int | None = Field(default=None, foreign_key="user.id")
    at: datetime = _at()


class AutoReply(SQLModel, table=True):
    """Per DM prompt (post): answer its keyword with the product link."""

    id: int | None = Field(default=None, primary_key=True)
    workspace_id: int = Field(foreign_key="workspace.id")
    post_id: int = Field(foreign_key="post.id", unique=True)
    enabled: bool = True
    text: str = Field(default="", max_length=500)  # "" means "Here is the link: {url}"


# --- issue 16: one customer, one contact ---------------------------------------------------------

class ContactMerge(SQLModel, table=True):
    """A contact merged into another: its id keeps naming the contact it joined.

    Contact ids are never reused (AUTOINCREMENT on SQLite, a sequence on PostgreSQL), so a
    shop or script that stored the old id keeps writing to the same person. Chains are kept
    flat: when the surviving contact is merged in turn, its rows here follow it.
    """

    merged_id: int = Field(primary_key=True, sa_column_kwargs={"autoincrement": False})
    workspace_id: int = Field(foreign_key="workspace.id")
    contact_id: int = Field(foreign_key="contact.id", index=True)
    at: datetime = _at()
