"""The fake's machinery: a threaded loopback HTTP server, request parsing, failure injection.

The platform routes themselves live in ``routes.py``; this module knows nothing of any
platform except how each formats its errors.
"""

from __future__ import annotations

import json
import logging
import socket
import struct
import threading
import time
from abc import ABC, abstractmethod
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from email.parser import BytesParser
from email.policy import HTTP
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlsplit

log = logging.getLogger(__name__)

OPS = ("create", "container", "upload", "auth", "read", "any")
KINDS = (
    "5xx_before_create", "create_then_5xx", "create_then_timeout", "create_then_reset",
    "connection_reset", "429", "401", "403", "422", "duplicate", "expired_token",
)
_AFTER_CREATE = {"create_then_5xx", "create_then_timeout", "create_then_reset"}


@dataclass
class FakeRequest:
    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]  # lower-cased names
    body: Any
    raw: bytes
    base_url: str
    query_string: str = ""
    platform: str = ""
    op: str = ""


@dataclass
class FakeResponse:
    status: int
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)


class FakeError(Exception):
    """Raised by a route to answer with ``response`` (auth failures, validation errors)."""

    def __init__(self, response: FakeResponse) -> None:
        super().__init__(response.status)
        self.response = response


@dataclass(frozen=True)
class Create:
    """One post the fake created: what a test asserts the wire format on."""

    platform: str
    method: str
    path: str
    headers: dict[str, str]
    body: Any
    time: float
    remote_id: str


@dataclass
class Injection:
    op: str
    kind: str
    platform: str | None
    remaining: int


def parse_body(headers: dict[str, str], raw: bytes) -> Any:
    ctype = headers.get("content-type", "")
    if not raw:
        return {}
    if ctype.startswith("application/json"):
        try:
            return json.loads(raw)
        except ValueError:
            return {"_invalid_json": raw[:200].decode(errors="replace")}
    if ctype.startswith("application/x-www-form-urlencoded"):
        return dict(parse_qsl(raw.decode(), keep_blank_values=True))
    if ctype.startswith("multipart/form-data"):
        message = BytesParser(policy=HTTP).parsebytes(
            b"Content-Type: " + ctype.encode() + b"\r\n\r\n" + raw)
        fields: dict[str, Any] = {}
        for part in message.iter_parts():
            name = part.get_param("name", header="content-disposition")
            decoded = part.get_payload(decode=True)
            payload = decoded if isinstance(decoded, bytes) else b""
            if part.get_filename():
                fields[str(name)] = {"filename": part.get_filename(), "size": len(payload),
                                     "content_type": part.get_content_type()}
            else:
                fields[str(name)] = payload.decode(errors="replace")
        return fields
    return {"_bytes": len(raw), "_content_type": ctype}


