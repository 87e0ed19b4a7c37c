"""Connecting accounts: credential forms per platform, connection tests, pause and resume.

Credentials are checked against the platform before anything is saved, encrypted with Fernet,
and never shown again. The network calls go through the publishers' adapters.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from sqlmodel import Session, select

from planner import accounts, audit
from planner.crypto import (
    CredentialsUnreadable,
    decrypt_credentials,
    encrypt_credentials,
    rotate_token,
)
from planner.errors import FieldProblem, Invalid, Unavailable
from planner.models import Account, AccountStatus, Publication, PublicationStatus
from planner.textrules import account_ref
from publishers import (
    AuthExpired,
    ContentRejected,
    Identity,
    PublishError,
    get_publisher,
)
from publishers.mastodon import MastodonPublisher

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class CredentialField:
    name: str
    label: str
    secret: bool = True
    required: bool = True
    help: str = ""


@dataclass(frozen=True)
class PlatformForm:
    """What a person types to connect one kind of account by credentials."""

    platform: str
    fields: tuple[CredentialField, ...]
    external_id_label: str = ""
    needs_api_base: bool = False
    api_base_help: str = ""
    alternatives: tuple[tuple[CredentialField, ...], ...] = ()  # another complete set


FORMS: dict[str, PlatformForm] = {
    "x": PlatformForm(
        "x", (CredentialField("consumer_key", "API key", secret=False),
              CredentialField("consumer_secret", "API key secret"),
              CredentialField("access_token", "Access token", secret=False),
              CredentialField("access_token_secret", "Access token secret")),
        external_id_label="Numeric user id (for DM links; looked up when empty)",
        alternatives=((CredentialField("access_token", "OAuth 2.0 access token"),
                       CredentialField("refresh_token", "Refresh token"),
                       CredentialField("client_id", "Client id", secret=False),
                       CredentialField("client_secret", "Client secret", required=False)),)),
    "mastodon": PlatformForm(
        "mastodon", (CredentialField("access_token", "Access token"),),
        needs_api_base=True, api_base_help="Your instance, e.g. https://mastodon.social"),
    "bluesky": PlatformForm(
        "bluesky", (CredentialField("identifier", "Handle or e-mail", secret=False),
                    CredentialField("app_password", "App password",
                                    help="Settings -> Privacy and security -> App passwords")),
        api_base_help="Leave empty for bsky.social; your PDS URL if self-hosted"),
    "linkedin": PlatformForm(
        "linkedin", (CredentialField("access_token", "Access token"),),
        external_id_label="Author URN (urn:li:organization:... for a page; empty = the "
                          "member who owns the token)"),
    "facebook": PlatformForm(
        "facebook", (CredentialField("page_access_token", "Page access token"),),
        external_id_label="Page id"),
    "instagram": PlatformForm(
        "instagram", (CredentialField("access_token", "Access token"),),
        external_id_label="Instagram user id"),
    "threads": PlatformForm(
        "threads", (CredentialField("access_token", "Access token"),),
        external_id_label="Threads user id"),
    "webhook": PlatformForm(
        "webhook", (CredentialField("secret", "Signing secret (whsec_...)"),),
        needs_api_base=True, api_base_help="The URL that receives the signed JSON POST"),
}


def _clean_credentials(form: PlatformForm, given: dict[str, str]) -> dict[str, str]:
    """The first complete field set the person filled in; problems at each missing field."""
    sets = (form.fields, *form.alternatives)
    for fields in sets:
        values = {f.name: given.get(f.name, "").strip() for f in fields}
        if all(values[f.name] for f in fields if f.required):
            return {k: v for k, v in values.items() if v}
    first = form.fields
    raise Invalid("Fill in every credential field.", problems=[
        FieldProblem(("credentials", f.name), f"{f.label} is required.")
        for f in first if f.required and not given.get(f.name, "").strip()])


def connect(*, session: Session, workspace_id: int, platform: str, handle: str,
            credentials: dict[str, str], api_base: str = "", external_id: str = "",
            actor_id: int | None, check: bool = True) -> Account:
    """Check the credentials against the platform, then save the account (encrypted).

    Where the platform names the account's owner (X user id, LinkedIn member URN, Mastodon
    account id), an empty ``external_id`` or ``handle`` is filled in from its answer.
    """
    form = FORMS.get(platform)
    if form is None:
        raise Invalid.at("platform", f"Unknown platform {platform!r}.")
    clean = _clean_credentials(form, credentials)
    api_base = api_base.strip().rstrip("/")
    if form.needs_api_base and not api_base:
        raise Invalid.at("api_base", form.api_base_help or "This platform needs a URL.")
    if api_base and not api_base.startswith(("https://", "http://")):
        raise Invalid.at("api_base", "The URL must start with https://.")
    draft = Account(workspace_id=workspace_id, platform=platform, handle=handle.strip(),
                    api_base=api_base, external_id=external_id.strip())
    identity = Identity(display_name=handle.strip())
    text_limit = None
    if check:
        identity, text_limit = _check(draft, clean)
    handle = handle.strip() or (f"@{identity.username}" if identity.username
                                else identity.display_name)
    account = accounts.create_account(
        session=session, workspace_id=workspace_id, platform=platform, handle=handle,
        credentials=clean, api_base=api_base, display_name=identity.display_name,
        external_id=external_id.strip() or identity.external_id, actor_id=actor_id)
    account.text_limit = text_limit
    return account


def _probe(account: Account, credentials: dict[str, str]) -> tuple[Identity, int | None]:
    """One authenticated call (two on Mastodon); raises the adapter's typed outcome."""
    ref = account_ref(account, credentials)
    publisher = get_publisher(account.platform)
    identify = getattr(publisher, "identify", None)
    identity = identify(ref) if identify is not None else Identity(
        display_name=publisher.check_connection(ref))
    limit = MastodonPublisher().text_limit(ref) if account.platform == "mastodon" else None
    return identity, limit


