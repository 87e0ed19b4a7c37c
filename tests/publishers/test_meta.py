from __future__ import annotations

import json
import time
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import pytest
import requests

from publishers import meta
from publishers.base import (
    AuthExpired,
    Content,
    ContentRejected,
    MediaFile,
    OutcomeUnknown,
    RateLimited,
    Transient,
)
from publishers.facebook import FacebookPublisher
from publishers.instagram import InstagramPublisher
from publishers.threads import ThreadsPublisher
from sandbox import FakePlatform

facebook, instagram, threads = FacebookPublisher(), InstagramPublisher(), ThreadsPublisher()


def photo(jpeg: Path) -> tuple[MediaFile, ...]:
    return (MediaFile(path=str(jpeg), mime_type="image/jpeg", alt_text="jar",
                      url="https://cdn.example/p.jpg"),)


@pytest.fixture(autouse=True)
def _fast_polls(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(InstagramPublisher, "poll_seconds", 0.01)
    monkeypatch.setattr(ThreadsPublisher, "poll_seconds", 0.01)


class TestFacebook:
    def test_wire_format(self, fake: FakePlatform, account, make_ctx) -> None:
        content = Content(text="Hello page", link="https://blog.example/a", post_ref="p1")
        result = facebook.publish(content, account("facebook"), make_ctx())
        [create] = fake.creates
        assert create.path == "/v25.0/200000000000001/feed"
        assert create.body["access_token"] == "fake-token"
        assert create.body["message"] == "Hello page"
        assert create.body["link"].startswith("https://blog.example/a?utm_source=facebook")
        assert result.remote_id.startswith("200000000000001_")

    def test_the_graph_version_is_the_operators_setting(self, fake: FakePlatform, account,
                                                       make_ctx) -> None:
        acct = replace(account("facebook"), api_version="v26.0")
        facebook.publish(Content(text="versioned"), acct, make_ctx())
        assert fake.creates[0].path == "/v26.0/200000000000001/feed"

    def test_one_image_is_a_photos_post(self, fake: FakePlatform, account, make_ctx,
                                        jpeg: Path) -> None:
        media = (MediaFile(path=str(jpeg), mime_type="image/jpeg", alt_text="jar"),)
        ctx = make_ctx()
        result = facebook.publish(Content(text="New jar", media=media), account("facebook"),
                                  ctx)
        [create] = fake.creates
        assert create.path == "/v25.0/200000000000001/photos"
        assert create.body["message"] == "New jar"
        assert create.body["source"]["content_type"] == "image/jpeg"
        assert create.body["alt_text_custom"] == "jar"
        assert result.remote_id == create.remote_id and "_" in result.remote_id
        found = facebook.find_existing(Content(text="New jar", media=media),
                                       account("facebook"), ctx)
        assert found is not None and found.remote_id == result.remote_id

    def test_a_public_image_url_is_passed_by_url(self, fake: FakePlatform, account, make_ctx,
                                                 jpeg: Path) -> None:
        facebook.publish(Content(text="By url", media=photo(jpeg)), account("facebook"),
                         make_ctx())
        assert fake.creates[0].body["url"] == "https://cdn.example/p.jpg"

    def test_several_images_are_one_feed_post(self, fake: FakePlatform, account, make_ctx,
                                              jpeg: Path) -> None:
        media = tuple(MediaFile(path=str(jpeg), mime_type="image/jpeg") for _ in range(3))
        ctx = make_ctx()
        facebook.publish(Content(text="Three jars", media=media), account("facebook"), ctx)
        [create] = fake.creates
        assert create.path == "/v25.0/200000000000001/feed"
        attached = [json.loads(create.body[f"attached_media[{n}]"])["media_fbid"]
                    for n in range(3)]
        assert attached == ctx.state["photo_ids"].split(",")
        uploads = [p for m, p, *_ in fake.requests if p.endswith("/photos")]
        assert len(uploads) == 3

    def test_images_pass_validation(self, account, jpeg: Path) -> None:
        media = (MediaFile(path=str(jpeg), mime_type="image/jpeg"),)
        assert facebook.validate(Content(text="pic", media=media), account("facebook")) == []

    def test_500_may_have_posted(self, fake: FakePlatform, account, make_ctx) -> None:
        fake.inject("create", "create_then_5xx", platform="facebook")
        ctx = make_ctx()
        with pytest.raises(OutcomeUnknown):
            facebook.publish(Content(text="maybe"), account("facebook"), ctx)
        found = facebook.find_existing(Content(text="maybe"), account("facebook"), ctx)
        assert found is not None and found.remote_id == fake.creates[0].remote_id
        assert facebook.find_existing(Content(text="no"), account("facebook"), ctx) is None

    @pytest.mark.parametrize("kind, error", [
        ("401", AuthExpired), ("403", AuthExpired), ("422", ContentRejected),
        ("duplicate", ContentRejected), ("connection_reset", OutcomeUnknown),
        ("create_then_timeout", OutcomeUnknown)])
    def test_errors(self, fake: FakePlatform, account, make_ctx, kind: str, error: type) -> None:
        fake.inject("create", kind, platform="facebook")
        with pytest.raises(error):
            facebook.publish(Content(text="x"), account("facebook"), make_ctx(timeout=0.3))

    def test_rate_limit_code_4_with_business_usage_header(self, fake: FakePlatform, account,
                                                          make_ctx) -> None:
        fake.inject("create", "429", platform="facebook")
        with pytest.raises(RateLimited) as caught:
            facebook.publish(Content(text="x"), account("facebook"), make_ctx())
        wait = (caught.value.reset_at - datetime.now(UTC)).total_seconds()
        assert 55 < wait <= 60  # usage percentages only: the default backoff

    def test_duplicate_on_retry_is_unknown(self, fake: FakePlatform, account, make_ctx) -> None:
        facebook.publish(Content(text="dup"), account("facebook"), make_ctx("a"))
        with pytest.raises(OutcomeUnknown):
            facebook.publish(Content(text="dup"), account("facebook"),
                             make_ctx("b", state={"first_sent_at": "1"}))

    def test_check_connection(self, fake: FakePlatform, account) -> None:
        assert facebook.check_connection(account("facebook")) == "Poise Demo"


class TestInstagram:
    def test_container_then_publish(self, fake: FakePlatform, account, make_ctx,
                                    jpeg: Path) -> None:
        fake.container_polls = 2
        ctx = make_ctx()
        result = instagram.publish(Content(text="Caption #glow", media=photo(jpeg)),
                                   account("instagram"), ctx)
        container_posts = [r for r in fake.requests if r[1].endswith("/media") and r[0] == "POST"]
        assert len(container_posts) == 1
        container = fake.graph_object(ctx.state["container_id"])
        assert container["fields"]["image_url"] == "https://cdn.example/p.jpg"
        assert container["fields"]["caption"] == "Caption #glow"
        assert ctx.checkpoint.saved == [{"container_id": ctx.state["container_id"]}]
        [create] = fake.creates
        assert create.path == "/v25.0/17841400000000001/media_publish"
        assert create.body["creation_id"] == ctx.state["container_id"]
        assert result.url.startswith("https://www.instagram.com/p/")

    def test_retry_after_lost_publish_answer_finds_the_post(self, fake: FakePlatform, account,
                                                           make_ctx, jpeg: Path) -> None:
        fake.inject("create", "create_then_reset", platform="instagram")
        ctx = make_ctx()
        content = Content(text="once", media=photo(jpeg))
        with pytest.raises(OutcomeUnknown):
            instagram.publish(content, account("instagram"), ctx)
        found = instagram.find_existing(content, account("instagram"), ctx)
        assert found is not None and found.remote_id == fake.creates[0].remote_id
        again = instagram.publish(content, account("instagram"), ctx)  # PUBLISHED -> found
        assert again.remote_id == found.remote_id and len(fake.creates) == 1

    def test_retry_with_finished_container_publishes_it(self, fake: FakePlatform, account,
                                                        make_ctx, jpeg: Path) -> None:
        fake.inject("create", "5xx_before_create", platform="instagram")
        ctx = make_ctx()
        content = Content(text="second try", media=photo(jpeg))
        with pytest.raises(OutcomeUnknown):
            instagram.publish(content, account("instagram"), ctx)
        assert instagram.find_existing(content, account("instagram"), ctx) is None
        container = ctx.state["container_id"]
        instagram.publish(content, account("instagram"), ctx)
        assert fake.creates[0].body["creation_id"] == container
        assert [r[0] for r in fake.requests if r[1].endswith("/media")] == ["POST"]

    def test_expired_container_is_replaced(self, fake: FakePlatform, account, make_ctx,
                                           jpeg: Path) -> None:
        fake.inject("create", "5xx_before_create", platform="instagram")
        ctx = make_ctx()
        content = Content(text="late", media=photo(jpeg))
        with pytest.raises(OutcomeUnknown):
            instagram.publish(content, account("instagram"), ctx)
        old = ctx.state["container_id"]
        fake.set_container_status(old, "EXPIRED")
        instagram.publish(content, account("instagram"), ctx)
        assert ctx.state["container_id"] != old
        assert fake.creates[0].body["creation_id"] == ctx.state["container_id"]

    def test_validate_requires_a_public_jpeg(self, account, jpeg: Path) -> None:
        problems = instagram.validate(Content(text="no image"), account("instagram"))
        assert [p.field for p in problems] == ["media"]
        local_only = (MediaFile(path=str(jpeg), mime_type="image/png"),)
        messages = [p.message for p in instagram.validate(Content(text="x", media=local_only),
                                                          account("instagram"))]
        assert any("image/png" in m for m in messages)
        assert any("public https URL" in m for m in messages)
        tags = " ".join(f"#t{i}" for i in range(31))
        over = instagram.validate(Content(text=tags, media=photo(jpeg)), account("instagram"))
        assert "30 hashtags" in over[0].message

    @pytest.mark.parametrize("op, kind, error", [
        ("container", "403", AuthExpired), ("create", "403", AuthExpired),
        ("container", "429", RateLimited), ("create", "429", RateLimited),
        ("container", "5xx_before_create", Transient),
        ("create", "create_then_5xx", OutcomeUnknown),
        ("container", "create_then_timeout", Transient),
        ("create", "create_then_timeout", OutcomeUnknown)])
    def test_errors(self, fake: FakePlatform, account, make_ctx, jpeg: Path, op: str,
                    kind: str, error: type) -> None:
        fake.inject(op, kind, platform="instagram")
        with pytest.raises(error):
            instagram.publish(Content(text="x", media=photo(jpeg)), account("instagram"),
                              make_ctx(timeout=0.3))

    def test_timeout_on_publish_then_retry_publishes_once(self, fake: FakePlatform, account,
                                                          make_ctx, jpeg: Path) -> None:
        fake.inject("create", "create_then_timeout", platform="instagram")
        ctx = make_ctx(timeout=0.3)
        content = Content(text="slow", media=photo(jpeg))
        with pytest.raises(OutcomeUnknown):
            instagram.publish(content, account("instagram"), ctx)
        ctx.timeout_seconds = 5
        again = instagram.publish(content, account("instagram"), ctx)
        assert len(fake.creates) == 1 and again.remote_id == fake.creates[0].remote_id

    def test_expired_token(self, fake: FakePlatform, account, make_ctx, jpeg: Path) -> None:
        with pytest.raises(AuthExpired):
            instagram.publish(Content(text="x", media=photo(jpeg)),
                              account("instagram", access_token="old"), make_ctx())


class TestInstagramPublishingLimit:
    """content_publishing_limit: 100 API posts per moving 24 hours; used up = wait for the
    window, not a retry every minute."""

    def test_a_used_up_quota_waits_for_the_window(self, fake: FakePlatform, account,
                                                  make_ctx, jpeg: Path) -> None:
        fake.instagram_publish_quota = 1
        instagram.publish(Content(text="first", media=photo(jpeg)), account("instagram"),
                          make_ctx("a"))
        containers_before = len([r for r in fake.requests
                                 if r[0] == "POST" and r[1].endswith("/media")])
        with pytest.raises(RateLimited) as caught:
            instagram.publish(Content(text="second", media=photo(jpeg)),
                              account("instagram"), make_ctx("b"))
        wait = (caught.value.reset_at - datetime.now(UTC)).total_seconds()
        assert 23 * 3600 < wait <= 24 * 3600 + 120
        assert "100" not in caught.value.reason and "1 posts a day" in caught.value.reason
        assert len([r for r in fake.requests if r[0] == "POST" and r[1].endswith("/media")]) \
            == containers_before  # no container made for a post that cannot go out
        assert len(fake.creates) == 1

    def test_the_publish_limit_error_also_waits_for_the_window(
            self, fake: FakePlatform, account, make_ctx, jpeg: Path) -> None:
        instagram.publish(Content(text="first", media=photo(jpeg)), account("instagram"),
                          make_ctx("a"))
        fake.instagram_publish_quota = 1
        fake.inject("read", "422", platform="instagram")  # the quota cannot be read
        with pytest.raises(RateLimited) as caught:
            instagram.publish(Content(text="second", media=photo(jpeg)),
                              account("instagram"), make_ctx("b"))
        wait = (caught.value.reset_at - datetime.now(UTC)).total_seconds()
        assert wait > 23 * 3600

    def test_the_limit_read_matches_the_documented_request(self, fake: FakePlatform, account,
                                                           make_ctx, jpeg: Path) -> None:
        instagram.publish(Content(text="x", media=photo(jpeg)), account("instagram"),
                          make_ctx())
        reads = [p for m, p, *_ in fake.requests if p.endswith("/content_publishing_limit")]
        assert reads == ["/v25.0/17841400000000001/content_publishing_limit"]


class TestInstagramLogin:
    def test_publishes_with_the_instagram_user_token(self, fake: FakePlatform, account,
                                                     make_ctx, jpeg: Path) -> None:
        acct = replace(account("instagram"), credentials={"instagram_user_token": "fake-token"})
        assert instagram.validate(Content(text="x", media=photo(jpeg)), acct) == []
        instagram.publish(Content(text="via Instagram Login", media=photo(jpeg)), acct,
                          make_ctx())
        [create] = fake.creates
        assert create.body["access_token"] == "fake-token"

    def test_the_host_is_graph_instagram_com(self, account) -> None:
        acct = replace(account("instagram"), api_base="",
                       credentials={"instagram_user_token": "t"})
        assert instagram._root(acct) == "https://graph.instagram.com/v25.0"
        facebook_login = replace(acct, credentials={"access_token": "t"})
        assert instagram._root(facebook_login) == "https://graph.facebook.com/v25.0"

    def test_the_token_is_refreshed_with_ig_refresh_token(self, fake: FakePlatform,
                                                          account) -> None:
        acct = replace(account("instagram"), credentials={"instagram_user_token": "fake-token"})
        fresh = instagram.refresh_credentials(acct)
        assert fresh["instagram_user_token"].startswith("ig-long-")
        assert int(fresh["expires_at"]) > time.time() + 59 * 86400


class TestThreads:
    def test_text_container_then_publish(self, fake: FakePlatform, account, make_ctx) -> None:
        ctx = make_ctx()
        result = threads.publish(Content(text="Threads hello"), account("threads"), ctx)
        container = fake.graph_object(ctx.state["container_id"])
        assert container["fields"]["media_type"] == "TEXT"
        assert container["fields"]["text"] == "Threads hello"
        [create] = fake.creates
        assert create.path == "/v1.0/27000000000000001/threads_publish"
        assert result.url.startswith("https://www.threads.net/")

    def test_image_container(self, fake: FakePlatform, account, make_ctx, jpeg: Path) -> None:
        ctx = make_ctx()
        threads.publish(Content(text="pic", media=photo(jpeg)), account("threads"), ctx)
        fields = fake.graph_object(ctx.state["container_id"])["fields"]
        assert (fields["media_type"], fields["image_url"]) == ("IMAGE", "https://cdn.example/p.jpg")

    def test_timeout_then_find_existing(self, fake: FakePlatform, account, make_ctx) -> None:
        fake.inject("create", "create_then_timeout", platform="threads")
        ctx = make_ctx(timeout=0.3)
        with pytest.raises(OutcomeUnknown):
            threads.publish(Content(text="slow"), account("threads"), ctx)
        ctx.timeout_seconds = 5
        found = threads.find_existing(Content(text="slow"), account("threads"), ctx)
        assert found is not None and found.remote_id == fake.creates[0].remote_id

    def test_container_creation_failure_is_transient(self, fake: FakePlatform, account,
                                                     make_ctx) -> None:
        fake.inject("container", "5xx_before_create", platform="threads")
        with pytest.raises(Transient):
            threads.publish(Content(text="x"), account("threads"), make_ctx())

    def test_rate_limit_and_check_connection(self, fake: FakePlatform, account,
                                             make_ctx) -> None:
        fake.inject("container", "429", platform="threads")
        with pytest.raises(RateLimited):
            threads.publish(Content(text="x"), account("threads"), make_ctx())
        assert threads.check_connection(account("threads")) == "Poise Demo"

    def test_403_permission(self, fake: FakePlatform, account, make_ctx) -> None:
        fake.inject("container", "403", platform="threads")
        with pytest.raises(AuthExpired) as caught:
            threads.publish(Content(text="x"), account("threads"), make_ctx())
        assert "lacks a permission" in caught.value.reason

    def test_refresh_extends_the_long_lived_token(self, fake: FakePlatform, account) -> None:
        fresh = threads.refresh_credentials(account("threads"))
        assert fresh["access_token"].startswith("threads-long-")
        assert int(fresh["expires_at"]) > time.time() + 59 * 24 * 3600
        assert [r[1] for r in fake.requests] == ["/refresh_access_token"]
        assert threads.check_connection(replace(account("threads"), credentials=fresh))

    def test_refresh_refused_or_failing(self, fake: FakePlatform, account) -> None:
        with pytest.raises(AuthExpired):
            threads.refresh_credentials(account("threads", access_token="expired"))
        fake.inject("auth", "5xx_before_create", platform="threads")
        with pytest.raises(Transient):
            threads.refresh_credentials(account("threads"))

    def test_validate_limit_and_user_id(self, account) -> None:
        acct = replace(account("threads"), external_id="")
        fields = [p.field for p in threads.validate(Content(text="a" * 501), acct)]
        assert fields == ["text", "account"]

    def test_emoji_count_as_bytes_in_validation_and_at_the_fake(
            self, fake: FakePlatform, account, make_ctx) -> None:
        text = "\U0001f375" * 126  # 126 characters, 504 bytes of emoji
        [problem] = threads.validate(Content(text=text), account("threads"))
        assert "504 of 500" in problem.message
        with pytest.raises(ContentRejected):
            threads.publish(Content(text=text), account("threads"), make_ctx())
        assert fake.creates == []

    def test_more_than_five_links_are_refused(self, fake: FakePlatform, account,
                                              make_ctx) -> None:
        text = " ".join(f"https://shop.example/{n}" for n in range(6))
        [problem] = threads.validate(Content(text=text), account("threads"))
        assert "at most 5 links" in problem.message
        with pytest.raises(ContentRejected) as caught:
            threads.publish(Content(text=text), account("threads"), make_ctx())
        assert "LINK_LIMIT_EXCEEDED" in caught.value.reason


def test_unreadable_container_status_is_unknown(fake: FakePlatform, account, make_ctx,
                                                jpeg: Path) -> None:
    ctx = make_ctx(state={"container_id": "17800000000000999"})
    fake.inject("read", "422")
    with pytest.raises(OutcomeUnknown):
        instagram.find_existing(Content(text="x", media=photo(jpeg)), account("instagram"), ctx)
    with pytest.raises(OutcomeUnknown):  # an object without a status is no answer either
        instagram.find_existing(Content(text="x", media=photo(jpeg)), account("instagram"), ctx)


@pytest.mark.parametrize("code", [10, 200, 299])
def test_permission_codes_need_a_reconnect(code: int) -> None:
    """Graph permission errors come as HTTP 400 or 403 with codes 10 and 200-299."""
    for status in (400, 403):
        resp = requests.Response()
        resp.status_code = status
        resp._content = json.dumps({"error": {"message": f"(#{code}) Permission denied",
                                              "type": "OAuthException", "code": code}}).encode()
        with pytest.raises(AuthExpired):
            meta.classify(resp, platform="Facebook", creates=True)
