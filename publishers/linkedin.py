"""LinkedIn: POST /rest/posts (versioned API). Commentary uses the "little text" format, in
which reserved characters must be escaped or LinkedIn silently cuts the post there.

Every call under /rest carries ``LinkedIn-Version: YYYYMM``; a version past its sunset answers
426 ``NONEXISTENT_VERSION`` ("Requested version ... is not active") for every request, so it
is an operator problem (``AccountHeld``), never the post's fault.
https://learn.microsoft.com/en-us/linkedin/marketing/versioning
Posts: https://learn.microsoft.com/en-us/linkedin/marketing/community-management/shares/posts-api
Images: https://learn.microsoft.com/en-us/linkedin/marketing/community-management/shares/images-api
Permissions (w_member_social, w_organization_social, r_member_social):
https://learn.microsoft.com/en-us/linkedin/shared/authentication/getting-access
"""

from __future__ import annotations

import time
from datetime import datetime
from typing import Any
from urllib.parse import quote

import regex
import requests

from publishers import http, versions
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
from publishers.dm import final_text
from publishers.validation import MediaRules, common_problems

PUBLIC_API = "https://api.linkedin.com"
DEFAULT_VERSION = versions.LINKEDIN_DEFAULT
CREDENTIALS = ("access_token",)
# Images API: JPG, PNG and GIF (GIF up to 250 frames); a multi-image post holds 2 to 20.
# https://learn.microsoft.com/en-us/linkedin/marketing/community-management/shares/images-api
# https://learn.microsoft.com/en-us/linkedin/marketing/community-management/shares/multiimage-post-api
MEDIA_RULES = MediaRules(max_items=20, max_bytes=8 * 1024 * 1024,
                         mime_types=frozenset({"image/jpeg", "image/png", "image/gif"}),
                         rule="LinkedIn takes up to 20 images (JPEG, PNG or GIF) of at most "
                              "8 MB each.")
_VERSION_CODES = {"NONEXISTENT_VERSION", "VERSION_MISSING", "INVALID_VERSION"}
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


def _version_problem(resp: requests.Response, version: str) -> AccountHeld | None:
    """A 426 (or a version error code): every call fails until the setting changes."""
    body = http.json_or_empty(resp)
    if resp.status_code != 426 and str(body.get("code", "")) not in _VERSION_CODES:
        return None
    return AccountHeld(
        f"LinkedIn no longer accepts API version {version} ({_reason(resp) or 'HTTP 426'}). "
        "Set POISE_LINKEDIN_VERSION to a current version (YYYYMM, listed at "
        f"{versions.LINKEDIN_VERSIONING}) and restart Poise", status=resp.status_code,
        detail=resp.text[:500])


def _scopes(account: AccountRef) -> set[str] | None:
    """The permissions granted to the token, when the connection recorded them."""
    granted = account.credentials.get("scope", "")
    return {s for s in regex.split(r"[\s,]+", granted) if s} if granted else None


def _is_organization(author: str) -> bool:
    return author.startswith("urn:li:organization:")


def profile_url(account: AccountRef) -> str:
    """Where a person can look at the account's recent posts."""
    author = account.external_id
    if _is_organization(author):
        return (f"https://www.linkedin.com/company/{author.rsplit(':', 1)[1]}"
                "/admin/page-posts/published/")
    handle = account.handle.lstrip("@")
    if handle and regex.fullmatch(r"[\w-]{3,100}", handle):
        return f"https://www.linkedin.com/in/{handle}/recent-activity/all/"
    return "https://www.linkedin.com/in/me/recent-activity/all/"


def _reset(resp: requests.Response) -> datetime:
    return http.reset_at(resp.headers)  # LinkedIn sends no reset header: default backoff


def _is_duplicate(resp: requests.Response) -> bool:
    body = http.json_or_empty(resp)
    return resp.status_code == 422 and (
        "DUPLICATE" in str(body.get("code", "")).upper()
        or "duplicate" in str(body.get("message", "")).lower())


