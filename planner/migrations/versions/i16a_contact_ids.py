"""Contact ids are never reused; a merged-away contact id keeps naming its contact (issue 16)

Revision ID: i16a_contact_ids
Revises: i11a_dm_polling
Create Date: 2026-12-04 12:45:00

SQLite hands out max(id) + 1, so deleting the newest contact (a merge does) gave its id to the
next person. The ``contact`` table is rebuilt with AUTOINCREMENT (every id kept; SQLite only
switches foreign keys off outside a transaction, which ``env.py`` does for SQLite), and
``sqlite_sequence`` starts above every id known to have been used: the live ones and the
merged-away ones the audit trail records. ``conversionevent`` gets AUTOINCREMENT too: the
API answers event ids, and a merge deletes duplicate ``contact`` / ``qualified`` events. Those merged ids are backfilled into
``contactmerge`` unless a live contact already holds the id (then it was reused before this
migration, and the live contact keeps it). PostgreSQL's sequence never reused ids.
"""
import json
from collections.abc import Sequence
from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

import planner.dbtypes

revision: str = "i16a_contact_ids"
down_revision: str | None = "i11a_dm_polling"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "contactmerge",
        sa.Column("merged_id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("workspace_id", sa.Integer(), nullable=False),
        sa.Column("contact_id", sa.Integer(), nullable=False),
        sa.Column("at", planner.dbtypes.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(["contact_id"], ["contact.id"]),
        sa.ForeignKeyConstraint(["workspace_id"], ["workspace.id"]),
        sa.PrimaryKeyConstraint("merged_id"),
    )
    op.create_index("ix_contactmerge_contact_id", "contactmerge", ["contact_id"])
    bind = op.get_bind()
    merged = _merges_in_audit(bind)
    if bind.dialect.name == "sqlite":
        for table in ("contact", "conversionevent"):
            with op.batch_alter_table(table, recreate="always",
                                      table_kwargs={"sqlite_autoincrement": True}):
                pass
        problems = bind.exec_driver_sql("PRAGMA foreign_key_check").fetchall()
        if problems:
            raise RuntimeError(f"foreign keys broken by the contact rebuild: {problems[:5]}")
        top = max([bind.execute(sa.text("SELECT COALESCE(MAX(id), 0) FROM contact")).scalar()
                   or 0] + [m[0] for m in merged])
        bind.execute(sa.text("DELETE FROM sqlite_sequence WHERE name = 'contact'"))
        bind.execute(sa.text("INSERT INTO sqlite_sequence (name, seq) VALUES ('contact', :top)"),
                     {"top": top})
    live = {row[0]: row[1] for row in bind.execute(sa.text("SELECT id, workspace_id FROM contact"))}
    resolved: dict[int, int] = {}
    for drop, keep in merged:  # oldest first: a later merge of the survivor moves the chain
        resolved[drop] = keep
        for old, into in resolved.items():
            if into == drop:
                resolved[old] = keep
    table = sa.table("contactmerge", sa.column("merged_id", sa.Integer()),
                     sa.column("workspace_id", sa.Integer()),
                     sa.column("contact_id", sa.Integer()),
                     sa.column("at", planner.dbtypes.UTCDateTime()))
    now = datetime.now(UTC)
    rows = [{"merged_id": drop, "workspace_id": live[keep], "contact_id": keep, "at": now}
            for drop, keep in resolved.items() if drop not in live and keep in live]
    if rows:
        op.bulk_insert(table, rows)


def _merges_in_audit(bind: sa.engine.Connection) -> list[tuple[int, int]]:
    """(merged-away id, surviving id) from ``contact.merged`` audit entries, oldest first."""
    out = []
    for entity_id, before in bind.execute(sa.text(
            "SELECT entity_id, before FROM auditevent WHERE action = 'contact.merged' "
            "ORDER BY id")):
        try:
            drop = int(json.loads(before or "{}").get("merged"))
        except (TypeError, ValueError, AttributeError):
            continue
        if entity_id is not None:
            out.append((drop, int(entity_id)))
    return out


def downgrade() -> None:
    op.drop_index("ix_contactmerge_contact_id", table_name="contactmerge")
    op.drop_table("contactmerge")
    if op.get_bind().dialect.name == "sqlite":
        for table in ("contact", "conversionevent"):
            with op.batch_alter_table(table, recreate="always",
                                      table_kwargs={"sqlite_autoincrement": False}):
                pass
