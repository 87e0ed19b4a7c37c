from __future__ import annotations

import struct
import time
import zlib
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from publishers.base import (
    AuthExpired,
    Content,
    ContentRejected,
    MediaFile,
    RateLimited,
    Transient,
)
from publishers.bluesky import TID_ALPHABET, BlueskyPublisher, facets, new_tid, tid_time
from sandbox import FakePlatform

pub = BlueskyPublisher()
FAMILY = "\U0001f469\u200d\U0001f469\u200d\U0001f467\u200d\U0001f466"


class TestTid:
    def test_time_round_trip(self) -> None:
        assert tid_time(new_tid(1_700_000_000_123_456)) == 1_700_000_000.123456

    def test_shape_and_order(self) -> None:
        first, second = new_tid(1_700_000_000_000_000), new_tid(1_700_000_000_000_001)
        assert len(first) == 13 and set(first) <= set(TID_ALPHABET)
        assert first < second
        assert first[0] in "234567abcdefghij"  # top bit zero


class TestFacets:
    def test_byte_offsets_after_emoji(self) -> None:
        text = f"{FAMILY} zażółć see https://example.com/a?b=1."
        [facet] = facets(text)
        start, end = facet["index"]["byteStart"], facet["index"]["byteEnd"]
        assert text.encode()[start:end] == b"https://example.com/a?b=1"
        assert facet["features"][0] == {"$type": "app.bsky.richtext.facet#link",
                                        "uri": "https://example.com/a?b=1"}

    @given(st.text(max_size=30), st.text(max_size=30),
           st.from_regex(r"https://[a-z]{1,10}\.example/[a-z0-9/]{0,12}", fullmatch=True))
    def test_offsets_always_slice_back_to_the_url(self, before: str, after: str,
                                                  url: str) -> None:
        text = f"{before} {url} {after}"
        sliced = [text.encode()[f["index"]["byteStart"]:f["index"]["byteEnd"]].decode()
                  for f in facets(text)]
        assert url in sliced


class TestPublish:
    def test_session_rkey_checkpoint_and_record(self, fake: FakePlatform, account,
                                                make_ctx) -> None:
        ctx = make_ctx()
        text = f"{FAMILY} new post https://shop.example/x"
        result = pub.publish(Content(text=text), account("bluesky"), ctx)
        [create] = fake.creates
        assert create.path == "/xrpc/com.atproto.repo.createRecord"
        assert create.headers["authorization"].startswith("Bearer access-")
        body = create.body
        assert body["collection"] == "app.bsky.feed.post"
        assert body["rkey"] == ctx.state["rkey"] == ctx.checkpoint.saved[0]["rkey"]
        assert body["repo"].startswith("did:plc:")
        record = body["record"]
        assert record["text"] == text and record["$type"] == "app.bsky.feed.post"
        [facet] = record["facets"]
        sliced = text.encode()[facet["index"]["byteStart"]:facet["index"]["byteEnd"]]
        assert sliced == b"https://shop.example/x"
        assert result.url == f"https://bsky.app/profile/poise.test/post/{ctx.state['rkey']}"
        assert result.remote_id == f"at://{body['repo']}/app.bsky.feed.post/{ctx.state['rkey']}"

    def test_mention_facet_for_resolvable_handle(self, fake: FakePlatform, account,
                                                 make_ctx) -> None:
        pub.publish(Content(text="hi @friend.test"), account("bluesky"), make_ctx())
        [facet] = fake.creates[0].body["record"]["facets"]
        assert facet["features"][0]["$type"] == "app.bsky.richtext.facet#mention"
        assert facet["index"] == {"byteStart": 3, "byteEnd": 15}

    def test_images(self, fake: FakePlatform, account, make_ctx, jpeg: Path) -> None:
        media = (MediaFile(path=str(jpeg), mime_type="image/jpeg", alt_text="jar"),)
        pub.publish(Content(text="pic", media=media), account("bluesky"), make_ctx())
        embed = fake.creates[0].body["record"]["embed"]
        assert embed["$type"] == "app.bsky.embed.images"
        assert embed["images"][0]["alt"] == "jar"
        assert embed["images"][0]["image"]["mimeType"] == "image/jpeg"

    def test_timeout_then_retry_returns_the_same_record(self, fake: FakePlatform, account,
                                                        make_ctx) -> None:
        fake.inject("create", "create_then_timeout", platform="bluesky")
        ctx = make_ctx(timeout=0.3)
        with pytest.raises(Transient):
            pub.publish(Content(text="once"), account("bluesky"), ctx)
        ctx.timeout_seconds = 5
        result = pub.publish(Content(text="once"), account("bluesky"), ctx)
        assert len(fake.creates) == 1
        assert result.remote_id == fake.creates[0].remote_id

    def test_duplicate_rkey_500_means_the_earlier_attempt_landed(self, fake: FakePlatform,
                                                                 account, make_ctx) -> None:
        ctx = make_ctx()
        first = pub.publish(Content(text="dup"), account("bluesky"), ctx)
        fake.inject("read", "5xx_before_create", platform="bluesky")  # the pre-check fails
        again = pub.publish(Content(text="dup"), account("bluesky"), ctx)
        assert first.remote_id == again.remote_id and len(fake.creates) == 1
        creates = [p for m, p, *_ in fake.requests if p.endswith("createRecord")]
        assert len(creates) == 2  # the second create met the existing rkey

    def test_an_old_rkey_is_kept_for_the_retry(self, fake: FakePlatform, account,
                                               make_ctx) -> None:
        """Any valid TID is a valid post rkey; a new key for a retry could post twice."""
        old = new_tid(int((time.time() - 3 * 86400) * 1_000_000))
        ctx = make_ctx(state={"rkey": old})
        pub.publish(Content(text="after a long rate limit"), account("bluesky"), ctx)
        assert ctx.state["rkey"] == old
        assert fake.creates[0].body["rkey"] == old

    def test_find_existing(self, fake: FakePlatform, account, make_ctx) -> None:
        ctx = make_ctx()
        assert pub.find_existing(Content(text="x"), account("bluesky"), ctx) is None
        result = pub.publish(Content(text="x"), account("bluesky"), ctx)
        assert pub.find_existing(Content(text="x"), account("bluesky"), ctx) == result
        other = make_ctx(state={**ctx.state, "rkey": new_tid()})
        assert pub.find_existing(Content(text="x"), account("bluesky"), other) is None

    def test_expired_access_token_is_refreshed(self, fake: FakePlatform, account,
                                               make_ctx) -> None:
        pub.publish(Content(text="one"), account("bluesky"), make_ctx("a"))
        fake.expire_bluesky_sessions()
        pub.publish(Content(text="two"), account("bluesky"), make_ctx("b"))
        calls = [p for _, p, *_ in fake.requests]
        assert calls.count("/xrpc/com.atproto.server.createSession") == 1
        assert calls.count("/xrpc/com.atproto.server.refreshSession") == 1
        assert len(fake.creates) == 2


