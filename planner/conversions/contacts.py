"""Contacts: one person across channels, joined only by explicit identifiers.

A contact is found by an identity (visitor cookie, e-mail, phone, a platform's user id). When
one request names identities of two different contacts (a shop order with the visitor cookie
of one and the e-mail of another), the two are merged: that is an explicit match, not a guess.
Names are never used to join.
"""

from __future__ import annotations

import csv
import io
import logging
import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import and_, or_, update
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from planner.conversions import credits
from planner.db import utcnow
from planner.errors import Invalid, NotFound
from planner.models import Membership, Role, User
from planner.models_conversions import (
    Contact,
    ContactIdentity,
    ContactMerge,
    ContactStatus,
    ConversionEvent,
    EventKind,
    Message,
    Touchpoint,
)
from planner.team import audit

log = logging.getLogger(__name__)

# Platform kinds hold the sender's id on that platform (X user id, Page-scoped id, IGSID ...).
IDENTITY_KINDS = ("visitor", "email", "phone", "x", "facebook", "instagram", "threads",
                  "mastodon", "bluesky", "linkedin", "whatsapp", "webhook")
PLATFORM_KINDS = IDENTITY_KINDS[3:]
_EMAIL_RE = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_CURRENCY_RE = re.compile(r"^[A-Z]{3}$")


def normal_email(value: str) -> str:
    value = value.strip().lower()
    if value and not _EMAIL_RE.match(value):
        raise Invalid.at("email", f"{value!r} is not an e-mail address.")
    return value


def normal_phone(value: str) -> str:
    digits = re.sub(r"\D", "", value)
    if value and len(digits) < 6:
        raise Invalid.at("phone", f"{value!r} is not a phone number.")
    return ("+" + digits) if value.strip().startswith("+") else digits


def normal_identities(raw: dict[str, str]) -> dict[str, str]:
    """Identity kind -> normalised value; empty values dropped."""
    out: dict[str, str] = {}
    for kind, value in raw.items():
        value = (value or "").strip()
        if not value:
            continue
        if kind not in IDENTITY_KINDS:
            raise Invalid.at(kind, f"Unknown identity {kind!r}.")
        if kind == "email":
            value = normal_email(value)
        elif kind == "phone":
            value = normal_phone(value)
        out[kind] = value[:254]
    return out


def get_contact(*, session: Session, workspace_id: int, contact_id: int) -> Contact:
    """The contact with this id, or the one it was merged into (ids are never reused)."""
    contact = session.get(Contact, contact_id)
    if contact is None:
        merged = session.get(ContactMerge, contact_id)
        contact = session.get(Contact, merged.contact_id) if merged is not None else None
    if contact is None or contact.workspace_id != workspace_id:
        raise NotFound("No such contact in this workspace.")
    return contact


def contact_event(*, session: Session, contact: Contact) -> ConversionEvent | None:
    """The ``contact`` event of ``contact`` (when it became known); one per person."""
    return session.exec(select(ConversionEvent).where(
        ConversionEvent.contact_id == contact.id, ConversionEvent.kind == EventKind.contact)
        .order_by(col(ConversionEvent.at), col(ConversionEvent.id))).first()


def identify(*, session: Session, workspace_id: int, identities: dict[str, str],
             name: str = "", source: str, now: datetime | None = None,
             contact_ids: Iterable[int] = ()) -> tuple[Contact, bool]:
    """The one contact a request names, with every identifier of the request attached.

    ``identities`` are its visitor id, e-mail, phone and platform sender ids; ``contact_ids``
    the contacts it names outright (a ``contact_id``, resolved through merges; the buyer of
    an order already recorded). When they name several contacts, the oldest (lowest id) is
    kept and the others are merged into it; when they name none, a contact is created with
    its ``contact`` event, both dated ``now`` (a sale's time for a buyer never seen).
    """
    now = now or utcnow()
    ids = normal_identities(identities)
    named = set(contact_ids)
    if not ids and not named:
        raise Invalid("A contact needs at least one identifier (visitor id, e-mail, phone or "
                      "a platform user id).")
    try:
        with session.begin_nested():
            return _identify(session, workspace_id, ids, named, name, source, now)
    except IntegrityError:
        # Another request attached one of these identifiers first (on PostgreSQL this one
        # waited for it to commit): look again, once; the second time it is found.
        log.info("Identity race in workspace %s; looking the contact up again", workspace_id)
    return _identify(session, workspace_id, ids, named, name, source, now)


