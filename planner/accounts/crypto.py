"""Account credentials encrypted at rest with Fernet (key from settings, never in the DB)."""

from __future__ import annotations

import json

from cryptography.fernet import Fernet, InvalidToken, MultiFernet

from planner.settings import get_settings


class CredentialsUnreadable(Exception):
    """The stored credentials cannot be decrypted with the configured key(s)."""


def current_keys() -> list[str]:
    """The key new values are encrypted with, then old keys still accepted for reading."""
    settings = get_settings()
    old = [k.strip() for k in settings.credentials_old_keys.split(",") if k.strip()]
    return [settings.effective_credentials_key(), *old]


def _fernet(keys: list[str] | None = None) -> MultiFernet:
    keys = keys or current_keys()
    return MultiFernet([Fernet(key.encode()) for key in keys])


def encrypt_credentials(credentials: dict[str, str], *, key: str | None = None) -> str:
    if not credentials:
        return ""
    return _fernet([key] if key else None).encrypt(json.dumps(credentials).encode()).decode()


def decrypt_credentials(token: str, *, keys: list[str] | None = None) -> dict[str, str]:
    if not token:
        return {}
    try:
        data = json.loads(_fernet(keys).decrypt(token.encode()))
    except InvalidToken as exc:
        raise CredentialsUnreadable("credentials cannot be decrypted with the current key") from exc
    return {str(k): str(v) for k, v in data.items()}


def rotate_token(token: str, *, new_key: str, old_keys: list[str]) -> str:
    """Re-encrypt one stored value under ``new_key`` (old keys are only used to read)."""
    if not token:
        return ""
    return _fernet([new_key, *old_keys]).rotate(token.encode()).decode()
