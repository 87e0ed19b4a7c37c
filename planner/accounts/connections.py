"""Connecting accounts: credential forms per platform, connection tests, pause and resume.

Credentials are checked against the platform before anything is saved, encrypted with Fernet,
and never shown again. The network calls go through the publishers' adapters.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from sqlmodel import Session, col, select

from planner.accounts import service as accounts
from planner.accounts.crypto import (
    CredentialsUnreadable,
    decrypt_credentials,
    encrypt_credentials,
    rotate_token,
)
from planner.errors import FieldProblem, Invalid, Unavailable
from planner.models import (
    Account,
    AccountStatus,
    Publication,
    PublicationStatus,
    publication_shown,
)
from planner.team import audit
from publishers import (
    AccountHeld,
    AuthExpired,
    ContentRejected,
    Identity,
    PublishError,
    get_publisher,
    netguard,
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
    set_names: tuple[str, ...] = ()  # what each set is, when there are alternatives

    @property
    def credential_sets(self) -> tuple[tuple[CredentialField, ...], ...]:
        return (self.fields, *self.alternatives)


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
                       CredentialField("client_secret", "Client secret", required=False)),),
        set_names=("OAuth 1.0a keys", "OAuth 2.0 tokens")),
    "mastodon": PlatformForm(
        "mastodon", (CredentialField("access_token", "Access token"),),
        needs_api_base=True, api_base_help="Your instance, e.g. https://mastodon.social"),
    "bluesky": PlatformForm(
        "bluesky", (CredentialField("identifier", "Handle or e-mail", secret=False),
                    CredentialField("app_password", "App password",
                                    help="Settings -> Privacy and security -> App passwords")),
        api_base_help="Leave empty for bsky.social; your PDS URL if self-hosted"),
    "linkedin": PlatformForm(
        "linkedin", (CredentialField("access_token", "Access token"),
                     CredentialField("scope", "Granted permissions", secret=False,
                                     required=False,
                                     help="As LinkedIn listed them with the token, e.g. "
                                          "w_member_social,r_member_social; without "
                                          "r_member_social a post whose outcome is unknown "
                                          "goes to a person to check")),
        external_id_label="Author URN (urn:li:organization:... for a page; empty = the "
                          "member who owns the token)"),
    "facebook": PlatformForm(
        "facebook", (CredentialField("page_access_token", "Page access token"),),
        external_id_label="Page id"),
    "instagram": PlatformForm(
        "instagram", (CredentialField("access_token", "Access token (Facebook Login)"),),
        external_id_label="Instagram user id",
        alternatives=((CredentialField(
            "instagram_user_token", "Instagram User token (Instagram Login)",
            help="Business Login for Instagram: no Facebook Page needed"),),),
        set_names=("Facebook Login", "Instagram Login")),
    "threads": PlatformForm(
        "threads", (CredentialField("access_token", "Access token"),),
        external_id_label="Threads user id"),
    "webhook": PlatformForm(
        "webhook", (CredentialField("secret", "Signing secret (whsec_...)"),),
        needs_api_base=True, api_base_help="The URL that receives the signed JSON POST"),
}


def _clean_credentials(form: PlatformForm, given: dict[str, str]) -> dict[str, str]:
    """The first complete field set the person filled in; problems at each missing field."""
    def filled(fields: tuple[CredentialField, ...]) -> int:
        return sum(1 for f in fields if given.get(f.name, "").strip())

    for fields in form.credential_sets:
        values = {f.name: given.get(f.name, "").strip() for f in fields}
        if all(values[f.name] for f in fields if f.required):
            return {k: v for k, v in values.items() if v}
    # Name what is missing from the set the person started on (the first on a tie).
    closest = max(form.credential_sets, key=filled)
    raise Invalid("Fill in every credential field.", problems=[
        FieldProblem(("credentials", f.name), f"{f.label} is required.")
        for f in closest if f.required and not given.get(f.name, "").strip()])


# Accounts on these live on the server named by the API base: the same id or handle on
# another instance (or PDS, or webhook URL) is another account.
_SERVER_PLATFORMS = {"mastodon": "", "bluesky": "https://bsky.social", "webhook": ""}


def _server(platform: str, api_base: str) -> str:
    return (api_base.strip().rstrip("/") or _SERVER_PLATFORMS.get(platform, "")).lower()


def _handle_key(platform: str, handle: str) -> str:
    key = handle.strip().lstrip("@").casefold()
    if platform == "mastodon":
        # "@brand", "@brand@instance": the instance is already the same (the API base).
        key = key.split("@")[0]
    return key


def same_account(*, session: Session, workspace_id: int, platform: str, api_base: str,
                 external_id: str, handle: str) -> Account | None:
    """The workspace's account these details belong to, if it is already connected.

    The platform's own id decides; the handle only where one side has no id (accounts
    connected before ids were looked up, Bluesky, webhooks).
    """
    candidates = [a for a in session.exec(select(Account).where(
        Account.workspace_id == workspace_id, Account.platform == platform)
        .order_by(col(Account.id))).all()
        if platform not in _SERVER_PLATFORMS
        or _server(platform, a.api_base) == _server(platform, api_base)]
    # Where old duplicates exist, the one waiting for new credentials gets them.
    candidates.sort(key=lambda a: a.status != AccountStatus.needs_reconnect)
    if external_id:
        for account in candidates:
            if account.external_id == external_id:
                return account
    wanted = _handle_key(platform, handle)
    for account in candidates:
        if wanted and _handle_key(platform, account.handle) == wanted and not (
                external_id and account.external_id):
            return account
    return None


@dataclass(frozen=True)
class Connected:
    account: Account
    renewed: bool  # the account was already connected: it got the new credentials


def connect(*, session: Session, workspace_id: int, platform: str, handle: str,
            credentials: dict[str, str], api_base: str = "", external_id: str = "",
            whatsapp_number: str = "", actor_id: int | None, check: bool = True) -> Account:
    """``connect_account`` for callers that only need the account."""
    return connect_account(
        session=session, workspace_id=workspace_id, platform=platform, handle=handle,
        credentials=credentials, api_base=api_base, external_id=external_id,
        whatsapp_number=whatsapp_number, actor_id=actor_id, check=check).account


def connect_account(*, session: Session, workspace_id: int, platform: str, handle: str,
                    credentials: dict[str, str], api_base: str = "", external_id: str = "",
                    whatsapp_number: str = "", actor_id: int | None,
                    check: bool = True) -> Connected:
    """Check the credentials against the platform, then save the account (encrypted).

    Where the platform names the account's owner (X user id, LinkedIn member URN, Mastodon
    account id), an empty ``external_id`` or ``handle`` is filled in from its answer. An
    account the workspace already has (``same_account``) is renewed, not added twice.
    """
    form = FORMS.get(platform)
    if form is None:
        raise Invalid.at("platform", f"Unknown platform {platform!r}.")
    clean = _clean_credentials(form, credentials)
    number = accounts.clean_whatsapp_number(whatsapp_number)
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
        if api_base:
            refuse_private_api_base(api_base)
        identity, text_limit = _check(draft, clean)
    handle = handle.strip() or (f"@{identity.username}" if identity.username
                                else identity.display_name)
    external_id = external_id.strip() or identity.external_id
    existing = same_account(session=session, workspace_id=workspace_id, platform=platform,
                            api_base=api_base, external_id=external_id, handle=handle)
    if existing is not None:
        existing.api_base = api_base  # where these credentials were just checked
        _store_new_credentials(session=session, account=existing, credentials=clean,
                               identity=identity, text_limit=text_limit,
                               whatsapp_number=number, actor_id=actor_id)
        existing.external_id = existing.external_id or external_id
        return Connected(existing, renewed=True)
    if number:
        clean[accounts.WHATSAPP_NUMBER] = number
    account = accounts.create_account(
        session=session, workspace_id=workspace_id, platform=platform, handle=handle,
        credentials=clean, api_base=api_base, display_name=identity.display_name,
        external_id=external_id, actor_id=actor_id)
    account.text_limit = text_limit
    return Connected(account, renewed=False)


def _store_new_credentials(*, session: Session, account: Account, credentials: dict[str, str],
                           identity: Identity, text_limit: int | None,
                           whatsapp_number: str = "", actor_id: int | None) -> None:
    """Replace an account's credentials (keeping its WhatsApp number) and clear its hold.

    A paused account stays paused: pausing is a person's decision, new tokens are not.
    """
    try:
        kept = decrypt_credentials(account.credentials_enc).get(accounts.WHATSAPP_NUMBER, "")
    except CredentialsUnreadable:
        kept = ""
    number = whatsapp_number or kept
    account.credentials_enc = encrypt_credentials(
        {**credentials, accounts.WHATSAPP_NUMBER: number} if number else credentials)
    if identity.display_name:
        account.display_name = identity.display_name
    account.text_limit = text_limit or account.text_limit
    account.external_id = account.external_id or identity.external_id
    # The old token's expiry says nothing about the new one (a pasted token's is unknown);
    # left in place, the refresh job would try to refresh credentials that cannot be.
    account.token_expires_at = None
    account.token_refresh_lease = None
    audit.record(session=session, action="account.reconnected", entity="account",
                 entity_id=account.id, actor_id=actor_id, workspace_id=account.workspace_id,
                 after={"platform": account.platform, "handle": account.handle})
    if account.status != AccountStatus.paused:
        accounts.set_status(session=session, account=account, status=AccountStatus.ok,
                            actor_id=actor_id)


def refuse_private_api_base(api_base: str, field: str = "api_base") -> None:
    """A plain-words problem for an address the server must not call (loopback, private,
    link-local...); the transport refuses it again at every connection and redirect."""
    try:
        netguard.check_url(api_base)
    except netguard.RefusedAddress as exc:
        raise Invalid.at(field, str(exc)) from None


def _probe(account: Account, credentials: dict[str, str]) -> tuple[Identity, int | None]:
    """One authenticated call (two on Mastodon); raises the adapter's typed outcome."""
    ref = accounts.account_ref(account, credentials)
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
    except AccountHeld as exc:
        message = f"The details are right, but publishing cannot work yet: {exc.reason}"
        raise Unavailable(message, problems=[FieldProblem(("credentials",), message)]) from exc
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
    except AccountHeld as exc:
        # The credentials work but something only an admin can change stands in the way (a
        # sunset API version, the platform plan): publishing waits until a test passes.
        message = f"{name} cannot publish for this account yet: {exc.reason}"
        if account.status != AccountStatus.paused:
            accounts.set_status(session=session, account=account, status=AccountStatus.held,
                                reason=message[:500], actor_id=actor_id)
        return ConnectionResult(False, message)
    except ContentRejected as exc:
        return ConnectionResult(False, f"The account's settings need fixing: {exc.reason}")
    except PublishError as exc:
        state = {"ok": "connected", "paused": "paused", "held": "held",
                 "needs_reconnect": "marked for reconnecting"}.get(str(account.status), "as is")
        return ConnectionResult(False, f"Could not reach {name} to test the connection "
                                f"({exc.reason}). Nothing changed: the account stays {state}; "
                                "try again in a moment.")
    account.display_name = identity.display_name
    if identity.external_id and not account.external_id:
        account.external_id = identity.external_id  # e.g. accounts connected before ids
    if limit:
        account.text_limit = limit
    if account.status in (AccountStatus.needs_reconnect, AccountStatus.held) or (
            account.status == AccountStatus.ok and account.status_reason):
        accounts.set_status(session=session, account=account, status=AccountStatus.ok,
                            actor_id=actor_id)
    return ConnectionResult(True, f"Connected as {identity.display_name}.")


