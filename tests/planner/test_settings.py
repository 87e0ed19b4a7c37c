"""Settings: defaults, env vars, the persisted secret."""

import stat

import pytest
from pydantic import ValidationError

from planner.settings import Settings


def test_defaults_put_everything_under_var(tmp_path, monkeypatch):
    monkeypatch.setenv("POISE_VAR_DIR", str(tmp_path))
    s = Settings()
    assert s.effective_database_url == f"sqlite:///{tmp_path / 'poise.db'}"
    assert s.worker_enabled is True and s.tick_seconds == 2.0 and s.worker_threads == 32
    assert s.lateness_window_minutes == 60 and s.port == 8000


def test_secret_key_generated_once_and_private(tmp_path, monkeypatch):
    monkeypatch.setenv("POISE_VAR_DIR", str(tmp_path))
    first = Settings().effective_secret_key()
    assert len(first) >= 40 and Settings().effective_secret_key() == first
    mode = (tmp_path / "secret_key").stat().st_mode
    assert not mode & (stat.S_IRGRP | stat.S_IROTH)


def test_env_overrides(monkeypatch):
    monkeypatch.setenv("POISE_SECRET_KEY", "from-env")
    monkeypatch.setenv("POISE_DATABASE_URL", "postgresql+psycopg://u@h/db")
    monkeypatch.setenv("POISE_WORKER_ENABLED", "false")
    s = Settings()
    assert s.effective_secret_key() == "from-env"
    assert s.effective_database_url == "postgresql+psycopg://u@h/db"
    assert s.worker_enabled is False


def test_unknown_time_zone_is_refused(monkeypatch):
    monkeypatch.setenv("POISE_DEFAULT_TIMEZONE", "Mars/Olympus")
    with pytest.raises(ValidationError, match="unknown IANA time zone"):
        Settings()


def test_credentials_encrypted_at_rest(world, engine):
    from sqlmodel import select

    from planner.accounts.crypto import decrypt_credentials
    from planner.db import session_scope
    from planner.models import Account

    with session_scope(engine) as s:
        account = s.exec(select(Account).where(Account.id == world.account_id)).one()
        assert "secret-token-123" not in account.credentials_enc
        assert decrypt_credentials(account.credentials_enc) == {"access_token":
                                                                "secret-token-123"}


def test_secure_cookies_follow_an_https_public_url(monkeypatch):
    from planner.settings import Settings

    monkeypatch.setenv("POISE_PUBLIC_BASE_URL", "https://poise.example")
    assert Settings().cookies_secure is True
    monkeypatch.setenv("POISE_SECURE_COOKIES", "false")
    assert Settings().cookies_secure is False
    monkeypatch.delenv("POISE_SECURE_COOKIES")
    monkeypatch.setenv("POISE_PUBLIC_BASE_URL", "http://127.0.0.1:8000")
    assert Settings().cookies_secure is False


def test_public_base_url_follows_the_served_address(monkeypatch):
    """Issue 14: links in published posts must reach the port Poise really listens on."""
    monkeypatch.delenv("POISE_PUBLIC_BASE_URL", raising=False)
    assert Settings(_env_file=None, port=8100).public_base_url == "http://127.0.0.1:8100"
    assert Settings(_env_file=None, host="::1", port=8100).public_base_url == \
        "http://[::1]:8100"
    assert Settings(_env_file=None, port=8100,
                    public_base_url="https://poise.example").public_base_url == \
        "https://poise.example"
