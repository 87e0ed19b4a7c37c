"""Web fixtures: an app on the test database, people in two workspaces, logged-in clients."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from smtpinbox import smtp_server  # noqa: F401 - shared fixture
from sqlalchemy.engine import Engine
from webclients import app, client, make_client  # noqa: F401 - shared fixtures
from webhelpers import PASSWORD

from planner import accounts
from planner.db import session_scope
from planner.models import Role
from planner.team import users, workspaces
from sandbox import FakePlatform


@pytest.fixture
def fake() -> Iterator[FakePlatform]:
    """The fake platforms on a loopback port, one per test (a module may define its own)."""
    platform = FakePlatform()
    platform.start()
    yield platform
    platform.stop()


@dataclass
class World:
    slug: str
    workspace_id: int
    other_slug: str
    other_workspace_id: int
    account_id: int
    other_account_id: int
    admin_id: int


@pytest.fixture
def world(engine: Engine) -> World:
    with session_scope(engine) as s:
        ws = workspaces.create_workspace(session=s, name="Acme Bikes", timezone="Europe/Warsaw")
        other = workspaces.create_workspace(session=s, name="Other Brand",
                                            timezone="America/New_York")
        ids = {}
        for email, role in (("admin@acme.test", Role.admin), ("lead@acme.test", Role.brand_lead),
                            ("manager@acme.test", Role.manager),
                            ("viewer@acme.test", Role.viewer)):
            u = users.create_user(session=s, email=email, password=PASSWORD)
            users.add_member(session=s, workspace=ws, user=u, role=role)
            ids[role] = u.id
        stranger = users.create_user(session=s, email="admin@other.test", password=PASSWORD)
        users.add_member(session=s, workspace=other, user=stranger, role=Role.admin)
        acct = accounts.create_account(session=s, workspace_id=ws.id, platform="mastodon",
                                       handle="@acme@bikes.social",
                                       credentials={"access_token": "secret-token-123"})
        other_acct = accounts.create_account(session=s, workspace_id=other.id, platform="x",
                                             handle="@other")
        return World(ws.slug, ws.id, other.slug, other.id, acct.id, other_acct.id,
                     ids[Role.admin])


@pytest.fixture(autouse=True)
def _light_suggester(monkeypatch):
    """Web tests use the lexicon suggester; the embedding one has its own ml-marked tests."""
    from planner.settings import get_settings

    monkeypatch.setenv("POISE_SUGGESTER", "lexicon")
    get_settings.cache_clear()
