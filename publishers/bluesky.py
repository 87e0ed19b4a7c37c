"""Bluesky (AT Protocol): a post is a record whose key (rkey) we choose and checkpoint first.

Because the rkey is fixed before the first send and kept for every retry, a retry writes the
same record key: the server cannot create a second post, and ``getRecord`` tells whether the
first one landed. A record key only has to be a valid TID (lexicons/app/bsky/feed/post.json
``"key": "tid"``; https://atproto.com/specs/record-key): no rule ties it to the present.

Writes go to the account's own PDS, named by the ``#atproto_pds`` service of its DID
document (https://atproto.com/specs/did). The handle is resolved to a DID and its document
read before signing in, so an account on a third-party PDS works without anyone typing the
PDS's URL; the DID document ``createSession`` returns has the final word on where to write.
"""

from __future__ import annotations

import logging
import os
import random
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote, urlsplit

import regex
import requests

from publishers import http
from publishers.base import (
    AccountRef,
    AuthExpired,
    Content,
    OutcomeUnknown,
    Problem,
    PublishContext,
    PublishError,
    PublishResult,
    Transient,
)
from publishers.dm import final_text, tagged_link
from publishers.imagesize import image_size
from publishers.validation import MediaRules, common_problems

log = logging.getLogger(__name__)

PUBLIC_API = "https://bsky.social"
PLC_DIRECTORY = "https://plc.directory"
POST_COLLECTION = "app.bsky.feed.post"
CREDENTIALS = ("identifier", "app_password")
TID_ALPHABET = "234567abcdefghijklmnopqrstuvwxyz"
# lexicons/app/bsky/embed/images.json: image maxSize 1000000 bytes, at most 4 images.
BLOB_MAX_BYTES = 1_000_000
# lexicons/app/bsky/richtext/facet.json #tag: maxLength 640 bytes, maxGraphemes 64.
TAG_MAX_GRAPHEMES = 64

# A URL with a scheme; trailing punctuation is not part of it.
_URL = regex.compile(r"(?<![\w/])https?://[^\s<>\"]*[^\s<>\".,;:!?)\]'}]", regex.I)
_MENTION = regex.compile(r"(?<![\w@])@([a-zA-Z0-9][a-zA-Z0-9.-]*\.[a-zA-Z]{2,})")
# A hashtag as the Bluesky app finds it: # then a tag that is not only digits, trailing
# punctuation dropped (social-app's richtext detection); not inside a word or a URL.
_TAG = regex.compile(r"(?<![\w&/#])[#＃](?!\d+\b)([^\s\p{P}\p{S}]*(?:[\p{Pc}\p{Pd}]"
                     r"[^\s\p{P}\p{S}]+)*)", regex.UNICODE)
_LANG = regex.compile(r"^[a-zA-Z]{2,3}(?:-[a-zA-Z0-9]{2,8})*$")


@dataclass
class _Session:
    did: str
    handle: str
    access_jwt: str
    refresh_jwt: str
    pds: str  # where this account's repo lives: every call after sign-in goes here


_sessions: dict[tuple[str, str], _Session] = {}
_session_locks: dict[tuple[str, str], threading.Lock] = {}
_locks_guard = threading.Lock()
_clock_id = random.SystemRandom().randrange(1024)


def new_tid(now_us: int | None = None) -> str:
    """A TID: 53 bits of microseconds since 1970 and a 10-bit clock id, base32-sortable."""
    micros = now_us if now_us is not None else time.time_ns() // 1000
    value = (micros << 10) | _clock_id
    chars = []
    for _ in range(13):
        chars.append(TID_ALPHABET[value & 31])
        value >>= 5
    return "".join(reversed(chars))


def tid_time(tid: str) -> float:
    """The epoch seconds a TID was made at."""
    value = 0
    for char in tid:
        value = (value << 5) | TID_ALPHABET.index(char)
    return (value >> 10) / 1_000_000


def facets(text: str, mention_dids: dict[str, str] | None = None) -> list[dict[str, Any]]:
    """Link, #tag and mention (for resolved handles) facets with UTF-8 byte offsets."""
    found: list[dict[str, Any]] = []
    links = [(m.start(), m.end()) for m in _URL.finditer(text)]
    for start, end in links:
        found.append(_facet(text, start, end,
                            {"$type": "app.bsky.richtext.facet#link", "uri": text[start:end]}))
    for match in _TAG.finditer(text):
        tag = match.group(1)
        inside_link = any(start <= match.start() < end for start, end in links)
        if not tag or inside_link or len(regex.findall(r"\X", tag)) > TAG_MAX_GRAPHEMES \
                or len(tag.encode()) > 640:
            continue
        found.append(_facet(text, match.start(), match.end(),
                            {"$type": "app.bsky.richtext.facet#tag", "tag": tag}))
    for match in _MENTION.finditer(text):
        did = (mention_dids or {}).get(match.group(1).lower())
        if did:
            found.append(_facet(text, match.start(), match.end(),
                                {"$type": "app.bsky.richtext.facet#mention", "did": did}))
    return sorted(found, key=lambda facet: facet["index"]["byteStart"])


