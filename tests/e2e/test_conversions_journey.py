"""Conversions in real Chromium, from the real publishing path to the attribution report.

A manager writes a post with a DM prompt for the brand's Facebook Page, the brand lead approves
it in the browser, and the publishing dispatcher sends it to a fake Graph API (publishers/fakes).
The tracked link is read from the text that platform received and followed by a browser (a
session; a link-preview bot is not counted). Messenger delivers the DM the post's deep link
opens as a signed webhook, the Inbox badge shows it, a manager qualifies the contact and
records a sale, and the attribution report credits the Page and the post's quadrant under both
models.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import time
from datetime import timedelta
from urllib.parse import parse_qs, urlsplit
from zoneinfo import ZoneInfo

import browserhelpers
import pytest
import requests
from browserhelpers import log_in
from sqlmodel import func, select

from planner import accounts, posts
from planner import settings as settings_module
from planner.conversions import webhooks
from planner.db import make_engine, session_scope, utcnow
from planner.models import Publication, PublicationStatus, Role, User, Workspace
from planner.models_conversions import Contact
from planner.publishing.dispatch import DispatchConfig, Dispatcher
from sandbox import EXTERNAL_IDS, FakePlatform, credentials_for
from tests.e2e.conftest import start_server, stop_server

CHROME_UA = ("Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
             "Chrome/130.0.0.0 Safari/537.36")
APP_SECRET = "e2e-meta-app-secret"
PAGE_ID = EXTERNAL_IDS["facebook"]
PAGE = "junipercoffeeroasters"


@pytest.fixture
def conv_server(tmp_path, monkeypatch):
    """The demo server, its public base URL known in advance (the short links point at it),
    and a fake of the platforms' APIs in this process."""
    var_dir = tmp_path / "var"
    var_dir.mkdir()
    port = browserhelpers.free_port()
    base = f"http://127.0.0.1:{port}"
    monkeypatch.setattr(browserhelpers, "free_port", lambda: port)
    proc, started = start_server(var_dir, extra_env={"POISE_PUBLIC_BASE_URL": base})
    assert started == base
    # This process publishes (the dispatcher) with the server's keys and settings.
    monkeypatch.setenv("POISE_VAR_DIR", str(var_dir))
    monkeypatch.setenv("POISE_PUBLIC_BASE_URL", base)
    monkeypatch.delenv("POISE_DATABASE_URL", raising=False)
    settings_module.get_settings.cache_clear()
    fake = FakePlatform()
    fake.start()
    yield base, var_dir, fake
    fake.stop()
    settings_module.get_settings.cache_clear()
    stop_server(proc)


def _post_for_review(engine, base: str, fake: FakePlatform) -> dict:
    """The brand's Page on the fake Graph API, and a post with a DM prompt, in review."""
    product = f"{base}/static/favicon.svg?product=tonic"
    with session_scope(engine) as s:
        ws = s.exec(select(Workspace)).first()
        manager = s.exec(select(User).where(User.email == "manager@poise.local")).one()
        page = accounts.create_account(session=s, workspace_id=ws.id, platform="facebook",
                                       handle=PAGE, api_base=fake.base_url,
                                       credentials=credentials_for("facebook"),
                                       external_id=PAGE_ID)
        webhooks.set_meta(session=s, workspace_id=ws.id, verify_token="e2e-token",
                          app_secret=APP_SECRET)
        actor = posts.Actor(user_id=manager.id, role=Role.manager, workspace=ws)
        local = (utcnow() + timedelta(minutes=2)).astimezone(ZoneInfo(ws.timezone))
        now = utcnow()
        post = posts.create_post(session=s, actor=actor, now=now, data=posts.PostInput(
            text=f"Cold brew tonic is back, and it sings: {product}", link=product,
            account_ids=[page.id], tags=["try"], dm_keyword="TONIC", dm_product_url=product,
            scheduled_local=local.strftime("%Y-%m-%dT%H:%M")))
        posts.submit_for_review(session=s, actor=actor, post_id=post.id,
                                expected_version=post.version, now=now)
        return {"slug": ws.slug, "page": page.id, "post": post.id,
                "due": post.scheduled_at}


def _publish_due(engine, due) -> None:
    """The publishing dispatcher, its view of the clock moved to the post's time (the test-only
    skew the dispatcher tests use) instead of waiting for it."""
    skew = (due - utcnow()).total_seconds() + 1
    dispatcher = Dispatcher(engine, DispatchConfig(threads=4, lease_seconds=30,
                                                   clock_skew_seconds=skew))
    try:
        dispatcher.tick()
        assert dispatcher.wait_idle(30)
    finally:
        dispatcher.shutdown()


def _meta_delivery(base: str, slug: str, sender: str, ref: str, text: str) -> requests.Response:
    """What Messenger sends when someone opens the m.me link (a referral) and writes."""
    stamp = int(time.time() * 1000)
    body = json.dumps({"object": "page", "entry": [{"id": PAGE_ID, "time": stamp, "messaging": [
        {"sender": {"id": sender}, "recipient": {"id": PAGE_ID}, "timestamp": stamp,
         "referral": {"ref": ref, "source": "SHORTLINK", "type": "OPEN_THREAD"}},
        {"sender": {"id": sender}, "recipient": {"id": PAGE_ID}, "timestamp": stamp + 1,
         "message": {"mid": "m-e2e-1", "text": text}}]}]})
    signature = hmac.new(APP_SECRET.encode(), body.encode(), hashlib.sha256).hexdigest()
    return requests.post(f"{base}/hooks/{slug}/meta", data=body, timeout=10,
                         headers={"Content-Type": "application/json",
                                  "X-Hub-Signature-256": f"sha256={signature}"})


