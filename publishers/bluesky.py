"""Bluesky (AT Protocol): a post is a record whose key (rkey) we choose and checkpoint first.

Because the rkey is fixed before the first send, a retry writes the same record key: the
server cannot create a second post, and ``getRecord`` tells whether the first one landed.
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
from publishers.dm import final_text
from publishers.validation import MediaRules, common_problems

log = logging.getLogger(__name__)

PUBLIC_API = "https://bsky.social"
POST_COLLECTION = "app.bsky.feed.post"
CREDENTIALS = ("identifier", "app_password")
TID_ALPHABET = "234567abcdefghijklmnopqrstuvwxyz"
# The PDS accepts a client-chosen post rkey only if its TID time is near the present
# (10 minutes); an older key that surely created nothing is replaced before resending.
RKEY_MAX_AGE_SECONDS = 8 * 60

# A URL with a scheme; trailing punctuation is not part of it.
_URL = regex.compile(r"(?<![\w/])https?://[^\s<>\"]*[^\s<>\".,;:!?)\]'}]", regex.I)
_MENTION = regex.compile(r"(?<![\w@])@([a-zA-Z0-9][a-zA-Z0-9.-]*\.[a-zA-Z]{2,})")


@dataclass
class _Session:
    did: str
    handle: str
    access_jwt: str
    refresh_jwt: str


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
    """Link facets (and mention facets for resolved handles) with UTF-8 byte offsets."""
    found: list[dict[str, Any]] = []
    for match in _URL.finditer(text):
        found.append(_facet(text, match.start(), match.end(),
                            {"$type": "app.bsky.richtext.facet#link", "uri": match.group()}))
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
    media_rules = MediaRules(max_items=4, max_bytes=1_000_000)

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
                fresh = self._refresh(key[0], current, timeout)
            if fresh is None:
                fresh = self._create_session(key[0], account, timeout)
            _sessions[key] = fresh
            return fresh

    def _create_session(self, base: str, account: AccountRef, timeout: float) -> _Session:
        resp = http.request("POST", f"{base}/xrpc/com.atproto.server.createSession",
                            timeout=timeout, json={
                                "identifier": self._identifier(account),
                                "password": account.credentials.get("app_password", "")})
        if resp.status_code in (400, 401) and _error_name(resp) in (
                "AuthenticationRequired", "AccountTakedown", "InvalidRequest", ""):
            raise AuthExpired(f"Bluesky refused the app password: {_reason(resp)}",
                              status=resp.status_code)
        http.classify(resp, platform="Bluesky", creates=False, idempotent=True,
                      reason=_reason, reset=_reset)
        return _session_from(http.json_or_empty(resp))

    def _refresh(self, base: str, current: _Session, timeout: float) -> _Session | None:
        resp = http.request("POST", f"{base}/xrpc/com.atproto.server.refreshSession",
                            timeout=timeout,
                            headers={"Authorization": f"Bearer {current.refresh_jwt}"})
        if not resp.ok:
            return None
        return _session_from(http.json_or_empty(resp))

    def _xrpc(self, method: str, nsid: str, account: AccountRef, *, timeout: float,
              creates: bool = False, **kwargs: Any) -> requests.Response:
        """An authenticated XRPC call; an expired access token is refreshed once."""
        base = http.base_url(account.api_base, PUBLIC_API)
        for attempt in range(2):
            current = self._session(account, timeout, renew=attempt > 0)
            headers = {"Authorization": f"Bearer {current.access_jwt}",
                       **kwargs.pop("headers", {})}
            resp = http.request(method, f"{base}/xrpc/{nsid}", timeout=timeout, creates=creates,
                                idempotent=True, headers=headers, **kwargs)
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
            try:
                existing = self._get_record(account, ctx.state.get("did") or current.did,
                                            ctx.state["rkey"], timeout)
                surely_absent = existing is None
            except OutcomeUnknown:
                existing, surely_absent = None, False
            if existing is not None:
                return existing
            if surely_absent and time.time() - tid_time(ctx.state["rkey"]) > RKEY_MAX_AGE_SECONDS:
                for stale in ("rkey", "created_at"):
                    ctx.state.pop(stale, None)
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
        if content.media:
            record["embed"] = {"$type": "app.bsky.embed.images", "images": [
                {"alt": item.alt_text, "image": self._upload(item.path, item.mime_type, account,
                                                             timeout)}
                for item in content.media]}
        if not ctx.state.get("rkey"):
            ctx.state.update(rkey=new_tid(), did=current.did, handle=current.handle,
                             created_at=record["createdAt"])
            ctx.checkpoint(ctx.state)
        rkey = ctx.state["rkey"]
        resp = self._xrpc("POST", "com.atproto.repo.createRecord", account, timeout=timeout,
                          creates=True, json={"repo": ctx.state["did"],
                                              "collection": POST_COLLECTION,
                                              "rkey": rkey, "record": record})
        if not resp.ok and (resp.status_code >= 500 or "exist" in _reason(resp).lower()):
            # PDSes answer a repeated rkey with an error (some with a 500): look first.
            existing = self._get_record(account, ctx.state["did"], rkey, timeout)
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
        did = ctx.state.get("did") or self._session(account, ctx.timeout_seconds).did
        return self._get_record(account, did, rkey, ctx.timeout_seconds)

    # --- helpers ----------------------------------------------------------------------------

    def _get_record(self, account: AccountRef, did: str, rkey: str,
                    timeout: float) -> PublishResult | None:
        base = http.base_url(account.api_base, PUBLIC_API)
        resp = http.request("GET", f"{base}/xrpc/com.atproto.repo.getRecord", timeout=timeout,
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

    def _upload(self, path: str, mime_type: str, account: AccountRef,
                timeout: float) -> dict[str, Any]:
        with open(path, "rb") as handle:
            data = handle.read()
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


def _session_from(body: dict[str, Any]) -> _Session:
    return _Session(did=str(body.get("did", "")), handle=str(body.get("handle", "")),
                    access_jwt=str(body.get("accessJwt", "")),
                    refresh_jwt=str(body.get("refreshJwt", "")))


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
