"""Publish now: a post that goes out as soon as it is approved (issue 14)

Revision ID: i14a_publish_asap
Revises: i13a_sessions
Create Date: 2026-12-04 13:10:00
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "i14a_publish_asap"
down_revision: str | None = "i13a_sessions"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("post") as batch:
        batch.add_column(sa.Column("publish_asap", sa.Boolean(), nullable=False,
                                   server_default=sa.false()))


def downgrade() -> None:
    with op.batch_alter_table("post") as batch:
        batch.drop_column("publish_asap")
