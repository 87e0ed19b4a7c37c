"""The Publishing page in real Chromium: what needs a person (needs review, failed, missed) is
listed with its attempt history and counted in the navigation; a manager marks one published,
sends one again (asked to confirm where it may already be out) and cancels one, and the page,
the badge and the database agree after each."""

from __future__ import annotations

from datetime import timedelta

import pytest
from browserhelpers import log_in
from sqlalchemy import text
from sqlmodel import select

from planner import publishing
from planner.db import make_engine, session_scope, utcnow
from planner.models import (
    Account,
    Attempt,
    Notification,
    Post,
    PostStatus,
    Publication,
    PublicationStatus,
    User,
    Workspace,
)
from tests.e2e.conftest import start_server, stop_server

S = PublicationStatus


@pytest.fixture(scope="module")
def pub_server(tmp_path_factory):
    """Its own server and database: the test writes publications into it directly."""
    var_dir = tmp_path_factory.mktemp("e2e-publishing")
    proc, base = start_server(var_dir)  # no worker: what is seeded stays as seeded
    yield base, make_engine(f"sqlite:///{var_dir / 'poise.db'}")
    stop_server(proc)


def seed(engine) -> dict:
    """Four publications that need a person, each with its history, and a notification."""
    when = utcnow() - timedelta(hours=3)
    attempts = {
        "review-a": [("unknown", "OutcomeUnknown", 504, "read timeout after the request left"),
                     ("reconcile_unknown", "OutcomeUnknown", None, "no lookup answered")],
        "review-b": [("unknown", "OutcomeUnknown", 500, "HTTP 500, may have posted")],
        "failed": [("rejected", "ContentRejected", 422, "text too long for this account")],
        "missed": [],
    }
    status = {"review-a": S.needs_review, "review-b": S.needs_review, "failed": S.failed,
              "missed": S.missed}
    with session_scope(engine) as s:
        workspace = s.exec(select(Workspace)).first()
        account = s.exec(select(Account).where(Account.workspace_id == workspace.id)).first()
        admin = s.exec(select(User).where(User.email == "admin@poise.local")).one()
        ids = {}
        for key, history in attempts.items():
            post = Post(workspace_id=workspace.id, text=f"E2E publishing {key}", tags="learn",
                        status=PostStatus.approved, scheduled_at=when)
            s.add(post)
            s.flush()
            pub = Publication(post_id=post.id, account_id=account.id,
                              workspace_id=workspace.id, status=status[key], scheduled_at=when,
                              due_at=when, attempts=len(history),
                              last_error=f"E2E {key}: a person must decide")
            s.add(pub)
            s.flush()
            for i, (outcome, error_class, http, detail) in enumerate(history):
                s.add(Attempt(publication_id=pub.id, attempt_id=f"e2e-{key}-{i}",
                              worker="e2e:1", started_at=when + timedelta(minutes=i),
                              finished_at=when + timedelta(minutes=i, seconds=30),
                              outcome=outcome, error_class=error_class, http_status=http,
                              detail=detail))
            ids[key] = pub.id
        s.add(Notification(workspace_id=workspace.id, user_id=admin.id,
                           text=f"{account.platform} account {account.handle} needs reconnecting: "
                                "token revoked (E2E)."))
        return {"slug": workspace.slug, "workspace_id": workspace.id, **ids}


def db_status(engine, pid: int) -> tuple[str, int, str]:
    with engine.connect() as conn:
        row = conn.execute(text("SELECT status, attempts, remote_url FROM publication "
                                "WHERE id = :i"), {"i": pid}).one()
    return str(row[0]), int(row[1]), str(row[2])


def needing_attention(engine, workspace_id: int) -> int:
    with session_scope(engine) as s:
        return publishing.count_needing_attention(s, workspace_id)