def _check(account: Account, credentials: dict[str, str]) -> tuple[Identity, int | None]:
    """``_probe`` for details a person just typed: every failure is a problem to show."""
    try:
        return _probe(account, credentials)
    except (AuthExpired, ContentRejected) as exc:
        raise Invalid("The platform did not accept these details: " + exc.reason,
                      problems=[FieldProblem(("credentials",), exc.reason)]) from exc
    except PublishError as exc:
        message = (f"Could not check these details with the platform right now: {exc.reason}."
                   " Nothing was saved; try again in a moment.")
        raise Unavailable(message, problems=[FieldProblem(("credentials",), message)]) from exc


@dataclass(frozen=True)
class ConnectionResult:
    ok: bool
    message: str


def test_connection(*, session: Session, account: Account,
                    actor_id: int | None) -> ConnectionResult:
    """A cheap authenticated call.

    Only a refusal of the credentials (``AuthExpired``) marks the account for reconnecting:
    a platform that is down, slow or rate limiting says nothing about them, so the account
    keeps its status and the person is told to try again.
    """
    name = accounts.PLATFORMS.get(account.platform, account.platform)
    try:
        identity, limit = _probe(account, decrypt_credentials(account.credentials_enc))
    except (AuthExpired, CredentialsUnreadable) as exc:
        reason = exc.reason if isinstance(exc, AuthExpired) else \
            "the stored credentials cannot be read with the current key"
        message = f"{name} refused the connection: {reason}. Reconnect the account."
        accounts.set_status(session=session, account=account,
                            status=AccountStatus.needs_reconnect, reason=message[:500],
                            actor_id=actor_id)
        return ConnectionResult(False, message)
    except ContentRejected as exc:
        return ConnectionResult(False, f"The account's settings need fixing: {exc.reason}")
    except PublishError as exc:
        state = {"ok": "connected", "paused": "paused",
                 "needs_reconnect": "marked for reconnecting"}.get(str(account.status), "as is")
        return ConnectionResult(False, f"Could not reach {name} to test the connection "
                                f"({exc.reason}). Nothing changed: the account stays {state}; "
                                "try again in a moment.")
    account.display_name = identity.display_name
    if identity.external_id and not account.external_id:
        account.external_id = identity.external_id  # e.g. accounts connected before ids
    if limit:
        account.text_limit = limit
    if account.status == AccountStatus.needs_reconnect or (
            account.status == AccountStatus.ok and account.status_reason):
        accounts.set_status(session=session, account=account, status=AccountStatus.ok,
                            actor_id=actor_id)
    return ConnectionResult(True, f"Connected as {identity.display_name}.")


def reconnect(*, session: Session, account: Account, credentials: dict[str, str],
              actor_id: int | None) -> Account:
    """New credentials for an existing account; publishing resumes if it was held."""
    form = FORMS[account.platform]
    clean = _clean_credentials(form, credentials)
    identity, limit = _check(account, clean)
    account.credentials_enc = encrypt_credentials(clean)
    account.display_name, account.text_limit = identity.display_name, limit or account.text_limit
    account.external_id = account.external_id or identity.external_id
    accounts.set_status(session=session, account=account, status=AccountStatus.ok,
                        actor_id=actor_id)
    return account


def pause(*, session: Session, account: Account, actor_id: int | None) -> Account:
    """Hold every publication of the account (nothing is claimed while paused)."""
    return accounts.set_status(session=session, account=account, status=AccountStatus.paused,
                               reason="Paused by a person", actor_id=actor_id)


def resume(*, session: Session, account: Account, actor_id: int | None) -> Account:
    return accounts.set_status(session=session, account=account, status=AccountStatus.ok,
                               actor_id=actor_id)


def held_count(*, session: Session, account: Account) -> int:
    return len(session.exec(select(Publication.id).where(
        Publication.account_id == account.id,
        Publication.status.in_([PublicationStatus.pending,  # type: ignore[attr-defined]
                                PublicationStatus.retry_wait]))).all())


def rotate_credentials_key(*, session: Session, new_key: str, old_keys: list[str]) -> int:
    """Re-encrypt every account's credentials under ``new_key``; returns how many."""
    count = 0
    for account in session.exec(select(Account)).all():
        if account.credentials_enc:
            account.credentials_enc = rotate_token(account.credentials_enc, new_key=new_key,
                                                   old_keys=old_keys)
            count += 1
    audit.record(session=session, action="credentials.key_rotated", entity="account",
                 entity_id=None, actor_id=None, workspace_id=None,
                 after={"accounts": count})
    return count
