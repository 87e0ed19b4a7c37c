"""Facebook Page: POST /{page-id}/feed, or /{page-id}/photos for images, with a page access
token. No idempotency: a 500 may still have posted, so it is an unknown outcome, reconciled
against the page's feed.

Images (https://developers.facebook.com/docs/graph-api/reference/page/photos/#Creating): one
image is one ``POST /{page-id}/photos`` with ``message``, which publishes the post; several
are uploaded with ``published=false`` (not posts, nothing to duplicate) and then attached to
one ``POST /{page-id}/feed`` as ``attached_media`` (.../reference/page/feed/#publish).
"""

from __future__ import annotations

import json
import os
import time
from typing import Any

from publishers import http
from publishers.base import (
    AccountRef,
    Content,
    ContentRejected,
    MediaFile,
    OutcomeUnknown,
    Problem,
    PublishContext,
    PublishError,
    PublishResult,
)
from publishers.dm import final_text, tagged_link
from publishers.meta import GRAPH_DEFAULT, call, graph_version, metrics_refusal, read_followers
from publishers.metrics import LIKES, REPLIES, REPOSTS, pick
from publishers.validation import MediaRules, common_problems

PUBLIC_API = "https://graph.facebook.com"
DEFAULT_VERSION = GRAPH_DEFAULT
CREDENTIALS = ("page_access_token",)


