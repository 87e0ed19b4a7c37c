"""Insight (issue 15): the account's followers near publish time, the rate's denominator

Revision ID: i15m_followers
Revises: i14s_checklist
Create Date: 2026-12-04 15:40:00

Where a platform gives no impressions (Mastodon, Bluesky, Facebook Page), the engagement rate
divides by the account's followers, read with a post's first reading (docs/insight.md).
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "i15m_followers"
down_revision: str | None = "i14s_checklist"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("metriccollection") as batch:
        batch.add_column(sa.Column("followers", sa.Float(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("metriccollection") as batch:
        batch.drop_column("followers")