class LinkedInPublisher:
    platform = "linkedin"
    media_rules = MEDIA_RULES

    def _author(self, account: AccountRef) -> str:
        author = account.external_id
        if not author:
            raise ContentRejected("The LinkedIn account has no member or organization id.")
        return author if author.startswith("urn:li:") else f"urn:li:person:{author}"

    def _version(self, account: AccountRef) -> str:
        return account.api_version or DEFAULT_VERSION

    def _headers(self, account: AccountRef) -> dict[str, str]:
        return {
            "Authorization": f"Bearer {account.credentials.get('access_token', '')}",
            "LinkedIn-Version": self._version(account),
            "X-Restli-Protocol-Version": "2.0.0",
        }

    def _call(self, method: str, path: str, account: AccountRef, *, timeout: float,
              creates: bool = False, **kwargs: Any) -> requests.Response:
        base = http.base_url(account.api_base, PUBLIC_API)
        resp = http.request(method, f"{base}{path}", timeout=timeout, creates=creates,
                            headers=self._headers(account), **kwargs)
        held = _version_problem(resp, self._version(account))
        if held is not None:
            raise held
        if resp.status_code == 403:
            needed = "w_organization_social (as an admin of the page)" if _is_organization(
                account.external_id) else "w_member_social"
            raise AuthExpired(f"LinkedIn refused access ({_reason(resp) or 'HTTP 403'}); "
                              f"posting as this account needs the {needed} permission: "
                              "reconnect with it", status=403, detail=resp.text[:500])
        return resp

    def validate(self, content: Content, account: AccountRef) -> list[Problem]:
        problems = common_problems(content, account, MEDIA_RULES, CREDENTIALS)
        if not account.external_id:
            problems.append(Problem("account", "The LinkedIn account has no member or "
                                               "organization id; reconnect it."))
        scopes = _scopes(account)
        if scopes is not None:
            needed = ("w_organization_social" if _is_organization(account.external_id)
                      else "w_member_social")
            if needed not in scopes:
                problems.append(Problem("account", f"LinkedIn lets this connection post only "
                                                   f"with the {needed} permission, which it "
                                                   "was not granted; reconnect with it."))
        if not versions.valid_linkedin_version(self._version(account)):
            problems.append(Problem("account", f"POISE_LINKEDIN_VERSION "
                                               f"{self._version(account)!r} is not a LinkedIn "
                                               "version (YYYYMM)."))
        return problems

    def check_connection(self, account: AccountRef) -> str:
        return self.identify(account).display_name

    def identify(self, account: AccountRef, *, timeout: float = 15.0) -> Identity:
        """The member behind the token (OpenID userinfo): name and person URN; then one
        versioned call with the posting permission, so a sunset ``LinkedIn-Version`` or a
        missing permission shows here and not first on a scheduled post."""
        resp = self._call("GET", "/v2/userinfo", account, timeout=timeout)
        http.classify(resp, platform="LinkedIn", creates=False, idempotent=True,
                      reason=_reason, reset=_reset)
        body = http.json_or_empty(resp)
        sub = str(body.get("sub") or "")
        person = f"urn:li:person:{sub}" if sub else ""
        owner = account.external_id or person
        if owner:
            # initializeUpload is versioned and needs the same permission as a post; it
            # only reserves an upload URL, which expires unused.
            self._initialize_upload(owner, account, timeout=timeout)
        return Identity(display_name=str(body.get("name") or account.handle),
                        external_id=person)

    def _initialize_upload(self, owner: str, account: AccountRef, *,
                           timeout: float) -> tuple[str, str]:
        """(upload URL, image URN) from the Images API."""
        resp = self._call("POST", "/rest/images?action=initializeUpload", account,
                          timeout=timeout,
                          json={"initializeUploadRequest": {"owner": owner}})
        http.classify(resp, platform="LinkedIn", creates=False, idempotent=True,
                      reason=_reason, reset=_reset)
        value = http.json_or_empty(resp).get("value")
        value = value if isinstance(value, dict) else {}
        upload_url, image = str(value.get("uploadUrl") or ""), str(value.get("image") or "")
        if not upload_url.startswith(("https://", "http://")) or not image.startswith(
                "urn:li:image:"):
            raise Transient("LinkedIn did not return an upload URL for the image.")
        return upload_url, image

    def _upload(self, item: MediaFile, account: AccountRef, ctx: PublishContext) -> str:
        author = self._author(account)
        upload_url, image = self._initialize_upload(author, account,
                                                    timeout=ctx.timeout_seconds)
        with open(item.path, "rb") as handle:
            data = handle.read()
        # The upload URL is LinkedIn's own; the bytes go with the same bearer token.
        resp = http.request("PUT", upload_url, timeout=ctx.timeout_seconds, data=data,
                            headers={"Authorization": self._headers(account)["Authorization"],
                                     "Content-Type": "application/octet-stream"})
        http.classify(resp, platform="LinkedIn", creates=False, idempotent=True,
                      reason=_reason, reset=_reset)
        return image

    def body(self, content: Content, account: AccountRef,
             images: list[str] | None = None) -> dict[str, Any]:
        body: dict[str, Any] = {
            "author": self._author(account),
            "commentary": escape_little_text(final_text(content, account)),
            "visibility": "PUBLIC",
            "distribution": {"feedDistribution": "MAIN_FEED", "targetEntities": [],
                             "thirdPartyDistributionChannels": []},
            "lifecycleState": "PUBLISHED",
            "isReshareDisabledByAuthor": False,
        }
        images = images or []
        alts = [item.alt_text for item in content.media]
        if len(images) == 1:
            body["content"] = {"media": {"id": images[0], "altText": alts[0] if alts else ""}}
        elif images:
            body["content"] = {"multiImage": {"images": [
                {"id": image, "altText": alts[i] if i < len(alts) else ""}
                for i, image in enumerate(images)]}}
        return body

    def publish(self, content: Content, account: AccountRef, ctx: PublishContext) -> PublishResult:
        earlier_attempt = "first_sent_at" in ctx.state
        if "images" in ctx.state:
            images = [i for i in ctx.state["images"].split(",") if i]
        else:
            images = [self._upload(item, account, ctx) for item in content.media]
        if not earlier_attempt:
            ctx.state["first_sent_at"] = str(int(time.time()))
            ctx.state["images"] = ",".join(images)
            ctx.checkpoint(ctx.state)
        resp = self._call("POST", "/rest/posts", account, timeout=ctx.timeout_seconds,
                          creates=True, json=self.body(content, account, images))
        if _is_duplicate(resp):
            clue = _SHARE_URN.search(resp.text)
            if earlier_attempt:
                raise OutcomeUnknown(
                    "LinkedIn says this duplicates a recent post, probably the earlier attempt",
                    status=422, detail=(clue.group() if clue else "") + " " + resp.text[:300],
                    duplicate=True)
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
        look = profile_url(account)
        scopes = _scopes(account)
        # Reading posts back needs r_member_social (restricted: LinkedIn grants it to few
        # apps) for a member, r_organization_social for a page; without it nothing can be
        # checked, and a blind resend may post twice: a person looks.
        read = "r_organization_social" if _is_organization(author) else "r_member_social"
        if scopes is not None and read not in scopes:
            raise OutcomeUnknown(f"LinkedIn does not let this app read the account's posts "
                                 f"(no {read}); look at {look} and mark it")
        try:
            # Rest.li 2.0: the URN goes into the query string encoded.
            resp = self._call("GET", f"/rest/posts?q=author&author={quote(author, safe='')}"
                                     "&count=20&sortBy=LAST_MODIFIED", account,
                              timeout=ctx.timeout_seconds)
            http.classify(resp, platform="LinkedIn", creates=False, idempotent=True,
                          reason=_reason, reset=_reset)
        except AccountHeld:
            raise
        except PublishError as exc:
            raise OutcomeUnknown(f"Could not list the LinkedIn account's posts "
                                 f"({exc.reason}); look at {look} and mark it",
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
