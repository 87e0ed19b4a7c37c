"""Test-only publishers for the fake platform: ``fake-noidem`` (no idempotency: lookup of
recent posts by exact content) and ``fake-idem`` (an Idempotency-Key the platform dedups on).

Importing this module registers both.
"""

from __future__ import annotations

import http.client
import json
import threading
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

import publishers.mastodon as _mastodon
from publishers import (
    AccountRef,
    AuthExpired,
    Content,
    ContentRejected,
    OutcomeUnknown,
    Problem,
    PublishContext,
    PublishResult,
    RateLimited,
    Transient,
    register,
)

_local = threading.local()

# The loopback fake finishes a Mastodon create at once, so fault runs wait one second instead
# of the product's two minutes before resending under the same Idempotency-Key (issue 11).
_mastodon.SERVER_OVERRUN_SECONDS = 1


class FakeAdapter:
    def __init__(self, platform: str, *, idempotent: bool) -> None:
        self.platform = platform
        self.idempotent = idempotent

    def validate(self, content: Content, account: AccountRef) -> list[Problem]:
        if not content.text.strip():
            return [Problem("text", "empty")]
        return []

    def _request(self, account: AccountRef, method: str, path: str, body: Any = None,
                 headers: dict[str, str] | None = None,
                 timeout: float = 5.0) -> tuple[int, dict[str, str], Any]:
        base = urlsplit(account.api_base)
        key = (base.hostname or "", base.port or 80)
        pool: dict[tuple[str, int], http.client.HTTPConnection] = _local.__dict__.setdefault(
            "connections", {})
        conn = pool.pop(key, None)  # keep-alive per thread, like a requests.Session
        sent = False
        try:
            if conn is None:
                conn = http.client.HTTPConnection(key[0], key[1], timeout=timeout)
                try:
                    conn.connect()
                except OSError as exc:
                    raise Transient(f"cannot connect: {exc}") from exc
            conn.timeout = timeout
            if conn.sock is not None:
                conn.sock.settimeout(timeout)
            data = json.dumps(body).encode() if body is not None else None
            conn.request(method, path, body=data,
                         headers={"Content-Type": "application/json", **(headers or {})})
            sent = True
            response = conn.getresponse()
            payload = json.loads(response.read() or b"null")
            pool[key] = conn
            return response.status, {k.lower(): v for k, v in response.getheaders()}, payload
        except (TimeoutError, http.client.HTTPException, OSError) as exc:
            if conn is not None:
                conn.close()
            if isinstance(exc, Transient):
                raise
            if method == "GET" or not sent:
                raise Transient(f"{method} {path}: {exc!r}") from exc
            raise OutcomeUnknown(f"no answer after the request left: {exc!r}",
                                 detail=repr(exc)) from exc

    def publish(self, content: Content, account: AccountRef,
                ctx: PublishContext) -> PublishResult:
        headers = {"Idempotency-Key": ctx.idempotency_key} if self.idempotent else {}
        if self.idempotent:
            ctx.state["key"] = ctx.idempotency_key
            ctx.checkpoint(ctx.state)
        status, head, payload = self._request(
            account, "POST", f"/{account.handle}/posts",
            {"text": content.text, "link": content.link or ""}, headers, ctx.timeout_seconds)
        if status == 200:
            return PublishResult(payload["id"], payload["url"])
        if status == 429:
            reset = datetime.fromtimestamp(float(head["x-reset"]), UTC)
            raise RateLimited("slow down", reset_at=reset)
        if status == 401:
            raise AuthExpired("token revoked", status=401)
        if status == 422:
            raise ContentRejected("rejected", status=422)
        if self.idempotent:
            raise Transient(f"HTTP {status}; the idempotency key makes a resend safe",
                            status=status)
        raise OutcomeUnknown(f"HTTP {status} on a platform without idempotency: it may have "
                             "posted", status=status)

    def find_existing(self, content: Content, account: AccountRef,
                      ctx: PublishContext) -> PublishResult | None:
        if self.idempotent:
            status, _, payload = self._request(
                account, "GET", f"/{account.handle}/posts/by-key/{ctx.idempotency_key}")
            if status == 404:
                return None
        else:
            status, _, payload = self._request(account, "GET",
                                               f"/{account.handle}/posts?limit=40")
        if status != 200:
            raise OutcomeUnknown(f"lookup answered HTTP {status}", status=status)
        if self.idempotent:
            return PublishResult(payload["id"], payload["url"])
        for post in payload:
            if post["text"] == content.text and post["link"] == (content.link or ""):
                return PublishResult(post["id"], post["url"])
        return None

    def check_connection(self, account: AccountRef) -> str:
        return account.handle


class FakeX(FakeAdapter):
    """Like X: no idempotency, a 403 "duplicate" for a second identical post, and a lookup
    that reads one page of recent posts unless asked to page through (``ctx.thorough``)."""

    PAGE = 5
    MAX_PAGES = 40

    def __init__(self) -> None:
        super().__init__("fake-x", idempotent=False)

    def publish(self, content: Content, account: AccountRef,
                ctx: PublishContext) -> PublishResult:
        status, _, payload = self._request(
            account, "POST", f"/{account.handle}/posts",
            {"text": content.text, "link": content.link or ""}, {"X-Dedup": "1"},
            ctx.timeout_seconds)
        if status == 403:
            raise OutcomeUnknown("duplicates an existing post, probably the earlier attempt",
                                 status=403, duplicate=True)
        if status == 200:
            return PublishResult(payload["id"], payload["url"])
        if status == 503:
            raise Transient("HTTP 503 before anything was created", status=503)
        raise OutcomeUnknown(f"HTTP {status}: it may have posted", status=status)

    def find_existing(self, content: Content, account: AccountRef,
                      ctx: PublishContext) -> PublishResult | None:
        for page in range(self.MAX_PAGES if ctx.thorough else 1):
            status, _, payload = self._request(
                account, "GET",
                f"/{account.handle}/posts?limit={self.PAGE}&offset={page * self.PAGE}")
            if status != 200:
                raise OutcomeUnknown(f"lookup answered HTTP {status}", status=status)
            for post in payload:
                if post["text"] == content.text and post["link"] == (content.link or ""):
                    return PublishResult(post["id"], post["url"])
            if len(payload) < self.PAGE:
                break
        return None


NOIDEM = register(FakeAdapter("fake-noidem", idempotent=False))
FAKE_X = register(FakeX())
IDEM = register(FakeAdapter("fake-idem", idempotent=True))