def _identify(session: Session, workspace_id: int, ids: dict[str, str], named: set[int],
              name: str, source: str, now: datetime) -> tuple[Contact, bool]:
    found = _identities_named(session, workspace_id, ids) if ids else []
    contact_ids = sorted(named | {i.contact_id for i in found})
    created = not contact_ids
    if created:
        contact = Contact(workspace_id=workspace_id, name=name[:200], source=source,
                          created_at=now)
        session.add(contact)
        session.flush()
        session.add(ConversionEvent(workspace_id=workspace_id, contact_id=contact.id or 0,
                                    kind=EventKind.contact, at=now, source=source))
    else:
        contact = get_contact(session=session, workspace_id=workspace_id,
                              contact_id=contact_ids[0])
    _join(session, contact, ids, found, name, also=contact_ids)
    return contact, created


def _identities_named(session: Session, workspace_id: int,
                      ids: dict[str, str]) -> list[ContactIdentity]:
    """The stored identities equal to one of ``ids`` (each an indexed lookup)."""
    return list(session.exec(select(ContactIdentity).where(
        ContactIdentity.workspace_id == workspace_id,
        or_(*(and_(col(ContactIdentity.kind) == kind, col(ContactIdentity.value) == value)
              for kind, value in ids.items())))).all())


def _join(session: Session, contact: Contact, ids: dict[str, str],
          found: list[ContactIdentity], name: str, also: Iterable[int] = ()) -> None:
    workspace_id = contact.workspace_id
    for other in sorted(({i.contact_id for i in found} | set(also)) - {contact.id}):
        merge_contacts(session=session, keep=contact,
                       drop=get_contact(session=session, workspace_id=workspace_id,
                                        contact_id=other))
    known = {(i.kind, i.value) for i in found}
    for kind, value in ids.items():
        if (kind, value) not in known:
            session.add(ContactIdentity(workspace_id=workspace_id, contact_id=contact.id or 0,
                                        kind=kind, value=value))
    contact.email = contact.email or ids.get("email", "")
    contact.phone = contact.phone or ids.get("phone", "")
    contact.name = contact.name or name[:200]
    session.flush()
    if "visitor" in ids:
        _claim_visitor_sessions(session, workspace_id, contact.id or 0, ids["visitor"])
    # A new contact event, claimed sessions or a merge: the contact's credits may move.
    credits.refresh(session, contact_ids=[contact.id or 0])


def _claim_visitor_sessions(session: Session, workspace_id: int, contact_id: int,
                            visitor_id: str) -> None:
    session.execute(update(Touchpoint).where(
        col(Touchpoint.workspace_id) == workspace_id, col(Touchpoint.visitor_id) == visitor_id,
        col(Touchpoint.contact_id).is_(None)).values(contact_id=contact_id))


