"""Token refresh ahead of expiry: exactly one refresh per account across concurrent callers."""

import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import pytest
from sqlmodel import select

from planner import connections, tokens
from planner.crypto import decrypt_credentials
from planner.db import session_scope, utcnow
from planner.models import Account, AccountStatus, Notification
from publishers.fakes import X_CLIENT_ID, X_REFRESH_TOKEN, FakePlatform


@pytest.fixture
def fake():
    platform = FakePlatform()
    platform.start()
    yield platform
    platform.stop()


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
