"""The weekly queue-slot grid and the first-run checklist in real Chromium.

A server of this module's own (demo data plus two workspaces made for the test): "Slot Lab",
a Mastodon account with a quarter of metric history in which Saturdays do three times as well
(demo-like data with a clear best time), and "Fresh Start", a new workspace whose owner sees
the checklist tick as they connect an account.
"""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from browserhelpers import DEMO_PASSWORD, ROOT, log_in, start_server, stop_server
from playwright.sync_api import expect

from sandbox import FakePlatform

PHONE = {"timezone_id": "Europe/Warsaw", "viewport": {"width": 390, "height": 844},
         "device_scale_factor": 2, "is_mobile": True, "has_touch": True}
DESK = {"timezone_id": "Europe/Warsaw", "viewport": {"width": 1366, "height": 900}}
FRESH_EMAIL = "fresh@poise.local"

SEED = """
from datetime import UTC, datetime
from sqlmodel import select
from planner import accounts
from planner.db import session_scope
from planner.insight import history
from planner.models import Role, User
from planner.team import users, workspaces

with session_scope() as s:
    ws = workspaces.create_workspace(session=s, name="Slot Lab", timezone="Europe/Warsaw")
    admin = s.exec(select(User).where(User.email == "admin@poise.local")).one()
    users.add_member(session=s, workspace=ws, user=admin, role=Role.admin)
    account = accounts.create_account(session=s, workspace_id=ws.id, platform="mastodon",
                                      handle="@lab@slots.social", credentials={"access_token": "t"})
    history.seed_history(session=s, workspace_id=ws.id, accounts=[account],
                         end=datetime.now(UTC), days=91, posts_per_day=3,
                         weekday_effects={("mastodon", 5): 3.0}, readings=False, seed=5)
    print(ws.slug, account.id)
"""


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    var_dir = tmp_path_factory.mktemp("slots-var")
    proc, base = start_server(var_dir)
    env = {**os.environ, "POISE_VAR_DIR": str(var_dir)}
    env.pop("POISE_DATABASE_URL", None)
    out = subprocess.run([sys.executable, "-c", SEED], cwd=ROOT, env=env, check=True,
                         capture_output=True, text=True).stdout.split()
    subprocess.run([sys.executable, str(ROOT / "main.py"), "createuser", FRESH_EMAIL,
                    "--workspace", "Fresh Start", "--role", "admin", "--password",
                    DEMO_PASSWORD], cwd=ROOT, env=env, check=True, capture_output=True)
    yield {"base": base, "slug": out[-2], "account": out[-1]}
    stop_server(proc)


@pytest.fixture(scope="module")
def fake() -> Iterator[FakePlatform]:
    platform = FakePlatform()
    platform.start()
    yield platform
    platform.stop()


# The 07:00 row sits right under the grid's sticky header, inside the grid's own scroll box.
MORNING_ON_TOP = """() => {
  const box = document.querySelector('#slot-grid .slot-grid-scroll');
  const row = box.querySelector("tr[data-hour='7']");
  const below = row.getBoundingClientRect().top - box.getBoundingClientRect().top;
  return box.scrollTop > 0 && Math.abs(below - box.querySelector('thead').offsetHeight) < 4;
}"""


def _no_sideways_scroll(page) -> bool:
    return bool(page.evaluate(
        "() => document.documentElement.scrollWidth <= window.innerWidth + 1"))


