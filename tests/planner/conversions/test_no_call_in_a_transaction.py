"""No platform is called while Poise holds a write transaction (issue 13).

The fake platform, while it handles each request, writes on another SQLite connection with a
busy timeout of 0: that write fails at once if Poise is holding the write lock while it
waits for the platform. Auto-replies (Meta webhook, X DM poll) are the calls checked here;
connecting and testing accounts are checked in ``tests/planner/accounts/test_nobody_waits.py``.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import sqlite3
import time

import pytest
from sqlmodel import select

from planner.accounts import encrypt_credentials
from planner.conversions import dm_poll, inbox, webhooks
from planner.db import session_scope
from planner.models import Account, Post
from planner.models_conversions import Message
from sandbox import INSTAGRAM_USER_ID, X_USER_ID, FakePlatform

APP_SECRET = "meta-app-secret"
TOKEN = "fake-token"  # noqa: S105 - the fake platform's test credential


@pytest.fixture
def platform(engine):
    if engine.dialect.name != "sqlite":
        pytest.skip("the one write lock is SQLite's; PostgreSQL locks rows")
    fake = FakePlatform()
    fake.start()
    writes: list[tuple[str, bool]] = []

    def write_elsewhere(req) -> None:
        conn = sqlite3.connect(engine.url.database, timeout=0, isolation_level=None)
        try:
            conn.execute("BEGIN IMMEDIATE")
            conn.execute("UPDATE workspace SET utm_campaign = utm_campaign")
            conn.execute("COMMIT")
            writes.append((req.path, True))
        except sqlite3.OperationalError:
            writes.append((req.path, False))
        finally:
            conn.close()

    fake.on_request = write_elsewhere
    fake.writes = writes
    yield fake
    fake.stop()


def _point_at(engine, conv, platform, account: str, external_id: str) -> None:
    with session_scope(engine) as s:
        acct = s.get(Account, getattr(conv, account))
        acct.api_base = platform.base_url
        acct.external_id = external_id
        acct.credentials_enc = encrypt_credentials({"access_token": TOKEN})
        inbox.set_auto_reply(session=s, post=s.get(Post, conv.p_try), enabled=True)


def _auto_replies(engine) -> list[Message]:
    with session_scope(engine) as s:
        return list(s.exec(select(Message).where(Message.kind == "auto")))


def test_an_x_dm_poll_and_its_auto_reply_hold_no_lock_while_x_answers(engine, conv,
                                                                        platform):
    _point_at(engine, conv, platform, "x", X_USER_ID)
    platform.x_incoming_dm("555", "GLOW please")
    assert dm_poll.poll_account(engine, conv.x) == 1
    paths = [path for path, _ in platform.writes]
    assert "/2/dm_events" in paths and "/2/dm_conversations/with/555/messages" in paths
    assert all(ok for _, ok in platform.writes), platform.writes
    [auto] = _auto_replies(engine)
    assert auto.delivery == "sent" and auto.remote_id and "/r/" in auto.text


def test_a_meta_webhook_auto_reply_holds_no_lock_while_meta_answers(engine, conv, platform,
                                                                     client):
    _point_at(engine, conv, platform, "ig", INSTAGRAM_USER_ID)
    with session_scope(engine) as s:
        webhooks.set_meta(session=s, workspace_id=conv.workspace_id, verify_token="t",
                          app_secret=APP_SECRET)
    event = {"sender": {"id": "IGSID-5"}, "recipient": {"id": INSTAGRAM_USER_ID},
             "timestamp": int(time.time() * 1000), "message": {"mid": "m_9", "text": "GLOW"}}
    body = json.dumps({"object": "instagram",
                       "entry": [{"id": INSTAGRAM_USER_ID, "time": 1, "messaging": [event]}]})
    digest = hmac.new(APP_SECRET.encode(), body.encode(), hashlib.sha256).hexdigest()
    r = client.post(f"/hooks/{conv.slug}/meta", content=body, headers={
        "content-type": "application/json", "x-hub-signature-256": f"sha256={digest}"})
    assert r.status_code == 200 and r.json() == {"received": 1}
    assert platform.writes and all(ok for _, ok in platform.writes), platform.writes
    [auto] = _auto_replies(engine)
    assert auto.delivery == "sent", auto.error
    [sent] = platform.sent_messages()
    assert sent["to"] == "IGSID-5" and "/r/" in sent["text"]
