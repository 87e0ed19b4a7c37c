"""All configuration in one place: env vars prefixed POISE_, a .env file, or defaults."""

from __future__ import annotations

import os
import secrets
import socket
import time
from collections.abc import Callable
from functools import lru_cache
from pathlib import Path
from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from publishers import netguard
from publishers.meta import GRAPH_DEFAULT, valid_graph_version
from publishers.versions import LINKEDIN_DEFAULT, valid_linkedin_version

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
    publish_give_up_hours: int = Field(24, ge=1, description="A publication already tried but "
                                       "still waiting (retry_wait: after errors, or held for a "
                                       "reconnect) this long after its time becomes 'missed' "
                                       "instead of going out days late.")
    worker_db_connections: int = Field(6, ge=2, description="PostgreSQL connections per worker "
                                       "process, whatever its number of send threads (no "
                                       "connection is held while a send waits on a platform); "
                                       "one more holds the worker's liveness lock.")
    publish_max_sends: int = Field(8, ge=1, description="Sends per publication before it is "
                                   "given up ('failed', or 'needs_review' if an earlier send's "
                                   "outcome was unknown).")
    publish_max_lookups: int = Field(12, ge=1, description="Reconciliation lookups per "
                                     "publication (rate-limited ones included) before a person "
                                     "decides ('needs_review').")
    publish_rate_limit_max_wait_minutes: float = Field(
        60, gt=0, description="How long one publication may wait on a platform's rate limits "
        "(429), counted from the first one it got: a reset within it is waited for, one past "
        "it sends the publication to 'needs_review' at once.")
    host: str = Field("127.0.0.1", description="Address `serve` listens on.")
    port: int = Field(8000, description="Port `serve` listens on.")
    media_max_bytes: int = Field(8 * 1024 * 1024, description="Largest image upload accepted.")
    session_max_age_hours: int = Field(12, description="Idle time after which a login expires.")
    session_absolute_hours: int = Field(72, description="Time after logging in when a login "
                                        "ends however active it was.")
    secure_cookies: bool | None = Field(None, description="Mark cookies Secure; empty means "
                                        "on when the public base URL is https.")
    credentials_old_keys: str = Field("", description="Comma-separated previous Fernet keys, "
                                      "still accepted for reading while `rotate-key` runs.")
    x_client_id: str = Field("", description="X OAuth 2.0 client id (for 'Connect with X').")
    x_client_secret: str = Field("", description="X OAuth 2.0 client secret (confidential "
                                 "clients only).")
    linkedin_client_id: str = Field("", description="LinkedIn OAuth client id.")
    linkedin_client_secret: str = Field("", description="LinkedIn OAuth client secret.")
    linkedin_version: str = Field(LINKEDIN_DEFAULT, description="LinkedIn-Version header "
                                  "(YYYYMM) sent on every LinkedIn call; LinkedIn retires "
                                  "each version about a year after its release.")
    meta_app_id: str = Field("", description="Meta app id, for 'Connect with Meta' "
                             "(Facebook Pages, Instagram, Threads).")
    meta_app_secret: str = Field("", description="Meta app secret.")
    meta_graph_version: str = Field(GRAPH_DEFAULT, description="Graph API version (vNN.0) "
                                    "for Facebook Pages and Instagram; Meta retires each "
                                    "version about two years after its release.")
    threads_app_id: str = Field("", description="Threads app id, when the Meta app's Threads "
                                "use case has its own; empty means the Meta app id.")
    threads_app_secret: str = Field("", description="Threads app secret (with "
                                    "POISE_THREADS_APP_ID).")
    suggester: Literal["auto", "lexicon"] = Field("auto", description="Value-tag suggester: "
                                                  "'auto' uses the combined suggester (the "
                                                  "bundled embedding model run with numpy, "
                                                  "naive Bayes, the lexicon), or naive Bayes "
                                                  "alone if the weights are not installed; "
                                                  "'lexicon' forces the word list.")
    demo_platform_port: int = Field(8009, description="Loopback port of the fake social "
                                    "platforms that `serve --demo` starts for demo accounts.")
    public_base_url: str = Field("", description="Base URL used in tracked links, feed URLs "
                                 "and image URLs; empty: the address `serve` listens on.")
    allowed_private_hosts: str = Field("", description="Comma-separated host names (or IPs) "
                                       "on private networks that accounts, webhooks and OAuth "
                                       "may reach, e.g. a company Mastodon; every other "
                                       "loopback/private/link-local address is refused. "
                                       "`serve --demo` adds 127.0.0.1 for its sandbox.")
    metrics_token: str = Field("", description="Bearer token a Prometheus scraper sends to "
                               "/metrics; empty turns /metrics off.")
    smtp_url: str = Field("", description="SMTP server for notification e-mails, e.g. "
                          "smtp://user:pass@mail.example.com:587 (STARTTLS) or smtps://... "
                          "(TLS); empty turns e-mail off.")
    smtp_from: str = Field("poise@localhost", description="Sender address of notification "
                           "e-mails.")
    invitation_days: int = Field(7, ge=1, le=30, description="How long an invitation link to "
                                 "join a workspace works (it works once).")
    dm_poll_seconds: float = Field(60.0, description="How often the worker fetches new X "
                                   "direct messages for the Inbox (0 turns polling off).")
    # Insight (issue 15).
    metrics_schedule: str = Field("1h,6h,24h,3d,7d,28d", description="When the worker reads "
                                  "a published post's metrics, after publishing (h = hours, "
                                  "d = days).")
    metrics_poll_seconds: float = Field(300.0, description="How often the worker looks for "
                                        "metric readings that are due (0 turns it off).")
    metrics_batch: int = Field(200, description="Most metric readings one worker round takes.")

    @field_validator("meta_graph_version")
    @classmethod
    def _graph_version(cls, value: str) -> str:
        value = value.strip()
        if not valid_graph_version(value):
            raise ValueError(f"POISE_META_GRAPH_VERSION must look like {GRAPH_DEFAULT}, "
                             f"not {value!r}")
        return value

    @field_validator("linkedin_version")
    @classmethod
    def _linkedin_version(cls, value: str) -> str:
        value = value.strip()
        if not valid_linkedin_version(value):
            raise ValueError(f"POISE_LINKEDIN_VERSION must be YYYYMM (e.g. {LINKEDIN_DEFAULT}),"
                             f" not {value!r}")
        return value

    @model_validator(mode="after")
    def _served_address(self) -> Settings:
        """Without an explicit public address, links point where Poise is served, so a post
        never carries a link to a port nobody listens on."""
        if not self.public_base_url.strip():
            host = self.host
            if host in ("0.0.0.0", "::", ""):  # noqa: S104 - every interface: name the machine
                host = socket.gethostname()
            elif ":" in host:  # an IPv6 literal
                host = f"[{host}]"
            self.public_base_url = f"http://{host}:{self.port}"
        return self

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
    def cookies_secure(self) -> bool:
        if self.secure_cookies is not None:
            return self.secure_cookies
        return self.public_base_url.startswith("https://")

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
    settings = Settings()
    # The guard of outgoing requests lives in publishers/ (no planner imports there): it
    # learns the operator's allowed private hosts here, where every process reads settings.
    netguard.configure(netguard.parse_host_list(settings.allowed_private_hosts))
    return settings
