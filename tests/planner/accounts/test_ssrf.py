"""Server-side requests to people's addresses: refused for private hosts, before any byte."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from sqlmodel import select
from webhelpers import page_csrf

from planner.db import session_scope
from planner.models import Account
from planner.settings import get_settings
from publishers import netguard
from sandbox import FakePlatform


class _Metadata(BaseHTTPRequestHandler):
    """Stands in for a cloud metadata service on loopback: it must never be asked."""

    hits: list[str] = []

    def do_GET(self) -> None:  # noqa: N802 - the stdlib's name
        type(self).hits.append(self.path)
        body = b'{"id": "1", "username": "leak", "AccessKeyId": "SECRET-METADATA"}'
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_POST = do_GET

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def metadata() -> Iterator[tuple[int, type[_Metadata]]]:
    handler = type("Handler", (_Metadata,), {"hits": []})
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    yield httpd.server_address[1], handler
    httpd.shutdown()
    httpd.server_close()


@pytest.fixture(scope="module")
def fake() -> Iterator[FakePlatform]:
    platform = FakePlatform()
    platform.start()
    yield platform
    platform.stop()


@pytest.fixture
def production_guard(monkeypatch) -> Iterator[None]:
    """No private host allowed, as in production without POISE_ALLOWED_PRIVATE_HOSTS."""
    monkeypatch.setenv("POISE_ALLOWED_PRIVATE_HOSTS", "")
    get_settings.cache_clear()
    with netguard.allowing([]):
        yield


@pytest.mark.usefixtures("production_guard")
class TestConnect:
    @pytest.mark.parametrize("host", ["127.0.0.1", "2130706433", "localhost",
                                      "[::ffff:127.0.0.1]"])
    def test_a_private_api_base_is_refused_without_calling_it(self, world, make_client,
                                                              metadata, host):
        port, handler = metadata
        c = make_client("manager@acme.test")
        token = page_csrf(c, f"/w/{world.slug}/accounts")
        r = c.post(f"/w/{world.slug}/accounts", data={
            "csrf_token": token, "platform": "mastodon", "handle": "@x",
            "api_base": f"http://{host}:{port}/latest/meta-data", "cred_access_token": "t"})
        assert r.status_code == 422 and "POISE_ALLOWED_PRIVATE_HOSTS" in r.text
        assert "SECRET-METADATA" not in r.text and handler.hits == []
        with session_scope() as s:
            assert s.exec(select(Account).where(Account.handle == "@x")).first() is None

    def test_an_operator_can_allow_a_named_private_host(self, world, make_client, fake,
                                                       monkeypatch):
        monkeypatch.setenv("POISE_ALLOWED_PRIVATE_HOSTS", "127.0.0.1")
        get_settings.cache_clear()
        get_settings()
        c = make_client("manager@acme.test")
        token = page_csrf(c, f"/w/{world.slug}/accounts")
        r = c.post(f"/w/{world.slug}/accounts", data={
            "csrf_token": token, "platform": "mastodon", "handle": "",
            "api_base": fake.base_url, "cred_access_token": "fake-token"},
            follow_redirects=False)
        assert r.status_code == 303, r.text


@pytest.mark.usefixtures("production_guard")
class TestOAuthStart:
    def test_a_get_starts_nothing(self, world, make_client, metadata):
        port, handler = metadata
        c = make_client("manager@acme.test")
        r = c.get(f"/w/{world.slug}/accounts/oauth/mastodon?api_base=http://127.0.0.1:{port}")
        assert r.status_code == 405 and handler.hits == []

    def test_a_post_without_csrf_is_refused(self, world, make_client, metadata):
        port, handler = metadata
        c = make_client("manager@acme.test")
        r = c.post(f"/w/{world.slug}/accounts/oauth/mastodon",
                   data={"api_base": f"http://127.0.0.1:{port}"})
        assert r.status_code == 403 and handler.hits == []

    def test_a_private_instance_is_refused(self, world, make_client, metadata):
        port, handler = metadata
        c = make_client("manager@acme.test")
        token = page_csrf(c, f"/w/{world.slug}/accounts")
        r = c.post(f"/w/{world.slug}/accounts/oauth/mastodon",
                   data={"api_base": f"http://2130706433:{port}", "csrf_token": token},
                   follow_redirects=False)
        assert r.status_code == 422 and "POISE_ALLOWED_PRIVATE_HOSTS" in r.text
        assert handler.hits == []
