"""Social accounts of a workspace: listing, creating, status changes. Credentials encrypted."""

from __future__ import annotations

import ipaddress
import re
from urllib.parse import quote, urlsplit

from sqlmodel import Session, col, select

from planner.accounts.crypto import (
    CredentialsUnreadable,
    decrypt_credentials,
    encrypt_credentials,
)
from planner.db import utcnow
from planner.errors import Conflict, Invalid, NotFound
from planner.models import Account, AccountStatus
from planner.settings import get_settings
from planner.team import audit
from publishers import AccountRef, netguard

PLATFORMS = {
    "x": "X", "mastodon": "Mastodon", "bluesky": "Bluesky", "linkedin": "LinkedIn",
    "facebook": "Facebook", "instagram": "Instagram", "threads": "Threads",
    "webhook": "Webhook",
}


def list_accounts(*, session: Session, workspace_id: int) -> list[Account]:
    return list(session.exec(select(Account).where(Account.workspace_id == workspace_id)
                             .order_by(col(Account.platform), col(Account.handle))).all())


def get_account(*, session: Session, workspace_id: int, account_id: int) -> Account:
    """The account, only if it belongs to this workspace (404 otherwise, never 403)."""
    account = session.get(Account, account_id)
    if account is None or account.workspace_id != workspace_id:
        raise NotFound("No such account in this workspace.")
    return account


def create_account(*, session: Session, workspace_id: int, platform: str, handle: str,
                   credentials: dict[str, str] | None = None, api_base: str = "",
                   display_name: str = "", external_id: str = "",
                   actor_id: int | None = None) -> Account:
    if platform not in PLATFORMS:
        raise Invalid.at("platform", f"Unknown platform {platform!r}; choose one of "
                         f"{', '.join(PLATFORMS)}.")
    handle = handle.strip()
    if not handle:
        raise Invalid.at("handle", "An account needs a handle or name.")
    account = Account(workspace_id=workspace_id, platform=platform, handle=handle,
                      display_name=display_name or handle, api_base=api_base.strip(),
                      external_id=external_id,
                      credentials_enc=encrypt_credentials(credentials or {}),
                      owner_id=actor_id)
    session.add(account)
    session.flush()
    audit.record(session=session, action="account.created", entity="account",
                 entity_id=account.id, actor_id=actor_id, workspace_id=workspace_id,
                 after={"platform": platform, "handle": handle})
    return account


def set_status(*, session: Session, account: Account, status: AccountStatus, reason: str = "",
               actor_id: int | None = None) -> Account:
    before = {"status": str(account.status), "reason": account.status_reason}
    account.status = status
    account.status_reason = reason
    audit.record(session=session, action="account.status", entity="account",
                 entity_id=account.id, actor_id=actor_id, workspace_id=account.workspace_id,
                 before=before, after={"status": str(status), "reason": reason})
    return account


# --- WhatsApp number -----------------------------------------------------------------------
# Kept with the encrypted credentials (publishers read it from there to build wa.me links),
# so it travels with the account without a column of its own.

WHATSAPP_NUMBER = "whatsapp_number"
_PHONE_SEPARATORS = re.compile(r"[\s.()-]+")
_INTERNATIONAL_NUMBER = re.compile(r"\+?[1-9][0-9]{6,14}")  # E.164: at most 15 digits


def clean_whatsapp_number(value: str) -> str:
    """``""`` for none, else the number as ``+<country code><number>``.

    People type numbers with spaces and dashes; those are dropped. wa.me needs the full
    international number, so a national one (leading 0) is refused rather than guessed.
    """
    number = _PHONE_SEPARATORS.sub("", value.strip())
    if not number:
        return ""
    example = "e.g. +48 600 100 200"
    if not re.fullmatch(r"\+?[0-9]+", number):
        raise Invalid.at(WHATSAPP_NUMBER, f"Use digits only, with an optional leading + "
                         f"({example}).")
    if number.lstrip("+").startswith("0"):
        raise Invalid.at(WHATSAPP_NUMBER, "Write the number in international format, starting "
                         f"with the country code instead of 0 or 00 ({example}).")
    if not _INTERNATIONAL_NUMBER.fullmatch(number):
        raise Invalid.at(WHATSAPP_NUMBER, "A WhatsApp number has 7 to 15 digits, country code "
                         f"included ({example}).")
    return "+" + number.lstrip("+")


