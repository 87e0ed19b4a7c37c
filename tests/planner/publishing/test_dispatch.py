"""The dispatcher's state machine against a scripted in-memory publisher, on both databases."""

from __future__ import annotations

import threading
import time
from collections import Counter, deque
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import bindparam, text
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from planner import publishing
from planner.db import session_scope, utcnow
from planner.dbtypes import UTCDateTime
from planner.models import (
    Account,
    AccountStatus,
    Attempt,
    Membership,
    Notification,
    Post,
    PostStatus,
    Publication,
    PublicationStatus,
    Role,
    User,
    Workspace,
)
from planner.publishing.claiming import SEND, AccountCap, claim
from planner.publishing.dispatch import DispatchConfig, Dispatcher
from planner.publishing.metrics import render_metrics
from planner.publishing.reaper import reap_expired_leases, sweep_missed
from publishers import (
    AccountHeld,
    AccountRef,
    AuthExpired,
    Content,
    ContentRejected,
    OutcomeUnknown,
    Problem,
    PublishContext,
    PublishResult,
    RateLimited,
    Transient,
)

S = PublicationStatus


class Scripted:
    """Answers publish() from a queue of results or errors; records every call."""

    platform = "scripted"

    def __init__(self) -> None:
        self.outcomes: deque[Any] = deque()
        self.calls: list[tuple[str, PublishContext]] = []
        self.found: Any = None
        self.lookups = 0
        self.problems: list[Problem] = []

    def validate(self, content: Content, account: AccountRef) -> list[Problem]:
        return list(self.problems)

    def publish(self, content: Content, account: AccountRef,
                ctx: PublishContext) -> PublishResult:
        self.calls.append((content.text, ctx))
        outcome = self.outcomes.popleft() if self.outcomes else None
        if callable(outcome):
            outcome = outcome(ctx)
        if isinstance(outcome, Exception):
            raise outcome
        return outcome or PublishResult(f"remote-{len(self.calls)}",
                                        f"https://example.test/{len(self.calls)}")

    def find_existing(self, content: Content, account: AccountRef,
                      ctx: PublishContext) -> PublishResult | None:
        self.lookups += 1
        if isinstance(self.found, Exception):
            raise self.found
        return self.found  # type: ignore[no-any-return]

    def check_connection(self, account: AccountRef) -> str:
        return account.handle


@pytest.fixture
def scripted() -> Scripted:
    return Scripted()


def config(**overrides: Any) -> DispatchConfig:
    values: dict[str, Any] = {"threads": 4, "lease_seconds": 30, "backoff_base_seconds": 0,
                              "backoff_cap_seconds": 0, "max_attempts": 3}
    values.update(overrides)
    return DispatchConfig(**values)


def make_world(engine: Engine, n: int = 1, *, when: datetime | None = None,
               post_status: PostStatus = PostStatus.approved,
               account_status: AccountStatus = AccountStatus.ok,
               next_allowed_at: datetime | None = None, platform: str = "scripted") -> list[int]:
    when = when or utcnow() - timedelta(seconds=5)
    with session_scope(engine) as s:
        owner = User(email=f"owner{utcnow().timestamp()}@t.test", password_hash="x")
        admin = User(email=f"admin{utcnow().timestamp()}@t.test", password_hash="x")
        ws = Workspace(name="W", slug=f"w{utcnow().timestamp()}")
        s.add_all([owner, admin, ws])
        s.flush()
        assert ws.id and owner.id and admin.id
        s.add(Membership(workspace_id=ws.id, user_id=admin.id, role=Role.admin))
        account = Account(workspace_id=ws.id, platform=platform, handle="acme",
                          status=account_status, owner_id=owner.id,
                          next_allowed_at=next_allowed_at)
        s.add(account)
        s.flush()
        ids = []
        for i in range(n):
            post = Post(workspace_id=ws.id, text=f"hello {i}", status=post_status,
                        scheduled_at=when)
            s.add(post)
            s.flush()
            assert post.id and account.id
            pub = Publication(post_id=post.id, account_id=account.id, workspace_id=ws.id,
                              scheduled_at=when, due_at=when)
            s.add(pub)
            s.flush()
            ids.append(pub.id)
        return ids  # type: ignore[return-value]


def run(engine: Engine, scripted: Scripted, cfg: DispatchConfig | None = None,
        ticks: int = 1) -> Dispatcher:
    dispatcher = Dispatcher(engine, cfg or config(), publisher_for=lambda _: scripted)
    for _ in range(ticks):
        dispatcher.tick()
        assert dispatcher.wait_idle(10)
    dispatcher.shutdown()
    return dispatcher


