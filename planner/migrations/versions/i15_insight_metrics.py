"""Insight (issue 15): metric readings per published post and their collection schedule

Revision ID: i15_insight
Revises: i14b_notifications
Create Date: 2026-12-04 13:00:00
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import planner.dbtypes

revision: str = "i15_insight"
down_revision: str | None = "i14b_notifications"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "metricreading",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("publication_id", sa.Integer(), sa.ForeignKey("publication.id"),
                  nullable=False),
        sa.Column("account_id", sa.Integer(), sa.ForeignKey("account.id"), nullable=False),
        sa.Column("workspace_id", sa.Integer(), sa.ForeignKey("workspace.id"), nullable=False),
        sa.Column("metric", sa.String(length=30), nullable=False),
        sa.Column("value", sa.Float(), nullable=False),
        sa.Column("read_at", planner.dbtypes.UTCDateTime(), nullable=False),
    )
    op.create_index("ix_metricreading_pub_metric", "metricreading",
                    ["publication_id", "metric", "read_at"])
    op.create_index("ix_metricreading_account_id", "metricreading", ["account_id"])
    op.create_table(
        "metriccollection",
        sa.Column("publication_id", sa.Integer(), sa.ForeignKey("publication.id"),
                  primary_key=True),
        sa.Column("account_id", sa.Integer(), sa.ForeignKey("account.id"), nullable=False),
        sa.Column("workspace_id", sa.Integer(), sa.ForeignKey("workspace.id"), nullable=False),
        sa.Column("post_id", sa.Integer(), sa.ForeignKey("post.id"), nullable=False),
        sa.Column("published_at", planner.dbtypes.UTCDateTime(), nullable=False),
        sa.Column("tags", sa.String(length=40), nullable=False),
        sa.Column("slot", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("reason", sa.String(length=300), nullable=False),
        sa.Column("stage", sa.Integer(), nullable=False),
        sa.Column("next_due_at", planner.dbtypes.UTCDateTime(), nullable=True),
        sa.Column("lease_until", planner.dbtypes.UTCDateTime(), nullable=True),
        sa.Column("read_at", planner.dbtypes.UTCDateTime(), nullable=True),
        sa.Column("impressions", sa.Float(), nullable=True),
        sa.Column("engagements", sa.Float(), nullable=True),
        sa.Column("denominator", sa.Float(), nullable=True),
        sa.Column("score", sa.Float(), nullable=True),
        sa.Column("latest", sa.Text(), nullable=False, server_default="{}"),
    )
    op.create_index("ix_metriccollection_due", "metriccollection", ["status", "next_due_at"])
    op.create_index("ix_metriccollection_ws", "metriccollection",
                    ["workspace_id", "published_at"])
    op.create_index("ix_metriccollection_account_id", "metriccollection", ["account_id"])
    op.create_table(
        "metricsoptin",
        sa.Column("account_id", sa.Integer(), sa.ForeignKey("account.id"), primary_key=True),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("changed_by", sa.Integer(), sa.ForeignKey("user.id"), nullable=True),
        sa.Column("changed_at", planner.dbtypes.UTCDateTime(), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("metricsoptin")
    op.drop_table("metriccollection")
    op.drop_table("metricreading")
