"""When an account's DMs were last polled, so one worker polls each account per interval

Revision ID: e3f5a7c9b1d2
Revises: d7e2c9a4f1b6
Create Date: 2026-12-02 09:00:00
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import planner.dbtypes

revision: str = "e3f5a7c9b1d2"
down_revision: str | None = "d7e2c9a4f1b6"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("account", schema=None) as batch_op:
        batch_op.add_column(sa.Column("dm_polled_at", planner.dbtypes.UTCDateTime(),
                                      nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("account", schema=None) as batch_op:
        batch_op.drop_column("dm_polled_at")
