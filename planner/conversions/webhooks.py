"""Inbound webhooks: Meta messaging (Messenger, Instagram) and the shop's signed events.

Meta signs the raw body with the app secret (``X-Hub-Signature-256: sha256=<hex>``); the shop
signs with Standard Webhooks headers and a per-workspace ``whsec_`` secret. Both secrets are
kept Fernet-encrypted in the workspace's conversion settings.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import logging
import re
import secrets
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from sqlmodel import Session, col, select

from planner.accounts import decrypt_credentials, encrypt_credentials
from planner.conversions import contacts as contacts_service
from planner.conversions.inbox import Inbound, record_dm, settings_for
from planner.errors import Invalid
from planner.models import Account
from planner.models_conversions import ConversionSettings, EventKind

log = logging.getLogger(__name__)

SHOP_EVENTS = ("contact", "qualified", "sale")


def _secret(value: str) -> str:
    return decrypt_credentials(value).get("secret", "") if value else ""


def _sealed(secret: str) -> str:
    return encrypt_credentials({"secret": secret}) if secret else ""


def shop_secret(session: Session, workspace_id: int) -> str:
    """The workspace's shop webhook secret (``whsec_`` + base64), generated on first use."""
    row = settings_for(session, workspace_id)
    if not row.shop_secret_enc:
        return rotate_shop_secret(session, row)
    return _secret(row.shop_secret_enc)


def rotate_shop_secret(session: Session, row: ConversionSettings) -> str:
    secret = "whsec_" + base64.b64encode(secrets.token_bytes(32)).decode()
    row.shop_secret_enc = _sealed(secret)
    session.flush()
    return secret


def meta_app_secret(session: Session, workspace_id: int) -> str:
    return _secret(settings_for(session, workspace_id).meta_app_secret_enc)


def set_meta(*, session: Session, workspace_id: int, verify_token: str,
             app_secret: str) -> ConversionSettings:
    row = settings_for(session, workspace_id)
    row.meta_verify_token = verify_token.strip()[:120]
    if app_secret.strip():
        row.meta_app_secret_enc = _sealed(app_secret.strip())
    session.flush()
    return row


def verify_meta_signature(app_secret: str, body: bytes, header: str | None) -> bool:
    if not app_secret or not header or not header.startswith("sha256="):
        return False
    expected = hmac.new(app_secret.encode(), body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected, header[len("sha256="):].strip().lower())


def _meta_account(session: Session, workspace_id: int, platform: str,
                  ids: list[str]) -> Account | None:
    return session.exec(select(Account).where(
        Account.workspace_id == workspace_id, Account.platform == platform,
        col(Account.external_id).in_([i for i in ids if i]))).first()


def handle_meta(*, session: Session, workspace_id: int, payload: dict[str, Any]) -> list[Inbound]:
    """Messages, referrals and postbacks of a Meta messaging webhook delivery."""
    platform = "instagram" if payload.get("object") == "instagram" else "facebook"
    results: list[Inbound] = []
    for entry in payload.get("entry") or []:
        if not isinstance(entry, dict):
            continue
        for event in entry.get("messaging") or []:
            if isinstance(event, dict):
                inbound = _meta_event(session, workspace_id, platform, str(entry.get("id", "")),
                                      event)
                if inbound is not None:
                    results.append(inbound)
    return results


def _meta_event(session: Session, workspace_id: int, platform: str, entry_id: str,
                event: dict[str, Any]) -> Inbound | None:
    sender = str((event.get("sender") or {}).get("id", ""))
    recipient = str((event.get("recipient") or {}).get("id", ""))
    message = event.get("message") or {}
    if not sender or message.get("is_echo"):
        return None  # our own messages echo back
    account = _meta_account(session, workspace_id, platform, [recipient, entry_id])
    if account is None:
        log.info("Meta event for unknown %s account %s ignored", platform, recipient or entry_id)
        return None
    referral = event.get("referral") or (event.get("postback") or {}).get("referral") or {}
    ref = str(referral.get("ref", ""))
    stamp = event.get("timestamp")
    at = datetime.fromtimestamp(int(str(stamp)) / 1000, UTC) if str(stamp).isdigit() else None
    text = str(message.get("text") or (event.get("postback") or {}).get("title") or "")
    remote_id = str(message.get("mid") or "") or f"ref:{sender}:{stamp}"
    if not text and not ref:
        return None
    return record_dm(session=session, account=account, sender_id=sender,
                     text=text or f"(opened the conversation from a link: {ref})",
                     remote_id=remote_id, ref=ref, at=at)


