"""X (Twitter): tweepy's Client.create_tweet, rebased onto ``account.api_base`` when set.

X has no idempotency key: a create whose answer is lost is an unknown outcome, and a 403
"duplicate content" on a retry is a clue that the first attempt landed, not proof.
"""

from __future__ import annotations

import html
import logging
import threading
import time
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import regex
import requests
import tweepy
from requests.auth import AuthBase
from requests_oauthlib import OAuth1

from publishers import http, transport
from publishers.base import (
    AccountHeld,
    AccountRef,
    AuthExpired,
    Content,
    ContentRejected,
    Identity,
    MediaFile,
    OutcomeUnknown,
    Problem,
    PublishContext,
    PublishError,
    PublishResult,
    Transient,
)
from publishers.dm import final_text, render_prompt
from publishers.text import x_urls
from publishers.validation import MediaRules, common_problems

log = logging.getLogger(__name__)

PUBLIC_API = "https://api.twitter.com"
OAUTH1_CREDENTIALS = ("consumer_key", "consumer_secret", "access_token", "access_token_secret")
OAUTH2_CREDENTIALS = ("access_token",)
_TCO = regex.compile(r"https://t\.co/\w+")
TIMELINE_PAGE = 100  # the most GET /2/users/:id/tweets returns per page
TIMELINE_MAX_PAGES = 10

_refresh_locks: dict[str, threading.Lock] = {}
_refresh_guard = threading.Lock()
# per account handle: the refresh token last spent and the credentials it was exchanged for
_last_refresh: dict[str, tuple[str, dict[str, str]]] = {}


class RebasedSession(requests.Session):
    """A Session that sends tweepy's fixed-host requests to ``base`` with a default timeout."""

    def __init__(self, base: str, timeout: float) -> None:
        super().__init__()
        transport.guard(self)  # tweepy's requests go only where netguard allows
        parts = urlsplit(base) if base else None
        self._scheme_host = (parts.scheme, parts.netloc) if parts else None
        self._prefix = parts.path.rstrip("/") if parts else ""
        self._timeout = http.timeouts(timeout)
        self.headers["User-Agent"] = http.USER_AGENT

    def request(self, method: str | bytes, url: str | bytes,
                *args: Any, **kwargs: Any) -> requests.Response:
        if self._scheme_host and isinstance(url, str):
            parts = urlsplit(url)
            url = urlunsplit((*self._scheme_host, self._prefix + parts.path, parts.query,
                              parts.fragment))
        kwargs["timeout"] = kwargs.get("timeout") or self._timeout
        return super().request(method, url, *args, **kwargs)


def _uses_oauth1(account: AccountRef) -> bool:
    return bool(account.credentials.get("access_token_secret"))


def _reason(resp: requests.Response) -> str:
    body = http.json_or_empty(resp)
    errors = body.get("errors")
    if isinstance(errors, list) and errors and isinstance(errors[0], dict):
        first = errors[0]
        return str(first.get("message") or first.get("detail") or "")
    return str(body.get("detail") or body.get("title") or body.get("error_description")
               or body.get("error") or "")


def _reset(resp: requests.Response) -> datetime:
    headers = resp.headers
    if headers.get("x-user-limit-24hour-remaining") == "0":
        daily = http.reset_from_epoch(headers.get("x-user-limit-24hour-reset"))
        if daily is not None:
            return daily
    return http.reset_at(headers, epoch="x-rate-limit-reset")


def _is_duplicate(resp: requests.Response) -> bool:
    return resp.status_code == 403 and "duplicate" in _reason(resp).lower()


# X answers errors as RFC 7807 problems whose ``type`` names the kind, or (older endpoints)
# with an ``errors`` list of numeric codes.
# https://docs.x.com/x-api/fundamentals/response-codes-and-errors
_PROBLEMS = "https://api.twitter.com/2/problems/"
_APP_SETUP_TYPES = {"client-forbidden"}  # app not in a project / plan without the endpoint
_AUTH_TYPES = {"unsupported-authentication", "oauth1-permissions"}
_CONTENT_TYPES = {"disallowed-resource", "not-authorized-for-resource", "resource-not-found"}
_APP_SETUP_CODES = {453}  # "You currently have access to a subset of X API V2 endpoints"
_LOCKED_CODES = {326}  # "this account is temporarily locked"