def test_needs_a_person_mark_published_send_again_cancel(browser, pub_server):
    base, engine = pub_server
    ids = seed(engine)
    slug = ids["slug"]
    attention = needing_attention(engine, ids["workspace_id"])
    assert attention >= 4  # the demo's own plus the four seeded

    page = browser.new_context(timezone_id="Europe/Warsaw",
                               viewport={"width": 1400, "height": 1000}).new_page()
    log_in(page, base, "admin@poise.local")
    nav = page.locator("nav.mainnav a", has_text="Publishing")
    assert nav.locator(".badge").inner_text() == str(attention)
    nav.click()
    page.wait_for_url(f"**/w/{slug}/publishing")

    # Each one in its section, with its attempts behind a disclosure.
    for key, section in (("review-a", "needs_review"), ("review-b", "needs_review"),
                         ("failed", "failed"), ("missed", "missed")):
        row = page.locator(f"#section-{section} #publication-{ids[key]}")
        assert f"E2E publishing {key}" in row.inner_text()
        assert f"E2E {key}: a person must decide" in row.inner_text()
    history = page.locator(f"#publication-{ids['review-a']} details")
    history.locator("summary").click()
    lines = history.locator("li").all_inner_texts()
    assert len(lines) == 2
    assert "unknown · OutcomeUnknown · HTTP 504" in lines[0]
    assert "read timeout after the request left" in lines[0]
    assert "reconcile_unknown" in lines[1]
    assert page.locator(f"#publication-{ids['missed']} td").nth(4).inner_text() == "0"
    # The owner is told about the paused account on the same page.
    notice = page.locator("#notifications")
    assert "needs reconnecting: token revoked (E2E)" in notice.inner_text()
    assert notice.locator("#notifications-unread").inner_text() == "1"

    # 1. Mark published: a person found it on the platform.
    row = page.locator(f"#publication-{ids['review-a']}")
    row.locator("input[name=remote_url]").fill("https://coffee.social/@juniper/110000000001")
    row.locator("button", has_text="Mark published").click()
    page.wait_for_url("**/publishing?done=*")
    assert page.locator("p.notice").inner_text() == "Marked as published."
    assert db_status(engine, ids["review-a"]) == (
        "published", 2, "https://coffee.social/@juniper/110000000001")
    published = page.locator(f"#section-published #publication-{ids['review-a']}")
    assert "https://coffee.social/@juniper/110000000001" in published.inner_text()
    assert nav.locator(".badge").inner_text() == str(attention - 1)

    # 2. Send again where it may already be out: the page asks first. "No" changes nothing.
    row = page.locator(f"#publication-{ids['review-b']}")
    page.once("dialog", lambda dialog: dialog.dismiss())
    row.locator("button", has_text="Send again").click()
    page.wait_for_timeout(300)
    assert db_status(engine, ids["review-b"])[0] == "needs_review"
    assert page.locator(f"#section-needs_review #publication-{ids['review-b']}").count() == 1
    page.once("dialog", lambda dialog: dialog.accept())
    row.locator("button", has_text="Send again").click()
    page.wait_for_url("**/publishing?done=Queued*")
    assert db_status(engine, ids["review-b"])[:2] == ("retry_wait", 0)
    assert page.locator(f"#section-upcoming #publication-{ids['review-b']}").count() == 1
    assert nav.locator(".badge").inner_text() == str(attention - 2)

    # A failed one is sent again without a question (nothing can have gone out).
    page.locator(f"#publication-{ids['failed']} button", has_text="Send again").click()
    page.wait_for_url("**/publishing?done=Queued*")
    assert db_status(engine, ids["failed"])[:2] == ("retry_wait", 0)
    assert page.locator(f"#section-upcoming #publication-{ids['failed']}").count() == 1

    # 3. Cancel the missed one: gone from every section, never sent.
    page.locator(f"#publication-{ids['missed']} button", has_text="Cancel").click()
    page.wait_for_url("**/publishing?done=Cancelled*")
    assert db_status(engine, ids["missed"])[0] == "cancelled"
    assert page.locator(f"#publication-{ids['missed']}").count() == 0
    remaining = attention - 4
    assert needing_attention(engine, ids["workspace_id"]) == remaining
    if remaining:
        assert nav.locator(".badge").inner_text() == str(remaining)
    else:
        assert nav.locator(".badge").count() == 0
