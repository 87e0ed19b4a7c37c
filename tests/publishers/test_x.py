from __future__ import annotations

import threading
from datetime import UTC, datetime
from pathlib import Path

import pytest

from publishers.base import (
    AccountHeld,
    AuthExpired,
    Content,
    ContentRejected,
    DmPrompt,
    MediaFile,
    OutcomeUnknown,
    RateLimited,
    Transient,
)
from publishers.x import RebasedSession, XPublisher, comparable
from sandbox import X_CLIENT_ID, X_REFRESH_TOKEN, FakePlatform

pub = XPublisher()


def oauth2(account, **extra: str):
    return account("x", consumer_key="", consumer_secret="", access_token_secret="",
                   access_token="fake-token", **extra)


class TestRebasedSession:
    def test_rewrites_scheme_and_host_keeps_path_and_query(self) -> None:
        seen = {}

        class Probe(RebasedSession):
            def send(self, request, **kwargs):  # type: ignore[override]
                seen["url"], seen["timeout"] = request.url, kwargs.get("timeout")
                raise RuntimeError("stop")

        session = Probe("http://127.0.0.1:5555/prefix", 3.0)
        with pytest.raises(RuntimeError):
            session.request("GET", "https://api.twitter.com/2/users/me?x=1")
        assert seen["url"] == "http://127.0.0.1:5555/prefix/2/users/me?x=1"
        assert seen["timeout"] == (3.0, 3.0)


class TestPublish:
    def test_oauth1_wire_format_with_dm_deep_link(self, fake: FakePlatform, account,
                                                  make_ctx) -> None:
        prompt = DmPrompt(keyword="GLOW", product_url="https://shop.example/p")
        content = Content(text="New drop", dm_prompt=prompt)
        result = pub.publish(content, account("x"), make_ctx())
        [create] = fake.creates
        assert (create.method, create.path) == ("POST", "/2/tweets")
        auth = create.headers["authorization"]
        assert auth.startswith("OAuth ") and "oauth_signature=" in auth  # verified by the fake
        assert create.body["text"].startswith("New drop\n\nDM us GLOW for the link https://")
        assert create.body["direct_message_deep_link"] == (
            "https://twitter.com/messages/compose?recipient_id=1000000001&text=GLOW")
        assert result.url == f"https://x.com/poise.test/status/{result.remote_id}"

    def test_oauth2_bearer(self, fake: FakePlatform, account, make_ctx) -> None:
        pub.publish(Content(text="bearer"), oauth2(account), make_ctx())
        assert fake.creates[0].headers["authorization"] == "Bearer fake-token"

    def test_media_upload_then_tweet(self, fake: FakePlatform, account, make_ctx,
                                     jpeg: Path) -> None:
        media = (MediaFile(path=str(jpeg), mime_type="image/jpeg"),)
        ctx = make_ctx()
        pub.publish(Content(text="pic", media=media), account("x"), ctx)
        upload = [r for r in fake.requests if r[1] == "/2/media/upload"]
        assert len(upload) == 1
        assert fake.creates[0].body["media"]["media_ids"] == [ctx.state["media_ids"]]


