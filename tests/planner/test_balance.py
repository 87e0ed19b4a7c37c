"""The compass in the product: worked examples via API and page, what-if, approval warnings."""

from datetime import UTC, datetime, timedelta

import pytest
from sqlmodel import select
from webhelpers import page_csrf

from planner import posts, users
from planner.db import session_scope
from planner.models import (
    Post,
    PostStatus,
    Publication,
    PublicationStatus,
    Role,
    User,
    Workspace,
)

BASE = datetime(2026, 10, 1, 9, 0, tzinfo=UTC)
WORKED = {  # counts Try/Share/Care/Learn over 20 posts -> expected (status, headline part)
    (10, 4, 3, 3): ("overweight", "Try new things is overweight"),
    (6, 5, 5, 4): ("balanced", "3.9 of 4"),
    (8, 6, 6, 0): ("missing", "Learn new things is missing"),
}


def publish_history(engine, world, counts, account_id=None, try_oldest=True):
    """Published posts on the account with the given quadrant counts, interleaved.

    ``try_oldest=False`` puts a non-Try post oldest, so a what-if (which pushes the oldest out
    of a full window) adds a Try post without removing one.
    """
    account_id = account_id or world.account_id
    tags = []
    for quadrant, n in zip(("try", "share", "care", "learn"), counts, strict=True):
        tags += [quadrant] * n
    tags = tags[::2] + tags[1::2]  # spread, so "missing" depends on counts, not order
    if not try_oldest:
        tags.reverse()
    with session_scope(engine) as s:
        for i, tag in enumerate(tags):
            at = BASE + timedelta(days=i)
            post = Post(workspace_id=world.workspace_id, text=f"post {i}", tags=tag,
                        status=PostStatus.approved, scheduled_at=at)
            s.add(post)
            s.flush()
            s.add(Publication(post_id=post.id, account_id=account_id,
                              workspace_id=world.workspace_id, scheduled_at=at,
                              status=PublicationStatus.published, published_at=at))


def token(email):
    with session_scope() as s:
        user = s.exec(select(User).where(User.email == email)).one()
        return users.issue_api_token(session=s, user=user, name="t").secret


@pytest.mark.parametrize("counts", list(WORKED))
def test_worked_examples_through_the_api(world, engine, client, counts):
    publish_history(engine, world, counts)
    r = client.get(f"/api/v1/accounts/{world.account_id}/balance",
                   headers={"Authorization": f"Bearer {token('viewer@acme.test')}"})
    assert r.status_code == 200, r.text
    body = r.json()
    status, headline = WORKED[counts]
    assert status in body["statuses"]
    assert any(headline in h for h in body["headlines"]), body["headlines"]
    assert body["n"] == 20 and body["published_count"] == 20
    if counts == (10, 4, 3, 3):
        q = next(q for q in body["quadrants"] if q["quadrant"] == "try")
        assert q["share"] == 0.5 and q["times_fair_share"] == 2.0


def test_worked_examples_on_the_balance_page(world, engine, make_client):
    publish_history(engine, world, (10, 4, 3, 3))
    page = make_client("viewer@acme.test").get(f"/w/{world.slug}/balance")
    assert page.status_code == 200
    assert "Try new things is overweight" in page.text and "<svg" in page.text
    assert 'data-status="overweight"' in page.text
    assert "What next:" in page.text


def test_what_if_and_isolation(world, engine, client):
    publish_history(engine, world, (8, 4, 4, 4), try_oldest=False)
    headers = {"Authorization": f"Bearer {token('viewer@acme.test')}"}
    r = client.get(f"/api/v1/accounts/{world.account_id}/balance?what_if=try", headers=headers)
    assert "overweight" in r.json()["statuses"]
    r = client.get(f"/api/v1/accounts/{world.account_id}/balance?what_if=fun", headers=headers)
    assert r.status_code == 422
    r = client.get(f"/api/v1/accounts/{world.other_account_id}/balance", headers=headers)
    assert r.status_code == 404


def test_not_enough_posts(world, engine, client):
    publish_history(engine, world, (2, 1, 1, 1))
    r = client.get(f"/api/v1/accounts/{world.account_id}/balance",
                   headers={"Authorization": f"Bearer {token('viewer@acme.test')}"})
    assert r.json()["status"] == "not_enough_posts"


