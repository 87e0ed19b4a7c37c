"""API versions are dated (issue 11): warnings 60 days ahead, a hold after the sunset."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import select

from planner import accounts
from planner.accounts import apiversions
from planner.db import session_scope
from planner.models import Notification, Role
from planner.settings import Settings
from planner.team import users, workspaces
from publishers import versions


def settings(version: str) -> Settings:
    return Settings(linkedin_version=version)


SUNSET = date(2026, 10, 15)  # 202510, per LinkedIn's migrations table


class TestDates:
    def test_every_row_names_its_source(self) -> None:
        for row in apiversions.versions_in_use(settings("202510")):
            assert row.source.startswith("https://"), row.platform

    def test_held_only_from_the_sunset_on(self) -> None:
        old = settings("202510")
        assert apiversions.held_platforms(SUNSET - timedelta(days=1), old) == ()
        assert apiversions.held_platforms(SUNSET, old) == ("linkedin",)

    def test_warned_sixty_days_ahead(self) -> None:
        old = settings("202510")
        early = SUNSET - timedelta(days=versions.WARN_DAYS + 1)
        assert apiversions.warnings({"linkedin"}, early, old) == []
        [soon] = apiversions.warnings({"linkedin"}, SUNSET - timedelta(days=59), old)
        assert "close to its sunset" in soon and "POISE_LINKEDIN_VERSION" in soon
        [held] = apiversions.warnings({"linkedin"}, SUNSET, old)
        assert held.startswith("Publishing to linkedin is held")
        assert apiversions.warnings({"mastodon"}, SUNSET, old) == []

    def test_the_default_is_not_near_a_sunset_today(self) -> None:
        assert apiversions.warnings({"linkedin", "x", "mastodon", "bluesky"},
                                    settings=Settings()) == []

    def test_the_setting_refuses_garbage(self) -> None:
        with pytest.raises(ValueError, match="YYYYMM"):
            settings("2025-10")


class TestNotifications:
    def test_admins_are_told_once_per_stage(self, engine: Engine) -> None:
        with session_scope(engine) as s:
            ws = workspaces.create_workspace(session=s, name="Acme", timezone="Europe/Warsaw")
            admin = users.create_user(session=s, email="a@acme.test", password="pw-long-enough")
            users.add_member(session=s, workspace=ws, user=admin, role=Role.admin)
            accounts.create_account(session=s, workspace_id=ws.id, platform="linkedin",
                                    handle="acme", credentials={"access_token": "t"})
        old = settings("202510")
        with session_scope(engine) as s:
            assert apiversions.notify_sunsets(session=s, today=SUNSET - timedelta(days=30),
                                              settings=old) == 1
            assert apiversions.notify_sunsets(session=s, today=SUNSET - timedelta(days=29),
                                              settings=old) == 0
            assert apiversions.notify_sunsets(session=s, today=SUNSET, settings=old) == 1
            texts = [n.text for n in s.exec(select(Notification)).all()]
        assert len(texts) == 2 and "close to its sunset" in texts[0]
        assert "is held" in texts[1]


def test_the_accounts_page_warns(world, make_client, monkeypatch) -> None:
    from planner.settings import get_settings

    with session_scope() as s:
        accounts.create_account(session=s, workspace_id=world.workspace_id,
                                platform="linkedin", handle="acme",
                                credentials={"access_token": "t"})
    monkeypatch.setenv("POISE_LINKEDIN_VERSION", "202510")
    get_settings.cache_clear()
    page = make_client("viewer@acme.test").get(f"/w/{world.slug}/accounts")
    assert "data-version-warning" in page.text
    assert "Publishing to linkedin is held" in page.text