def _facet(text: str, start: int, end: int, feature: dict[str, str]) -> dict[str, Any]:
    byte_start = len(text[:start].encode("utf-8"))
    byte_end = byte_start + len(text[start:end].encode("utf-8"))
    return {"index": {"byteStart": byte_start, "byteEnd": byte_end}, "features": [feature]}


def mentions(text: str) -> list[str]:
    return sorted({match.group(1).lower() for match in _MENTION.finditer(text)})


def _reason(resp: requests.Response) -> str:
    body = http.json_or_empty(resp)
    return str(body.get("message") or body.get("error") or "")


def _reset(resp: requests.Response) -> datetime:
    return http.reset_at(resp.headers, epoch="ratelimit-reset")


def _error_name(resp: requests.Response) -> str:
    return str(http.json_or_empty(resp).get("error", ""))


class BlueskyPublisher:
    platform = "bluesky"
    media_rules = MediaRules(max_items=4, max_bytes=BLOB_MAX_BYTES)

    def validate(self, content: Content, account: AccountRef) -> list[Problem]:
        return common_problems(content, account, self.media_rules, CREDENTIALS)

    # --- sessions ---------------------------------------------------------------------------

    def _key(self, account: AccountRef) -> tuple[str, str]:
        return (http.base_url(account.api_base, PUBLIC_API), self._identifier(account))

    def _identifier(self, account: AccountRef) -> str:
        return account.credentials.get("identifier") or account.handle

    def _lock(self, key: tuple[str, str]) -> threading.Lock:
        with _locks_guard:
            return _session_locks.setdefault(key, threading.Lock())

    def _session(self, account: AccountRef, timeout: float, *, renew: bool = False) -> _Session:
        key = self._key(account)
        with self._lock(key):
            current = _sessions.get(key)
            if current is not None and not renew:
                return current
            fresh = None
            if current is not None:
                fresh = self._refresh(current, timeout)
            if fresh is None:
                fresh = self._create_session(key[0], account, timeout)
            _sessions[key] = fresh
            return fresh

    def _create_session(self, entry: str, account: AccountRef, timeout: float) -> _Session:
        identifier = self._identifier(account)
        # Sign in where the account lives; the entryway when that cannot be found out (an
        # e-mail address as identifier, resolution down): bsky.social signs in its own
        # accounts and its answer's didDoc still names their PDS.
        host = self.pds_of(identifier, account, timeout) or entry
        resp = http.request("POST", f"{host}/xrpc/com.atproto.server.createSession",
                            timeout=timeout, json={
                                "identifier": identifier,
                                "password": account.credentials.get("app_password", "")})
        if resp.status_code in (400, 401) and _error_name(resp) in (
                "AuthenticationRequired", "AccountTakedown", "InvalidRequest", ""):
            raise AuthExpired(f"Bluesky refused the app password: {_reason(resp)}",
                              status=resp.status_code)
        http.classify(resp, platform="Bluesky", creates=False, idempotent=True,
                      reason=_reason, reset=_reset)
        body = http.json_or_empty(resp)
        return _session_from(body, _pds_endpoint(body.get("didDoc"), trusted_like=host) or host)

    def _refresh(self, current: _Session, timeout: float) -> _Session | None:
        resp = http.request("POST", f"{current.pds}/xrpc/com.atproto.server.refreshSession",
                            timeout=timeout,
                            headers={"Authorization": f"Bearer {current.refresh_jwt}"})
        if not resp.ok:
            return None
        body = http.json_or_empty(resp)
        return _session_from(body, _pds_endpoint(body.get("didDoc"), trusted_like=current.pds)
                             or current.pds)

    def pds_of(self, identifier: str, account: AccountRef, timeout: float) -> str:
        """The PDS named in the DID document of a handle or DID; "" when it cannot be found.

        Handles resolve through the entryway (com.atproto.identity.resolveHandle); did:plc
        documents come from the PLC directory, did:web ones from the domain's
        /.well-known/did.json (https://atproto.com/specs/did). The sandbox serves all three
        on one plain-http base URL, which ``api_base`` then names.
        """
        entry = http.base_url(account.api_base, PUBLIC_API)
        did = identifier if identifier.startswith("did:") else ""
        try:
            if not did and "@" not in identifier and "." in identifier:
                resp = http.request("GET", f"{entry}/xrpc/com.atproto.identity.resolveHandle",
                                    timeout=timeout, params={"handle": identifier.lstrip("@")})
                did = str(http.json_or_empty(resp).get("did") or "") if resp.ok else ""
            url = did_document_url(did, entry)
            if not url:
                return ""
            resp = http.request("GET", url, timeout=timeout)
        except Transient:
            return ""
        if not resp.ok:
            return ""
        return _pds_endpoint(http.json_or_empty(resp), trusted_like=entry)

    def _xrpc(self, method: str, nsid: str, account: AccountRef, *, timeout: float,
              creates: bool = False, **kwargs: Any) -> requests.Response:
        """An authenticated XRPC call to the account's PDS; an expired token is renewed once."""
        for attempt in range(2):
            current = self._session(account, timeout, renew=attempt > 0)
            headers = {"Authorization": f"Bearer {current.access_jwt}",
                       **kwargs.pop("headers", {})}
            resp = http.request(method, f"{current.pds}/xrpc/{nsid}", timeout=timeout,
                                creates=creates, idempotent=True, headers=headers, **kwargs)
            expired = resp.status_code in (400, 401) and _error_name(resp) in (
                "ExpiredToken", "InvalidToken", "AuthenticationRequired")
            if not expired:
                return resp
            kwargs["headers"] = {k: v for k, v in headers.items() if k != "Authorization"}
        raise AuthExpired("Bluesky refused the session even after signing in again.",
                          status=resp.status_code)

    # --- the Protocol ---------------------------------------------------------------------

    def check_connection(self, account: AccountRef) -> str:
        current = self._session(account, 15.0, renew=True)
        resp = self._xrpc("GET", "app.bsky.actor.getProfile", account, timeout=15.0,
                          params={"actor": current.did})
        http.classify(resp, platform="Bluesky", creates=False, idempotent=True,
                      reason=_reason, reset=_reset)
        body = http.json_or_empty(resp)
        return str(body.get("displayName") or body.get("handle") or current.handle)

    def publish(self, content: Content, account: AccountRef, ctx: PublishContext) -> PublishResult:
        timeout = ctx.timeout_seconds
        current = self._session(account, timeout)
        if ctx.state.get("rkey"):
            # A retry: the earlier attempt may have landed; its record key tells. If the
            # check fails, creating is still safe: the same rkey cannot make a second post.
            # The key is never replaced: any TID stays valid, and a new one could post twice.
            try:
                existing = self._get_record(account, ctx.state.get("did") or current.did,
                                            ctx.state["rkey"], timeout,
                                            pds=ctx.state.get("pds") or current.pds)
            except OutcomeUnknown:
                existing = None
            if existing is not None:
                return existing
        text = final_text(content, account)
        record: dict[str, Any] = {
            "$type": POST_COLLECTION,
            "text": text,
            "createdAt": ctx.state.get("created_at") or _now_iso(),
        }
        resolved = self._resolve_mentions(text, account, timeout)
        found = facets(text, resolved)
        if found:
            record["facets"] = found
        langs = [lang for lang in content.langs if _LANG.match(lang)][:3]
        if langs:
            record["langs"] = langs  # post.json: maxLength 3, BCP-47 language tags
        if content.media:
            record["embed"] = {"$type": "app.bsky.embed.images", "images": [
                self._image(item.path, item.mime_type, item.alt_text, account, timeout)
                for item in content.media]}
        else:
            card = link_card(content, account)
            if card is not None:
                record["embed"] = card
        if not ctx.state.get("rkey"):
            ctx.state.update(rkey=new_tid(), did=current.did, handle=current.handle,
                             created_at=record["createdAt"], pds=current.pds)
            ctx.checkpoint(ctx.state)
        elif not ctx.state.get("did"):  # recorded by an older version: only the key
            ctx.state.update(did=current.did, handle=current.handle, pds=current.pds)
            ctx.checkpoint(ctx.state)
        rkey = ctx.state["rkey"]
        resp = self._xrpc("POST", "com.atproto.repo.createRecord", account, timeout=timeout,
                          creates=True, json={"repo": ctx.state["did"],
                                              "collection": POST_COLLECTION,
                                              "rkey": rkey, "record": record})
        if not resp.ok and (resp.status_code >= 500 or "exist" in _reason(resp).lower()):
            # PDSes answer a repeated rkey with an error (some with a 500): look first.
            existing = self._get_record(account, ctx.state["did"], rkey, timeout,
                                        pds=ctx.state.get("pds") or current.pds)
            if existing is not None:
                return existing
        http.classify(resp, platform="Bluesky", creates=True, idempotent=True,
                      reason=_reason, reset=_reset)
        body = http.json_or_empty(resp)
        return PublishResult(remote_id=str(body.get("uri") or _uri(ctx.state["did"], rkey)),
                             url=_post_url(ctx.state.get("handle") or current.handle, rkey))

    def find_existing(self, content: Content, account: AccountRef,
                      ctx: PublishContext) -> PublishResult | None:
        rkey = ctx.state.get("rkey")
        if not rkey:
            return None  # the key is checkpointed before any create, so none was sent
        pds = ctx.state.get("pds", "")
        did = ctx.state.get("did", "")
        if not pds or not did:
            current = self._session(account, ctx.timeout_seconds)
            pds, did = pds or current.pds, did or current.did
        return self._get_record(account, did, rkey, ctx.timeout_seconds, pds=pds)

    # --- helpers ----------------------------------------------------------------------------

    def _get_record(self, account: AccountRef, did: str, rkey: str, timeout: float, *,
                    pds: str) -> PublishResult | None:
        resp = http.request("GET", f"{pds}/xrpc/com.atproto.repo.getRecord", timeout=timeout,
                            params={"repo": did, "collection": POST_COLLECTION, "rkey": rkey})
        if resp.status_code in (400, 404) and _error_name(resp) in ("RecordNotFound", ""):
            return None
        try:
            http.classify(resp, platform="Bluesky", creates=False, idempotent=True,
                          reason=_reason, reset=_reset)
        except PublishError as exc:
            raise OutcomeUnknown(f"Could not check the Bluesky record: {exc.reason}",
                                 status=exc.status) from exc
        body = http.json_or_empty(resp)
        handle = account.handle or did
        return PublishResult(remote_id=str(body.get("uri") or _uri(did, rkey)),
                             url=_post_url(handle, rkey))

    def _image(self, path: str, mime_type: str, alt: str, account: AccountRef,
               timeout: float) -> dict[str, Any]:
        with open(path, "rb") as handle:
            data = handle.read()
        image: dict[str, Any] = {"alt": alt, "image": self._upload(data, path, mime_type,
                                                                    account, timeout)}
        size = image_size(data)
        if size is not None:
            # embed/images.json #aspectRatio (defs.json): width and height, both >= 1.
            image["aspectRatio"] = {"width": size[0], "height": size[1]}
        return image

    def _upload(self, data: bytes, path: str, mime_type: str, account: AccountRef,
                timeout: float) -> dict[str, Any]:
        resp = self._xrpc("POST", "com.atproto.repo.uploadBlob", account, timeout=timeout,
                          data=data, headers={"Content-Type": mime_type})
        http.classify(resp, platform="Bluesky", creates=False, idempotent=True,
                      reason=_reason, reset=_reset)
        blob = http.json_or_empty(resp).get("blob")
        if not isinstance(blob, dict):
            raise Transient(f"Bluesky did not return the uploaded image {os.path.basename(path)}")
        return blob

    def _resolve_mentions(self, text: str, account: AccountRef,
                          timeout: float) -> dict[str, str]:
        base = http.base_url(account.api_base, PUBLIC_API)
        resolved: dict[str, str] = {}
        for handle in mentions(text):
            try:
                resp = http.request("GET", f"{base}/xrpc/com.atproto.identity.resolveHandle",
                                    timeout=timeout, params={"handle": handle})
            except Transient:
                continue
            did = http.json_or_empty(resp).get("did") if resp.ok else None
            if did:
                resolved[handle] = str(did)
        return resolved

    # --- metrics (issue 15) -------------------------------------------------------------------

    def fetch_metrics(self, content_ref: str, account: AccountRef, *,
                      timeout: float = 15.0) -> dict[str, float]:
        """The post view's counts: GET app.bsky.feed.getPosts?uris=<at-uri>
        (https://docs.bsky.app/docs/api/app-bsky-feed-get-posts; postView likeCount,
        repostCount, replyCount, quoteCount, bookmarkCount in lexicons/app/bsky/feed/defs.json).
        Bluesky has no impressions. Read through the account's PDS, which proxies the AppView."""
        from publishers.metrics import LIKES, QUOTES, REPLIES, REPOSTS, SAVES, pick, read_refused

        resp = self._xrpc("GET", "app.bsky.feed.getPosts", account, timeout=timeout,
                          params={"uris": content_ref})
        http.classify(resp, platform="Bluesky", creates=False, idempotent=True,
                      reason=_reason, reset=_reset)
        posts = http.json_or_empty(resp).get("posts") or []
        found = [p for p in posts if isinstance(p, dict) and p.get("uri") == content_ref]
        if not found:
            raise read_refused("Bluesky", 404, "")
        return pick(found[0], {"likeCount": LIKES, "repostCount": REPOSTS,
                               "replyCount": REPLIES, "quoteCount": QUOTES,
                               "bookmarkCount": SAVES})

    def fetch_followers(self, account: AccountRef, *, timeout: float = 15.0) -> float:
        """The account's ``followersCount`` from app.bsky.actor.getProfile
        (https://docs.bsky.app/docs/api/app-bsky-actor-get-profile; profileViewDetailed in
        lexicons/app/bsky/actor/defs.json), read through the account's PDS."""
        from publishers.metrics import MetricsNotAvailable

        current = self._session(account, timeout)
        resp = self._xrpc("GET", "app.bsky.actor.getProfile", account, timeout=timeout,
                          params={"actor": current.did})
        http.classify(resp, platform="Bluesky", creates=False, idempotent=True,
                      reason=_reason, reset=_reset)
        value = http.json_or_empty(resp).get("followersCount")
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise MetricsNotAvailable("not available: Bluesky gave no followersCount")
        return float(value)


