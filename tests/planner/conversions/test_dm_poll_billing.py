"""X DM polling reads only what is new and can be turned off per account (issue 11 item 2:
X bills every DM event read). Against the loopback FakePlatform, which pages /2/dm_events
and counts the events it hands out."""

from __future__ import annotations

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import select

from planner import accounts
from planner.accounts import connections
from planner.conversions import dm_poll
from planner.db import session_scope
from planner.models import Account
from planner.models_conversions import Message
from planner.team import workspaces
from sandbox import X_USER_ID, FakePlatform, credentials_for


@pytest.fixture
def x_account(engine: Engine, fake: FakePlatform) -> int:
    with session_scope(engine) as s:
        ws = workspaces.create_workspace(session=s, name="Acme", timezone="Europe/Warsaw")
        account = accounts.create_account(session=s, workspace_id=ws.id, platform="x",
                                          handle="@acme", credentials=credentials_for("x"),
                                          api_base=fake.base_url, external_id=X_USER_ID)
        return int(account.id or 0)


def _messages(engine: Engine) -> list[str]:
    with session_scope(engine) as s:
        return sorted(m.text for m in s.exec(select(Message)).all())


def test_a_poll_reads_back_only_to_what_the_last_one_saw(engine, fake, x_account) -> None:
    for n in range(120):
        fake.x_incoming_dm(f"5{n:03d}", f"old {n}")
    assert dm_poll.poll_account(engine, x_account) > 0
    first_read = fake.x_dm_events_read
    assert first_read <= 50  # the first poll of an account reads one page, not the history
    for n in range(60):
        fake.x_incoming_dm(f"6{n:03d}", f"new {n}")
    assert dm_poll.poll_account(engine, x_account) == 60
    # Two pages (50 + 50) reach the newest event the last poll saw, and stop there.
    assert fake.x_dm_events_read - first_read == 100
    assert sum(1 for text in _messages(engine) if text.startswith("new ")) == 60


def test_polling_can_be_turned_off_per_account(engine, fake, x_account) -> None:
    fake.x_incoming_dm("777", "GLOW please")
    with session_scope(engine) as s:
        connections.set_dm_polling(session=s, account=s.get(Account, x_account), on=False,
                                   actor_id=None)
    assert dm_poll.poll_due(engine, interval_seconds=60) == 0
    assert fake.x_dm_events_read == 0
    with session_scope(engine) as s:
        connections.set_dm_polling(session=s, account=s.get(Account, x_account), on=True,
                                   actor_id=None)
    assert dm_poll.poll_due(engine, interval_seconds=60) == 1
    assert _messages(engine) == ["GLOW please"]
