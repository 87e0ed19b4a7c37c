"""All configuration in one place: env vars prefixed POISE_, a .env file, or defaults."""

from __future__ import annotations

import os
import secrets
import time
from collections.abc import Callable
from functools import lru_cache
from pathlib import Path
from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

PROJECT_ROOT = Path(__file__).resolve().parent.parent


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="POISE_", env_file=".env", extra="ignore")

    var_dir: Path = Field(PROJECT_ROOT / "var", description="Where the SQLite file, the "
                          "generated secret key and uploaded media live.")
    database_url: str = Field("", description="SQLAlchemy URL; empty means sqlite:///<var_dir>/"
                              "poise.db. PostgreSQL: postgresql+psycopg://user@host:5432/db")
    secret_key: str = Field("", description="Signs sessions and CSRF tokens; empty means a key "
                            "generated once and kept in <var_dir>/secret_key.")
    credentials_key: str = Field("", description="Fernet key encrypting account credentials at "
                                 "rest; empty means one generated once in <var_dir>/fernet_key.")
    default_timezone: str = Field("Europe/Warsaw", description="Time zone of new workspaces.")
    worker_enabled: bool = Field(True, description="Run the publishing worker inside `serve`.")
    tick_seconds: float = Field(2.0, description="How often the worker looks for due posts.")
    worker_threads: int = Field(32, description="Concurrent sends per worker process.")
    lease_seconds: int = Field(120, description="How long a claimed publication stays "
                               "reserved for the worker that claimed it.")
    lateness_window_minutes: int = Field(60, description="Publications later than this after "
                                         "downtime become 'missed' instead of going out.")
    host: str = Field("127.0.0.1", description="Address `serve` listens on.")
    port: int = Field(8000, description="Port `serve` listens on.")
    media_max_bytes: int = Field(8 * 1024 * 1024, description="Largest image upload accepted.")
    session_max_age_hours: int = Field(12, description="Idle time after which a login expires.")
    secure_cookies: bool = Field(False, description="Mark cookies Secure (set behind HTTPS).")
    credentials_old_keys: str = Field("", description="Comma-separated previous Fernet keys, "
                                      "still accepted for reading while `rotate-key` runs.")
    x_client_id: str = Field("", description="X OAuth 2.0 client id (for 'Connect with X').")
    x_client_secret: str = Field("", description="X OAuth 2.0 client secret (confidential "
                                 "clients only).")
    linkedin_client_id: str = Field("", description="LinkedIn OAuth client id.")
    linkedin_client_secret: str = Field("", description="LinkedIn OAuth client secret.")
    meta_app_id: str = Field("", description="Meta app id, for 'Connect with Meta' "
                             "(Facebook Pages, Instagram, Threads).")
    meta_app_secret: str = Field("", description="Meta app secret.")
    threads_app_id: str = Field("", description="Threads app id, when the Meta app's Threads "
                                "use case has its own; empty means the Meta app id.")
    threads_app_secret: str = Field("", description="Threads app secret (with "
                                    "POISE_THREADS_APP_ID).")
    suggester: Literal["auto", "lexicon"] = Field("auto", description="Value-tag suggester: "
                                                  "'auto' uses the embedding model when the ml "
                                                  "extra is installed, else the lexicon.")
    demo_platform_port: int = Field(8009, description="Loopback port of the fake social "
                                    "platforms that `serve --demo` starts for demo accounts.")
    public_base_url: str = Field("http://127.0.0.1:8000", description="Base URL used in "
                                 "tracked links and feed URLs.")
    dm_poll_seconds: float = Field(60.0, description="How often the worker fetches new X "
                                   "direct messages for the Inbox (0 turns polling off).")
    # Insight (issue 15).
    metrics_schedule: str = Field("1h,6h,24h,3d,7d,28d", description="When the worker reads "
                                  "a published post's metrics, after publishing (h = hours, "
                                  "d = days).")
    metrics_poll_seconds: float = Field(300.0, description="How often the worker looks for "
                                        "metric readings that are due (0 turns it off).")
    metrics_batch: int = Field(200, description="Most metric readings one worker round takes.")

    @field_validator("default_timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown IANA time zone {value!r}") from exc
        return value

    @property
    def effective_database_url(self) -> str:
        return self.database_url or f"sqlite:///{self.var_dir / 'poise.db'}"

    @property
    def media_dir(self) -> Path:
        return self.var_dir / "media"

    def effective_secret_key(self) -> str:
        return self.secret_key or _persisted_secret(self.var_dir / "secret_key",
                                                    lambda: secrets.token_urlsafe(48))

    def effective_credentials_key(self) -> str:
        if self.credentials_key:
            return self.credentials_key
        from cryptography.fernet import Fernet

        return _persisted_secret(self.var_dir / "fernet_key",
                                 lambda: Fernet.generate_key().decode())


def _persisted_secret(path: Path, make: Callable[[], str]) -> str:
    """Read a secret kept under var/, creating it (owner-only) on first use.

    O_EXCL makes the first of several starting processes win; the others read its value.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        for _ in range(50):
            value = path.read_text().strip()
            if value:
                return value
            time.sleep(0.02)
        raise RuntimeError(f"{path} exists but is empty; delete it to regenerate") from None
    value = make()
    with os.fdopen(fd, "w") as handle:
        handle.write(value)
    return value


@lru_cache
def get_settings() -> Settings:
    return Settings()
