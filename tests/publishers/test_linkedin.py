from __future__ import annotations

from datetime import UTC, datetime

import pytest

from publishers.base import (
    AuthExpired,
    Content,
    ContentRejected,
    OutcomeUnknown,
    RateLimited,
)
from publishers.fakes import FakePlatform
from publishers.linkedin import LinkedInPublisher, escape_little_text

pub = LinkedInPublisher()


class TestEscaping:
    def test_reserved_characters(self) -> None:
        assert escape_little_text(r"a\b|c{d}e@f[g]h(i)j<k>l*m_n~o") == (
            r"a\\b\|c\{d\}e\@f\[g\]h\(i\)j\<k\>l\*m\_n\~o")

    def test_hashtags_become_templates(self) -> None:
        assert escape_little_text("Love #skincare_tips!") == (
            "Love {hashtag|\\#|skincare\\_tips}!")

    def test_plain_text_unchanged(self) -> None:
        assert escape_little_text("Zażółć gęślą jaźń. 😀") == "Zażółć gęślą jaźń. 😀"


class TestPublish:
    def test_wire_format(self, fake: FakePlatform, account, make_ctx) -> None:
        result = pub.publish(Content(text="New (limited) run #glow @ 20% off"),
                             account("linkedin"), make_ctx())
        [create] = fake.creates
        assert create.path == "/rest/posts"
        assert create.headers["authorization"] == "Bearer fake-token"
        assert len(create.headers["linkedin-version"]) == 6
        assert create.headers["x-restli-protocol-version"] == "2.0.0"
        assert create.body["author"] == "urn:li:person:fake-member"
        assert create.body["commentary"] == (
            "New \\(limited\\) run {hashtag|\\#|glow} \\@ 20% off")
        assert create.body["lifecycleState"] == "PUBLISHED"
        assert create.body["distribution"]["feedDistribution"] == "MAIN_FEED"
        assert result.remote_id == create.remote_id and result.remote_id.startswith("urn:li:")
        assert result.url == f"https://www.linkedin.com/feed/update/{result.remote_id}/"

    def test_duplicate_first_time_is_rejected_on_retry_unknown(
            self, fake: FakePlatform, account, make_ctx) -> None:
        pub.publish(Content(text="twice"), account("linkedin"), make_ctx("a"))
        with pytest.raises(ContentRejected):
            pub.publish(Content(text="twice"), account("linkedin"), make_ctx("b"))
        retry = make_ctx("c", state={"first_sent_at": "1"})
        with pytest.raises(OutcomeUnknown) as caught:
            pub.publish(Content(text="twice"), account("linkedin"), retry)
        assert fake.creates[0].remote_id in caught.value.detail

    def test_find_existing(self, fake: FakePlatform, account, make_ctx) -> None:
        fake.inject("create", "create_then_timeout", platform="linkedin")
        ctx = make_ctx(timeout=0.3)
        with pytest.raises(OutcomeUnknown):
            pub.publish(Content(text="lost #answer"), account("linkedin"), ctx)
        ctx.timeout_seconds = 5
        found = pub.find_existing(Content(text="lost #answer"), account("linkedin"), ctx)
        assert found is not None and found.remote_id == fake.creates[0].remote_id
        assert pub.find_existing(Content(text="never"), account("linkedin"), ctx) is None

    @pytest.mark.parametrize("kind, error", [
        ("401", AuthExpired), ("422", ContentRejected), ("5xx_before_create", OutcomeUnknown)])
    def test_errors(self, fake: FakePlatform, account, make_ctx, kind: str, error: type) -> None:
        fake.inject("create", kind, platform="linkedin")
        with pytest.raises(error):
            pub.publish(Content(text="x"), account("linkedin"), make_ctx())

    def test_429_without_reset_header_backs_off_a_minute(self, fake: FakePlatform, account,
                                                         make_ctx) -> None:
        fake.inject("create", "429", platform="linkedin")
        with pytest.raises(RateLimited) as caught:
            pub.publish(Content(text="x"), account("linkedin"), make_ctx())
        wait = (caught.value.reset_at - datetime.now(UTC)).total_seconds()
        assert 55 < wait <= 60

    def test_check_connection_and_validate(self, fake: FakePlatform, account) -> None:
        assert pub.check_connection(account("linkedin")) == "Poise Demo"
        assert pub.validate(Content(text="a" * 3001), account("linkedin"))[0].field == "text"
