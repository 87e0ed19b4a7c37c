"""The f1a2b3c4d5e6 migration on existing data: one sale per order, credits backfilled, and back.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from alembic import command
from sqlalchemy import MetaData, Table, text
from sqlalchemy.engine import Connection, make_url
from sqlalchemy.exc import IntegrityError

from planner.db import make_engine
from planner.migrate import alembic_config
from tests.conftest import _postgres_server_url

BEFORE, THIS = "e3f5a7c9b1d2", "f1a2b3c4d5e6"
T0 = datetime(2026, 11, 1, 9, tzinfo=UTC).replace(tzinfo=None)


@pytest.fixture(params=["sqlite", "postgres"])
def empty_url(request, tmp_path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'mig.db'}"
        return
    server = make_url(_postgres_server_url())
    name = f"poise_mig_{uuid.uuid4().hex[:8]}"
    admin = make_engine(server.render_as_string(hide_password=False),
                        isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield server.set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def _insert(conn: Connection, table_name: str, **values) -> int:
    """A row with ``values``; other required columns get a neutral value of their type."""
    table = Table(table_name, MetaData(), autoload_with=conn)
    for column in table.columns:
        if column.name in values or column.nullable or column.primary_key \
                or column.server_default is not None:
            continue
        try:
            kind = column.type.python_type
        except NotImplementedError:
            kind = str
        values[column.name] = {int: 0, float: 0.0, bool: False, datetime: T0}.get(kind, "")
    return int(conn.execute(table.insert().values(**values).returning(table.c.id)).scalar_one())


def _events(conn: Connection) -> list:
    return list(conn.execute(text(
        "SELECT id, kind, source, external_id, first_touch_id, first_account_id, "
        "last_touch_id, last_account_id, last_post_id FROM conversionevent ORDER BY id")))


def test_upgrade_keeps_one_event_per_order_and_backfills_credits(empty_url):
    command.upgrade(alembic_config(empty_url), BEFORE)
    engine = make_engine(empty_url)
    with engine.begin() as conn:
        ws = _insert(conn, "workspace", name="W", slug="w", timezone="UTC")
        x = _insert(conn, "account", workspace_id=ws, platform="x", handle="@w")
        ig = _insert(conn, "account", workspace_id=ws, platform="instagram", handle="w")
        post = _insert(conn, "post", workspace_id=ws, text="p", tags="try")
        contact = _insert(conn, "contact", workspace_id=ws, status="new")
        t1 = _insert(conn, "touchpoint", workspace_id=ws, kind="session", at=T0,
                     contact_id=contact, account_id=x, post_id=post)
        t2 = _insert(conn, "touchpoint", workspace_id=ws, kind="dm",
                     at=T0 + timedelta(days=2), contact_id=contact, account_id=ig)

        def event(kind, source, external_id, days):
            return _insert(conn, "conversionevent", workspace_id=ws, contact_id=contact,
                           kind=kind, source=source, external_id=external_id,
                           at=T0 + timedelta(days=days), amount_cents=100, currency="EUR")

        joined = event("contact", "dm", None, 1)
        sale = event("sale", "shop", "A-1", 3)
        event("sale", "api", "A-1", 4)  # the same order by a second route: dropped
        qualified = event("qualified", "shop", "Q-1", 2)
        event("qualified", "api", "Q-1", 2)  # the same id of the same kind: dropped
        other_kind = event("sale", "inbox", "Q-1", 5)  # a sale may share a qualified's id
        before_anything = event("contact", "csv", None, -1)
    engine.dispose()

    command.upgrade(alembic_config(empty_url), THIS)
    engine = make_engine(empty_url)
    with engine.connect() as conn:
        rows = {r.id: r for r in _events(conn)}
    assert sorted(rows) == sorted([joined, sale, qualified, other_kind, before_anything])
    assert tuple(rows[joined])[4:] == (t1, x, t1, x, post)
    assert tuple(rows[sale])[4:] == (t1, x, t2, ig, None)
    assert tuple(rows[before_anything])[4:] == (None, None, None, None, None)
    with pytest.raises(IntegrityError), engine.begin() as conn:
        _insert(conn, "conversionevent", workspace_id=ws, contact_id=contact, kind="sale",
                source="inbox", external_id="A-1", at=T0)
    with engine.connect() as conn:
        settings_id = _insert(conn, "conversionsettings", workspace_id=ws)
        weeks = conn.execute(text("SELECT dud_weeks_below FROM conversionsettings "
                                  "WHERE id = :i"), {"i": settings_id}).scalar_one()
        conn.rollback()
    assert weeks == 3
    engine.dispose()

    command.downgrade(alembic_config(empty_url), BEFORE)
    engine = make_engine(empty_url)
    with engine.begin() as conn:  # the old rule again: per source
        _insert(conn, "conversionevent", workspace_id=ws, contact_id=contact, kind="sale",
                source="inbox", external_id="A-1", at=T0)
    with pytest.raises(IntegrityError), engine.begin() as conn:
        _insert(conn, "conversionevent", workspace_id=ws, contact_id=contact, kind="sale",
                source="inbox", external_id="A-1", at=T0)
    engine.dispose()