def _cell(page, table: str, key: str, model: str, stage: str) -> str:
    return page.locator(f"#by-{table} tr[data-key='{key}'] "
                        f"td[data-model='{model}'][data-stage='{stage}']").inner_text()


def _number(page, table: str, key: str, model: str, stage: str) -> float:
    cell = page.locator(f"#by-{table} tr[data-key='{key}'] "
                        f"td[data-model='{model}'][data-stage='{stage}']")
    return float(cell.inner_text().replace(",", "")) if cell.count() else 0.0


def _inbox_badge(page) -> str:
    link = page.locator("nav.mainnav a", has_text="Inbox")
    badge = link.locator(".badge")
    return badge.inner_text() if badge.count() else ""


def test_published_link_dm_qualify_sale_and_attribution(browser, conv_server):
    base, var_dir, fake = conv_server
    engine = make_engine(f"sqlite:///{var_dir / 'poise.db'}")
    setup = _post_for_review(engine, base, fake)
    slug, page_key = setup["slug"], str(setup["page"])

    # The brand lead approves the post with its DM prompt.
    lead = browser.new_context(user_agent=CHROME_UA).new_page()
    log_in(lead, base, "lead@poise.local")
    lead.goto(f"{base}/w/{slug}/review")
    item = lead.locator(f"#review-{setup['post']}")
    lead.on("dialog", lambda d: d.accept())  # a balance warning may ask for confirmation
    item.locator("button.primary").click()
    lead.wait_for_selector(f"#review-{setup['post']} >> text=Approved")

    # The worker's dispatcher publishes it to the (fake) Graph API.
    _publish_due(engine, setup["due"])
    engine.dispose()
    with session_scope(engine) as s:
        [publication] = s.exec(select(Publication).where(
            Publication.post_id == setup["post"])).all()
        assert publication.status == PublicationStatus.published, publication.last_error
    [created] = [c for c in fake.creates if c.platform == "facebook"]
    sent = created.body["message"]
    links_sent = re.findall(r"https?://\S+/r/[A-Za-z0-9_-]+", sent)
    assert len(links_sent) == 1 and links_sent[0].startswith(f"{base}/r/"), sent
    assert "favicon.svg" not in sent  # the product URL went out as the short link only
    deep_link = re.search(r"https://m\.me/\S+", sent)
    assert deep_link, sent
    ref = parse_qs(urlsplit(deep_link.group(0)).query)["ref"][0]
    assert ref == f"TONIC_{setup['post']}"

    # A follower clicks the link in the post (counted); a link-preview fetcher is not.
    visitor = browser.new_context(user_agent=CHROME_UA).new_page()
    visitor.goto(links_sent[0])
    assert "/static/favicon.svg" in visitor.url and "utm_source=facebook" in visitor.url
    for agent in ("facebookexternalhit/1.1", "http.rb/5.1.1 (Mastodon/4.2.10; +https://m.s/)"):
        bot = requests.get(links_sent[0], headers={"User-Agent": agent},
                           allow_redirects=False, timeout=10)
        assert bot.status_code == 302

    # They open the Messenger link from the post and write; Meta delivers it signed.
    with session_scope(engine) as s:
        new_before = s.exec(select(func.count()).select_from(Contact).where(
            Contact.status == "new")).one()
    # The demo's own sales (Try posts sold on X) are in the Try row already.
    lead.goto(f"{base}/w/{slug}/attribution")
    try_sales = {model: _number(lead, "quadrant", "try", model, "sales")
                 for model in ("first", "last")}
    r = _meta_delivery(base, slug, "PSID-42", ref, "Hi! TONIC please")
    assert r.status_code == 200 and r.json() == {"received": 2}

    manager = browser.new_context(user_agent=CHROME_UA).new_page()
    log_in(manager, base, "manager@poise.local")
    manager.goto(f"{base}/w/{slug}/inbox")
    # One new contact (the demo's own newcomers of the last days are counted too).
    assert _inbox_badge(manager) == str(new_before + 1)
    row = manager.locator("table.inbox tr", has_text="TONIC please")
    assert "TONIC" in row.inner_text()  # the prompt that started it
    row.locator("a").first.click()
    manager.wait_for_url("**/inbox/*")
    manager.select_option("select[name=status]", "qualified")
    manager.click("button:has-text('Set status')")
    manager.wait_for_url("**?done=status")
    assert manager.locator("#contact-status").inner_text() == "qualified"
    assert _inbox_badge(manager) == (str(new_before) if new_before else "")  # triaged
    manager.fill("input[name=amount]", "49.90")
    manager.fill("input[name=order_id]", "E2E-1")
    manager.click("button:has-text('Record sale')")
    manager.wait_for_url("**?done=sale")
    assert manager.locator("#contact-status").inner_text() == "won"
    assert "49.90 EUR" in manager.locator("ul.events").inner_text()

    manager.goto(f"{base}/w/{slug}/attribution")
    channel = manager.locator(f"#by-channel tr[data-key='{page_key}']")
    assert f"Facebook {PAGE}" in channel.inner_text()
    assert channel.locator("td").first.inner_text() == "1"  # one session; the bots not counted
    for model in ("first", "last"):
        assert _cell(manager, "channel", page_key, model, "contacts") == "1"
        assert _cell(manager, "channel", page_key, model, "qualified") == "1"
        assert _cell(manager, "channel", page_key, model, "sales") == "1"
        assert _number(manager, "quadrant", "try", model, "sales") == try_sales[model] + 1
    assert "49.90 EUR" in channel.inner_text()
    chart = manager.locator("svg[role=img] title", has_text="Contacts and sales by channel")
    assert chart.count() == 1
    engine.dispose()
