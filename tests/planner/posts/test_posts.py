"""The post workflow: every transition, every refusal, compare-and-set, audit."""

from datetime import UTC, datetime, timedelta

import pytest
from sqlmodel import select

from planner import posts
from planner.db import session_scope
from planner.errors import Conflict, Forbidden, Invalid, NotFound
from planner.models import (
    AuditEvent,
    Membership,
    Post,
    PostStatus,
    Publication,
    PublicationStatus,
    Review,
    Role,
    User,
    Workspace,
)
from planner.posts import schedule

NOW = datetime(2026, 11, 2, 10, 0, tzinfo=UTC)
LATER = "2026-11-20T09:30"


def actor(session, world, email):
    user = session.exec(select(User).where(User.email == email)).one()
    role = session.exec(select(Membership.role).where(
        Membership.user_id == user.id, Membership.workspace_id == world.workspace_id)).one()
    return posts.Actor(user_id=user.id, role=Role(role),
                       workspace=session.get(Workspace, world.workspace_id))


@pytest.fixture
def second_account(world, engine):
    from planner import accounts

    with session_scope(engine) as s:
        return accounts.create_account(session=s, workspace_id=world.workspace_id,
                                       platform="bluesky", handle="acme.bsky.social").id


def make(session, world, *, accounts=None, when=LATER, text="How to fix a flat in 5 steps"):
    manager = actor(session, world, "manager@acme.test")
    return posts.create_post(session=session, actor=manager, now=NOW, data=posts.PostInput(
        text=text, account_ids=accounts or [world.account_id], tags=["learn"],
        scheduled_local=when))


class TestCreate:
    def test_draft_with_publications_in_local_time(self, world, engine, second_account):
        with session_scope(engine) as s:
            post = make(s, world, accounts=[world.account_id, second_account])
            assert post.status == PostStatus.draft and post.version == 1
            assert post.scheduled_at == datetime(2026, 11, 20, 8, 30, tzinfo=UTC)
            pubs = posts.publications_of(session=s, post_id=post.id)
            assert {p.account_id for p in pubs} == {world.account_id, second_account}
            assert all(p.due_at is None for p in pubs)  # not due until approved
            assert len({p.idempotency_key for p in pubs}) == 2

    def test_viewer_cannot_create(self, world, engine):
        with session_scope(engine) as s, pytest.raises(Forbidden):
            posts.create_post(session=s, actor=actor(s, world, "viewer@acme.test"), now=NOW,
                              data=posts.PostInput(text="x", account_ids=[world.account_id]))

    def test_foreign_account_is_refused_at_its_index(self, world, engine):
        with session_scope(engine) as s, pytest.raises(Invalid) as err:
            make(s, world, accounts=[world.account_id, world.other_account_id])
        assert err.value.problems[0].loc == ("account_ids", 1)

    @pytest.mark.parametrize("tags,message", [(["try", "share", "care"], "at most two"),
                                              (["fun"], "Unknown value tag")])
    def test_bad_tags(self, world, engine, tags, message):
        with session_scope(engine) as s, pytest.raises(Invalid) as err:
            posts.create_post(session=s, actor=actor(s, world, "manager@acme.test"), now=NOW,
                              data=posts.PostInput(text="x", account_ids=[world.account_id],
                                                   tags=tags))
        assert message in err.value.message

    def test_nonexistent_local_time_is_refused(self, world, engine):
        with session_scope(engine) as s, pytest.raises(Invalid) as err:
            make(s, world, when="2027-03-28T02:30")
        assert "does not exist" in err.value.message

    def test_ambiguous_local_time_asks_then_accepts_choice(self, world, engine):
        with session_scope(engine) as s, pytest.raises(schedule.AmbiguousLocalTime):
            make(s, world, when="2027-10-31T02:30")
        with session_scope(engine) as s:
            post = posts.create_post(
                session=s, actor=actor(s, world, "manager@acme.test"), now=NOW,
                data=posts.PostInput(text="x", account_ids=[world.account_id],
                                     scheduled_local="2027-10-31T02:30", fold=1))
            assert post.scheduled_at == datetime(2027, 10, 31, 1, 30, tzinfo=UTC)

    def test_add_to_queue_takes_next_free_slot(self, world, engine):
        from planner.models import Account

        with session_scope(engine) as s:
            account = s.get(Account, world.account_id)
            schedule.set_slots(session=s, account=account, slots=[(0, "09:00"), (2, "09:00")],
                               actor_id=None)
            manager = actor(s, world, "manager@acme.test")
            data = posts.PostInput(text="a", account_ids=[world.account_id], add_to_queue=True)
            first = posts.create_post(session=s, actor=manager, data=data, now=NOW)
            second = posts.create_post(session=s, actor=manager, data=data, now=NOW)
            # NOW is Monday 2 Nov 11:00 local: next slots are Wed 4 Nov and Mon 9 Nov, 09:00.
            assert first.scheduled_local == "2026-11-04T09:00"
            assert second.scheduled_local == "2026-11-09T09:00"

    def test_queue_without_slots_says_what_to_do(self, world, engine):
        with session_scope(engine) as s, pytest.raises(Invalid) as err:
            posts.create_post(session=s, actor=actor(s, world, "manager@acme.test"), now=NOW,
                              data=posts.PostInput(text="a", account_ids=[world.account_id],
                                                   add_to_queue=True))
        assert "no queue slots" in err.value.message