def test_clicking_a_cell_adds_a_slot_that_add_to_queue_uses(browser, lab):
    page = browser.new_context(**DESK).new_page()
    base, slug = lab["base"], lab["slug"]
    log_in(page, base)
    page.goto(f"{base}/w/{slug}/accounts")
    page.click("a[data-slot-grid-link]")
    page.wait_for_url(f"**/accounts/{lab['account']}/slots")
    assert _no_sideways_scroll(page)
    tomorrow = (datetime.now(ZoneInfo("Europe/Warsaw")) + timedelta(days=1)).date()
    cell = page.locator(f"#slot-grid td[data-cell='{tomorrow.weekday()} 10:00'] button")
    expect(cell).to_have_attribute("aria-pressed", "false")
    cell.click()
    expect(page.locator("[data-slot-notice]")).to_contain_text("Added")
    cell = page.locator(f"#slot-grid td[data-cell='{tomorrow.weekday()} 10:00'] button")
    expect(cell).to_have_attribute("aria-pressed", "true")
    # The composer's "Add to queue" takes that time.
    page.goto(f"{base}/w/{slug}/posts/new")
    page.fill("textarea[name=text]", "Queued from the grid: brew notes for the weekend.")
    page.check("label:has-text('@lab@slots.social') input[name=account_ids]")
    page.check("input[name=tags][value=learn]")
    page.check("input[name=when][value=queue]")
    page.click("button[name=action][value=draft]")
    page.wait_for_url("**/posts/*?saved=1")
    expect(page.locator("input[name=scheduled_local]")).to_have_value(f"{tomorrow}T10:00")
    # And a click on the ticked cell takes it out again.
    page.goto(f"{base}/w/{slug}/accounts/{lab['account']}/slots")
    page.locator(f"#slot-grid td[data-cell='{tomorrow.weekday()} 10:00'] button").click()
    expect(page.locator("[data-slot-notice]")).to_contain_text("Removed")
    page.context.close()


def test_best_time_cells_are_marked_and_added_in_one_click(browser, lab):
    page = browser.new_context(**DESK).new_page()
    log_in(page, lab["base"])
    page.goto(f"{lab['base']}/w/{lab['slug']}/accounts/{lab['account']}/slots")
    marked = page.locator("#slot-grid td.best.good")
    expect(marked.first).to_be_visible()
    assert "often does well: +" in (marked.first.get_attribute("title") or "")
    assert all(cell.startswith("5 ") for cell in
               marked.evaluate_all("cells => cells.map(c => c.dataset.cell)"))  # Saturdays
    offer = page.locator(".best-list li").first
    expect(offer).to_contain_text("often does well: +")
    expect(offer).to_contain_text("posts")
    offer.locator("button", has_text="Add Sat").click()
    expect(page.locator("[data-slot-summary]")).to_contain_text("Sat ")
    page.context.close()


def test_checklist_ticks_after_connecting_an_account(browser, lab, fake):
    page = browser.new_context(**DESK).new_page()
    base = lab["base"]
    log_in(page, base, FRESH_EMAIL)
    page.goto(f"{base}/w/fresh-start/calendar")
    item = page.locator("#checklist li[data-item=account]")
    expect(item).to_have_attribute("data-done", "no")
    expect(page.locator("#checklist h2")).to_contain_text("0 of 4 done")
    item.locator("a").click()
    page.wait_for_url("**/w/fresh-start/accounts")
    form = page.locator("form#connect")
    form.locator("input[name=handle]").fill(f"@fresh-{uuid.uuid4().hex[:6]}@fake.social")
    form.locator("input[name=api_base]").fill(fake.base_url)
    form.locator("input[name=cred_access_token]").fill("fake-token")
    form.locator("button:has-text('Check and connect')").click()
    expect(page.locator("p.notice")).to_contain_text("Connected")
    page.goto(f"{base}/w/fresh-start/calendar")
    expect(page.locator("#checklist li[data-item=account]")).to_have_attribute("data-done",
                                                                               "yes")
    expect(page.locator("#checklist h2")).to_contain_text("1 of 4 done")
    # Hidden for this person with one click.
    page.click("#checklist button:has-text('Hide this list')")
    expect(page.locator("#checklist")).to_have_count(0)
    page.reload()
    expect(page.locator("#checklist")).to_have_count(0)
    page.context.close()


