"""The i16a_contact_ids migration on existing data: every contact and reference kept, contact
ids never reused from then on, merged-away ids (from the audit trail) resolving, and back."""

from __future__ import annotations

import json

from alembic import command
from sqlalchemy import text

from planner.db import make_engine
from planner.migrate import alembic_config
from tests.planner.conversions.test_migration_dedup import T0, _insert, empty_url  # noqa: F401

BEFORE, THIS = "a9b8c7d6e5f4", "i16a_contact_ids"


def test_upgrade_keeps_contacts_and_never_reuses_their_ids(empty_url):  # noqa: F811
    command.upgrade(alembic_config(empty_url), BEFORE)
    engine = make_engine(empty_url)
    with engine.begin() as conn:
        ws = _insert(conn, "workspace", name="W", slug="w", timezone="UTC")
        kept = _insert(conn, "contact", workspace_id=ws, status="won", email="a@x.test")
        merged = _insert(conn, "contact", workspace_id=ws, status="new")
        later = _insert(conn, "contact", workspace_id=ws, status="new")
        _insert(conn, "message", workspace_id=ws, contact_id=kept, channel="x",
                direction="in", text="hi", at=T0)
        _insert(conn, "contactidentity", workspace_id=ws, contact_id=kept, kind="email",
                value="a@x.test")
        sale = _insert(conn, "conversionevent", workspace_id=ws, contact_id=kept, kind="sale",
                       source="shop", external_id="A-1", at=T0, amount_cents=100,
                       currency="EUR")
        # 'merged' and then 'later' (the newest) merged into 'kept', as merge_contacts did.
        for drop in (merged, later):
            conn.execute(text("DELETE FROM contact WHERE id = :i"), {"i": drop})
            _insert(conn, "auditevent", workspace_id=ws, action="contact.merged",
                    entity="contact", entity_id=kept, before=json.dumps({"merged": drop}),
                    at=T0)
    engine.dispose()

    command.upgrade(alembic_config(empty_url), THIS)
    engine = make_engine(empty_url)
    with engine.begin() as conn:
        if conn.dialect.name == "sqlite":
            sql = conn.execute(text(
                "SELECT sql FROM sqlite_master WHERE name = 'contact'")).scalar_one()
            assert "AUTOINCREMENT" in sql.upper()
            events = conn.execute(text(
                "SELECT sql FROM sqlite_master WHERE name = 'conversionevent'")).scalar_one()
            assert "AUTOINCREMENT" in events.upper()
            assert "uq_conversionevent_ws_kind_external" in events  # one sale per order, kept
            assert conn.execute(text("SELECT count(*) FROM sqlite_master WHERE name = "
                                     "'ix_conversionevent_ws_kind_at'")).scalar_one() == 1
            assert conn.exec_driver_sql("PRAGMA foreign_key_check").fetchall() == []
        assert conn.execute(text("SELECT id, status, email FROM contact")).all() == [
            (kept, "won", "a@x.test")]
        assert conn.execute(text("SELECT contact_id FROM message")).scalar_one() == kept
        assert conn.execute(text("SELECT id, contact_id, external_id FROM conversionevent")
                            ).all() == [(sale, kept, "A-1")]
        assert sorted(conn.execute(text("SELECT merged_id, contact_id FROM contactmerge"))
                      .all()) == [(merged, kept), (later, kept)]
        stranger = _insert(conn, "contact", workspace_id=ws, status="new")
        assert stranger > later  # the newest merged id (deleted before) is not handed out
    engine.dispose()

    command.downgrade(alembic_config(empty_url), BEFORE)
    engine = make_engine(empty_url)
    with engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM contact")).scalar_one() == 2
    engine.dispose()