def _session_from(body: dict[str, Any], pds: str) -> _Session:
    return _Session(did=str(body.get("did", "")), handle=str(body.get("handle", "")),
                    access_jwt=str(body.get("accessJwt", "")),
                    refresh_jwt=str(body.get("refreshJwt", "")), pds=pds.rstrip("/"))


def did_document_url(did: str, entry: str) -> str:
    """Where a DID's document is read: the PLC directory for did:plc (the real one for any
    https entryway, bsky.social or a PDS someone typed; only the plain-http sandbox serves a
    directory itself), the domain's /.well-known/did.json for did:web; "" otherwise."""
    if did.startswith("did:plc:"):
        directory = entry if entry.startswith("http://") else PLC_DIRECTORY
        return f"{directory}/{quote(did, safe=':')}"
    if did.startswith("did:web:"):
        host = did.removeprefix("did:web:").replace("%3A", ":")
        if "/" in host or "@" in host:
            return ""
        return f"https://{host}/.well-known/did.json"
    return ""


def _pds_endpoint(doc: Any, *, trusted_like: str) -> str:
    """The ``#atproto_pds`` service endpoint of a DID document; "" when there is none.

    The document comes from outside: only an https URL is taken, or http when the server it
    came through is itself plain http (the loopback sandbox).
    """
    if not isinstance(doc, dict) or not isinstance(doc.get("service"), list):
        return ""
    for service in doc["service"]:
        if not isinstance(service, dict):
            continue
        ident = str(service.get("id", ""))
        if ident != "#atproto_pds" and not ident.endswith("#atproto_pds"):
            continue
        endpoint = str(service.get("serviceEndpoint") or "").rstrip("/")
        parts = urlsplit(endpoint)
        allowed = {"https"} | ({"http"} if trusted_like.startswith("http://") else set())
        if parts.scheme in allowed and parts.netloc and not parts.query and "@" not in \
                parts.netloc:
            return endpoint
    return ""


def link_card(content: Content, account: AccountRef) -> dict[str, Any] | None:
    """An app.bsky.embed.external card for the post's link (lexicons/app/bsky/embed/
    external.json: uri, title and description are required). The page itself is not fetched
    (no network call to a third party while publishing), so the card names the site."""
    link = tagged_link(content, account)
    if not link:
        return None
    host = urlsplit(content.link or link).netloc.removeprefix("www.")
    return {"$type": "app.bsky.embed.external",
            "external": {"uri": link, "title": host, "description": ""}}


def _now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _uri(did: str, rkey: str) -> str:
    return f"at://{did}/{POST_COLLECTION}/{rkey}"


def _post_url(handle: str, rkey: str) -> str:
    return f"https://bsky.app/profile/{handle}/post/{rkey}"


def forget_sessions() -> None:
    """Drop cached sessions (tests; or after an account is reconnected)."""
    with _locks_guard:
        _sessions.clear()
