from __future__ import annotations

import socket
import threading
from datetime import UTC, datetime, timedelta

import pytest

from publishers import http
from publishers.base import OutcomeUnknown, Transient


def _server_that_accepts_then_closes() -> tuple[str, threading.Thread]:
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(1)

    def serve() -> None:
        conn, _ = listener.accept()
        conn.recv(65536)
        conn.close()
        listener.close()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    return f"http://127.0.0.1:{listener.getsockname()[1]}", thread


def _server_that_answers(reply: bytes) -> tuple[str, threading.Thread]:
    """A server that reads the request, sends ``reply`` (a broken answer) and hangs up."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(1)

    def serve() -> None:
        conn, _ = listener.accept()
        conn.recv(65536)
        conn.sendall(reply)
        conn.close()
        listener.close()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    return f"http://127.0.0.1:{listener.getsockname()[1]}", thread


# The platform answered, so it received the create: each of these is a post that may exist.
BROKEN_REPLIES = {
    "chunked body cut off": b"HTTP/1.1 201 Created\r\nTransfer-Encoding: chunked\r\n"
                            b"Content-Type: application/json\r\n\r\n20\r\n{\"id\": \"1",
    "body shorter than its length": b"HTTP/1.1 201 Created\r\nContent-Length: 200\r\n"
                                    b"Content-Type: application/json\r\n\r\n{\"id\": ",
    "undecodable gzip body": b"HTTP/1.1 201 Created\r\nContent-Encoding: gzip\r\n"
                             b"Content-Length: 12\r\n\r\nnot gzip at all",
}


class TestNetworkErrors:
    @pytest.mark.parametrize("reply", list(BROKEN_REPLIES.values()), ids=list(BROKEN_REPLIES))
    def test_reply_breaking_off_is_unknown_for_creates(self, reply: bytes) -> None:
        # Issue 11 item 9: these were Transient, so the dispatcher resent a post that existed.
        base, thread = _server_that_answers(reply)
        with pytest.raises(OutcomeUnknown):
            http.request("POST", base + "/x", timeout=2, creates=True, data=b"hi")
        thread.join(2)

    @pytest.mark.parametrize("reply", list(BROKEN_REPLIES.values()), ids=list(BROKEN_REPLIES))
    def test_reply_breaking_off_is_transient_for_reads(self, reply: bytes) -> None:
        base, thread = _server_that_answers(reply)
        with pytest.raises(Transient):
            http.request("GET", base + "/x", timeout=2)
        thread.join(2)

    def test_refused_is_transient_even_for_creates(self) -> None:
        with pytest.raises(Transient):
            http.request("POST", "http://127.0.0.1:9/x", timeout=1, creates=True)

    def test_dns_failure_is_transient(self) -> None:
        # Built by hand: a real lookup would leave the machine.
        from requests import exceptions as rex
        from urllib3 import exceptions as u3
        reason = u3.NameResolutionError("no-such-host.invalid", None,  # type: ignore[arg-type]
                                        OSError("Name or service not known"))
        exc = rex.ConnectionError(u3.MaxRetryError(None, "/x", reason))  # type: ignore[arg-type]
        error = http.network_error(exc, "http://no-such-host.invalid/x", creates=True,
                                   idempotent=False)
        assert isinstance(error, Transient)

    def test_dropped_after_sending_is_unknown_for_creates(self) -> None:
        base, thread = _server_that_accepts_then_closes()
        with pytest.raises(OutcomeUnknown):
            http.request("POST", base + "/x", timeout=2, creates=True, data=b"hi")
        thread.join(2)

    def test_dropped_after_sending_is_transient_with_idempotency(self) -> None:
        base, thread = _server_that_accepts_then_closes()
        with pytest.raises(Transient):
            http.request("POST", base + "/x", timeout=2, creates=True, idempotent=True)
        thread.join(2)


class TestResetParsing:
    def test_epoch(self) -> None:
        at = datetime.now(UTC) + timedelta(seconds=120)
        parsed = http.reset_at({"x-rate-limit-reset": str(int(at.timestamp()))},
                               epoch="x-rate-limit-reset")
        assert abs((parsed - at).total_seconds()) < 1.5

    def test_iso(self) -> None:
        parsed = http.reset_at({"X-RateLimit-Reset": "2099-01-01T00:00:00.000Z"},
                               iso="X-RateLimit-Reset")
        assert parsed == datetime(2099, 1, 1, tzinfo=UTC)

    def test_retry_after_seconds_and_default(self) -> None:
        now = datetime.now(UTC)
        assert 29 < (http.reset_at({"Retry-After": "30"}) - now).total_seconds() < 32
        assert 59 < (http.reset_at({}) - now).total_seconds() < 62

    def test_past_or_garbage_falls_back_to_default(self) -> None:
        now = datetime.now(UTC)
        for headers in ({"x-rate-limit-reset": "5"}, {"x-rate-limit-reset": "soon"}):
            parsed = http.reset_at(headers, epoch="x-rate-limit-reset")
            assert 59 < (parsed - now).total_seconds() < 62


def test_tokens_in_urls_are_scrubbed_from_error_details() -> None:
    with pytest.raises(Transient) as caught:
        http.request("GET", "http://127.0.0.1:9/v21.0/me?fields=id&access_token=SECRET123",
                     timeout=1)
    assert "SECRET123" not in caught.value.detail
    assert "access_token=***" in caught.value.detail
