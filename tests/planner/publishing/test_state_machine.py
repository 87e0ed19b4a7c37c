"""Property: whatever the platform answers, a publication ends in a final state within its
budget, is sent at most once after an outcome that may have created it, and is never recorded
as failed while it is live.

A hypothesis state machine drives random sequences of platform replies (to sends and to
lookups) through the real Dispatcher, Recorder and reconciliation, on the real database. The
platform is an in-memory model that knows the truth (is the post live?) and answers the way
real platforms do: a create may land and still time out, a lookup may miss a live post (it is
beyond the first page) unless asked to page through, a platform with a duplicate check
refuses a second identical post.
"""

from __future__ import annotations

from collections import deque
from datetime import UTC, datetime, timedelta
from typing import Any

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    rule,
    run_state_machine_as_test,
)
from sqlalchemy import bindparam, text
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from planner.dbtypes import UTCDateTime
from planner.models import Notification, PublicationStatus
from planner.publishing.dispatch import Dispatcher
from publishers import (
    AccountRef,
    Content,
    ContentRejected,
    OutcomeUnknown,
    Problem,
    PublishContext,
    PublishResult,
    RateLimited,
    Transient,
)
from tests.planner.publishing.test_dispatch import attempts, config, make_world, pub

S = PublicationStatus
FINAL = {S.published, S.failed, S.needs_review}
MAX_SENDS, MAX_LOOKUPS = 4, 6
# Each tick stands for this much time (X's rate-limit window); the default budget for waiting
# on rate limits (an hour) is then spent within this many ticks.
TICK_MINUTES = 15
RATE_LIMIT_TICKS = 60 // TICK_MINUTES + 1

# What a send may meet. "landed_unknown" creates the post and loses the answer.
SEND_REPLIES = ["ok", "transient", "rate_limited", "rejected", "landed_unknown",
                "lost_unknown"]
# What a lookup may meet. "truthful" finds a live post; "shallow" misses it unless asked to
# page through; "blind" misses it even then (the post is too far back).
LOOKUP_REPLIES = ["truthful", "shallow", "blind", "error", "rate_limited", "cannot_tell",
                  "wrapped_rate_limit"]


def _parsed(value: object) -> datetime:
    parsed = datetime.fromisoformat(value) if isinstance(value, str) else value
    assert isinstance(parsed, datetime)
    return parsed.replace(tzinfo=UTC)  # stored as naive UTC


def _soon() -> datetime:
    return datetime.now(UTC) - timedelta(seconds=1)


class Platform:
    """The truth about one account on one platform, and scripted replies."""

    platform = "scripted"

    def __init__(self, dedup: bool) -> None:
        self.dedup = dedup  # refuses a second identical post (X, LinkedIn, Meta)
        self.posts: list[str] = []
        self.send_replies: deque[str] = deque()
        self.lookup_replies: deque[str] = deque()
        self.default_send = "ok"
        self.default_lookup = "truthful"
        self.sends = 0
        self.sends_after_maybe = 0  # sends after a reply that may have created the post
        self.maybe_created = False
        self.lookups = 0

    @property
    def live(self) -> bool:
        return bool(self.posts)

    def validate(self, content: Content, account: AccountRef) -> list[Problem]:
        return []

    def _create(self) -> PublishResult:
        self.posts.append(f"r{len(self.posts) + 1}")
        return PublishResult(self.posts[-1], f"https://example.test/{self.posts[-1]}")

    def publish(self, content: Content, account: AccountRef,
                ctx: PublishContext) -> PublishResult:
        self.sends += 1
        reply = self.send_replies.popleft() if self.send_replies else self.default_send
        if self.maybe_created and reply != "rate_limited":
            # A 429 is refused before anything is created: it is not a second try at the
            # post (the rule counts tries that could create it).
            self.sends_after_maybe += 1
        if self.dedup and self.live and reply in ("ok", "landed_unknown"):
            self.maybe_created = True
            raise OutcomeUnknown("duplicates an existing post", status=403, duplicate=True)
        if reply == "ok":
            return self._create()
        if reply == "transient":
            raise Transient("503, nothing created", status=503)
        if reply == "rate_limited":
            raise RateLimited("429", reset_at=_soon())
        if reply == "rejected":
            raise ContentRejected("too long", status=400)
        self.maybe_created = True
        if reply == "landed_unknown":
            self._create()
        raise OutcomeUnknown("timed out after the request was sent")

    def find_existing(self, content: Content, account: AccountRef,
                      ctx: PublishContext) -> PublishResult | None:
        self.lookups += 1
        reply = self.lookup_replies.popleft() if self.lookup_replies else self.default_lookup
        if reply == "error":
            raise Transient("502 on the lookup", status=502)
        if reply == "rate_limited":
            raise RateLimited("429 on the lookup", reset_at=_soon())
        if reply == "wrapped_rate_limit":
            try:
                raise RateLimited("429 on the lookup", reset_at=_soon())
            except RateLimited as exc:
                raise OutcomeUnknown("could not look up: 429") from exc
        if reply == "cannot_tell":
            raise OutcomeUnknown("this platform has no lookup")
        visible = reply == "truthful" or (reply == "shallow" and ctx.thorough)
        if self.live and visible:
            return PublishResult(self.posts[0], f"https://example.test/{self.posts[0]}")
        return None

    def check_connection(self, account: AccountRef) -> str:
        return account.handle


