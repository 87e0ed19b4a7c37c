"""The Accounts page in real Chromium: connect an account against a fake platform, test the
connection (and see a platform outage leave it connected), pause it and resume it; give it a
WhatsApp number; sign in again to an account that needs reconnecting without a duplicate."""

import uuid
from collections.abc import Iterator

import pytest
from browserhelpers import log_in

from sandbox import FakePlatform

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


@pytest.fixture
def own_fake() -> Iterator[FakePlatform]:
    """A fake instance of its own: accounts are matched by instance and id when connected."""
    platform = FakePlatform()
    platform.start()
    yield platform
    platform.stop()


def test_whatsapp_number_and_signing_in_again_after_a_refusal(page, server, own_fake):
    handle = f"@wa-{uuid.uuid4().hex[:6]}@fake.social"
    log_in(page, server)
    page.goto(f"{server}{ACCOUNTS}")
    form = page.locator("form#connect")
    form.locator("input[name=handle]").fill(handle)
    form.locator("input[name=api_base]").fill(own_fake.base_url)
    form.locator("input[name=cred_access_token]").fill("fake-token")
    form.locator("button:has-text('Check and connect')").click()
    page.wait_for_selector(f"p.notice:has-text('Connected {handle}')")
    row_id = page.locator("tr", has_text=handle).get_attribute("id")
    row = page.locator(f"tr#{row_id}")

    # A national number is refused at the field, and what was typed stays there.
    row.locator("details.whatsapp summary").click()
    row.locator("input[name=whatsapp_number]").fill("0600 100 200")
    row.locator("button:has-text('Save number')").click()
    error = page.locator(f"tr#{row_id} .field-error")
    error.wait_for()
    assert "international format" in error.inner_text()
    field = row.locator("input[name=whatsapp_number]")
    assert field.get_attribute("aria-invalid") == "true"
    assert field.input_value() == "0600 100 200"
    field.fill("+48 600 100 200")
    row.locator("button:has-text('Save number')").click()
    page.wait_for_selector(f"tr#{row_id} [role=status]:has-text('WhatsApp number saved')")
    assert row.locator("[data-whatsapp-number]").inner_text() == "+48600100200"

    # The platform refuses the token: the row asks for a reconnect and offers to sign in.
    own_fake.inject("read", "401", platform="mastodon")
    row.locator("button:has-text('Test connection')").click()
    page.wait_for_selector(f"tr#{row_id} [data-account-status]:has-text('needs reconnect')")
    rows_before = page.locator("table.accounts tbody tr").count()
    row.locator("button:has-text('Sign in again with Mastodon')").click()
    page.wait_for_selector("p.notice:has-text('Reconnected')")

    page.reload()  # what was saved
    assert page.locator("table.accounts tbody tr").count() == rows_before
    assert page.locator("tr", has_text=handle).count() == 1
    row = page.locator(f"tr#{row_id}")
    assert row.locator("[data-account-status]").inner_text() == "connected"
    assert row.locator("[data-whatsapp-number]").inner_text() == "+48600100200"
