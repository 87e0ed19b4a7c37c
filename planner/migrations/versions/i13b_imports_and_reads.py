"""Safe by default (issue 13): batched CSV imports and per-person notification reads

Imports are written in short transactions under an ``importjob`` row (``post.import_id``
marks what a running import wrote, so a failed one can be removed). A notification addressed
to nobody is read per person (``notificationread``); its own ``read_at`` stays for the
notifications that have one addressee.

Revision ID: i13b_imports
Revises: i15_insight
Create Date: 2026-12-04 15:30:00
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import planner.dbtypes

revision: str = "i13b_imports"
down_revision: str | None = "i15_insight"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "importjob",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("workspace_id", sa.Integer(), sa.ForeignKey("workspace.id"), nullable=False),
        sa.Column("user_id", sa.Integer(), sa.ForeignKey("user.id"), nullable=True),
        sa.Column("status", sa.String(length=10), nullable=False),
        sa.Column("total", sa.Integer(), nullable=False),
        sa.Column("done", sa.Integer(), nullable=False),
        sa.Column("created", sa.Integer(), nullable=False),
        sa.Column("submitted", sa.Integer(), nullable=False),
        sa.Column("message", sa.String(length=1000), nullable=False),
        sa.Column("problems_json", sa.Text(), nullable=False, server_default=""),
        sa.Column("created_at", planner.dbtypes.UTCDateTime(), nullable=False),
        sa.Column("heartbeat_at", planner.dbtypes.UTCDateTime(), nullable=False),
        sa.Column("finished_at", planner.dbtypes.UTCDateTime(), nullable=True),
    )
    op.create_index("ix_importjob_workspace_id", "importjob", ["workspace_id"])
    with op.batch_alter_table("post") as batch:
        batch.add_column(sa.Column("import_id", sa.Integer(), nullable=True))
        batch.create_foreign_key("fk_post_import_id", "importjob", ["import_id"], ["id"])
        batch.create_index("ix_post_import_id", ["import_id"])
    op.create_table(
        "notificationread",
        sa.Column("notification_id", sa.Integer(), sa.ForeignKey("notification.id"),
                  primary_key=True),
        sa.Column("user_id", sa.Integer(), sa.ForeignKey("user.id"), primary_key=True),
        sa.Column("read_at", planner.dbtypes.UTCDateTime(), nullable=False),
    )
    # A workspace-wide notification somebody already read stays read for everybody who could
    # see it then (nobody can tell who did); from now on each member reads it for themselves.
    op.execute(
        "INSERT INTO notificationread (notification_id, user_id, read_at) "
        "SELECT n.id, m.user_id, n.read_at FROM notification n "
        "JOIN membership m ON m.workspace_id = n.workspace_id "
        "WHERE n.user_id IS NULL AND n.read_at IS NOT NULL")
    op.execute("UPDATE notification SET read_at = NULL WHERE user_id IS NULL")


def downgrade() -> None:
    op.execute(
        "UPDATE notification SET read_at = (SELECT MIN(r.read_at) FROM notificationread r "
        "WHERE r.notification_id = notification.id) WHERE user_id IS NULL")
    op.drop_table("notificationread")
    with op.batch_alter_table("post") as batch:
        batch.drop_index("ix_post_import_id")
        batch.drop_constraint("fk_post_import_id", type_="foreignkey")
        batch.drop_column("import_id")
    op.drop_index("ix_importjob_workspace_id", "importjob")
    op.drop_table("importjob")
