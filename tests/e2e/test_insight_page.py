"""The Insight page and the composer's resonance hint in real Chromium, on the demo data
(a quarter of history where Care resonates on Mastodon)."""

from browserhelpers import log_in

SLUG = "juniper-coffee-roasters"


def test_insight_grid_shows_what_resonates_with_the_table_behind_it(browser, server):
    page = browser.new_page(viewport={"width": 1400, "height": 1400})
    log_in(page, server, "lead@poise.local")
    page.goto(f"{server}/w/{SLUG}/insight")
    grid = page.locator("svg.insight-grid")
    assert grid.is_visible()
    assert "engagement by value and channel" in grid.locator("title").first.text_content()
    # Mastodon's Care cell is marked clearly higher, in the grid and in the table.
    row = page.locator("#resonance-table tr", has_text="@juniper@coffee.social")
    cell = row.locator("td[data-quadrant=care]")
    assert cell.get_attribute("data-status") == "higher"
    assert "x" in cell.inner_text()
    assert page.locator("svg.insight-grid g.cell[data-status=higher]").count() >= 2
    # One verdict per channel: the demo's four (other browser tests may connect more).
    assert page.locator("#health li").count() >= 4
    assert page.locator("#health li", has_text="Mastodon").count() >= 1
    assert page.get_by_role("link", name="Download CSV").is_visible()
    page.close()


def test_composer_shows_what_the_value_did_on_the_chosen_account(browser, server):
    page = browser.new_page(viewport={"width": 1400, "height": 1400})
    log_in(page, server, "manager@poise.local")
    page.goto(f"{server}/w/{SLUG}/posts/new")
    page.fill("textarea[name=text]", "Every bag sold this month plants a tree with our "
                                     "partner farms.")
    page.check("label:has-text('@juniper@coffee.social') input[name=account_ids]")
    page.check("input[name=tags][value=care]")
    hint = page.locator(".resonance-hint li", has_text="Care for others posts on Mastodon")
    hint.first.wait_for()
    text = hint.first.inner_text()
    assert "x your typical engagement" in text and "posts" in text
    page.close()