def pub(engine: Engine, pid: int) -> Publication:
    with Session(engine) as s:
        found = s.get(Publication, pid)
        assert found is not None
        return found


def attempts(engine: Engine, pid: int) -> list[Attempt]:
    with Session(engine) as s:
        return list(s.exec(select(Attempt).where(Attempt.publication_id == pid)
                           .order_by(Attempt.id)).all())  # type: ignore[arg-type]


class TestSend:
    def test_a_due_post_is_sent_once_and_recorded(self, engine: Engine,
                                                  scripted: Scripted) -> None:
        [pid] = make_world(engine)
        run(engine, scripted, ticks=2)

        row = pub(engine, pid)
        assert row.status == S.published
        assert row.remote_id == "remote-1" and row.remote_url.endswith("/1")
        assert row.published_at is not None and row.attempts == 1
        assert len(row.fingerprint) == 64
        assert row.idempotency_key == f"poise-{pid}-1"
        assert len(scripted.calls) == 1
        assert scripted.calls[0][1].idempotency_key == row.idempotency_key
        [attempt] = attempts(engine, pid)
        assert attempt.outcome == "published" and attempt.finished_at is not None
        assert ":" in attempt.worker

    def test_a_post_falling_due_during_a_tick_goes_at_its_instant(
            self, engine: Engine, scripted: Scripted) -> None:
        when = utcnow() + timedelta(seconds=0.6)
        [pid] = make_world(engine, when=when)
        dispatcher = Dispatcher(engine, config(), publisher_for=lambda _: scripted)
        dispatcher.tick(budget_seconds=5)  # one tick, not the next one
        assert dispatcher.wait_idle(10)
        dispatcher.shutdown()
        row = pub(engine, pid)
        assert row.status == S.published
        assert row.published_at is not None and row.published_at >= when

    def test_only_due_approved_posts_of_usable_accounts_are_claimed(self, engine: Engine) -> None:
        [due] = make_world(engine)
        make_world(engine, when=utcnow() + timedelta(hours=1))
        make_world(engine, post_status=PostStatus.in_review)
        make_world(engine, account_status=AccountStatus.needs_reconnect)
        make_world(engine, next_allowed_at=utcnow() + timedelta(minutes=5))
        [held] = make_world(engine)
        with session_scope(engine) as s:
            row = s.get(Publication, held)
            assert row is not None
            row.due_at = None

        jobs = claim(engine, config(), limit=10, mode=SEND)
        assert [j.publication_id for j in jobs] == [due]
        assert len(jobs[0].attempt_id) == 36

    def test_claims_are_disjoint_and_limited(self, engine: Engine) -> None:
        ids = make_world(engine, 5)
        first = claim(engine, config(), limit=3)
        second = claim(engine, config(), limit=3)
        third = claim(engine, config(), limit=3)
        claimed = [j.publication_id for j in first + second]
        assert len(first) == 3 and len(second) == 2 and third == []
        assert sorted(claimed) == sorted(ids)
        assert len({j.attempt_id for j in first + second}) == 5

    def test_cancel_before_sending_wins_over_a_claim(self, engine: Engine,
                                                     scripted: Scripted) -> None:
        [pid] = make_world(engine)
        [job] = claim(engine, config(), limit=1)
        with session_scope(engine) as s:
            ws = pub(engine, pid).workspace_id
            publishing.cancel_publication(session=s, workspace_id=ws, publication_id=pid)
        dispatcher = Dispatcher(engine, config(), publisher_for=lambda _: scripted)
        dispatcher.send(job)
        dispatcher.shutdown()

        assert scripted.calls == []
        assert pub(engine, pid).status == S.cancelled
        assert attempts(engine, pid) == []

    def test_checkpoint_is_saved_and_fenced(self, engine: Engine, scripted: Scripted) -> None:
        [pid] = make_world(engine)

        def saves_state(ctx: PublishContext) -> PublishResult:
            ctx.state["container"] = "c-1"
            ctx.checkpoint(ctx.state)
            assert '"c-1"' in pub(engine, pid).remote_state
            # Another worker took over meanwhile: the next checkpoint must be refused.
            with engine.begin() as conn:
                conn.execute(text("UPDATE publication SET attempt_id = 'other' WHERE id = :i"),
                             {"i": pid})
            ctx.checkpoint({"container": "c-2"})
            raise AssertionError("checkpoint after a lost lease must raise")

        scripted.outcomes.append(saves_state)
        run(engine, scripted)
        row = pub(engine, pid)
        assert row.status == S.sending and '"c-1"' in row.remote_state


