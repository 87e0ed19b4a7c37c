"""Tracked links: a short code per (publication, product URL), and the redirect that counts.

The redirect path is deliberately thin: one indexed lookup of the code, one insert, no ORM
objects and no template. It only ever redirects to a URL stored for that code, so it can never
be used as an open redirect.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from dataclasses import dataclass
from datetime import datetime
from urllib.parse import parse_qsl, quote, urlencode, urlsplit, urlunsplit

from sqlalchemy import text
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, select

from planner.conversions import credits
from planner.db import utcnow
from planner.errors import Invalid, NotFound
from planner.models import Account, Post, Publication, Workspace
from planner.models_conversions import Touchpoint, TrackedLink
from planner.settings import get_settings
from publishers.dm import with_utm

CODE_RE = re.compile(r"^[A-Za-z0-9_-]{6,16}$")
VISITOR_RE = re.compile(r"^[A-Za-z0-9_-]{16,40}$")
VISITOR_COOKIE = "poise_vid"
VISITOR_PARAM = "poise_vid"  # appended to the landing URL for the shop
VISITOR_MAX_AGE = 365 * 24 * 3600
# Link-preview fetchers, crawlers, monitors and HTTP libraries: redirected, never counted.
# A person's browser says Mozilla/... and names none of these. The fediverse fetches a
# preview of every link from every instance a post reaches (Mastodon's "http.rb/5.x
# (Mastodon/4.x; +https://instance/)", Pleroma, Akkoma, Misskey ...), so those would
# otherwise count one "session" per instance.
_BOT_RE = re.compile(
    r"bot\b|bot/|crawl|spider|slurp|facebookexternalhit|facebookcatalog|meta-externalagent|"
    r"embedly|iframely|cardyb|whatsapp|preview|bitly|vkshare|pinterest|headless|monitor|"
    r"scanner|validator|outbrain|quora link|skypeuripreview|"
    r"\bhttp\.rb/|\(mastodon/|pleroma|akkoma|misskey|gotosocial|friendica|"
    r"^curl/|^wget/|python-requests|python-urllib|python-httpx|aiohttp|^go-http-client|"
    r"okhttp|^java/|apache-httpclient|node-fetch|undici|axios/|libwww-perl|^ruby\b|"
    r"feedfetcher|^postmanruntime",
    re.IGNORECASE)


def is_bot(user_agent: str | None, method: str = "GET") -> bool:
    """True for HEAD requests, an empty user agent and anything that calls itself a bot."""
    if method.upper() == "HEAD" or not user_agent or not user_agent.strip():
        return True
    return bool(_BOT_RE.search(user_agent))


CODE_LENGTH = 9  # the composer counts a same-length placeholder before the code exists


def new_code() -> str:
    return secrets.token_urlsafe(7)[:CODE_LENGTH]  # 9 URL-safe characters, 54 random bits


def new_visitor_id() -> str:
    return secrets.token_urlsafe(16)


def short_url(code: str) -> str:
    return f"{get_settings().public_base_url.rstrip('/')}/r/{code}"


def _url_hash(url: str) -> str:
    return hashlib.sha256(url.encode()).hexdigest()


def tracked_link_for(session: Session, publication: Publication, url: str) -> str:
    """``{public_base_url}/r/{code}`` for ``url`` in ``publication``; the same code every time."""
    url = url.strip()
    if not url.lower().startswith(("http://", "https://")):
        raise Invalid.at("url", "A tracked link needs an http(s) URL.")
    link = _existing(session, publication.id or 0, url)
    if link is None:
        link = _create(session, publication, url)
    return short_url(link.code)


def tracked_links_for(session: Session, publication: Publication,
                      post: Post) -> tuple[tuple[str, str], ...]:
    """(product URL, short URL) for the post's link and its DM prompt's product link."""
    urls = [url for url in (post.link, post.dm_product_url)
            if url and url.strip().lower().startswith(("http://", "https://"))]
    return tuple((url, tracked_link_for(session, publication, url))
                 for url in dict.fromkeys(urls))


def _existing(session: Session, publication_id: int, url: str) -> TrackedLink | None:
    return session.exec(select(TrackedLink).where(
        TrackedLink.publication_id == publication_id,
        TrackedLink.url_hash == _url_hash(url))).first()


def _create(session: Session, publication: Publication, url: str) -> TrackedLink:
    account = session.get(Account, publication.account_id)
    workspace = session.get(Workspace, publication.workspace_id)
    if account is None or workspace is None:
        raise NotFound("The publication's account or workspace is gone.")
    target = with_utm(url, source=account.platform, campaign=workspace.utm_campaign,
                      content=str(publication.post_id))
    for _ in range(5):
        link = TrackedLink(code=new_code(), workspace_id=publication.workspace_id,
                           publication_id=publication.id or 0, post_id=publication.post_id,
                           account_id=publication.account_id, url=url, url_hash=_url_hash(url),
                           target_url=target)
        try:
            with session.begin_nested():
                session.add(link)
            return link
        except IntegrityError:
            # Either the code collided (try another) or a concurrent caller created this link.
            found = _existing(session, publication.id or 0, url)
            if found is not None:
                return found
    raise RuntimeError("could not allocate a unique tracked-link code")


@dataclass(frozen=True)
class Redirect:
    target_url: str
    visitor_id: str
    set_cookie: bool
    counted: bool


_LOOKUP = text("SELECT id, workspace_id, publication_id, post_id, account_id, target_url "
               "FROM trackedlink WHERE code = :code")
_VISITOR_CONTACT = text("SELECT contact_id FROM contactidentity "
                        "WHERE workspace_id = :ws AND kind = 'visitor' AND value = :vid")


def follow(engine: Engine, *, code: str, visitor_id: str | None, user_agent: str | None,
           referrer: str | None, method: str = "GET", now: datetime | None = None) -> Redirect:
    """Resolve ``code`` and, for a person (not a bot), record a session touchpoint."""
    if not CODE_RE.match(code):
        raise NotFound("This link does not exist.")
    known = visitor_id if visitor_id and VISITOR_RE.match(visitor_id) else None
    vid = known or new_visitor_id()
    bot = is_bot(user_agent, method)
    with engine.connect() as conn:
        row = conn.execute(_LOOKUP, {"code": code}).first()
        conn.rollback()
        if row is None:
            raise NotFound("This link does not exist.")
        if bot:
            return Redirect(target_url=row.target_url, visitor_id=vid, set_cookie=False,
                            counted=False)
        if conn.dialect.name == "sqlite":
            # Take the write lock up front: a read lock upgraded mid-transaction would fail
            # at once under concurrent writers instead of waiting for the busy timeout.
            conn.info["sqlite_begin"] = "BEGIN IMMEDIATE"
        at = now or utcnow()
        with conn.begin():
            contact_id = conn.execute(_VISITOR_CONTACT,
                                      {"ws": row.workspace_id, "vid": vid}).scalar() \
                if known else None
            conn.execute(Touchpoint.__table__.insert().values(  # type: ignore[attr-defined]
                workspace_id=row.workspace_id, kind="session", at=at,
                contact_id=contact_id, visitor_id=vid, account_id=row.account_id,
                publication_id=row.publication_id, post_id=row.post_id, link_id=row.id,
                referrer=(referrer or "")[:500]))
            if contact_id is not None:
                # Only events at or after this click can see it (usually none).
                credits.refresh(conn, contact_ids=[contact_id], since=at)
    return Redirect(target_url=with_visitor(row.target_url, vid), visitor_id=vid,
                    set_cookie=known is None, counted=True)


def with_visitor(url: str, visitor_id: str) -> str:
    """The landing URL carrying the visitor id, so the shop (on its own domain, where our
    cookie is not readable) can send it back with a contact or an order."""
    parts = urlsplit(url)
    kept = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True)
            if k != VISITOR_PARAM]
    query = urlencode([*kept, (VISITOR_PARAM, visitor_id)], quote_via=quote)
    return urlunsplit((parts.scheme, parts.netloc, parts.path, query, parts.fragment))

