"""A loopback fake of a social platform's HTTP API that records every create (test only).

Failure injection per create request, consumed in order from a queue (per handle first, then
global): ``5xx_before`` (503, nothing created), ``create_then_5xx`` (created, then 500),
``create_then_timeout`` (created, then no answer for ``hang_seconds``), ``reset`` (connection
dropped before anything is created), ``429:<seconds>`` (rate limited until now + seconds; every
call before the reset is recorded in ``calls_during_limit``). ``lookup_broken`` makes the
recent-posts lookup answer 503.
"""

from __future__ import annotations

import json
import socket
import threading
import time
from collections import defaultdict, deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 1024  # the default backlog of 5 resets connections under load


@dataclass
class Created:
    id: int
    handle: str
    text: str
    link: str
    key: str
    at: float  # time.time() when the create arrived


@dataclass
class FakePlatform:
    latency: float = 0.0
    hang_seconds: float = 5.0
    lookup_broken: bool = False
    posts: list[Created] = field(default_factory=list)
    requests: list[tuple[float, str, str, int]] = field(default_factory=list)
    calls_during_limit: list[tuple[float, str]] = field(default_factory=list)
    faults: deque[str] = field(default_factory=deque)
    faults_by_handle: dict[str, deque[str]] = field(default_factory=lambda: defaultdict(deque))
    limited_until: dict[str, float] = field(default_factory=dict)
    # Posts the account makes by other means after each of ours (a timeline longer than one
    # page of lookups); they are not counted as creates.
    others_after_create: int = 0

    def __post_init__(self) -> None:
        self.lock = threading.Lock()
        self.by_key: dict[tuple[str, str], Created] = {}  # (handle, Idempotency-Key)
        self.others: list[Created] = []  # the account's other posts (not ours)
        platform = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:
                pass

            def do_POST(self) -> None:  # noqa: N802
                platform._create(self)

            def do_GET(self) -> None:  # noqa: N802
                platform._lookup(self)

        self.server = _Server(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def start(self) -> FakePlatform:
        self.thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    # -- inspection
    def creates(self, handle: str | None = None) -> list[Created]:
        with self.lock:
            return [p for p in self.posts if handle is None or p.handle == handle]

    def create_counts(self) -> dict[tuple[str, str], int]:
        counts: dict[tuple[str, str], int] = defaultdict(int)
        for post in self.creates():
            counts[(post.handle, post.text)] += 1
        return counts

    def inject(self, *kinds: str, handle: str | None = None) -> None:
        with self.lock:
            (self.faults_by_handle[handle] if handle else self.faults).extend(kinds)

    # -- the API
    def _next_fault(self, handle: str) -> str:
        with self.lock:
            queue = self.faults_by_handle.get(handle)
            if queue:
                return queue.popleft()
            return self.faults.popleft() if self.faults else ""

    def _create(self, req: BaseHTTPRequestHandler) -> None:
        path = urlsplit(req.path).path.strip("/").split("/")
        handle = path[0]
        body = json.loads(req.rfile.read(int(req.headers.get("Content-Length") or 0)) or b"{}")
        key = req.headers.get("Idempotency-Key", "")
        now = time.time()
        with self.lock:
            until = self.limited_until.get(handle, 0.0)
            if now < until:
                self.calls_during_limit.append((now, handle))
        if now < until:
            return self._answer(req, 429, {"error": "rate limited"}, {"X-Reset": f"{until:.3f}"})
        fault = self._next_fault(handle)
        if fault.startswith("429"):
            seconds = float(fault.split(":")[1]) if ":" in fault else 2.0
            with self.lock:
                self.limited_until[handle] = now + seconds
            self.requests.append((now, handle, fault, 429))
            return self._answer(req, 429, {"error": "rate limited"},
                                {"X-Reset": f"{now + seconds:.3f}"})
        if fault == "5xx_before":
            self.requests.append((now, handle, fault, 503))
            return self._answer(req, 503, {"error": "unavailable"})
        if fault == "reset":
            self.requests.append((now, handle, fault, 0))
            return self._drop(req)
        if req.headers.get("X-Dedup"):
            with self.lock:
                twin = any(p.handle == handle and p.text == body.get("text", "")
                           for p in self.posts)
            if twin:
                self.requests.append((now, handle, "duplicate", 403))
                return self._answer(req, 403, {"error": "duplicate content"})
        with self.lock:
            existing = self.by_key.get((handle, key)) if key else None
            if existing is None:
                existing = Created(len(self.posts) + 1, handle, body.get("text", ""),
                                   body.get("link") or "", key, now)
                self.posts.append(existing)
                if key:
                    self.by_key[(handle, key)] = existing
                for i in range(self.others_after_create):
                    self.others.append(Created(-(len(self.others) + 1), handle,
                                               f"something else {len(self.others)} {i}", "",
                                               "", now))
        self.requests.append((now, handle, fault or "create", 200))
        if fault == "create_then_timeout":
            time.sleep(self.hang_seconds)
            return self._drop(req)
        if self.latency:
            time.sleep(self.latency)
        if fault == "create_then_5xx":
            return self._answer(req, 500, {"error": "internal error"})
        self._answer(req, 200, self._public(existing))

    def _lookup(self, req: BaseHTTPRequestHandler) -> None:
        parts = urlsplit(req.path)
        path = parts.path.strip("/").split("/")
        handle = path[0]
        if self.lookup_broken:
            return self._answer(req, 503, {"error": "lookup unavailable"})
        if len(path) == 4 and path[2] == "by-key":
            with self.lock:
                found = self.by_key.get((handle, path[3]))
            if found is None:
                return self._answer(req, 404, {"error": "not found"})
            return self._answer(req, 200, self._public(found))
        query = parse_qs(parts.query)
        limit = int(query.get("limit", ["40"])[0])
        offset = int(query.get("offset", ["0"])[0])
        with self.lock:
            timeline = sorted((p for p in self.posts + self.others if p.handle == handle),
                              key=lambda p: (p.at, abs(p.id)), reverse=True)
        self._answer(req, 200, [self._public(p) for p in timeline[offset:offset + limit]])

    def _public(self, post: Created) -> dict[str, Any]:
        return {"id": str(post.id), "url": f"{self.url}/{post.handle}/posts/{post.id}",
                "text": post.text, "link": post.link}

    @staticmethod
    def _answer(req: BaseHTTPRequestHandler, status: int, payload: Any,
                headers: dict[str, str] | None = None) -> None:
        data = json.dumps(payload).encode()
        try:
            req.send_response(status)
            req.send_header("Content-Type", "application/json")
            req.send_header("Content-Length", str(len(data)))
            for name, value in (headers or {}).items():
                req.send_header(name, value)
            req.end_headers()
            req.wfile.write(data)
        except OSError:
            pass  # the client went away (killed worker): nothing to answer

    @staticmethod
    def _drop(req: BaseHTTPRequestHandler) -> None:
        req.close_connection = True
        try:
            req.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                                      b"\x01\x00\x00\x00\x00\x00\x00\x00")
            req.connection.close()
        except OSError:
            pass
