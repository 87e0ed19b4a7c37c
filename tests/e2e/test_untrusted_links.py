"""Stored XSS through a platform's answer, in real Chromium.

A Mastodon instance answers a new status with ``{"url": "javascript:alert(document.domain)//"}``.
The worker publishes a post to it for real; the link must not be stored, must not be rendered
from a row that already holds it, and a ``javascript:`` link that somehow reaches the page is
blocked by the Content-Security-Policy: no dialog ever opens.
"""

from __future__ import annotations

import time

import pytest
from browserhelpers import log_in
from sqlalchemy import text
from sqlmodel import select

from planner.db import make_engine, session_scope, utcnow
from planner.models import Account, Post, PostStatus, Publication, PublicationStatus, Workspace
from sandbox import FakePlatform
from tests.e2e.conftest import start_server, stop_server

PAYLOAD = "javascript:alert(document.domain)//"


@pytest.fixture(scope="module")
def hostile(tmp_path_factory):
    """A server whose demo accounts publish to a fake instance answering with the payload."""
    fake = FakePlatform()
    fake.start()
    fake.mastodon_status_url = PAYLOAD
    var_dir = tmp_path_factory.mktemp("e2e-xss")
    # The demo's own fakes cannot take this port (it is the hostile one's): the demo accounts
    # point at it.
    proc, base = start_server(var_dir, worker=True,
                              extra_env={"POISE_DEMO_PLATFORM_PORT": str(fake.port)})
    yield base, make_engine(f"sqlite:///{var_dir / 'poise.db'}"), fake
    stop_server(proc)
    fake.stop()


def _due_post_on_mastodon(engine) -> tuple[str, int, int]:
    now = utcnow()
    with session_scope(engine) as s:
        workspace = s.exec(select(Workspace)).first()
        account = s.exec(select(Account).where(Account.workspace_id == workspace.id,
                                               Account.platform == "mastodon")).one()
        post = Post(workspace_id=workspace.id, text="E2E hostile instance", tags="learn",
                    status=PostStatus.approved, scheduled_at=now)
        s.add(post)
        s.flush()
        pub = Publication(post_id=post.id, account_id=account.id, workspace_id=workspace.id,
                          status=PublicationStatus.pending, scheduled_at=now, due_at=now)
        s.add(pub)
        s.flush()
        return workspace.slug, post.id, pub.id


def _wait_published(engine, pid: int) -> str:
    deadline = time.monotonic() + 40
    while time.monotonic() < deadline:
        with engine.connect() as conn:
            status, url = conn.execute(text("SELECT status, remote_url FROM publication "
                                            "WHERE id = :i"), {"i": pid}).one()
        if status == "published":
            return str(url)
        time.sleep(0.3)
    raise AssertionError(f"publication {pid} was not published within 40 s ({status})")


def test_a_javascript_url_from_a_platform_never_runs(browser, hostile):
    base, engine, fake = hostile
    slug, post_id, pid = _due_post_on_mastodon(engine)
    stored = _wait_published(engine, pid)
    assert any(c.platform == "mastodon" for c in fake.creates)  # it really went out
    assert stored == ""  # the payload was not stored

    # A row written before this fix still holds the payload: the pages must not link it.
    with engine.begin() as conn:
        conn.execute(text("UPDATE publication SET remote_url = :u WHERE id = :i"),
                     {"u": PAYLOAD, "i": pid})

    page = browser.new_context(viewport={"width": 1400, "height": 1000}).new_page()
    dialogs: list[str] = []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    log_in(page, base, "admin@poise.local")
    for path in (f"/w/{slug}/posts/{post_id}", f"/w/{slug}/publishing"):
        response = page.goto(base + path)
        assert response is not None and response.status == 200
        assert "script-src 'self'" in response.headers["content-security-policy"]
        assert page.locator("a[href^='javascript' i]").count() == 0
        assert page.locator("a", has_text="view").count() == 0 or \
            page.locator("a", has_text="view").first.get_attribute("href") != PAYLOAD

    # Defence in depth: a javascript: link that reached the page anyway is clicked.
    page.evaluate("""payload => { const a = document.createElement('a'); a.id = 'injected';
        a.href = payload; a.textContent = 'view'; document.body.appendChild(a); }""", PAYLOAD)
    page.click("#injected")
    page.wait_for_timeout(500)
    # Inline handlers are refused too (they were moved into static/js).
    page.evaluate("""() => { const b = document.createElement('button'); b.id = 'inline';
        b.setAttribute('onclick', 'alert(1)'); b.textContent = 'x';
        document.body.appendChild(b); }""")
    page.click("#inline")
    page.wait_for_timeout(500)
    assert dialogs == []
