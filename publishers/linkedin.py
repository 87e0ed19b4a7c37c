"""LinkedIn: POST /rest/posts (versioned API). Commentary uses the "little text" format, in
which reserved characters must be escaped or LinkedIn silently cuts the post there."""

from __future__ import annotations

import time
from datetime import datetime
from typing import Any
from urllib.parse import quote

import regex
import requests

from publishers import http
from publishers.base import (
    AccountRef,
    AuthExpired,
    Content,
    ContentRejected,
    Identity,
    OutcomeUnknown,
    Problem,
    PublishContext,
    PublishError,
    PublishResult,
)
from publishers.dm import final_text
from publishers.validation import NO_MEDIA, common_problems

PUBLIC_API = "https://api.linkedin.com"
DEFAULT_VERSION = "202510"
CREDENTIALS = ("access_token",)
RESERVED = set("\\|{}@[]()<>#*_~")
# A post counts as this publication's only if created at most this long before the first
# send: room for clock skew, never room for an older post with the same text.
MATCH_MARGIN_SECONDS = 300
_HASHTAG = regex.compile(r"(?<![\w&])#(\w+)")
_SHARE_URN = regex.compile(r"urn:li:(?:share|ugcPost):\d+")


def escape_little_text(text: str) -> str:
    """Backslash-escape every reserved character; hashtags become hashtag templates."""
    out = []
    position = 0
    for match in _HASHTAG.finditer(text):
        out.append(_escape(text[position:match.start()]))
        out.append("{hashtag|\\#|" + _escape(match.group(1)) + "}")
        position = match.end()
    out.append(_escape(text[position:]))
    return "".join(out)


def _escape(text: str) -> str:
    return "".join("\\" + char if char in RESERVED else char for char in text)


def _reason(resp: requests.Response) -> str:
    body = http.json_or_empty(resp)
    return str(body.get("message") or body.get("code") or "")


def _reset(resp: requests.Response) -> datetime:
    return http.reset_at(resp.headers)  # LinkedIn sends no reset header: default backoff


def _is_duplicate(resp: requests.Response) -> bool:
    body = http.json_or_empty(resp)
    return resp.status_code == 422 and (
        "DUPLICATE" in str(body.get("code", "")).upper()
        or "duplicate" in str(body.get("message", "")).lower())