class Sleeping(Scripted):
    """Answers every publish after ``latency`` seconds; records when each call started."""

    def __init__(self, latency: float) -> None:
        super().__init__()
        self.latency = latency
        self.started: list[float] = []

    def publish(self, content: Content, account: AccountRef,
                ctx: PublishContext) -> PublishResult:
        self.started.append(time.monotonic())
        time.sleep(self.latency)
        return super().publish(content, account, ctx)


def account_of(engine: Engine, pid: int) -> int:
    return pub(engine, pid).account_id


class TestAccountCap:
    def test_a_claim_takes_at_most_the_cap_per_account_and_looks_past_a_busy_one(
            self, engine: Engine) -> None:
        backlog = make_world(engine, 6, when=utcnow() - timedelta(seconds=60))
        later = make_world(engine, 2, when=utcnow() - timedelta(seconds=30))
        busy, other = account_of(engine, backlog[0]), account_of(engine, later[0])

        # The three oldest rows all belong to the backlog: the claim must look past them.
        jobs = claim(engine, config(), limit=3, cap=AccountCap(2))
        assert Counter(j.account_id for j in jobs) == {busy: 2, other: 1}
        # This worker already runs two of the backlog: none of it, the other's last one.
        jobs = claim(engine, config(), limit=5, cap=AccountCap(2, {busy: 2}))
        assert [j.account_id for j in jobs] == [other]

    def test_a_slow_platform_leaves_threads_for_the_others(self, engine: Engine) -> None:
        # The slow platform's backlog is older, so it comes first in due order.
        make_world(engine, 12, when=utcnow() - timedelta(seconds=10), platform="slow")
        make_world(engine, 6, when=utcnow() - timedelta(seconds=5), platform="fast")

        def fast_done_after(cap: int) -> float:
            slow, fast = Sleeping(0.6), Sleeping(0.0)
            dispatcher = Dispatcher(engine, config(threads=8, max_inflight_per_account=cap),
                                    publisher_for={"slow": slow, "fast": fast}.__getitem__)
            started = time.monotonic()
            ticking = threading.Thread(target=dispatcher.tick, args=(5.0,))
            ticking.start()
            deadline = started + 10
            while len(fast.calls) < 6 and time.monotonic() < deadline:
                time.sleep(0.005)
            done = time.monotonic() - started
            dispatcher.stop_claiming()
            ticking.join()
            dispatcher.shutdown()
            assert len(fast.calls) == 6
            return done

        # Without a cap the slow backlog fills all eight threads (and the queue behind
        # them): the fast posts wait for slow sends to finish.
        assert fast_done_after(cap=8) >= 0.59
        with engine.begin() as conn:
            conn.execute(text("UPDATE publication SET status = 'pending', attempt_id = '', "
                              "attempts = 0 WHERE status != 'pending'"))
        # Two threads per account: the slow platform holds two, the fast one goes now.
        assert fast_done_after(cap=2) < 0.4

    def test_a_claim_is_not_sent_once_its_account_is_held(self, engine: Engine,
                                                         scripted: Scripted) -> None:
        [pid] = make_world(engine)
        [job] = claim(engine, config(), limit=1)
        # Meanwhile another send of the account hit a rate limit (or its token expired).
        with engine.begin() as conn:
            conn.execute(text("UPDATE account SET next_allowed_at = :t"),
                         {"t": utcnow() + timedelta(minutes=10)})
        dispatcher = Dispatcher(engine, config(), publisher_for=lambda _: scripted)
        dispatcher.send(job)
        dispatcher.shutdown()
        assert scripted.calls == []
        row = pub(engine, pid)
        assert row.status == S.pending and row.attempts == 0 and row.lease_until is None
        assert attempts(engine, pid) == []


def test_a_stopping_worker_finishes_its_sends_and_gives_back_what_it_claimed_ahead(
        engine: Engine) -> None:
    [first] = make_world(engine, when=utcnow() - timedelta(seconds=10))
    [ahead] = make_world(engine)
    slow = Sleeping(0.3)
    dispatcher = Dispatcher(engine, config(threads=1), publisher_for=lambda _: slow)
    assert dispatcher.capacity == 2  # one sending, one claimed ahead
    assert dispatcher.tick() == 2
    dispatcher.stop_claiming()  # SIGTERM
    dispatcher.shutdown(wait=True)
    assert len(slow.calls) == 1
    assert pub(engine, first).status == S.published
    row = pub(engine, ahead)
    assert row.status == S.pending and row.lease_until is None and row.attempts == 0
    assert attempts(engine, ahead) == []


