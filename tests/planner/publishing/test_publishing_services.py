"""Publishing page services: listing, retry, mark published, cancel, schedule and hold."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import text
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from planner import publishing
from planner.db import session_scope, utcnow
from planner.errors import Conflict, Invalid
from planner.models import (
    Account,
    Attempt,
    Post,
    PostStatus,
    Publication,
    PublicationStatus,
    Workspace,
)
from planner.publishing.claiming import claim

S = PublicationStatus


@pytest.fixture
def world(engine: Engine) -> dict[str, int]:
    with session_scope(engine) as s:
        ws = Workspace(name="W", slug="w")
        s.add(ws)
        s.flush()
        assert ws.id
        a1 = Account(workspace_id=ws.id, platform="scripted", handle="one")
        a2 = Account(workspace_id=ws.id, platform="scripted", handle="two")
        post = Post(workspace_id=ws.id, text="hello", status=PostStatus.approved,
                    scheduled_at=utcnow() - timedelta(seconds=5))
        s.add_all([a1, a2, post])
        s.flush()
        assert a1.id and a2.id and post.id
        return {"ws": ws.id, "a1": a1.id, "a2": a2.id, "post": post.id}


def schedule(engine: Engine, world: dict[str, int], *account_keys: str) -> list[int]:
    with session_scope(engine) as s:
        post = s.get(Post, world["post"])
        accounts = [s.get(Account, world[k]) for k in account_keys]
        assert post is not None and all(accounts)
        pubs = publishing.schedule_publications_for_post(s, post, accounts)  # type: ignore[arg-type]
        return [p.id for p in pubs]  # type: ignore[misc]


def set_status(engine: Engine, pid: int, status: str) -> None:
    with engine.begin() as conn:
        conn.execute(text("UPDATE publication SET status = :s WHERE id = :i"),
                     {"s": status, "i": pid})


def status_of(engine: Engine, pid: int) -> str:
    with Session(engine) as s:
        row = s.get(Publication, pid)
        assert row is not None
        return str(row.status)


class TestSchedule:
    def test_approval_creates_one_pending_publication_per_account(
            self, engine: Engine, world: dict[str, int]) -> None:
        ids = schedule(engine, world, "a1", "a2")
        with Session(engine) as s:
            rows = s.exec(select(Publication)).all()
            post = s.get(Post, world["post"])
        assert post is not None
        assert len(rows) == 2 and {r.id for r in rows} == set(ids)
        for row in rows:
            assert row.status == S.pending
            assert row.scheduled_at == row.due_at == post.scheduled_at
            assert row.idempotency_key == f"poise-{row.id}-1"

    def test_rescheduling_keeps_published_and_cancels_dropped_accounts(
            self, engine: Engine, world: dict[str, int]) -> None:
        first, second = schedule(engine, world, "a1", "a2")
        set_status(engine, first, "published")
        again = schedule(engine, world, "a1")
        assert again == [first]
        assert status_of(engine, first) == "published"
        assert status_of(engine, second) == "cancelled"

    def test_hold_takes_back_unsent_and_claimed(self, engine: Engine,
                                               world: dict[str, int]) -> None:
        first, second = schedule(engine, world, "a1", "a2")
        [job] = claim(engine, publishing_config(), limit=1)
        with session_scope(engine) as s:
            post = s.get(Post, world["post"])
            assert post is not None
            assert publishing.hold_publications_for_post(s, post) == 2
        with Session(engine) as s:
            rows = s.exec(select(Publication)).all()
        assert all(r.status == S.pending and r.due_at is None for r in rows)
        assert claim(engine, publishing_config(), limit=5) == []
        assert job.publication_id in (first, second)

    def test_hold_is_refused_while_sending(self, engine: Engine, world: dict[str, int]) -> None:
        first, second = schedule(engine, world, "a1", "a2")
        set_status(engine, first, "sending")
        with pytest.raises(publishing.PublicationLocked), session_scope(engine) as s:
            post = s.get(Post, world["post"])
            assert post is not None
            publishing.hold_publications_for_post(s, post)
        assert status_of(engine, second) == "pending"  # rolled back with the refusal


def publishing_config():  # type: ignore[no-untyped-def]
    from planner.publishing.dispatch import DispatchConfig

    return DispatchConfig(threads=2, lease_seconds=30)


class TestActions:
    def test_cancel_is_refused_once_sending(self, engine: Engine, world: dict[str, int]) -> None:
        [pid] = schedule(engine, world, "a1")
        set_status(engine, pid, "sending")
        with pytest.raises(publishing.PublicationLocked, match="being published right now"), \
                session_scope(engine) as s:
            publishing.cancel_publication(session=s, workspace_id=world["ws"],
                                          publication_id=pid)
        assert status_of(engine, pid) == "sending"

    def test_cancel_before_sending_wins(self, engine: Engine, world: dict[str, int]) -> None:
        [pid] = schedule(engine, world, "a1")
        claim(engine, publishing_config(), limit=1)
        with session_scope(engine) as s:
            row = publishing.cancel_publication(session=s, workspace_id=world["ws"],
                                                publication_id=pid)
            assert row.status == S.cancelled

    def test_cancel_published_is_a_conflict(self, engine: Engine, world: dict[str, int]) -> None:
        [pid] = schedule(engine, world, "a1")
        set_status(engine, pid, "published")
        with pytest.raises(Conflict), session_scope(engine) as s:
            publishing.cancel_publication(session=s, workspace_id=world["ws"],
                                          publication_id=pid)

    def test_retry_and_mark_published(self, engine: Engine, world: dict[str, int]) -> None:
        first, second = schedule(engine, world, "a1", "a2")
        set_status(engine, first, "failed")
        set_status(engine, second, "needs_review")
        with session_scope(engine) as s:
            retried = publishing.retry_publication(session=s, workspace_id=world["ws"],
                                                   publication_id=first)
            assert retried.status == S.retry_wait and retried.attempts == 0
            with pytest.raises(Invalid):
                publishing.mark_published(session=s, workspace_id=world["ws"],
                                          publication_id=second, remote_url="nope")
            for hostile in ("javascript:alert(1)//https://", "http://social.test/@one/1",
                            "data:text/html,x"):
                with pytest.raises(Invalid):
                    publishing.mark_published(session=s, workspace_id=world["ws"],
                                              publication_id=second, remote_url=hostile)
            marked = publishing.mark_published(session=s, workspace_id=world["ws"],
                                               publication_id=second,
                                               remote_url="https://social.test/@one/1")
            assert marked.status == S.published and marked.published_at is not None
        with pytest.raises(Conflict), session_scope(engine) as s:
            publishing.retry_publication(session=s, workspace_id=world["ws"],
                                         publication_id=second)

    def test_edit_refused_once_sending(self, engine: Engine, world: dict[str, int]) -> None:
        [pid] = schedule(engine, world, "a1")
        set_status(engine, pid, "sending")
        with pytest.raises(publishing.PublicationLocked), session_scope(engine) as s:
            publishing.edit_publication_text(session=s, workspace_id=world["ws"],
                                             publication_id=pid, text_variant="new")

    def test_sections_badge_and_attempts(self, engine: Engine, world: dict[str, int]) -> None:
        first, second = schedule(engine, world, "a1", "a2")
        set_status(engine, first, "needs_review")
        with session_scope(engine) as s:
            s.add(Attempt(publication_id=first, attempt_id="a", outcome="reconcile_unknown"))
        with Session(engine) as s:
            assert publishing.count_needing_attention(s, world["ws"]) == 1
            overview = publishing.publishing_overview(session=s, workspace_id=world["ws"])
        assert [v.publication.id for v in overview["needs_review"]] == [first]
        assert [a.outcome for a in overview["needs_review"][0].attempts] == ["reconcile_unknown"]
        assert [v.publication.id for v in overview["upcoming"]] == [second]
        assert overview["failed"] == [] and overview["missed"] == []
