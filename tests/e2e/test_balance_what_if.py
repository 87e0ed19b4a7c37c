"""The Balance page's what-if in real Chromium, on a phone (390 px) and a laptop (1366 px):
pick an account, a value and a count; the answer replaces the what-if in place (htmx), the
page does not navigate, and nothing scrolls sideways."""

import sqlite3

import pytest
from browserhelpers import log_in, seed_published, start_server, stop_server
from playwright.sync_api import expect

WS = "juniper-coffee-roasters"
HANDLE = "@juniper@coffee.social"


@pytest.fixture(scope="module")
def what_if_server(tmp_path_factory, browser):
    """A demo server whose Mastodon account has Try 10 of its last 20 posts (overweight)."""
    var = tmp_path_factory.mktemp("what-if-var")
    proc, base = start_server(var)
    db = sqlite3.connect(var / "poise.db")
    account_id = db.execute("SELECT id FROM account WHERE handle = ?", (HANDLE,)).fetchone()[0]
    db.execute("DELETE FROM publication WHERE account_id = ?", (account_id,))
    seed_published(db, account_id, (10, 4, 3, 3), "what-if")  # Try 10 of 20
    db.commit()
    db.close()
    yield base
    stop_server(proc)


@pytest.mark.parametrize("width", [390, 1366])
def test_the_what_if_answers_in_place(browser, what_if_server, width):
    context = browser.new_context(viewport={"width": width, "height": 900},
                                  timezone_id="Europe/Warsaw")
    context.set_default_timeout(15_000)
    page = context.new_page()
    log_in(page, what_if_server, "lead@poise.local")
    url = f"{what_if_server}/w/{WS}/balance"
    page.goto(url)
    card = page.locator("article.balance-card", has_text=HANDLE)
    expect(card).to_have_attribute("data-status", "overweight")
    section = page.locator("#what-if")
    section.scroll_into_view_if_needed()
    section.locator("select[name=account]").select_option(label=HANDLE)
    section.locator("select[name=value]").select_option("care")
    summary = page.locator("#what-if .what-if-summary")
    # One more Care post pushes the oldest (a Try) out: Try 9 of 20 is still overweight.
    expect(summary).to_have_text(
        f"One more Care for others post on {HANDLE}: no warning appears or clears.")
    page.locator("#what-if input[name=count]").fill("2")
    page.locator("#what-if button[type=submit]").click()
    expect(summary).to_have_text(f"Two more Care for others posts on {HANDLE}: the Try new "
                                 "things overweight warning clears.")
    table = page.locator("#what-if .what-if-table")
    expect(table.locator("tr.q-try")).to_contain_text("10 of 20")
    expect(table.locator("tr.q-try")).to_contain_text("8 of 20")
    expect(page.locator("#what-if figure.compass-figure svg")).to_be_visible()
    assert page.url == url  # answered in place: no navigation, the page's state kept
    # The account's own card still shows the balance as it is: nothing was saved.
    expect(card).to_have_attribute("data-status", "overweight")
    # A count out of range is stopped at the field by the browser (the server refuses it
    # too, at the field: tests/planner/balance/test_what_if_page.py), the last answer stays.
    page.locator("#what-if input[name=count]").fill("40")
    page.locator("#what-if button[type=submit]").click()
    expect(page.locator("#what-if input[name=count]:invalid")).to_have_count(1)
    expect(summary).to_contain_text("Two more Care for others posts")
    wide = page.evaluate("""() => [...document.querySelectorAll('body *')]
        .filter(e => e.getBoundingClientRect().right > window.innerWidth + 1)
        .slice(0, 5).map(e => e.tagName + '.' + e.className)""")
    assert page.evaluate("() => document.documentElement.scrollWidth <= window.innerWidth + 1"), \
        f"the Balance page scrolls sideways at {width} px: {wide}"
    context.close()