class TestApprovalWarning:
    def _in_review(self, engine, world, tag="try"):
        with session_scope(engine) as s:
            ws = s.get(Workspace, world.workspace_id)
            manager = posts.Actor(user_id=world.admin_id, role=Role.manager, workspace=ws)
            post = posts.create_post(session=s, actor=manager, now=BASE + timedelta(days=30),
                                     data=posts.PostInput(text="Try our new roast!",
                                                          account_ids=[world.account_id],
                                                          tags=[tag], tag_source="suggested",
                                                          scheduled_local="2026-12-20T10:00"))
            posts.submit_for_review(session=s, actor=manager, post_id=post.id,
                                    expected_version=1, now=BASE + timedelta(days=30))
            return post.id

    def test_tipping_post_needs_confirmation_with_the_reason(self, world, engine, make_client):
        publish_history(engine, world, (8, 4, 4, 4), try_oldest=False)
        post_id = self._in_review(engine, world)
        lead = make_client("lead@acme.test")
        review = lead.get(f"/w/{world.slug}/review")
        assert "Try new things overweight" in review.text and "Approve anyway" in review.text
        csrf = page_csrf(lead, f"/w/{world.slug}/review")
        r = lead.post(f"/w/{world.slug}/posts/{post_id}/approve",
                      data={"version": 2, "csrf_token": csrf})
        assert r.status_code == 409 and "Confirm to approve anyway" in r.text
        r = lead.post(f"/w/{world.slug}/posts/{post_id}/approve",
                      data={"version": 2, "csrf_token": csrf, "confirm": "1"},
                      follow_redirects=False)
        assert r.status_code == 303
        with session_scope() as s:
            post = s.get(Post, post_id)
            assert post.status == PostStatus.approved and post.tag_source == "confirmed"

    def test_balanced_post_approves_without_question(self, world, engine, make_client):
        publish_history(engine, world, (8, 4, 4, 4), try_oldest=False)
        post_id = self._in_review(engine, world, tag="learn")
        lead = make_client("lead@acme.test")
        r = lead.post(f"/w/{world.slug}/posts/{post_id}/approve",
                      data={"version": 2, "csrf_token": page_csrf(lead, f"/w/{world.slug}/review")},
                      follow_redirects=False)
        assert r.status_code == 303


def test_composer_hints_suggest_and_warn(world, engine, make_client):
    publish_history(engine, world, (8, 4, 4, 4), try_oldest=False)
    c = make_client("manager@acme.test")
    csrf = page_csrf(c, f"/w/{world.slug}/posts/new")
    r = c.post(f"/w/{world.slug}/compose/compass", headers={"X-CSRF-Token": csrf,
                                                             "HX-Request": "true"},
               data={"text": "Be the first to try our brand-new limited edition roast!",
                     "account_ids": [str(world.account_id)]})
    assert r.status_code == 200 and 'data-apply-tags="try"' in r.text and "Why:" in r.text
    assert "overweight" in r.text


def test_suggest_api(world, client):
    r = client.post("/api/v1/compass/suggest",
                    headers={"Authorization": f"Bearer {token('viewer@acme.test')}"},
                    json={"text": "How to descale your espresso machine: a step-by-step guide",
                          "workspace_id": world.workspace_id})
    assert r.status_code == 200 and r.json()["tags"] == ["learn"] and r.json()["why"]
    r = client.post("/api/v1/compass/suggest",
                    headers={"Authorization": f"Bearer {token('viewer@acme.test')}"},
                    json={"text": "x", "workspace_id": world.other_workspace_id})
    assert r.status_code == 404


def test_balance_settings_form(world, make_client):
    lead = make_client("lead@acme.test")
    csrf = page_csrf(lead, f"/w/{world.slug}/balance")
    data = {"csrf_token": csrf, "target_try": "40", "target_share": "20", "target_care": "20",
            "target_learn": "30", "balance_window": "20", "balance_min_sample": "8",
            "alpha": "0.05", "missing_after": "12"}
    r = lead.post(f"/w/{world.slug}/balance/settings", data=data)
    assert r.status_code == 422 and "must add up to 100%" in r.text
    data["target_learn"] = "20"
    r = lead.post(f"/w/{world.slug}/balance/settings", data=data)
    assert r.status_code == 200 and "Saved." in r.text
    with session_scope() as s:
        assert s.get(Workspace, world.workspace_id).target_try == 40
    manager = make_client("manager@acme.test")
    r = manager.post(f"/w/{world.slug}/balance/settings",
                     data={**data, "csrf_token": page_csrf(manager, f"/w/{world.slug}/balance")})
    assert r.status_code == 403
