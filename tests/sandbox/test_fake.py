"""The fake itself: it is shared by dispatch fault tests, benchmarks and the demo."""

from __future__ import annotations

import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests

from publishers import get_publisher
from publishers.base import Content, PublishContext
from sandbox import FakePlatform, fake_account


class TestConcurrency:
    def test_parallel_posts_on_every_platform_are_all_recorded(self, fake: FakePlatform,
                                                               account) -> None:
        platforms = ["x", "mastodon", "bluesky", "linkedin", "facebook", "threads", "webhook"]

        def post(i: int) -> str:
            platform = platforms[i % len(platforms)]
            ctx = PublishContext(idempotency_key=f"k{i}", fingerprint=f"f{i}")
            return get_publisher(platform).publish(Content(text=f"post {i}"),
                                                   account(platform), ctx).remote_id

        with ThreadPoolExecutor(max_workers=16) as pool:
            ids = list(pool.map(post, range(70)))
        assert len(set(ids)) == 70
        assert len(fake.creates) == 70

    def test_same_mastodon_key_in_parallel_creates_once(self, fake: FakePlatform,
                                                        account) -> None:
        def post(_: int) -> str:
            ctx = PublishContext(idempotency_key="same", fingerprint="f")
            return get_publisher("mastodon").publish(Content(text="race"), account("mastodon"),
                                                     ctx).remote_id

        with ThreadPoolExecutor(max_workers=8) as pool:
            ids = set(pool.map(post, range(8)))
        assert len(ids) == 1 and len(fake.creates) == 1


class TestInjection:
    def test_injection_is_consumed_and_scoped(self, fake: FakePlatform) -> None:
        fake.inject("read", "401", platform="mastodon", times=2)
        url = f"{fake.base_url}/api/v1/accounts/verify_credentials"
        auth = {"Authorization": "Bearer fake-token"}
        statuses = [requests.get(url, headers=auth, timeout=5).status_code for _ in range(3)]
        assert statuses == [401, 401, 200]

    def test_unknown_kind_or_op(self, fake: FakePlatform) -> None:
        with pytest.raises(ValueError):
            fake.inject("create", "explode")
        with pytest.raises(ValueError):
            fake.inject("delete", "401")

    def test_connection_reset_gives_no_http_answer(self, fake: FakePlatform) -> None:
        fake.inject("any", "connection_reset")
        with pytest.raises(requests.ConnectionError):
            requests.get(f"{fake.base_url}/api/v2/instance", timeout=5)

    def test_latency(self, fake: FakePlatform) -> None:
        fake.latency_ms = 150
        started = time.monotonic()
        requests.get(f"{fake.base_url}/api/v2/instance", timeout=5)
        assert time.monotonic() - started >= 0.15

    def test_unknown_path_is_404(self, fake: FakePlatform) -> None:
        assert requests.get(f"{fake.base_url}/nope", timeout=5).status_code == 404

    def test_reset_forgets_posts(self, fake: FakePlatform, account) -> None:
        get_publisher("x").publish(Content(text="a"), account("x"),
                                   PublishContext(idempotency_key="k", fingerprint="f"))
        fake.reset()
        assert fake.creates == [] and fake.requests == []


class TestUnauthenticated:
    @pytest.mark.parametrize("method, path", [
        ("POST", "/api/v1/statuses"), ("POST", "/2/tweets"), ("POST", "/rest/posts"),
        ("POST", "/xrpc/com.atproto.repo.createRecord"), ("POST", "/v21.0/1/feed"),
        ("POST", "/v21.0/1/media"), ("POST", "/v1.0/1/threads"), ("POST", "/webhook/a")])
    def test_every_create_checks_auth(self, fake: FakePlatform, method: str, path: str) -> None:
        resp = requests.request(method, fake.base_url + path, json={}, timeout=5)
        assert resp.status_code in (400, 401)
        assert fake.creates == []


def test_module_entry_point_serves() -> None:
    proc = subprocess.Popen([sys.executable, "-m", "sandbox", "--port", "0"],
                            stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        base = line.split(" at ")[1].split()[0]
        account = fake_account("mastodon", base)
        assert get_publisher("mastodon").check_connection(account) == "Poise Demo"
    finally:
        proc.terminate()
        proc.wait(timeout=5)
