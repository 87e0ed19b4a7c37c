"""The planner's main journey in real Chromium, as two people."""

from datetime import date, timedelta

from browserhelpers import log_in
from playwright.sync_api import expect

# Tall enough that a month grid fits: drag targets must be on screen, as for a person.
TALL = {"timezone_id": "Europe/Warsaw", "viewport": {"width": 1400, "height": 1400}}


def test_compose_approve_calendar_drag_back_to_review(browser, server):
    day = date.today() + timedelta(days=25)
    local = f"{day.isoformat()}T11:15"
    text = f"E2E: how to dial in an espresso grinder ({day})"

    manager = browser.new_context(**TALL).new_page()
    log_in(manager, server, "manager@poise.local")
    manager.goto(f"{server}/w/juniper-coffee-roasters/posts/new")
    manager.fill("textarea[name=text]", text)
    manager.check("label:has-text('@juniper@coffee.social') input[name=account_ids]")
    manager.check("label:has-text('juniper.bsky.social') input[name=account_ids]")
    # live per-account counters appear for both targets
    manager.wait_for_selector("#previews .preview >> nth=1")
    assert manager.locator("#previews .counter").count() == 2
    manager.check("input[name=tags][value=learn]")
    manager.fill("input[name=scheduled_local]", local)
    manager.click("button[name=action][value=submit]")
    manager.wait_for_url("**/posts/*?saved=1")
    assert "in review" in manager.locator("h1 .status").inner_text()
    post_url = manager.url.split("?")[0]

    lead = browser.new_context(**TALL).new_page()
    log_in(lead, server, "lead@poise.local")
    lead.goto(f"{server}/w/juniper-coffee-roasters/review")
    item = lead.locator("article.review-item", has_text=text)
    assert item.locator(".preview").count() == 2  # how it looks on each account
    lead.on("dialog", lambda d: d.accept())  # a balance warning may ask for confirmation
    item.locator("button:has-text('Approve')").click()
    lead.wait_for_selector(f"article.review-item:has-text('{text}') >> text=Approved")

    lead.goto(f"{server}/w/juniper-coffee-roasters/calendar?date={day}")
    cell = lead.locator(f".day[data-date='{day}']")
    card = cell.locator(".card-pub", has_text="E2E: how to dial in").first
    assert card.locator(".time").inner_text().startswith("11:15")
    assert "scheduled" in card.inner_text()

    manager.goto(f"{server}/w/juniper-coffee-roasters/calendar?date={day}")
    target = day + timedelta(days=1) if day.weekday() != 6 else day - timedelta(days=1)
    source = manager.locator(f".day[data-date='{day}'] .card-pub",
                             has_text="E2E: how to dial in").first
    source.drag_to(manager.locator(f".day[data-date='{target}']"))
    manager.wait_for_selector(f".day[data-date='{target}'] .card-pub:has-text('E2E: how to')")
    moved = manager.locator(f".day[data-date='{target}'] .card-pub",
                            has_text="E2E: how to dial in").first
    assert moved.locator(".time").inner_text().startswith("11:15")  # same local time

    lead.goto(f"{server}/w/juniper-coffee-roasters/review")
    assert lead.locator("article.review-item", has_text=text).count() == 1
    lead.goto(post_url)
    assert "in review" in lead.locator("h1 .status").inner_text()


def _draft(page, server, text, local):
    """A draft on the Mastodon account through the composer; returns the post's URL."""
    page.goto(f"{server}/w/juniper-coffee-roasters/posts/new")
    page.fill("textarea[name=text]", text)
    page.check("label:has-text('@juniper@coffee.social') input[name=account_ids]")
    page.fill("input[name=scheduled_local]", local)
    page.click("button[name=action][value=draft]")
    page.wait_for_url("**/posts/*?saved=1")
    return page.url.split("?")[0]


def test_drop_on_a_repeated_hour_asks_which_then_moves(browser, server):
    # Warsaw's clocks go back on Sunday 31 Oct 2027: 02:30 happens twice that night.
    page = browser.new_context(**TALL).new_page()
    log_in(page, server, "manager@poise.local")
    text = "E2E: night roast notes"
    _draft(page, server, text, "2027-10-30T02:30")
    page.goto(f"{server}/w/juniper-coffee-roasters/calendar?date=2027-10-30")
    card = page.locator(".day[data-date='2027-10-30'] .card-pub", has_text=text).first
    card.drag_to(page.locator(".day[data-date='2027-10-31']"))
    choice = page.locator("#flash .fold-choice")
    choice.wait_for()
    assert "happens twice" in choice.inner_text()
    choice.locator("button:has-text('the second')").click()
    page.wait_for_selector(f".day[data-date='2027-10-31'] .card-pub:has-text('{text}')")
    moved = page.locator(".day[data-date='2027-10-31'] .card-pub", has_text=text).first
    assert moved.locator(".time").inner_text().startswith("02:30")
    moved.click()
    page.wait_for_url("**/posts/*")
    assert page.locator("input[name=fold][type=hidden]").get_attribute("value") == "1"


def test_move_a_card_with_the_keyboard(browser, server):
    page = browser.new_context(**TALL).new_page()
    log_in(page, server, "manager@poise.local")
    text = "E2E: keyboard move"
    day = date.today() + timedelta(days=40)
    target = day + timedelta(days=2)
    _draft(page, server, text, f"{day}T10:00")
    page.goto(f"{server}/w/juniper-coffee-roasters/calendar?date={day}")
    item = page.locator(f".day[data-date='{day}'] .card-item", has_text=text).first
    item.locator(".card-move").focus()
    page.keyboard.press("Enter")
    panel = page.locator("#flash .move-panel")
    panel.wait_for()
    panel.locator("input[name=date]").fill(target.isoformat())
    panel.locator("input[name=time]").fill("16:45")
    panel.locator("button:has-text('Move')").click()
    page.wait_for_url(f"**/calendar?date={target}")
    page.goto(f"{server}/w/juniper-coffee-roasters/calendar?date={target}")
    moved = page.locator(f".day[data-date='{target}'] .card-pub", has_text=text).first
    assert moved.locator(".time").inner_text().startswith("16:45")


def test_a_saved_prompt_fills_the_composer_and_its_preview(browser, server):
    page = browser.new_context(**TALL).new_page()
    log_in(page, server, "manager@poise.local")
    page.goto(f"{server}/w/juniper-coffee-roasters/settings")
    form = page.locator("form.new-prompt")
    if not form.is_visible():
        page.click("summary:has-text('New template')")
    form.locator("input[name=name]").fill("E2E cold brew")
    form.locator("input[name=keyword]").fill("BREW")
    form.locator("input[name=product_url]").fill("https://shop.example/cold-brew")
    form.locator("input[name=call_to_action]").fill("DM us BREW for the tasting box")
    form.locator("button:has-text('Save template')").click()
    page.wait_for_selector("#prompt-templates >> text=Saved “E2E cold brew”")

    page.goto(f"{server}/w/juniper-coffee-roasters/posts/new")
    page.fill("textarea[name=text]", "Cold brew season is back")
    page.check("label:has-text('@juniper@coffee.social') input[name=account_ids]")
    page.click("summary:has-text('DM prompt')")
    page.select_option("select[name=prompt_template]", label="E2E cold brew (BREW)")
    expect(page.locator("input[name=dm_keyword]")).to_have_value("BREW")
    page.wait_for_selector("#previews .preview-text:has-text('DM us BREW for the tasting box')")
    # The product link shows as the tracked short link it will go out as (same-length stand-in).
    assert "/r/xxxxxxxxx" in page.locator("#previews .preview-text").first.inner_text()
