"""A brand team grows from the web (issue 13), in real Chromium: an admin invites a brand lead
in Settings -> Members, a fresh browser opens the link on a phone, creates the account and
lands in the workspace as brand lead; then that person changes their password and their
other browser is logged out."""

from __future__ import annotations

import re

import pytest
from browserhelpers import log_in
from playwright.sync_api import expect

from tests.e2e.conftest import start_server, stop_server

WS = "juniper-coffee-roasters"
PHONE = {"timezone_id": "Europe/Warsaw", "viewport": {"width": 390, "height": 844},
         "device_scale_factor": 2, "is_mobile": True, "has_touch": True}
DESK = {"timezone_id": "Europe/Warsaw", "viewport": {"width": 1366, "height": 900}}
FIRST_PASSWORD = "first password 2026"
SECOND_PASSWORD = "second password 2026"


@pytest.fixture(scope="module")
def own_server(tmp_path_factory):
    """Its own demo server: this test adds a member, which other tests must not see."""
    proc, base = start_server(tmp_path_factory.mktemp("e2e-invitations"))
    yield base
    stop_server(proc)


def _fits(page) -> None:
    assert page.evaluate("document.documentElement.scrollWidth") <= 390


def test_invite_accept_and_change_password(browser, own_server):
    base = own_server
    admin_context = browser.new_context(**DESK)
    admin_context.set_default_timeout(15_000)
    admin = admin_context.new_page()
    log_in(admin, base, "admin@poise.local")
    admin.goto(f"{base}/w/{WS}/settings#members")
    members = admin.locator("#members")
    members.locator("input[name=email]").fill("Nadia@Brand.Example")
    members.locator("select[name=role]").select_option("brand_lead")
    members.locator("button:has-text('Invite')").click()
    expect(admin.locator("#invite-result")).to_contain_text("works once, for 7 days")
    link = admin.locator("#invite-link").input_value()
    assert link.startswith(f"{base}/invite/")
    expect(admin.locator("#pending-invitations")).to_contain_text("nadia@brand.example")

    # A fresh browser on a phone: no login, just the link.
    phone_context = browser.new_context(**PHONE)
    phone_context.set_default_timeout(15_000)
    phone = phone_context.new_page()
    phone.goto(link)
    expect(phone.locator("h1")).to_contain_text("Join Juniper")
    expect(phone.locator("#invite-role")).to_have_text("brand lead")
    _fits(phone)
    phone.fill("input[name=name]", "Nadia")
    phone.fill("input[name=password]", FIRST_PASSWORD)
    phone.fill("input[name=repeat]", FIRST_PASSWORD + "x")
    phone.click("button:has-text('Create account and join')")
    expect(phone.locator("#err-repeat")).to_be_visible()
    phone.fill("input[name=password]", FIRST_PASSWORD)
    phone.fill("input[name=repeat]", FIRST_PASSWORD)
    phone.click("button:has-text('Create account and join')")
    phone.wait_for_url(f"{base}/w/{WS}/calendar")
    expect(phone.locator(".username")).to_contain_text("brand lead")

    # The link worked once.
    admin.goto(link)
    expect(admin.locator("#invitation-invalid")).to_contain_text("no longer valid")
    admin.goto(f"{base}/w/{WS}/settings#members")
    expect(admin.locator("#members table").first).to_contain_text("nadia@brand.example")
    expect(admin.locator("#pending-invitations")).not_to_contain_text("nadia@brand.example")

    # Nadia also logs in on a laptop; changing the password on the phone ends that login.
    laptop_context = browser.new_context(**DESK)
    laptop_context.set_default_timeout(15_000)
    laptop = laptop_context.new_page()
    log_in(laptop, base, "nadia@brand.example", FIRST_PASSWORD)
    phone.goto(f"{base}/w/{WS}/settings")
    account = phone.locator("#account")
    account.locator("input[name=current_password]").fill("not my password")
    account.locator("input[name=new_password]").fill(SECOND_PASSWORD)
    account.locator("input[name=repeat_password]").fill(SECOND_PASSWORD)
    account.locator("button:has-text('Change password')").click()
    expect(phone.locator("#err-current-password")).to_contain_text("not your current password")
    account = phone.locator("#account")
    account.locator("input[name=current_password]").fill(FIRST_PASSWORD)
    account.locator("input[name=new_password]").fill(SECOND_PASSWORD)
    account.locator("input[name=repeat_password]").fill(SECOND_PASSWORD)
    account.locator("button:has-text('Change password')").click()
    expect(phone.locator("#password-changed")).to_contain_text("1 other login ended")
    _fits(phone)
    laptop.goto(f"{base}/w/{WS}/calendar")
    expect(laptop).to_have_url(re.compile(rf"^{re.escape(base)}/login\?"))
    expect(laptop.locator("input[name=password]")).to_be_visible()
    phone.goto(f"{base}/w/{WS}/calendar")  # the phone that changed it stays logged in
    expect(phone).to_have_url(f"{base}/w/{WS}/calendar")
    log_in(laptop, base, "nadia@brand.example", SECOND_PASSWORD)
    for context in (admin_context, phone_context, laptop_context):
        context.close()