class TestErrors:
    def test_401(self, fake: FakePlatform, account, make_ctx) -> None:
        with pytest.raises(AuthExpired):
            pub.publish(Content(text="x"), account("x", consumer_secret="wrong"), make_ctx())

    def test_429_epoch_reset(self, fake: FakePlatform, account, make_ctx) -> None:
        fake.inject("create", "429", platform="x")
        with pytest.raises(RateLimited) as caught:
            pub.publish(Content(text="x"), account("x"), make_ctx())
        wait = (caught.value.reset_at - datetime.now(UTC)).total_seconds()
        assert 890 < wait <= 901

    def test_duplicate_on_first_attempt_is_rejected(self, fake: FakePlatform, account,
                                                    make_ctx) -> None:
        pub.publish(Content(text="same"), account("x"), make_ctx("a"))
        with pytest.raises(ContentRejected):
            pub.publish(Content(text="same"), account("x"), make_ctx("b"))

    def test_duplicate_on_retry_is_an_unknown_outcome_with_the_clue(
            self, fake: FakePlatform, account, make_ctx) -> None:
        fake.inject("create", "create_then_reset", platform="x")
        ctx = make_ctx()
        with pytest.raises(OutcomeUnknown):
            pub.publish(Content(text="retry me"), account("x"), ctx)
        with pytest.raises(OutcomeUnknown) as caught:
            pub.publish(Content(text="retry me"), account("x"), ctx)
        assert "duplicate" in caught.value.detail
        assert len(fake.creates) == 1

    def test_other_403_is_a_permission_problem_not_a_duplicate(
            self, fake: FakePlatform, account, make_ctx) -> None:
        fake.inject("create", "403", platform="x")
        with pytest.raises(AuthExpired) as caught:
            pub.publish(Content(text="x"), account("x"), make_ctx())
        assert caught.value.status == 403 and "not permitted" in caught.value.reason

    def test_403_on_a_retry_is_not_taken_for_a_duplicate(self, fake: FakePlatform, account,
                                                         make_ctx) -> None:
        fake.inject("create", "403", platform="x")
        with pytest.raises(AuthExpired):
            pub.publish(Content(text="x"), account("x"),
                        make_ctx(state={"first_sent_at": "1", "media_ids": ""}))

    def test_5xx_is_unknown(self, fake: FakePlatform, account, make_ctx) -> None:
        fake.inject("create", "5xx_before_create", platform="x")
        with pytest.raises(OutcomeUnknown):
            pub.publish(Content(text="x"), account("x"), make_ctx())

    def test_read_timeout_is_unknown(self, fake: FakePlatform, account, make_ctx) -> None:
        fake.inject("create", "create_then_timeout", platform="x")
        with pytest.raises(OutcomeUnknown):
            pub.publish(Content(text="x"), account("x"), make_ctx(timeout=0.3))

    def test_bad_request_is_rejected(self, fake: FakePlatform, account, make_ctx) -> None:
        fake.inject("create", "422", platform="x")
        with pytest.raises(ContentRejected) as caught:
            pub.publish(Content(text="x"), account("x"), make_ctx())
        assert "Invalid text" in caught.value.reason

    def test_connection_refused_is_transient(self, account, make_ctx) -> None:
        from dataclasses import replace
        dead = replace(account("x"), api_base="http://127.0.0.1:9")
        with pytest.raises(Transient):
            pub.publish(Content(text="x"), dead, make_ctx(timeout=1))


class TestFindExisting:
    def test_finds_the_post_despite_tco_links_and_entities(self, fake: FakePlatform, account,
                                                           make_ctx) -> None:
        text = "Tips & tricks <3 https://example.com/a/very/long/path and example.org/x"
        fake.inject("create", "create_then_reset", platform="x")
        ctx = make_ctx()
        with pytest.raises(OutcomeUnknown):
            pub.publish(Content(text=text), account("x"), ctx)
        found = pub.find_existing(Content(text=text), account("x"), ctx)
        assert found is not None and found.remote_id == fake.creates[0].remote_id
        assert pub.find_existing(Content(text="other"), account("x"), ctx) is None

    def test_lookup_impossible_is_unknown(self, fake: FakePlatform, account, make_ctx) -> None:
        fake.inject("read", "401", platform="x", times=5)
        with pytest.raises(OutcomeUnknown):
            pub.find_existing(Content(text="x"), account("x"), make_ctx())

    def test_comparable(self) -> None:
        assert comparable("a &amp; b https://t.co/abc") == comparable("a & b https://example.com/long")


