"""The team sees its day, in real Chromium (issue 14): notifications and count badges across
two people, an e-mail arriving at a local SMTP server, the calendar and Review at 390 px
without sideways scrolling, and /api/docs rendering with the network off."""

from __future__ import annotations

import time
from datetime import date, timedelta

import pytest
from browserhelpers import log_in
from smtpinbox import smtp_inbox

from tests.e2e.conftest import start_server, stop_server

WS = "juniper-coffee-roasters"
PHONE = {"timezone_id": "Europe/Warsaw", "viewport": {"width": 390, "height": 844},
         "device_scale_factor": 2, "is_mobile": True, "has_touch": True}
DESK = {"timezone_id": "Europe/Warsaw", "viewport": {"width": 1366, "height": 900}}


@pytest.fixture(scope="module")
def smtp():
    with smtp_inbox() as inbox:
        yield inbox


@pytest.fixture(scope="module")
def mail_server(tmp_path_factory, smtp):
    """Its own server with a worker (the worker sends the e-mails) and the local SMTP server."""
    url, received = smtp
    var_dir = tmp_path_factory.mktemp("e2e-team-day")
    proc, base = start_server(var_dir, worker=True, extra_env={"POISE_SMTP_URL": url})
    yield base, received
    stop_server(proc)


def _subject(message) -> str:
    from email.header import decode_header, make_header

    return str(make_header(decode_header(str(message["Subject"]))))


def _badge(page, path):
    badge = page.locator(f"nav.mainnav a[href$='/{path}'] .badge")
    return int(badge.inner_text()) if badge.count() else 0


def _write_and_submit(page, base, text):
    day = date.today() + timedelta(days=20)
    page.goto(f"{base}/w/{WS}/posts/new")
    page.fill("textarea[name=text]", text)
    page.check("label:has-text('@juniper@coffee.social') input[name=account_ids]")
    page.check("input[name=tags][value=learn]")
    page.fill("input[name=scheduled_local]", f"{day.isoformat()}T10:30")
    page.click("button[name=action][value=submit]")
    page.wait_for_url("**/posts/*?saved=1")


def test_notifications_badges_and_email_across_two_people(browser, mail_server):
    base, received = mail_server
    lead = browser.new_context(**DESK).new_page()
    log_in(lead, base, "lead@poise.local")
    # the lead asks for e-mail
    lead.goto(f"{base}/w/{WS}/notifications")
    lead.check("input[name=email_notifications]")
    lead.click("#email-preference button[type=submit]")
    lead.wait_for_url("**/notifications?saved=1")
    assert lead.is_checked("input[name=email_notifications]")
    review_before = _badge(lead, "review")
    unread_before = _badge(lead, "notifications")

    manager = browser.new_context(**DESK).new_page()
    log_in(manager, base, "manager@poise.local")
    text = "E2E team day: a slow Sunday pour-over, step by step"
    _write_and_submit(manager, base, text)

    lead.goto(f"{base}/w/{WS}/calendar")
    assert _badge(lead, "review") == review_before + 1
    assert _badge(lead, "notifications") == unread_before + 1
    lead.goto(f"{base}/w/{WS}/notifications")
    item = lead.locator("li.notification.unread", has_text="E2E team day").first
    assert "Max Manager sent" in item.inner_text()

    # the e-mail arrives at the local SMTP server (the worker sends every few seconds)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and not any(
            "E2E team day" in _subject(m) for m in received):
        time.sleep(0.5)
    mine = [m for m in received if "E2E team day" in _subject(m)]
    assert [m["To"] for m in mine] == ["lead@poise.local"]
    assert f"/w/{WS}/review" in mine[0].get_payload(decode=True).decode()
    # The worker marks the notification sent once the SMTP call returns, a moment after the
    # server has the message: look again for a few seconds rather than race it.
    deadline = time.monotonic() + 10
    while True:
        lead.reload()
        sent_note = lead.locator("li.notification", has_text="E2E team day").first
        if "e-mail sent" in sent_note.inner_text() or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    assert "e-mail sent" in sent_note.inner_text()

    # the lead reads it: their badge drops, nobody else's read state changes
    item = lead.locator("li.notification.unread", has_text="E2E team day").first
    item.locator("button:has-text('Mark read')").click()
    lead.wait_for_selector("li.notification.read:has-text('E2E team day')")
    lead.goto(f"{base}/w/{WS}/calendar")
    assert _badge(lead, "notifications") == unread_before

    admin = browser.new_context(**DESK).new_page()
    log_in(admin, base, "admin@poise.local")
    admin.goto(f"{base}/w/{WS}/notifications")
    assert admin.locator("li.notification.unread", has_text="E2E team day").count() == 1

    # the lead asks for changes mentioning the admin: the author and the admin hear of it
    lead.goto(f"{base}/w/{WS}/review")
    card = lead.locator("article.review-item", has_text=text)
    card.locator("input[name=comment]").fill("Add the grind size, @ada can you check?")
    card.locator("button:has-text('Request changes')").click()
    lead.wait_for_selector(f"article.review-item:has-text('{text}') >> text=Sent back")
    manager.goto(f"{base}/w/{WS}/notifications")
    note = manager.locator("li.notification.unread", has_text="asked for changes").first
    assert "Add the grind size" in note.inner_text()
    assert _badge(manager, "notifications") >= 1
    note.locator("a:has-text('Open')").click()
    manager.wait_for_url("**/posts/*")
    admin.goto(f"{base}/w/{WS}/notifications")
    assert admin.locator("li.notification.unread", has_text="mentioned you").count() == 1


