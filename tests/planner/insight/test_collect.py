"""Metric collection against the loopback fakes: readings on the schedule, never zeros for a
platform without metrics, X only when switched on, rate limits obeyed, rounds bounded."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from sqlmodel import select

from planner.db import session_scope
from planner.insight import collect
from planner.models import Account
from planner.models_insight import MetricCollection, MetricReading

SCHEDULE = "1h,6h,24h,3d,7d,28d"


def hours_ago(hours: float) -> datetime:
    return datetime.now(UTC) - timedelta(hours=hours)


def _rows(engine) -> dict[int, MetricCollection]:
    with session_scope(engine) as s:
        return {r.publication_id: r for r in s.exec(select(MetricCollection)).all()}


def test_a_round_reads_due_posts_and_schedules_the_next_step(brand, engine):
    masto = brand.publish("mastodon", "Caring for our riders this winter", "care",
                          hours_ago(2))
    sky = brand.publish("bluesky", "Try the new trail lights", "try", hours_ago(2))
    fresh = brand.publish("mastodon", "Just out", "learn", datetime.now(UTC))
    brand.fake.advance(7200)  # the fake's posts are two hours old too: counts have grown

    result = collect.collect_due(engine, schedule=SCHEDULE, batch=50)

    assert result.read == 2 and result.enrolled == 3
    rows = _rows(engine)
    for pub in (masto, sky):
        row = rows[pub]
        assert row.status == "collecting" and row.stage == 1
        assert row.next_due_at == row.published_at + timedelta(hours=6)
        latest = json.loads(row.latest)
        assert latest["likes"] > 0 and latest["link_clicks"] == 0
        assert "impressions" not in latest  # Mastodon and Bluesky have none: absent, not 0
        assert row.engagements and row.score is not None
    assert rows[fresh].stage == 0  # not due for an hour
    with session_scope(engine) as s:
        metrics = {r.metric for r in s.exec(select(MetricReading).where(
            MetricReading.publication_id == masto)).all()}
    assert {"likes", "reposts", "replies", "link_clicks"} <= metrics

    again = collect.collect_due(engine, schedule=SCHEDULE, batch=50)
    assert again.claimed == 0  # nothing due until the 6 h step


def test_webhooks_are_not_available_and_x_waits_for_its_switch(brand, engine):
    hook = brand.publish("webhook", "Hello hook", "share", hours_ago(2))
    x = brand.publish("x", "Learn to fix a puncture", "learn", hours_ago(2))
    brand.fake.advance(7200)
    collect.collect_due(engine, schedule=SCHEDULE, batch=50)
    rows = _rows(engine)
    assert rows[hook].status == "not_available" and rows[hook].score is None
    assert rows[x].status == "off" and "$0.005" in rows[x].reason
    assert not any(path.startswith("/2/tweets") and method == "GET"
                   for method, path, *_ in brand.fake.requests)

    with session_scope(engine) as s:
        collect.set_billed_metrics(session=s, account=s.get(Account, brand.accounts["x"]),
                                   enabled=True, by=brand.admin_id)
    collect.collect_due(engine, schedule=SCHEDULE, batch=50)
    row = _rows(engine)[x]
    assert row.status == "collecting" and row.stage == 1
    assert json.loads(row.latest)["impressions"] > 0
    assert row.denominator == row.impressions  # X gives impressions: the rate's denominator


def test_a_rate_limit_moves_the_accounts_next_allowed_time(brand, engine):
    first = brand.publish("mastodon", "One", "care", hours_ago(3))
    second = brand.publish("mastodon", "Two", "care", hours_ago(3))
    brand.fake.advance(3 * 3600)
    brand.fake.inject("read", "429", platform="mastodon")
    result = collect.collect_due(engine, schedule=SCHEDULE, batch=50)
    assert result.rate_limited == 2 and result.read == 0  # the second waits for the reset
    with session_scope(engine) as s:
        assert s.get(Account, brand.accounts["mastodon"]).next_allowed_at is not None
    reads = [p for _, p, *_ in brand.fake.requests if p.startswith("/api/v1/statuses/")]
    assert len(reads) == 1
    rows = _rows(engine)
    assert rows[first].stage == rows[second].stage == 0


def test_rounds_are_bounded(brand, engine):
    for i in range(5):
        brand.publish("mastodon", f"Post {i}", "learn", hours_ago(2))
    brand.fake.advance(7200)
    first = collect.collect_due(engine, schedule=SCHEDULE, batch=2)
    assert first.enrolled == 2 and first.claimed == 2
    collect.collect_due(engine, schedule=SCHEDULE, batch=2)
    collect.collect_due(engine, schedule=SCHEDULE, batch=2)
    assert sum(r.stage for r in _rows(engine).values()) == 5


def test_a_deleted_post_is_not_available(brand, engine):
    pub = brand.publish("mastodon", "Soon gone", "try", hours_ago(2))
    with session_scope(engine) as s:
        row = s.get(collect.Publication, pub)
        row.remote_id = "999999"
    collect.collect_due(engine, schedule=SCHEDULE, batch=10)
    row = _rows(engine)[pub]
    assert row.status == "not_available" and "no longer has this post" in row.reason


def test_schedule_setting_is_checked():
    assert collect.parse_schedule("1h, 2d") == [timedelta(hours=1), timedelta(days=2)]
    for bad in ("1w", "6h,1h", ""):
        try:
            collect.parse_schedule(bad)
        except collect.Invalid as exc:
            assert exc.problems[0].field == "metrics_schedule"
        else:
            raise AssertionError(bad)


def _connect(brand, platform: str) -> None:
    """Connect one more of the fake's platforms to the brand."""
    from planner import accounts
    from sandbox import EXTERNAL_IDS, credentials_for

    with session_scope(brand.engine) as s:
        brand.accounts[platform] = accounts.create_account(
            session=s, workspace_id=brand.workspace_id, platform=platform, handle="brand",
            api_base=brand.fake.base_url, credentials=credentials_for(platform, "brand"),
            external_id=EXTERNAL_IDS[platform]).id


