"""Workflow notifications: kind, link and ref on notifications, their e-mail copy, and the
per-user e-mail opt-in (issue 14)

Revision ID: i14b_notifications
Revises: i14a_publish_asap
Create Date: 2026-12-04 13:00:00
"""
from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = "i14b_notifications"
down_revision: str | None = "i14a_publish_asap"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _text(length: int, default: str) -> sa.Column:
    return sa.Column("x", sqlmodel.sql.sqltypes.AutoString(length=length), nullable=False,
                     server_default=default)


def upgrade() -> None:
    with op.batch_alter_table("notification", schema=None) as batch_op:
        for name, length, default in (("kind", 40, "notice"), ("link", 500, ""),
                                      ("ref", 80, ""), ("email_status", 10, "")):
            column = _text(length, default)
            column.name = name
            batch_op.add_column(column)
        batch_op.add_column(sa.Column("email_attempts", sa.Integer(), nullable=False,
                                      server_default="0"))
        batch_op.create_index(batch_op.f("ix_notification_ref"), ["ref"], unique=False)
    with op.batch_alter_table("user", schema=None) as batch_op:
        batch_op.add_column(sa.Column("email_notifications", sa.Boolean(), nullable=False,
                                      server_default=sa.false()))


def downgrade() -> None:
    with op.batch_alter_table("user", schema=None) as batch_op:
        batch_op.drop_column("email_notifications")
    with op.batch_alter_table("notification", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_notification_ref"))
        for name in ("email_attempts", "email_status", "ref", "link", "kind"):
            batch_op.drop_column(name)
