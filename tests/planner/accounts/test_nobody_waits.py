"""A slow platform holds up nobody: no write lock is held while Poise waits for it."""

from __future__ import annotations

import sqlite3
import threading
import time

import pytest
from fastapi.testclient import TestClient
from webhelpers import login, page_csrf

from sandbox import FakePlatform


@pytest.fixture(scope="module")
def slow():
    platform = FakePlatform()
    platform.start()
    yield platform
    platform.stop()


def _another_writer_gets_through(path: str, timeout: float = 0.05) -> bool:
    """A writer that will not wait: BEGIN IMMEDIATE fails at once if anyone holds the lock."""
    conn = sqlite3.connect(path, timeout=timeout, isolation_level=None)
    try:
        conn.execute("BEGIN IMMEDIATE")
        conn.execute("UPDATE workspace SET utm_campaign = utm_campaign")
        conn.execute("COMMIT")
        return True
    except sqlite3.OperationalError:
        return False
    finally:
        conn.close()


@pytest.mark.parametrize("what", ["connect", "test"])
def test_connecting_to_a_slow_platform_blocks_no_other_write(world, app, engine, slow, what):
    if engine.dialect.name != "sqlite":
        pytest.skip("the one write lock is SQLite's; PostgreSQL locks rows")
    slow.reset()
    c = TestClient(app, raise_server_exceptions=False)
    c.__enter__()
    login(c, "manager@acme.test")
    token = page_csrf(c, f"/w/{world.slug}/accounts")
    if what == "connect":
        call = (f"/w/{world.slug}/accounts",
                {"csrf_token": token, "platform": "mastodon", "handle": "",
                 "api_base": slow.base_url, "cred_access_token": "fake-token"})
    else:
        from planner.db import session_scope
        from planner.models import Account
        with session_scope() as s:
            account = s.get(Account, world.account_id)
            account.api_base = slow.base_url
        call = (f"/w/{world.slug}/accounts/{world.account_id}/test", {"csrf_token": token})
    slow.latency_ms = 1500
    answers: list[int] = []
    worker = threading.Thread(target=lambda: answers.append(
        c.post(call[0], data=call[1], follow_redirects=False).status_code))
    worker.start()
    deadline = time.monotonic() + 10
    while not slow.requests and time.monotonic() < deadline:
        time.sleep(0.02)
    assert slow.requests, "the platform was never called"
    # Poise is now waiting for the platform: the database must be free for others.
    assert _another_writer_gets_through(engine.url.database)
    worker.join(15)
    slow.latency_ms = 0
    c.__exit__(None, None, None)
    assert answers and answers[0] < 500


def test_an_oauth_sign_in_holds_no_lock_while_the_platform_answers(world, engine, slow,
                                                                    make_client):
    """Registering the app, exchanging the code and checking the new token are three calls;
    while the fake answers each, a write on another connection must not wait at all."""
    from urllib.parse import urlsplit

    import requests

    if engine.dialect.name != "sqlite":
        pytest.skip("the one write lock is SQLite's; PostgreSQL locks rows")
    slow.reset()
    writes: list[tuple[str, bool]] = []
    slow.on_request = lambda req: writes.append(
        (req.path, _another_writer_gets_through(engine.url.database, timeout=0)))
    c = make_client("manager@acme.test")
    r = c.post(f"/w/{world.slug}/accounts/oauth/mastodon",
               data={"api_base": slow.base_url,
                     "csrf_token": page_csrf(c, f"/w/{world.slug}/accounts")},
               follow_redirects=False)
    assert r.status_code == 303, r.text
    consent = requests.get(r.headers["location"], allow_redirects=False, timeout=5)
    callback = urlsplit(consent.headers["Location"])
    r = c.get(f"{callback.path}?{callback.query}", follow_redirects=False)
    slow.on_request = None
    assert r.status_code == 303 and "Connected" in r.headers["location"]
    paths = [path for path, _ in writes]
    assert "/api/v1/apps" in paths and "/oauth/token" in paths
    assert "/api/v1/accounts/verify_credentials" in paths
    assert all(ok for _, ok in writes), writes
