"""docs/platforms.md stays honest: every platform and every credential field is described."""

from __future__ import annotations

from pathlib import Path

import pytest

from publishers import (
    BUILTIN_PLATFORMS,
    bluesky,
    facebook,
    instagram,
    linkedin,
    mastodon,
    threads,
    webhook,
    x,
)

DOC = (Path(__file__).resolve().parents[2] / "docs" / "platforms.md").read_text()
CREDENTIALS = [*x.OAUTH1_CREDENTIALS, *x.OAUTH2_CREDENTIALS, "refresh_token", "client_id",
               *mastodon.CREDENTIALS, *bluesky.CREDENTIALS, *linkedin.CREDENTIALS,
               *facebook.CREDENTIALS, *instagram.CREDENTIALS, *threads.CREDENTIALS,
               *webhook.CREDENTIALS, "graph_version", "scope", "whatsapp_number"]


@pytest.mark.parametrize("platform", BUILTIN_PLATFORMS)
def test_every_platform_is_documented(platform: str) -> None:
    assert f"`{platform}`" in DOC


@pytest.mark.parametrize("field", sorted(set(CREDENTIALS)))
def test_every_credential_field_is_documented(field: str) -> None:
    assert f"`{field}`" in DOC


@pytest.mark.parametrize("outcome", ["AccountHeld", "AuthExpired", "ContentRejected",
                                     "RateLimited", "Transient", "OutcomeUnknown"])
def test_every_outcome_is_documented(outcome: str) -> None:
    assert f"`{outcome}`" in DOC
