"""A tiny loopback HTTP server that answers with the platforms' documented examples.

The contract tests (tests/publishers/test_contracts*.py) run each adapter's whole path
(headers, body, status, parsing) against the request and response examples of the platform's
own documentation in ``tests/publishers/contracts/`` (each file names its source page), not
against our fake.
"""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

CONTRACTS = Path(__file__).resolve().parents[1] / "publishers" / "contracts"


def load(name: str) -> dict[str, Any]:
    """One documented example; every file must name the documentation it comes from."""
    data: dict[str, Any] = json.loads((CONTRACTS / name).read_text())
    assert data["source"].startswith("https://"), "every fixture names its documentation"
    return data


class Canned:
    """Answers each (method, path) with a canned ``(status, body[, headers])``; records every
    request as (method, path with query, lower-cased headers, raw body). Unknown routes get
    404. A body of None sends an empty body."""

    def __init__(self) -> None:
        self.answers: dict[tuple[str, str], tuple[Any, ...]] = {}
        self.seen: list[tuple[str, str, dict[str, str], bytes]] = []
        canned = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def _any(self) -> None:
                length = int(self.headers.get("content-length") or 0)
                raw = self.rfile.read(length) if length else b""
                canned.seen.append((self.command, self.path,
                                    {k.lower(): v for k, v in self.headers.items()}, raw))
                answer = canned.answers.get((self.command, urlsplit(self.path).path),
                                            (404, {"error": "not canned"}))
                status, body = answer[0], answer[1]
                headers: dict[str, str] = answer[2] if len(answer) > 2 else {}
                payload = b"" if body is None else json.dumps(body).encode()
                self.send_response(status)
                for key, value in headers.items():
                    self.send_header(key, value)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            do_GET = do_POST = do_PUT = do_DELETE = _any  # noqa: N815

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.base = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