class LinkedInPublisher:
    platform = "linkedin"

    def _author(self, account: AccountRef) -> str:
        author = account.external_id
        if not author:
            raise ContentRejected("The LinkedIn account has no member or organization id.")
        return author if author.startswith("urn:li:") else f"urn:li:person:{author}"

    def _headers(self, account: AccountRef) -> dict[str, str]:
        return {
            "Authorization": f"Bearer {account.credentials.get('access_token', '')}",
            "LinkedIn-Version": account.credentials.get("linkedin_version") or DEFAULT_VERSION,
            "X-Restli-Protocol-Version": "2.0.0",
        }

    def _call(self, method: str, path: str, account: AccountRef, *, timeout: float,
              creates: bool = False, **kwargs: Any) -> requests.Response:
        base = http.base_url(account.api_base, PUBLIC_API)
        resp = http.request(method, f"{base}{path}", timeout=timeout, creates=creates,
                            headers=self._headers(account), **kwargs)
        if resp.status_code == 403:
            raise AuthExpired(f"LinkedIn refused access: {_reason(resp)}", status=403,
                              detail=resp.text[:500])
        return resp

    def validate(self, content: Content, account: AccountRef) -> list[Problem]:
        problems = common_problems(content, account, NO_MEDIA, CREDENTIALS)
        if not account.external_id:
            problems.append(Problem("account", "The LinkedIn account has no member or "
                                               "organization id; reconnect it."))
        return problems

    def check_connection(self, account: AccountRef) -> str:
        return self.identify(account).display_name

    def identify(self, account: AccountRef, *, timeout: float = 15.0) -> Identity:
        """The member behind the token (OpenID userinfo): name and person URN."""
        resp = self._call("GET", "/v2/userinfo", account, timeout=timeout)
        http.classify(resp, platform="LinkedIn", creates=False, idempotent=True,
                      reason=_reason, reset=_reset)
        body = http.json_or_empty(resp)
        sub = str(body.get("sub") or "")
        return Identity(display_name=str(body.get("name") or account.handle),
                        external_id=f"urn:li:person:{sub}" if sub else "")

    def body(self, content: Content, account: AccountRef) -> dict[str, Any]:
        return {
            "author": self._author(account),
            "commentary": escape_little_text(final_text(content, account)),
            "visibility": "PUBLIC",
            "distribution": {"feedDistribution": "MAIN_FEED", "targetEntities": [],
                             "thirdPartyDistributionChannels": []},
            "lifecycleState": "PUBLISHED",
            "isReshareDisabledByAuthor": False,
        }

    def publish(self, content: Content, account: AccountRef, ctx: PublishContext) -> PublishResult:
        earlier_attempt = "first_sent_at" in ctx.state
        if not earlier_attempt:
            ctx.state["first_sent_at"] = str(int(time.time()))
            ctx.checkpoint(ctx.state)
        resp = self._call("POST", "/rest/posts", account, timeout=ctx.timeout_seconds,
                          creates=True, json=self.body(content, account))
        if _is_duplicate(resp):
            clue = _SHARE_URN.search(resp.text)
            if earlier_attempt:
                raise OutcomeUnknown(
                    "LinkedIn says this duplicates a recent post, probably the earlier attempt",
                    status=422, detail=(clue.group() if clue else "") + " " + resp.text[:300])
            raise ContentRejected("LinkedIn rejected the post as a duplicate of a recent post.",
                                  status=422, detail=resp.text[:500])
        http.classify(resp, platform="LinkedIn", creates=True, idempotent=False,
                      reason=_reason, reset=_reset)
        urn = resp.headers.get("x-restli-id") or str(http.json_or_empty(resp).get("id", ""))
        if not urn:
            raise OutcomeUnknown("LinkedIn answered without the post's id.")
        return PublishResult(remote_id=urn, url=_post_url(urn))

    def find_existing(self, content: Content, account: AccountRef,
                      ctx: PublishContext) -> PublishResult | None:
        first_sent = int(ctx.state.get("first_sent_at", "0") or 0)
        if not first_sent:
            return None  # first_sent_at is checkpointed before the create, so none was sent
        author = self._author(account)
        try:
            # Rest.li 2.0: the URN goes into the query string encoded.
            resp = self._call("GET", f"/rest/posts?q=author&author={quote(author, safe='')}"
                                     "&count=20&sortBy=LAST_MODIFIED", account,
                              timeout=ctx.timeout_seconds)
            http.classify(resp, platform="LinkedIn", creates=False, idempotent=True,
                          reason=_reason, reset=_reset)
        except PublishError as exc:
            raise OutcomeUnknown(f"Could not list the LinkedIn account's posts: {exc.reason}",
                                 status=exc.status) from exc
        wanted = escape_little_text(final_text(content, account))
        earliest_ms = (first_sent - MATCH_MARGIN_SECONDS) * 1000
        for post in http.json_or_empty(resp).get("elements") or []:
            if not isinstance(post, dict) or post.get("commentary") != wanted:
                continue
            created = post.get("createdAt") or post.get("publishedAt")
            # An identical post from before the first send is an older post, not this one.
            if isinstance(created, int | float) and created >= earliest_ms:
                urn = str(post.get("id", ""))
                return PublishResult(remote_id=urn, url=_post_url(urn))
        return None

    # --- metrics (issue 15) -------------------------------------------------------------------

    def fetch_metrics(self, content_ref: str, account: AccountRef, *,
                      timeout: float = 15.0) -> dict[str, float]:
        """Likes and comments: GET /rest/socialActions/{post urn}
        (https://learn.microsoft.com/en-us/linkedin/marketing/community-management/shares/
        network-update-social-actions; likesSummary.totalLikes,
        commentsSummary.aggregatedTotalComments). It needs r_member_social (restricted) or
        r_organization_social; without it LinkedIn answers 403 and the post's metrics are
        "not available". Impressions need the separate post-analytics products: not read."""
        from publishers.metrics import LIKES, REPLIES, pick, read_refused

        base = http.base_url(account.api_base, PUBLIC_API)
        resp = http.request("GET", f"{base}/rest/socialActions/{quote(content_ref, safe='')}",
                            timeout=timeout, idempotent=True, headers=self._headers(account))
        if resp.status_code in (403, 404):
            raise read_refused("LinkedIn", resp.status_code, _reason(resp))
        http.classify(resp, platform="LinkedIn", creates=False, idempotent=True,
                      reason=_reason, reset=_reset)
        body = http.json_or_empty(resp)
        likes = body.get("likesSummary") or {}
        comments = body.get("commentsSummary") or {}
        return {**pick(likes, {"totalLikes": LIKES}),
                **pick(comments, {"aggregatedTotalComments": REPLIES})}


def _post_url(urn: str) -> str:
    return f"https://www.linkedin.com/feed/update/{urn}/"
