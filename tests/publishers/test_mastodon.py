from __future__ import annotations

import time
from datetime import UTC, datetime
from pathlib import Path

import pytest

from publishers.base import (
    AccountRef,
    AuthExpired,
    Content,
    ContentRejected,
    MediaFile,
    OutcomeUnknown,
    RateLimited,
    Transient,
)
from publishers.mastodon import SERVER_OVERRUN_SECONDS, MastodonPublisher
from sandbox import FakePlatform

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

    def test_5xx_is_unknown_and_nothing_is_resent_before_the_server_can_be_done(
            self, fake: FakePlatform, account, make_ctx) -> None:
        fake.inject("create", "5xx_before_create", platform="mastodon")
        ctx = make_ctx("k-5xx", timeout=5)
        before = datetime.now(UTC).timestamp()
        with pytest.raises(OutcomeUnknown) as caught:
            pub.publish(Content(text="x"), account("mastodon"), ctx)
        assert caught.value.not_before is not None
        assert caught.value.not_before.timestamp() >= before + 5 + SERVER_OVERRUN_SECONDS
        assert int(ctx.checkpoint.saved[-1]["resend_not_before"]) >= int(
            before + 5 + SERVER_OVERRUN_SECONDS)
        sent = len(fake.requests)
        for call in (pub.publish, pub.find_existing):
            with pytest.raises(OutcomeUnknown):
                call(Content(text="x"), account("mastodon"), ctx)
        assert len(fake.requests) == sent  # refused without touching the server

    def test_timeout_after_create_is_unknown_and_the_later_resend_creates_nothing_new(
            self, fake: FakePlatform, account, make_ctx) -> None:
        fake.inject("create", "create_then_timeout", platform="mastodon")
        ctx = make_ctx("k-timeout", timeout=0.3)
        with pytest.raises(OutcomeUnknown):
            pub.publish(Content(text="slow"), account("mastodon"), ctx)
        _first_request_over(ctx)
        ctx.timeout_seconds = 5
        result = pub.publish(Content(text="slow"), account("mastodon"), ctx)
        assert len(fake.creates) == 1
        assert result.remote_id == fake.creates[0].remote_id


class TestTheKeyIsStoredAfterTheStatus:
    """post_status_service.rb checks the key first and stores it last: a repeat while the
    first request still runs makes a second status. The fake does the same."""

    def test_the_fake_reproduces_the_race(self, fake: FakePlatform, account,
                                          make_ctx) -> None:
        fake.mastodon_create_seconds = 0.6
        ctx = make_ctx("k-race", timeout=0.2)
        with pytest.raises(OutcomeUnknown):
            pub.publish(Content(text="racing"), account("mastodon"), ctx)
        # What the adapter used to do: resend at once with the same key.
        ctx.state.pop("resend_not_before")
        ctx.state.pop("sent_at")
        ctx.timeout_seconds = 5
        pub.publish(Content(text="racing"), account("mastodon"), ctx)
        _until(lambda: len(fake.creates) == 2)
        assert len(fake.creates) == 2  # two statuses for one key

    def test_the_adapter_waits_for_the_first_request_then_gets_its_status(
            self, fake: FakePlatform, account, make_ctx) -> None:
        fake.mastodon_create_seconds = 0.6
        ctx = make_ctx("k-wait", timeout=0.2)
        with pytest.raises(OutcomeUnknown) as caught:
            pub.publish(Content(text="patient"), account("mastodon"), ctx)
        assert caught.value.not_before is not None
        with pytest.raises(OutcomeUnknown):  # the reconciler comes too early: refused
            pub.find_existing(Content(text="patient"), account("mastodon"), ctx)
        _until(lambda: len(fake.creates) == 1)  # the server finishes the first request
        _first_request_over(ctx)
        fake.mastodon_create_seconds = 0
        found = pub.find_existing(Content(text="patient"), account("mastodon"), ctx)
        assert found is not None and found.remote_id == fake.creates[0].remote_id
        assert len(fake.creates) == 1


def _until(condition, tries: int = 100) -> None:
    for _ in range(tries):
        if condition():
            return
        time.sleep(0.05)


def _first_request_over(ctx) -> None:
    """Let the wait the adapter recorded pass (the dispatcher's lease does it for real)."""
    ctx.state["resend_not_before"] = "1"
    ctx.state["sent_at"] = "1"


