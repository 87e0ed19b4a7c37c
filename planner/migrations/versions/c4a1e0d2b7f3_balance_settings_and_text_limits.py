"""Balance settings per workspace and account; per-account text limits; refresh lease

Revision ID: c4a1e0d2b7f3
Revises: bb351873d06e
Create Date: 2026-11-22 13:45:00
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import planner.dbtypes

revision: str = "c4a1e0d2b7f3"
down_revision: str | None = "bb351873d06e"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("account", schema=None) as batch_op:
        batch_op.add_column(sa.Column("text_limit", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("token_refresh_lease", planner.dbtypes.UTCDateTime(),
                                      nullable=True))
        batch_op.add_column(sa.Column("balance_overrides", sa.Text(), nullable=False,
                                      server_default=""))
    with op.batch_alter_table("workspace", schema=None) as batch_op:
        batch_op.add_column(sa.Column("balance_overrides", sa.Text(), nullable=False,
                                      server_default=""))


def downgrade() -> None:
    with op.batch_alter_table("workspace", schema=None) as batch_op:
        batch_op.drop_column("balance_overrides")
    with op.batch_alter_table("account", schema=None) as batch_op:
        batch_op.drop_column("balance_overrides")
        batch_op.drop_column("text_limit")
        batch_op.drop_column("token_refresh_lease")
