"""The inbox: DMs that prompts produce, replies through the platforms' DM APIs, auto-replies.

A DM is attributed to a post when it names the post's DM keyword (case-insensitive, whole
word) or carries its Messenger/Instagram ``ref``: the most recent published publication of
that post on the receiving account gets a ``dm`` touchpoint.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import tweepy
from sqlalchemy import or_
from sqlmodel import Session, col, func, select

from planner.accounts import decrypt_credentials
from planner.conversions import contacts as contacts_service
from planner.conversions import credits
from planner.conversions.links import tracked_link_for
from planner.db import utcnow
from planner.errors import Invalid
from planner.models import Account, Post, Publication, PublicationStatus, User
from planner.models_conversions import (
    AutoReply,
    Contact,
    ContactIdentity,
    ContactStatus,
    ConversionSettings,
    Message,
    Touchpoint,
)
from planner.settings import get_settings
from publishers import http
from publishers.x import RebasedSession

log = logging.getLogger(__name__)

DM_PLATFORMS = {"x": "X", "facebook": "Messenger", "instagram": "Instagram"}
GRAPH_API = "https://graph.facebook.com"
INSTAGRAM_LOGIN_API = "https://graph.instagram.com"
X_API = "https://api.twitter.com"
_REF_POST_RE = re.compile(r"_(\d+)$")


@dataclass
class Inbound:
    contact: Contact
    message: Message
    duplicate: bool = False
    publication: Publication | None = None
    touchpoint: Touchpoint | None = None
    auto_reply: Message | None = None
    notes: list[str] = field(default_factory=list)


def keyword_matches(keyword: str, text: str) -> bool:
    keyword = keyword.strip()
    if not keyword:
        return False
    return re.search(rf"(?<!\w){re.escape(keyword)}(?!\w)", text, re.IGNORECASE) is not None


def prompt_publication(*, session: Session, account: Account, text: str = "",
                       ref: str = "") -> Publication | None:
    """The most recent published publication on ``account`` whose prompt this DM answers."""
    rows = session.exec(
        select(Publication, Post).join(Post, col(Post.id) == col(Publication.post_id))
        .where(Publication.account_id == account.id,
               Publication.status == PublicationStatus.published, Post.dm_keyword != "")
        .order_by(col(Publication.published_at).desc(), col(Publication.id).desc())
        .limit(500)).all()
    ref_post = _REF_POST_RE.search(ref.strip())
    if ref_post:
        for publication, post in rows:
            if post.id == int(ref_post.group(1)):
                return publication
    for publication, post in rows:
        if keyword_matches(post.dm_keyword, text) or (ref and keyword_matches(
                post.dm_keyword, ref.replace("_", " ").replace("-", " "))):
            return publication
    return None


def record_dm(*, session: Session, account: Account, sender_id: str, text: str,
              remote_id: str | None = None, ref: str = "", sender_name: str = "",
              at: datetime | None = None, auto_reply: bool = True) -> Inbound:
    """Store an incoming DM, find or create its contact, attribute it, maybe auto-reply."""
    at = at or utcnow()
    ws = account.workspace_id
    if remote_id:
        existing = session.exec(select(Message).where(
            Message.workspace_id == ws, Message.channel == account.platform,
            Message.remote_id == remote_id)).first()
        if existing is not None:
            contact = contacts_service.get_contact(session=session, workspace_id=ws,
                                                   contact_id=existing.contact_id)
            return Inbound(contact=contact, message=existing, duplicate=True)
    contact, _ = contacts_service.identify(
        session=session, workspace_id=ws, identities={account.platform: sender_id},
        name=sender_name, source="dm", now=at)
    publication = prompt_publication(session=session, account=account, text=text, ref=ref)
    message = Message(workspace_id=ws, contact_id=contact.id or 0, account_id=account.id,
                      post_id=publication.post_id if publication else None,
                      channel=account.platform, direction="in", kind="dm", delivery="received",
                      text=text, remote_id=remote_id, at=at)
    session.add(message)
    contact.last_message_at = max(at, contact.last_message_at or at)
    result = Inbound(contact=contact, message=message, publication=publication)
    untouched = session.exec(select(Touchpoint.id).where(
        Touchpoint.contact_id == contact.id)).first() is None
    if publication is not None or untouched:
        # A prompt's DM is a touch on its channel; so is the first DM of someone never seen.
        result.touchpoint = Touchpoint(
            workspace_id=ws, kind="dm", at=at, contact_id=contact.id, account_id=account.id,
            publication_id=publication.id if publication else None,
            post_id=publication.post_id if publication else None)
        session.add(result.touchpoint)
        # The new touch can be the first or last one of the contact's events from ``at`` on
        # (the contact event of someone new is at ``at`` too).
        credits.refresh(session, contact_ids=[contact.id or 0], since=at)
    session.flush()
    if auto_reply and publication is not None:
        result.auto_reply = _auto_reply(session, account, contact, publication, at)
    return result


def settings_for(session: Session, workspace_id: int) -> ConversionSettings:
    row = session.exec(select(ConversionSettings).where(
        ConversionSettings.workspace_id == workspace_id)).first()
    if row is None:
        row = ConversionSettings(workspace_id=workspace_id)
        session.add(row)
        session.flush()
    return row


def auto_reply_of(session: Session, post_id: int) -> AutoReply | None:
    return session.exec(select(AutoReply).where(AutoReply.post_id == post_id)).first()


def set_auto_reply(*, session: Session, post: Post, enabled: bool, text: str = "") -> AutoReply:
    if enabled and not post.dm_product_url:
        raise Invalid.at("enabled", "This prompt has no product link to answer with.")
    rule = auto_reply_of(session, post.id or 0)
    if rule is None:
        rule = AutoReply(workspace_id=post.workspace_id, post_id=post.id or 0)
        session.add(rule)
    rule.enabled = enabled
    rule.text = text.strip()[:500]
    session.flush()
    return rule


def _auto_reply(session: Session, account: Account, contact: Contact,
                publication: Publication, now: datetime) -> Message | None:
    post = session.get(Post, publication.post_id)
    rule = auto_reply_of(session, publication.post_id)
    if post is None or rule is None or not rule.enabled or not post.dm_product_url:
        return None
    hours = settings_for(session, account.workspace_id).auto_reply_cooldown_hours
    recent = session.exec(select(Message.id).where(
        Message.contact_id == contact.id, Message.kind == "auto",
        col(Message.at) > now - timedelta(hours=hours))).first()
    if recent is not None:
        return None  # at most one auto-reply per contact per cooldown, whichever the prompt
    link = tracked_link_for(session, publication, post.dm_product_url)
    template = rule.text or "Thanks for your message! Here is the link: {link}"
    text = template.replace("{link}", link) if "{link}" in template else f"{template} {link}"
    # Stored ``pending`` with the DM; whoever commits them sends it afterwards with no
    # transaction open (``replies.send_auto_replies``). It counts for the cooldown at once.
    message = Message(workspace_id=contact.workspace_id, contact_id=contact.id or 0,
                      account_id=account.id, post_id=post.id, channel=account.platform,
                      direction="out", kind="auto", text=text[:10000], at=now)
    if account.platform in DM_PLATFORMS and recipient_of(session, contact, account.platform):
        message.delivery = "pending"
    else:
        message.kind, message.delivery, message.channel = "note", "note", "note"
        message.error = (f"{DM_PLATFORMS.get(account.platform, account.platform)} has no DM "
                         "API Poise can use for this contact; the auto-reply was kept as a "
                         "note.")
    session.add(message)
    session.flush()
    return message


def recipient_of(session: Session, contact: Contact, platform: str) -> str:
    from planner.models_conversions import ContactIdentity

    identity = session.exec(select(ContactIdentity).where(
        ContactIdentity.contact_id == contact.id, ContactIdentity.kind == platform)).first()
    return identity.value if identity else ""


def _deliver(account: Account, recipient: str, text: str) -> str | None:
    creds = decrypt_credentials(account.credentials_enc)
    if account.platform == "x":
        client = x_client(account, creds)
        response = client.create_direct_message(participant_id=recipient, text=text,
                                                user_auth=bool(creds.get("access_token_secret")))
        data: Any = response.data or {}
        return str(data.get("dm_event_id") or "") or None
    url, token = _send_api(account, creds)
    resp = http.session().post(url, timeout=15, params={"access_token": token},
                               json={"recipient": {"id": recipient},
                                     "messaging_type": "RESPONSE", "message": {"text": text}})
    if resp.status_code >= 400:
        error = http.json_or_empty(resp).get("error")
        error = error if isinstance(error, dict) else {}
        if int(error.get("code") or 0) in _PERMISSION_CODES:
            needed = "instagram_manage_messages" if account.platform == "instagram" \
                else "pages_messaging"
            raise ValueError(f"Meta refused the reply: the app needs the {needed} permission "
                             f"for this account; reconnect it ({str(error.get('message'))[:150]})")
        raise ValueError(f"Graph answered HTTP {resp.status_code}: {resp.text[:200]}")
    return str(http.json_or_empty(resp).get("message_id") or "") or None


# Graph permission errors: 10, 200-299 (e.g. 230 "Requires pages_messaging permission").
_PERMISSION_CODES = {10} | set(range(200, 300))


def _send_api(account: Account, creds: dict[str, str]) -> tuple[str, str]:
    """Where a reply goes, and with which token (issue 11).

    Messenger and Instagram with Facebook Login both send from the *Page*: ``POST
    /{page-id}/messages`` with the page access token (Messenger Platform Send API; Instagram
    Messaging, "POST /<PAGE_ID>/messages"), needing pages_messaging resp.
    instagram_manage_messages. An Instagram account's own id is not a sender: its Page is,
    and the page token stands for it as ``me`` when the page id was not kept. Instagram
    Login accounts send as ``/me/messages`` on graph.instagram.com with their own token.
    """
    version = creds.get("graph_version") or get_settings().meta_graph_version
    if account.platform == "instagram" and creds.get("instagram_user_token"):
        base = http.base_url(account.api_base, INSTAGRAM_LOGIN_API)
        return f"{base}/{version}/me/messages", creds["instagram_user_token"]
    base = http.base_url(account.api_base, GRAPH_API)
    if account.platform == "facebook":
        sender = account.external_id or creds.get("page_id", "") or "me"
        return f"{base}/{version}/{sender}/messages", creds.get("page_access_token", "")
    sender = creds.get("page_id") or "me"
    return f"{base}/{version}/{sender}/messages", creds.get("access_token", "")


def x_client(account: Account, creds: dict[str, str] | None = None) -> tweepy.Client:
    """tweepy's Client, its fixed host rebased onto the account's api_base (as publishers.x)."""
    creds = creds if creds is not None else decrypt_credentials(account.credentials_enc)
    if creds.get("access_token_secret"):
        client = tweepy.Client(consumer_key=creds.get("consumer_key"),
                               consumer_secret=creds.get("consumer_secret"),
                               access_token=creds.get("access_token"),
                               access_token_secret=creds.get("access_token_secret"))
    else:
        client = tweepy.Client(bearer_token=creds.get("access_token"))
    client.session = RebasedSession(account.api_base, 15.0)
    return client


# GET /2/dm_events: newest first, max_results 1-100, meta.next_token for the next page
# (pagination_token); there is no since_id, so a poll stops at the newest event it saw last
# time. X bills each event read. https://docs.x.com/x-api/direct-messages/lookup/introduction
DM_PAGE = 50
DM_MAX_PAGES = 5


def fetch_x_dms(account: Account, client: tweepy.Client | None = None) -> list[Any]:
    """The X DM events newer than the last poll's (the network part: call it with no
    transaction open). The first poll of an account reads one page only: older messages
    are not worth paying for."""
    if account.platform != "x":
        raise Invalid.at("account", "Only X accounts are polled for DMs.")
    client = client or x_client(account)
    oauth1 = bool(decrypt_credentials(account.credentials_enc).get("access_token_secret"))
    last_seen = int(account.dm_last_event_id) if account.dm_last_event_id.isdigit() else 0
    events: list[Any] = []
    token: str | None = None
    for _ in range(DM_MAX_PAGES if last_seen else 1):
        response = client.get_direct_message_events(
            event_types="MessageCreate", user_auth=oauth1, max_results=DM_PAGE,
            pagination_token=token,
            dm_event_fields=["id", "text", "sender_id", "created_at", "dm_conversation_id"])
        page = list(response.data or [])
        newer = [e for e in page if str(e.id).isdigit() and int(e.id) > last_seen]
        events.extend(newer)
        token = (response.meta or {}).get("next_token")
        if len(newer) < len(page) or not token:
            break  # reached what the last poll read, or the end
    return events


def record_x_dms(session: Session, account: Account, events: list[Any]) -> list[Inbound]:
    """Record fetched X DM events not seen yet (idempotent on event id); ``account`` must
    belong to ``session``."""
    if events:
        newest = max(int(e.id) for e in events)
        seen = int(account.dm_last_event_id) if account.dm_last_event_id.isdigit() else 0
        account.dm_last_event_id = str(max(newest, seen))
        session.add(account)
    results = []
    for event in sorted(events, key=lambda e: (e.created_at or utcnow(), e.id)):
        sender = str(event.sender_id or "")
        if not sender or sender == account.external_id:
            continue  # our own outgoing messages
        inbound = record_dm(session=session, account=account, sender_id=sender,
                            text=event.text or "", remote_id=str(event.id),
                            at=event.created_at or utcnow())
        if not inbound.duplicate:
            results.append(inbound)
    return results


def count_new(session: Session, workspace_id: int) -> int:
    """Contacts nobody has answered or triaged yet (status ``new``): the Inbox badge."""
    return int(session.exec(select(func.count()).select_from(Contact).where(
        Contact.workspace_id == workspace_id, Contact.status == ContactStatus.new)).one())


@dataclass(frozen=True)
class Conversation:
    contact: Contact
    last: Message | None
    post: Post | None
    assignee: User | None


def conversations(*, session: Session, workspace_id: int, status: str = "",
                  assignee: int | None = None, unassigned: bool = False, channel: str = "",
                  since: datetime | None = None, limit: int = 100,
                  offset: int = 0) -> list[Conversation]:
    """Contacts, latest message first. ``channel``: a platform the person has a sender id or
    a message on; ``since``: a message (or, for someone never messaged, the contact) since."""
    query = select(Contact).where(Contact.workspace_id == workspace_id)
    if status:
        query = query.where(Contact.status == status)
    if assignee is not None:
        query = query.where(Contact.assignee_id == assignee)
    elif unassigned:
        query = query.where(col(Contact.assignee_id).is_(None))
    if channel:
        query = query.where(or_(
            select(ContactIdentity.id).where(ContactIdentity.contact_id == Contact.id,
                                             ContactIdentity.kind == channel).exists(),
            select(Message.id).where(Message.contact_id == Contact.id,
                                     Message.channel == channel).exists()))
    if since is not None:
        query = query.where(func.coalesce(col(Contact.last_message_at),
                                          col(Contact.created_at)) >= since)
    people = list(session.exec(query.order_by(
        col(Contact.last_message_at).desc().nulls_last(), col(Contact.id).desc())
        .offset(offset).limit(limit)).all())
    ids = [c.id for c in people]
    last: dict[int, Message] = {}
    for message in session.exec(select(Message).where(col(Message.contact_id).in_(ids))
                                .order_by(col(Message.at), col(Message.id))).all():
        last[message.contact_id] = message
    started = {}
    for tp in session.exec(select(Touchpoint).where(
            col(Touchpoint.contact_id).in_(ids), col(Touchpoint.post_id).is_not(None))
            .order_by(col(Touchpoint.at).desc())).all():
        started[tp.contact_id] = tp.post_id
    posts = {p.id: p for p in session.exec(select(Post).where(
        col(Post.id).in_(list(started.values())))).all()}
    users = {u.id: u for u in session.exec(select(User).where(
        col(User.id).in_([c.assignee_id for c in people if c.assignee_id]))).all()}
    return [Conversation(contact=c, last=last.get(c.id or 0),
                         post=posts.get(started.get(c.id)),
                         assignee=users.get(c.assignee_id)) for c in people]