class TestWorkflow:
    def test_full_happy_path_with_audit(self, world, engine):
        with session_scope(engine) as s:
            post = make(s, world)
            manager, lead = actor(s, world, "manager@acme.test"), actor(s, world,
                                                                         "lead@acme.test")
            post = posts.submit_for_review(session=s, actor=manager, post_id=post.id,
                                           expected_version=1, now=NOW)
            assert post.status == PostStatus.in_review and post.submitted_at == NOW
            post = posts.approve(session=s, actor=lead, post_id=post.id, expected_version=2,
                                 now=NOW)
            assert post.status == PostStatus.approved
            pubs = posts.publications_of(session=s, post_id=post.id)
            assert all(p.due_at == post.scheduled_at for p in pubs)
            assert s.exec(select(Review)).one().decision == "approved"
            actions = [e.action for e in s.exec(select(AuditEvent).where(
                AuditEvent.entity == "post").order_by(AuditEvent.id))]
            assert actions == ["post.created", "post.submitted", "post.approved"]
            last = s.exec(select(AuditEvent).where(AuditEvent.action == "post.approved")).one()
            assert '"in_review"' in last.before and '"approved"' in last.after

    def test_manager_cannot_approve(self, world, engine):
        with session_scope(engine) as s:
            post = make(s, world)
            manager = actor(s, world, "manager@acme.test")
            posts.submit_for_review(session=s, actor=manager, post_id=post.id,
                                    expected_version=1, now=NOW)
            with pytest.raises(Forbidden):
                posts.approve(session=s, actor=manager, post_id=post.id, expected_version=2,
                              now=NOW)

    def test_request_changes_needs_a_comment_then_back_to_draft_on_edit(self, world, engine):
        with session_scope(engine) as s:
            post = make(s, world)
            manager, lead = actor(s, world, "manager@acme.test"), actor(s, world,
                                                                         "lead@acme.test")
            posts.submit_for_review(session=s, actor=manager, post_id=post.id,
                                    expected_version=1, now=NOW)
            with pytest.raises(Invalid):
                posts.request_changes(session=s, actor=lead, post_id=post.id,
                                      expected_version=2, comment="  ", now=NOW)
            post = posts.request_changes(session=s, actor=lead, post_id=post.id,
                                         expected_version=2, comment="Shorter please", now=NOW)
            assert post.status == PostStatus.changes_requested
            data = posts.input_from_post(session=s, post=post)
            data.text = "Fix a flat in 5 steps"
            post = posts.update_post(session=s, actor=manager, post_id=post.id,
                                     expected_version=3, data=data, now=NOW)
            assert post.status == PostStatus.draft

    def test_editing_an_approved_post_sends_it_back_to_review(self, world, engine):
        with session_scope(engine) as s:
            post = _approved(s, world)
            data = posts.input_from_post(session=s, post=post)
            data.scheduled_local = "2026-11-21T09:30"
            post = posts.update_post(session=s, actor=actor(s, world, "manager@acme.test"),
                                     post_id=post.id, expected_version=3, data=data, now=NOW)
            assert post.status == PostStatus.in_review
            assert all(p.due_at is None for p in posts.publications_of(session=s,
                                                                         post_id=post.id))

    def test_stale_version_is_a_conflict_and_changes_nothing(self, world, engine):
        with session_scope(engine) as s:
            post_id = make(s, world).id
        with session_scope(engine) as s:
            manager = actor(s, world, "manager@acme.test")
            data = posts.input_from_post(session=s, post=s.get(Post, post_id))
            data.text = "first editor"
            posts.update_post(session=s, actor=manager, post_id=post_id, expected_version=1,
                              data=data, now=NOW)
        with session_scope(engine) as s, pytest.raises(Conflict) as err:
            data.text = "second editor"
            posts.update_post(session=s, actor=actor(s, world, "lead@acme.test"),
                              post_id=post_id, expected_version=1, data=data, now=NOW)
        assert "Someone else changed this post" in err.value.message
        with session_scope(engine) as s:
            assert s.get(Post, post_id).text == "first editor"

    def test_cancel_releases_a_claimed_publication(self, world, engine):
        with session_scope(engine) as s:
            post = _approved(s, world)
            pub = posts.publications_of(session=s, post_id=post.id)[0]
            pub.status, pub.attempt_id = PublicationStatus.claimed, "worker-attempt"
            s.flush()
            posts.cancel(session=s, actor=actor(s, world, "manager@acme.test"), post_id=post.id,
                         expected_version=3, now=NOW)
            s.flush()
            s.refresh(pub)
            assert pub.status == PublicationStatus.cancelled and pub.attempt_id == ""

    @pytest.mark.parametrize("state", [PublicationStatus.sending, PublicationStatus.unknown])
    def test_cancel_and_edit_refused_while_sending(self, world, engine, state):
        with session_scope(engine) as s:
            post = _approved(s, world)
            pub = posts.publications_of(session=s, post_id=post.id)[0]
            pub.status = state
            s.flush()
            manager = actor(s, world, "manager@acme.test")
            with pytest.raises(Conflict) as err:
                posts.cancel(session=s, actor=manager, post_id=post.id, expected_version=3,
                             now=NOW)
            assert "being published right now" in err.value.message
            with pytest.raises(Conflict):
                posts.update_post(session=s, actor=manager, post_id=post.id,
                                  expected_version=3,
                                  data=posts.input_from_post(session=s, post=post), now=NOW)

    def test_cannot_approve_past_time(self, world, engine):
        with session_scope(engine) as s:
            post = make(s, world)
            posts.submit_for_review(session=s, actor=actor(s, world, "manager@acme.test"),
                                    post_id=post.id, expected_version=1, now=NOW)
            with pytest.raises(Invalid) as err:
                posts.approve(session=s, actor=actor(s, world, "lead@acme.test"),
                              post_id=post.id, expected_version=2,
                              now=NOW + timedelta(days=30))
            assert "has passed" in err.value.message

    def test_submit_refuses_text_over_the_limit(self, world, engine):
        with session_scope(engine) as s:
            post = make(s, world, text="x" * 600)  # Mastodon's default limit is 500
            with pytest.raises(Invalid) as err:
                posts.submit_for_review(session=s, actor=actor(s, world, "manager@acme.test"),
                                        post_id=post.id, expected_version=1, now=NOW)
            assert err.value.problems[0].loc[0] == "variants"

    @pytest.mark.parametrize("action", ["approve", "request_changes"])
    def test_only_in_review_can_be_decided(self, world, engine, action):
        with session_scope(engine) as s:
            post = make(s, world)
            lead = actor(s, world, "lead@acme.test")
            with pytest.raises(Conflict):
                if action == "approve":
                    posts.approve(session=s, actor=lead, post_id=post.id, expected_version=1,
                                  now=NOW)
                else:
                    posts.request_changes(session=s, actor=lead, post_id=post.id,
                                          expected_version=1, comment="x", now=NOW)

    def test_withdraw_and_cancelled_is_final(self, world, engine):
        with session_scope(engine) as s:
            post = _approved(s, world)
            manager = actor(s, world, "manager@acme.test")
            post = posts.back_to_draft(session=s, actor=manager, post_id=post.id,
                                       expected_version=3, now=NOW)
            assert post.status == PostStatus.draft
            post = posts.cancel(session=s, actor=manager, post_id=post.id, expected_version=4,
                                now=NOW)
            with pytest.raises(Conflict):
                posts.update_post(session=s, actor=manager, post_id=post.id,
                                  expected_version=5,
                                  data=posts.input_from_post(session=s, post=post), now=NOW)

    def test_other_workspace_post_is_not_found(self, world, engine):
        with session_scope(engine) as s:
            post = make(s, world)
            other = posts.Actor(user_id=world.admin_id, role=Role.admin,
                                workspace=s.get(Workspace, world.other_workspace_id))
            with pytest.raises(NotFound):
                posts.cancel(session=s, actor=other, post_id=post.id, expected_version=1,
                             now=NOW)

    def test_removing_an_account_cancels_its_publication(self, world, engine, second_account):
        with session_scope(engine) as s:
            post = make(s, world, accounts=[world.account_id, second_account])
            data = posts.input_from_post(session=s, post=post)
            data.account_ids = [second_account]
            posts.update_post(session=s, actor=actor(s, world, "manager@acme.test"),
                              post_id=post.id, expected_version=1, data=data, now=NOW)
            states = {p.account_id: p.status for p in s.exec(select(Publication))}
            assert states == {world.account_id: PublicationStatus.cancelled,
                              second_account: PublicationStatus.pending}


