from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from publishers.base import (
    AccountRef,
    AuthExpired,
    Content,
    ContentRejected,
    MediaFile,
    RateLimited,
    Transient,
)
from publishers.fakes import FakePlatform
from publishers.mastodon import MastodonPublisher

pub = MastodonPublisher()


class TestPublish:
    def test_wire_format(self, fake: FakePlatform, account, make_ctx) -> None:
        ctx = make_ctx("pub-m1")
        result = pub.publish(Content(text="Hello fediverse"), account("mastodon"), ctx)
        [create] = fake.creates
        assert (create.platform, create.method, create.path) == (
            "mastodon", "POST", "/api/v1/statuses")
        assert create.headers["authorization"] == "Bearer fake-token"
        assert create.headers["idempotency-key"] == "pub-m1"
        assert create.body == {"status": "Hello fediverse", "visibility": "public"}
        assert result.remote_id == create.remote_id
        assert result.url.endswith(f"/@poise/{result.remote_id}")
        assert "first_sent_at" in ctx.checkpoint.saved[0]

    def test_same_idempotency_key_creates_once(self, fake: FakePlatform, account,
                                               make_ctx) -> None:
        first = pub.publish(Content(text="Once"), account("mastodon"), make_ctx("k"))
        again = pub.publish(Content(text="Once"), account("mastodon"), make_ctx("k"))
        assert first == again
        assert len(fake.creates) == 1

    def test_media_uploaded_and_polled_until_processed(self, fake: FakePlatform, account,
                                                       make_ctx, jpeg: Path) -> None:
        fake.media_processing_polls = 1
        import publishers.mastodon as module
        module.MEDIA_POLL_SECONDS = 0.01
        media = (MediaFile(path=str(jpeg), mime_type="image/jpeg", alt_text="a jar"),)
        pub.publish(Content(text="pic", media=media), account("mastodon"), make_ctx())
        paths = [(m, p) for m, p, *_ in fake.requests]
        assert paths[0] == ("POST", "/api/v2/media")
        assert paths.count(("GET", paths[1][1])) == 2  # 206 then 200
        [create] = fake.creates
        assert create.body["media_ids"] == [paths[1][1].rsplit("/", 1)[1]]


class TestErrors:
    def test_401(self, fake: FakePlatform, account, make_ctx) -> None:
        with pytest.raises(AuthExpired):
            pub.publish(Content(text="x"), account("mastodon", access_token="wrong"), make_ctx())

    def test_429_iso8601_reset(self, fake: FakePlatform, account, make_ctx) -> None:
        fake.inject("create", "429", platform="mastodon")
        with pytest.raises(RateLimited) as caught:
            pub.publish(Content(text="x"), account("mastodon"), make_ctx())
        wait = (caught.value.reset_at - datetime.now(UTC)).total_seconds()
        assert 250 < wait <= 301  # the fake says 5 minutes, in ISO 8601

    def test_422_is_rejected_with_reason(self, fake: FakePlatform, account, make_ctx) -> None:
        with pytest.raises(ContentRejected) as caught:
            pub.publish(Content(text="a" * 501), account("mastodon", ), make_ctx())
        assert "character limit of 500" in caught.value.reason

    def test_5xx_is_transient_thanks_to_the_key(self, fake: FakePlatform, account,
                                                make_ctx) -> None:
        fake.inject("create", "5xx_before_create", platform="mastodon")
        with pytest.raises(Transient):
            pub.publish(Content(text="x"), account("mastodon"), make_ctx())

    def test_timeout_after_create_is_transient_and_retry_creates_nothing_new(
            self, fake: FakePlatform, account, make_ctx) -> None:
        fake.inject("create", "create_then_timeout", platform="mastodon")
        ctx = make_ctx("k-timeout", timeout=0.3)
        with pytest.raises(Transient):
            pub.publish(Content(text="slow"), account("mastodon"), ctx)
        ctx.timeout_seconds = 5
        result = pub.publish(Content(text="slow"), account("mastodon"), ctx)
        assert len(fake.creates) == 1
        assert result.remote_id == fake.creates[0].remote_id

    def test_connection_refused_is_transient(self, make_ctx) -> None:
        dead = AccountRef(platform="mastodon", handle="p", api_base="http://127.0.0.1:9",
                          credentials={"access_token": "t"})
        with pytest.raises(Transient):
            pub.publish(Content(text="x"), dead, make_ctx(timeout=1))


class TestFindExisting:
    def test_within_the_hour_the_key_answers(self, fake: FakePlatform, account,
                                             make_ctx) -> None:
        fake.inject("create", "create_then_reset", platform="mastodon")
        ctx = make_ctx("k-find")
        with pytest.raises(Transient):
            pub.publish(Content(text="lost answer"), account("mastodon"), ctx)
        found = pub.find_existing(Content(text="lost answer"), account("mastodon"), ctx)
        assert found is not None and found.remote_id == fake.creates[0].remote_id
        assert len(fake.creates) == 1

    def test_after_the_hour_the_timeline_is_searched(self, fake: FakePlatform, account,
                                                     make_ctx) -> None:
        text = "Old & <new>\n\nhttps://example.com/x"
        posted = pub.publish(Content(text=text), account("mastodon"), make_ctx("a"))
        old = make_ctx("b", state={"first_sent_at": "1000"})
        found = pub.find_existing(Content(text=text), account("mastodon"), old)
        assert found is not None and found.remote_id == posted.remote_id
        assert pub.find_existing(Content(text="never sent"), account("mastodon"), old) is None
        assert len(fake.creates) == 1


class TestAccount:
    def test_check_connection_and_instance_limit(self, account) -> None:
        fake = FakePlatform(mastodon_max_characters=1000)
        base = fake.start()
        try:
            acct = AccountRef(platform="mastodon", handle="p", api_base=base,
                              credentials={"access_token": "fake-token"})
            assert pub.check_connection(acct) == "Poise Demo"
            assert pub.text_limit(acct) == 1000
            assert pub.validate(Content(text="a" * 900), acct) == []
            assert pub.validate(Content(text="a" * 1001), acct)[0].field == "text"
        finally:
            fake.stop()

    def test_validate_missing_instance_and_token(self) -> None:
        acct = AccountRef(platform="mastodon", handle="p", api_base="")
        fields = [p.field for p in pub.validate(Content(text="hi"), acct)]
        assert fields == ["account", "account"]
