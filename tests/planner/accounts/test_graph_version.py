"""POISE_META_GRAPH_VERSION reaches the Facebook and Instagram adapters (issue 11)."""

import pytest
from pydantic import ValidationError

from planner.accounts.service import account_ref
from planner.models import Account
from planner.settings import Settings, get_settings


@pytest.fixture
def graph_version(monkeypatch):
    def set_to(value: str) -> None:
        monkeypatch.setenv("POISE_META_GRAPH_VERSION", value)
        get_settings.cache_clear()
    yield set_to
    get_settings.cache_clear()


def test_default_is_a_version_with_years_left() -> None:
    assert Settings().meta_graph_version == "v25.0"


def test_the_setting_reaches_meta_accounts_only(graph_version) -> None:
    graph_version("v26.0")
    for platform, expected in (("facebook", "v26.0"), ("instagram", "v26.0"),
                               ("threads", ""), ("mastodon", "")):
        account = Account(workspace_id=1, platform=platform, handle="h")
        assert account_ref(account, {}).api_version == expected


def test_a_garbled_version_is_refused(graph_version) -> None:
    graph_version("21")
    with pytest.raises(ValidationError, match="POISE_META_GRAPH_VERSION"):
        get_settings()


def test_the_graph_setting_is_in_the_sunset_table() -> None:
    """POISE_META_GRAPH_VERSION feeds the dated-versions table: v21.0 warns and then holds
    Facebook and Instagram; the default v25.0 lasts until 2028-07-29."""
    from datetime import date

    from planner.accounts import apiversions
    old = Settings(meta_graph_version="v21.0")

    def graph_held(day: date, settings: Settings) -> set[str]:
        return set(apiversions.held_platforms(day, settings)) & {"facebook", "instagram"}

    assert graph_held(date(2027, 1, 20), old) == set()
    assert graph_held(date(2027, 1, 21), old) == {"facebook", "instagram"}
    assert any("POISE_META_GRAPH_VERSION" in text for text in
               apiversions.warnings({"facebook"}, date(2026, 12, 1), old))
    assert graph_held(date(2028, 7, 28), Settings()) == set()
    assert graph_held(date(2028, 7, 29), Settings()) == {"facebook", "instagram"}