def _approved(s, world):
    post = make(s, world)
    posts.submit_for_review(session=s, actor=actor(s, world, "manager@acme.test"),
                            post_id=post.id, expected_version=1, now=NOW)
    return posts.approve(session=s, actor=actor(s, world, "lead@acme.test"), post_id=post.id,
                         expected_version=2, now=NOW)


@pytest.mark.parametrize("action", ["cancel", "edit", "withdraw"])
def test_worker_moving_to_sending_mid_edit_wins(world, engine, action):
    """A worker that starts sending between our read and our write is never overwritten."""
    from sqlalchemy import text
    from sqlalchemy.exc import OperationalError

    with session_scope(engine) as s:
        post_id = _approved(s, world).id
    with session_scope(engine) as s:
        post = s.get(Post, post_id)
        pubs = posts.publications_of(session=s, post_id=post_id)  # loaded as 'pending'
        assert pubs[0].status == PublicationStatus.pending
        with engine.begin() as worker:  # another connection: the worker starts sending
            worker.execute(text("UPDATE publication SET status='sending', attempt_id='w1' "
                                "WHERE id=:id"), {"id": pubs[0].id})
        manager = actor(s, world, "manager@acme.test")
        # PostgreSQL: our compare-and-set matches no row (Conflict). SQLite: the stale
        # snapshot cannot write at all (web requests avoid this with BEGIN IMMEDIATE).
        with pytest.raises((Conflict, OperationalError)):
            if action == "cancel":
                posts.cancel(session=s, actor=manager, post_id=post_id, expected_version=3,
                             now=NOW)
            elif action == "withdraw":
                posts.back_to_draft(session=s, actor=manager, post_id=post_id,
                                    expected_version=3, now=NOW)
            else:
                data = posts.input_from_post(session=s, post=post)
                data.text = "changed"
                posts.update_post(session=s, actor=manager, post_id=post_id,
                                  expected_version=3, data=data, now=NOW)
        s.rollback()
    with session_scope(engine) as s:
        pub = s.exec(select(Publication).where(Publication.post_id == post_id)).one()
        assert pub.status == PublicationStatus.sending and pub.attempt_id == "w1"