class PublicationMachine(RuleBasedStateMachine):
    engine: Engine

    @initialize(dedup=st.booleans(),
                default_send=st.sampled_from(["ok", "transient", "rejected", "landed_unknown",
                                              "lost_unknown", "rate_limited"]),
                default_lookup=st.sampled_from(["truthful", "shallow", "blind", "error",
                                                "cannot_tell", "rate_limited"]))
    def start(self, dedup: bool, default_send: str, default_lookup: str) -> None:
        self.platform = Platform(dedup)
        # What the machine meets once the scripted replies run out (a platform that
        # rate-limits forever is bounded by time: each tick is TICK_MINUTES).
        self.platform.default_send = default_send
        self.platform.default_lookup = default_lookup
        with self.engine.begin() as conn:  # earlier examples' publications stay out of it
            conn.execute(text("UPDATE publication SET status = 'cancelled', due_at = NULL"))
        [self.pid] = make_world(self.engine)
        self.dispatcher = Dispatcher(
            self.engine, config(threads=1, max_attempts=MAX_SENDS, max_lookups=MAX_LOOKUPS,
                                reconcile_max_tries=3),
            publisher_for=lambda _: self.platform)

    @rule(reply=st.sampled_from(SEND_REPLIES))
    def platform_will_answer_a_send(self, reply: str) -> None:
        self.platform.send_replies.append(reply)

    @rule(reply=st.sampled_from(LOOKUP_REPLIES))
    def platform_will_answer_a_lookup(self, reply: str) -> None:
        self.platform.lookup_replies.append(reply)

    @rule()
    def tick(self) -> None:
        self.dispatcher.tick()
        assert self.dispatcher.wait_idle(10)
        # Time passes: backoffs, rate-limit resets and lookup retries fall due.
        with self.engine.begin() as conn:
            # Due now (not long ago: a retry overdue by a day is given up by the sweep).
            conn.execute(text("UPDATE publication SET due_at = :t WHERE status = 'retry_wait'")
                         .bindparams(bindparam("t", type_=UTCDateTime)),
                         {"t": datetime.now(UTC) - timedelta(seconds=1)})
            conn.execute(text("UPDATE publication SET lease_until = NULL "
                              "WHERE status = 'unknown'"))
            conn.execute(text("UPDATE account SET next_allowed_at = NULL"))
            # ... and the clock moves on: what happened is TICK_MINUTES further back.
            for attempt_id, started in conn.execute(text(
                    "SELECT id, started_at FROM attempt WHERE publication_id = :pid"),
                    {"pid": self.pid}).all():
                conn.execute(text("UPDATE attempt SET started_at = :t WHERE id = :id")
                             .bindparams(bindparam("t", type_=UTCDateTime)),
                             {"t": _parsed(started) - timedelta(minutes=TICK_MINUTES),
                              "id": attempt_id})

    @invariant()
    def bounded_and_honest(self) -> None:
        if not hasattr(self, "pid"):
            return
        row = pub(self.engine, self.pid)
        outcomes = [a.outcome for a in attempts(self.engine, self.pid)]
        assert self.platform.sends_after_maybe <= 1, outcomes
        assert row.attempts <= MAX_SENDS, outcomes
        # The story shows exactly the lookups the platform received, never more than the budget.
        shown = sum(o.startswith("reconcile_") for o in outcomes)
        assert shown == self.platform.lookups <= MAX_LOOKUPS, outcomes
        # No 429 is waited out past the hour's budget: every one but the last (which may end
        # it) came within the hour of the first.
        limited = [a.started_at for a in attempts(self.engine, self.pid)
                   if a.outcome in ("rate_limited", "reconcile_rate_limited")]
        assert all(t - limited[0] <= timedelta(minutes=61) for t in limited[:-1]), outcomes
        if row.status == S.failed:
            assert not self.platform.live, ("a live post recorded as failed", outcomes)
        if row.status == S.published:
            assert row.remote_id in self.platform.posts, outcomes

    def teardown(self) -> None:
        if not hasattr(self, "pid"):
            return
        try:
            self.platform.send_replies.clear()
            self.platform.lookup_replies.clear()
            # However it got here, it ends within the budget: every tick either sends or
            # looks up (or finishes), and both are counted.
            for _ in range(2 * (MAX_SENDS + MAX_LOOKUPS) + RATE_LIMIT_TICKS + 2):
                if pub(self.engine, self.pid).status in FINAL:
                    break
                self.tick()
            row = pub(self.engine, self.pid)
            outcomes = [a.outcome for a in attempts(self.engine, self.pid)]
            assert row.status in FINAL, (row.status, outcomes)
            self.bounded_and_honest()
            if row.status == S.needs_review:
                assert row.last_error
        finally:
            self.dispatcher.shutdown()


