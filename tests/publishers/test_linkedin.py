from __future__ import annotations

import time
from dataclasses import replace
from datetime import UTC, datetime

import pytest

from publishers import versions
from publishers.base import (
    AccountHeld,
    AuthExpired,
    Content,
    ContentRejected,
    MediaFile,
    OutcomeUnknown,
    RateLimited,
)
from publishers.linkedin import LinkedInPublisher, escape_little_text
from sandbox import FakePlatform

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

    def test_find_existing_ignores_an_older_identical_post(self, fake: FakePlatform, account,
                                                          make_ctx) -> None:
        weekly = Content(text="Tip of the week: stretch")
        pub.publish(weekly, account("linkedin"), make_ctx("last-week"))
        fake.advance(7 * 24 * 3600)
        # This week's attempt recorded its first send, then the worker died.
        ctx = make_ctx("this-week", state={"first_sent_at": str(int(time.time()))})
        assert pub.find_existing(weekly, account("linkedin"), ctx) is None

    def test_find_existing_allows_a_little_clock_skew(self, fake: FakePlatform, account,
                                                      make_ctx) -> None:
        fake.inject("create", "create_then_reset", platform="linkedin")
        ctx = make_ctx()
        with pytest.raises(OutcomeUnknown):
            pub.publish(Content(text="skewed"), account("linkedin"), ctx)
        fake.advance(120)  # LinkedIn's clock two minutes behind ours
        found = pub.find_existing(Content(text="skewed"), account("linkedin"), ctx)
        assert found is not None and found.remote_id == fake.creates[0].remote_id

    def test_find_existing_without_a_first_send_is_none(self, fake: FakePlatform, account,
                                                        make_ctx) -> None:
        pub.publish(Content(text="same"), account("linkedin"), make_ctx("a"))
        assert pub.find_existing(Content(text="same"), account("linkedin"),
                                 make_ctx("b")) is None

    @pytest.mark.parametrize("kind, error", [
        ("401", AuthExpired), ("403", AuthExpired), ("422", ContentRejected),
        ("5xx_before_create", OutcomeUnknown), ("create_then_timeout", OutcomeUnknown),
        ("connection_reset", OutcomeUnknown)])
    def test_errors(self, fake: FakePlatform, account, make_ctx, kind: str, error: type) -> None:
        fake.inject("create", kind, platform="linkedin")
        with pytest.raises(error):
            pub.publish(Content(text="x"), account("linkedin"), make_ctx(timeout=0.3))

    def test_403_names_the_missing_permission(self, fake: FakePlatform, account,
                                              make_ctx) -> None:
        fake.inject("create", "403", platform="linkedin")
        with pytest.raises(AuthExpired) as caught:
            pub.publish(Content(text="x"), account("linkedin"), make_ctx())
        assert caught.value.status == 403 and "Not enough permissions" in caught.value.reason

    def test_lookup_timeout_is_unknown(self, fake: FakePlatform, account, make_ctx) -> None:
        fake.inject("read", "create_then_timeout", platform="linkedin")
        ctx = make_ctx(state={"first_sent_at": str(int(time.time()))}, timeout=0.3)
        with pytest.raises(OutcomeUnknown):
            pub.find_existing(Content(text="x"), account("linkedin"), ctx)

    def test_429_without_reset_header_backs_off_a_minute(self, fake: FakePlatform, account,
                                                         make_ctx) -> None:
        fake.inject("create", "429", platform="linkedin")
        with pytest.raises(RateLimited) as caught:
            pub.publish(Content(text="x"), account("linkedin"), make_ctx())
        wait = (caught.value.reset_at - datetime.now(UTC)).total_seconds()
        assert 55 < wait <= 60

    def test_identify_gives_the_member_urn(self, fake: FakePlatform, account) -> None:
        identity = pub.identify(account("linkedin"))
        assert (identity.display_name, identity.external_id) == (
            "Poise Demo", "urn:li:person:fake-member")

    def test_check_connection_and_validate(self, fake: FakePlatform, account) -> None:
        assert pub.check_connection(account("linkedin")) == "Poise Demo"
        assert pub.validate(Content(text="a" * 3001), account("linkedin"))[0].field == "text"


class TestVersions:
    """Issue 11 item 1: the default LinkedIn-Version had been sunset, every post came back 426
    and was filed as "content rejected", while the connection test stayed green."""

    def test_the_default_version_is_accepted_today(self, fake: FakePlatform, account,
                                                   make_ctx) -> None:
        result = pub.publish(Content(text="today"), account("linkedin"), make_ctx())
        assert result.remote_id.startswith("urn:li:share:")
        assert fake.creates[0].headers["linkedin-version"] == versions.LINKEDIN_DEFAULT

    def test_the_configured_version_is_sent(self, fake: FakePlatform, account,
                                            make_ctx) -> None:
        ref = replace(account("linkedin"), api_version="202606")
        pub.publish(Content(text="configured"), ref, make_ctx())
        assert fake.creates[0].headers["linkedin-version"] == "202606"

    def test_a_sunset_version_holds_the_account_and_says_what_to_set(
            self, fake: FakePlatform, account, make_ctx) -> None:
        ref = replace(account("linkedin"), api_version="202510")
        with pytest.raises(AccountHeld) as caught:
            pub.publish(Content(text="426"), ref, make_ctx())
        assert caught.value.status == 426
        assert "POISE_LINKEDIN_VERSION" in caught.value.reason
        assert "202510" in caught.value.reason
        assert not isinstance(caught.value, ContentRejected) and fake.creates == []

    def test_the_connection_test_calls_a_versioned_endpoint(self, fake: FakePlatform,
                                                            account) -> None:
        ref = replace(account("linkedin"), api_version="202510")
        with pytest.raises(AccountHeld):
            pub.check_connection(ref)
        assert any(path.startswith("/rest/") for _, path, *_ in fake.requests)

    def test_a_version_reaching_its_sunset_is_refused_by_the_fake(
            self, fake: FakePlatform, account, make_ctx) -> None:
        ref = account("linkedin")
        sunset, _ = versions.linkedin_sunset(versions.LINKEDIN_DEFAULT)
        assert sunset is not None
        fake.linkedin_today = sunset
        with pytest.raises(AccountHeld):
            pub.publish(Content(text="after the sunset"), ref, make_ctx())


