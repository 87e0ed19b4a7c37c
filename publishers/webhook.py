"""Webhook: a signed JSON POST to any URL, following the Standard Webhooks headers.

Receivers deduplicate by ``webhook-id`` (our idempotency key), so resending after a timeout
or a 5xx is safe: both are ``Transient`` here.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import time
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

import requests

from publishers import http
from publishers.base import (
    AccountRef,
    Content,
    ContentRejected,
    Problem,
    PublishContext,
    PublishResult,
)
from publishers.dm import final_text, render_prompt, tagged_link
from publishers.validation import MediaRules, common_problems

SECRET_PREFIX = "whsec_"  # noqa: S105 (a prefix, not a secret)
TOLERANCE_SECONDS = 5 * 60
CREDENTIALS = ("secret",)


def _secret_bytes(secret: str) -> bytes:
    raw = secret[len(SECRET_PREFIX):] if secret.startswith(SECRET_PREFIX) else secret
    try:
        return base64.b64decode(raw, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise ValueError("A webhook secret is 'whsec_' followed by base64.") from exc


def sign(secret: str, msg_id: str, timestamp: int, body: str | bytes) -> str:
    # Over the bytes as sent: a body that is not UTF-8 is still signed (and verified) exactly.
    raw = body if isinstance(body, bytes) else body.encode()
    digest = hmac.new(_secret_bytes(secret), f"{msg_id}.{timestamp}.".encode() + raw,
                      hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode()


def verify_signature(secret: str, headers: Mapping[str, str], body: str | bytes, *,
                     now: float | None = None, tolerance: int = TOLERANCE_SECONDS) -> bool:
    """True when one of the ``webhook-signature`` entries matches and the time is recent."""
    lowered = {key.lower(): value for key, value in headers.items()}
    msg_id = lowered.get("webhook-id", "")
    stamp = lowered.get("webhook-timestamp", "")
    if not msg_id or not stamp.isdigit():
        return False
    if abs((now if now is not None else time.time()) - int(stamp)) > tolerance:
        return False
    try:
        expected = sign(secret, msg_id, int(stamp), body)
    except ValueError:
        return False
    return any(hmac.compare_digest(expected, candidate)
               for candidate in lowered.get("webhook-signature", "").split())


def payload(content: Content, account: AccountRef, ctx: PublishContext,
            at: int | None = None) -> dict[str, Any]:
    """The Standard Webhooks envelope: type, timestamp (ISO 8601, UTC) and data."""
    prompt = render_prompt(content, account)
    return {
        "type": "post.published",
        "timestamp": _iso(int(time.time()) if at is None else at),
        "data": {
            "text": final_text(content, account),
            "link": tagged_link(content, account),
            "media": [{"alt_text": m.alt_text, "mime_type": m.mime_type, "url": m.url}
                      for m in content.media],
            "dm_prompt": None if prompt is None else {
                "call_to_action": prompt.call_to_action, "deep_link": prompt.deep_link,
                "product_url": prompt.product_url},
            "post_ref": content.post_ref,
            "fingerprint": ctx.fingerprint,
        },
    }


def _iso(stamp: int) -> str:
    return datetime.fromtimestamp(stamp, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _reason(resp: requests.Response) -> str:
    body = http.json_or_empty(resp)
    return str(body.get("error") or body.get("message") or resp.reason or "")


def _reset(resp: requests.Response) -> datetime:
    return http.reset_at(resp.headers)


class WebhookPublisher:
    platform = "webhook"
    media_rules = MediaRules(max_items=10, max_bytes=50 * 1024 * 1024)

    def _url(self, account: AccountRef) -> str:
        url = account.credentials.get("url") or account.api_base
        if not url.startswith(("http://", "https://")):
            raise ContentRejected("The webhook account has no http(s) URL.")
        return url

    def validate(self, content: Content, account: AccountRef) -> list[Problem]:
        problems = common_problems(content, account, self.media_rules, CREDENTIALS)
        if not (account.credentials.get("url") or account.api_base).startswith("http"):
            problems.append(Problem("account", "The webhook needs an http(s) URL."))
        secret = account.credentials.get("secret", "")
        if secret:
            try:
                _secret_bytes(secret)
            except ValueError as exc:
                problems.append(Problem("account", str(exc)))
        return problems

    def _send(self, url: str, account: AccountRef, msg_id: str, body: str,
              timeout: float, stamp: int) -> requests.Response:
        headers = {
            "Content-Type": "application/json",
            "webhook-id": msg_id,
            "webhook-timestamp": str(stamp),
            "webhook-signature": sign(account.credentials.get("secret", ""), msg_id, stamp,
                                      body),
        }
        # Receivers dedupe by webhook-id, so a lost answer is safe to resend.
        resp = http.request("POST", url, timeout=timeout, creates=True, idempotent=True,
                            headers=headers, data=body.encode())
        http.classify(resp, platform="Webhook", creates=True, idempotent=True,
                      reason=_reason, reset=_reset)
        return resp

    def publish(self, content: Content, account: AccountRef, ctx: PublishContext) -> PublishResult:
        # The same second goes into the envelope and the signed webhook-timestamp header.
        stamp = int(time.time())
        body = json.dumps(payload(content, account, ctx, stamp), separators=(",", ":"),
                          ensure_ascii=False)
        resp = self._send(self._url(account), account, ctx.idempotency_key, body,
                          ctx.timeout_seconds, stamp)
        remote = http.json_or_empty(resp).get("id")
        return PublishResult(remote_id=str(remote or ctx.idempotency_key))

    def find_existing(self, content: Content, account: AccountRef,
                      ctx: PublishContext) -> PublishResult | None:
        # Resending with the same webhook-id is how a deduplicating receiver is asked.
        return self.publish(content, account, ctx)

    def check_connection(self, account: AccountRef) -> str:
        stamp = int(time.time())
        body = json.dumps({"type": "poise.ping", "timestamp": _iso(stamp), "data": {}},
                          separators=(",", ":"))
        self._send(self._url(account), account, f"ping_{stamp}", body, 15.0, stamp)
        return self._url(account)
