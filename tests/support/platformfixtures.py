"""The loopback FakePlatform fixtures, shared by tests/publishers and tests/sandbox: one fake
for the session, reset before every test."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from publishers import bluesky, mastodon
from publishers.base import AccountRef, PublishContext
from sandbox import FakePlatform, fake_account

# A 1x1 JPEG is enough: adapters upload bytes, they never decode images.
JPEG = bytes.fromhex(
    "ffd8ffe000104a46494600010100000100010000ffdb004300080606070605080707070909080a0c140d0c0b"
    "0b0c1912130f141d1a1f1e1d1a1c1c20242e2720222c231c1c2837292c30313434341f27393d38323c2e333432"
    "ffc0000b080001000101011100ffc4001f0000010501010101010100000000000000000102030405060708090a0b"
    "ffda0008010100003f00d2cf20ffd9")


@pytest.fixture(scope="session")
def fake_server() -> Iterator[FakePlatform]:
    fake = FakePlatform(hang_seconds=1.0)
    fake.start()
    yield fake
    fake.stop()


@pytest.fixture
def fake(fake_server: FakePlatform) -> Iterator[FakePlatform]:
    fake_server.reset()
    fake_server.latency_ms = 0
    fake_server.container_polls = 0
    fake_server.mastodon_create_seconds = 0.0
    fake_server.instagram_publish_quota = 100
    fake_server.media_processing_polls = 0
    bluesky.forget_sessions()
    mastodon.forget_instance_limits()
    yield fake_server
    fake_server.clear_injections()


@pytest.fixture
def account(fake: FakePlatform) -> Callable[..., AccountRef]:
    def make(platform: str, **credentials: str) -> AccountRef:
        return fake_account(platform, fake.base_url, **credentials)
    return make


class Checkpoints:
    """Records every checkpointed state, as the dispatcher would persist it."""

    def __init__(self) -> None:
        self.saved: list[dict[str, str]] = []

    def __call__(self, state: dict[str, str]) -> None:
        self.saved.append(dict(state))


@pytest.fixture
def make_ctx() -> Callable[..., PublishContext]:
    def make(key: str = "pub-1", *, state: dict[str, str] | None = None,
             timeout: float = 5.0) -> PublishContext:
        return PublishContext(idempotency_key=key, fingerprint="fp-" + key,
                              state=dict(state or {}), checkpoint=Checkpoints(),
                              timeout_seconds=timeout)
    return make


@pytest.fixture
def jpeg(tmp_path: Path) -> Path:
    path = tmp_path / "photo.jpg"
    path.write_bytes(JPEG)
    return path