def test_a_backlog_drains_in_one_tick(engine: Engine) -> None:
    for _ in range(8):
        make_world(engine)  # one account each
    slow = Sleeping(0.1)
    dispatcher = Dispatcher(engine, config(threads=2), publisher_for=lambda _: slow)
    # 8 sends at 0.1 s on 2 threads take 0.4 s: longer than the budget, which only ends a
    # tick that finds nothing more to claim.
    assert dispatcher.tick(budget_seconds=0.15) == 8
    assert dispatcher.wait_idle(10)
    dispatcher.shutdown()
    assert len(slow.calls) == 8


class TestFailurePolicy:
    def test_transient_backs_off_then_fails_after_max_attempts(self, engine: Engine,
                                                               scripted: Scripted) -> None:
        [pid] = make_world(engine)
        scripted.outcomes.extend(Transient("connection refused") for _ in range(5))
        run(engine, scripted, ticks=4)

        row = pub(engine, pid)
        assert row.status == S.failed and row.attempts == 3
        assert "gave up after 3 attempts" in row.last_error
        assert [a.outcome for a in attempts(engine, pid)] == ["transient"] * 3

    def test_transient_waits_for_its_backoff(self, engine: Engine, scripted: Scripted) -> None:
        [pid] = make_world(engine)
        scripted.outcomes.append(Transient("503"))
        run(engine, scripted, config(backoff_base_seconds=600, backoff_cap_seconds=600),
            ticks=2)
        row = pub(engine, pid)
        assert row.status == S.retry_wait and len(scripted.calls) == 1
        assert row.due_at is not None and row.due_at <= utcnow() + timedelta(seconds=601)

    def test_rate_limit_moves_the_account_and_does_not_count(self, engine: Engine,
                                                             scripted: Scripted) -> None:
        first, second = make_world(engine, 2)
        reset = (utcnow() + timedelta(minutes=10)).replace(microsecond=0)
        scripted.outcomes.append(RateLimited("slow down", reset_at=reset))
        run(engine, scripted, config(threads=1), ticks=2)

        row = pub(engine, first)
        assert row.status == S.retry_wait and row.due_at == reset and row.attempts == 0
        assert pub(engine, second).status == S.pending  # held by the account's limit
        assert len(scripted.calls) == 1
        with Session(engine) as s:
            account = s.exec(select(Account)).one()
        assert account.next_allowed_at == reset

    def test_auth_expired_holds_the_account_and_tells_people(self, engine: Engine,
                                                             scripted: Scripted) -> None:
        first, second = make_world(engine, 2)
        scripted.outcomes.append(AuthExpired("token revoked", status=401))
        run(engine, scripted, config(threads=1), ticks=2)

        assert len(scripted.calls) == 1
        # Nothing was created and it was never tried before: held as pending, so the
        # lateness window still applies if the account stays disconnected for long.
        assert pub(engine, first).status == S.pending
        assert pub(engine, first).attempts == 0
        assert pub(engine, second).status == S.pending
        with Session(engine) as s:
            account = s.exec(select(Account)).one()
            notes = s.exec(select(Notification)).all()
        assert account.status == AccountStatus.needs_reconnect
        assert "token revoked" in account.status_reason
        assert {n.user_id for n in notes} == {account.owner_id, account.owner_id + 1}
        assert all("needs reconnecting" in n.text for n in notes)

    def test_account_held_waits_and_tells_admins_what_to_change(self, engine: Engine,
                                                                scripted: Scripted) -> None:
        # Issue 11: a sunset LinkedIn version (426) or X's 402 is not the post's fault: the
        # publications wait for an admin instead of failing as "rejected".
        first, second = make_world(engine, 2)
        scripted.outcomes.append(AccountHeld("Set POISE_LINKEDIN_VERSION to a current "
                                             "version", status=426))
        run(engine, scripted, config(threads=1), ticks=2)

        assert len(scripted.calls) == 1
        assert pub(engine, first).status == S.pending and pub(engine, first).attempts == 0
        assert "POISE_LINKEDIN_VERSION" in pub(engine, first).last_error
        assert pub(engine, second).status == S.pending
        with Session(engine) as s:
            account = s.exec(select(Account)).one()
            notes = s.exec(select(Notification)).all()
        assert account.status == AccountStatus.held
        assert notes and all("POISE_LINKEDIN_VERSION" in n.text and "rejected" not in n.text
                             for n in notes)

    def test_a_platform_past_its_api_sunset_is_held_not_failed(
            self, engine: Engine, scripted: Scripted, monkeypatch: pytest.MonkeyPatch) -> None:
        # Issue 11: after a documented sunset, publishing to the platform waits (one message
        # on the Accounts page) instead of every post failing on its own.
        from planner.settings import get_settings

        monkeypatch.setenv("POISE_LINKEDIN_VERSION", "202510")  # sunset 2026-10-15
        get_settings.cache_clear()
        try:
            [held] = make_world(engine, platform="linkedin")
            [other] = make_world(engine, platform="mastodon")
            run(engine, scripted, config(threads=1))
        finally:
            monkeypatch.delenv("POISE_LINKEDIN_VERSION")
            get_settings.cache_clear()
        assert pub(engine, held).status == S.pending and pub(engine, held).attempts == 0
        assert pub(engine, other).status == S.published
        assert [text for text, _ in scripted.calls] == ["hello 0"]

    def test_content_rejected_fails_with_the_reason(self, engine: Engine,
                                                    scripted: Scripted) -> None:
        [pid] = make_world(engine)
        scripted.outcomes.append(ContentRejected("text too long for this account"))
        run(engine, scripted)
        row = pub(engine, pid)
        assert row.status == S.failed and "text too long" in row.last_error

    def test_invalid_content_is_never_sent(self, engine: Engine, scripted: Scripted) -> None:
        [pid] = make_world(engine)
        scripted.problems = [Problem("text", "over 500 characters")]
        run(engine, scripted)
        assert scripted.calls == []
        assert pub(engine, pid).status == S.failed
        assert "over 500 characters" in pub(engine, pid).last_error


    def test_an_adapter_bug_in_validate_fails_the_publication(self, engine: Engine,
                                                              scripted: Scripted) -> None:
        [pid] = make_world(engine)

        def broken(content: Content, account: AccountRef) -> list[Problem]:
            raise KeyError("oops")

        scripted.validate = broken  # type: ignore[method-assign]
        run(engine, scripted, ticks=2)
        assert scripted.calls == []
        assert pub(engine, pid).status == S.failed
        assert "could not be checked" in pub(engine, pid).last_error


