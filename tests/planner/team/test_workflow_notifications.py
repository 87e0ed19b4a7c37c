"""Workflow notifications (issue 14): who hears about what, per-user read state, and the
e-mail copy delivered through a real local SMTP server (aiosmtpd)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlmodel import select

from planner import posts
from planner.db import session_scope
from planner.models import (
    Membership,
    Notification,
    Publication,
    PublicationStatus,
    Role,
    User,
    Workspace,
)
from planner.publishing.alerts import notify_problems
from planner.team import mail, notifications

NOW = datetime(2026, 11, 2, 10, 0, tzinfo=UTC)


def _actor(session, world, email):
    user = session.exec(select(User).where(User.email == email)).one()
    role = session.exec(select(Membership.role).where(
        Membership.user_id == user.id, Membership.workspace_id == world.workspace_id)).one()
    return posts.Actor(user_id=user.id, role=Role(role),
                       workspace=session.get(Workspace, world.workspace_id))


def _uid(session, email):
    return session.exec(select(User.id).where(User.email == email)).one()


def _submitted(session, world, text="How to fix a flat in 5 steps"):
    manager = _actor(session, world, "manager@acme.test")
    post = posts.create_post(session=session, actor=manager, now=NOW, data=posts.PostInput(
        text=text, account_ids=[world.account_id], tags=["learn"],
        scheduled_local="2026-11-20T09:30"))
    return posts.submit_for_review(session=session, actor=manager, post_id=post.id,
                                   expected_version=post.version, now=NOW)


def _texts(session, world, email):
    return [n.text for n in notifications.notifications_for(
        session=session, workspace_id=world.workspace_id, user_id=_uid(session, email))]


def test_submit_tells_leads_and_admins_not_the_author(world, engine):
    with session_scope(engine) as s:
        _submitted(s, world)
        assert any("sent “How to fix a flat" in t for t in _texts(s, world, "lead@acme.test"))
        assert len(_texts(s, world, "admin@acme.test")) == 1
        assert _texts(s, world, "manager@acme.test") == []
        assert _texts(s, world, "viewer@acme.test") == []
        assert _texts(s, world, "admin@other.test") == []


def test_decisions_tell_the_author_and_mentions_tell_the_named(world, engine):
    with session_scope(engine) as s:
        post = _submitted(s, world)
        lead = _actor(s, world, "lead@acme.test")
        posts.request_changes(session=s, actor=lead, post_id=post.id,
                              expected_version=post.version,
                              comment="Shorter please; @viewer can you check the photo?",
                              now=NOW)
        author = _texts(s, world, "manager@acme.test")
        assert len(author) == 1 and "asked for changes" in author[0]
        assert "Shorter please" in author[0]
        assert any("mentioned you" in t for t in _texts(s, world, "viewer@acme.test"))
        link = notifications.notifications_for(
            session=s, workspace_id=world.workspace_id,
            user_id=_uid(s, "manager@acme.test"))[0].link
        assert link == f"/w/{world.slug}/posts/{post.id}"


def test_read_state_is_per_person(world, engine):
    with session_scope(engine) as s:
        _submitted(s, world)
        lead, admin = _uid(s, "lead@acme.test"), _uid(s, "admin@acme.test")
        mine = notifications.notifications_for(session=s, workspace_id=world.workspace_id,
                                               user_id=lead)[0]
        notifications.mark_read(session=s, workspace_id=world.workspace_id, user_id=lead,
                                notification_id=mine.id, now=NOW)
        assert notifications.unread_count(session=s, workspace_id=world.workspace_id,
                                          user_id=lead) == 0
        assert notifications.unread_count(session=s, workspace_id=world.workspace_id,
                                          user_id=admin) == 1


def test_failed_publication_tells_author_and_admins_once(world, engine):
    with session_scope(engine) as s:
        post = _submitted(s, world)
        publication = s.exec(select(Publication).where(Publication.post_id == post.id)).one()
        publication.status = PublicationStatus.failed
        publication.last_error = "the platform refused the image"
        publication.updated_at = NOW
        s.add(publication)
        s.flush()
        assert notify_problems(session=s, now=NOW + timedelta(minutes=1)) == 2
        assert notify_problems(session=s, now=NOW + timedelta(minutes=2)) == 0
        author = _texts(s, world, "manager@acme.test")
        assert any("could not be published" in t and "refused the image" in t for t in author)
        assert not any("could not be published" in t for t in _texts(s, world, "lead@acme.test"))


def test_no_smtp_server_means_no_email_queued(world, engine, smtp_server):
    url, received = smtp_server
    with session_scope(engine) as s:
        notifications.set_email_preference(session=s, user_id=_uid(s, "lead@acme.test"),
                                           enabled=True)
        _submitted(s, world)
    with session_scope(engine) as s:
        statuses = {n.user_id: n.email_status for n in s.exec(select(Notification))}
        assert statuses[_uid(s, "lead@acme.test")] == ""  # POISE_SMTP_URL is not set
    assert mail.send_pending(engine=engine, smtp_url=url, sender="poise@test.local",
                             base_url="http://poise.test") == 0
    assert received == []


def test_email_queued_sent_once_and_failure_bounded(world, engine, smtp_server, monkeypatch):
    from planner.settings import get_settings

    url, received = smtp_server
    monkeypatch.setenv("POISE_SMTP_URL", url)
    get_settings.cache_clear()
    with session_scope(engine) as s:
        notifications.set_email_preference(session=s, user_id=_uid(s, "lead@acme.test"),
                                           enabled=True)
    with session_scope(engine) as s:
        _submitted(s, world, text="Café crema, 咖啡 and ☕ at dawn")
    assert mail.send_pending(engine=engine, smtp_url=url, sender="poise@test.local",
                             base_url="http://poise.test") == 1
    assert len(received) == 1
    message = received[0]
    assert message["To"] == "lead@acme.test"
    from email.header import decode_header, make_header

    assert "咖啡" in str(make_header(decode_header(str(message["Subject"]))))
    assert f"http://poise.test/w/{world.slug}/review" in message.get_payload(decode=True).decode()
    # sent once: a second round sends nothing
    assert mail.send_pending(engine=engine, smtp_url=url, sender="poise@test.local",
                             base_url="http://poise.test") == 0
    with session_scope(engine) as s:
        by_user = {n.user_id: n.email_status for n in s.exec(select(Notification))}
        assert by_user[_uid(s, "lead@acme.test")] == "sent"
        assert by_user[_uid(s, "admin@acme.test")] == ""  # did not opt in

    # an unreachable server: three tries, then "failed", and no more tries
    with session_scope(engine) as s:
        _submitted(s, world, text="Second post")
    dead = "smtp://127.0.0.1:1"
    for _ in range(5):
        mail.send_pending(engine=engine, smtp_url=dead, sender="poise@test.local",
                          base_url="http://poise.test")
    with session_scope(engine) as s:
        latest = s.exec(select(Notification).where(
            Notification.user_id == _uid(s, "lead@acme.test"),
            Notification.text.contains("Second post"))).one()
        assert (latest.email_status, latest.email_attempts) == ("failed", mail.MAX_ATTEMPTS)
