"""Token refresh ahead of expiry: exactly one refresh per account across concurrent callers."""

import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import pytest
from sqlmodel import select

from planner.accounts import connections, tokens
from planner.accounts.crypto import decrypt_credentials, encrypt_credentials
from planner.db import session_scope, utcnow
from planner.models import Account, AccountStatus, Notification
from sandbox import X_CLIENT_ID, X_REFRESH_TOKEN


def x_account(engine, world, fake, refresh=X_REFRESH_TOKEN):
    with session_scope(engine) as s:
        account = connections.connect(
            # unique handle: the adapter remembers spent refresh tokens per handle in-process
            session=s, workspace_id=world.workspace_id, platform="x",
            handle=f"@brand-{uuid.uuid4().hex[:6]}",
            api_base=fake.base_url, actor_id=None, check=False,
            credentials={"access_token": "old", "refresh_token": refresh,
                         "client_id": X_CLIENT_ID})
        account.token_expires_at = utcnow() + timedelta(minutes=5)
        return account.id


def test_concurrent_refreshes_spend_the_token_once(world, engine, fake):
    account_id = x_account(engine, world, fake)
    with ThreadPoolExecutor(4) as pool:
        results = list(pool.map(lambda _: tokens.refresh_expiring(engine), range(4)))
    assert sum(results) == 1
    token_calls = [r for r in fake.requests if r[1] == "/2/oauth2/token"]
    assert len(token_calls) == 1
    with session_scope(engine) as s:
        account = s.get(Account, account_id)
        creds = decrypt_credentials(account.credentials_enc)
        assert creds["refresh_token"] != X_REFRESH_TOKEN and creds["access_token"] != "old"
        assert account.token_expires_at > utcnow() + timedelta(minutes=60)
        assert account.token_refresh_lease is None
    assert tokens.refresh_expiring(engine) == 0  # not due any more


def test_refused_refresh_asks_for_reconnect(world, engine, fake):
    account_id = x_account(engine, world, fake, refresh="spent-elsewhere")
    assert tokens.refresh_expiring(engine) == 0
    with session_scope(engine) as s:
        assert s.get(Account, account_id).status == AccountStatus.needs_reconnect
        assert len(s.exec(select(Notification)).all()) == 1


@pytest.mark.parametrize("kind", ["5xx_before_create", "connection_reset"])
def test_platform_trouble_keeps_the_account_connected(world, engine, fake, kind):
    account_id = x_account(engine, world, fake)
    fake.inject("auth", kind, platform="x")
    now = utcnow()
    assert tokens.refresh_expiring(engine, now=now) == 0
    with session_scope(engine) as s:
        account = s.get(Account, account_id)
        assert account.status == AccountStatus.ok
        assert "failed for now" in account.status_reason
        assert "tried again automatically" in account.status_reason
        assert s.exec(select(Notification)).all() == []
        assert decrypt_credentials(account.credentials_enc)["refresh_token"] == X_REFRESH_TOKEN
    # The lease stays until it runs out: the next round does not hammer the platform...
    assert tokens.refresh_expiring(engine, now=now + timedelta(seconds=30)) == 0
    assert [r[1] for r in fake.requests].count("/2/oauth2/token") == 1
    # ...and a later one refreshes, clearing the note.
    assert tokens.refresh_expiring(engine, now=now + tokens.LEASE + timedelta(seconds=1)) == 1
    with session_scope(engine) as s:
        account = s.get(Account, account_id)
        assert (account.status, account.status_reason) == (AccountStatus.ok, "")


def test_rate_limit_waits_for_the_reset(world, engine, fake):
    account_id = x_account(engine, world, fake)
    fake.inject("auth", "429", platform="x")
    now = utcnow()
    assert tokens.refresh_expiring(engine, now=now) == 0
    with session_scope(engine) as s:
        account = s.get(Account, account_id)
        assert account.status == AccountStatus.ok
        assert account.token_refresh_lease > now + timedelta(minutes=14)  # x-rate-limit-reset
    assert tokens.refresh_expiring(engine, now=now + tokens.LEASE * 2) == 0
    assert [r[1] for r in fake.requests].count("/2/oauth2/token") == 1