class TestDmPromptOnPost:
    def test_call_to_action_is_kept_and_audited(self, world, engine):
        with session_scope(engine) as s:
            post = posts.create_post(
                session=s, actor=actor(s, world, "manager@acme.test"), now=NOW,
                data=posts.PostInput(text="New serum", account_ids=[world.account_id],
                                     dm_keyword="GLOW", dm_product_url="https://shop.test/glow",
                                     dm_call_to_action="  DM us GLOW   for 10% off "))
            assert post.dm_call_to_action == "DM us GLOW for 10% off"
            data = posts.input_from_post(session=s, post=post)
            assert data.dm_call_to_action == "DM us GLOW for 10% off"
            event = s.exec(select(AuditEvent).where(AuditEvent.action == "post.created")).one()
            assert "DM us GLOW for 10% off" in event.after

    def test_call_to_action_needs_a_keyword(self, world, engine):
        with session_scope(engine) as s, pytest.raises(Invalid) as err:
            posts.create_post(session=s, actor=actor(s, world, "manager@acme.test"), now=NOW,
                              data=posts.PostInput(text="x", account_ids=[world.account_id],
                                                   dm_call_to_action="Write to us"))
        assert err.value.problems[0].loc == ("dm_keyword",)


class TestQueueForSeveralAccounts:
    """"Add to queue" takes the first slot that every target account has and has free."""

    def _slots(self, s, account_id, slots):
        from planner.models import Account

        schedule.set_slots(session=s, account=s.get(Account, account_id), slots=slots,
                           actor_id=None)

    def test_takes_a_slot_common_to_all_and_free_on_all(self, world, engine, second_account):
        with session_scope(engine) as s:
            # NOW is Monday 2 Nov 2026, 11:00 in Warsaw.
            self._slots(s, world.account_id, [(1, "09:00"), (2, "09:00"), (4, "18:30")])
            self._slots(s, second_account, [(2, "09:00"), (4, "18:30")])
            manager = actor(s, world, "manager@acme.test")
            # The second account alone already has Wed 09:00 taken.
            posts.create_post(session=s, actor=manager, now=NOW, data=posts.PostInput(
                text="solo", account_ids=[second_account], add_to_queue=True))
            both = posts.create_post(session=s, actor=manager, now=NOW, data=posts.PostInput(
                text="both", account_ids=[world.account_id, second_account],
                add_to_queue=True))
            # Tue 09:00 is not a slot of the second account; Wed 09:00 is taken there.
            assert both.scheduled_local == "2026-11-06T18:30"
            pubs = posts.publications_of(session=s, post_id=both.id)
            assert {p.scheduled_at for p in pubs} == {both.scheduled_at}

    def test_no_common_slot_says_so(self, world, engine, second_account):
        with session_scope(engine) as s:
            self._slots(s, world.account_id, [(0, "09:00")])
            self._slots(s, second_account, [(0, "10:00")])
            with pytest.raises(Invalid) as err:
                posts.create_post(session=s, actor=actor(s, world, "manager@acme.test"),
                                  now=NOW, data=posts.PostInput(
                                      text="x", account_ids=[world.account_id, second_account],
                                      add_to_queue=True))
        assert "share no queue slot" in err.value.message
        assert "Mon 09:00" in err.value.message and "Mon 10:00" in err.value.message
        assert err.value.problems[0].loc == ("account_ids",)

    def test_an_account_without_slots_is_named(self, world, engine, second_account):
        with session_scope(engine) as s:
            self._slots(s, world.account_id, [(0, "09:00")])
            with pytest.raises(Invalid) as err:
                posts.create_post(session=s, actor=actor(s, world, "manager@acme.test"),
                                  now=NOW, data=posts.PostInput(
                                      text="x", account_ids=[world.account_id, second_account],
                                      add_to_queue=True))
        assert "acme.bsky.social has no queue slots" in err.value.message

    def test_requeueing_a_post_does_not_skip_its_own_slot(self, world, engine):
        with session_scope(engine) as s:
            self._slots(s, world.account_id, [(2, "09:00")])
            manager = actor(s, world, "manager@acme.test")
            post = posts.create_post(session=s, actor=manager, now=NOW, data=posts.PostInput(
                text="queued", account_ids=[world.account_id], add_to_queue=True))
            data = posts.input_from_post(session=s, post=post)
            data.text, data.add_to_queue = "queued, edited", True
            again = posts.update_post(session=s, actor=manager, post_id=post.id,
                                      expected_version=1, data=data, now=NOW)
            assert again.scheduled_local == "2026-11-04T09:00"


