"""Issue 14: time is honest (past times refused at the field, Publish now, Duplicate) and a
post shows what happened to it (outcome in words, accounts by name, locked once sent)."""

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import update
from sqlmodel import select
from webhelpers import page_csrf

from planner import posts
from planner.db import session_scope
from planner.errors import Conflict, Invalid
from planner.models import (
    Membership,
    Post,
    PostStatus,
    Publication,
    PublicationStatus,
    Role,
    User,
    Workspace,
)

NOW = datetime(2026, 11, 2, 10, 0, tzinfo=UTC)
ZONE = "Europe/Warsaw"
PAST_WORDS = "That time has passed in Europe/Warsaw; pick a later one or Publish now."


def actor(session, world, email):
    user = session.exec(select(User).where(User.email == email)).one()
    role = session.exec(select(Membership.role).where(
        Membership.user_id == user.id, Membership.workspace_id == world.workspace_id)).one()
    return posts.Actor(user_id=user.id, role=Role(role),
                       workspace=session.get(Workspace, world.workspace_id))


def make(s, world, when="2026-11-20T09:30", **extra):
    return posts.create_post(session=s, actor=actor(s, world, "manager@acme.test"), now=NOW,
                             data=posts.PostInput(text="Fix a flat in 5 steps", tags=["learn"],
                                                  account_ids=[world.account_id],
                                                  scheduled_local=when, **extra))


def local(delta: timedelta) -> str:
    return (datetime.now(UTC) + delta).astimezone(ZoneInfo(ZONE)).strftime("%Y-%m-%dT%H:%M")


class TestPastTimes:
    def test_refused_at_save_with_words_at_the_field(self, world, engine):
        with session_scope(engine) as s, pytest.raises(Invalid) as caught:
            make(s, world, when="2026-11-02T10:59")  # 09:59 UTC: a minute ago
        assert caught.value.problems[0].field == "scheduled_local"
        assert caught.value.problems[0].message == PAST_WORDS

    def test_the_current_minute_is_still_allowed(self, world, engine):
        with session_scope(engine) as s:
            assert make(s, world, when="2026-11-02T11:00").scheduled_at == NOW

    def test_submit_and_approve_refuse_a_time_that_passed_meanwhile(self, world, engine):
        with session_scope(engine) as s:
            post = make(s, world)
            later = datetime(2026, 11, 21, tzinfo=UTC)
            with pytest.raises(Invalid) as caught:
                posts.submit_for_review(session=s, actor=actor(s, world, "manager@acme.test"),
                                        post_id=post.id, expected_version=1, now=later)
            assert caught.value.problems[0].message == PAST_WORDS
            posts.submit_for_review(session=s, actor=actor(s, world, "manager@acme.test"),
                                    post_id=post.id, expected_version=1, now=NOW)
            with pytest.raises(Invalid) as caught:
                posts.approve(session=s, actor=actor(s, world, "lead@acme.test"),
                              post_id=post.id, expected_version=2, now=later,
                              confirm_balance=True)
            assert caught.value.problems[0].field == "scheduled_local"

    def test_move_to_the_past_is_refused(self, world, engine):
        with session_scope(engine) as s:
            post = make(s, world)
            with pytest.raises(Invalid, match="has passed"):
                posts.reschedule(session=s, actor=actor(s, world, "manager@acme.test"),
                                 post_id=post.id, expected_version=1,
                                 scheduled_local="2026-11-01T09:00", fold=None, now=NOW)

    def test_composer_shows_the_words_at_the_time_field(self, world, make_client):
        c = make_client("manager@acme.test")
        token = page_csrf(c, f"/w/{world.slug}/posts/new")
        r = c.post(f"/w/{world.slug}/posts", data={
            "csrf_token": token, "text": "Late", "account_ids": [str(world.account_id)],
            "when": "time", "scheduled_local": local(-timedelta(hours=2)), "action": "draft"})
        assert r.status_code == 422
        field = r.text.split('name="scheduled_local"', 1)[1]
        assert PAST_WORDS in field.split("</fieldset>", 1)[0]
        assert "Local time in Europe/Warsaw, the workspace" in r.text  # the one format hint


class TestPublishNow:
    def test_draft_goes_to_review_and_out_on_approval(self, world, engine):
        with session_scope(engine) as s:
            post = make(s, world)
            post = posts.publish_now(session=s, actor=actor(s, world, "manager@acme.test"),
                                     post_id=post.id, expected_version=1, now=NOW)
            assert post.status == PostStatus.in_review and post.publish_asap
            [pub] = posts.publications_of(session=s, post_id=post.id)
            assert pub.due_at is None  # not before approval
            # Approved a day later, long after the time it showed: it goes out right then.
            then = NOW + timedelta(days=1)
            post = posts.approve(session=s, actor=actor(s, world, "lead@acme.test"),
                                 post_id=post.id, expected_version=2, now=then,
                                 confirm_balance=True)
            s.refresh(pub)
            assert post.scheduled_at == then and pub.due_at == then

    def test_approved_post_becomes_due_now(self, world, engine):
        with session_scope(engine) as s:
            post = make(s, world)
            lead = actor(s, world, "lead@acme.test")
            posts.submit_for_review(session=s, actor=lead, post_id=post.id,
                                    expected_version=1, now=NOW)
            posts.approve(session=s, actor=lead, post_id=post.id, expected_version=2,
                          now=NOW, confirm_balance=True)
            post = posts.publish_now(session=s, actor=lead, post_id=post.id,
                                     expected_version=3, now=NOW + timedelta(minutes=5))
            [pub] = posts.publications_of(session=s, post_id=post.id)
            assert post.status == PostStatus.approved
            assert pub.due_at == NOW + timedelta(minutes=5) == post.scheduled_at

    def test_composer_choice_saves_without_a_time(self, world, make_client):
        c = make_client("manager@acme.test")
        token = page_csrf(c, f"/w/{world.slug}/posts/new")
        r = c.post(f"/w/{world.slug}/posts", data={
            "csrf_token": token, "text": "Now!", "account_ids": [str(world.account_id)],
            "when": "now", "scheduled_local": "", "action": "draft"},
            follow_redirects=False)
        assert r.status_code == 303
        with session_scope() as s:
            assert s.exec(select(Post)).one().publish_asap