def test_every_path_ends_within_its_budget(engine: Engine) -> None:
    machine: Any = type("Machine", (PublicationMachine,), {"engine": engine})
    run_state_machine_as_test(machine, settings=settings(
        max_examples=40, stateful_step_count=20, deadline=None,
        suppress_health_check=list(HealthCheck)))


def _drive(engine: Engine, platform: Platform, ticks: int) -> list[str]:
    machine: Any = type("Machine", (PublicationMachine,), {"engine": engine})()
    machine.start(dedup=platform.dedup, default_send=platform.default_send,
                  default_lookup=platform.default_lookup)
    machine.platform.send_replies = platform.send_replies
    machine.platform.lookup_replies = platform.lookup_replies
    try:
        for _ in range(ticks):
            machine.tick()
        machine.bounded_and_honest()
        return [a.outcome for a in attempts(engine, machine.pid)] + [
            str(pub(engine, machine.pid).status), str(len(machine.platform.posts)),
            str(machine.platform.sends)]
    finally:
        machine.dispatcher.shutdown()


class TestTheXLivelock:
    def test_a_duplicate_after_an_unknown_goes_to_a_person_not_round_again(
            self, engine: Engine) -> None:
        # The post landed, the answer was lost, the lookup read one page and missed it,
        # the one resend met "duplicate", the thorough lookup missed it too.
        x = Platform(dedup=True)
        x.send_replies.extend(["landed_unknown", "ok"])
        x.lookup_replies.extend(["blind", "blind"])
        *outcomes, status, posts, sends = _drive(engine, x, 8)
        assert outcomes == ["unknown", "reconcile_not_found", "duplicate",
                            "reconcile_not_found"]
        assert (status, posts, sends) == ("needs_review", "1", "2")
        with Session(engine) as s:
            texts = [n.text for n in s.exec(select(Notification))]
        assert any("needs a person" in t and "@acme" in t for t in texts)

    def test_a_thorough_lookup_finds_what_one_page_missed(self, engine: Engine) -> None:
        x = Platform(dedup=True)
        x.send_replies.extend(["landed_unknown", "ok"])
        x.lookup_replies.extend(["shallow", "shallow"])
        *outcomes, status, posts, sends = _drive(engine, x, 8)
        assert outcomes == ["unknown", "reconcile_not_found", "duplicate", "reconcile_found"]
        assert (status, posts, sends) == ("published", "1", "2")

    def test_a_rate_limited_lookup_waits_instead_of_asking_a_person(
            self, engine: Engine) -> None:
        x = Platform(dedup=True)
        x.send_replies.append("landed_unknown")
        x.lookup_replies.extend(["wrapped_rate_limit", "rate_limited", "truthful"])
        *outcomes, status, _, sends = _drive(engine, x, 6)
        assert outcomes == ["unknown", "reconcile_rate_limited", "reconcile_rate_limited",
                            "reconcile_found"]
        assert (status, sends) == ("published", "1")

    def test_a_spent_lookup_budget_is_not_itself_a_lookup(self, engine: Engine) -> None:
        # Two failed lookups (one short of the tries), then 429s with resets inside the hour:
        # the sixth lookup spends the budget, and the next claim hands it to a person
        # without asking the platform, so the story shows six lookups, not seven.
        x = Platform(dedup=True)
        x.send_replies.append("landed_unknown")
        x.lookup_replies.extend(["error", "error", *["rate_limited"] * 4])
        *outcomes, status, _, sends = _drive(engine, x, 9)
        assert outcomes == ["unknown", "reconcile_error", "reconcile_error",
                            *["reconcile_rate_limited"] * 4, "gave_up"]
        assert (status, sends) == ("needs_review", "1")
        with engine.connect() as conn:
            told = conn.execute(text("SELECT last_error FROM publication "
                                     "WHERE status = 'needs_review'")).scalar_one()
        assert "6 lookups made, the budget is 6" in told and "6 lookup(s)" in told

    def test_a_live_post_is_never_failed_after_an_unknown(self, engine: Engine) -> None:
        # No duplicate check: the resend after a missed lookup meets a plain rejection.
        p = Platform(dedup=False)
        p.send_replies.extend(["landed_unknown", "rejected"])
        p.lookup_replies.append("blind")
        *outcomes, status, _, _ = _drive(engine, p, 6)
        assert outcomes[-1] == "rejected" and status == "needs_review"


def test_a_persons_retry_after_needs_review_sends_again_with_a_fresh_budget(
        engine: Engine) -> None:
    from planner import publishing
    from planner.db import session_scope

    x = Platform(dedup=False)
    x.send_replies.extend(["lost_unknown", "lost_unknown"])
    x.lookup_replies.extend(["truthful", "truthful"])
    machine: Any = type("Machine", (PublicationMachine,), {"engine": engine})()
    machine.start(dedup=False, default_send="ok", default_lookup="truthful")
    machine.platform = x
    try:
        for _ in range(5):
            machine.tick()
        assert pub(engine, machine.pid).status == S.needs_review  # two unknowns: a person
        with session_scope(engine) as s:
            row = pub(engine, machine.pid)
            publishing.retry_publication(session=s, workspace_id=row.workspace_id,
                                         publication_id=machine.pid)
        x.send_replies.append("transient")  # nothing created: an ordinary retry follows
        for _ in range(3):
            machine.tick()
        row = pub(engine, machine.pid)
        outcomes = [a.outcome for a in attempts(engine, machine.pid)]
        assert row.status == S.published and x.sends == 4, outcomes
        assert outcomes[-3:] == ["manual_retry", "transient", "published"]
    finally:
        machine.dispatcher.shutdown()