class TestErrors:
    def test_wrong_app_password(self, fake: FakePlatform, account, make_ctx) -> None:
        with pytest.raises(AuthExpired):
            pub.publish(Content(text="x"), account("bluesky", app_password="nope"), make_ctx())

    def test_429_epoch_reset(self, fake: FakePlatform, account, make_ctx) -> None:
        fake.inject("create", "429", platform="bluesky")
        with pytest.raises(RateLimited) as caught:
            pub.publish(Content(text="x"), account("bluesky"), make_ctx())
        wait = (caught.value.reset_at - datetime.now(UTC)).total_seconds()
        assert 590 < wait <= 601

    def test_invalid_record_is_rejected(self, fake: FakePlatform, account, make_ctx) -> None:
        with pytest.raises(ContentRejected) as caught:
            pub.publish(Content(text="a" * 301), account("bluesky"), make_ctx())
        assert "300 graphemes" in caught.value.reason

    def test_5xx_is_transient(self, fake: FakePlatform, account, make_ctx) -> None:
        fake.inject("create", "5xx_before_create", platform="bluesky")
        with pytest.raises(Transient):
            pub.publish(Content(text="x"), account("bluesky"), make_ctx())

    def test_403_is_a_refusal_of_the_account(self, fake: FakePlatform, account,
                                             make_ctx) -> None:
        fake.inject("create", "403", platform="bluesky")
        with pytest.raises(AuthExpired) as caught:
            pub.publish(Content(text="x"), account("bluesky"), make_ctx())
        assert caught.value.status == 403 and "suspended" in caught.value.reason
        assert fake.creates == []

    def test_check_connection(self, fake: FakePlatform, account) -> None:
        assert pub.check_connection(account("bluesky")) == "Poise Demo"

    def test_validate(self, account) -> None:
        problems = pub.validate(Content(text=FAMILY * 200), account("bluesky", app_password=""))
        assert [p.field for p in problems] == ["account", "text"]


@pytest.fixture
def second_pds(fake: FakePlatform) -> Iterator[FakePlatform]:
    """Another loopback PDS: accounts hosted there appear in the first fake's DID documents."""
    other = FakePlatform()
    other.start()
    yield other
    other.stop()