def _reset_passes(engine: Engine) -> None:
    """The clock reaches the platform's reset: the row and its account are due again."""
    with engine.begin() as conn:
        conn.execute(text("UPDATE publication SET due_at = :t WHERE status = 'retry_wait'")
                     .bindparams(bindparam("t", type_=UTCDateTime)),
                     {"t": utcnow() - timedelta(seconds=1)})
        conn.execute(text("UPDATE publication SET lease_until = NULL WHERE status = 'unknown'"))
        conn.execute(text("UPDATE account SET next_allowed_at = NULL"))


class TestRateLimitBudget:
    """A publication that keeps getting 429 ends after POISE_PUBLISH_RATE_LIMIT_MAX_WAIT_MINUTES
    (counted from its first 429), waiting for each reset the platform names inside it."""

    def test_resets_inside_the_budget_are_waited_for_then_a_person_decides(
            self, engine: Engine, scripted: Scripted) -> None:
        [pid] = make_world(engine)
        start = utcnow()
        # 429s whose resets (Retry-After / x-rate-limit-reset) stay inside ten minutes of
        # the first 429, then one that would take it past them.
        resets = [(start + timedelta(minutes=m)).replace(microsecond=0) for m in (3, 9, 12)]
        scripted.outcomes.extend(RateLimited("slow down", reset_at=r) for r in resets)
        cfg = config(threads=1, rate_limit_max_wait_seconds=600)
        for reset in resets[:2]:
            run(engine, scripted, cfg)
            row = pub(engine, pid)
            assert row.status == S.retry_wait and row.due_at == reset and row.attempts == 0
            _reset_passes(engine)
        run(engine, scripted, cfg, ticks=2)

        row = pub(engine, pid)
        assert row.status == S.needs_review and row.attempts == 0
        assert len(scripted.calls) == 3  # nothing sent after the budget was spent
        assert "10-minute budget" in row.last_error
        assert "POISE_PUBLISH_RATE_LIMIT_MAX_WAIT_MINUTES" in row.last_error
        assert "Nothing was created" in row.last_error
        assert "rate_limited, rate_limited, rate_limited" in row.last_error
        assert [a.outcome for a in attempts(engine, pid)] == ["rate_limited"] * 3
        with Session(engine) as s:
            account = s.exec(select(Account)).one()
            notes = [n.text for n in s.exec(select(Notification))]
        assert account.next_allowed_at == resets[2]  # the account still waits for it
        assert notes and all(f"publication {pid}" in n and "needs a person" in n
                             for n in notes)

    def test_the_budget_counts_from_the_first_429_not_from_each(
            self, engine: Engine, scripted: Scripted) -> None:
        [pid] = make_world(engine)
        cfg = config(threads=1, rate_limit_max_wait_seconds=3600)
        scripted.outcomes.append(RateLimited("slow down", reset_at=utcnow()
                                             + timedelta(minutes=1)))
        run(engine, scripted, cfg)
        # 58 minutes of 429s later (the first one's time moved back), a reset 5 minutes
        # away is past the hour.
        with engine.begin() as conn:
            conn.execute(text("UPDATE attempt SET started_at = :t").bindparams(
                bindparam("t", type_=UTCDateTime)), {"t": utcnow() - timedelta(minutes=58)})
        _reset_passes(engine)
        scripted.outcomes.append(RateLimited("slow down", reset_at=utcnow()
                                             + timedelta(minutes=5)))
        run(engine, scripted, cfg)
        assert pub(engine, pid).status == S.needs_review
        assert len(scripted.calls) == 2

    def test_a_reset_past_the_budget_is_not_waited_for(self, engine: Engine,
                                                       scripted: Scripted) -> None:
        # X's 24-hour posting cap answers 429 with a reset a day away.
        [pid] = make_world(engine)
        reset = (utcnow() + timedelta(hours=24)).replace(microsecond=0)
        scripted.outcomes.append(RateLimited("daily cap", reset_at=reset))
        run(engine, scripted, config(threads=1), ticks=2)
        row = pub(engine, pid)
        assert row.status == S.needs_review and len(scripted.calls) == 1
        assert "60-minute budget" in row.last_error
        with Session(engine) as s:
            assert s.exec(select(Account)).one().next_allowed_at == reset

    def test_after_an_unknown_outcome_it_says_the_post_may_be_live(
            self, engine: Engine, scripted: Scripted) -> None:
        [pid] = make_world(engine)
        scripted.outcomes.extend([OutcomeUnknown("timeout"), RateLimited(
            "slow down", reset_at=utcnow() + timedelta(hours=3))])
        run(engine, scripted, config(threads=1), ticks=3)  # send, lookup: absent, resend
        row = pub(engine, pid)
        assert row.status == S.needs_review and len(scripted.calls) == 2
        assert "may have created the post" in row.last_error

    def test_a_rate_limited_lookup_past_the_budget_goes_to_a_person(
            self, engine: Engine, scripted: Scripted) -> None:
        [pid] = make_world(engine)
        scripted.outcomes.append(OutcomeUnknown("timeout"))
        scripted.found = RateLimited("lookups limited", reset_at=utcnow() + timedelta(hours=2))
        run(engine, scripted, config(threads=1), ticks=2)
        row = pub(engine, pid)
        assert row.status == S.needs_review and len(scripted.calls) == 1
        assert "60-minute budget" in row.last_error
        assert [a.outcome for a in attempts(engine, pid)] == [
            "unknown", "reconcile_rate_limited"]

    def test_a_rate_limited_lookup_inside_the_budget_waits_for_its_reset(
            self, engine: Engine, scripted: Scripted) -> None:
        [pid] = make_world(engine)
        reset = (utcnow() + timedelta(minutes=5)).replace(microsecond=0)
        scripted.outcomes.append(OutcomeUnknown("timeout"))
        scripted.found = RateLimited("lookups limited", reset_at=reset)
        run(engine, scripted, config(threads=1), ticks=2)
        row = pub(engine, pid)
        assert row.status == S.unknown and row.lease_until == reset