def reconnect(*, session: Session, account: Account, credentials: dict[str, str],
              actor_id: int | None) -> Account:
    """New credentials for an existing account; publishing resumes if it was held for them.

    Credentials of another account are refused: the posts queued for this one would go out
    under someone else's name.
    """
    form = FORMS[account.platform]
    clean = _clean_credentials(form, credentials)
    identity, limit = _check(account, clean)
    if _belongs_elsewhere(account, identity):
        raise Invalid(f"These credentials belong to another account (id {identity.external_id}"
                      f"), not {account.handle} (id {account.external_id}); connect that one "
                      "as a new account instead.",
                      problems=[FieldProblem(("credentials",), "Credentials of another "
                                             "account.")])
    _store_new_credentials(session=session, account=account, credentials=clean,
                           identity=identity, text_limit=limit, actor_id=actor_id)
    return account


def _belongs_elsewhere(account: Account, identity: Identity) -> bool:
    """True when the platform names a different owner than the account's id.

    Only where both ids mean the same thing: a LinkedIn organization page is published to
    with the token of a member who administers it.
    """
    if not (account.external_id and identity.external_id):
        return False
    if account.platform == "linkedin" and not account.external_id.startswith("urn:li:person:"):
        return False
    return account.external_id != identity.external_id


def pause(*, session: Session, account: Account, actor_id: int | None) -> Account:
    """Hold every publication of the account (nothing is claimed while paused)."""
    return accounts.set_status(session=session, account=account, status=AccountStatus.paused,
                               reason="Paused by a person", actor_id=actor_id)


def resume(*, session: Session, account: Account, actor_id: int | None) -> Account:
    return accounts.set_status(session=session, account=account, status=AccountStatus.ok,
                               actor_id=actor_id)


def set_dm_polling(*, session: Session, account: Account, on: bool,
                   actor_id: int | None) -> Account:
    """Turn fetching an X account's DMs into the Inbox on or off (X bills each DM read)."""
    if account.platform != "x":
        raise Invalid.at("dm_polling", "Only X accounts are polled for direct messages.")
    before = account.dm_polling
    account.dm_polling = on
    session.add(account)
    audit.record(session=session, action="account.dm_polling", entity="account",
                 entity_id=account.id, actor_id=actor_id, workspace_id=account.workspace_id,
                 before={"dm_polling": before}, after={"dm_polling": on})
    session.flush()
    return account


def held_count(*, session: Session, account: Account) -> int:
    return len(session.exec(select(Publication.id).where(
        Publication.account_id == account.id, publication_shown(),
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
