"""Two ASGI guards around the whole app: request body limits and security headers.

Body limits are checked before the app reads anything: a declared ``Content-Length`` over the
limit is answered 413 at once, and the bytes actually received are counted as they stream in
(a chunked body, or one that lies about its length, is cut off at the limit). The limit
depends on what the address takes:

| what | limit |
|---|---|
| ``/hooks/...`` (shop and Meta webhooks, unauthenticated) | 1 MiB |
| CSV imports (``.../import``) | 5 MiB |
| multipart forms (the composer with an image) | ``POISE_MEDIA_MAX_BYTES`` + 1 MiB for the fields |
| everything else (JSON, forms) | 1 MiB |

Security headers go on every response, ``/static`` and ``/media`` included.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from fastapi.exceptions import HTTPException

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

MIB = 1024 * 1024
HOOK_LIMIT = 1 * MIB
JSON_LIMIT = 1 * MIB
CSV_LIMIT = 5 * MIB
FORM_FIELDS_ALLOWANCE = 1 * MIB

# No inline script and no javascript: URLs (script-src without 'unsafe-inline'); styles may
# be inline (htmx adds its indicator style, templates use a few style attributes). Images may
# come from https (a public base URL on another host serves /media).
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data: blob: https:; connect-src 'self'; object-src 'none'; "
    "base-uri 'self'; frame-ancestors 'none'")
# The API reference page (FastAPI's Swagger UI) is the one page with an inline script and a
# CDN; it shows no user content.
API_DOCS_POLICY = (
    "default-src 'self'; script-src 'self' 'unsafe-inline' https://cdn.jsdelivr.net; "
    "style-src 'self' 'unsafe-inline' https://cdn.jsdelivr.net; "
    "img-src 'self' data: https://fastapi.tiangolo.com; object-src 'none'; "
    "frame-ancestors 'none'")


class BodyTooLarge(HTTPException):
    """Raised from ``receive`` when a streamed body passes its limit (an HTTPException, so
    FastAPI's body parsing passes it on instead of calling it a parse error)."""

    def __init__(self, limit: int) -> None:
        super().__init__(413, too_large_detail(limit))


def too_large_detail(limit: int) -> str:
    return (f"The request is larger than this address accepts ({_size(limit)}). Send less: "
            "split a CSV into several files, or use a smaller image.")


def _size(count: int) -> str:
    return f"{count / MIB:g} MiB" if count >= MIB else f"{count // 1024} KiB"


def body_limit(path: str, content_type: str, media_max_bytes: int) -> int:
    if path.startswith("/hooks/"):
        return HOOK_LIMIT
    if path.rstrip("/").endswith("/import"):
        return CSV_LIMIT + FORM_FIELDS_ALLOWANCE
    if content_type.startswith("multipart/form-data"):
        return media_max_bytes + FORM_FIELDS_ALLOWANCE
    return JSON_LIMIT


class BodyLimit:
    def __init__(self, app: ASGIApp, *, media_max_bytes: int) -> None:
        self.app = app
        self.media_max_bytes = media_max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = {k.decode("latin-1").lower(): v.decode("latin-1")
                   for k, v in scope.get("headers", [])}
        limit = body_limit(scope.get("path", ""), headers.get("content-type", ""),
                           self.media_max_bytes)
        declared = headers.get("content-length", "")
        if declared.strip().isdigit() and int(declared) > limit:
            await _send_too_large(send, limit, headers)
            return
        received = 0
        started = False

        async def counted_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise BodyTooLarge(limit)
            return message

        async def watched_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, counted_receive, watched_send)
        except BodyTooLarge:
            if started:
                raise
            await _send_too_large(send, limit, headers)


async def _send_too_large(send: Send, limit: int, headers: dict[str, str]) -> None:
    detail = too_large_detail(limit)
    accept = headers.get("accept", "")
    if "text/html" in accept:
        page = ("<!doctype html><title>Request too large · Poise</title>"
                f"<h1>Request too large</h1><p>{detail}</p><p>Go back and try again.</p>")
        payload, media_type = page.encode(), "text/html; charset=utf-8"
    else:
        payload = json.dumps({"type": "about:blank", "title": "Request too large",
                              "status": 413, "detail": detail}).encode()
        media_type = "application/problem+json"
    await send({"type": "http.response.start", "status": 413, "headers": [
        (b"content-type", media_type.encode()), (b"content-length", str(len(payload)).encode()),
        (b"connection", b"close")]})
    await send({"type": "http.response.body", "body": payload})


class SecurityHeaders:
    def __init__(self, app: ASGIApp, *, hsts: bool) -> None:
        self.app = app
        self.hsts = hsts

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        policy = API_DOCS_POLICY if scope.get("path") == "/api/docs" else \
            CONTENT_SECURITY_POLICY

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                present = {k.lower() for k, _ in message.get("headers", [])}
                extra = [(b"content-security-policy", policy.encode()),
                         (b"x-content-type-options", b"nosniff"),
                         (b"x-frame-options", b"DENY"),
                         (b"referrer-policy", b"same-origin")]
                if self.hsts:
                    extra.append((b"strict-transport-security", b"max-age=31536000"))
                message["headers"] = list(message.get("headers", [])) + [
                    (k, v) for k, v in extra if k not in present]
            await send(message)

        await self.app(scope, receive, with_headers)
