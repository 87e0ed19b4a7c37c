"""Conversions: sales idempotent per workspace and order id whatever the source; contact status index

Also: each event's first and last touch stored with it (the report groups events instead of
ranking every touchpoint), a covering index for the sessions count, and the number of
consecutive weeks below the threshold that makes a channel a dud.

Revision ID: f1a2b3c4d5e6
Revises: e3f5a7c9b1d2
Create Date: 2026-12-02 10:00:00
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "f1a2b3c4d5e6"
down_revision: str | None = "e3f5a7c9b1d2"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

CREDIT_COLUMNS = ("first_touch_id", "first_account_id", "first_post_id", "last_touch_id",
                  "last_account_id", "last_post_id")
OLD_UNIQUE = ["workspace_id", "source", "external_id"]
NEW_UNIQUE = ["workspace_id", "kind", "external_id"]
# SQLite reflects the first revision's unique constraint without a name; batch mode names it
# by this convention so it can be dropped.
SQLITE_NAMES = {"uq": "uq_%(table_name)s_%(column_0_N_name)s"}

# The same event twice under the new rule (one order recorded by two routes): the earliest
# recorded one stays, so each order is counted once.
DEDUPE = """
DELETE FROM conversionevent
WHERE external_id IS NOT NULL AND EXISTS (
    SELECT 1 FROM conversionevent AS earlier
    WHERE earlier.workspace_id = conversionevent.workspace_id
      AND earlier.kind = conversionevent.kind
      AND earlier.external_id = conversionevent.external_id
      AND earlier.id < conversionevent.id)
"""
# Backfill: what planner.conversions.credits.refresh computes, for every event.
BACKFILL_TOUCHES = """
UPDATE conversionevent SET
  first_touch_id = (SELECT t.id FROM touchpoint t WHERE t.contact_id = conversionevent.contact_id
                    AND t.at <= conversionevent.at ORDER BY t.at, t.id LIMIT 1),
  last_touch_id = (SELECT t.id FROM touchpoint t WHERE t.contact_id = conversionevent.contact_id
                   AND t.at <= conversionevent.at ORDER BY t.at DESC, t.id DESC LIMIT 1)
"""
BACKFILL_CHANNELS = """
UPDATE conversionevent SET
  first_account_id = (SELECT account_id FROM touchpoint WHERE id = conversionevent.first_touch_id),
  first_post_id = (SELECT post_id FROM touchpoint WHERE id = conversionevent.first_touch_id),
  last_account_id = (SELECT account_id FROM touchpoint WHERE id = conversionevent.last_touch_id),
  last_post_id = (SELECT post_id FROM touchpoint WHERE id = conversionevent.last_touch_id)
"""


def _unique_name(columns: list[str]) -> str | None:
    for constraint in sa.inspect(op.get_bind()).get_unique_constraints("conversionevent"):
        if list(constraint["column_names"]) == columns:
            return constraint["name"] or f"uq_conversionevent_{'_'.join(columns)}"
    return None


def upgrade() -> None:
    with op.batch_alter_table("conversionsettings", schema=None) as batch_op:
        batch_op.add_column(sa.Column("dud_weeks_below", sa.Integer(), server_default="3",
                                      nullable=False))
    with op.batch_alter_table("contact", schema=None) as batch_op:
        batch_op.create_index("ix_contact_ws_status", ["workspace_id", "status"], unique=False)
    with op.batch_alter_table("touchpoint", schema=None) as batch_op:
        batch_op.drop_index("ix_touchpoint_ws_at")
        batch_op.create_index("ix_touchpoint_ws_kind_at",
                              ["workspace_id", "kind", "at", "account_id", "post_id"],
                              unique=False)

    op.execute(DEDUPE)
    old = _unique_name(OLD_UNIQUE)
    with op.batch_alter_table("conversionevent", schema=None,
                              naming_convention=SQLITE_NAMES) as batch_op:
        for column in CREDIT_COLUMNS:
            batch_op.add_column(sa.Column(column, sa.Integer(), nullable=True))
        if old is not None:
            batch_op.drop_constraint(old, type_="unique")
        batch_op.create_unique_constraint("uq_conversionevent_ws_kind_external", NEW_UNIQUE)
    op.execute(BACKFILL_TOUCHES)
    op.execute(BACKFILL_CHANNELS)


def downgrade() -> None:
    with op.batch_alter_table("conversionevent", schema=None) as batch_op:
        batch_op.drop_constraint("uq_conversionevent_ws_kind_external", type_="unique")
        batch_op.create_unique_constraint("conversionevent_workspace_id_source_external_id_key",
                                          OLD_UNIQUE)
        for column in reversed(CREDIT_COLUMNS):
            batch_op.drop_column(column)
    with op.batch_alter_table("touchpoint", schema=None) as batch_op:
        batch_op.drop_index("ix_touchpoint_ws_kind_at")
        batch_op.create_index("ix_touchpoint_ws_at", ["workspace_id", "at"], unique=False)
    with op.batch_alter_table("contact", schema=None) as batch_op:
        batch_op.drop_index("ix_contact_ws_status")
    with op.batch_alter_table("conversionsettings", schema=None) as batch_op:
        batch_op.drop_column("dud_weeks_below")