class TestPermissions:
    def test_a_page_needs_w_organization_social(self, account) -> None:
        ref = replace(account("linkedin", scope="openid,profile,w_member_social"),
                      external_id="urn:li:organization:5515715")
        problems = pub.validate(Content(text="hello"), ref)
        assert any("w_organization_social" in p.message for p in problems)
        member = account("linkedin", scope="openid,profile,w_member_social")
        assert pub.validate(Content(text="hello"), member) == []

    def test_without_r_member_social_an_unknown_outcome_goes_to_a_person(
            self, fake: FakePlatform, account, make_ctx) -> None:
        ref = account("linkedin", scope="openid profile w_member_social")
        ctx = make_ctx(state={"first_sent_at": str(int(time.time()))})
        with pytest.raises(OutcomeUnknown) as caught:
            pub.find_existing(Content(text="lost"), ref, ctx)
        assert "r_member_social" in caught.value.reason
        assert "https://www.linkedin.com/in/" in caught.value.reason
        assert not [r for r in fake.requests if r[1] == "/rest/posts"]

    def test_a_page_without_r_organization_social_goes_to_a_person(
            self, fake: FakePlatform, account, make_ctx) -> None:
        ref = replace(account("linkedin", scope="w_organization_social"),
                      external_id="urn:li:organization:5515715")
        ctx = make_ctx(state={"first_sent_at": str(int(time.time()))})
        with pytest.raises(OutcomeUnknown) as caught:
            pub.find_existing(Content(text="lost"), ref, ctx)
        assert "r_organization_social" in caught.value.reason
        assert "linkedin.com/company/5515715/admin" in caught.value.reason

    def test_a_refused_lookup_links_to_the_profile(self, fake: FakePlatform, account,
                                                   make_ctx) -> None:
        fake.inject("read", "403", platform="linkedin")
        ctx = make_ctx(state={"first_sent_at": str(int(time.time()))})
        with pytest.raises(OutcomeUnknown) as caught:
            pub.find_existing(Content(text="lost"), account("linkedin"), ctx)
        assert "linkedin.com/in/" in caught.value.reason


class TestImages:
    def test_one_image_goes_through_the_images_api(self, fake: FakePlatform, account,
                                                   make_ctx, jpeg) -> None:
        content = Content(text="with a photo",
                          media=(MediaFile(str(jpeg), "image/jpeg", alt_text="a jar"),))
        ctx = make_ctx()
        pub.publish(content, account("linkedin"), ctx)
        [create] = fake.creates
        media = create.body["content"]["media"]
        assert media["id"].startswith("urn:li:image:") and media["altText"] == "a jar"
        assert ctx.state["images"] == media["id"]

    def test_several_images_make_a_multi_image_post(self, fake: FakePlatform, account,
                                                    make_ctx, jpeg) -> None:
        item = MediaFile(str(jpeg), "image/jpeg")
        pub.publish(Content(text="three", media=(item, item, item)), account("linkedin"),
                    make_ctx())
        images = fake.creates[0].body["content"]["multiImage"]["images"]
        assert len(images) == 3

    def test_a_retry_reuses_the_uploaded_images(self, fake: FakePlatform, account, make_ctx,
                                                jpeg) -> None:
        content = Content(text="retry", media=(MediaFile(str(jpeg), "image/jpeg"),))
        fake.inject("create", "5xx_before_create", platform="linkedin")
        ctx = make_ctx()
        with pytest.raises(OutcomeUnknown):
            pub.publish(content, account("linkedin"), ctx)
        uploads = sum(1 for r in fake.requests if r[1] == "/rest/images")
        pub.publish(content, account("linkedin"), ctx)
        assert sum(1 for r in fake.requests if r[1] == "/rest/images") == uploads

    def test_a_fake_post_with_an_image_never_uploaded_is_refused(self, fake: FakePlatform,
                                                                 account, make_ctx) -> None:
        import requests
        resp = requests.post(f"{fake.base_url}/rest/posts", timeout=5, json={
            **pub.body(Content(text="x"), account("linkedin")),
            "content": {"media": {"id": "urn:li:image:never"}}},
            headers=pub._headers(account("linkedin")))
        assert resp.status_code == 422
