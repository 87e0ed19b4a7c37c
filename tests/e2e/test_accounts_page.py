"""The Accounts page in real Chromium: connect an account against a fake platform, test the
connection (and see a platform outage leave it connected), pause it and resume it."""

import uuid
from collections.abc import Iterator

import pytest
from browserhelpers import log_in

from publishers.fakes import FakePlatform

ACCOUNTS = "/w/juniper-coffee-roasters/accounts"


@pytest.fixture(scope="module")
def fake() -> Iterator[FakePlatform]:
    """A fake Mastodon instance on loopback that the server process connects to."""
    platform = FakePlatform(mastodon_max_characters=640)
    platform.start()
    yield platform
    platform.stop()


def test_connect_test_pause_and_resume_an_account(page, server, fake):
    handle = f"@e2e-{uuid.uuid4().hex[:6]}@fake.social"
    log_in(page, server)
    page.click("nav.mainnav a:has-text('Accounts')")
    page.wait_for_url(f"{server}{ACCOUNTS}")

    form = page.locator("form#connect")
    assert form.locator("select[name=platform]").input_value() == "mastodon"
    form.locator("input[name=handle]").fill(handle)
    form.locator("input[name=api_base]").fill(fake.base_url)
    form.locator("input[name=cred_access_token]").fill("fake-token")
    form.locator("button:has-text('Check and connect')").click()
    page.wait_for_selector(f"p.notice:has-text('Connected {handle}')")

    row = page.locator("tr", has_text=handle)
    row_id = row.get_attribute("id")
    row = page.locator(f"tr#{row_id}")
    assert row.locator("[data-account-status]").inner_text() == "connected"
    assert "640 characters" in row.inner_text()  # the instance's own limit was read
    assert ("GET", "/api/v1/accounts/verify_credentials") in [r[:2] for r in fake.requests]

    row.locator("button:has-text('Test connection')").click()
    page.wait_for_selector(f"tr#{row_id} [role=status]:has-text('Connected as Poise Demo')")

    # The platform has a bad moment: the test says so, the account stays connected.
    fake.inject("read", "5xx_before_create", platform="mastodon")
    row.locator("button:has-text('Test connection')").click()
    message = page.locator(f"tr#{row_id} [role=status]:has-text('Could not reach Mastodon')")
    message.wait_for()
    assert "stays connected" in message.inner_text()
    assert row.locator("[data-account-status]").inner_text() == "connected"

    row.locator("button:has-text('Pause')").click()
    page.wait_for_selector(f"tr#{row_id} [role=status]:has-text('Paused')")
    assert row.locator("[data-account-status]").inner_text() == "paused"
    assert row.locator("button:has-text('Pause')").count() == 0

    row.locator("button:has-text('Resume')").click()
    page.wait_for_selector(f"tr#{row_id} [role=status]:has-text('Resumed')")
    assert row.locator("[data-account-status]").inner_text() == "connected"

    page.reload()  # what was saved, not just what was swapped in
    assert page.locator(f"tr#{row_id} [data-account-status]").inner_text() == "connected"
