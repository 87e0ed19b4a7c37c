"""Insight tables (issue 15): what each published post's public metrics were, and when.

``metricreading`` is the time series (one row per publication, metric and reading).
``metriccollection`` is one row per published publication: where its reading schedule stands
and the latest normalised figures, so reports read one row per post instead of the series.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Column, Index, String, Text
from sqlmodel import Field, SQLModel

from planner.db import utcnow
from planner.dbtypes import UTCDateTime


class MetricReading(SQLModel, table=True):
    __table_args__ = (Index("ix_metricreading_pub_metric", "publication_id", "metric",
                            "read_at"),)
    id: int | None = Field(default=None, primary_key=True)
    publication_id: int = Field(foreign_key="publication.id")
    account_id: int = Field(foreign_key="account.id", index=True)
    workspace_id: int = Field(foreign_key="workspace.id")
    # impressions, likes, reposts, replies, saves, link_clicks, followers, quotes ...
    metric: str = Field(max_length=30)
    value: float
    read_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False)


class MetricCollection(SQLModel, table=True):
    __table_args__ = (Index("ix_metriccollection_due", "status", "next_due_at"),
                      Index("ix_metriccollection_ws", "workspace_id", "published_at"))
    publication_id: int = Field(foreign_key="publication.id", primary_key=True)
    account_id: int = Field(foreign_key="account.id", index=True)
    workspace_id: int = Field(foreign_key="workspace.id")
    post_id: int = Field(foreign_key="post.id")
    published_at: datetime = Field(sa_type=UTCDateTime, nullable=False)
    # Copied when the row is made, so the report groups one table (no join, no time zone
    # arithmetic over 100,000 rows): the post's tags, and its local weekday * 4 + 6-hour
    # block in the workspace's zone then.
    tags: str = Field(default="", max_length=40)
    slot: int = 0
    # collecting (readings to come), done (the schedule ran out), not_available (the platform
    # or the account's permissions give no metrics: shown as such, never as zero), off (X
    # collection not switched on for the account: it is billed per read).
    status: str = Field(default="collecting", sa_type=String(20))
    reason: str = Field(default="", max_length=300)
    stage: int = 0  # readings taken so far along the schedule
    next_due_at: datetime | None = Field(default=None, sa_type=UTCDateTime, nullable=True)
    lease_until: datetime | None = Field(default=None, sa_type=UTCDateTime, nullable=True)
    read_at: datetime | None = Field(default=None, sa_type=UTCDateTime, nullable=True)
    # The latest normalised figures (None: the platform does not give it).
    impressions: float | None = None
    engagements: float | None = None  # likes + reposts + replies + saves + link clicks
    denominator: float | None = None  # what the engagement rate divides by (docs/insight.md)
    # The account's followers read with the post's first reading (the nearest to publishing
    # Poise gets); None: not read (the platform has impressions, or no permission).
    followers: float | None = None
    score: float | None = None  # compass.resonance.engagement_score of the latest reading
    latest: str = Field(default="{}", sa_column=Column(Text, nullable=False, server_default="{}"))


class MetricsOptIn(SQLModel, table=True):
    """Accounts whose metrics cost money to read (X bills each post read) and are read
    only after someone switched them on."""

    account_id: int = Field(foreign_key="account.id", primary_key=True)
    enabled: bool = False
    changed_by: int | None = Field(default=None, foreign_key="user.id")
    changed_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False)