def platform_error(platform: str, kind: str) -> FakeResponse:
    """An error answer shaped the way ``platform`` shapes it."""
    now = int(time.time())
    if platform in ("facebook", "instagram", "threads"):
        graph = {
            "401": (400, 190, "Error validating access token: Session has expired.", 463),
            "403": (403, 200, "(#200) The user hasn't authorized the application to perform "
                              "this action", 0),
            "429": (400, 4, "Application request limit reached", 0),
            "422": (400, 100, "Invalid parameter", 0),
            "duplicate": (400, 506, "Duplicate status message", 0),
            "5xx": (500, 1, "An unknown error has occurred.", 0),
        }[kind]
        error: dict[str, Any] = {"message": graph[2], "type": "OAuthException",
                                 "code": graph[1], "fbtrace_id": "fake"}
        if graph[3]:
            error["error_subcode"] = graph[3]
        if kind == "5xx":
            error["is_transient"] = True
        headers = {}
        if kind == "429":
            headers = {"X-App-Usage": json.dumps({"call_count": 100, "total_time": 20,
                                                  "total_cputime": 20})}
        return FakeResponse(graph[0], {"error": error}, headers)
    if platform == "x":
        if kind == "429":
            return FakeResponse(429, {"title": "Too Many Requests", "detail": "Too Many Requests",
                                      "type": "about:blank", "status": 429},
                                {"x-rate-limit-limit": "100", "x-rate-limit-remaining": "0",
                                 "x-rate-limit-reset": str(now + 900)})
        if kind == "401":
            return FakeResponse(401, {"title": "Unauthorized", "type": "about:blank",
                                      "status": 401, "detail": "Unauthorized"})
        if kind == "403":
            return FakeResponse(403, {"title": "Forbidden", "type": "about:blank",
                                      "status": 403,
                                      "detail": "You are not permitted to perform this action."})
        if kind == "duplicate":
            return FakeResponse(403, {"detail": "You are not allowed to create a Tweet with "
                                                "duplicate content.", "type": "about:blank",
                                      "title": "Forbidden", "status": 403})
        if kind == "422":
            return FakeResponse(400, {"errors": [{"message": "Invalid text"}],
                                      "title": "Invalid Request", "detail": "Invalid text",
                                      "type": "https://api.twitter.com/2/problems/invalid-request"})
        return FakeResponse(503, {"title": "Service Unavailable", "status": 503,
                                  "detail": "Service Unavailable", "type": "about:blank"})
    if platform == "mastodon":
        if kind == "429":
            reset = time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime(now + 300))
            return FakeResponse(429, {"error": "Too many requests"},
                                {"X-RateLimit-Limit": "300", "X-RateLimit-Remaining": "0",
                                 "X-RateLimit-Reset": reset})
        if kind == "401":
            return FakeResponse(401, {"error": "The access token is invalid"})
        if kind == "403":
            return FakeResponse(403, {"error": "This action is outside the authorized scopes"})
        if kind in ("422", "duplicate"):
            return FakeResponse(422, {"error": "Validation failed: Text can't be blank"})
        return FakeResponse(503, {"error": "Service Unavailable"})
    if platform == "bluesky":
        if kind == "429":
            return FakeResponse(429, {"error": "RateLimitExceeded",
                                      "message": "Rate Limit Exceeded"},
                                {"ratelimit-limit": "5000", "ratelimit-remaining": "0",
                                 "ratelimit-reset": str(now + 600),
                                 "ratelimit-policy": "5000;w=3600"})
        if kind == "401":
            return FakeResponse(401, {"error": "AuthenticationRequired",
                                      "message": "Invalid identifier or password"})
        if kind == "403":
            return FakeResponse(403, {"error": "Forbidden",
                                      "message": "This account has been suspended"})
        if kind == "expired_token":
            return FakeResponse(400, {"error": "ExpiredToken", "message": "Token has expired"})
        if kind in ("422", "duplicate"):
            return FakeResponse(400, {"error": "InvalidRequest",
                                      "message": "Invalid app.bsky.feed.post record"})
        return FakeResponse(502, {"error": "UpstreamFailure", "message": "Upstream Failure"})
    if platform == "linkedin":
        if kind == "429":
            return FakeResponse(429, {"status": 429, "message": "Resource level throttle "
                                                               "APPLICATION DAY limit reached"})
        if kind == "401":
            return FakeResponse(401, {"status": 401, "serviceErrorCode": 65601,
                                      "code": "REVOKED_ACCESS_TOKEN",
                                      "message": "The token used in the request has been "
                                                 "revoked by the user"})
        if kind == "403":
            return FakeResponse(403, {"status": 403, "serviceErrorCode": 100,
                                      "code": "ACCESS_DENIED",
                                      "message": "Not enough permissions to access: "
                                                 "partnerApiPostsExternal.CREATE.20251001"})
        if kind == "duplicate":
            return FakeResponse(422, {"status": 422, "code": "DUPLICATE_POST",
                                      "message": "Content is a duplicate of "
                                                 "urn:li:share:7000000000000000001"})
        if kind == "422":
            return FakeResponse(422, {"status": 422, "code": "UNPROCESSABLE_ENTITY",
                                      "message": "commentary is too long"})
        return FakeResponse(500, {"status": 500, "message": "Internal Server Error"})
    # webhook and anything else
    if kind == "429":
        return FakeResponse(429, {"error": "slow down"}, {"Retry-After": "30"})
    if kind == "401":
        return FakeResponse(401, {"error": "bad signature"})
    if kind == "403":
        return FakeResponse(403, {"error": "forbidden"})
    if kind in ("422", "duplicate"):
        return FakeResponse(422, {"error": "unprocessable"})
    return FakeResponse(503, {"error": "unavailable"})


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128


class _Handler(BaseHTTPRequestHandler):
    server_version = "PoiseFake/1.0"
    protocol_version = "HTTP/1.0"  # one request per connection: no stale keep-alive sockets

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
        log.debug("fake: " + format, *args)

    def _handle(self) -> None:
        fake = self.server.fake  # type: ignore[attr-defined]
        fake.handle(self)

    do_GET = do_POST = do_PUT = do_DELETE = _handle  # noqa: N815