class TestRefusals:
    """Every transition refuses the wrong role, a stale version and a wrong state."""

    def test_manager_cannot_request_changes(self, world, engine):
        with session_scope(engine) as s:
            post = make(s, world)
            manager = actor(s, world, "manager@acme.test")
            posts.submit_for_review(session=s, actor=manager, post_id=post.id,
                                    expected_version=1, now=NOW)
            with pytest.raises(Forbidden) as err:
                posts.request_changes(session=s, actor=manager, post_id=post.id,
                                      expected_version=2, comment="no", now=NOW)
            assert "brand leads and admins" in err.value.message
            assert s.get(Post, post.id).status == PostStatus.in_review

    @pytest.mark.parametrize("service", ["submit", "withdraw", "cancel", "delete"])
    def test_viewer_is_refused(self, world, engine, service):
        with session_scope(engine) as s:
            post = make(s, world)
            viewer = actor(s, world, "viewer@acme.test")
            with pytest.raises(Forbidden):
                if service == "submit":
                    posts.submit_for_review(session=s, actor=viewer, post_id=post.id,
                                            expected_version=1, now=NOW)
                elif service == "withdraw":
                    posts.back_to_draft(session=s, actor=viewer, post_id=post.id,
                                        expected_version=1, now=NOW)
                elif service == "cancel":
                    posts.cancel(session=s, actor=viewer, post_id=post.id, expected_version=1,
                                 now=NOW)
                else:
                    posts.delete_post(session=s, actor=viewer, post_id=post.id)

    @pytest.mark.parametrize("service", ["submit", "cancel", "withdraw"])
    def test_stale_version_is_a_conflict(self, world, engine, service):
        with session_scope(engine) as s:
            post = make(s, world)
            manager = actor(s, world, "manager@acme.test")
            if service == "withdraw":
                posts.submit_for_review(session=s, actor=manager, post_id=post.id,
                                        expected_version=1, now=NOW)
            else:  # someone else edits it first: version 2
                data = posts.input_from_post(session=s, post=post)
                data.text = "edited by someone else"
                posts.update_post(session=s, actor=manager, post_id=post.id,
                                  expected_version=1, data=data, now=NOW)
            with pytest.raises(Conflict) as err:
                {"submit": posts.submit_for_review, "cancel": posts.cancel,
                 "withdraw": posts.back_to_draft}[service](
                    session=s, actor=manager, post_id=post.id, expected_version=1, now=NOW)
            assert "Someone else changed this post" in err.value.message
            assert s.get(Post, post.id).version == 2

    def test_double_cancel_is_refused(self, world, engine):
        with session_scope(engine) as s:
            post = make(s, world)
            manager = actor(s, world, "manager@acme.test")
            posts.cancel(session=s, actor=manager, post_id=post.id, expected_version=1, now=NOW)
            with pytest.raises(Conflict) as err:
                posts.cancel(session=s, actor=manager, post_id=post.id, expected_version=2,
                             now=NOW)
            assert "cancelled, so it cannot be cancelled" in err.value.message

    def test_submit_twice_is_refused(self, world, engine):
        with session_scope(engine) as s:
            post = make(s, world)
            manager = actor(s, world, "manager@acme.test")
            posts.submit_for_review(session=s, actor=manager, post_id=post.id,
                                    expected_version=1, now=NOW)
            with pytest.raises(Conflict):
                posts.submit_for_review(session=s, actor=manager, post_id=post.id,
                                        expected_version=2, now=NOW)