class TestReconcile:
    def test_unknown_found_becomes_published_without_a_resend(self, engine: Engine,
                                                              scripted: Scripted) -> None:
        [pid] = make_world(engine)
        scripted.outcomes.append(OutcomeUnknown("read timeout"))
        scripted.found = PublishResult("remote-found", "https://example.test/found")
        run(engine, scripted, ticks=2)

        row = pub(engine, pid)
        assert row.status == S.published and row.remote_id == "remote-found"
        assert len(scripted.calls) == 1 and scripted.lookups == 1
        assert [a.outcome for a in attempts(engine, pid)] == ["unknown", "reconcile_found"]

    def test_unknown_surely_absent_is_sent_again(self, engine: Engine,
                                                 scripted: Scripted) -> None:
        [pid] = make_world(engine)
        scripted.outcomes.append(OutcomeUnknown("HTTP 500"))
        run(engine, scripted, ticks=3)
        assert pub(engine, pid).status == S.published
        assert len(scripted.calls) == 2
        assert [a.outcome for a in attempts(engine, pid)] == [
            "unknown", "reconcile_not_found", "published"]

    def test_unknown_that_cannot_be_checked_goes_to_a_person(self, engine: Engine,
                                                             scripted: Scripted) -> None:
        [pid] = make_world(engine)
        scripted.outcomes.append(OutcomeUnknown("HTTP 500"))
        scripted.found = OutcomeUnknown("no lookup on this platform")
        run(engine, scripted, ticks=3)
        row = pub(engine, pid)
        assert row.status == S.needs_review
        assert "no lookup on this platform" in row.last_error
        assert len(scripted.calls) == 1


    def test_an_unknown_with_a_not_before_is_not_reconciled_earlier(
            self, engine: Engine, scripted: Scripted) -> None:
        """Mastodon stores its idempotency key only after creating: the reconciler must not
        touch the platform while the first request may still run (issue 11)."""
        [pid] = make_world(engine)
        later = datetime.now(UTC) + timedelta(minutes=3)
        scripted.outcomes.append(OutcomeUnknown("read timeout", not_before=later))
        scripted.found = PublishResult("remote-found", "https://example.test/found")
        run(engine, scripted, ticks=3)
        row = pub(engine, pid)
        assert row.status == S.unknown and scripted.lookups == 0
        assert row.lease_until is not None and abs(
            (row.lease_until.replace(tzinfo=UTC) - later).total_seconds()) < 1
        with session_scope(engine) as s:  # the wait is over
            s.get(Publication, pid).lease_until = datetime.now(UTC) - timedelta(seconds=1)
        run(engine, scripted, ticks=1)
        assert pub(engine, pid).status == S.published and scripted.lookups == 1

    def test_a_reconcile_that_must_wait_again_waits_then_gives_up_bounded(
            self, engine: Engine, scripted: Scripted) -> None:
        [pid] = make_world(engine)
        scripted.outcomes.append(OutcomeUnknown("read timeout"))
        scripted.found = OutcomeUnknown("still running", not_before=datetime.now(UTC))
        run(engine, scripted, config(reconcile_max_tries=2), ticks=4)
        row = pub(engine, pid)
        assert row.status == S.needs_review and scripted.lookups == 2
        assert len(scripted.calls) == 1