def merge_contacts(*, session: Session, keep: Contact, drop: Contact) -> Contact:
    """Move everything of ``drop`` to ``keep``; the earlier ``contact`` event survives."""
    keep_id, drop_id = keep.id or 0, drop.id or 0
    for table in (ContactIdentity, Touchpoint, Message):
        session.execute(update(table).where(col(table.contact_id) == drop_id)
                        .values(contact_id=keep_id))
    events = session.exec(select(ConversionEvent).where(
        col(ConversionEvent.contact_id).in_([keep_id, drop_id]),
        col(ConversionEvent.kind).in_([EventKind.contact, EventKind.qualified]))
        .order_by(col(ConversionEvent.at), col(ConversionEvent.id))).all()
    seen: set[str] = set()
    for event in events:
        if event.kind in seen:
            session.delete(event)  # one contact and one qualified event per person
        seen.add(event.kind)
    session.execute(update(ConversionEvent).where(col(ConversionEvent.contact_id) == drop_id)
                    .values(contact_id=keep_id))
    keep.email = keep.email or drop.email
    keep.phone = keep.phone or drop.phone
    keep.name = keep.name or drop.name
    keep.assignee_id = keep.assignee_id or drop.assignee_id
    if keep.status == ContactStatus.new:
        keep.status = drop.status  # a merged buyer stays won, a conversation stays talking
    keep.created_at = min(keep.created_at, drop.created_at)
    if drop.last_message_at and (keep.last_message_at is None
                                 or drop.last_message_at > keep.last_message_at):
        keep.last_message_at = drop.last_message_at
    # The old id keeps naming this person (a shop may have stored it); chains stay flat.
    session.execute(update(ContactMerge).where(col(ContactMerge.contact_id) == drop_id)
                    .values(contact_id=keep_id))
    session.add(ContactMerge(merged_id=drop_id, workspace_id=keep.workspace_id,
                             contact_id=keep_id))
    session.flush()
    session.delete(drop)
    session.flush()
    credits.refresh(session, contact_ids=[keep_id])
    audit.record(session=session, action="contact.merged", entity="contact", entity_id=keep_id,
                 actor_id=None, workspace_id=keep.workspace_id, before={"merged": drop_id})
    return keep


@dataclass(frozen=True)
class Recorded:
    event: ConversionEvent
    created: bool


def record_event(*, session: Session, contact: Contact, kind: EventKind, source: str,
                 at: datetime | None = None, external_id: str | None = None,
                 amount_cents: int = 0, currency: str = "",
                 actor_id: int | None = None) -> Recorded:
    """A qualified or sale event; idempotent on (workspace, kind, external id).

    A sale's external id is its order id and is required: the same order arriving by the
    shop webhook, the API and the inbox is one sale. A contact is qualified once: a second
    ``qualified`` returns the first.
    """
    if kind not in (EventKind.qualified, EventKind.sale):
        raise Invalid.at("kind", "Only 'qualified' and 'sale' can be recorded.")
    external_id = (external_id or "").strip()[:120] or None
    currency = currency.strip().upper()
    if kind == EventKind.sale:
        if external_id is None:
            raise Invalid.at("order_id", "A sale needs its order id (it makes resending safe).")
        if amount_cents < 0:
            raise Invalid.at("amount", "A sale amount cannot be negative.")
        if not _CURRENCY_RE.match(currency):
            raise Invalid.at("currency", "A sale needs a three-letter currency (e.g. EUR).")
    ws = contact.workspace_id
    if external_id is not None:
        existing = find_event(session=session, workspace_id=ws, kind=kind,
                              external_id=external_id)
        if existing is not None:
            return Recorded(existing, False)
    if kind == EventKind.qualified:
        earlier = session.exec(select(ConversionEvent).where(
            ConversionEvent.contact_id == contact.id,
            ConversionEvent.kind == EventKind.qualified)).first()
        if earlier is not None:
            return Recorded(earlier, False)
    event = ConversionEvent(workspace_id=ws, contact_id=contact.id or 0, kind=kind,
                            at=at or utcnow(), source=source, external_id=external_id,
                            amount_cents=amount_cents if kind == EventKind.sale else 0,
                            currency=currency if kind == EventKind.sale else "",
                            actor_id=actor_id)
    try:
        with session.begin_nested():
            session.add(event)
    except IntegrityError:
        # A concurrent delivery of the same external id (by any route) won the race.
        existing = find_event(session=session, workspace_id=ws, kind=kind,
                              external_id=external_id or "")
        if existing is None:
            raise
        return Recorded(existing, False)
    credits.refresh(session, event_ids=[event.id or 0])
    session.expire(event, list(_CREDIT_FIELDS))
    _advance_status(contact, kind)
    audit.record(session=session, action=f"contact.{kind}", entity="contact",
                 entity_id=contact.id, actor_id=actor_id, workspace_id=ws,
                 after={"source": source, "external_id": external_id,
                        "amount_cents": event.amount_cents, "currency": event.currency})
    return Recorded(event, True)


_CREDIT_FIELDS = ("first_touch_id", "first_account_id", "first_post_id", "last_touch_id",
                  "last_account_id", "last_post_id")


