"""Facebook, Instagram and Threads metrics and follower counts, over real HTTP against the
sandbox's Graph fakes (whose rules are written from Meta's pages: sandbox/metrics.py)."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest
import requests

from publishers.base import AuthExpired, Content, MediaFile
from publishers.bluesky import BlueskyPublisher
from publishers.facebook import FacebookPublisher
from publishers.instagram import InstagramPublisher
from publishers.mastodon import MastodonPublisher
from publishers.metrics import (
    IMPRESSIONS,
    LIKES,
    REPLIES,
    REPOSTS,
    SAVES,
    MetricsNotAvailable,
    MetricsNotYet,
)
from publishers.threads import ThreadsPublisher
from sandbox import FakePlatform

facebook, instagram, threads = FacebookPublisher(), InstagramPublisher(), ThreadsPublisher()
TOKEN = "fake-token"
DAY = 86400.0


@pytest.fixture(autouse=True)
def _fast_polls(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(InstagramPublisher, "poll_seconds", 0.01)
    monkeypatch.setattr(ThreadsPublisher, "poll_seconds", 0.01)


def _image(jpeg: Path) -> tuple[MediaFile, ...]:
    return (MediaFile(path=str(jpeg), mime_type="image/jpeg", url="https://cdn.example/p.jpg"),)


def _grant(fake: FakePlatform, *scopes: str) -> None:
    """The test token now carries only ``scopes`` (as a Facebook Login grant would)."""
    with fake.lock:
        fake.meta_scopes[TOKEN] = set(scopes)


class TestFacebook:
    def test_reactions_comments_shares_and_followers(self, fake: FakePlatform, account,
                                                     make_ctx) -> None:
        acct = account("facebook")
        post = facebook.publish(Content(text="Page news"), acct, make_ctx()).remote_id
        fake.advance(DAY)
        got = facebook.fetch_metrics(post, acct)
        assert got[LIKES] > 0 and got[REPLIES] >= 0
        assert IMPRESSIONS not in got  # Page Insights (read_insights) are not read
        [read] = [r for r in fake.requests if r[1] == f"/v25.0/{post}"]
        assert facebook.fetch_followers(acct) == 1200.0
        fake.followers_count = 1500
        assert facebook.fetch_followers(acct) == 1500.0
        assert read

    def test_a_fresh_post_has_no_shares_field_and_reposts_stay_absent(
            self, fake: FakePlatform, account, make_ctx) -> None:
        acct = account("facebook")
        post = facebook.publish(Content(text="Just now"), acct, make_ctx()).remote_id
        got = facebook.fetch_metrics(post, acct)
        assert REPOSTS not in got and got[LIKES] == 0  # counted 0 likes; shares not given

    def test_missing_pages_read_engagement_is_named(self, fake: FakePlatform, account,
                                                    make_ctx) -> None:
        acct = account("facebook")
        post = facebook.publish(Content(text="Secret"), acct, make_ctx()).remote_id
        _grant(fake, "pages_manage_posts", "pages_show_list")
        with pytest.raises(MetricsNotAvailable) as caught:
            facebook.fetch_metrics(post, acct)
        assert caught.value.reason.startswith(
            "not available: permission pages_read_engagement missing")
        with pytest.raises(MetricsNotAvailable, match="pages_read_engagement missing"):
            facebook.fetch_followers(acct)

    def test_a_deleted_post_is_not_available(self, fake: FakePlatform, account) -> None:
        with pytest.raises(MetricsNotAvailable, match="cannot load this post"):
            facebook.fetch_metrics("200000000000001_999", account("facebook"))

    def test_an_expired_token_stays_an_auth_problem(self, fake: FakePlatform, account,
                                                    make_ctx) -> None:
        acct = account("facebook")
        post = facebook.publish(Content(text="Token"), acct, make_ctx()).remote_id
        with pytest.raises(AuthExpired) as caught:
            facebook.fetch_metrics(post, replace(acct, credentials={
                "page_access_token": "not-a-token"}))
        assert not isinstance(caught.value, MetricsNotAvailable)


class TestInstagram:
    def test_media_insights_are_normalised(self, fake: FakePlatform, account, make_ctx,
                                           jpeg: Path) -> None:
        acct = account("instagram")
        media = instagram.publish(Content(text="Jar", media=_image(jpeg)), acct,
                                  make_ctx()).remote_id
        fake.advance(DAY)
        got = instagram.fetch_metrics(media, acct)
        assert set(got) == {IMPRESSIONS, LIKES, REPLIES, REPOSTS, SAVES}
        assert got[IMPRESSIONS] > got[LIKES] > 0
        [read] = [r for r in fake.requests if r[1] == f"/v25.0/{media}/insights"]
        assert read
        assert instagram.fetch_followers(acct) == 1200.0

    def test_metrics_without_data_are_absent_not_zero(self, fake: FakePlatform, account,
                                                      make_ctx, jpeg: Path) -> None:
        acct = account("instagram")
        media = instagram.publish(Content(text="New", media=_image(jpeg)), acct,
                                  make_ctx()).remote_id
        assert instagram.fetch_metrics(media, acct) == {}  # nothing yet: an empty data set

    def test_deprecated_metrics_are_refused_by_the_fake(self, fake: FakePlatform, account,
                                                        make_ctx, jpeg: Path) -> None:
        media = instagram.publish(Content(text="Old", media=_image(jpeg)), account("instagram"),
                                  make_ctx()).remote_id
        for metric in ("impressions", "plays", "video_views"):
            resp = requests.get(f"{fake.base_url}/v25.0/{media}/insights",
                                params={"metric": f"likes,{metric}", "access_token": TOKEN},
                                timeout=5)
            assert resp.status_code == 400 and resp.json()["error"]["code"] == 100

    def test_missing_instagram_manage_insights_is_named(self, fake: FakePlatform, account,
                                                        make_ctx, jpeg: Path) -> None:
        acct = account("instagram")
        media = instagram.publish(Content(text="Hidden", media=_image(jpeg)), acct,
                                  make_ctx()).remote_id
        _grant(fake, "instagram_basic", "instagram_content_publish", "pages_read_engagement")
        with pytest.raises(MetricsNotAvailable) as caught:
            instagram.fetch_metrics(media, acct)
        assert caught.value.reason.startswith(
            "not available: permission instagram_manage_insights missing")
        assert instagram.fetch_followers(acct) == 1200.0  # instagram_basic is enough there

    def test_instagram_login_names_its_own_permission(self, fake: FakePlatform, account,
                                                      make_ctx, jpeg: Path) -> None:
        acct = replace(account("instagram"), credentials={"instagram_user_token": TOKEN})
        media = instagram.publish(Content(text="IG login", media=_image(jpeg)), acct,
                                  make_ctx()).remote_id
        _grant(fake, "instagram_business_basic")
        with pytest.raises(MetricsNotAvailable,
                           match="permission instagram_business_manage_insights missing"):
            instagram.fetch_metrics(media, acct)

    def test_not_enough_viewers_is_not_yet_not_a_permission(self, fake: FakePlatform, account,
                                                            make_ctx, jpeg: Path) -> None:
        acct = account("instagram")
        media = instagram.publish(Content(text="Quiet", media=_image(jpeg)), acct,
                                  make_ctx()).remote_id
        fake.instagram_few_viewers.add(media)
        with pytest.raises(MetricsNotYet, match="Not enough viewers"):
            instagram.fetch_metrics(media, acct)


class TestThreads:
    def test_media_insights_and_follower_count(self, fake: FakePlatform, account,
                                               make_ctx) -> None:
        acct = account("threads")
        post = threads.publish(Content(text="Thread"), acct, make_ctx()).remote_id
        fake.advance(DAY)
        got = threads.fetch_metrics(post, acct)
        assert got[IMPRESSIONS] > got[LIKES] > 0 and REPOSTS in got and "quotes" in got
        [read] = [r for r in fake.requests if r[1] == f"/v1.0/{post}/insights"]
        assert read
        assert threads.fetch_followers(acct) == 1200.0

    def test_missing_threads_manage_insights_is_named(self, fake: FakePlatform, account,
                                                      make_ctx) -> None:
        acct = account("threads")
        post = threads.publish(Content(text="No insights"), acct, make_ctx()).remote_id
        _grant(fake, "threads_basic", "threads_content_publish")
        for read in (lambda: threads.fetch_metrics(post, acct),
                     lambda: threads.fetch_followers(acct)):
            with pytest.raises(MetricsNotAvailable) as caught:
                read()
            assert caught.value.reason.startswith(
                "not available: permission threads_manage_insights missing")


class TestFollowersElsewhere:
    def test_mastodon_and_bluesky_follower_counts(self, fake: FakePlatform, account) -> None:
        fake.followers_count = 321
        assert MastodonPublisher().fetch_followers(account("mastodon")) == 321.0
        assert BlueskyPublisher().fetch_followers(account("bluesky")) == 321.0

    def test_a_mastodon_token_without_read_accounts_is_named(self, fake: FakePlatform,
                                                              account) -> None:
        fake.inject("read", "403", platform="mastodon")
        with pytest.raises(MetricsNotAvailable,
                           match="^not available: permission read:accounts missing"):
            MastodonPublisher().fetch_followers(account("mastodon"))
