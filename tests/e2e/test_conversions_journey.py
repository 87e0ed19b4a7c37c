"""Conversions in real Chromium: a tracked link is followed, a DM with the keyword arrives over
the signed Meta webhook, a manager qualifies the contact and records a sale, and the attribution
report credits the Instagram channel and the post's quadrant under both models."""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from datetime import timedelta
from urllib.parse import urlsplit

import pytest
import requests
from browserhelpers import log_in
from sqlmodel import select

from planner import accounts
from planner import settings as settings_module
from planner.conversions import links, webhooks
from planner.db import make_engine, session_scope, utcnow
from planner.models import Post, PostStatus, Publication, PublicationStatus, Workspace
from tests.e2e.conftest import start_server, stop_server

CHROME_UA = ("Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
             "Chrome/130.0.0.0 Safari/537.36")
APP_SECRET = "e2e-meta-app-secret"
IG_ID = "17841499999"


@pytest.fixture
def conv_server(tmp_path, monkeypatch):
    var_dir = tmp_path / "var"
    var_dir.mkdir()
    proc, base = start_server(var_dir)
    # This process writes the test's setup with the server's own keys (same var dir).
    monkeypatch.setenv("POISE_VAR_DIR", str(var_dir))
    monkeypatch.delenv("POISE_DATABASE_URL", raising=False)
    settings_module.get_settings.cache_clear()
    yield base, var_dir
    settings_module.get_settings.cache_clear()
    stop_server(proc)


def _setup(var_dir, base: str) -> dict:
    engine = make_engine(f"sqlite:///{var_dir / 'poise.db'}")
    with session_scope(engine) as s:
        ws = s.exec(select(Workspace)).first()
        ig = accounts.create_account(session=s, workspace_id=ws.id, platform="instagram",
                                     handle="juniper.coffee", external_id=IG_ID)
        post = Post(workspace_id=ws.id, text="Try our cold brew tonic. DM us TONIC",
                    tags="try", status=PostStatus.approved, dm_keyword="TONIC",
                    dm_product_url=f"{base}/static/favicon.svg")
        s.add(post)
        s.flush()
        pub = Publication(post_id=post.id, account_id=ig.id, workspace_id=ws.id,
                          status=PublicationStatus.published,
                          published_at=utcnow() - timedelta(hours=1),
                          scheduled_at=utcnow() - timedelta(hours=1), remote_id="ig-e2e")
        s.add(pub)
        s.flush()
        short = links.tracked_link_for(s, pub, f"{base}/static/favicon.svg")
        webhooks.set_meta(session=s, workspace_id=ws.id, verify_token="e2e-token",
                          app_secret=APP_SECRET)
        out = {"slug": ws.slug, "ig": ig.id, "path": urlsplit(short).path}
    engine.dispose()
    return out


def _meta_dm(base: str, slug: str, text: str) -> requests.Response:
    body = json.dumps({"object": "instagram", "entry": [{"id": IG_ID, "time": 1, "messaging": [{
        "sender": {"id": "IGSID-42"}, "recipient": {"id": IG_ID},
        "timestamp": int(time.time() * 1000),
        "message": {"mid": "m-e2e-1", "text": text}}]}]})
    signature = hmac.new(APP_SECRET.encode(), body.encode(), hashlib.sha256).hexdigest()
    return requests.post(f"{base}/hooks/{slug}/meta", data=body, timeout=10,
                         headers={"Content-Type": "application/json",
                                  "X-Hub-Signature-256": f"sha256={signature}"})


def _cell(page, table: str, key: str, model: str, stage: str) -> str:
    return page.locator(f"#by-{table} tr[data-key='{key}'] "
                        f"td[data-model='{model}'][data-stage='{stage}']").inner_text()


def test_link_dm_qualify_sale_and_attribution(browser, conv_server):
    base, var_dir = conv_server
    setup = _setup(var_dir, base)
    slug = setup["slug"]

    # A follower clicks the tracked link in the published post (a real browser, counted).
    visitor = browser.new_context(user_agent=CHROME_UA).new_page()
    visitor.goto(f"{base}{setup['path']}")
    assert "/static/favicon.svg" in visitor.url and "utm_source=instagram" in visitor.url
    # A link-preview fetcher is redirected but not counted.
    bot = requests.get(f"{base}{setup['path']}", headers={"User-Agent": "Twitterbot/1.0"},
                       allow_redirects=False, timeout=10)
    assert bot.status_code == 302

    # They DM the keyword on Instagram; Meta delivers it signed.
    r = _meta_dm(base, slug, "Hi! TONIC please")
    assert r.status_code == 200 and r.json() == {"received": 1}

    manager = browser.new_context(user_agent=CHROME_UA).new_page()
    log_in(manager, base, "manager@poise.local")
    manager.goto(f"{base}/w/{slug}/inbox")
    row = manager.locator("table.inbox tr", has_text="TONIC please")
    assert "TONIC" in row.inner_text()  # the prompt that started it
    row.locator("a").first.click()
    manager.wait_for_url("**/inbox/*")
    manager.select_option("select[name=status]", "qualified")
    manager.click("button:has-text('Set status')")
    manager.wait_for_url("**?done=status")
    assert manager.locator("#contact-status").inner_text() == "qualified"
    manager.fill("input[name=amount]", "49.90")
    manager.fill("input[name=order_id]", "E2E-1")
    manager.click("button:has-text('Record sale')")
    manager.wait_for_url("**?done=sale")
    assert manager.locator("#contact-status").inner_text() == "won"
    assert "49.90 EUR" in manager.locator("ul.events").inner_text()

    manager.goto(f"{base}/w/{slug}/attribution")
    ig = str(setup["ig"])
    row = manager.locator(f"#by-channel tr[data-key='{ig}']")
    assert "Instagram juniper.coffee" in row.inner_text()
    assert row.locator("td").first.inner_text() == "1"  # one session; the bot not counted
    for model in ("first", "last"):
        assert _cell(manager, "channel", ig, model, "contacts") == "1"
        assert _cell(manager, "channel", ig, model, "qualified") == "1"
        assert _cell(manager, "channel", ig, model, "sales") == "1"
        assert _cell(manager, "quadrant", "try", model, "sales") == "1"
    assert "49.90 EUR" in row.inner_text()
    chart = manager.locator("svg[role=img] title", has_text="Contacts and sales by channel")
    assert chart.count() == 1
