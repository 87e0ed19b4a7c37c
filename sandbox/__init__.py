"""A loopback fake of every platform's HTTP API, for tests, benchmarks and the demo.

    fake = FakePlatform()
    base = fake.start()
    account = fake_account("mastodon", base)
    ...
    fake.inject("create", "create_then_timeout", platform="mastodon")
    fake.creates  # every post created, with its headers and parsed body
    fake.stop()
"""

from __future__ import annotations

from publishers.base import AccountRef
from sandbox.core import KINDS, OPS, Create, FakeRequest, FakeResponse
from sandbox.oauth import INSTAGRAM_USER_ID, META_PAGE_ID, THREADS_USER_ID
from sandbox.platform import (
    MASTODON_ACCOUNT_ID,
    WEBHOOK_SECRET,
    X_CLIENT_ID,
    X_REFRESH_TOKEN,
    X_USER_ID,
    FakePlatform,
    credentials_for,
)

EXTERNAL_IDS = {
    "x": X_USER_ID,
    "mastodon": MASTODON_ACCOUNT_ID,
    "bluesky": "",
    "linkedin": "urn:li:person:fake-member",
    "facebook": META_PAGE_ID,
    "instagram": INSTAGRAM_USER_ID,
    "threads": THREADS_USER_ID,
    "webhook": "",
}


def fake_account(platform: str, base_url: str, *, handle: str = "poise.test",
                 **credentials: str) -> AccountRef:
    """An AccountRef pointing at a running FakePlatform, with credentials it accepts."""
    api_base = f"{base_url}/webhook/{handle}" if platform == "webhook" else base_url
    return AccountRef(platform=platform, handle=handle, api_base=api_base,
                      credentials={**credentials_for(platform, handle), **credentials},
                      external_id=EXTERNAL_IDS[platform])


__all__ = [
    "EXTERNAL_IDS", "INSTAGRAM_USER_ID", "KINDS", "META_PAGE_ID", "OPS", "THREADS_USER_ID",
    "WEBHOOK_SECRET", "X_CLIENT_ID", "X_REFRESH_TOKEN", "X_USER_ID",
    "Create", "FakePlatform", "FakeRequest", "FakeResponse", "credentials_for", "fake_account",
]