class TestAuditTrail:
    def _events(self, s, post_id):
        import json

        return {e.action: (json.loads(e.before or "{}"), json.loads(e.after or "{}"), e.actor_id)
                for e in s.exec(select(AuditEvent).where(AuditEvent.entity_id == post_id,
                                                         AuditEvent.entity == "post"))}

    def test_every_transition_leaves_who_what_before_after(self, world, engine):
        with session_scope(engine) as s:
            manager, lead = (actor(s, world, "manager@acme.test"),
                             actor(s, world, "lead@acme.test"))
            post = make(s, world)
            data = posts.input_from_post(session=s, post=post)
            data.text = "Updated text"
            posts.update_post(session=s, actor=manager, post_id=post.id, expected_version=1,
                              data=data, now=NOW)
            posts.submit_for_review(session=s, actor=manager, post_id=post.id,
                                    expected_version=2, now=NOW)
            posts.request_changes(session=s, actor=lead, post_id=post.id, expected_version=3,
                                  comment="Add a photo", now=NOW)
            posts.submit_for_review(session=s, actor=manager, post_id=post.id,
                                    expected_version=4, now=NOW)
            posts.back_to_draft(session=s, actor=manager, post_id=post.id, expected_version=5,
                                now=NOW)
            posts.cancel(session=s, actor=manager, post_id=post.id, expected_version=6, now=NOW)
            events = self._events(s, post.id)
        before, after, who = events["post.updated"]
        assert before["text"] == "How to fix a flat in 5 steps" and after["text"] == "Updated text"
        assert who == manager.user_id
        before, after, who = events["post.changes_requested"]
        assert (before["status"], after["status"]) == ("in_review", "changes_requested")
        assert after["comment"] == "Add a photo" and who == lead.user_id
        before, after, _ = events["post.withdrawn"]
        assert (before["status"], after["status"]) == ("in_review", "draft")
        before, after, _ = events["post.cancelled"]
        assert (before["status"], after["status"]) == ("draft", "cancelled")
        assert after["version"] == 7


