"""The lookup budget, end to end: the real X adapter against the loopback fake of its API,
the real Dispatcher, and the story as the API shows it. The lookups the story counts are the
lookups the platform received, and the budget is never passed."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import text

from planner.accounts import connections
from planner.db import session_scope, utcnow
from planner.models import Post, PostStatus, Publication
from planner.publishing.dispatch import Dispatcher
from sandbox import EXTERNAL_IDS, credentials_for
from tests.planner.publishing.test_dispatch import config
from tests.planner.publishing.test_publishing_api import api  # noqa: F401  (fixture)

BUDGET = 3



def due_on_x(engine, world, fake) -> int:
    with session_scope(engine) as s:
        account = connections.connect(
            session=s, workspace_id=world.workspace_id, platform="x", handle="@brandx",
            api_base=fake.base_url, credentials=credentials_for("x", "@brandx"),
            external_id=EXTERNAL_IDS["x"], actor_id=None, check=False)
        when = utcnow() - timedelta(seconds=5)
        post = Post(workspace_id=world.workspace_id, text="Spring rides start Saturday",
                    status=PostStatus.approved, scheduled_at=when)
        s.add(post)
        s.flush()
        assert post.id and account.id
        publication = Publication(post_id=post.id, account_id=account.id,
                                  workspace_id=world.workspace_id, scheduled_at=when,
                                  due_at=when)
        s.add(publication)
        s.flush()
        assert publication.id
        return publication.id


def test_the_story_counts_the_lookups_the_platform_received(engine, world, fake, api):  # noqa: F811
    pid = due_on_x(engine, world, fake)
    # X has no idempotency: a 500 after the create leaves the outcome unknown. Every lookup
    # then meets a 429 whose reset (15 minutes on) is inside the hour's budget for waiting.
    fake.inject("create", "create_then_5xx", platform="x")
    fake.inject("read", "429", platform="x", times=BUDGET + 5)
    dispatcher = Dispatcher(engine, config(threads=1, max_lookups=BUDGET))
    try:
        for _ in range(BUDGET + 4):
            dispatcher.tick()
            assert dispatcher.wait_idle(10)
            with engine.begin() as conn:  # the reset has passed
                conn.execute(text("UPDATE publication SET lease_until = NULL "
                                  "WHERE status = 'unknown'"))
                conn.execute(text("UPDATE account SET next_allowed_at = NULL"))
    finally:
        dispatcher.shutdown()

    received = [r for r in fake.requests if r[2] == "x" and r[3] == "read"]
    item = api("GET", f"/publications/{pid}", email="viewer@acme.test").json()
    story = [step["outcome"] for step in item["history"]]
    lookups = [o for o in story if o.startswith("reconcile_")]
    assert item["status"] == "needs_review", story
    assert len(received) == len(lookups) == BUDGET, story
    assert story == ["unknown", *["reconcile_rate_limited"] * BUDGET, "gave_up"]
    assert f"1 send(s), {BUDGET} lookup(s)" in item["last_error"]
    assert item["history"][-1]["detail"] == (f"no lookup made: {BUDGET} lookups made, "
                                             f"the budget is {BUDGET}")