def _problem_type(resp: requests.Response) -> str:
    kind = str(http.json_or_empty(resp).get("type") or "")
    return kind[len(_PROBLEMS):] if kind.startswith(_PROBLEMS) else kind


def _codes(resp: requests.Response) -> set[int]:
    errors = http.json_or_empty(resp).get("errors")
    found: set[int] = set()
    for item in errors if isinstance(errors, list) else []:
        if isinstance(item, dict) and isinstance(item.get("code"), int):
            found.add(int(item["code"]))
    return found


def account_level_error(resp: requests.Response) -> PublishError | None:
    """402 and the 403s that are about the account or the app, each by its documented type;
    None for everything else (the general classification applies)."""
    status, words, detail = resp.status_code, _reason(resp), resp.text[:500]
    if status == 402:
        # Pay-per-use: the developer account has no credits left (or its plan does not cover
        # the call). Every post of every X account on that app waits for an admin.
        return AccountHeld(f"X refused the call for the developer account's plan or credits "
                           f"({words or 'HTTP 402'}): add credits or change the plan in the X "
                           "developer console, then test the connection", status=402,
                           detail=detail)
    if status != 403:
        return None
    kind, codes = _problem_type(resp), _codes(resp)
    if kind in _APP_SETUP_TYPES or codes & _APP_SETUP_CODES:
        return AccountHeld(f"The X developer app cannot use this endpoint ({words}): attach "
                           "it to a project with a plan that includes posting, then test the "
                           "connection", status=403, detail=detail)
    if codes & _LOCKED_CODES:
        return AccountHeld(f"X has locked this account ({words}): unlock it on x.com, then "
                           "test the connection", status=403, detail=detail)
    if kind in _CONTENT_TYPES:
        return ContentRejected(f"X refused this post: {words}", status=403, detail=detail)
    if kind in _AUTH_TYPES:
        return AuthExpired(f"X refused these credentials for posting ({words}): give the app "
                           "Read and write permission, then reconnect", status=403,
                           detail=detail)
    return None  # a plain 403 (about:blank): a revoked or read-only grant -> reconnect


def error_for(resp: requests.Response, *, creates: bool,
              duplicate_means: str = "") -> PublishError:
    """The typed outcome of an X error answer (402, 403 by type, duplicates, the rest)."""
    if _is_duplicate(resp):
        if duplicate_means == "unknown":
            return OutcomeUnknown(
                "X says this text duplicates an existing post, probably the earlier "
                "attempt: check the account before sending again",
                status=403, detail="duplicate content on retry: " + _reason(resp),
                duplicate=True)
        return ContentRejected("X rejected the post as a duplicate of an earlier post.",
                               status=403, detail=_reason(resp))
    special = account_level_error(resp)
    if special is not None:
        return special
    try:
        http.classify(resp, platform="X", creates=creates, idempotent=False,
                      reason=_reason, reset=_reset)
    except PublishError as error:
        return error
    return Transient(f"X answered HTTP {resp.status_code}")


def as_posted(returned: str, *, has_media: bool) -> str:
    """``comparable`` of a timeline text, minus the https://t.co link X appends to the text
    of a post with media ("the Tweet text ... ends with a t.co link to the media"):
    https://docs.x.com/x-api/fundamentals/entities"""
    if has_media:
        returned = regex.sub(r"\s*https://t\.co/\w+\s*$", "", returned)
    return comparable(returned)


def comparable(text: str) -> str:
    """Text as X echoes it back: entities unescaped, every link collapsed to one token."""
    text = html.unescape(text)
    text = _TCO.sub("\x00", text)
    for url in sorted(set(x_urls(text)), key=len, reverse=True):
        text = text.replace(url, "\x00")
    return " ".join(text.split())


