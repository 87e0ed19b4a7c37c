from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from datetime import UTC, datetime

import pytest

from publishers.base import AuthExpired, Content, ContentRejected, DmPrompt, RateLimited, Transient
from publishers.webhook import WebhookPublisher, sign, verify_signature
from sandbox import WEBHOOK_SECRET, FakePlatform

pub = WebhookPublisher()


class TestSignature:
    def test_matches_the_standard_webhooks_construction(self) -> None:
        key = base64.b64decode(WEBHOOK_SECRET.removeprefix("whsec_"))
        body = '{"a":1}'
        expected = base64.b64encode(
            hmac.new(key, b"msg_1.1700000000." + body.encode(), hashlib.sha256).digest())
        assert sign(WEBHOOK_SECRET, "msg_1", 1700000000, body) == "v1," + expected.decode()

    def test_verify(self) -> None:
        now = int(time.time())
        headers = {"Webhook-Id": "m", "Webhook-Timestamp": str(now),
                   "Webhook-Signature": "v1,bogus " + sign(WEBHOOK_SECRET, "m", now, "{}")}
        assert verify_signature(WEBHOOK_SECRET, headers, b"{}")
        assert not verify_signature(WEBHOOK_SECRET, headers, b"{ }")
        assert not verify_signature(WEBHOOK_SECRET, headers, b"{}", now=now + 600)
        assert not verify_signature("whsec_" + base64.b64encode(b"other").decode(), headers,
                                    b"{}")
        assert not verify_signature("not base64!", headers, b"{}")


class TestPublish:
    def test_signed_post_and_payload(self, fake: FakePlatform, account, make_ctx) -> None:
        prompt = DmPrompt(keyword="GLOW", product_url="https://shop.example/p")
        content = Content(text="Hello", link="https://blog.example/a", dm_prompt=prompt,
                          post_ref="p9")
        result = pub.publish(content, account("webhook"), make_ctx("pub-w1"))
        [create] = fake.creates
        assert create.path == "/webhook/poise.test"
        assert create.headers["webhook-id"] == "pub-w1"
        assert create.headers["webhook-signature"].startswith("v1,")
        assert create.body["type"] == "post.published"
        data = create.body["data"]
        assert data["text"].startswith("Hello\n\nDM us GLOW for the link https://shop.example/p?")
        assert data["link"].startswith("https://blog.example/a?utm_source=webhook")
        assert data["dm_prompt"]["product_url"].endswith("utm_content=p9")
        assert result.remote_id == create.remote_id

    def test_envelope_has_the_standard_timestamp(self, fake: FakePlatform, account,
                                                 make_ctx) -> None:
        before = int(time.time())
        pub.publish(Content(text="Hello"), account("webhook"), make_ctx("pub-w3"))
        [create] = fake.creates
        assert list(create.body) == ["type", "timestamp", "data"]
        stamp = datetime.strptime(create.body["timestamp"], "%Y-%m-%dT%H:%M:%SZ")
        # the same instant as the signed webhook-timestamp header, in ISO 8601 UTC
        assert int(stamp.replace(tzinfo=UTC).timestamp()) == int(
            create.headers["webhook-timestamp"])
        assert before <= int(create.headers["webhook-timestamp"]) <= time.time()

    def test_receiver_dedupes_by_id_so_timeouts_are_transient(self, fake: FakePlatform,
                                                              account, make_ctx) -> None:
        fake.inject("create", "create_then_timeout", platform="webhook")
        ctx = make_ctx("pub-w2", timeout=0.3)
        with pytest.raises(Transient):
            pub.publish(Content(text="x"), account("webhook"), ctx)
        ctx.timeout_seconds = 5
        found = pub.find_existing(Content(text="x"), account("webhook"), ctx)
        assert found is not None and found.remote_id == fake.creates[0].remote_id
        assert len(fake.creates) == 1

    @pytest.mark.parametrize("kind, error", [
        ("401", AuthExpired), ("403", AuthExpired), ("429", RateLimited),
        ("422", ContentRejected),
        ("5xx_before_create", Transient)])
    def test_errors(self, fake: FakePlatform, account, make_ctx, kind: str, error: type) -> None:
        fake.inject("create", kind, platform="webhook")
        with pytest.raises(error):
            pub.publish(Content(text="x"), account("webhook"), make_ctx())

    def test_wrong_secret_is_refused(self, fake: FakePlatform, account, make_ctx) -> None:
        other = "whsec_" + base64.b64encode(b"another-secret").decode()
        with pytest.raises(AuthExpired):
            pub.publish(Content(text="x"), account("webhook", secret=other), make_ctx())

    def test_body_is_compact_json(self, fake: FakePlatform, account, make_ctx) -> None:
        pub.publish(Content(text="zażółć"), account("webhook"), make_ctx())
        assert json.loads(json.dumps(fake.creates[0].body))["data"]["text"] == "zażółć"

    def test_validate_and_check(self, fake: FakePlatform, account) -> None:
        assert pub.check_connection(account("webhook")).endswith("/webhook/poise.test")
        assert fake.creates == []  # a ping is not a post
        problems = pub.validate(Content(text="x"), account("webhook", secret="whsec_%%%"))
        assert [p.field for p in problems] == ["account"]
