"""The guard of outgoing requests: real sockets on loopback, the allow-list cleared."""

from __future__ import annotations

import ipaddress
import socket
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import requests

from publishers import http, netguard
from publishers.base import AuthExpired
from publishers.transport import guarded_session


class _Recorder(BaseHTTPRequestHandler):
    hits: list[str] = []
    redirect_to = ""

    def do_GET(self) -> None:  # noqa: N802 - the stdlib's name
        type(self).hits.append(self.path)
        if self.path == "/start" and type(self).redirect_to:
            self.send_response(302)
            self.send_header("Location", type(self).redirect_to)
            self.end_headers()
            return
        body = b'{"secret": "instance metadata"}'
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_POST = do_GET

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def server() -> Iterator[tuple[int, type[_Recorder]]]:
    handler = type("Handler", (_Recorder,), {"hits": [], "redirect_to": ""})
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield httpd.server_address[1], handler
    httpd.shutdown()
    httpd.server_close()


@pytest.fixture
def nothing_private_allowed() -> Iterator[None]:
    with netguard.allowing([]):
        yield


@pytest.mark.parametrize("address", [
    "127.0.0.1", "127.8.9.10", "10.1.2.3", "172.16.0.1", "192.168.1.1", "169.254.169.254",
    "0.0.0.0", "100.64.0.1", "224.0.0.1", "255.255.255.255", "::1", "::", "fe80::1",
    "fd00::1", "fc00::5", "ff02::1", "::ffff:127.0.0.1", "::ffff:169.254.169.254",
    "2002:7f00:1::", "64:ff9b::a00:1",
])
def test_private_and_special_addresses_are_refused(address: str) -> None:
    assert netguard.forbidden_reason(ipaddress.ip_address(address)) is not None


@pytest.mark.parametrize("address", ["93.184.216.34", "2606:4700:4700::1111", "1.1.1.1"])
def test_public_addresses_pass(address: str) -> None:
    assert netguard.forbidden_reason(ipaddress.ip_address(address)) is None


@pytest.mark.usefixtures("nothing_private_allowed")
class TestTransport:
    @pytest.mark.parametrize("host", [
        "127.0.0.1", "localhost", "2130706433", "0x7f000001", "127.1", "[::ffff:127.0.0.1]",
    ])
    def test_loopback_in_any_spelling_is_never_contacted(self, server, host: str) -> None:
        port, handler = server
        with pytest.raises(netguard.RefusedAddress):
            guarded_session().get(f"http://{host}:{port}/latest/meta-data/", timeout=2)
        assert handler.hits == []

    def test_ipv6_loopback_is_refused(self) -> None:
        with pytest.raises(netguard.RefusedAddress):
            guarded_session().get("http://[::1]:9/", timeout=2)

    def test_a_redirect_to_a_private_address_is_refused_at_that_hop(self, server) -> None:
        port, handler = server
        handler.redirect_to = f"http://127.0.0.1:{port}/latest/meta-data/"
        # The first hop's name is allowed, the next hop's address is not.
        with netguard.allowing(["localhost"]), pytest.raises(netguard.RefusedAddress):
            guarded_session().get(f"http://localhost:{port}/start", timeout=2)
        assert handler.hits == ["/start"]

    def test_redirects_are_bounded(self, server) -> None:
        port, handler = server
        handler.redirect_to = "/start"
        with netguard.allowing(["127.0.0.1"]), pytest.raises(requests.TooManyRedirects):
            guarded_session().get(f"http://127.0.0.1:{port}/start", timeout=2)
        assert len(handler.hits) == 6  # the first request and five redirects

    def test_an_allowed_private_host_is_reached(self, server) -> None:
        port, handler = server
        with netguard.allowing(["127.0.0.1"]):
            resp = guarded_session().get(f"http://127.0.0.1:{port}/ok", timeout=2)
        assert resp.status_code == 200 and handler.hits == ["/ok"]

    def test_the_shared_request_helper_says_why_and_echoes_nothing(self, server) -> None:
        port, handler = server
        with pytest.raises(AuthExpired) as caught:
            http.request("POST", f"http://2130706433:{port}/x", timeout=2, creates=True)
        assert "POISE_ALLOWED_PRIVATE_HOSTS" in caught.value.reason
        assert "instance metadata" not in str(caught.value) and handler.hits == []

    def test_the_connection_uses_the_checked_address(self, monkeypatch, server) -> None:
        """DNS rebinding: the name is resolved once, and the socket goes to that answer."""
        port, handler = server
        answers = iter([[(socket.AF_INET, socket.SOCK_STREAM, 6, "", ("93.184.216.34", port))],
                        [(socket.AF_INET, socket.SOCK_STREAM, 6, "", ("127.0.0.1", port))]])
        monkeypatch.setattr(socket, "getaddrinfo", lambda *a, **k: next(answers))
        connected: list[tuple[str, int]] = []

        def fake_connect(address, *args, **kwargs):
            connected.append(address)
            raise OSError("not leaving the machine in a test")

        monkeypatch.setattr(socket, "create_connection", fake_connect)
        with pytest.raises(requests.ConnectionError):
            guarded_session().get(f"http://rebinding.example:{port}/", timeout=2)
        assert connected == [("93.184.216.34", port)] and handler.hits == []


class TestSafeLink:
    @pytest.mark.parametrize("url", [
        "javascript:alert(document.domain)//", "JaVaScRiPt:alert(1)", " javascript:alert(1)",
        "data:text/html,<script>alert(1)</script>", "vbscript:msgbox", "http://example.com/p",
        "https://user:pw@example.com/", "//evil.example/x", "https:///nohost",
        "java\tscript:alert(1)", "https://exa mple.com/", "", None, 42,
    ])
    def test_refused(self, url: object) -> None:
        assert netguard.safe_link(url) == ""

    @pytest.mark.parametrize("url", [
        "https://mastodon.social/@brand/1", "http://127.0.0.1:8009/@brand/1",
        "http://localhost:8009/p/1", "https://www.instagram.com/p/abc/",
    ])
    def test_kept(self, url: str) -> None:
        assert netguard.safe_link(url) == url
