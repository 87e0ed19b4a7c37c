"""The planner's main journey in real Chromium, as two people."""

from datetime import date, timedelta

from browserhelpers import log_in

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
