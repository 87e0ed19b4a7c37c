"""Issue 14 in real Chromium: the composer's previews look like each network (name, handle,
avatar initial, link card, "see more" fold), Review keeps Approve disabled while a target is
too long, the post's page carries the conversation, and the composer and Review fit 390 px.
"""

from __future__ import annotations

import os
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from browserhelpers import log_in
from playwright.sync_api import expect
from sqlmodel import select

from planner import posts
from planner.db import make_engine, session_scope
from planner.models import Account, Membership, Role, User, Workspace
from tests.e2e.conftest import start_server, stop_server

ZONE = "Europe/Warsaw"
PHONE = {"timezone_id": ZONE, "viewport": {"width": 390, "height": 844},
         "device_scale_factor": 2, "is_mobile": True, "has_touch": True}
DESK = {"timezone_id": ZONE, "viewport": {"width": 1366, "height": 900}}
LONG = ("Our Ethiopian Guji is back as a cold brew tonic, and this time we brought friends: "
        "a honey-processed Costa Rica, a washed Kenyan with blackcurrant notes and a decaf "
        "that tastes like a decaf should not. Come by on Saturday, taste all four, and tell us "
        "which one should stay on the menu for the winter.")


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    var_dir = tmp_path_factory.mktemp("feed-var")
    proc, base = start_server(var_dir)
    engine = make_engine(f"sqlite:///{var_dir / 'poise.db'}")
    with session_scope(engine) as s:
        slug = s.exec(select(Workspace)).first().slug
    yield {"base": base, "engine": engine, "slug": slug}
    engine.dispose()
    stop_server(proc)


@pytest.fixture
def open_page(browser):
    """A fresh browser context per test, closed afterwards (no request of an earlier test's
    page can overlap the next test's writes)."""
    contexts = []

    def make(settings):
        context = browser.new_context(**settings)
        context.set_default_timeout(15_000)
        contexts.append(context)
        return context.new_page()

    yield make
    for context in contexts:
        context.close()


def _shot(page, name: str) -> None:
    """With POISE_E2E_SHOTS=<dir>, a full-page screenshot for a person to look at."""
    folder = os.environ.get("POISE_E2E_SHOTS")
    if folder:
        Path(folder).mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(Path(folder) / f"{name}.png"), full_page=True)


def _no_sideways_scroll(page) -> bool:
    return page.evaluate("() => document.documentElement.scrollWidth <= window.innerWidth + 1")


def _actor(s, email):
    user = s.exec(select(User).where(User.email == email)).one()
    ws = s.exec(select(Workspace)).first()
    role = s.exec(select(Membership.role).where(Membership.user_id == user.id,
                                                Membership.workspace_id == ws.id)).one()
    return posts.Actor(user_id=user.id, role=Role(role), workspace=ws)


def _ids(s) -> dict[str, int]:
    return {a.platform: a.id for a in s.exec(select(Account))}


def test_previews_show_name_handle_link_card_and_fold(open_page, demo):
    base, slug = demo["base"], demo["slug"]
    page = open_page(DESK)
    log_in(page, base, "manager@poise.local")
    page.goto(f"{base}/w/{slug}/posts/new")
    with session_scope(demo["engine"]) as s:
        ids = _ids(s)
    for platform in ("mastodon", "bluesky", "x", "linkedin"):
        page.check(f"input[name=account_ids][value='{ids[platform]}']")
    page.fill("textarea[name=text]", LONG)
    page.fill("input[name=link]", "https://www.juniper.example/tonic")
    page.fill("textarea[name=text]", LONG + " ☕")  # the link field has no live trigger
    cards = page.locator("#previews .preview.feed")
    expect(cards).to_have_count(4)
    mastodon = page.locator("#previews .feed-mastodon")
    expect(mastodon.locator(".feed-name")).to_have_text("Juniper on Mastodon")
    expect(mastodon.locator(".feed-handle")).to_have_text("@juniper@coffee.social")
    expect(mastodon.locator(".avatar")).to_have_text("J")
    # Link cards name the page the tracked short link leads to.
    for platform in ("mastodon", "bluesky", "x"):
        card = page.locator(f"#previews .feed-{platform} .feed-card")
        expect(card).to_have_attribute("data-card-host", "juniper.example")
        expect(card.locator(".feed-card-url")).to_contain_text("/r/")
    # LinkedIn folds the long text behind "…see more"; opening it shows the rest.
    linkedin = page.locator("#previews .feed-linkedin")
    expect(linkedin.locator(".feed-card")).to_have_count(0)
    expect(linkedin.locator(".card-note")).to_contain_text("no card")
    fold = linkedin.locator("button[data-fold]")
    expect(fold).to_have_text("…see more")
    expect(linkedin.locator(".feed-tail")).to_be_hidden()
    head = linkedin.locator(".feed-head").inner_text()
    assert 100 < len(head) <= 210 and LONG.startswith(head.rstrip())
    fold.click()
    expect(linkedin.locator(".feed-tail")).to_be_visible()
    assert "☕" in linkedin.locator(".feed-tail").inner_text()
    # Mastodon shows the whole post; the counters beside the text box still follow.
    expect(mastodon.locator("button[data-fold]")).to_have_count(0)
    expect(page.locator("#counters li")).to_have_count(4)
    assert _no_sideways_scroll(page)
    _shot(page, "feed-previews-1366")


