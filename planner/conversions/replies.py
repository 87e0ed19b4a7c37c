"""Replies from a person (the Inbox page and the API), sent outside any database transaction.

A reply is stored first as ``pending`` and committed by the caller; then it goes out through
the platform's DM API (``inbox._deliver``) with no transaction open; then its outcome
(``sent`` with the platform's id, or ``failed`` with the reason) is recorded in a new one.
The route owns the transactions (``routes.send_reply`` does the three steps).
Auto-replies take the same way: ``inbox.record_dm`` stores them ``pending`` with the DM, and
whoever commits the DM sends them afterwards (``send_auto_replies``).
A process that dies between the two leaves the reply ``pending``, and the page shows it so.
Platforms without a DM API Poise can use keep the reply as a note, with nothing to send.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

import requests
import tweepy
from sqlmodel import Session

from planner.conversions import inbox
from planner.db import utcnow
from planner.errors import Invalid
from planner.models import Account
from planner.models_conversions import Contact, ContactStatus, Message

log = logging.getLogger(__name__)

PENDING = "pending"


@dataclass(frozen=True)
class Outgoing:
    """What to send once the pending reply is committed; nothing for a note."""

    message_id: int
    account: Account | None
    recipient: str


def queue_reply(*, session: Session, contact: Contact, account: Account | None, text: str,
                author_id: int | None, now: datetime | None = None) -> tuple[Message, Outgoing]:
    """Store the reply: ``pending`` when a DM API will send it, else a note (final)."""
    text = text.strip()
    if not text:
        raise Invalid.at("text", "Write a reply first.")
    if account is not None and account.workspace_id != contact.workspace_id:
        raise Invalid.at("account_id", "No such account in this workspace.")
    message = Message(workspace_id=contact.workspace_id, contact_id=contact.id or 0,
                      account_id=account.id if account else None,
                      channel=account.platform if account else "note", direction="out",
                      kind="dm", text=text[:10000], author_id=author_id, at=now or utcnow())
    recipient = inbox.recipient_of(session, contact, account.platform) if account else ""
    if account is None or account.platform not in inbox.DM_PLATFORMS or not recipient:
        where = inbox.DM_PLATFORMS.get(account.platform, account.platform) if account \
            else "Poise"
        message.kind, message.delivery, message.channel = "note", "note", "note"
        message.error = (f"{where} has no DM API Poise can use for this contact; kept as a "
                         "note. Answer them on the platform.")
        account, recipient = None, ""
    else:
        message.delivery = PENDING
    if contact.status == ContactStatus.new:
        contact.status = ContactStatus.talking
    session.add(message)
    session.flush()
    return message, Outgoing(message.id or 0, account, recipient)


@dataclass(frozen=True)
class Outcome:
    remote_id: str | None = None
    error: str = ""


def deliver(out: Outgoing, text: str) -> Outcome | None:
    """The network call; run it with no transaction open. None when there is nothing to send."""
    if out.account is None:
        return None
    try:
        return Outcome(remote_id=inbox._deliver(out.account, out.recipient, text))
    except (tweepy.TweepyException, requests.RequestException, ValueError) as exc:
        log.warning("Reply %s on %s failed: %s", out.message_id, out.account.platform, exc)
        return Outcome(error=str(exc)[:500] or exc.__class__.__name__)


def record_outcome(*, session: Session, message_id: int, outcome: Outcome | None) -> Message:
    message = session.get(Message, message_id)
    if message is None:
        raise Invalid.at("message", "The reply is gone.")
    if outcome is not None and message.delivery == PENDING:
        message.delivery = "failed" if outcome.error else "sent"
        message.error = outcome.error
        message.remote_id = outcome.remote_id
        session.flush()
    return message


def auto_replies_of(session: Session, inbounds: list[inbox.Inbound]
                    ) -> list[tuple[Outgoing, str]]:
    """The pending auto-replies these DMs queued, with what sending them needs; read them
    before the DMs' transaction ends."""
    pending = []
    for inbound in inbounds:
        message = inbound.auto_reply
        if message is None or message.delivery != PENDING or message.account_id is None:
            continue
        account = session.get(Account, message.account_id)
        if account is None:
            continue
        recipient = inbox.recipient_of(session, inbound.contact, account.platform)
        pending.append((Outgoing(message.id or 0, account, recipient), message.text))
    return pending


def send_auto_replies(pending: list[tuple[Outgoing, str]],
                      record: Callable[[Callable[[Session], None]], None]) -> int:
    """Send committed auto-replies with no transaction open, then record every outcome in
    one short transaction that ``record`` opens (it calls its argument with a session).
    Bounded: one send per DM received. How many went out."""
    outcomes = [(out, deliver(out, text)) for out, text in pending]
    if outcomes:
        def write(session: Session) -> None:
            for out, outcome in outcomes:
                record_outcome(session=session, message_id=out.message_id, outcome=outcome)
        record(write)
    return sum(1 for _, outcome in outcomes if outcome is not None and not outcome.error)