@pytest.mark.parametrize("size", [PHONE, DESK], ids=["390px", "1366px"])
def test_slot_grid_fits_without_sideways_scroll(browser, lab, size):
    page = browser.new_context(**size).new_page()
    log_in(page, lab["base"])
    page.goto(f"{lab['base']}/w/{lab['slug']}/accounts/{lab['account']}/slots")
    expect(page.locator("#slot-grid table.slot-grid")).to_be_visible()
    # It opens at the morning (static/js/slots.js), not at midnight.
    assert page.evaluate(MORNING_ON_TOP), "the grid does not open at 07:00"
    wide = page.evaluate("""() => [...document.querySelectorAll('body *')]
        .filter(e => e.getBoundingClientRect().right > window.innerWidth + 1
                     && !e.closest('.slot-grid-scroll'))
        .slice(0, 5).map(e => e.tagName + '.' + e.className)""")
    assert _no_sideways_scroll(page), f"the grid page scrolls sideways: {wide}"
    # On a phone the grid scrolls inside its own box, and a cell far right still works.
    sunday = page.locator("#slot-grid td[data-cell='6 20:00'] button")
    sunday.scroll_into_view_if_needed()
    sunday.click()
    expect(page.locator("#slot-grid td[data-cell='6 20:00'] button")).to_have_attribute(
        "aria-pressed", "true")
    # The swap keeps the grid where it was scrolled to.
    expect(page.locator("#slot-grid td[data-cell='6 20:00'] button")).to_be_in_viewport()
    assert _no_sideways_scroll(page)
    page.locator("#slot-grid td[data-cell='6 20:00'] button").click()
    expect(page.locator("#slot-grid td[data-cell='6 20:00'] button")).to_have_attribute(
        "aria-pressed", "false")
    page.context.close()


@pytest.mark.parametrize("size", [PHONE, DESK], ids=["390px", "1366px"])
def test_the_demos_best_times_show_and_fit(browser, lab, size):
    """The demo's X account: its weekday evenings do better (planner/demo.py); the grid
    outlines them, lists them with a one-click add, and still fits a phone."""
    page = browser.new_context(**size).new_page()
    log_in(page, lab["base"])
    page.goto(f"{lab['base']}/w/juniper-coffee-roasters/accounts")
    page.locator("tr", has_text="@junipercoffee").locator("a[data-slot-grid-link]").click()
    page.wait_for_url("**/slots")
    expect(page.locator(".best-times")).to_have_attribute("data-best-status", "found")
    marked = page.locator("#slot-grid td.best.good")
    expect(marked.first).to_be_attached()
    hours = marked.evaluate_all("cells => cells.map(c => +c.dataset.cell.split(' ')[1]"
                                ".slice(0, 2))")
    assert hours and all(18 <= hour <= 23 for hour in hours)  # evenings only
    offer = page.locator(".best-list li").first
    expect(offer).to_contain_text("often does well: +")
    button = offer.locator("button", has_text="21:00")
    expect(button).to_be_visible()
    box = button.bounding_box()
    assert box and box["x"] >= 0 and box["x"] + box["width"] <= size["viewport"]["width"]
    wide = page.evaluate("""() => [...document.querySelectorAll('body *')]
        .filter(e => e.getBoundingClientRect().right > window.innerWidth + 1
                     && !e.closest('.slot-grid-scroll'))
        .slice(0, 5).map(e => e.tagName + '.' + e.className)""")
    assert _no_sideways_scroll(page), f"the grid page scrolls sideways: {wide}"
    # An outlined evening cell, scrolled to inside the grid's own box, is on screen.
    marked.first.scroll_into_view_if_needed()
    expect(marked.first).to_be_in_viewport()
    assert _no_sideways_scroll(page)
    label = button.inner_text().removeprefix("Add ")
    button.click()
    expect(page.locator("[data-slot-summary]")).to_contain_text(label)
    assert _no_sideways_scroll(page)
    page.locator(f"#slot-grid button[aria-label^='Remove {label}']").click()  # tidy up
    expect(page.locator("[data-slot-summary]")).not_to_contain_text(label)
    page.context.close()
