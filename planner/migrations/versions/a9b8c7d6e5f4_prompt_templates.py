"""Reusable DM prompt templates per workspace; a post's own call to action

Revision ID: a9b8c7d6e5f4
Revises: f1a2b3c4d5e6
Create Date: 2026-12-02 10:00:00
"""
from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

import planner.dbtypes

revision: str = "a9b8c7d6e5f4"
down_revision: str | None = "f1a2b3c4d5e6"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "prompttemplate",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("workspace_id", sa.Integer(), nullable=False),
        sa.Column("name", sqlmodel.sql.sqltypes.AutoString(length=80), nullable=False),
        sa.Column("keyword", sqlmodel.sql.sqltypes.AutoString(length=40), nullable=False),
        sa.Column("product_url", sqlmodel.sql.sqltypes.AutoString(length=2000),
                  nullable=False),
        sa.Column("prefill", sqlmodel.sql.sqltypes.AutoString(length=500), nullable=False),
        sa.Column("call_to_action", sqlmodel.sql.sqltypes.AutoString(length=200),
                  nullable=False),
        sa.Column("created_at", planner.dbtypes.UTCDateTime(), nullable=False),
        sa.Column("updated_at", planner.dbtypes.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(["workspace_id"], ["workspace.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("workspace_id", "name"),
    )
    with op.batch_alter_table("prompttemplate", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_prompttemplate_workspace_id"), ["workspace_id"],
                              unique=False)
    with op.batch_alter_table("post", schema=None) as batch_op:
        batch_op.add_column(sa.Column("dm_call_to_action",
                                      sqlmodel.sql.sqltypes.AutoString(length=200),
                                      server_default="", nullable=False))


def downgrade() -> None:
    with op.batch_alter_table("post", schema=None) as batch_op:
        batch_op.drop_column("dm_call_to_action")
    with op.batch_alter_table("prompttemplate", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_prompttemplate_workspace_id"))
    op.drop_table("prompttemplate")