class TestDelete:
    def test_a_draft_is_deleted_with_its_rows_and_audited(self, world, engine, second_account):
        with session_scope(engine) as s:
            post = make(s, world, accounts=[world.account_id, second_account])
            posts.delete_post(session=s, actor=actor(s, world, "manager@acme.test"),
                              post_id=post.id)
        with session_scope(engine) as s:
            assert s.get(Post, post.id) is None
            assert s.exec(select(Publication)).first() is None
            event = s.exec(select(AuditEvent).where(AuditEvent.action == "post.deleted")).one()
            assert "How to fix a flat" in event.before

    def test_a_post_sent_back_with_its_review_can_go(self, world, engine):
        with session_scope(engine) as s:
            post = make(s, world)
            posts.submit_for_review(session=s, actor=actor(s, world, "manager@acme.test"),
                                    post_id=post.id, expected_version=1, now=NOW)
            posts.request_changes(session=s, actor=actor(s, world, "lead@acme.test"),
                                  post_id=post.id, expected_version=2, comment="no", now=NOW)
            posts.delete_post(session=s, actor=actor(s, world, "manager@acme.test"),
                              post_id=post.id)
            assert s.exec(select(Review)).first() is None

    @pytest.mark.parametrize("state", ["in_review", "approved"])
    def test_live_posts_are_refused(self, world, engine, state):
        with session_scope(engine) as s:
            post = _approved(s, world) if state == "approved" else make(s, world)
            if state == "in_review":
                posts.submit_for_review(session=s, actor=actor(s, world, "manager@acme.test"),
                                        post_id=post.id, expected_version=1, now=NOW)
            with pytest.raises(Conflict) as err:
                posts.delete_post(session=s, actor=actor(s, world, "manager@acme.test"),
                                  post_id=post.id)
            assert "cannot be deleted" in err.value.message

    def test_a_cancelled_post_that_went_out_somewhere_stays(self, world, engine,
                                                            second_account):
        with session_scope(engine) as s:
            post = make(s, world, accounts=[world.account_id, second_account])
            pub = posts.publications_of(session=s, post_id=post.id)[0]
            pub.status, pub.attempts, pub.remote_id = PublicationStatus.published, 1, "r1"
            s.flush()
            manager = actor(s, world, "manager@acme.test")
            posts.cancel(session=s, actor=manager, post_id=post.id, expected_version=1, now=NOW)
            with pytest.raises(Conflict) as err:
                posts.delete_post(session=s, actor=manager, post_id=post.id)
            assert "stays as a record" in err.value.message

    def test_other_workspace_is_not_found(self, world, engine):
        with session_scope(engine) as s:
            post = make(s, world)
            other = posts.Actor(user_id=world.admin_id, role=Role.admin,
                                workspace=s.get(Workspace, world.other_workspace_id))
            with pytest.raises(NotFound):
                posts.delete_post(session=s, actor=other, post_id=post.id)


def test_review_queue_is_oldest_submission_first(world, engine):
    with session_scope(engine) as s:
        manager = actor(s, world, "manager@acme.test")
        first, second, third = (make(s, world, text=f"post {i}") for i in range(3))
        for post, minutes in ((first, 30), (second, 10), (third, 20)):
            posts.submit_for_review(session=s, actor=manager, post_id=post.id,
                                    expected_version=1, now=NOW + timedelta(minutes=minutes))
        queue = posts.review_queue(session=s, workspace_id=world.workspace_id)
        assert [p.id for p in queue] == [second.id, third.id, first.id]