def whatsapp_number(account: Account) -> str:
    """The number the account's wa.me DM links go to; "" when none (or unreadable)."""
    try:
        return decrypt_credentials(account.credentials_enc).get(WHATSAPP_NUMBER, "")
    except CredentialsUnreadable:
        return ""


def text_details(account: Account) -> dict[str, str]:
    """The stored details that change a post's text (not secrets), for previews and checks.

    ``publishers.dm`` links DM prompts to wa.me when the credentials carry a WhatsApp
    number; a preview built without them would show a different text than the one sent.
    """
    number = whatsapp_number(account)
    return {WHATSAPP_NUMBER: number} if number else {}


def set_whatsapp_number(*, session: Session, account: Account, number: str,
                        actor_id: int | None) -> Account:
    """Set (or, with an empty ``number``, clear) the account's WhatsApp number."""
    clean = clean_whatsapp_number(number)
    # The row lock keeps a token refresh committed meanwhile from being overwritten with the
    # tokens read here (X refresh tokens are single use: losing the new one loses the account).
    session.refresh(account, with_for_update=True)
    if account.token_refresh_lease is not None and account.token_refresh_lease > utcnow():
        raise Conflict("The account's token is being refreshed right now; save the number "
                       "again in a moment.")
    try:
        credentials = decrypt_credentials(account.credentials_enc)
    except CredentialsUnreadable:
        raise Invalid.at(WHATSAPP_NUMBER, "The account's stored credentials cannot be read "
                         "with the current key; reconnect the account first.") from None
    before = credentials.get(WHATSAPP_NUMBER, "")
    if clean:
        credentials[WHATSAPP_NUMBER] = clean
    else:
        credentials.pop(WHATSAPP_NUMBER, None)
    account.credentials_enc = encrypt_credentials(credentials)
    audit.record(session=session, action="account.whatsapp_number", entity="account",
                 entity_id=account.id, actor_id=actor_id, workspace_id=account.workspace_id,
                 before={WHATSAPP_NUMBER: before}, after={WHATSAPP_NUMBER: clean})
    return account


def account_ref(account: Account, credentials: dict[str, str] | None = None) -> AccountRef:
    """The adapter's view of an account. Without ``credentials`` (previews, checks) it carries
    only the stored details that change a post's text, such as a WhatsApp number."""
    return AccountRef(platform=account.platform, handle=account.handle,
                      api_base=account.api_base,
                      credentials=credentials if credentials is not None
                      else text_details(account),
                      external_id=account.external_id, text_limit=account.text_limit,
                      api_version=api_version_for(account.platform))


def api_version_for(platform: str) -> str:
    """The API version the operator configured for ``platform``; empty = adapter default."""
    if platform == "linkedin":
        return get_settings().linkedin_version
    if platform in ("facebook", "instagram"):
        return get_settings().meta_graph_version
    return ""


# --- where a published post can be seen ----------------------------------------------------------

def _loopback(host: str | None) -> bool:
    if not host:
        return False
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def live_post_url(account: Account | None, remote_id: str, remote_url: str) -> str:
    """The link a page shows for a published post, or '' when there is none to show.

    A post sent to an account whose API is on this machine (the local sandbox: the demo and
    tests) lives there, not on the platform: some adapters build the public address
    themselves (x.com/..., bsky.app/..., linkedin.com/...) because the real APIs give none,
    and that address would be a real platform's page for a post that does not exist. Such a
    post links to the sandbox's own page of it, ``{api_base}/view/{platform}/{id}``
    (``sandbox.viewer``). A post with no remote id that a person marked published keeps the
    address they gave (their word, not an adapter's guess). Anything else links to the
    platform's address when it is safe to.
    """
    if account is not None and account.api_base and account.platform != "webhook" and remote_id:
        base = urlsplit(account.api_base.strip())
        if base.scheme in ("http", "https") and _loopback(base.hostname):
            return netguard.safe_link(f"{base.scheme}://{base.netloc}/view/{account.platform}/"
                                      f"{quote(remote_id, safe='')}")
    return netguard.safe_link(remote_url)