def test_composer_previews_fit_a_phone(open_page, demo):
    base, slug = demo["base"], demo["slug"]
    page = open_page(PHONE)
    log_in(page, base, "manager@poise.local")
    page.goto(f"{base}/w/{slug}/posts/new")
    with session_scope(demo["engine"]) as s:
        ids = _ids(s)
    for account_id in ids.values():
        page.check(f"input[name=account_ids][value='{account_id}']")
    page.fill("input[name=link]", "https://www.juniper.example/a/very/long/path/" + "x" * 80)
    page.fill("textarea[name=text]", LONG + " https://juniper.example/" + "y" * 90)
    expect(page.locator("#previews .preview.feed")).to_have_count(len(ids))
    expect(page.locator("#previews .feed-card").first).to_be_visible()
    assert _no_sideways_scroll(page)
    _shot(page, "feed-previews-390")


def _in_review(engine, text: str) -> tuple[int, int]:
    now = datetime.now(UTC)
    when = (now + timedelta(days=5)).astimezone(ZoneInfo(ZONE)).strftime("%Y-%m-%dT10:15")
    with session_scope(engine, immediate=True) as s:  # read-then-write beside the server
        manager = _actor(s, "manager@poise.local")
        post = posts.create_post(session=s, actor=manager, now=now, data=posts.PostInput(
            text=text, account_ids=[_ids(s)["mastodon"]], tags=["share"],
            scheduled_local=when))
        post = posts.submit_for_review(session=s, actor=manager, post_id=post.id,
                                       expected_version=post.version, now=now)
        return post.id, post.version


def test_review_disables_approve_over_the_limit_and_fits_a_phone(open_page, demo):
    base, slug, engine = demo["base"], demo["slug"], demo["engine"]
    post_id, _ = _in_review(engine, "Latte art class on Sunday: " + "bring a friend. " * 12)
    # The instance lowered its limit after submission.
    with session_scope(engine, immediate=True) as s:
        s.get(Account, _ids(s)["mastodon"]).text_limit = 100
    try:
        page = open_page(PHONE)
        log_in(page, base, "lead@poise.local")
        page.goto(f"{base}/w/{slug}/review")
        item = page.locator(f"#review-{post_id}")
        expect(item.locator(".over-limit")).to_contain_text(
            "Too long for @juniper@coffee.social")
        expect(item.locator(".review-actions button.primary")).to_be_disabled()
        expect(item.locator(".preview.feed .counter.over")).to_have_count(1)
        assert _no_sideways_scroll(page)
        _shot(page, "review-over-limit-390")
    finally:
        with session_scope(engine, immediate=True) as s:
            s.get(Account, _ids(s)["mastodon"]).text_limit = None


def test_author_sees_the_thread_and_comments(open_page, demo):
    base, slug, engine = demo["base"], demo["slug"], demo["engine"]
    post_id, version = _in_review(engine, "Cupping notes from the new Kenyan")
    with session_scope(engine, immediate=True) as s:
        posts.request_changes(session=s, actor=_actor(s, "lead@poise.local"), post_id=post_id,
                              expected_version=version, comment="Add the <i>farm</i> name",
                              now=datetime.now(UTC))
    page = open_page(PHONE)
    log_in(page, base, "manager@poise.local")
    page.goto(f"{base}/w/{slug}/posts/{post_id}")
    thread = page.locator("#thread")
    expect(thread.locator(".thread-entry")).to_have_count(1)
    expect(thread.locator(".thread-entry").first).to_contain_text("asked for changes")
    expect(thread.locator(".thread-comment").first).to_have_text("Add the <i>farm</i> name")
    page.fill("#comment-text", "Added: Gatomboya. Better?")
    page.click("#thread button:has-text('Comment')")
    page.wait_for_url(re.compile(rf"/posts/{post_id}#thread$"))
    expect(thread.locator(".thread-entry")).to_have_count(2)
    expect(thread.locator(".thread-entry").last).to_contain_text("commented")
    expect(thread.locator(".thread-comment").last).to_have_text("Added: Gatomboya. Better?")
    assert _no_sideways_scroll(page)
    _shot(page, "post-thread-390")