class TestCredentials:
    def test_check_connection(self, fake: FakePlatform, account) -> None:
        assert pub.check_connection(account("x")) == "Poise Demo"
        assert pub.check_connection(oauth2(account)) == "Poise Demo"

    def test_identify_gives_the_numeric_user_id(self, fake: FakePlatform, account) -> None:
        for acct in (account("x"), oauth2(account)):
            identity = pub.identify(acct)
            assert (identity.display_name, identity.external_id, identity.username) == (
                "Poise Demo", "1000000001", "poise")

    def test_refresh_once_even_when_called_concurrently(self, fake: FakePlatform,
                                                        account) -> None:
        acct = oauth2(account, refresh_token=X_REFRESH_TOKEN, client_id=X_CLIENT_ID)
        results: list[dict[str, str]] = []
        threads = [threading.Thread(target=lambda: results.append(pub.refresh_credentials(acct)))
                   for _ in range(5)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert len(results) == 5 and all(r == results[0] for r in results)
        assert [r[1] for r in fake.requests].count("/2/oauth2/token") == 1
        assert results[0]["access_token"].startswith("x-access-")
        assert results[0]["refresh_token"] != X_REFRESH_TOKEN
        from dataclasses import replace
        fresh = replace(acct, credentials=results[0])
        assert pub.check_connection(fresh) == "Poise Demo"

    def test_refused_refresh_is_auth_expired(self, fake: FakePlatform, account) -> None:
        acct = oauth2(account, refresh_token="stale", client_id=X_CLIENT_ID)
        with pytest.raises(AuthExpired):
            pub.refresh_credentials(acct)

    def test_validate_needs_one_complete_credential_set(self, account) -> None:
        acct = account("x", access_token="")
        assert [p.field for p in pub.validate(Content(text="hi"), acct)] == ["account"]


class TestAccountLevelErrors:
    """Issue 11 item 2: a 402 was filed as a content rejection, post by post."""

    def test_402_no_credits_holds_the_account(self, fake: FakePlatform, account,
                                              make_ctx) -> None:
        fake.x_credits = False
        with pytest.raises(AccountHeld) as caught:
            pub.publish(Content(text="no credits"), account("x"), make_ctx())
        assert caught.value.status == 402 and "credits" in caught.value.reason
        assert fake.creates == []


class TestFindExistingAsXReturnsIt:
    def test_a_media_post_is_found_despite_the_trailing_media_link(
            self, fake: FakePlatform, account, make_ctx, jpeg: Path) -> None:
        # X ends the text of a post with media with a t.co link to the media.
        content = Content(text="Our new jar & lid",
                          media=(MediaFile(path=str(jpeg), mime_type="image/jpeg"),))
        fake.inject("create", "create_then_reset", platform="x")
        ctx = make_ctx()
        with pytest.raises(OutcomeUnknown):
            pub.publish(content, account("x"), ctx)
        found = pub.find_existing(content, account("x"), ctx)
        assert found is not None and found.remote_id == fake.creates[0].remote_id

    def test_the_lookup_pages_back_to_the_first_send(self, fake: FakePlatform, account,
                                                     make_ctx) -> None:
        fake.inject("create", "create_then_reset", platform="x")
        ctx = make_ctx("lost")
        with pytest.raises(OutcomeUnknown):
            pub.publish(Content(text="the lost one"), account("x"), ctx)
        for n in range(120):  # the account kept posting since (another tool, a person)
            pub.publish(Content(text=f"later post {n}"), account("x"), make_ctx(f"k{n}"))
        found = pub.find_existing(Content(text="the lost one"), account("x"), ctx)
        assert found is not None and found.remote_id == fake.creates[0].remote_id
        pages = [r for r in fake.requests if r[1].endswith("/tweets") and r[0] == "GET"]
        assert len(pages) == 2


class TestGifs:
    def test_a_gif_is_refused_with_the_rule_in_words(self, account, tmp_path: Path) -> None:
        gif = tmp_path / "dance.gif"
        gif.write_bytes(b"GIF89a" + b"\0" * 100)
        problems = pub.validate(Content(text="gif", media=(
            MediaFile(path=str(gif), mime_type="image/gif"),)), account("x"))
        [problem] = problems
        assert problem.field == "media" and "GIF" in problem.message
        assert "4 still images" in problem.message