class TestReaperAndLateness:
    def test_expired_leases_are_released_or_reconciled(self, engine: Engine,
                                                       scripted: Scripted) -> None:
        claimed_id, sending_id = make_world(engine, 2)
        jobs = claim(engine, config(lease_seconds=5), limit=2)
        dispatcher = Dispatcher(engine, config(lease_seconds=5), publisher_for=lambda _: scripted)
        job = next(j for j in jobs if j.publication_id == sending_id)
        assert dispatcher.recorder.to_sending(job)

        later = config(lease_seconds=5, clock_skew_seconds=30)  # the reaper's clock is ahead
        reaped = reap_expired_leases(engine, later)
        assert (reaped.released, reaped.unknown) == (1, 1)
        assert pub(engine, claimed_id).status == S.pending
        assert pub(engine, sending_id).status == S.unknown
        assert attempts(engine, sending_id)[0].outcome == "lease_expired"
        # The stalled worker's late write is refused.
        assert not dispatcher.recorder.published(job, PublishResult("late"), "sending")
        dispatcher.shutdown()
        assert pub(engine, sending_id).status == S.unknown

    def test_late_publications_are_missed_not_sent(self, engine: Engine,
                                                   scripted: Scripted) -> None:
        [late] = make_world(engine, when=utcnow() - timedelta(minutes=61))
        [ok] = make_world(engine, when=utcnow() - timedelta(minutes=59))
        assert [j.publication_id for j in claim(engine, config(), limit=5)] == [ok]
        assert sweep_missed(engine, config()) == 1
        assert pub(engine, late).status == S.missed


    def test_a_retry_held_past_the_give_up_age_is_missed_not_sent_days_late(
            self, engine: Engine, scripted: Scripted) -> None:
        # Tried once, then its account could not send (a reconnect, a pause): it stays due.
        held, fresh, retried = make_world(engine, 3, when=utcnow() - timedelta(days=3))
        with engine.begin() as conn:
            for pid, due in ((held, utcnow() - timedelta(hours=25)),
                             (fresh, utcnow() - timedelta(minutes=5)),
                             (retried, utcnow())):
                conn.execute(text("UPDATE publication SET status = 'retry_wait', attempts = 1, "
                                  "due_at = :due WHERE id = :id"), {"due": due, "id": pid})
        assert sweep_missed(engine, config(give_up_hours=24)) == 1
        assert pub(engine, held).status == S.missed
        assert "waited more than 24 hours" in (pub(engine, held).last_error or "")
        # In ordinary backoff, or sent again by a person just now: not given up.
        assert pub(engine, fresh).status == S.retry_wait
        assert pub(engine, retried).status == S.retry_wait
        assert held not in [j.publication_id for j in claim(engine, config(), limit=5)]


