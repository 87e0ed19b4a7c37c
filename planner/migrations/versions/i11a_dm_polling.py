"""X DM polling per account: a switch (X bills DM reads) and the last event id read

Revision ID: i11a_dm_polling
Revises: a9b8c7d6e5f4
Create Date: 2026-12-04 12:50:00
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "i11a_dm_polling"
down_revision: str | None = "a9b8c7d6e5f4"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("account", schema=None) as batch_op:
        batch_op.add_column(sa.Column("dm_polling", sa.Boolean(), nullable=False,
                                      server_default=sa.true()))
        batch_op.add_column(sa.Column("dm_last_event_id", sa.String(length=40),
                                      nullable=False, server_default=""))


def downgrade() -> None:
    with op.batch_alter_table("account", schema=None) as batch_op:
        batch_op.drop_column("dm_last_event_id")
        batch_op.drop_column("dm_polling")
