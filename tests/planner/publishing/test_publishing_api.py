"""The Publishing view, scriptable: /api/v1 publications with filters, real totals, the
story, and the actions with roles enforced; the page's totals and paging."""

from __future__ import annotations

from datetime import timedelta

import pytest

from planner.db import session_scope, utcnow
from planner.models import Post, PostStatus, Publication, PublicationStatus
from tests.planner.posts.test_api import token_for
from tests.planner.publishing.test_publishing_page import AT, publication_in

S = PublicationStatus


@pytest.fixture
def api(world, client):
    def call(method, path, email="manager@acme.test", **kw):
        headers = {"Authorization": f"Bearer {token_for(email)}"}
        return client.request(method, f"/api/v1/workspaces/{world.workspace_id}{path}",
                              headers=headers, **kw)
    return call


def many_published(engine, world, n):
    with session_scope(engine) as s:
        for i in range(n):
            post = Post(workspace_id=world.workspace_id, text=f"bulk {i}",
                        status=PostStatus.approved, scheduled_at=AT)
            s.add(post)
            s.flush()
            s.add(Publication(post_id=post.id, account_id=world.account_id,
                              workspace_id=world.workspace_id, status=S.published,
                              scheduled_at=AT + timedelta(minutes=i), updated_at=utcnow()))


def test_needs_review_is_listed_with_its_story_and_real_totals(api, world, engine):
    review = publication_in(engine, world, S.needs_review, last_error="3 send(s)")
    publication_in(engine, world, S.failed)
    many_published(engine, world, 60)

    r = api("GET", "/publications?status=needs_review", email="viewer@acme.test")
    assert r.status_code == 200
    body = r.json()
    assert body["total"] == 1 and [i["id"] for i in body["items"]] == [review]
    [item] = body["items"]
    assert item["history"][0]["outcome"] == "unknown"
    assert item["history"][0]["http_status"] == 504
    assert item["platform"] == "mastodon" and item["last_error"] == "3 send(s)"
    assert body["counts"]["published"] == 60 and body["counts"]["needs_review"] == 1

    page = api("GET", "/publications?status=published&limit=25&offset=50").json()
    assert page["total"] == 60 and len(page["items"]) == 10
    both = api("GET", "/publications?status=failed&status=needs_review").json()
    assert both["total"] == 2
    assert api("GET", "/publications?platform=x").json()["total"] == 0
    since = (AT + timedelta(minutes=30)).isoformat()
    assert api("GET", "/publications", params={"since": since}).json()["total"] == 30
    r = api("GET", "/publications?status=bogus")
    assert r.status_code == 422 and r.headers["content-type"].startswith(
        "application/problem+json")
    assert api("GET", "/publications?limit=0").status_code == 422


def test_actions_with_roles_and_an_https_address(api, world, engine):
    review = publication_in(engine, world, S.needs_review)
    failed = publication_in(engine, world, S.failed)
    sending = publication_in(engine, world, S.sending)

    r = api("POST", f"/publications/{review}/mark-published", email="viewer@acme.test",
            json={"remote_url": "https://bikes.social/@acme/1"})
    assert r.status_code == 403
    for bad in ("http://bikes.social/@acme/1", "javascript:alert(1)", "https://",
                "https://bikes.social/a b"):
        r = api("POST", f"/publications/{review}/mark-published", json={"remote_url": bad})
        assert r.status_code == 422, bad
        assert "remote_url" in str(r.json())
    r = api("POST", f"/publications/{review}/mark-published",
            json={"remote_url": "https://bikes.social/@acme/1"})
    assert r.status_code == 200 and r.json()["status"] == "published"
    assert r.json()["remote_url"] == "https://bikes.social/@acme/1"

    r = api("POST", f"/publications/{failed}/retry")
    assert r.status_code == 200 and r.json()["status"] == "retry_wait"
    r = api("POST", f"/publications/{failed}/cancel")
    assert r.status_code == 200 and r.json()["status"] == "cancelled"
    r = api("POST", f"/publications/{sending}/cancel")
    assert r.status_code == 409
    r = api("GET", f"/publications/{sending}", email="viewer@acme.test")
    assert r.status_code == 200 and r.json()["status"] == "sending"


def test_another_workspaces_publication_is_not_found(api, world, engine, client):
    mine = publication_in(engine, world, S.failed)
    r = client.get(f"/api/v1/workspaces/{world.other_workspace_id}/publications",
                   headers={"Authorization": f"Bearer {token_for('admin@other.test')}"})
    assert r.status_code == 200 and r.json()["total"] == 0
    r = client.post(f"/api/v1/workspaces/{world.other_workspace_id}/publications/{mine}/retry",
                    headers={"Authorization": f"Bearer {token_for('admin@other.test')}"})
    assert r.status_code == 404


def test_the_page_shows_real_totals_and_pages(world, engine, make_client):
    many_published(engine, world, 120)
    c = make_client("viewer@acme.test")
    page = c.get(f"/w/{world.slug}/publishing").text
    assert "Published <span class=\"muted\">(120)</span>" in page
    assert "Showing 1–50 of 120" in page
    nxt = c.get(f"/w/{world.slug}/publishing?section=published&offset=100").text
    assert "Showing 101–120 of 120" in nxt
    filtered = c.get(f"/w/{world.slug}/publishing?platform=x").text
    assert "Published: none</span> (with these filters)" in filtered
    assert c.get(f"/w/{world.slug}/publishing?since=yesterday").status_code == 422