def test_unreachable_platform_keeps_the_account_connected(world, engine):
    with session_scope(engine) as s:
        account = connections.connect(
            session=s, workspace_id=world.workspace_id, platform="x",
            handle=f"@gone-{uuid.uuid4().hex[:6]}", api_base="http://127.0.0.1:9",
            actor_id=None, check=False,
            credentials={"access_token": "old", "refresh_token": "r", "client_id": "c"})
        account.token_expires_at = utcnow() + timedelta(minutes=5)
        account_id = account.id
    assert tokens.refresh_expiring(engine) == 0
    with session_scope(engine) as s:
        account = s.get(Account, account_id)
        assert account.status == AccountStatus.ok and "Could not connect" in \
            account.status_reason


def test_threads_long_lived_token_is_extended(world, engine, fake):
    with session_scope(engine) as s:
        account = connections.connect(
            session=s, workspace_id=world.workspace_id, platform="threads", handle="@brand",
            api_base=fake.base_url, external_id="27000000000000001", actor_id=None,
            check=False, credentials={"access_token": "fake-token"})
        account.token_expires_at = utcnow() + timedelta(minutes=10)
        account_id = account.id
    assert tokens.refresh_expiring(engine) == 1
    with session_scope(engine) as s:
        account = s.get(Account, account_id)
        assert decrypt_credentials(account.credentials_enc)["access_token"].startswith(
            "threads-long-")
        assert account.token_expires_at > utcnow() + timedelta(days=59)


def test_a_reconnect_during_the_refresh_wins(world, engine, fake, monkeypatch):
    """The network call runs outside the transaction; a person who reconnects meanwhile keeps
    their new credentials instead of having them overwritten by the refresh's result."""
    from publishers.x import XPublisher

    account_id = x_account(engine, world, fake)
    real = XPublisher.refresh_credentials

    def refresh_while_someone_reconnects(self, account):
        fresh = real(self, account)
        with session_scope(engine) as s:  # the person's reconnect commits first
            s.get(Account, account_id).credentials_enc = encrypt_credentials(
                {"access_token": "from-the-person", "refresh_token": "theirs",
                 "client_id": X_CLIENT_ID})
        return fresh

    monkeypatch.setattr(XPublisher, "refresh_credentials", refresh_while_someone_reconnects)
    assert tokens.refresh_expiring(engine) == 0
    with session_scope(engine) as s:
        account = s.get(Account, account_id)
        assert decrypt_credentials(account.credentials_enc)["access_token"] == "from-the-person"
        assert account.token_refresh_lease is None


def _threads_account(engine, world, fake, expires_in):
    with session_scope(engine) as s:
        account = connections.connect(  # a distinct user id: not a reconnect of the other
            session=s, workspace_id=world.workspace_id, platform="threads",
            handle=f"@brand-{uuid.uuid4().hex[:6]}", api_base=fake.base_url,
            external_id=str(uuid.uuid4().int)[:17], actor_id=None, check=False,
            credentials={"access_token": "fake-token"})
        account.token_expires_at = utcnow() + expires_in
        return account.id


def test_threads_tokens_are_refreshed_days_before_expiry(world, engine, fake):
    """A 60-day Threads token is renewed with days to spare, not in its last 15 minutes."""
    soon = _threads_account(engine, world, fake, timedelta(days=3))
    later = _threads_account(engine, world, fake, timedelta(days=20))
    due = tokens.due_for_refresh(engine, utcnow())
    assert soon in due and later not in due
    assert tokens.refresh_expiring(engine) == 1


def test_short_lived_tokens_keep_the_short_margin(world, engine, fake):
    account_id = x_account(engine, world, fake)
    with session_scope(engine) as s:
        s.get(Account, account_id).token_expires_at = utcnow() + timedelta(hours=1)
    assert account_id not in tokens.due_for_refresh(engine, utcnow())
