"""The Publishing page, its actions, the nav badge and /metrics."""

import re
from datetime import UTC, datetime, timedelta

import pytest
from sqlmodel import select
from webhelpers import csrf_from, page_csrf

from planner.db import session_scope, utcnow
from planner.models import (
    Account,
    Attempt,
    Notification,
    Post,
    PostStatus,
    Publication,
    PublicationStatus,
    User,
)
from planner.publishing.dispatch import DispatchConfig, Dispatcher
from planner.web.app import create_app
from publishers import AuthExpired

AT = datetime(2026, 11, 1, 9, 0, tzinfo=UTC)


def publication_in(engine, world, status, **extra):
    with session_scope(engine) as s:
        post = Post(workspace_id=world.workspace_id, text=f"a {status} post",
                    status=PostStatus.approved, scheduled_at=AT)
        s.add(post)
        s.flush()
        pub = Publication(post_id=post.id, account_id=world.account_id,
                          workspace_id=world.workspace_id, scheduled_at=AT, due_at=AT,
                          status=status, **extra)
        s.add(pub)
        s.flush()
        s.add(Attempt(publication_id=pub.id, attempt_id="a1", outcome="unknown",
                      error_class="OutcomeUnknown", http_status=504,
                      detail="timeout after the request left"))
        return pub.id


def test_sections_attempts_and_badge(world, engine, make_client):
    publication_in(engine, world, PublicationStatus.needs_review,
                   last_error="The platform did not answer; it may have posted.")
    publication_in(engine, world, PublicationStatus.missed)
    c = make_client("viewer@acme.test")
    page = c.get(f"/w/{world.slug}/publishing")
    assert page.status_code == 200
    assert "it may have posted" in page.text and "HTTP 504" in page.text
    assert '<span class="badge" title="needs attention">2</span>' in page.text
    assert "Send again" not in page.text  # viewers only look


def test_mark_published_and_retry_and_cancel(world, engine, make_client):
    unknown = publication_in(engine, world, PublicationStatus.needs_review)
    missed = publication_in(engine, world, PublicationStatus.missed)
    failed = publication_in(engine, world, PublicationStatus.failed)
    c = make_client("manager@acme.test")
    csrf = page_csrf(c, f"/w/{world.slug}/publishing")
    r = c.post(f"/w/{world.slug}/publishing/{unknown}/mark-published",
               data={"csrf_token": csrf, "remote_url": "not a url"})
    assert r.status_code == 422
    r = c.post(f"/w/{world.slug}/publishing/{unknown}/mark-published",
               data={"csrf_token": csrf, "remote_url": "https://fake.social/@a/1"},
               follow_redirects=False)
    assert r.status_code == 303
    c.post(f"/w/{world.slug}/publishing/{missed}/retry", data={"csrf_token": csrf})
    c.post(f"/w/{world.slug}/publishing/{failed}/cancel", data={"csrf_token": csrf})
    with session_scope(engine) as s:
        states = {p.id: p.status for p in s.exec(select(Publication))}
    assert states[unknown] == PublicationStatus.published
    assert states[missed] in (PublicationStatus.pending, PublicationStatus.retry_wait)
    assert states[failed] == PublicationStatus.cancelled


def test_sending_cannot_be_cancelled(world, engine, make_client):
    sending = publication_in(engine, world, PublicationStatus.sending)
    c = make_client("manager@acme.test")
    r = c.post(f"/w/{world.slug}/publishing/{sending}/cancel",
               data={"csrf_token": page_csrf(c, f"/w/{world.slug}/publishing")})
    assert r.status_code == 409


def test_metrics_needs_its_token(world, client, monkeypatch):
    from planner.settings import get_settings
    assert client.get("/metrics").status_code == 404  # off without the setting
    monkeypatch.setenv("POISE_METRICS_TOKEN", "scrape-me")
    get_settings.cache_clear()
    assert client.get("/metrics").status_code == 404
    assert client.get("/metrics", headers={"Authorization": "Bearer wrong"}).status_code == 404


def test_metrics_prometheus_text(world, engine, client, monkeypatch):
    from planner.settings import get_settings
    monkeypatch.setenv("POISE_METRICS_TOKEN", "scrape-me")
    get_settings.cache_clear()
    publication_in(engine, world, PublicationStatus.failed)
    r = client.get("/metrics", headers={"Authorization": "Bearer scrape-me"})
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/plain")
    lines = [line for line in r.text.splitlines() if line and not line.startswith("#")]
    names = {line.split()[0] for line in lines}
    assert any("failed" in n for n in names) and any("lateness" in n for n in names)
    assert all(len(line.split()) == 2 for line in lines)


# --- notifications: an account paused for an expired token tells its owner ---------------------

@pytest.fixture
def app(engine):
    return create_app()


class TokenRevoked:
    """A publisher whose account's token was revoked."""

    def validate(self, content, account):
        return []

    def publish(self, content, account, ctx):
        raise AuthExpired("token revoked", status=401)


def user_id(engine, email):
    with session_scope(engine) as s:
        return s.exec(select(User).where(User.email == email)).one().id