class TestErrorsMore:
    def test_403_means_the_token_lacks_a_permission(self, fake: FakePlatform, account,
                                                     make_ctx) -> None:
        fake.inject("create", "403", platform="mastodon")
        with pytest.raises(AuthExpired) as caught:
            pub.publish(Content(text="x"), account("mastodon"), make_ctx())
        assert caught.value.status == 403 and "authorized scopes" in caught.value.reason
        assert fake.creates == []

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
        with pytest.raises(OutcomeUnknown):
            pub.publish(Content(text="lost answer"), account("mastodon"), ctx)
        _first_request_over(ctx)
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


HOUR = 3600


def _hours_pass(fake: FakePlatform, ctx, seconds: float) -> None:
    """Let time pass for the platform and for what the first attempt recorded."""
    fake.advance(seconds)
    for name in ("first_sent_at", "resend_not_before", "sent_at"):
        if name in ctx.state:
            ctx.state[name] = str(int(ctx.state[name]) - int(seconds))


class TestRetryAfterTheKeyWindow:
    """The server keeps an Idempotency-Key for an hour; later retries must look first."""

    def test_a_landed_post_is_found_not_sent_again(self, fake: FakePlatform, account,
                                                   make_ctx) -> None:
        fake.inject("create", "create_then_reset", platform="mastodon")
        ctx = make_ctx("k-late")
        with pytest.raises(OutcomeUnknown):
            pub.publish(Content(text="Answer lost"), account("mastodon"), ctx)
        _hours_pass(fake, ctx, HOUR + 100)
        result = pub.publish(Content(text="Answer lost"), account("mastodon"), ctx)
        assert len(fake.creates) == 1
        assert result.remote_id == fake.creates[0].remote_id

    def test_nothing_landed_so_it_is_sent_after_looking(self, fake: FakePlatform, account,
                                                        make_ctx) -> None:
        fake.inject("create", "5xx_before_create", platform="mastodon")
        ctx = make_ctx("k-late-2")
        with pytest.raises(OutcomeUnknown):
            pub.publish(Content(text="Never arrived"), account("mastodon"), ctx)
        _hours_pass(fake, ctx, HOUR + 100)
        pub.publish(Content(text="Never arrived"), account("mastodon"), ctx)
        assert len(fake.creates) == 1
        calls = [(method, path) for method, path, *_ in fake.requests]
        looked = calls.index(("GET", "/api/v1/accounts/109000000000000001/statuses"))
        assert calls[looked + 1:] == [("POST", "/api/v1/statuses")]

    def test_inside_the_window_the_key_is_trusted_without_looking(
            self, fake: FakePlatform, account, make_ctx) -> None:
        fake.inject("create", "create_then_reset", platform="mastodon")
        ctx = make_ctx("k-early")
        with pytest.raises(OutcomeUnknown):
            pub.publish(Content(text="Soon"), account("mastodon"), ctx)
        _hours_pass(fake, ctx, HOUR - 300)
        pub.publish(Content(text="Soon"), account("mastodon"), ctx)
        assert len(fake.creates) == 1
        assert not [r for r in fake.requests if r[1].endswith("/statuses") and r[0] == "GET"]

    def test_an_older_identical_status_is_not_taken_for_this_one(
            self, fake: FakePlatform, account, make_ctx) -> None:
        weekly = Content(text="Tip of the week: drink water")
        last_week = pub.publish(weekly, account("mastodon"), make_ctx("last-week"))
        fake.advance(7 * 24 * HOUR)
        fake.inject("create", "5xx_before_create", platform="mastodon")
        ctx = make_ctx("this-week")
        with pytest.raises(OutcomeUnknown):
            pub.publish(weekly, account("mastodon"), ctx)
        _hours_pass(fake, ctx, HOUR + 100)
        assert pub.find_existing(weekly, account("mastodon"), ctx) is None
        this_week = pub.publish(weekly, account("mastodon"), ctx)
        assert this_week.remote_id != last_week.remote_id and len(fake.creates) == 2

    def test_a_status_from_just_before_the_recorded_send_still_counts(
            self, fake: FakePlatform, account, make_ctx) -> None:
        """Clocks differ: a status stamped a little before our first_sent_at is ours."""
        fake.inject("create", "create_then_reset", platform="mastodon")
        ctx = make_ctx("k-skew")
        with pytest.raises(OutcomeUnknown):
            pub.publish(Content(text="Skewed"), account("mastodon"), ctx)
        fake.advance(120)  # the server's clock is two minutes behind ours
        _hours_pass(fake, ctx, HOUR + 100)
        found = pub.find_existing(Content(text="Skewed"), account("mastodon"), ctx)
        assert found is not None and found.remote_id == fake.creates[0].remote_id

    def test_without_a_first_send_nothing_was_sent(self, fake: FakePlatform, account,
                                                   make_ctx) -> None:
        pub.publish(Content(text="Same words"), account("mastodon"), make_ctx("other"))
        assert pub.find_existing(Content(text="Same words"), account("mastodon"),
                                 make_ctx("never-started")) is None


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

    def test_identify(self, fake: FakePlatform, account) -> None:
        identity = pub.identify(account("mastodon"))
        host = fake.base_url.split("://", 1)[1]
        assert (identity.display_name, identity.external_id, identity.username) == (
            "Poise Demo", "109000000000000001", f"poise@{host}")

    def test_validate_missing_instance_and_token(self) -> None:
        acct = AccountRef(platform="mastodon", handle="p", api_base="")
        fields = [p.field for p in pub.validate(Content(text="hi"), acct)]
        assert fields == ["account", "account"]