def _no_sideways_scroll(page):
    return page.evaluate(
        "() => document.documentElement.scrollWidth <= window.innerWidth + 1")


@pytest.mark.parametrize("path", ["calendar", "review", "balance", "publishing",
                                  "notifications", "inbox", "attribution", "accounts",
                                  "settings", "posts/new"])
def test_pages_fit_a_phone(browser, server, path, tmp_path):
    page = browser.new_context(**PHONE).new_page()
    log_in(page, server, "lead@poise.local")
    page.goto(f"{server}/w/{WS}/{path}")
    wide = page.evaluate("""() => [...document.querySelectorAll('body *')]
        .filter(e => e.getBoundingClientRect().right > window.innerWidth + 1)
        .slice(0, 5).map(e => e.tagName + '.' + e.className)""")
    assert _no_sideways_scroll(page), f"{path} scrolls sideways at 390 px: {wide}"


def test_calendar_is_an_agenda_on_a_phone(browser, server):
    page = browser.new_context(**PHONE).new_page()
    log_in(page, server, "lead@poise.local")
    page.goto(f"{server}/w/{WS}/calendar")
    assert not page.locator(".cal-grid .dow").first.is_visible()  # no weekday columns
    days = page.locator(".cal-grid .day:not(.empty):not(.other)")
    assert days.count() >= 1 and days.first.locator(".agenda-label").is_visible()
    assert page.locator(".cal-grid .day.empty").count() > 0
    assert not page.locator(".cal-grid .day.empty").first.is_visible()
    box = days.first.bounding_box()
    assert box["width"] > 300  # a day is a full-width box, not a seventh of the screen


def test_api_docs_render_with_the_network_off(browser, server):
    context = browser.new_context(**DESK)
    blocked: list[str] = []

    def route(route):
        url = route.request.url
        if url.startswith(("http://127.0.0.1", "http://localhost")):
            return route.continue_()
        blocked.append(url)
        return route.abort()

    context.route("**/*", route)
    page = context.new_page()
    page.goto(f"{server}/api/docs")
    page.wait_for_selector(".swagger-ui .info .title")
    assert "Poise" in page.locator(".swagger-ui .info .title").inner_text()
    page.wait_for_selector(".opblock-tag")
    assert page.locator(".opblock").count() > 5
    assert blocked == []
    context.close()