def pause_account_by_auth_expired(engine, world):
    """A due post on the world's account, sent by the real dispatcher: AuthExpired."""
    manager = user_id(engine, "manager@acme.test")
    with session_scope(engine) as s:
        s.get(Account, world.account_id).owner_id = manager
    due = utcnow() - timedelta(seconds=5)
    with session_scope(engine) as s:
        post = Post(workspace_id=world.workspace_id, text="due now", status=PostStatus.approved,
                    scheduled_at=due)
        s.add(post)
        s.flush()
        s.add(Publication(post_id=post.id, account_id=world.account_id,
                          workspace_id=world.workspace_id, scheduled_at=due, due_at=due))
    dispatcher = Dispatcher(engine, DispatchConfig(threads=1),
                            publisher_for=lambda _: TokenRevoked())
    dispatcher.tick()
    assert dispatcher.wait_idle(10)
    dispatcher.shutdown()


def panel(html):
    start = html.find('id="notifications"')
    return html[start:html.find("</section>", start)] if start >= 0 else ""


class TestNotifications:
    def test_the_owner_and_admins_are_told_on_the_publishing_page(self, world, engine,
                                                                  make_client):
        pause_account_by_auth_expired(engine, world)
        for email in ("manager@acme.test", "admin@acme.test"):  # the owner, an admin
            page = make_client(email).get(f"/w/{world.slug}/publishing").text
            shown = panel(page)
            assert "mastodon account @acme@bikes.social needs reconnecting: token revoked" \
                in shown, email
            assert "held until it is reconnected" in shown
            assert '<span class="badge" id="notifications-unread" title="unread">1</span>' in shown
        # A lead who neither owns the account nor administers the workspace: nothing.
        lead_page = make_client("lead@acme.test").get(f"/w/{world.slug}/publishing").text
        assert panel(lead_page) == "" and "held until it is reconnected" not in lead_page

    def test_mark_read_from_the_publishing_page(self, world, engine, make_client):
        pause_account_by_auth_expired(engine, world)
        c = make_client("manager@acme.test")
        page = c.get(f"/w/{world.slug}/publishing").text
        [nid] = re.findall(r'id="notification-(\d+)"', page)
        r = c.post(f"/w/{world.slug}/notifications/{nid}/read",
                   data={"csrf_token": csrf_from(page), "next": f"/w/{world.slug}/publishing"},
                   follow_redirects=False)
        assert r.status_code == 303 and r.headers["location"] == f"/w/{world.slug}/publishing"
        assert panel(c.get(f"/w/{world.slug}/publishing").text) == ""
        # Still listed, as read, on the notifications page; the admin's copy is still unread.
        everything = c.get(f"/w/{world.slug}/notifications").text
        assert "needs reconnecting" in everything and "(read)" in everything
        admin = make_client("admin@acme.test").get(f"/w/{world.slug}/publishing").text
        assert "needs reconnecting" in panel(admin)

    def test_htmx_mark_read_returns_the_panel_and_mark_all(self, world, engine, make_client):
        viewer = user_id(engine, "viewer@acme.test")
        with session_scope(engine) as s:
            s.add_all([Notification(workspace_id=world.workspace_id, user_id=viewer,
                                    text=f"note {i}") for i in range(3)])
        c = make_client("viewer@acme.test")
        page = c.get(f"/w/{world.slug}/publishing").text
        ids = re.findall(r'id="notification-(\d+)"', page)
        assert len(ids) == 3 and "Mark all read" in page
        r = c.post(f"/w/{world.slug}/notifications/{ids[0]}/read",
                   data={"next": f"/w/{world.slug}/publishing"},
                   headers={"HX-Request": "true", "X-CSRF-Token": csrf_from(page)})
        assert r.status_code == 200 and r.text.lstrip().startswith('<section class="card')
        assert f'id="notification-{ids[0]}"' not in r.text  # the panel lists unread ones
        assert 'title="unread">2</span>' in r.text
        r = c.post(f"/w/{world.slug}/notifications/read-all",
                   data={"csrf_token": csrf_from(page)}, follow_redirects=False)
        assert r.status_code == 303
        assert panel(c.get(f"/w/{world.slug}/publishing").text) == ""

    def test_only_ones_own_notifications(self, world, engine, make_client):
        admin = user_id(engine, "admin@acme.test")
        with session_scope(engine) as s:
            mine = Notification(workspace_id=world.workspace_id, user_id=admin, text="for admin")
            everyone = Notification(workspace_id=world.workspace_id, user_id=None,
                                    text="for the whole workspace")
            elsewhere = Notification(workspace_id=world.other_workspace_id, user_id=None,
                                     text="another brand's")
            s.add_all([mine, everyone, elsewhere])
            s.flush()
            ids = {"mine": mine.id, "elsewhere": elsewhere.id}
        c = make_client("viewer@acme.test")
        page = c.get(f"/w/{world.slug}/publishing").text
        assert "for the whole workspace" in panel(page)
        assert "for admin" not in page and "another brand" not in page
        csrf = csrf_from(page)
        for nid in ids.values():
            r = c.post(f"/w/{world.slug}/notifications/{nid}/read", data={"csrf_token": csrf})
            assert r.status_code == 404
        with session_scope(engine) as s:
            assert s.get(Notification, ids["mine"]).read_at is None
        # An outside address in "next" is not followed.
        r = c.post(f"/w/{world.slug}/notifications/read-all",
                   data={"csrf_token": csrf, "next": "https://evil.test/"},
                   follow_redirects=False)
        assert r.headers["location"] == f"/w/{world.slug}/notifications"