class FacebookPublisher:
    platform = "facebook"
    label = "Facebook"

    # Page photos: JPEG, PNG, GIF, WebP ... up to 4 MB (reference/page/photos, "Requirements");
    # a multi-photo post carries up to 10 here (the composer's own bound).
    media_rules = MediaRules(max_items=10, max_bytes=4 * 1024 * 1024)

    def _root(self, account: AccountRef) -> str:
        version = graph_version(account, DEFAULT_VERSION)
        return f"{http.base_url(account.api_base, PUBLIC_API)}/{version}"

    def _page(self, account: AccountRef) -> str:
        if not account.external_id:
            raise ContentRejected("The Facebook account has no page id; reconnect it.")
        return account.external_id

    def _call(self, method: str, path: str, account: AccountRef, *, timeout: float,
              creates: bool = False, duplicate_is_unknown: bool = False,
              params: dict[str, Any] | None = None,
              data: dict[str, Any] | None = None,
              files: dict[str, Any] | None = None) -> dict[str, Any]:
        return call(method, f"{self._root(account)}/{path}", platform=self.label,
                    token=account.credentials.get("page_access_token", ""), timeout=timeout,
                    creates=creates, duplicate_is_unknown=duplicate_is_unknown, params=params,
                    data=data, files=files)

    def validate(self, content: Content, account: AccountRef) -> list[Problem]:
        problems = common_problems(content, account, self.media_rules, CREDENTIALS)
        if not account.external_id:
            problems.append(Problem("account", "The Facebook account has no page id."))
        return problems

    def check_connection(self, account: AccountRef) -> str:
        body = self._call("GET", self._page(account), account, timeout=15.0,
                          params={"fields": "id,name"})
        return str(body.get("name") or account.handle)

    def publish(self, content: Content, account: AccountRef, ctx: PublishContext) -> PublishResult:
        earlier_attempt = "first_sent_at" in ctx.state
        page = self._page(account)
        data: dict[str, Any] = {"message": final_text(content, account)}
        if len(content.media) > 1:
            # Unpublished uploads create no post; their ids are kept so a retry reuses them.
            if "photo_ids" not in ctx.state:
                ids = [self._upload(page, item, account, ctx, published=False)["id"]
                       for item in content.media]
                ctx.state["photo_ids"] = ",".join(str(i) for i in ids)
            for n, photo_id in enumerate(ctx.state["photo_ids"].split(",")):
                data[f"attached_media[{n}]"] = json.dumps({"media_fbid": photo_id})
        elif not content.media:
            link = tagged_link(content, account)
            if link:
                data["link"] = link
        if not earlier_attempt:
            ctx.state["first_sent_at"] = str(int(time.time()))
        ctx.checkpoint(ctx.state)
        if len(content.media) == 1:
            body = self._upload(page, content.media[0], account, ctx, published=True,
                                message=data["message"], duplicate_is_unknown=earlier_attempt)
            post_id = str(body.get("post_id") or body.get("id") or "")
        else:
            body = self._call("POST", f"{page}/feed", account, timeout=ctx.timeout_seconds,
                              creates=True, duplicate_is_unknown=earlier_attempt, data=data)
            post_id = str(body.get("id", ""))
        if not post_id:
            raise OutcomeUnknown("Facebook answered without a post id.")
        return PublishResult(remote_id=post_id, url=f"https://www.facebook.com/{post_id}")

    def _upload(self, page: str, item: MediaFile, account: AccountRef, ctx: PublishContext, *,
                published: bool, message: str = "",
                duplicate_is_unknown: bool = False) -> dict[str, Any]:
        """POST /{page-id}/photos: by public URL where the image has one, else the file."""
        data: dict[str, Any] = {"published": "true" if published else "false"}
        if message:
            data["message"] = message
        if item.alt_text:
            data["alt_text_custom"] = item.alt_text
        if item.url.startswith("https://"):
            data["url"] = item.url
            return self._call("POST", f"{page}/photos", account, timeout=ctx.timeout_seconds,
                              creates=published, duplicate_is_unknown=duplicate_is_unknown,
                              data=data)
        with open(item.path, "rb") as handle:
            return self._call("POST", f"{page}/photos", account, timeout=ctx.timeout_seconds,
                              creates=published, duplicate_is_unknown=duplicate_is_unknown,
                              data=data, files={"source": (os.path.basename(item.path),
                                                           handle, item.mime_type)})

    def find_existing(self, content: Content, account: AccountRef,
                      ctx: PublishContext) -> PublishResult | None:
        params: dict[str, Any] = {"fields": "id,message,permalink_url,created_time",
                                  "limit": 25}
        first_sent = int(ctx.state.get("first_sent_at", "0") or 0)
        if first_sent:
            params["since"] = first_sent - 300
        try:
            body = self._call("GET", f"{self._page(account)}/feed", account,
                              timeout=ctx.timeout_seconds, params=params)
        except PublishError as exc:
            raise OutcomeUnknown(f"Could not read the page's feed: {exc.reason}",
                                 status=exc.status) from exc
        wanted = final_text(content, account)
        for post in body.get("data") or []:
            if isinstance(post, dict) and post.get("message") == wanted:
                post_id = str(post.get("id", ""))
                return PublishResult(remote_id=post_id, url=str(
                    post.get("permalink_url") or f"https://www.facebook.com/{post_id}"))
        return None

    # --- metrics (issue 15) -------------------------------------------------------------------

    # Reading a Page post's counts needs pages_read_engagement (Page Post Reactions / Post
    # reference "Requirements": https://developers.facebook.com/docs/graph-api/reference/
    # object/reactions, https://developers.facebook.com/docs/graph-api/reference/post/).
    METRICS_PERMISSIONS = ("pages_read_engagement", "pages_show_list")

    def fetch_metrics(self, content_ref: str, account: AccountRef, *,
                      timeout: float = 15.0) -> dict[str, float]:
        """Reactions, comments and shares of a Page post:
        GET /{post-id}?fields=reactions.summary(total_count),comments.summary(total_count),shares
        (https://developers.facebook.com/docs/graph-api/reference/post/). Impressions are Page
        Insights (``read_insights``), not read: the engagement rate divides by the Page's
        followers instead (docs/insight.md). A post nobody shared may come without "shares":
        reposts are then absent, not 0."""
        fields = "reactions.summary(total_count),comments.summary(total_count),shares"
        try:
            body = self._call("GET", content_ref, account, timeout=timeout,
                              params={"fields": fields})
        except PublishError as exc:
            raise metrics_refusal(exc, self.label, self.METRICS_PERMISSIONS) from exc
        return {**pick((body.get("reactions") or {}).get("summary") or {},
                       {"total_count": LIKES}),
                **pick((body.get("comments") or {}).get("summary") or {},
                       {"total_count": REPLIES}),
                **pick(body.get("shares") or {}, {"count": REPOSTS})}

    def fetch_followers(self, account: AccountRef, *, timeout: float = 15.0) -> float:
        """The Page's ``followers_count`` (GET /{page-id}?fields=followers_count,
        https://developers.facebook.com/docs/graph-api/reference/page/; a Page token with
        pages_read_engagement)."""
        return read_followers(self._call, self._page(account), account, platform=self.label,
                              field="followers_count", needed=self.METRICS_PERMISSIONS,
                              timeout=timeout)