class FakeCore(ABC):
    """Server lifecycle, request log, injections; routes are added by the subclass."""

    def __init__(self, host: str = "127.0.0.1", port: int = 0, *, latency_ms: float = 0,
                 hang_seconds: float = 5.0) -> None:
        self.host = host
        self.port = port
        self.latency_ms = latency_ms
        self.hang_seconds = hang_seconds
        self.lock = threading.RLock()
        self._creates: list[Create] = []
        self._requests: deque[tuple[str, str, str, str, float]] = deque(maxlen=20000)
        self._injections: list[Injection] = []
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        self.base_url = ""
        # Called with each request before it is answered (tests: "what else can happen
        # while the platform is being asked"); an exception in it is the test's, not ours.
        self.on_request: Callable[[FakeRequest], None] | None = None

    # --- lifecycle ------------------------------------------------------------------------

    def start(self) -> str:
        if self._server is not None:
            return self.base_url
        self._server = _Server((self.host, self.port), _Handler)
        self._server.fake = self  # type: ignore[attr-defined]
        self.port = self._server.server_address[1]
        self.base_url = f"http://{self.host}:{self.port}"
        self._thread = threading.Thread(target=self._server.serve_forever,
                                        name="fake-platform", daemon=True)
        self._thread.start()
        return self.base_url

    def stop(self) -> None:
        if self._server is None:
            return
        self._server.shutdown()
        self._server.server_close()
        self._server = None
        self._thread = None

    def __enter__(self) -> FakeCore:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # --- observation and control ----------------------------------------------------------

    @property
    def creates(self) -> list[Create]:
        with self.lock:
            return list(self._creates)

    @property
    def requests(self) -> list[tuple[str, str, str, str, float]]:
        """(method, path, platform, op, time) of every request, oldest first."""
        with self.lock:
            return list(self._requests)

    def inject(self, op: str, kind: str, *, platform: str | None = None, times: int = 1) -> None:
        """Fail the next ``times`` requests of ``op`` (optionally on one platform) as ``kind``."""
        if op not in OPS:
            raise ValueError(f"op must be one of {OPS}")
        if kind not in KINDS:
            raise ValueError(f"kind must be one of {KINDS}")
        with self.lock:
            self._injections.append(Injection(op, kind, platform, times))

    def clear_injections(self) -> None:
        with self.lock:
            self._injections.clear()

    def record_create(self, req: FakeRequest, remote_id: str) -> None:
        with self.lock:
            self._creates.append(Create(platform=req.platform, method=req.method,
                                        path=req.path, headers=dict(req.headers), body=req.body,
                                        time=time.time(), remote_id=remote_id))

    def reset_core(self) -> None:
        with self.lock:
            self._creates.clear()
            self._requests.clear()
            self._injections.clear()
        self.on_request = None

    def _take_injection(self, platform: str, op: str) -> str | None:
        with self.lock:
            for injection in self._injections:
                if injection.remaining <= 0:
                    continue
                if injection.op not in (op, "any"):
                    continue
                if injection.platform not in (None, platform):
                    continue
                injection.remaining -= 1
                return injection.kind
            self._injections = [i for i in self._injections if i.remaining > 0]
        return None

    # --- request handling -----------------------------------------------------------------

    @abstractmethod
    def route(self, req: FakeRequest) -> tuple[str, str, Any]:
        """(platform, op, handler or None) for a request; handler(req) -> FakeResponse."""

    def handle(self, handler: BaseHTTPRequestHandler) -> None:
        parts = urlsplit(handler.path)
        headers = {key.lower(): value for key, value in handler.headers.items()}
        length = int(headers.get("content-length") or 0)
        raw = handler.rfile.read(length) if length else b""
        req = FakeRequest(method=handler.command, path=parts.path,
                          query=dict(parse_qsl(parts.query, keep_blank_values=True)),
                          headers=headers, body=parse_body(headers, raw), raw=raw,
                          base_url=self.base_url, query_string=parts.query)
        platform, op, route = self.route(req)
        req.platform, req.op = platform, op
        with self.lock:
            self._requests.append((req.method, req.path, platform, op, time.time()))
        if self.on_request is not None:
            self.on_request(req)
        if self.latency_ms:
            time.sleep(self.latency_ms / 1000)
        kind = self._take_injection(platform, op) if route is not None else None
        if kind in ("connection_reset",):
            _reset_connection(handler)
            return
        if kind is not None and kind not in _AFTER_CREATE:
            error_kind = "5xx" if kind == "5xx_before_create" else kind
            self._send(handler, platform_error(platform, error_kind))
            return
        if route is None:
            self._send(handler, FakeResponse(404, {"error": f"no route {req.method} {req.path}"}))
            return
        try:
            response = route(req)
        except FakeError as exc:
            response = exc.response
        if kind == "create_then_5xx":
            response = platform_error(platform, "5xx")
        elif kind == "create_then_reset":
            _reset_connection(handler)
            return
        elif kind == "create_then_timeout":
            time.sleep(self.hang_seconds)
            _reset_connection(handler)
            return
        self._send(handler, response)

    def _send(self, handler: BaseHTTPRequestHandler, response: FakeResponse) -> None:
        raw = isinstance(response.body, bytes)  # a page (its Content-Type in the headers)
        payload = response.body if isinstance(response.body, bytes) else (
            b"" if response.body is None else json.dumps(response.body).encode())
        try:
            handler.send_response(response.status)
            for name, value in response.headers.items():
                handler.send_header(name, value)
            if response.body is not None and not raw:
                handler.send_header("Content-Type", "application/json; charset=utf-8")
            handler.send_header("Content-Length", str(len(payload)))
            handler.end_headers()
            handler.wfile.write(payload)
        except (BrokenPipeError, ConnectionResetError):
            log.debug("fake: client went away before the answer")


def _reset_connection(handler: BaseHTTPRequestHandler) -> None:
    """Close the socket with a TCP reset, so the client sees no HTTP answer at all."""
    handler.close_connection = True
    try:
        handler.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                                      struct.pack("ii", 1, 0))
        handler.connection.close()
    except OSError:
        pass