class XPublisher:
    platform = "x"
    # Still images only: JPEG, PNG, WEBP up to 5 MB, at most 4 per post. A GIF needs the
    # chunked upload with media_category tweet_gif, which Poise does not do.
    # https://docs.x.com/x-api/media/quickstart/media-upload-chunked and
    # https://docs.x.com/x-api/media/upload-media (image size limits)
    media_rules = MediaRules(
        max_items=4, max_bytes=5 * 1024 * 1024,
        mime_types=frozenset({"image/jpeg", "image/png", "image/webp"}),
        rule="X takes up to 4 still images (JPEG, PNG or WEBP) of at most 5 MB each; "
             "Poise cannot send GIFs to X (they need X's chunked upload).")

    def validate(self, content: Content, account: AccountRef) -> list[Problem]:
        return common_problems(content, account, self.media_rules, OAUTH1_CREDENTIALS,
                               OAUTH2_CREDENTIALS)

    def _client(self, account: AccountRef, timeout: float) -> tweepy.Client:
        creds = account.credentials
        if _uses_oauth1(account):
            client = tweepy.Client(consumer_key=creds.get("consumer_key"),
                                   consumer_secret=creds.get("consumer_secret"),
                                   access_token=creds.get("access_token"),
                                   access_token_secret=creds.get("access_token_secret"),
                                   wait_on_rate_limit=False)
        else:
            client = tweepy.Client(bearer_token=creds.get("access_token"),
                                   wait_on_rate_limit=False)
        client.session = RebasedSession(account.api_base, timeout)
        return client

    def _auth(self, account: AccountRef) -> AuthBase | None:
        creds = account.credentials
        if _uses_oauth1(account):
            return OAuth1(creds.get("consumer_key", ""), creds.get("consumer_secret", ""),
                          creds.get("access_token", ""), creds.get("access_token_secret", ""))
        return None

    def _headers(self, account: AccountRef) -> dict[str, str]:
        if _uses_oauth1(account):
            return {}
        return {"Authorization": f"Bearer {account.credentials.get('access_token', '')}"}

    def _tweepy_call(self, call: Any, url: str, *, creates: bool, duplicate_means: str = "",
                     **kwargs: Any) -> Any:
        """Run a tweepy call and turn its exceptions into the typed outcomes."""
        try:
            return call(**kwargs)
        except tweepy.HTTPException as exc:
            raise error_for(exc.response, creates=creates,
                            duplicate_means=duplicate_means) from exc
        except requests.RequestException as exc:
            raise http.network_error(exc, url, creates=creates, idempotent=False) from exc

    # --- the Protocol ---------------------------------------------------------------------

    def check_connection(self, account: AccountRef) -> str:
        return self.identify(account).display_name

    def identify(self, account: AccountRef, *, timeout: float = 15.0) -> Identity:
        """The user behind the credentials (GET /2/users/me): name, numeric id, @username."""
        client = self._client(account, timeout)
        response = self._tweepy_call(client.get_me, "/2/users/me", creates=False,
                                     user_auth=_uses_oauth1(account))
        data = response.data
        username = str(getattr(data, "username", "") or "")
        return Identity(
            display_name=str(getattr(data, "name", "") or username or account.handle),
            external_id=str(getattr(data, "id", "") or ""), username=username)

    def publish(self, content: Content, account: AccountRef, ctx: PublishContext) -> PublishResult:
        earlier_attempt = "first_sent_at" in ctx.state
        if "media_ids" in ctx.state:
            media_ids = [m for m in ctx.state["media_ids"].split(",") if m]
        else:
            media_ids = [self._upload(item, account, ctx) for item in content.media]
        if not earlier_attempt:
            ctx.state["first_sent_at"] = str(int(time.time()))
            ctx.state["media_ids"] = ",".join(media_ids)
            ctx.checkpoint(ctx.state)
        prompt = render_prompt(content, account)
        client = self._client(account, ctx.timeout_seconds)
        response = self._tweepy_call(
            client.create_tweet, "/2/tweets", creates=True,
            duplicate_means="unknown" if earlier_attempt else "rejected",
            text=final_text(content, account), media_ids=media_ids or None,
            direct_message_deep_link=(prompt.deep_link or None) if prompt else None,
            user_auth=_uses_oauth1(account))
        data = response.data or {}
        tweet_id = str(data.get("id", ""))
        if not tweet_id:
            raise OutcomeUnknown("X answered without a post id.")
        return PublishResult(remote_id=tweet_id, url=_tweet_url(account, tweet_id))

    def find_existing(self, content: Content, account: AccountRef,
                      ctx: PublishContext) -> PublishResult | None:
        """Look for the post in the user's timeline since shortly before the first send.

        GET /2/users/:id/tweets returns at most 100 per page, newest first, with
        ``meta.next_token`` for the next page (``pagination_token``); ``start_time`` keeps it
        to the attempt window. https://docs.x.com/x-api/posts/get-posts (user timeline) and
        https://docs.x.com/x-api/fundamentals/pagination
        """
        base = http.base_url(account.api_base, PUBLIC_API)
        wanted = comparable(final_text(content, account))
        has_media = bool(content.media or ctx.state.get("media_ids"))
        try:
            user_id = account.external_id or self._user_id(account, ctx)
            params: dict[str, str | int] = {"max_results": TIMELINE_PAGE,
                                            "tweet.fields": "created_at,text"}
            first_sent = int(ctx.state.get("first_sent_at", "0") or 0)
            if first_sent:
                start = datetime.fromtimestamp(first_sent, UTC) - timedelta(minutes=5)
                params["start_time"] = start.strftime("%Y-%m-%dT%H:%M:%SZ")
            for _ in range(TIMELINE_MAX_PAGES):
                resp = http.request("GET", f"{base}/2/users/{user_id}/tweets",
                                    timeout=ctx.timeout_seconds, params=params,
                                    auth=self._auth(account), headers=self._headers(account))
                self._classify(resp, creates=False)
                body = http.json_or_empty(resp)
                for tweet in body.get("data") or []:
                    if not isinstance(tweet, dict):
                        continue
                    if as_posted(str(tweet.get("text", "")), has_media=has_media) == wanted:
                        tweet_id = str(tweet.get("id", ""))
                        return PublishResult(remote_id=tweet_id,
                                             url=_tweet_url(account, tweet_id))
                meta = body.get("meta")
                token = str(meta.get("next_token") or "") if isinstance(meta, dict) else ""
                if not token:
                    return None
                params["pagination_token"] = token
        except AccountHeld:
            raise
        except PublishError as exc:
            raise OutcomeUnknown(f"Could not look up the account's recent posts on X: "
                                 f"{exc.reason}", status=exc.status) from exc
        raise OutcomeUnknown(f"The account posted more than {TIMELINE_PAGE * TIMELINE_MAX_PAGES} "
                             "times since this post was sent; check it on x.com")

    def _classify(self, resp: requests.Response, *, creates: bool) -> None:
        special = account_level_error(resp)
        if special is not None:
            raise special
        http.classify(resp, platform="X", creates=creates, idempotent=not creates,
                      reason=_reason, reset=_reset)

    # --- capabilities ---------------------------------------------------------------------

    def refresh_credentials(self, account: AccountRef, *, timeout: float = 15.0) -> dict[str, str]:
        """Exchange the OAuth 2.0 refresh token for new tokens; returns the new credentials.

        X refresh tokens are single-use: one refresh per account at a time, and a token
        already spent here answers with the credentials it was exchanged for.
        """
        creds = dict(account.credentials)
        refresh_token = creds.get("refresh_token", "")
        if not refresh_token or not creds.get("client_id"):
            raise AuthExpired("This X account has no refresh token; reconnect it.")
        with _refresh_guard:
            lock = _refresh_locks.setdefault(account.handle, threading.Lock())
        with lock:
            spent = _last_refresh.get(account.handle)
            if spent is not None and spent[0] == refresh_token:
                # Another worker just refreshed with this very token: reuse its answer.
                return dict(spent[1])
            base = http.base_url(account.api_base, PUBLIC_API)
            secret = creds.get("client_secret", "")
            resp = http.request(
                "POST", f"{base}/2/oauth2/token", timeout=timeout,
                data={"grant_type": "refresh_token", "refresh_token": refresh_token,
                      "client_id": creds["client_id"]},
                auth=(creds["client_id"], secret) if secret else None)
            if resp.status_code in (400, 401):
                raise AuthExpired(f"X refused the refresh token: {_reason(resp)}",
                                  status=resp.status_code)
            http.classify(resp, platform="X", creates=False, idempotent=True,
                          reason=_reason, reset=_reset)
            body = http.json_or_empty(resp)
            new = {**creds, "access_token": str(body.get("access_token", ""))}
            if body.get("refresh_token"):
                new["refresh_token"] = str(body["refresh_token"])
            if body.get("expires_in"):
                new["expires_at"] = str(int(time.time()) + int(body["expires_in"]))
            _last_refresh[account.handle] = (refresh_token, new)
            return dict(new)

    # --- helpers ----------------------------------------------------------------------------

    def _user_id(self, account: AccountRef, ctx: PublishContext) -> str:
        client = self._client(account, ctx.timeout_seconds)
        response = self._tweepy_call(client.get_me, "/2/users/me", creates=False,
                                     user_auth=_uses_oauth1(account))
        return str(getattr(response.data, "id", ""))

    def _upload(self, item: MediaFile, account: AccountRef, ctx: PublishContext) -> str:
        base = http.base_url(account.api_base, PUBLIC_API)
        with open(item.path, "rb") as handle:
            resp = http.request(
                "POST", f"{base}/2/media/upload", timeout=ctx.timeout_seconds,
                files={"media": (item.path.rsplit("/", 1)[-1], handle, item.mime_type)},
                data={"media_category": "tweet_image"}, auth=self._auth(account),
                headers=self._headers(account))
        self._classify(resp, creates=False)
        body = http.json_or_empty(resp)
        data = body["data"] if isinstance(body.get("data"), dict) else body
        media_id = str(data.get("id") or data.get("media_id_string") or "")
        if not media_id:
            raise Transient("X did not return an id for the uploaded image.")
        return media_id

    # --- metrics (issue 15) -------------------------------------------------------------------

    def fetch_metrics(self, content_ref: str, account: AccountRef, *,
                      timeout: float = 15.0) -> dict[str, float]:
        """The post's public_metrics: GET /2/tweets?ids=<id>&tweet.fields=public_metrics
        (https://docs.x.com/x-api/posts/lookup/introduction; fields retweet_count, reply_count,
        like_count, quote_count, bookmark_count, impression_count). Billed: each post returned
        is a "Posts: Read" at $0.005 under pay-per-use, once per post per UTC day
        (https://docs.x.com/x-api/getting-started/pricing,
        https://docs.x.com/x-api/fundamentals/post-cap), so the planner only calls this for
        accounts where someone switched X metrics on."""
        from publishers.metrics import (
            IMPRESSIONS,
            LIKES,
            QUOTES,
            REPLIES,
            REPOSTS,
            SAVES,
            pick,
            read_refused,
        )

        base = http.base_url(account.api_base, PUBLIC_API)
        resp = http.request("GET", f"{base}/2/tweets", timeout=timeout, idempotent=True,
                            params={"ids": content_ref, "tweet.fields": "public_metrics"},
                            auth=self._auth(account), headers=self._headers(account))
        if resp.status_code == 403:
            raise read_refused("X", 403, _reason(resp))
        http.classify(resp, platform="X", creates=False, idempotent=True, reason=_reason,
                      reset=_reset)
        data = http.json_or_empty(resp).get("data") or []
        found = [t for t in data if isinstance(t, dict) and str(t.get("id")) == content_ref]
        if not found:  # X lists a deleted or protected post under "errors", not "data"
            raise read_refused("X", 404, "")
        return pick(found[0].get("public_metrics") or {}, {
            "impression_count": IMPRESSIONS, "like_count": LIKES, "retweet_count": REPOSTS,
            "reply_count": REPLIES, "quote_count": QUOTES, "bookmark_count": SAVES})


def _tweet_url(account: AccountRef, tweet_id: str) -> str:
    return f"https://x.com/{account.handle.lstrip('@') or 'i'}/status/{tweet_id}"