class TestThePersonalDataServer:
    def test_an_account_on_a_third_party_pds_works_without_its_url(
            self, fake: FakePlatform, second_pds: FakePlatform, account, make_ctx) -> None:
        fake.host_bluesky_elsewhere("poise.test", second_pds.base_url)
        ctx = make_ctx()
        result = pub.publish(Content(text="from my own PDS"), account("bluesky"), ctx)
        assert fake.creates == [] and len(second_pds.creates) == 1
        assert ctx.state["pds"] == second_pds.base_url
        assert result.remote_id == second_pds.creates[0].remote_id
        assert pub.find_existing(Content(text="from my own PDS"), account("bluesky"),
                                 ctx) == result

    def test_writes_go_to_the_pds_in_the_session_did_doc(
            self, fake: FakePlatform, second_pds: FakePlatform, account, make_ctx) -> None:
        """The entryway signs in an account hosted on one of its PDSes (identifier given as
        an e-mail: nothing to resolve first); its didDoc names where to write."""
        fake.host_bluesky_elsewhere("me@example.com", second_pds.base_url, signs_in=True)
        fake.share_bluesky_sessions(second_pds)  # the entryway's tokens work on its PDSes
        me = account("bluesky", identifier="me@example.com")
        ctx = make_ctx()
        pub.publish(Content(text="written where I live"), me, ctx)
        assert fake.creates == [] and len(second_pds.creates) == 1
        assert ctx.state["pds"] == second_pds.base_url

    def test_a_did_doc_pointing_at_plain_http_elsewhere_is_not_trusted(self) -> None:
        from publishers.bluesky import _pds_endpoint
        doc = {"service": [{"id": "#atproto_pds", "serviceEndpoint": "http://evil.example"}]}
        assert _pds_endpoint(doc, trusted_like="https://bsky.social") == ""
        doc["service"][0]["serviceEndpoint"] = "https://pds.example"
        assert _pds_endpoint(doc, trusted_like="https://bsky.social") == "https://pds.example"


class TestWhatPostsNeed:
    def test_link_card_for_the_post_link(self, fake: FakePlatform, account, make_ctx) -> None:
        content = Content(text="New in the shop", link="https://www.shop.example/tea")
        pub.publish(content, account("bluesky"), make_ctx())
        embed = fake.creates[0].body["record"]["embed"]
        assert embed["$type"] == "app.bsky.embed.external"
        assert embed["external"]["uri"].startswith("https://www.shop.example/tea?")
        assert embed["external"]["title"] == "shop.example"
        assert embed["external"]["description"] == ""

    def test_tag_facets_and_langs(self, fake: FakePlatform, account, make_ctx) -> None:
        text = "Brewing 🍵 #GreenTea and #2026 at https://x.example/#anchor"
        pub.publish(Content(text=text, langs=("en", "pl")), account("bluesky"), make_ctx())
        record = fake.creates[0].body["record"]
        assert record["langs"] == ["en", "pl"]
        tags = [f for f in record["facets"]
                if f["features"][0]["$type"] == "app.bsky.richtext.facet#tag"]
        [tag] = tags  # digits only and the URL's fragment are not tags
        assert tag["features"][0]["tag"] == "GreenTea"
        assert text.encode()[tag["index"]["byteStart"]:tag["index"]["byteEnd"]] == b"#GreenTea"

    def test_image_aspect_ratio(self, fake: FakePlatform, account, make_ctx,
                                tmp_path: Path) -> None:
        png = tmp_path / "wide.png"
        png.write_bytes(_png(40, 30))
        media = (MediaFile(path=str(png), mime_type="image/png", alt_text="wide"),)
        pub.publish(Content(text="pic", media=media), account("bluesky"), make_ctx())
        image = fake.creates[0].body["record"]["embed"]["images"][0]
        assert image["aspectRatio"] == {"width": 40, "height": 30}

    def test_blob_limit_is_the_lexicons(self, account, tmp_path: Path) -> None:
        big = tmp_path / "big.jpg"
        big.write_bytes(b"\xff\xd8\xff" + b"\0" * 1_000_000)
        media = (MediaFile(path=str(big), mime_type="image/jpeg"),)
        [problem] = pub.validate(Content(text="pic", media=media), account("bluesky"))
        assert problem.field == "media" and "976 KB" in problem.message

    def test_the_fake_refuses_an_image_over_the_lexicon_limit(
            self, fake: FakePlatform, account, make_ctx, tmp_path: Path) -> None:
        big = tmp_path / "big.jpg"
        big.write_bytes(b"\xff\xd8\xff" + b"\0" * 1_000_000)
        media = (MediaFile(path=str(big), mime_type="image/jpeg"),)
        with pytest.raises(ContentRejected) as caught:
            pub.publish(Content(text="pic", media=media), account("bluesky"), make_ctx())
        assert "too large" in caught.value.reason


def _png(width: int, height: int) -> bytes:
    def chunk(kind: bytes, data: bytes) -> bytes:
        return (struct.pack(">I", len(data)) + kind + data
                + struct.pack(">I", zlib.crc32(kind + data)))
    raw = b"".join(b"\0" + b"\0" * 3 * width for _ in range(height))
    return (b"\x89PNG\r\n\x1a\n"
            + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))


def test_did_documents_come_from_the_plc_directory_or_the_domain() -> None:
    """A stored api_base of https://bsky.social (or a typed PDS) is not asked for DID
    documents; plc.directory is. Only the plain-http sandbox serves them itself."""
    from publishers.bluesky import did_document_url
    assert did_document_url("did:plc:abc", "https://bsky.social") == \
        "https://plc.directory/did:plc:abc"
    assert did_document_url("did:plc:abc", "http://127.0.0.1:8009") == \
        "http://127.0.0.1:8009/did:plc:abc"
    assert did_document_url("did:web:example.com", "https://bsky.social") == \
        "https://example.com/.well-known/did.json"
    assert did_document_url("did:web:evil.example/x", "https://bsky.social") == ""
    assert did_document_url("did:key:z6Mk", "https://bsky.social") == ""