def test_followers_near_publishing_are_the_denominator_where_no_views(brand, engine):
    import math

    brand.fake.followers_count = 2000
    pub = brand.publish("mastodon", "Caring, counted", "care", hours_ago(2))
    brand.fake.advance(7200)
    collect.collect_due(engine, schedule=SCHEDULE, batch=50)
    row = _rows(engine)[pub]
    assert row.followers == 2000 and row.denominator == 2000
    assert row.score == pytest.approx(math.log((row.engagements + 0.5) / 2000))
    assert json.loads(row.latest)["followers"] == 2000
    # Later readings keep the count read near publishing, not today's.
    brand.fake.followers_count = 9000
    collect.collect_due(engine, schedule=SCHEDULE, batch=50,
                        now=row.published_at + timedelta(hours=7))
    assert _rows(engine)[pub].denominator == 2000


def test_the_first_follower_count_rescales_the_accounts_raw_scores(brand, engine):
    import math

    brand.fake.followers_count = 0  # Mastodon gives no usable count: a raw count for now
    early = brand.publish("mastodon", "Before the count", "care", hours_ago(2))
    brand.fake.advance(7200)
    collect.collect_due(engine, schedule=SCHEDULE, batch=50)
    before = _rows(engine)[early]
    assert before.followers is None and before.denominator is None
    assert before.score == pytest.approx(math.log(before.engagements + 0.5))
    assert before.reason.startswith("followers: not available")

    brand.fake.followers_count = 1000
    later = brand.publish("mastodon", "After the count", "try", hours_ago(2))
    collect.collect_due(engine, schedule=SCHEDULE, batch=50)
    rows = _rows(engine)
    assert rows[later].followers == 1000
    assert rows[early].denominator == 1000  # one channel, one kind of denominator
    assert rows[early].score == pytest.approx(before.score - math.log(1000))


def test_threads_divides_by_views_and_names_a_missing_permission(brand, engine):
    _connect(brand, "threads")
    seen = brand.publish("threads", "Thread that reads", "share", hours_ago(2))
    brand.fake.advance(7200)
    collect.collect_due(engine, schedule=SCHEDULE, batch=50)
    row = _rows(engine)[seen]
    assert row.impressions and row.denominator == row.impressions
    assert row.followers == 1200  # stored, not the denominator

    with brand.fake.lock:
        brand.fake.meta_scopes["fake-token"] = {"threads_basic", "threads_content_publish"}
    hidden = brand.publish("threads", "Thread without insights", "share", hours_ago(2))
    collect.collect_due(engine, schedule=SCHEDULE, batch=50)
    row = _rows(engine)[hidden]
    assert row.status == "not_available" and row.score is None
    assert row.reason.startswith("not available: permission threads_manage_insights missing")


def test_facebook_page_posts_are_read_and_divided_by_page_followers(brand, engine):
    _connect(brand, "facebook")
    pub = brand.publish("facebook", "Page post", "learn", hours_ago(2))
    brand.fake.advance(7200)
    collect.collect_due(engine, schedule=SCHEDULE, batch=50)
    row = _rows(engine)[pub]
    assert row.status == "collecting" and row.stage == 1
    assert json.loads(row.latest)["likes"] > 0 and row.denominator == 1200