class TestDuplicate:
    def test_copy_is_a_draft_with_everything_but_a_past_time(self, world, engine):
        with session_scope(engine) as s:
            post = make(s, world, variants={world.account_id: "Own words"}, link="https://a.b/c")
            copy = posts.duplicate(session=s, actor=actor(s, world, "manager@acme.test"),
                                   post_id=post.id, now=NOW)
            assert copy.id != post.id and copy.status == PostStatus.draft
            assert (copy.text, copy.link, copy.tags) == (post.text, post.link, post.tags)
            assert copy.scheduled_at == post.scheduled_at  # still ahead: kept
            [pub] = posts.publications_of(session=s, post_id=copy.id)
            assert pub.text_variant == "Own words"
            late = posts.duplicate(session=s, actor=actor(s, world, "manager@acme.test"),
                                   post_id=post.id, now=NOW + timedelta(days=30))
            assert late.scheduled_at is None

    def test_button_opens_the_copy(self, world, make_client, engine):
        with session_scope(engine) as s:
            post_id = make(s, world, when=local(timedelta(days=3))).id
        c = make_client("manager@acme.test")
        token = page_csrf(c, f"/w/{world.slug}/posts/{post_id}")
        r = c.post(f"/w/{world.slug}/posts/{post_id}/duplicate",
                   data={"csrf_token": token}, follow_redirects=False)
        assert r.status_code == 303
        assert f"?duplicated={post_id}" in r.headers["location"]
        page = c.get(r.headers["location"])
        assert f"A copy of post #{post_id}" in page.text


class TestOutcome:
    def _published(self, engine, world, status=PublicationStatus.published):
        with session_scope(engine) as s:
            post = make(s, world, when=local(timedelta(days=3)))
            s.execute(update(Publication).where(Publication.post_id == post.id).values(
                status=status, remote_url="http://127.0.0.1:9/@acme/1"))
            post.status = PostStatus.approved
            return post.id

    def test_published_post_names_accounts_links_and_is_locked(self, world, make_client,
                                                              engine):
        post_id = self._published(engine, world)
        c = make_client("manager@acme.test")
        page = c.get(f"/w/{world.slug}/posts/{post_id}")
        assert "Published" in page.text and "view the live post" in page.text
        per_account = page.text.split("Per account", 1)[1].split("</section>", 1)[0]
        assert "@acme@bikes.social" in per_account and "#" not in per_account
        for gone in ("Save draft", "Back to draft", ">Move<", "Cancel post"):
            assert gone not in page.text, gone
        assert "Duplicate" in page.text
        with session_scope(engine) as s, pytest.raises(Conflict, match="already gone out"):
            posts.update_post(session=s, actor=actor(s, world, "manager@acme.test"),
                              post_id=post_id, expected_version=1,
                              data=posts.input_from_post(session=s,
                                                         post=s.get(Post, post_id)),
                              now=NOW)

    def test_outcome_words(self):
        def outcome(*states):
            return posts.publication_outcome(
                [Publication(post_id=1, account_id=i, workspace_id=1, status=st)
                 for i, st in enumerate(states)]).key
        P = PublicationStatus
        assert outcome(P.pending) == ""
        assert outcome(P.published, P.published, P.cancelled) == "published"
        assert outcome(P.published, P.failed) == "partly_published"
        assert outcome(P.failed) == "failed"
        assert outcome(P.published, P.needs_review) == "needs_person"


def test_approve_is_disabled_while_a_target_is_over_its_limit(world, make_client, engine):
    from planner import accounts

    with session_scope(engine) as s:
        bsky = accounts.create_account(session=s, workspace_id=world.workspace_id,
                                       platform="bluesky", handle="acme.bsky.social").id
        # 290 graphemes fit Bluesky's 300 as typed, but not with the link as it is sent.
        post = make(s, world, when=local(timedelta(days=3)), link="https://shop.example/x")
        posts.update_post(session=s, actor=actor(s, world, "manager@acme.test"),
                          post_id=post.id, expected_version=1, now=datetime.now(UTC),
                          data=posts.PostInput(text="a" * 290, account_ids=[bsky],
                                               tags=["learn"], link="https://shop.example/x",
                                               scheduled_local=local(timedelta(days=3))))
        post.status = PostStatus.in_review  # as if Bluesky's rules changed after submit
        post_id = post.id
    page = make_client("lead@acme.test").get(f"/w/{world.slug}/posts/{post_id}")
    assert "Too long for acme.bsky.social as it will be sent" in page.text
    assert '<button type="button" class="primary" disabled aria-disabled="true">Approve' \
        in page.text
    assert f'action="/w/{world.slug}/posts/{post_id}/approve"' not in page.text
