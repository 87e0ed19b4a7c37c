"""Mastodon: POST /api/v1/statuses with an Idempotency-Key the server keeps for an hour.

The key is checked when a request starts but stored only after the status was created
(mastodon/mastodon app/services/post_status_service.rb: ``redis.get`` of
``idempotency:status:<account>:<key>`` first, ``redis.setex(..., 3_600, status.id)`` at the
end). A second request while the first is still running therefore creates a second status.
So after a timeout or a 5xx nothing is resent before the first request can have finished: the
adapter records a not-before time, the dispatcher reconciles no earlier, and only then the
same key is sent again (inside the hour) or the account's statuses are searched (after it).
"""

from __future__ import annotations

import logging
import re
import threading
import time
from datetime import UTC, datetime
from html.parser import HTMLParser
from typing import Any
from urllib.parse import urlsplit

import requests

from publishers import http
from publishers.base import (
    AccountRef,
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
from publishers.dm import final_text
from publishers.text import MASTODON_DEFAULT_LIMIT
from publishers.validation import MediaRules, common_problems

log = logging.getLogger(__name__)

IDEMPOTENCY_WINDOW_SECONDS = 3600
# Stop trusting the key a minute before the server forgets it (clocks differ a little).
KEY_SAFETY_SECONDS = 60
# A status counts as this publication's only if created at most this long before the first
# send: room for clock skew, never room for an older post with the same text.
MATCH_MARGIN_SECONDS = 300
# How long a request the client gave up on may still run on the server after our timeout:
# Mastodon has no request deadline of its own (Puma keeps working after nginx answers 504
# at its proxy_read_timeout, 60 s by default), so this is generous on purpose.
SERVER_OVERRUN_SECONDS = 120
MEDIA_POLL_SECONDS = 0.5
MEDIA_POLL_ATTEMPTS = 20
CREDENTIALS = ("access_token",)

_instance_limits: dict[str, int] = {}
_instance_lock = threading.Lock()


def _reason(resp: requests.Response) -> str:
    body = http.json_or_empty(resp)
    return str(body.get("error") or body.get("error_description") or "")


def _reset(resp: requests.Response) -> datetime:
    return http.reset_at(resp.headers, iso="X-RateLimit-Reset")


class MastodonPublisher:
    platform = "mastodon"
    media_rules = MediaRules(max_items=4, max_bytes=16 * 1024 * 1024)

    def _base(self, account: AccountRef) -> str:
        if not account.api_base:
            raise ContentRejected("Mastodon accounts need their instance URL (api_base).")
        return account.api_base.rstrip("/")

    def _headers(self, account: AccountRef) -> dict[str, str]:
        return {"Authorization": f"Bearer {account.credentials.get('access_token', '')}"}

    def _call(self, method: str, url: str, account: AccountRef, *, timeout: float,
              creates: bool = False, idempotent: bool = False,
              headers: dict[str, str] | None = None, **kwargs: Any) -> requests.Response:
        resp = http.request(method, url, timeout=timeout, creates=creates, idempotent=idempotent,
                            headers={**self._headers(account), **(headers or {})}, **kwargs)
        http.classify(resp, platform="Mastodon", creates=creates, idempotent=idempotent,
                      reason=_reason, reset=_reset)
        return resp

    # --- capabilities ---------------------------------------------------------------------

    def text_limit(self, account: AccountRef, *, timeout: float = 10.0) -> int:
        """The instance's max_characters from /api/v2/instance, cached per instance."""
        if account.text_limit is not None:
            return account.text_limit
        base = self._base(account)
        with _instance_lock:
            if base in _instance_limits:
                return _instance_limits[base]
        limit = MASTODON_DEFAULT_LIMIT
        try:
            resp = http.request("GET", f"{base}/api/v2/instance", timeout=timeout)
            if resp.ok:
                config = http.json_or_empty(resp).get("configuration") or {}
                limit = int((config.get("statuses") or {}).get("max_characters") or limit)
        except (Transient, ValueError):
            log.info("could not read the instance limit of %s; using %s", base, limit)
            return limit
        with _instance_lock:
            _instance_limits[base] = limit
        return limit

    def _limit_known(self, account: AccountRef) -> AccountRef:
        """The account with its instance limit filled in when it was read before."""
        if account.text_limit is not None or not account.api_base:
            return account
        cached = _instance_limits.get(account.api_base.rstrip("/"))
        if cached is None:
            return account
        return AccountRef(platform=account.platform, handle=account.handle,
                          api_base=account.api_base, credentials=account.credentials,
                          external_id=account.external_id, text_limit=cached)

    def validate(self, content: Content, account: AccountRef) -> list[Problem]:
        problems = common_problems(content, self._limit_known(account), self.media_rules,
                                   CREDENTIALS)
        if not account.api_base:
            problems.insert(0, Problem("account", "Mastodon accounts need their instance URL."))
        return problems

    def check_connection(self, account: AccountRef) -> str:
        identity = self.identify(account)
        self.text_limit(account)
        return identity.display_name

    def identify(self, account: AccountRef, *, timeout: float = 15.0) -> Identity:
        """The account behind the token: display name, account id, user@instance."""
        base = self._base(account)
        resp = self._call("GET", f"{base}/api/v1/accounts/verify_credentials", account,
                          timeout=timeout)
        body = http.json_or_empty(resp)
        acct = str(body.get("acct") or body.get("username") or "")
        if acct and "@" not in acct:
            acct = f"{acct}@{urlsplit(base).netloc}"
        return Identity(
            display_name=str(body.get("display_name") or body.get("username") or account.handle),
            external_id=str(body.get("id") or ""), username=acct)

    def publish(self, content: Content, account: AccountRef, ctx: PublishContext) -> PublishResult:
        base = self._base(account)
        _wait_for_the_first_request(ctx)
        if _key_expired(ctx):
            # The server has forgotten the key: resending it would make a second post if
            # the first attempt landed, so look at the account's statuses first.
            found = self._lookup(base, content, account, ctx)
            if found is not None:
                return found
        if "media_ids" in ctx.state:
            media_ids = [m for m in ctx.state["media_ids"].split(",") if m]
        else:
            media_ids = [self._upload(base, item, account, ctx) for item in content.media]
        if "first_sent_at" not in ctx.state:
            # Recorded (by _create's checkpoint) before the create so a later find_existing
            # knows whether the key is still inside the server's one-hour window, and
            # resends the same media.
            ctx.state["first_sent_at"] = str(int(time.time()))
            ctx.state["media_ids"] = ",".join(media_ids)
        return self._create(base, content, account, ctx, media_ids)

    def _create(self, base: str, content: Content, account: AccountRef, ctx: PublishContext,
                media_ids: list[str]) -> PublishResult:
        payload: dict[str, Any] = {"status": final_text(content, account),
                                   "visibility": "public"}
        if media_ids:
            payload["media_ids"] = media_ids
        # Every send is recorded first: if this worker dies with the request in flight, the
        # reconcile that follows still waits for the server to be done with it.
        sent = time.time()
        ctx.state["sent_at"] = str(int(sent))
        ctx.checkpoint(ctx.state)
        try:
            # Not ``idempotent``: the key protects only against a repeat that arrives after
            # the first request finished, so a lost answer (timeout, 5xx) is an unknown outcome.
            resp = self._call("POST", f"{base}/api/v1/statuses", account,
                              timeout=ctx.timeout_seconds, creates=True,
                              headers={"Idempotency-Key": ctx.idempotency_key}, json=payload)
        except OutcomeUnknown as exc:
            not_before = max(time.time(), sent + ctx.timeout_seconds) + SERVER_OVERRUN_SECONDS
            ctx.state["resend_not_before"] = str(int(not_before) + 1)
            ctx.checkpoint(ctx.state)
            raise OutcomeUnknown(
                f"{exc.reason}. The server may still be creating it, so it is checked again "
                f"with the same Idempotency-Key after {_clock(not_before)}", status=exc.status,
                detail=exc.detail, not_before=datetime.fromtimestamp(not_before, UTC)) from exc
        except PublishError:
            # The server answered (or the request never left): nothing of it still runs there,
            # so a retry after a rate limit or a refusal need not wait.
            ctx.state.pop("sent_at", None)
            ctx.checkpoint(ctx.state)
            raise
        ctx.state.pop("resend_not_before", None)
        return _result(http.json_or_empty(resp))

    def _upload(self, base: str, item: MediaFile, account: AccountRef,
                ctx: PublishContext) -> str:
        with open(item.path, "rb") as handle:
            resp = self._call("POST", f"{base}/api/v2/media", account,
                              timeout=ctx.timeout_seconds,
                              files={"file": (item.path.rsplit("/", 1)[-1], handle,
                                              item.mime_type)},
                              data={"description": item.alt_text})
        media_id = str(http.json_or_empty(resp).get("id", ""))
        if resp.status_code == 202:
            self._wait_processed(base, media_id, account, ctx)
        return media_id

    def _wait_processed(self, base: str, media_id: str, account: AccountRef,
                        ctx: PublishContext) -> None:
        for _ in range(MEDIA_POLL_ATTEMPTS):
            resp = self._call("GET", f"{base}/api/v1/media/{media_id}", account,
                              timeout=ctx.timeout_seconds)
            if resp.status_code == 200:
                return
            time.sleep(MEDIA_POLL_SECONDS)
        raise Transient("Mastodon is still processing the image; try again later.")

    def find_existing(self, content: Content, account: AccountRef,
                      ctx: PublishContext) -> PublishResult | None:
        base = self._base(account)
        if not _first_sent(ctx):
            return None  # first_sent_at is checkpointed before any create, so none was sent
        _wait_for_the_first_request(ctx)
        if not _key_expired(ctx):
            # Within the window the server answers a repeated key with the original status
            # (or creates it now if the first attempt never arrived): either way, one post.
            media_ids = [m for m in ctx.state.get("media_ids", "").split(",") if m]
            return self._create(base, content, account, ctx, media_ids)
        return self._lookup(base, content, account, ctx)

    def _lookup(self, base: str, content: Content, account: AccountRef,
                ctx: PublishContext) -> PublishResult | None:
        account_id = account.external_id
        if not account_id:
            me = self._call("GET", f"{base}/api/v1/accounts/verify_credentials", account,
                            timeout=ctx.timeout_seconds)
            account_id = str(http.json_or_empty(me).get("id", ""))
        if not account_id:
            raise OutcomeUnknown("Could not look up the Mastodon account's recent posts.")
        resp = self._call("GET", f"{base}/api/v1/accounts/{account_id}/statuses", account,
                          timeout=ctx.timeout_seconds,
                          params={"limit": 40, "exclude_replies": "true"})
        wanted = comparable(final_text(content, account))
        earliest = _first_sent(ctx) - MATCH_MARGIN_SECONDS
        body = http.json_or_empty(resp).get("data")
        statuses = body if isinstance(body, list) else []
        for status in statuses:
            if not isinstance(status, dict) or comparable(_plain(status)) != wanted:
                continue
            created = http.parse_iso(str(status.get("created_at") or ""))
            # An identical status from before this publication's first send is another
            # post (a repeated promotion), never this one.
            if created is not None and created.timestamp() >= earliest:
                return _result(status)
        return None

    # --- metrics (issue 15) -------------------------------------------------------------------

    def fetch_metrics(self, content_ref: str, account: AccountRef, *,
                      timeout: float = 15.0) -> dict[str, float]:
        """The status's public counts: GET /api/v1/statuses/:id
        (https://docs.joinmastodon.org/methods/statuses/#get; fields replies_count,
        reblogs_count, favourites_count, quotes_count from 4.5, in
        https://docs.joinmastodon.org/entities/Status/). Mastodon has no impressions."""
        from publishers.metrics import LIKES, QUOTES, REPLIES, REPOSTS, pick, read_refused

        url = f"{self._base(account)}/api/v1/statuses/{content_ref}"
        resp = http.request("GET", url, timeout=timeout, idempotent=True,
                            headers=self._headers(account))
        if resp.status_code in (403, 404):
            raise read_refused("Mastodon", resp.status_code, _reason(resp))
        http.classify(resp, platform="Mastodon", creates=False, idempotent=True,
                      reason=_reason, reset=_reset)
        return pick(http.json_or_empty(resp), {"favourites_count": LIKES,
                                               "reblogs_count": REPOSTS,
                                               "replies_count": REPLIES,
                                               "quotes_count": QUOTES})

    def fetch_followers(self, account: AccountRef, *, timeout: float = 15.0) -> float:
        """The account's ``followers_count`` from GET /api/v1/accounts/verify_credentials
        (https://docs.joinmastodon.org/methods/accounts/#verify_credentials, scope
        read:accounts or profile; field in https://docs.joinmastodon.org/entities/Account/).
        A count of 0 cannot be a rate's denominator, so it is reported as not available."""
        from publishers.metrics import MetricsNotAvailable, missing_permission

        url = f"{self._base(account)}/api/v1/accounts/verify_credentials"
        resp = http.request("GET", url, timeout=timeout, idempotent=True,
                            headers=self._headers(account))
        if resp.status_code == 403:  # "This action is outside the authorized scopes"
            raise missing_permission("Mastodon", "read:accounts", _reason(resp), status=403)
        http.classify(resp, platform="Mastodon", creates=False, idempotent=True,
                      reason=_reason, reset=_reset)
        value = http.json_or_empty(resp).get("followers_count")
        if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
            raise MetricsNotAvailable("not available: Mastodon gave no followers_count")
        return float(value)


def _first_sent(ctx: PublishContext) -> int:
    raw = ctx.state.get("first_sent_at", "")
    return int(raw) if raw.isdigit() else 0


def _key_expired(ctx: PublishContext) -> bool:
    """True once the server may have forgotten the Idempotency-Key of the first send."""
    first_sent = _first_sent(ctx)
    return bool(first_sent) and (
        time.time() - first_sent >= IDEMPOTENCY_WINDOW_SECONDS - KEY_SAFETY_SECONDS)


def _wait_for_the_first_request(ctx: PublishContext) -> None:
    """Refuse to touch the platform while an earlier create may still be running there: until
    the recorded not-before time, or (after a crash mid-request, when none was recorded)
    until the last send plus the request timeout and the server's overrun."""
    recorded = ctx.state.get("resend_not_before", "")
    sent = ctx.state.get("sent_at", "")
    until = max(int(recorded) if recorded.isdigit() else 0,
                int(sent) + int(ctx.timeout_seconds) + SERVER_OVERRUN_SECONDS + 1
                if sent.isdigit() else 0)
    if time.time() < until:
        raise OutcomeUnknown(
            f"An earlier request may still be running on the server; checking after "
            f"{_clock(until)}", not_before=datetime.fromtimestamp(until, UTC))


def _clock(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).strftime("%H:%M:%S UTC")


class _StatusText(HTMLParser):
    """A status's HTML back to the words that were posted, as far as they can be known.

    Mastodon's TextFormatter (app/lib/text_formatter.rb) wraps links as ``<a href=URL>`` with
    ``invisible`` and ``ellipsis`` spans that shorten what is shown, so a link's text is its
    ``href``; mentions (``class="u-url mention"``) show ``@user`` without the domain, and
    hashtags ``#tag``; ``simple_format`` turns blank lines into paragraphs and newlines into
    ``<br />``.
    """

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self._link_depth = 0  # inside a link whose words are its href
        self._paragraphs = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = dict(attrs)
        if self._link_depth:
            self._link_depth += tag == "a"
            return
        if tag == "br":
            self.parts.append("\n")
        elif tag == "p":
            if self._paragraphs:
                self.parts.append("\n\n")
            self._paragraphs += 1
        elif tag == "a" and "mention" not in (found.get("class") or "").split() \
                and found.get("href"):
            self.parts.append(str(found["href"]))
            self._link_depth = 1

    def handle_endtag(self, tag: str) -> None:
        if self._link_depth and tag == "a":
            self._link_depth -= 1

    def handle_data(self, data: str) -> None:
        if not self._link_depth:
            self.parts.append(data)


def _plain(status: dict[str, Any]) -> str:
    """The status text: the `text` field where the server keeps it, else from the HTML."""
    if status.get("text"):
        return str(status["text"])
    parser = _StatusText()
    parser.feed(str(status.get("content", "")))
    parser.close()
    return "".join(parser.parts).strip()


_REMOTE_MENTION = re.compile(r"(?<![\w/])(@\w+)@[\w.-]+\w")
_SPACE = re.compile(r"\s+")


def comparable(text: str) -> str:
    """Text reduced to what survives Mastodon's rendering: mentions without their domain,
    whitespace runs as one space. Both the wanted text and the rendered one go through it."""
    return _SPACE.sub(" ", _REMOTE_MENTION.sub(r"\1", text)).strip()


def _result(body: dict[str, Any]) -> PublishResult:
    status_id = str(body.get("id", ""))
    if not status_id:
        raise OutcomeUnknown("Mastodon answered without a status id.")
    return PublishResult(remote_id=status_id, url=str(body.get("url") or body.get("uri") or ""))


def forget_instance_limits() -> None:
    """Drop cached instance limits (tests; or when an instance changes its configuration)."""
    with _instance_lock:
        _instance_limits.clear()
