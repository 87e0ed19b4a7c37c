"""Invitations to join a workspace, issue 13

Revision ID: i13t_invitations
Revises: i13b_imports
Create Date: 2026-12-04 15:30:00
"""
from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

import planner.dbtypes

revision: str = "i13t_invitations"
down_revision: str | None = "i13b_imports"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "invitation",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("workspace_id", sa.Integer(), nullable=False),
        sa.Column("email", sqlmodel.sql.sqltypes.AutoString(length=254), nullable=False),
        sa.Column("role", sa.String(length=20), nullable=False),
        sa.Column("token_hash", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("created_by", sa.Integer(), nullable=True),
        sa.Column("created_at", planner.dbtypes.UTCDateTime(), nullable=False),
        sa.Column("expires_at", planner.dbtypes.UTCDateTime(), nullable=False),
        sa.Column("accepted_at", planner.dbtypes.UTCDateTime(), nullable=True),
        sa.Column("accepted_by", sa.Integer(), nullable=True),
        sa.Column("revoked_at", planner.dbtypes.UTCDateTime(), nullable=True),
        sa.ForeignKeyConstraint(["accepted_by"], ["user.id"]),
        sa.ForeignKeyConstraint(["created_by"], ["user.id"]),
        sa.ForeignKeyConstraint(["workspace_id"], ["workspace.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("invitation", schema=None) as batch_op:
        batch_op.create_index("ix_invitation_ws_email", ["workspace_id", "email"], unique=False)
        batch_op.create_index(batch_op.f("ix_invitation_token_hash"), ["token_hash"],
                              unique=True)
        batch_op.create_index(batch_op.f("ix_invitation_workspace_id"), ["workspace_id"],
                              unique=False)


def downgrade() -> None:
    with op.batch_alter_table("invitation", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_invitation_workspace_id"))
        batch_op.drop_index(batch_op.f("ix_invitation_token_hash"))
        batch_op.drop_index("ix_invitation_ws_email")
    op.drop_table("invitation")
