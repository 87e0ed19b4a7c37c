"""Shared fixtures: a migrated database on SQLite and, with TEST_DATABASE_URL, PostgreSQL.

Every test that takes ``engine`` runs once per available database. PostgreSQL gets a fresh
database per test session (created from TEST_DATABASE_URL's server), migrated once and
emptied between tests. Without TEST_DATABASE_URL the PostgreSQL cases are skipped with the
reason; with REQUIRE_POSTGRES=1 (CI) they fail instead.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.engine import Engine, make_url
from sqlmodel import SQLModel

from planner import settings as settings_module
from planner.db import make_engine
from planner.migrate import upgrade
from publishers import netguard

# The tests' fakes listen on loopback: allowed explicitly here, as the demo does (the guard's
# own tests clear the list). Set in the environment so servers started as programs inherit it.
os.environ.setdefault("POISE_ALLOWED_PRIVATE_HOSTS", "127.0.0.1,localhost,::1")
netguard.configure(netguard.parse_host_list(os.environ["POISE_ALLOWED_PRIVATE_HOSTS"]))

TEST_DATABASE_URL = os.environ.get("TEST_DATABASE_URL", "")
REQUIRE_POSTGRES = os.environ.get("REQUIRE_POSTGRES") == "1" or bool(os.environ.get("CI"))


@pytest.fixture(autouse=True)
def _isolated_settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Each test gets its own var/ dir and fresh settings; nothing leaks between tests."""
    monkeypatch.setenv("POISE_VAR_DIR", str(tmp_path / "var"))
    monkeypatch.delenv("POISE_DATABASE_URL", raising=False)
    # Workers started by tests poll X DMs only when a test asks (no test reaches the internet).
    monkeypatch.setenv("POISE_DM_POLL_SECONDS", "0")
    # ... and collect metrics only when a test calls the collector itself: a worker that a
    # fault test stops with SIGSTOP must not be caught inside the collector's short SQLite
    # transaction, which would stall every other process on the file.
    monkeypatch.setenv("POISE_METRICS_POLL_SECONDS", "0")
    settings_module.get_settings.cache_clear()
    yield
    settings_module.get_settings.cache_clear()


def _postgres_server_url() -> str:
    if not TEST_DATABASE_URL:
        reason = "PostgreSQL tests need TEST_DATABASE_URL (e.g. postgresql+psycopg://postgres@127.0.0.1:5432/test)"
        if REQUIRE_POSTGRES:
            pytest.fail(reason + "; required here (CI/REQUIRE_POSTGRES)")
        pytest.skip(reason)
    return TEST_DATABASE_URL


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """A fresh, migrated PostgreSQL database for this test session, dropped at the end."""
    server = make_url(_postgres_server_url())
    name = f"poise_test_{uuid.uuid4().hex[:10]}"
    admin = make_engine(server.render_as_string(hide_password=False),
                        isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
    except Exception as exc:  # noqa: BLE001 - any connection failure means "not reachable"
        admin.dispose()
        if REQUIRE_POSTGRES:
            pytest.fail(f"PostgreSQL at {server.host}:{server.port} not usable: {exc}")
        pytest.skip(f"PostgreSQL at {server.host}:{server.port} not usable: {exc}")
    url = server.set(database=name).render_as_string(hide_password=False)
    upgrade(url)
    yield url
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Migrate once, copy per test: Alembic per test would dominate the suite's time."""
    path = tmp_path_factory.mktemp("sqlite-template") / "template.db"
    upgrade(f"sqlite:///{path}")
    engine = make_engine(f"sqlite:///{path}")
    with engine.connect() as conn:
        conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
    engine.dispose()
    return path


def _truncate_all(engine: Engine) -> None:
    # DELETE beats TRUNCATE on the handful of rows a test leaves behind.
    with engine.begin() as conn:
        for table in reversed(SQLModel.metadata.sorted_tables):
            conn.execute(table.delete())


@pytest.fixture(params=["sqlite", "postgres"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path, sqlite_template: Path) -> str:
    if request.param == "sqlite":
        path = tmp_path / "test.db"
        path.write_bytes(sqlite_template.read_bytes())
        return f"sqlite:///{path}"
    url: str = request.getfixturevalue("postgres_url")
    return url


@pytest.fixture
def engine(db_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[Engine]:
    """A migrated, empty database; POISE_DATABASE_URL points at it for code under test."""
    monkeypatch.setenv("POISE_DATABASE_URL", db_url)
    settings_module.get_settings.cache_clear()
    from planner import db as db_module

    db_module.dispose_engines()
    eng = db_module.get_engine(db_url)
    if eng.dialect.name == "postgresql":
        _truncate_all(eng)
    yield eng
    db_module.dispose_engines()


@pytest.fixture
def sqlite_engine(tmp_path: Path, sqlite_template: Path,
                  monkeypatch: pytest.MonkeyPatch) -> Iterator[Engine]:
    """SQLite only, for tests that do not need to run on both databases."""
    path = tmp_path / "test.db"
    path.write_bytes(sqlite_template.read_bytes())
    url = f"sqlite:///{path}"
    monkeypatch.setenv("POISE_DATABASE_URL", url)
    settings_module.get_settings.cache_clear()
    from planner import db as db_module

    db_module.dispose_engines()
    yield db_module.get_engine(url)
    db_module.dispose_engines()


@pytest.fixture(autouse=True, scope="session")
def _cheap_password_hashing() -> Iterator[None]:
    """Argon2 at production cost makes every login ~100 ms; tests need correctness, not cost."""
    from argon2 import PasswordHasher

    from planner.team import users

    real = users._hasher
    users._hasher = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)
    users._dummy_hash.cache_clear()  # made again with the cheap hasher
    yield
    users._hasher = real
    users._dummy_hash.cache_clear()
