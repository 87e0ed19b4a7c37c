"""The sandbox's post pages (what a demo's "view the live post" link opens) and where Poise
links a post published to a loopback sandbox: there, never to a real platform's address."""

from __future__ import annotations

from urllib.parse import urlsplit

import pytest
import requests

from planner.accounts import live_post_url
from planner.models import Account
from publishers import get_publisher
from publishers.base import Content, PublishContext
from sandbox import FakePlatform
from sandbox.viewer import Shown

TEXT = "Cold brew <tonic> & friends\nsecond line"


@pytest.mark.parametrize("platform", ["x", "mastodon", "bluesky", "linkedin", "facebook",
                                      "threads"])
def test_a_post_sent_through_an_api_has_a_page(fake: FakePlatform, account, platform) -> None:
    ref = account(platform)
    result = get_publisher(platform).publish(
        Content(text=TEXT), ref, PublishContext(idempotency_key=f"v-{platform}",
                                                fingerprint="f"))
    row = Account(workspace_id=1, platform=platform, handle=ref.handle, api_base=ref.api_base)
    link = live_post_url(row, result.remote_id, result.url)
    # The adapter's own address names a real platform (x.com, bsky.app ...) or the instance;
    # the link names the sandbox that holds the post.
    assert urlsplit(link).netloc == urlsplit(fake.base_url).netloc
    assert urlsplit(link).path.startswith(f"/view/{platform}/")
    page = requests.get(link, timeout=10)
    assert page.status_code == 200 and page.headers["Content-Type"].startswith("text/html")
    assert "Cold brew &lt;tonic&gt; &amp; friends" in page.text  # escaped, never markup
    assert "<tonic>" not in page.text
    assert "Received through the fake" in page.text
    assert "default-src 'none'" in page.headers["Content-Security-Policy"]


def test_seeded_posts_are_shown_marked_and_unknown_ones_are_a_404(fake: FakePlatform) -> None:
    fake.show([Shown(platform="x", remote_id="demo-7-3", handle="@junipercoffee",
                     text="Limited drop", at=1_764_000_000.0)])
    page = requests.get(f"{fake.base_url}/view/x/demo-7-3", timeout=10)
    assert page.status_code == 200 and "Limited drop" in page.text
    assert "Seeded by the demo as history" in page.text
    # Not readable through the API: it was never sent there.
    assert requests.get(f"{fake.base_url}/view/mastodon/demo-7-3", timeout=10).status_code == 404
    missing = requests.get(f"{fake.base_url}/view/x/999", timeout=10)
    assert missing.status_code == 404 and "Not on the sandbox" in missing.text
    fake.reset()
    assert requests.get(f"{fake.base_url}/view/x/demo-7-3", timeout=10).status_code == 404


def test_accounts_elsewhere_link_to_the_platform_when_it_is_safe() -> None:
    real = Account(workspace_id=1, platform="x", handle="@brand", api_base="")
    assert live_post_url(real, "1", "https://x.com/brand/status/1") == \
        "https://x.com/brand/status/1"
    assert live_post_url(real, "1", "javascript:alert(1)") == ""
    assert live_post_url(None, "1", "http://evil.example/post") == ""  # plain http: no
    sandboxed = Account(workspace_id=1, platform="x", handle="@brand",
                        api_base="http://127.0.0.1:8009")
    assert live_post_url(sandboxed, "", "") == ""  # not sent yet
    # Marked published by a person (no remote id): the address they gave is their word.
    assert live_post_url(sandboxed, "", "https://x.com/brand/status/1") == \
        "https://x.com/brand/status/1"
    assert live_post_url(sandboxed, "at://did/x/1", "") == \
        "http://127.0.0.1:8009/view/x/at%3A%2F%2Fdid%2Fx%2F1"
    hook = Account(workspace_id=1, platform="webhook", handle="hook",
                   api_base="http://127.0.0.1:8009/webhook/hook")
    assert live_post_url(hook, "wh_1", "") == ""  # a webhook post has no page anywhere