def test_not_yet_skips_to_the_next_step_without_a_reading(brand, engine):
    from publishers.metrics import MetricsNotYet

    pub = brand.publish("mastodon", "Quiet so far", "care", hours_ago(2))
    with session_scope(engine) as s:
        collect.enrol(s, steps=collect.parse_schedule(SCHEDULE), batch=10)
    with session_scope(engine) as s:
        [claimed] = collect.claim(s, now=datetime.now(UTC), batch=10)
    with session_scope(engine) as s:
        what = collect.record(s, claimed, MetricsNotYet("Instagram has no insights yet"),
                              steps=collect.parse_schedule(SCHEDULE), now=datetime.now(UTC))
    row = _rows(engine)[pub]
    assert what == "failed" and row.status == "collecting" and row.score is None
    assert row.next_due_at == row.published_at + timedelta(hours=6)  # the next step
    assert row.reason == "Instagram has no insights yet"


# The follower count read with a post's first reading, answered with the platform's
# rate-limit signal: Mastodon's 429, Graph's code 4 on HTTP 400 (Facebook Page).
FOLLOWER_READS = {"mastodon": lambda req: req.path == "/api/v1/accounts/verify_credentials",
                  "facebook": lambda req: req.query.get("fields") == "followers_count"}


@pytest.mark.parametrize("platform", sorted(FOLLOWER_READS))
def test_a_rate_limited_follower_read_holds_the_accounts_next_reads_and_sends(
        brand, engine, platform):
    from planner.models import Post, PostStatus, Publication, PublicationStatus
    from planner.publishing.claiming import claim_due
    from planner.publishing.config import DispatchConfig

    if platform not in brand.accounts:
        _connect(brand, platform)
    first = brand.publish(platform, "First of two", "care", hours_ago(3))
    second = brand.publish(platform, "Second of two", "care", hours_ago(3))
    brand.fake.advance(3 * 3600)

    def refuse_the_follower_read(req) -> None:  # noqa: ANN001
        if FOLLOWER_READS[platform](req):
            brand.fake.inject("read", "429", platform=platform)

    brand.fake.on_request = refuse_the_follower_read
    before = len(brand.fake.requests)
    result = collect.collect_due(engine, schedule=SCHEDULE, batch=50)
    brand.fake.on_request = None
    # The post's own metrics were read and kept; the follower count was refused ...
    rows = _rows(engine)
    read_first = min((first, second), key=lambda pub: -rows[pub].stage)
    read_row, waiting = rows[read_first], rows[second if read_first == first else first]
    assert result.read == 1 and read_row.stage == 1 and read_row.score is not None
    assert read_row.followers is None and read_row.reason.startswith("followers: ")
    # ... and the account waits for the reset: the other post was not read in this round.
    assert waiting.stage == 0 and result.rate_limited == 1
    # Two requests to the platform: the post's metrics, the refused follower count.
    assert len([r for r in brand.fake.requests[before:] if r[2] == platform]) == 2
    with session_scope(engine) as s:
        held = s.get(Account, brand.accounts[platform]).next_allowed_at
        assert held is not None and held > datetime.now(UTC) + timedelta(seconds=30)
    # The next round before the reset asks the platform nothing for that account ...
    before = len(brand.fake.requests)
    again = collect.collect_due(engine, schedule=SCHEDULE, batch=50)
    assert again.claimed == 0
    assert not [r for r in brand.fake.requests[before:] if r[2] == platform]
    # ... and a post due on it now is not sent either (the state the publisher obeys).
    with session_scope(engine) as s:
        post = Post(workspace_id=brand.workspace_id, text="Due now", tags="try",
                    status=PostStatus.approved)
        s.add(post)
        s.flush()
        due = Publication(post_id=post.id, account_id=brand.accounts[platform],
                          workspace_id=brand.workspace_id, status=PublicationStatus.pending,
                          scheduled_at=hours_ago(0.01), due_at=hours_ago(0.01))
        s.add(due)
        s.flush()
        due_id = due.id
    jobs = claim_due(engine, DispatchConfig(threads=1), limit=10)
    assert due_id not in [job.publication_id for job in jobs]
    # After the reset the waiting post is read, with the follower count this time.
    after_reset = held + timedelta(seconds=1)
    collect.collect_due(engine, schedule=SCHEDULE, batch=50, now=after_reset)
    assert _rows(engine)[second if read_first == first else first].stage == 1