class TestPromptTemplates:
    def _input(self, **changes):
        from planner.team.workspaces import PromptTemplateInput

        base = {"name": "Glow serum", "keyword": "GLOW",
                "product_url": "https://shop.test/glow", "prefill": "Hi! GLOW please",
                "call_to_action": "DM us GLOW for 10% off"}
        return PromptTemplateInput(**{**base, **changes})

    def test_create_update_delete_with_audit(self, world, engine):
        from planner.team import workspaces

        with session_scope(engine) as s:
            template = workspaces.create_prompt_template(
                session=s, workspace_id=world.workspace_id, role=Role.manager,
                actor_id=world.admin_id, data=self._input(), now=NOW)
            workspaces.update_prompt_template(
                session=s, workspace_id=world.workspace_id, role=Role.manager,
                actor_id=world.admin_id, template_id=template.id,
                data=self._input(keyword="SHINE"), now=NOW)
            listed = workspaces.list_prompt_templates(session=s,
                                                      workspace_id=world.workspace_id)
            assert [(t.name, t.keyword) for t in listed] == [("Glow serum", "SHINE")]
            workspaces.delete_prompt_template(session=s, workspace_id=world.workspace_id,
                                              role=Role.manager, actor_id=world.admin_id,
                                              template_id=template.id)
            assert workspaces.list_prompt_templates(session=s,
                                                    workspace_id=world.workspace_id) == []
            actions = [e.action for e in s.exec(select(AuditEvent).where(
                AuditEvent.entity == "prompt_template").order_by(AuditEvent.id))]
        assert actions == ["prompt_template.created", "prompt_template.updated",
                           "prompt_template.deleted"]

    def test_every_field_problem_at_its_field(self, world, engine):
        from planner.team import workspaces

        with session_scope(engine) as s, pytest.raises(Invalid) as err:
            workspaces.create_prompt_template(
                session=s, workspace_id=world.workspace_id, role=Role.manager,
                actor_id=world.admin_id, now=NOW,
                data=self._input(name=" ", keyword="two words", product_url="shop.test",
                                 call_to_action="x" * 201))
        fields = {p.field for p in err.value.problems}
        assert fields == {"name", "keyword", "product_url", "call_to_action"}

    def test_names_are_unique_per_workspace_and_viewers_refused(self, world, engine):
        from planner.team import workspaces

        with session_scope(engine) as s:
            workspaces.create_prompt_template(
                session=s, workspace_id=world.workspace_id, role=Role.manager,
                actor_id=world.admin_id, data=self._input(), now=NOW)
            # The same name in another workspace is fine.
            workspaces.create_prompt_template(
                session=s, workspace_id=world.other_workspace_id, role=Role.admin,
                actor_id=world.admin_id, data=self._input(), now=NOW)
            with pytest.raises(Invalid) as err:
                workspaces.create_prompt_template(
                    session=s, workspace_id=world.workspace_id, role=Role.manager,
                    actor_id=world.admin_id, data=self._input(keyword="OTHER"), now=NOW)
            assert err.value.problems[0].field == "name" and "exists" in err.value.message + \
                err.value.problems[0].message
            with pytest.raises(Forbidden):
                workspaces.create_prompt_template(
                    session=s, workspace_id=world.workspace_id, role=Role.viewer,
                    actor_id=world.admin_id, data=self._input(name="Other"), now=NOW)

    def test_another_workspace_template_is_not_found(self, world, engine):
        from planner.team import workspaces

        with session_scope(engine) as s:
            theirs = workspaces.create_prompt_template(
                session=s, workspace_id=world.other_workspace_id, role=Role.admin,
                actor_id=world.admin_id, data=self._input(), now=NOW)
            with pytest.raises(NotFound):
                workspaces.delete_prompt_template(
                    session=s, workspace_id=world.workspace_id, role=Role.admin,
                    actor_id=world.admin_id, template_id=theirs.id)


def test_changing_the_workspace_zone_never_moves_a_post(world, engine):
    from planner.team import workspaces

    with session_scope(engine) as s:
        post = make(s, world, when="2026-12-03T09:00")
        instant = post.scheduled_at
        workspaces.update_settings(session=s, workspace=s.get(Workspace, world.workspace_id),
                                   role=Role.admin, actor_id=world.admin_id,
                                   data=workspaces.WorkspaceSettingsInput(
                                       timezone="Europe/Lisbon"))
        manager = actor(s, world, "manager@acme.test")
        data = posts.input_from_post(session=s, post=post)
        assert data.scheduled_local == "2026-12-03T08:00"  # the same instant, Lisbon time
        data.text = "edited after the move to Lisbon"
        post = posts.update_post(session=s, actor=manager, post_id=post.id, expected_version=1,
                                 data=data, now=NOW)
        assert post.scheduled_at == instant and post.scheduled_tz == "Europe/Lisbon"
        event = s.exec(select(AuditEvent).where(AuditEvent.action == "workspace.settings")
                       ).one()
        assert '"Europe/Warsaw"' in event.before and '"Europe/Lisbon"' in event.after


def test_workspace_settings_are_for_admins_and_checked_together(world, engine):
    from planner.team import workspaces

    with session_scope(engine) as s:
        ws = s.get(Workspace, world.workspace_id)
        with pytest.raises(Forbidden):
            workspaces.update_settings(session=s, workspace=ws, role=Role.brand_lead,
                                       actor_id=world.admin_id,
                                       data=workspaces.WorkspaceSettingsInput(
                                           daily_cap_per_account=4))
        with pytest.raises(Invalid) as err:
            workspaces.update_settings(session=s, workspace=ws, role=Role.admin,
                                       actor_id=world.admin_id,
                                       data=workspaces.WorkspaceSettingsInput(
                                           name=" ", timezone="Nowhere/City",
                                           daily_cap_per_account=51, utm_campaign="a b"))
        assert {p.field for p in err.value.problems} == {
            "name", "timezone", "daily_cap_per_account", "utm_campaign"}
        assert (ws.timezone, ws.daily_cap_per_account) == ("Europe/Warsaw", 3)
