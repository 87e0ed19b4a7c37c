"""Save draft is never lost to a preview (issue 14, found by a browser test).

The live previews are htmx requests that replace each other (the newest wins, so counters are
never stale). They used to be synchronised on the composer form itself, which also carries
the save: a save clicked while a preview was still on its way was silently dropped, and a
preview fired after the save (the debounce of the last keystroke, the blur of the click)
aborted it. Here the server's preview answers are held back on purpose while the person
clicks Save draft; the draft must be saved either way.
"""

from __future__ import annotations

import contextlib
import re

import pytest
from browserhelpers import log_in
from playwright.sync_api import expect

WS = "juniper-coffee-roasters"


def _held_previews(page) -> list:
    held: list = []
    page.route(re.compile(r".*/compose/preview$"), lambda route: held.append(route))
    return held


def _release(held: list) -> None:
    for route in held:
        with contextlib.suppress(Exception):  # the page that asked may be gone
            route.continue_()


@pytest.fixture
def composer(browser, server):
    """A manager's fresh composer, with every preview answer held back (the list of routes)."""
    context = browser.new_context(timezone_id="Europe/Warsaw",
                                  viewport={"width": 1366, "height": 900})
    context.set_default_timeout(15_000)
    page = context.new_page()
    log_in(page, server, "manager@poise.local")
    page.goto(f"{server}/w/{WS}/posts/new")
    held = _held_previews(page)
    page.locator("input[name=account_ids]").first.check()
    yield page, held
    context.close()


def test_save_draft_while_a_preview_is_still_on_its_way(composer):
    page, held = composer
    page.fill("textarea[name=text]", "Saved although the preview is slow")
    # A preview is in flight and unanswered when the person clicks Save draft.
    page.wait_for_timeout(600)
    assert held, "the composer asked for no preview"
    page.click("button[name=action][value=draft]")
    page.wait_for_url(re.compile(r"/posts/\d+"))
    _release(held)
    expect(page.locator("textarea[name=text]")).to_have_value(
        "Saved although the preview is slow")


def test_a_preview_fired_after_save_does_not_abort_it(composer):
    page, held = composer
    # Typing and clicking at once: the keystroke's debounced preview fires after the save
    # has left.
    page.locator("textarea[name=text]").press_sequentially("Typed and saved at once")
    page.click("button[name=action][value=draft]")
    page.wait_for_url(re.compile(r"/posts/\d+"))
    _release(held)
    expect(page.locator("textarea[name=text]")).to_have_value("Typed and saved at once")
