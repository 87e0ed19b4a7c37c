"""Social accounts of a workspace: listing, creating, status changes. Credentials encrypted."""

from __future__ import annotations

from sqlmodel import Session, col, select

from planner import audit
from planner.crypto import encrypt_credentials
from planner.errors import Invalid, NotFound
from planner.models import Account, AccountStatus

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