class TestLookupMatchesRenderedHtml:
    """After the key window the status is found by its text, which Mastodon returns as HTML
    (app/lib/text_formatter.rb): shortened links, mentions without their domain, hashtags."""

    TEXT = ("New blend for @anna@tea.example and @poise!\n\nRead "
            "https://www.example.com/journal/2026/winter-blend-notes?utm_source=mastodon "
            "#tea & more")

    def test_a_status_with_links_and_mentions_is_found(self, fake: FakePlatform, account,
                                                       make_ctx) -> None:
        posted = pub.publish(Content(text=self.TEXT), account("mastodon"), make_ctx("h1"))
        html = fake._m_statuses[0]["content"]
        assert 'class="ellipsis"' in html and "@<span>anna</span>" in html
        late = make_ctx("h2", state={"first_sent_at": str(int(time.time()) - 2 * HOUR)})
        fake.advance(2 * HOUR - 60)
        found = pub.find_existing(Content(text=self.TEXT), account("mastodon"), late)
        assert found is not None and found.remote_id == posted.remote_id

    def test_a_different_link_is_not_taken_for_it(self, fake: FakePlatform, account,
                                                  make_ctx) -> None:
        pub.publish(Content(text=self.TEXT), account("mastodon"), make_ctx("h3"))
        other = self.TEXT.replace("winter-blend-notes", "summer-blend-notes")
        late = make_ctx("h4", state={"first_sent_at": str(int(time.time()) - 2 * HOUR)})
        fake.advance(2 * HOUR - 60)
        assert pub.find_existing(Content(text=other), account("mastodon"), late) is None


def test_a_crash_mid_request_also_waits_before_the_reconcile(fake: FakePlatform, account,
                                                             make_ctx) -> None:
    """The worker died with the request in flight: nothing recorded a not-before time, but
    the checkpointed send time keeps the reconcile from resending too early."""
    ctx = make_ctx("k-crash", timeout=5)
    ctx.state.update(first_sent_at=str(int(time.time())), sent_at=str(int(time.time())))
    with pytest.raises(OutcomeUnknown) as caught:
        pub.find_existing(Content(text="in flight"), account("mastodon"), ctx)
    assert caught.value.not_before is not None
    assert caught.value.not_before.timestamp() >= time.time() + SERVER_OVERRUN_SECONDS
    assert fake.requests == []


def test_a_rate_limited_create_is_retried_without_the_wait(fake: FakePlatform, account,
                                                           make_ctx) -> None:
    fake.inject("create", "429", platform="mastodon")
    ctx = make_ctx("k-429")
    with pytest.raises(RateLimited):
        pub.publish(Content(text="later"), account("mastodon"), ctx)
    assert "sent_at" not in ctx.state
    pub.publish(Content(text="later"), account("mastodon"), ctx)
    assert len(fake.creates) == 1