def test_metrics_count_the_pipeline(engine: Engine, scripted: Scripted) -> None:
    make_world(engine, 3, when=utcnow() - timedelta(seconds=90))
    make_world(engine, when=utcnow() + timedelta(hours=1))
    with Session(engine) as s:
        body = render_metrics(s)
    assert "poise_publications_due 3\n" in body
    assert "# TYPE poise_publications_in_flight gauge" in body
    lateness = float(body.split("\npoise_publishing_oldest_due_lateness_seconds ")[1].split()[0])
    assert 85 < lateness < 150
    run(engine, scripted, config(max_inflight_per_account=4), ticks=2)
    with Session(engine) as s:
        body = render_metrics(s)
    assert "poise_publications_published 3\n" in body
    assert "poise_publications_due 0\n" in body


def test_times_round_trip_as_utc(engine: Engine) -> None:
    when = datetime(2026, 3, 29, 0, 30, tzinfo=UTC)
    [pid] = make_world(engine, when=when)
    assert pub(engine, pid).due_at == when


def test_metrics_lateness_histogram_and_recent_quantiles(engine: Engine) -> None:
    now = utcnow()
    # (seconds late, published how long ago): the last one is outside the last hour.
    cases = [(0.2, 60), (1.5, 60), (3.0, 120), (40.0, 600), (600.0, 1200), (7.0, 7200)]
    ids = make_world(engine, len(cases) + 1)
    with engine.begin() as conn:
        for pid, (late, ago) in zip(ids, cases, strict=False):
            published = now - timedelta(seconds=ago)
            conn.execute(text(
                "UPDATE publication SET status = 'published', published_at = :p, "
                "scheduled_at = :s WHERE id = :i").bindparams(
                    bindparam("p", type_=UTCDateTime), bindparam("s", type_=UTCDateTime)),
                {"p": published, "s": published - timedelta(seconds=late), "i": pid})
    with Session(engine) as s:
        body = render_metrics(s)

    samples = {line.rsplit(" ", 1)[0]: float(line.rsplit(" ", 1)[1])
               for line in body.splitlines() if line and not line.startswith("#")}
    hist = "poise_publishing_lateness_seconds"
    assert "# TYPE poise_publishing_lateness_seconds histogram" in body
    expected = {"0.5": 1, "1": 1, "2": 2, "5": 3, "10": 4, "30": 4, "60": 5, "300": 5,
                "900": 6, "3600": 6, "+Inf": 6}
    assert {le: samples[f'{hist}_bucket{{le="{le}"}}'] for le in expected} == expected
    assert samples[f"{hist}_count"] == 6
    assert samples[f"{hist}_sum"] == pytest.approx(651.7, abs=0.05)
    recent = "poise_publishing_recent_lateness_seconds"
    # Five published in the last hour: 0.2, 1.5, 3, 40, 600 (nearest rank).
    assert samples[f'{recent}{{quantile="0.5"}}'] == pytest.approx(3.0, abs=0.01)
    assert samples[f'{recent}{{quantile="0.95"}}'] == pytest.approx(600.0, abs=0.01)
    assert samples[f'{recent}{{quantile="0.99"}}'] == pytest.approx(600.0, abs=0.01)
    # Every sample line is "name{labels} value" with a declared metric family.
    families = {line.split()[2] for line in body.splitlines() if line.startswith("# TYPE")}
    for name in samples:
        base = name.split("{")[0]
        assert base in families or base.rsplit("_", 1)[0] in families, name


def test_metrics_recent_lateness_is_nan_when_nothing_was_published(engine: Engine) -> None:
    make_world(engine)
    with Session(engine) as s:
        body = render_metrics(s)
    assert 'poise_publishing_recent_lateness_seconds{quantile="0.99"} NaN\n' in body
    assert "poise_publishing_lateness_seconds_count 0\n" in body
