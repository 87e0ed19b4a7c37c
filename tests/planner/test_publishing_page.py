"""The Publishing page, its actions, the nav badge and /metrics."""

from datetime import UTC, datetime

from sqlmodel import select
from webhelpers import page_csrf

from planner.db import session_scope
from planner.models import Attempt, Post, PostStatus, Publication, PublicationStatus

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


def test_metrics_prometheus_text(world, engine, client):
    publication_in(engine, world, PublicationStatus.failed)
    r = client.get("/metrics")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/plain")
    lines = [line for line in r.text.splitlines() if line and not line.startswith("#")]
    names = {line.split()[0] for line in lines}
    assert any("failed" in n for n in names) and any("lateness" in n for n in names)
    assert all(len(line.split()) == 2 for line in lines)
