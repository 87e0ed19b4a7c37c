"""Alembic environment: the URL comes from the caller (planner.migrate) or the settings."""

from __future__ import annotations

from alembic import context
from sqlmodel import SQLModel

import planner.models  # noqa: F401 - registers the tables on SQLModel.metadata
import planner.models_conversions  # noqa: F401 - conversions tables (issue 7)
import planner.models_insight  # noqa: F401 - insight tables (issue 15)
from planner.db import make_engine
from planner.settings import get_settings

config = context.config
target_metadata = SQLModel.metadata


def run_migrations_online() -> None:
    url = config.attributes.get("url") or get_settings().effective_database_url
    engine = make_engine(url)
    with engine.connect() as connection:
        if connection.dialect.name == "sqlite":
            # Batch migrations rebuild tables that others reference (the contact table, issue
            # 16). SQLite switches foreign keys off only outside a transaction, so this goes
            # straight to the driver before the migration's BEGIN; a rebuild checks them after.
            connection.connection.driver_connection.execute(  # type: ignore[union-attr]
                "PRAGMA foreign_keys=OFF")
        context.configure(
            connection=connection,
            target_metadata=target_metadata,
            render_as_batch=connection.dialect.name == "sqlite",
            compare_type=True,
        )
        with context.begin_transaction():
            context.run_migrations()
    engine.dispose()


run_migrations_online()