def find_event(*, session: Session, workspace_id: int, kind: EventKind,
               external_id: str) -> ConversionEvent | None:
    """The event of ``kind`` with this external id (a sale's order id), by any source."""
    return session.exec(select(ConversionEvent).where(
        ConversionEvent.workspace_id == workspace_id, ConversionEvent.kind == kind,
        ConversionEvent.external_id == external_id)).first()


INBOX_SALE_KEY_RE = re.compile(r"^[A-Za-z0-9_-]{8,40}$")


def inbox_order_id(*, contact_id: int, order_id: str, form_key: str) -> str:
    """The order id of a sale recorded in the inbox: the one given, or a stable one.

    The contact page carries a random key generated when it is shown, so submitting the
    same form twice (a double click, a reload) records one sale, while a new sale entered
    later gets a new id. A sale the shop also reports should be entered with the shop's
    order id, so the two are one sale.
    """
    order_id = order_id.strip()
    if order_id:
        return order_id[:120]
    if not INBOX_SALE_KEY_RE.match(form_key):
        raise Invalid.at("order_id", "Give the order id of this sale.")
    return f"inbox-{contact_id}-{form_key}"


def _advance_status(contact: Contact, kind: EventKind) -> None:
    if kind == EventKind.sale:
        contact.status = ContactStatus.won
    elif contact.status in (ContactStatus.new, ContactStatus.talking):
        contact.status = ContactStatus.qualified


def set_status(*, session: Session, contact: Contact, status: ContactStatus,
               actor_id: int | None, now: datetime | None = None) -> Contact:
    """Status from the inbox; 'qualified' (or later) records the qualified event once."""
    before = str(contact.status)
    if status in (ContactStatus.qualified, ContactStatus.won):
        record_event(session=session, contact=contact, kind=EventKind.qualified, source="inbox",
                     at=now, actor_id=actor_id)
    contact.status = status
    audit.record(session=session, action="contact.status", entity="contact",
                 entity_id=contact.id, actor_id=actor_id, workspace_id=contact.workspace_id,
                 before={"status": before}, after={"status": str(status)})
    return contact


def team(*, session: Session, workspace_id: int) -> list[User]:
    """Who a conversation can be assigned to: members above viewer."""
    return list(session.exec(select(User).join(Membership, col(Membership.user_id) == col(User.id))
                             .where(Membership.workspace_id == workspace_id,
                                    Membership.role != Role.viewer)
                             .order_by(col(User.name), col(User.email))).all())


def assign(*, session: Session, contact: Contact, assignee_id: int | None,
           actor_id: int | None) -> Contact:
    before = contact.assignee_id
    contact.assignee_id = assignee_id
    audit.record(session=session, action="contact.assigned", entity="contact",
                 entity_id=contact.id, actor_id=actor_id, workspace_id=contact.workspace_id,
                 before={"assignee_id": before}, after={"assignee_id": assignee_id})
    return contact


@dataclass(frozen=True)
class CsvResult:
    created: int
    updated: int
    problems: list[str]


def import_csv(*, session: Session, workspace_id: int, data: str,
               now: datetime | None = None) -> CsvResult:
    """Rows with name, email, phone and optionally visitor_id; header row required."""
    reader = csv.DictReader(io.StringIO(data.lstrip("\ufeff")))
    headers = {h.strip().lower() for h in (reader.fieldnames or [])}
    if not headers & {"email", "phone", "visitor_id"}:
        raise Invalid.at("file", "The CSV needs a header row with email, phone or visitor_id.")
    created = updated = 0
    problems: list[str] = []
    for number, row in enumerate(reader, start=2):
        clean = {(k or "").strip().lower(): (v or "").strip() for k, v in row.items()}
        try:
            with session.begin_nested():
                _, new = identify(session=session, workspace_id=workspace_id, source="csv",
                                  name=clean.get("name", ""), now=now,
                                  identities={"email": clean.get("email", ""),
                                              "phone": clean.get("phone", ""),
                                              "visitor": clean.get("visitor_id", "")})
        except Invalid as exc:
            problems.append(f"line {number}: {exc.message}")
            continue
        created += new
        updated += not new
    return CsvResult(created, updated, problems)