def amount_cents(value: Any) -> int:
    try:
        amount = Decimal(str(value))
    except InvalidOperation:
        raise Invalid.at("amount", f"{value!r} is not an amount.") from None
    if not amount.is_finite() or amount < 0:
        raise Invalid.at("amount", "An amount must be a positive number.")
    return int((amount * 100).to_integral_value())


def parse_time(value: Any) -> datetime | None:
    if not value:
        return None
    try:
        at = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        raise Invalid.at("at", f"{value!r} is not an ISO 8601 time.") from None
    if at.tzinfo is None:
        raise Invalid.at("at", "Give the time with its offset (e.g. 2026-11-22T10:00:00Z).")
    return at


def request_identities(data: dict[str, Any]) -> dict[str, str]:
    """Every identifier a shop or API request carries: ``visitor_id``, ``email``, ``phone``
    and ``sender_ids`` (platform -> the person's sender id there, e.g. an Instagram IGSID)."""
    identities = {"visitor": str(data.get("visitor_id") or ""),
                  "email": str(data.get("email") or ""), "phone": str(data.get("phone") or "")}
    senders = data.get("sender_ids") or {}
    if not isinstance(senders, dict):
        raise Invalid.at("sender_ids", "Give sender ids as an object: platform -> sender id.")
    for platform, value in senders.items():
        platform = str(platform)
        if platform not in contacts_service.IDENTITY_KINDS or platform in identities:
            raise Invalid.at(f"sender_ids.{platform}", f"Unknown platform {platform!r}.")
        identities[platform] = str(value or "")
    return identities


def _contact_id(value: Any) -> int | None:
    if value is None or value == "":
        return None
    if isinstance(value, bool) or not str(value).isdigit():
        raise Invalid.at("contact_id", f"{value!r} is not a contact id.")
    return int(str(value))


def record_shop_event(*, session: Session, workspace_id: int, source: str, kind: str,
                      data: dict[str, Any], fallback_id: str = "") -> dict[str, Any]:
    """A contact, qualified or sale event from the shop (webhook) or the API.

    Everything is checked before anything is written. Every identifier of the request (its
    ``contact_id``, visitor id, e-mail, phone, sender ids, and for a sale the buyer of that
    order if it is already recorded) names the one contact the event belongs to; where they
    name several contacts the oldest is kept and the others merged into it
    (``contacts.identify``). A sale needs its ``order_id`` and is counted once per workspace
    and order id, whichever route (shop webhook, API, the inbox) brought it first.
    """
    if kind not in SHOP_EVENTS:
        raise Invalid.at("type", f"Unknown event {kind!r}; use one of {', '.join(SHOP_EVENTS)}.")
    at = parse_time(data.get("at"))
    identities = request_identities(data)
    contacts_service.normal_identities(identities)  # refuse a bad e-mail before writing
    name = str(data.get("name") or "")
    contact_id = _contact_id(data.get("contact_id"))
    cents, currency = 0, ""
    if kind == "sale":
        # The order id, and only it: a webhook id differs on every delivery, so it cannot
        # make a sale idempotent.
        external: str | None = str(data.get("order_id") or "").strip()[:120] or None
        if external is None:
            raise Invalid.at("order_id", "A sale needs its order id (it makes resending safe).")
        cents = amount_cents(data.get("amount", 0))
        currency = str(data.get("currency") or "").strip().upper()
        if not re.match(r"^[A-Z]{3}$", currency):
            raise Invalid.at("currency", "A sale needs a three-letter currency (e.g. EUR).")
    else:
        external = str(data.get("id") or fallback_id or "").strip()[:120] or None
    named = []
    if contact_id is not None:
        named.append(contacts_service.get_contact(session=session, workspace_id=workspace_id,
                                                  contact_id=contact_id).id or 0)
    known = None
    if kind == "sale" and external is not None:
        known = contacts_service.find_event(session=session, workspace_id=workspace_id,
                                            kind=EventKind.sale, external_id=external)
        if known is not None:
            named.append(known.contact_id)  # the order is an explicit match
    contact, created = contacts_service.identify(
        session=session, workspace_id=workspace_id, source=source, now=at, name=name,
        identities=identities, contact_ids=named)
    out: dict[str, Any] = {"contact_id": contact.id, "contact_created": created}
    if kind == "contact":
        event = contacts_service.contact_event(session=session, contact=contact)
        return {**out, "event_id": event.id if event else None, "created": created}
    if known is not None:
        return {**out, "event_id": known.id, "created": False}
    recorded = contacts_service.record_event(
        session=session, contact=contact, kind=EventKind(kind), source=source, at=at,
        external_id=external, amount_cents=cents, currency=currency)
    return {**out, "event_id": recorded.event.id, "created": recorded.created}
