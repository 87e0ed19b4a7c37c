"""The Balance page in real Chromium: the worked examples show, with a labelled SVG compass."""

import os
import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from browserhelpers import log_in, seed_published, start_server, stop_server

WORKED = {"@juniper@coffee.social": (10, 4, 3, 3), "juniper.bsky.social": (6, 5, 5, 4),
          "@junipercoffee": (8, 6, 6, 0)}


@pytest.fixture(scope="module")
def balance_server(tmp_path_factory, browser):
    """A demo server whose first three accounts carry DOMAIN.md's worked examples."""
    var = tmp_path_factory.mktemp("balance-var")
    proc, base = start_server(var)
    db = sqlite3.connect(var / "poise.db")
    ids = dict(db.execute("SELECT handle, id FROM account"))
    db.execute("DELETE FROM publication")
    for handle, counts in WORKED.items():
        seed_published(db, ids[handle], counts, f"worked {handle}")
    db.commit()
    db.close()
    yield base
    stop_server(proc)


def test_worked_examples_on_the_balance_page(browser, balance_server, tmp_path):
    page = browser.new_page(viewport={"width": 1400, "height": 1600})
    log_in(page, balance_server, "lead@poise.local")
    page.goto(f"{balance_server}/w/juniper-coffee-roasters/balance")
    expectations = {"@juniper@coffee.social": ("overweight", "Try new things is overweight"),
                    "juniper.bsky.social": ("balanced", "spread evenly over all four values"),
                    "@junipercoffee": ("missing", "Learn new things is missing")}
    for handle, (status, words) in expectations.items():
        card = page.locator("article.balance-card", has_text=handle)
        assert card.get_attribute("data-status") == status
        assert words in card.locator(".verdicts").inner_text()
        svg = card.locator("figure.compass-figure svg")
        assert svg.get_attribute("role") == "img"
        assert len(svg.get_attribute("aria-label") or "") > 20  # says the verdict in words
        assert handle in svg.evaluate("e => e.querySelector('title').textContent")
        labels = svg.locator("text").all_text_contents()
        assert any("Try" in t for t in labels) and any("Learn" in t for t in labels)
        box = svg.bounding_box()
        assert box and box["width"] > 100 and box["height"] > 100  # drawn, not collapsed
    shot = tmp_path / "balance.png"
    if os.environ.get("POISE_KEEP_SCREENSHOTS"):
        shot = Path(os.environ["POISE_KEEP_SCREENSHOTS"]) / "balance.png"
    page.screenshot(path=str(shot), full_page=True)
    assert shot.stat().st_size > 20_000  # a rendered page, not a blank one
    page.close()


def test_filters_and_account_settings_in_the_browser(browser, balance_server):
    page = browser.new_page(viewport={"width": 1400, "height": 1600})
    log_in(page, balance_server, "lead@poise.local")
    page.goto(f"{balance_server}/w/juniper-coffee-roasters/balance")
    card = page.locator("article.balance-card", has_text="@juniper@coffee.social")
    assert "Counted 20 posts" in card.locator(".window-used").inner_text()

    # The window filter swaps the cards in place and keeps the choice in the URL.
    page.select_option("select[name=window]", "10")
    page.wait_for_url("**window=10**")
    card = page.locator("article.balance-card", has_text="@juniper@coffee.social")
    assert "Counted 10 posts" in card.locator(".window-used").inner_text()
    assert page.locator("select[name=window]").input_value() == "10"

    # A date range: every post in those days (the worked examples are one a day).
    page.select_option("select[name=window]", "")
    page.wait_for_url(lambda url: "window=10" not in url)
    first = (datetime.now(UTC) - timedelta(days=40)).date()
    page.fill("input[name=from]", first.isoformat())
    page.locator("input[name=from]").dispatch_event("change")
    card = page.locator("article.balance-card", has_text="@juniper@coffee.social")
    card.locator(".window-used").filter(has_text="every post from").wait_for()
    last = (first + timedelta(days=4)).isoformat()
    page.fill("input[name=to]", last)
    page.locator("input[name=to]").dispatch_event("change")
    page.wait_for_url(f"**to={last}**")
    card = page.locator("article.balance-card", has_text="@juniper@coffee.social")
    card.locator(".window-used").filter(has_text=f"to {last}").wait_for()
    counted = card.locator(".window-used").inner_text()
    assert "Counted 5 posts" in counted or "Counted 4 posts" in counted  # zone edges
    page.goto(f"{balance_server}/w/juniper-coffee-roasters/balance")

    # The account's own settings: an error shows at the field, then a valid window saves.
    # (Out-of-range numbers are stopped by the browser; a mix over 100% only by the server.)
    card = page.locator("article.balance-card", has_text="@junipercoffee")
    card.locator("details.account-settings summary").click()
    for quadrant, share in (("try", "50"), ("share", "20"), ("care", "20"), ("learn", "20")):
        card.locator(f"details.account-settings input[name=target_{quadrant}]").fill(share)
    card.locator("details.account-settings button[type=submit]").click()
    card = page.locator("article.balance-card", has_text="@junipercoffee")
    error = card.locator(".field-error", has_text="must add up to 100% (now 110%)")
    error.wait_for()
    field = card.locator("input[name=target_try]")
    assert field.get_attribute("aria-invalid") == "true"
    assert field.get_attribute("aria-describedby") == error.get_attribute("id")
    card.locator("input[name=target_try]").fill("40")
    card.locator("input[name=window]").fill("12")
    card.locator("details.account-settings button[type=submit]").click()
    card = page.locator("article.balance-card", has_text="@junipercoffee")
    card.locator("p.notice", has_text="Saved.").wait_for()
    assert "Counted 12 posts" in card.locator(".window-used").inner_text()
    assert "this account's setting" in card.locator(".window-used").inner_text()
    page.close()
